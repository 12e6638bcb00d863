"""Patient list, chart and record pages, under /staff/patients/ (namespace "patients").

"new/" comes before the per-patient paths, which only match UUIDs anyway.
"""

from django.urls import path

from patients.views import chart, messages, records

staff_urlpatterns = [
    path("", records.patient_list, name="list"),
    path("new/", records.patient_create, name="create"),
    path("<uuid:patient_id>/", chart.patient_chart, name="chart"),
    path("<uuid:patient_id>/edit/", records.patient_edit, name="edit"),
    path("<uuid:patient_id>/messages/", messages.patient_messages, name="messages"),
    path("<uuid:patient_id>/contact-consent/", records.contact_consent, name="contact-consent"),
    path("<uuid:patient_id>/measurements/new/", records.measurement_new, name="measurement-new"),
    path(
        "<uuid:patient_id>/questionnaires/link/",
        records.questionnaire_link,
        name="questionnaire-link",
    ),
    path(
        "<uuid:patient_id>/questionnaires/new/<str:instrument>/",
        records.questionnaire_new,
        name="questionnaire-new",
    ),
]
public_urlpatterns: list = []
