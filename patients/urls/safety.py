"""Safety alert pages (staff), under /staff/patients/ (namespace "patients")."""

from django.urls import path

from patients.views import safety

staff_urlpatterns = [
    path(
        "<uuid:patient_id>/safety-alerts/<uuid:alert_id>/follow-up/",
        safety.safety_alert_follow_up,
        name="safety-alert-follow-up",
    ),
]
