from django.urls import path

from interop.fhir.views import PatientEverything

app_name = "fhir"

urlpatterns = [
    path(
        "R4/Patient/<uuid:public_id>/$everything",
        PatientEverything.as_view(),
        name="patient-everything",
    ),
]
