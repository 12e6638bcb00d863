"""The day board, appointments and the waitlist, under /staff/schedule/ (namespace
"scheduling").

"cancel/", "reschedule/", "no-show/", "end-visit/" and "undo/" come before the status
actions, which match any word.
"""

from django.urls import path

from scheduling.views import appointments, board, waitlist

staff_urlpatterns = [
    path("", board.board, name="board"),
    path("book/", appointments.appointment_new, name="appointment-new"),
    path(
        "appointments/<uuid:appointment_id>/",
        appointments.appointment_detail,
        name="appointment-detail",
    ),
    path(
        "appointments/<uuid:appointment_id>/cancel/",
        appointments.appointment_cancel_view,
        name="appointment-cancel",
    ),
    path(
        "appointments/<uuid:appointment_id>/reschedule/",
        appointments.appointment_reschedule_view,
        name="appointment-reschedule",
    ),
    path(
        "appointments/<uuid:appointment_id>/no-show/",
        appointments.appointment_no_show_view,
        name="appointment-no-show",
    ),
    path(
        "appointments/<uuid:appointment_id>/end-visit/",
        appointments.appointment_end_visit_view,
        name="appointment-end-visit",
    ),
    path(
        "appointments/<uuid:appointment_id>/undo/",
        appointments.appointment_undo_view,
        name="appointment-undo",
    ),
    path(
        "appointments/<uuid:appointment_id>/<str:action>/",
        appointments.appointment_action,
        name="appointment-action",
    ),
    path("waitlist/", waitlist.waitlist, name="waitlist"),
    path("waitlist/new/", waitlist.waitlist_new, name="waitlist-add"),
    path(
        "waitlist/<uuid:entry_id>/remove/",
        waitlist.waitlist_remove_view,
        name="waitlist-remove",
    ),
]
