"""Sign-in and sign-out go to the audit log and the list of staff sessions (Django announces
them only through signals)."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.staff_sessions import staff_session_ended, staff_session_started


@receiver(user_logged_in)
def _audit_login(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    audit_record(actor=user, action=Action.LOGIN, target=user, request=request)
    if hasattr(request, "session"):
        staff_session_started(request=request, user=user)


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
