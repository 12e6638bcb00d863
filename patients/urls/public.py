"""Pages patients reach through the links we send them, under /p/ (namespace "patient_links")."""

from patients.urls import consent, intake

app_name = "patient_links"

urlpatterns = [
    *intake.public_urlpatterns,
    *consent.public_urlpatterns,
]
