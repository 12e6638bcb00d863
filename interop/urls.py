from django.urls import path

from interop.fhir.bulk_views import BulkExportFile, BulkExportKickOff, BulkExportStatus
from interop.fhir.views import PatientEverything

app_name = "fhir"

urlpatterns = [
    path(
        "R4/Patient/<uuid:public_id>/$everything",
        PatientEverything.as_view(),
        name="patient-everything",
    ),
    path("R4/$export", BulkExportKickOff.as_view(), name="bulk-export"),
    path("R4/$export-status/<uuid:job_id>", BulkExportStatus.as_view(), name="bulk-status"),
    path(
        "R4/$export-files/<uuid:job_id>/<str:file_name>",
        BulkExportFile.as_view(),
        name="bulk-file",
    ),
]
