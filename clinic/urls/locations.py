from django.urls import path

from clinic.views import locations

urlpatterns = [
    path("", locations.location_list, name="location-list"),
    path("new/", locations.location_create, name="location-create"),
    path("<uuid:location_id>/", locations.location_detail, name="location-detail"),
    path("<uuid:location_id>/edit/", locations.location_edit, name="location-edit"),
    path("<uuid:location_id>/hours/", locations.location_hours, name="location-hours"),
    path(
        "<uuid:location_id>/deactivate/",
        locations.location_deactivate,
        name="location-deactivate",
    ),
    path(
        "<uuid:location_id>/reactivate/",
        locations.location_reactivate,
        name="location-reactivate",
    ),
    path("<uuid:location_id>/closures/new/", locations.closure_add, name="closure-add"),
    path(
        "<uuid:location_id>/closures/<int:closure_id>/remove/",
        locations.closure_remove,
        name="closure-remove",
    ),
    path("<uuid:location_id>/chairs/new/", locations.chair_add, name="chair-add"),
    path(
        "<uuid:location_id>/chairs/<uuid:chair_id>/rename/",
        locations.chair_rename,
        name="chair-rename",
    ),
    path(
        "<uuid:location_id>/chairs/<uuid:chair_id>/deactivate/",
        locations.chair_deactivate,
        name="chair-deactivate",
    ),
    path(
        "<uuid:location_id>/chairs/<uuid:chair_id>/reactivate/",
        locations.chair_reactivate,
        name="chair-reactivate",
    ),
]
