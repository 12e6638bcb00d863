"""Passkeys (WebAuthn) as a second factor, through django-otp-webauthn.

The library's views do the ceremonies; these subclasses add what Chairside needs: the
session's verified state as ``clinic.second_factor`` keeps it, an audit entry and first
recovery codes when a passkey is added. Its browser script comes with the package as a
static file (no CDN), configured by JSON in the page.

The relying party id (the domain passkeys belong to) is ``WEBAUTHN_RP_ID``, or else the
request's host; the accepted origins are ``WEBAUTHN_ORIGINS``, or else the request's own.
A host outside ``ALLOWED_HOSTS`` never gets this far.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_otp_webauthn import views as webauthn_views
from django_otp_webauthn.exceptions import PasswordlessLoginDisabled, UserDisabled
from django_otp_webauthn.helpers import WebAuthnHelper

from clinic import second_factor

SHOW_ONCE_RECOVERY_CODES = "chairside_show_once_recovery_codes"


def relying_party_id(request: HttpRequest) -> str:
    return settings.WEBAUTHN_RP_ID or request.get_host().rsplit(":", 1)[0]


class PasskeyHelper(WebAuthnHelper):
    def get_allowed_origins(self) -> list[str]:
        if settings.WEBAUTHN_ORIGINS:
            return list(settings.WEBAUTHN_ORIGINS)
        return [f"{self.request.scheme}://{self.request.get_host()}"]


class _VerifiedState:
    """django-otp-webauthn asks ``request.user.is_verified()``, which django-otp's
    middleware would answer by loading the device on every request; the session says it."""

    def initial(self, request: HttpRequest, *args: Any, **kwargs: Any) -> None:
        if request.user.is_authenticated:
            request.user.is_verified = lambda: second_factor.session_is_verified(request)
            request.user.otp_device = None
        super().initial(request, *args, **kwargs)  # type: ignore[misc]


class BeginRegistration(_VerifiedState, webauthn_views.BeginCredentialRegistrationView):
    pass


class CompleteRegistration(_VerifiedState, webauthn_views.CompleteCredentialRegistrationView):
    def post(self, *args: Any, **kwargs: Any) -> JsonResponse:
        response = super().post(*args, **kwargs)
        user = self.request.user
        second_factor.passkey_audit_added(user=user, request=self.request)
        self.request.session.pop(second_factor.NOT_REQUIRED_KEY, None)
        codes = second_factor.recovery_codes_first(user=user, request=self.request)
        if codes:
            self.request.session[SHOW_ONCE_RECOVERY_CODES] = codes
        return response


class BeginAuthentication(_VerifiedState, webauthn_views.BeginCredentialAuthenticationView):
    pass


class CompleteAuthentication(_VerifiedState, webauthn_views.CompleteCredentialAuthenticationView):
    def check_can_authenticate(self) -> None:
        super().check_can_authenticate()
        # Passkeys come after the password here; the library's passwordless login is off
        # (OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN), and this says so once more.
        if not self.request.user.is_authenticated:
            raise PasswordlessLoginDisabled()

    def complete_auth(self, device: Any) -> Any:
        if second_factor.second_factor_locked_out(self.request.user):
            raise UserDisabled()
        self.request.session.pop(second_factor.NOT_REQUIRED_KEY, None)
        result = super().complete_auth(device)
        second_factor.second_factor_unlock(self.request.user)
        return result
