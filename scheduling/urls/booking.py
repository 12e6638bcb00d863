"""Online consultation booking, included under /book/ by ``scheduling.urls.public``."""

from django.urls import path

from scheduling.views import booking, booking_manage

public_urlpatterns = [
    path("", booking.booking_start, name="start"),
    path("confirmed/<str:token>/", booking_manage.booking_confirmed, name="confirmed"),
    path("manage/<str:token>/", booking_manage.booking_manage, name="manage"),
    path("manage/<str:token>/cancel/", booking_manage.booking_manage_cancel, name="manage-cancel"),
    path(
        "manage/<str:token>/reschedule/",
        booking_manage.booking_manage_reschedule,
        name="manage-reschedule",
    ),
    path("manage/<str:token>/calendar.ics", booking_manage.booking_ics, name="ics"),
    path("<uuid:location_id>/", booking.booking_slots, name="slots"),
    path("<uuid:location_id>/details/", booking.booking_details, name="details"),
]
