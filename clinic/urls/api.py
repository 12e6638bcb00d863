from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic.api.locations import LocationDetail, LocationList
from clinic.api.views import MeView

v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("locations/", LocationList.as_view(), name="location-list"),
    path("locations/<uuid:location_id>/", LocationDetail.as_view(), name="location-detail"),
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
