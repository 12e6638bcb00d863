"""Intake, screening and decision pages (staff), and the intake pages patients open from
their link (public). ``patients.urls`` and ``patients.urls.public`` include these lists."""

from django.urls import path

from patients.views import intake, intake_medicines, medications, screening

staff_urlpatterns = [
    path("<uuid:patient_id>/intake/new/", intake.intake_new, name="intake-new"),
    path("<uuid:patient_id>/intake/diff/", intake.intake_diff, name="intake-diff"),
    path("<uuid:patient_id>/intake/link/", intake.intake_link, name="intake-link"),
    path("<uuid:patient_id>/intake/<int:version>/", intake.intake_detail, name="intake-detail"),
    path(
        "<uuid:patient_id>/medications/confirm/",
        medications.medications_confirm,
        name="medications-confirm",
    ),
    path("<uuid:patient_id>/screening/run/", screening.screening_run_view, name="screening-run"),
    path("<uuid:patient_id>/decision/new/", screening.decision_new, name="decision-new"),
]

public_urlpatterns = [
    # "done/" first: it is not a token.
    path("intake/done/", intake.public_intake_done, name="intake-done"),
    path("intake/<str:token>/", intake.public_intake, name="intake"),
    path(
        "intake/<str:token>/medicines/",
        intake_medicines.public_medicine_search,
        name="intake-medicine-search",
    ),
]
