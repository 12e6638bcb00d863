"""Staff pages about patients, under /staff/patients/ (namespace "patients")."""

from patients.urls import consent, intake, records, safety

app_name = "patients"

urlpatterns = [
    *records.staff_urlpatterns,
    *intake.staff_urlpatterns,
    *consent.staff_urlpatterns,
    *safety.staff_urlpatterns,
]
