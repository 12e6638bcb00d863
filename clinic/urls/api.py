from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic.api.locations import LocationDetail, LocationList
from clinic.api.views import MeView
from patients import api as patients_api

v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("locations/", LocationList.as_view(), name="location-list"),
    path("locations/<uuid:location_id>/", LocationDetail.as_view(), name="location-detail"),
    path("patients/", patients_api.PatientList.as_view(), name="patient-list"),
    path(
        "patients/<uuid:patient_id>/", patients_api.PatientDetail.as_view(), name="patient-detail"
    ),
    path(
        "patients/<uuid:patient_id>/intakes/",
        patients_api.PatientIntakes.as_view(),
        name="patient-intakes",
    ),
    path(
        "patients/<uuid:patient_id>/measurements/",
        patients_api.PatientMeasurements.as_view(),
        name="patient-measurements",
    ),
    path(
        "patients/<uuid:patient_id>/questionnaires/",
        patients_api.PatientQuestionnaires.as_view(),
        name="patient-questionnaires",
    ),
    path(
        "patients/<uuid:patient_id>/screening/",
        patients_api.PatientScreening.as_view(),
        name="patient-screening",
    ),
    path(
        "patients/<uuid:patient_id>/decisions/",
        patients_api.PatientDecisions.as_view(),
        name="patient-decisions",
    ),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
