from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django_htmx.http import HttpResponseClientRedirect

from clinic.staff_sessions import staff_session_seen

LAST_ACTIVITY_KEY = "chairside_last_activity"
SIGNED_IN_AT_KEY = "chairside_signed_in_at"
ACTIVITY_RESOLUTION_SECONDS = 30


class SessionLifetimeMiddleware:
    """Sign staff out after a spell of inactivity, and after a fixed lifetime whatever they do.

    A workstation left open in a treatment room must not stay signed in for long; the
    idle limit is ``SESSION_IDLE_MINUTES`` (15 by default) and the hard limit
    ``SESSION_MAX_HOURS`` (12).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            now = time.time()
            session = request.session
            last_activity = session.get(LAST_ACTIVITY_KEY, now)
            signed_in_at = session.setdefault(SIGNED_IN_AT_KEY, now)
            idle = now - last_activity > settings.SESSION_IDLE_TIMEOUT.total_seconds()
            expired = now - signed_in_at > settings.SESSION_MAX_LIFETIME.total_seconds()
            if idle or expired:
                logout(request)
                messages.info(
                    request,
                    "You were signed out after a period of inactivity. Sign in again to continue."
                    if idle
                    else "Your session reached its maximum length. Sign in again to continue.",
                )
                return _to_login(request)
            if (
                LAST_ACTIVITY_KEY in session
                and now - last_activity >= ACTIVITY_RESOLUTION_SECONDS
                and not staff_session_seen(request)
            ):
                # Ended from "Your account" or by a clinic admin (clinic.staff_sessions).
                logout(request)
                messages.info(request, "This session was signed out. Sign in again to continue.")
                return _to_login(request)
            if (
                now - last_activity >= ACTIVITY_RESOLUTION_SECONDS
                or LAST_ACTIVITY_KEY not in session
            ):
                # Not on every request: a session write per page view buys no precision
                # that an idle limit measured in minutes needs.
                session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)


def _to_login(request: HttpRequest) -> HttpResponse:
    login_redirect = redirect_to_login(request.get_full_path())
    if request.headers.get("HX-Request") == "true":
        # A partial update must not swap the sign-in page into a fragment.
        return HttpResponseClientRedirect(login_redirect["Location"])
    return login_redirect
