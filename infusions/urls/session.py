"""The session screen itself and the moves between states."""

from django.urls import path

from infusions.views import session

urlpatterns = [
    path(
        "appointment/<uuid:appointment_id>/",
        session.session_open,
        name="session-open",
    ),
    path("<uuid:session_id>/", session.session_detail, name="session"),
    path("<uuid:session_id>/move/", session.session_move, name="session-move"),
]
