"""Spravato (esketamine) under the REMS: the session's forms, the Patient Monitoring Form and
the locations' certifications (namespace "infusions")."""

from django.urls import path

from infusions.views import rems

urlpatterns = [
    path("<uuid:session_id>/rems/kind/", rems.kind_set, name="rems-kind"),
    path("<uuid:session_id>/rems/enrolment/", rems.enrol, name="rems-enrol"),
    path("<uuid:session_id>/rems/dose/", rems.dose_give, name="rems-dose"),
    path("<uuid:session_id>/rems/assessments/", rems.assessment_add, name="rems-assessment"),
    path("rems/forms/<uuid:form_id>/", rems.form_page, name="rems-form"),
    path("rems/forms/<uuid:form_id>/submitted/", rems.form_submitted, name="rems-form-submitted"),
    path("rems/certifications/", rems.certifications_page, name="rems-certifications"),
    path("rems/receive/", rems.receive_page, name="rems-receive"),
]
