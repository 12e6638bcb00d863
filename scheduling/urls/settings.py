"""Scheduling settings for clinic admins, under /staff/schedule/ (namespace "scheduling"):
staff shifts at each location and the appointment types' minutes."""

from django.urls import path

from scheduling.views import settings as views

staff_urlpatterns = [
    path("locations/<uuid:location_id>/shifts/", views.shifts, name="shifts"),
    path(
        "locations/<uuid:location_id>/shifts/<uuid:staff_id>/<int:weekday>/",
        views.shift_edit,
        name="shift-edit",
    ),
    path(
        "locations/<uuid:location_id>/shifts/<uuid:staff_id>/<int:weekday>/remove/",
        views.shift_remove_view,
        name="shift-remove",
    ),
    path("appointment-types/", views.appointment_types, name="appointment-types"),
]
