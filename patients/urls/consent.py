"""Consent documents and signatures: staff pages (namespace "patients") and the page a
patient opens from a consent link (namespace "patient_links", under /p/).

"consent/signed/" comes before "consent/<token>/", which would otherwise match it.
"""

from django.urls import path

from patients.views import consent

staff_urlpatterns = [
    path("consent-documents/", consent.consent_document_list, name="consent-documents"),
    path("consent-documents/new/", consent.consent_document_new, name="consent-document-new"),
    path(
        "consent-documents/<uuid:document_id>/",
        consent.consent_document_detail,
        name="consent-document-detail",
    ),
    path(
        "consent-documents/<uuid:document_id>/edit/",
        consent.consent_document_edit,
        name="consent-document-edit",
    ),
    path(
        "consent-documents/<uuid:document_id>/publish/",
        consent.consent_document_publish,
        name="consent-document-publish",
    ),
    path("<uuid:patient_id>/consent/link/", consent.consent_link, name="consent-link"),
    path("<uuid:patient_id>/consent/tablet/", consent.consent_tablet, name="consent-tablet"),
    path(
        "<uuid:patient_id>/consent/<uuid:signature_id>/",
        consent.consent_signature,
        name="consent-signature",
    ),
]

public_urlpatterns = [
    path("consent/signed/", consent.consent_signed, name="consent-signed"),
    path("consent/<str:token>/", consent.consent_sign_by_link, name="consent"),
]
