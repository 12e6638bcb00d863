"""A clinic tablet handed to a patient (to sign consent) while a staff member is signed in.

``tablet_hand_over`` locks the session: until the staff member types their own password on
the hand-back page, every staff page leads to that page, which shows the patient only
"Thank you — please hand the tablet back" and no staff navigation
(``TabletHandbackMiddleware``, ``clinic.views.tablet``).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

SESSION_KEY = "tablet_handback_to"


def tablet_hand_over(request: HttpRequest, *, back_to: str) -> HttpResponse:
    """Lock the session until the staff member signs back in; ``back_to`` is where they go
    then. Returns the redirect to the hand-back page."""
    request.session[SESSION_KEY] = back_to
    return redirect(reverse("staff:tablet-handback"))


def tablet_locked(request: HttpRequest) -> bool:
    return SESSION_KEY in request.session


class TabletHandbackMiddleware:
    """While the tablet is in the patient's hands, only the hand-back page, sign-out and
    static files are reachable with the session; an API call with it gets 403."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.user.is_authenticated or not tablet_locked(request):
            return self.get_response(request)
        handback = reverse("staff:tablet-handback")
        from django.conf import settings

        open_paths = (handback, reverse("staff:logout"), "/" + settings.STATIC_URL.lstrip("/"))
        if request.path_info.startswith(open_paths):
            return self.get_response(request)
        if request.path_info.startswith("/api/") and "HTTP_AUTHORIZATION" not in request.META:
            return JsonResponse({"detail": "The tablet is locked: hand it back."}, status=403)
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(handback)
        return redirect(handback)
