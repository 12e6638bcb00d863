"""Sign-in and sign-out go to the audit log and the list of staff sessions (Django announces
them only through signals), and a new sign-in starts without a proven second factor."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY

from clinic.audit import Action, audit_record
from clinic.staff_sessions import staff_session_ended, staff_session_started


@receiver(user_logged_in)
def _audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action=Action.LOGIN, target=user, request=request)
    if hasattr(request, "session"):
        staff_session_started(request=request, user=user)


@receiver(user_logged_in)
def _second_factor_proved_anew(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # Each sign-in proves the second factor again, whatever the session held before it.
    from clinic.second_factor import NOT_REQUIRED_KEY

    session = getattr(request, "session", None)
    if session is not None:
        session.pop(DEVICE_ID_SESSION_KEY, None)
        session.pop(NOT_REQUIRED_KEY, None)


@receiver(user_logged_out)
def _audit_logout(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(actor=user, action=Action.LOGOUT, target=user, request=request)
    if hasattr(request, "session"):
        staff_session_ended(request=request)


@receiver(user_login_failed)
def _audit_login_failed(
    sender: Any, credentials: dict, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The typed address is not stored: it may be a patient's, or a password typed in the wrong box.
    audit_record(actor=None, action=Action.LOGIN_FAILED, request=request, object_type="clinic.user")
