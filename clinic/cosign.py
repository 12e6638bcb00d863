"""A second member of staff confirming an act with their own password (and second factor).

Witnessing controlled-substance waste and a physician's sign-off at the chair both happen on
someone else's screen: the second person types their password there, and, when they have a
second factor, a code too (``<field>_otp``): the 6-digit code from their authenticator app,
or one of their recovery codes. A passkey cannot be checked on a colleague's tablet (it
lives on the cosigner's own devices), so someone with only passkeys types a recovery code.
``cosigner_errors`` checks who they are, that password and that code, and keeps the same
lockout as signing in
(``settings.AXES_FAILURE_LIMIT`` wrong passwords lock the cosigner out for
``AXES_COOLOFF_TIME`` after the last one; the environment's ``LOGIN_FAILURE_LIMIT`` and
``LOGIN_LOCKOUT_MINUTES``), so the password box is not a way round django-axes. A clinic
admin's "unlock" on the staff account page also ends it (``cosigner_unlock``).

Failures are counted in the cache, keyed by the cosigner's public id, because the services
that call this run in a transaction that a refusal rolls back. Each failure is also logged
(staff ids only: not the password or code, not the patient). Wrong codes count like wrong
passwords.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest

from clinic import second_factor
from clinic.client_address import client_ip
from clinic.failure_counts import failure_count, failures_exhausted, failures_forget
from clinic.models import User
from clinic.permissions import Capability, user_can

Errors = dict[str, list[str]]
logger = logging.getLogger(__name__)


FAILURES = "cosign"  # clinic.failure_counts


def cosigner_locked_out(user: User) -> bool:
    return failures_exhausted(FAILURES, user)


def cosigner_errors(
    *,
    actor: User,
    cosigner: User | None,
    password: str,
    capability: Capability,
    field: str,
    what: str,
    who: str,
    request: HttpRequest | None = None,
    otp: str = "",
) -> Errors:
    """What stops ``cosigner`` from confirming ``what`` for ``actor``; empty when nothing.

    ``field`` names the form field for the person (the password's is ``<field>_password``,
    the code's ``<field>_otp``); ``who`` says who may cosign ("an active nurse or
    physician"). The cosigner must be someone else, hold ``capability``, not be locked out,
    type their password, and, when they have a second factor, ``otp``: a code from their
    authenticator app or one of their recovery codes. Runs queries for the second factor.
    """
    password_field = f"{field}_password"
    otp_field = f"{field}_otp"
    if cosigner is None:
        return {field: [f"Choose the second member of staff who {what}."]}
    if cosigner.pk == actor.pk:
        return {
            field: [
                f"You cannot be your own second person: ask {who} to confirm with their password."
            ]
        }
    if not user_can(cosigner, capability):
        return {field: [f"{cosigner} cannot confirm this: ask {who}."]}
    if cosigner_locked_out(cosigner):
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        return {
            password_field: [
                f"{cosigner} entered a wrong password or code too many times and is locked out for "
                f"{minutes} minutes: ask someone else, or a clinic admin to unlock them."
            ]
        }
    if not password:
        return {password_field: [f"{cosigner} must enter their own password to confirm."]}
    if not cosigner.check_password(password):
        _count_failure(actor, cosigner, request)
        return {password_field: [f"That is not {cosigner}'s password: ask them to enter it again."]}
    if (refused := _second_factor_errors(actor, cosigner, otp, otp_field, request)) is not None:
        return refused
    failures_forget(FAILURES, cosigner)
    return {}


def _second_factor_errors(
    actor: User, cosigner: User, otp: str, otp_field: str, request: HttpRequest | None
) -> Errors | None:
    has_app = second_factor.totp_device_of(cosigner) is not None
    if not has_app and not second_factor.passkeys_of(cosigner).exists():
        return None  # nothing more to check
    if has_app:
        ask = f"Enter the 6-digit code from {cosigner}'s authenticator app"
    else:
        ask = (
            f"{cosigner} uses a passkey, which cannot be checked on this screen: enter one of "
            f"{cosigner}'s recovery codes"
        )
    code = "".join(otp.split())
    if not code:
        return {otp_field: [f"{ask}."]}
    app_code = code.isdigit() and len(code) == 6
    device = second_factor.device_accepting(cosigner, code, recovery=not app_code)
    if device is None:
        _count_failure(actor, cosigner, request, what="code")
        return {otp_field: [f"That code is not right. {ask}, as it shows now."]}
    return None


def cosigner_unlock(user: User) -> None:
    """Forget ``user``'s wrong cosigning passwords (with the sign-in lockout's unlock)."""
    failures_forget(FAILURES, user)


def _count_failure(
    actor: User, cosigner: User, request: HttpRequest | None, what: str = "password"
) -> None:
    failure_count(FAILURES, cosigner)
    # Logged rather than audited: the caller's transaction rolls back with the refusal.
    logger.warning(
        "wrong cosigning %s for staff %s, entered by staff %s from %s",
        what,
        cosigner.public_id,
        actor.public_id,
        client_ip(request) or "no request",
    )
