from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
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


# Machine-readable interfaces: the v1 API and the FHIR export (interop) answer in JSON.
API_PREFIXES = ("/api/", "/fhir/")


class SecondFactorMiddleware:
    """Keep a signed-in session that has not passed its second factor on the pages for it.

    Until the person proves their second factor (or sets one up, when their role requires
    it), they may reach only the second-factor pages, sign-out and static files; any other
    page sends them there, and an API call made with the session gets 403. API calls with a
    token (an ``Authorization`` header) are left to the API's own authentication. A session
    that is done costs nothing here (``clinic.second_factor.session_step``).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from clinic import second_factor  # the models it imports are not ready at import time

        if not request.user.is_authenticated:
            return self.get_response(request)
        step = second_factor.session_step(request)
        if not step:
            return self.get_response(request)
        request.second_factor_step = step  # type: ignore[attr-defined]
        path = request.path_info
        if path.startswith(_open_paths()):
            return self.get_response(request)
        if path.startswith(API_PREFIXES):
            if "HTTP_AUTHORIZATION" in request.META:
                return self.get_response(request)
            return JsonResponse(
                {
                    "detail": "Finish signing in first: enter the code from your authenticator "
                    "app, a recovery code or your passkey on the sign-in page."
                },
                status=403,
            )
        url_name = "staff:second-factor-verify" if step == "verify" else "staff:second-factor-setup"
        target = f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}"
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(target)
        return redirect(target)


def _open_paths() -> tuple[str, ...]:
    return (
        # Verifying, setting one up (the views refuse set-up to whoever must verify), the
        # passkey ceremonies.
        "/staff/second-factor/",
        reverse("staff:logout"),
        reverse("staff:login"),
        "/" + settings.STATIC_URL.lstrip("/"),
    )


NUL_REFUSAL = (
    "The address or the form contained a NUL character (%00), which is never valid here. "
    "Remove it and try again; nothing was changed."
)


class RefuseNulCharactersMiddleware:
    """Answer 400 to a request whose path, query string or form fields hold a NUL character.

    PostgreSQL cannot store or compare text containing NUL, so one in a search box or a
    token link would end in a database error (a 500) wherever a view passes it on. Forms
    and serializers already refuse it field by field; this catches every value read
    straight from ``request.GET`` or ``request.POST`` too, before any view runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _holds_nul(request):
            if request.path.startswith(API_PREFIXES):
                return JsonResponse({"detail": NUL_REFUSAL}, status=400)
            return HttpResponseBadRequest(render_to_string("400.html", {"reason": NUL_REFUSAL}))
        return self.get_response(request)


def _holds_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path:
        return True
    # Form bodies only: JSON bodies go to serializers, whose text fields refuse NUL.
    form_body = request.method == "POST" and request.content_type in {
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    }
    for data in (request.GET, request.POST) if form_body else (request.GET,):
        for key, values in data.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                return True
    return False


# The staff area and the admin (the sign-in and sign-out pages too), the API whoever asks,
# and the pages anyone may reach without signing in that still show one patient's details:
# the links sent to patients (/p/, /m/) and the booking pages (confirmation, manage link,
# the details form shown again with its errors).
NO_STORE_PREFIXES = ("/staff/", "/admin/", "/api/", "/fhir/", "/p/", "/m/", "/book/")


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every response that may carry patient data, so no
    browser, shared computer or proxy keeps a copy: everything a signed-in staff member
    is sent, every API response, and the patient-link and booking pages. The public site
    (FAQ, articles, locations) stays cacheable for visitors who are not signed in."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Read after the view: sign-in and sign-out change who the request is from.
        if request.path.startswith(NO_STORE_PREFIXES) or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response
