"""The patients API's paths, included in /api/v1/ (namespace "api")."""

from patients.api import patients, records, screening

urlpatterns = [
    *patients.urlpatterns,
    *records.urlpatterns,
    *screening.urlpatterns,
]
