"""A second factor for staff sign-in: authenticator apps (TOTP), passkeys and recovery codes.

The devices are django-otp's (``otp_totp``, ``otp_static`` for recovery codes) and
django-otp-webauthn's (passkeys). How a sign-in goes:

1. The password, on the ordinary sign-in page (django-axes counts wrong ones). Django's
   ``login`` runs: the session is signed in but not yet *verified*.
2. ``clinic.middleware.SecondFactorMiddleware`` lets that session reach only the pages of
   this module (and signing out) until one of these holds:

   - the person has a device and proves it: a code from their authenticator app, a
     recovery code, or their passkey. The session then holds django-otp's
     ``DEVICE_ID_SESSION_KEY``;
   - the person has no device and none of their roles requires one
     (``second_factor_required_for``): the session is marked ``NOT_REQUIRED_KEY``;
   - the person must have one and has none: they set one up first, which verifies the
     session.

Wrong codes count like wrong passwords: ``AXES_FAILURE_LIMIT`` of them pause sign-in for
``AXES_COOLOFF_TIME`` after the last one. They are counted per person in the cache (as
``clinic.cosign`` does), not in django-axes's table, because a correct password resets that
(``AXES_RESET_ON_SUCCESS``): a thief who knows the password could otherwise guess codes
forever. A clinic admin's "Unlock" ends this pause too.

Codes and secrets are never logged or audited; the audit log says what was set up, removed,
reset, and when a recovery code was used.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any

import segno
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from clinic.audit import Action, audit_record, client_ip
from clinic.auth import is_demo_account
from clinic.failure_counts import failure_count, failures_forget, failures_of
from clinic.models import SecondFactorPolicy, User
from clinic.permissions import Capability, require
from clinic.roles import Role
from clinic.staff_sessions import staff_sessions_end

logger = logging.getLogger(__name__)

DEFAULT_REQUIRED_ROLES = frozenset({Role.PHYSICIAN, Role.NURSE, Role.CLINIC_ADMIN})
# Set on a session whose person has no device and needs none (kept for the session: a policy
# change applies from their next sign-in).
NOT_REQUIRED_KEY = "chairside_second_factor_not_required"
SECOND_FACTOR_TYPE = "otp.device"
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"


class SecondFactorLockedOut(Exception):
    """Too many wrong codes: sign-in is paused for ``lockout_minutes()``."""


# --- Reading ------------------------------------------------------------------------------


def required_roles() -> frozenset[str]:
    """The roles whose holders must use a second factor (one query)."""
    stored = dict(SecondFactorPolicy.objects.values_list("role", "required"))
    return frozenset(
        role for role in Role.values if stored.get(role, role in DEFAULT_REQUIRED_ROLES)
    )


def second_factor_required_for(user: User) -> bool:
    """Whether ``user`` must sign in with a second factor. Runs a query.

    Demo accounts (which can sign in only while DEBUG is on) are exempt, so that someone
    trying the demo can sign in as each role.
    """
    if demo_exempt(user):
        return False
    return bool(set(user.roles) & required_roles())


def demo_exempt(user: User) -> bool:
    """A demo account while DEBUG is on: asked for no second factor, whatever the policy."""
    return settings.DEBUG and is_demo_account(user.email)


def session_is_verified(request: HttpRequest) -> bool:
    """The session proved a second factor (or enrolled one), by django-otp's convention."""
    return DEVICE_ID_SESSION_KEY in request.session


def session_step(request: HttpRequest) -> str:
    """What a signed-in session must still do: "", "verify" or "enrol".

    Free for a session that is done (verified, or marked as needing nothing); otherwise it
    queries the person's devices and the policy, and marks the session when nothing is due.
    """
    session = request.session
    if DEVICE_ID_SESSION_KEY in session or session.get(NOT_REQUIRED_KEY):
        return ""
    user = request.user
    if has_confirmed_device(user):
        return "verify"
    if second_factor_required_for(user):
        return "enrol"
    session[NOT_REQUIRED_KEY] = True
    return ""


def has_confirmed_device(user: User) -> bool:
    """An authenticator app or a passkey (recovery codes alone do not count)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or WebAuthnCredential.objects.filter(user=user, confirmed=True).exists()
    )


def totp_device_of(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def passkeys_of(user: User) -> QuerySet[WebAuthnCredential]:
    return WebAuthnCredential.objects.filter(user=user, confirmed=True).order_by("created_at")


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


@dataclass(frozen=True)
class SecondFactorStatus:
    has_totp: bool
    passkeys: int
    recovery_codes_left: int

    @property
    def enrolled(self) -> bool:
        return self.has_totp or self.passkeys > 0


def second_factor_status_of(user: User) -> SecondFactorStatus:
    """What ``user`` has set up; reads the annotations of ``with_second_factor_status``
    when present, and queries otherwise."""
    if hasattr(user, "second_factor_totp"):
        return SecondFactorStatus(
            has_totp=user.second_factor_totp,
            passkeys=user.second_factor_passkeys,
            recovery_codes_left=user.second_factor_recovery_codes,
        )
    return SecondFactorStatus(
        has_totp=totp_device_of(user) is not None,
        passkeys=passkeys_of(user).count(),
        recovery_codes_left=recovery_codes_left(user),
    )


def with_second_factor_status(accounts: QuerySet[User]) -> QuerySet[User]:
    """Annotate each account with what it has set up, in the same query (no N+1)."""

    def counted(queryset: QuerySet) -> Coalesce:
        return Coalesce(
            Subquery(
                queryset.order_by().values("user").annotate(total=Count("pk")).values("total"),
                output_field=IntegerField(),
            ),
            Value(0),
        )

    return accounts.annotate(
        second_factor_totp=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)),
        second_factor_passkeys=counted(
            WebAuthnCredential.objects.filter(user=OuterRef("pk"), confirmed=True)
        ),
        second_factor_recovery_codes=Coalesce(
            Subquery(
                StaticToken.objects.filter(device__user=OuterRef("pk"), device__confirmed=True)
                .order_by()
                .values("device__user")
                .annotate(total=Count("pk"))
                .values("total"),
                output_field=IntegerField(),
            ),
            Value(0),
        ),
    )


def totp_secret(device: TOTPDevice) -> str:
    """The secret as people type it into an authenticator app: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The set-up QR code as an inline SVG (made here: the secret never leaves the server)."""
    qr = segno.make(device.config_url, error="m")
    return qr.svg_inline(scale=5, border=2, title="QR code to scan with your authenticator app")


# --- Lockout --------------------------------------------------------------------------------


def lockout_minutes() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


FAILURES = "second-factor"  # clinic.failure_counts


def second_factor_failures(user: User) -> int:
    return failures_of(FAILURES, user)


def second_factor_locked_out(user: User) -> bool:
    return second_factor_failures(user) >= settings.AXES_FAILURE_LIMIT


def second_factor_unlock(user: User) -> None:
    """Forget ``user``'s wrong codes (with the sign-in lockout's unlock)."""
    failures_forget(FAILURES, user)


def _count_failure(user: User, request: HttpRequest | None) -> None:
    failure_count(FAILURES, user)
    logger.warning(
        "wrong second-factor code for staff %s from %s",
        user.public_id,
        client_ip(request) or "no request",
    )


# --- Signing in -------------------------------------------------------------------------------


def session_mark_verified(request: HttpRequest, device: Device) -> None:
    """Mark this signed-in session as having passed the second factor with ``device``."""
    request.session.pop(NOT_REQUIRED_KEY, None)
    otp_login(request, device)


def second_factor_verify(
    *, user: User, code: str, recovery: bool = False, request: HttpRequest | None = None
) -> Device | None:
    """The device that accepts ``code`` (an app's 6-digit code, or a recovery code when
    ``recovery``), or None after counting a wrong code.

    Raises ``SecondFactorLockedOut`` when the person is paused, before checking anything. A
    recovery code works once: it is deleted as it is accepted (and the use is audited).
    """
    if second_factor_locked_out(user):
        raise SecondFactorLockedOut
    device = device_accepting(user, code, recovery=recovery)
    if device is None:
        _count_failure(user, request)
        if second_factor_locked_out(user):
            raise SecondFactorLockedOut
        return None
    second_factor_unlock(user)
    if isinstance(device, StaticDevice):
        left = recovery_codes_left(user)
        audit_record(
            actor=user,
            action=Action.LOGIN,
            object_type=SECOND_FACTOR_TYPE,
            object_id=str(user.public_id),
            summary=f"used a recovery code ({left} left)",
            request=request,
        )
    return device


def attempts_left(user: User) -> int:
    return max(settings.AXES_FAILURE_LIMIT - second_factor_failures(user), 0)


def device_accepting(user: User, code: str, *, recovery: bool) -> Device | None:
    """The device of ``user`` that accepts ``code`` (consuming a recovery code), or None.
    Counts nothing: callers count wrong codes."""
    code = "".join(code.split()).replace("-", "").lower()
    if not code:
        return None
    with transaction.atomic():
        if recovery:
            devices: list[Device] = list(
                StaticDevice.objects.select_for_update().filter(user=user, confirmed=True)
            )
        else:
            if not (code.isdigit() and len(code) == 6):
                return None
            devices = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
        for device in devices:
            if device.verify_token(code):
                return device
    return None


# --- Setting up and removing ---------------------------------------------------------------


def totp_device_start(*, user: User) -> TOTPDevice:
    """A new, unconfirmed authenticator-app device (with a fresh secret) for ``user``.

    Any earlier unconfirmed one is dropped; a confirmed one stays until the new one is
    confirmed.
    """
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


@transaction.atomic
def totp_device_confirm(
    *, user: User, device: TOTPDevice, code: str, request: HttpRequest | None = None
) -> list[str]:
    """Confirm ``device`` with a code from the app; returns new recovery codes when the
    person had none (to be shown once), else [].

    Raises ValidationError when the code is wrong (wrong codes here are not counted: the
    person is already signed in with their second factor or has none yet).
    """
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
    code = "".join(code.split())
    if not (code.isdigit() and len(code) == 6) or not device.verify_token(code):
        raise ValidationError(
            {
                "code": "That code does not match. Check that the app shows "
                f"{settings.OTP_TOTP_ISSUER} and enter the 6-digit code it shows now."
            }
        )
    TOTPDevice.objects.filter(user=user, confirmed=True).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit_record(
        actor=user,
        action=Action.CREATE,
        object_type=SECOND_FACTOR_TYPE,
        object_id=str(user.public_id),
        summary="set up an authenticator app as their second factor",
        request=request,
    )
    return recovery_codes_first(user=user, request=request)


def recovery_codes_first(*, user: User, request: HttpRequest | None = None) -> list[str]:
    """Recovery codes for someone who has none yet (after their first device), else []."""
    if recovery_codes_left(user):
        return []
    return recovery_codes_create(user=user, request=request)


@transaction.atomic
def recovery_codes_create(*, user: User, request: HttpRequest | None = None) -> list[str]:
    """New recovery codes for ``user``, replacing any left; returned once, to be shown once."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    audit_record(
        actor=user,
        action=Action.CREATE,
        object_type=SECOND_FACTOR_TYPE,
        object_id=str(user.public_id),
        summary=f"made {len(codes)} new recovery codes (any earlier ones stopped working)",
        request=request,
    )
    return codes


def passkey_audit_added(*, user: User, request: HttpRequest | None = None) -> None:
    audit_record(
        actor=user,
        action=Action.CREATE,
        object_type=SECOND_FACTOR_TYPE,
        object_id=str(user.public_id),
        summary="added a passkey as a second factor",
        request=request,
    )


@transaction.atomic
def totp_device_remove(*, user: User, request: HttpRequest | None = None) -> None:
    """Remove ``user``'s authenticator app. Refused when it is their only way in and their
    role requires one."""
    if totp_device_of(user) is None:
        raise ValidationError("You have no authenticator app set up; nothing was removed.")
    if not passkeys_of(user).exists() and second_factor_required_for(user):
        raise ValidationError(_last_device_message())
    TOTPDevice.objects.filter(user=user).delete()
    _audit_removed(user, "removed their authenticator app", request)


@transaction.atomic
def passkey_remove(*, user: User, passkey_ref: str, request: HttpRequest | None = None) -> None:
    """Remove one of ``user``'s passkeys, named by ``credential_id_sha256`` (opaque, unlike
    its row id)."""
    passkey = passkeys_of(user).filter(credential_id_sha256=passkey_ref).first()
    if passkey is None:
        raise ValidationError("That passkey is not one of yours, or is already removed.")
    others = passkeys_of(user).exclude(pk=passkey.pk).exists() or totp_device_of(user)
    if not others and second_factor_required_for(user):
        raise ValidationError(_last_device_message())
    passkey.delete()
    _audit_removed(user, "removed a passkey", request)


def _last_device_message() -> str:
    return (
        "Your role needs a second factor, and this is your only one: set up another (an "
        "authenticator app or a passkey) before you remove it."
    )


def _audit_removed(user: User, summary: str, request: HttpRequest | None) -> None:
    audit_record(
        actor=user,
        action=Action.DELETE,
        object_type=SECOND_FACTOR_TYPE,
        object_id=str(user.public_id),
        summary=summary,
        request=request,
    )


@transaction.atomic
def second_factor_reset(
    *, actor: User, member: User, request: HttpRequest | None = None
) -> SecondFactorStatus:
    """A clinic admin removes everything ``member`` set up (lost phone): apps, passkeys and
    recovery codes. They set one up again at their next sign-in, and their open sessions are
    signed out. Returns what was removed."""
    require(actor, Capability.MANAGE_STAFF)
    if member.pk == actor.pk:
        raise ValidationError(
            "You cannot reset your own second factor. Ask another clinic admin to do it, or "
            "change yours on your account page."
        )
    removed = second_factor_status_of(member)
    if not (removed.enrolled or removed.recovery_codes_left):
        raise ValidationError(f"{member} has no second factor set up; nothing was reset.")
    devices_delete(user=member)
    second_factor_unlock(member)
    ended = staff_sessions_end(actor=None, member=member)
    parts = []
    if removed.has_totp:
        parts.append("authenticator app")
    if removed.passkeys:
        parts.append(f"{removed.passkeys} passkey{'s' if removed.passkeys != 1 else ''}")
    if removed.recovery_codes_left:
        parts.append("recovery codes")
    audit_record(
        actor=actor,
        action=Action.DELETE,
        target=member,
        summary=f"reset the second factor ({', '.join(parts)}); signed out {ended} "
        f"session{'s' if ended != 1 else ''}; they set one up again at next sign-in",
        request=request,
    )
    return removed


def devices_delete(*, user: User) -> bool:
    """Delete every device of ``user`` (no audit: for callers that audit it themselves, like
    the demo seeding); True if there were any."""
    deleted = 0
    for model in (TOTPDevice, StaticDevice, WebAuthnCredential):
        deleted += model.objects.filter(user=user).delete()[0]
    return bool(deleted)


# --- The policy -------------------------------------------------------------------------


@transaction.atomic
def second_factor_policy_set(
    *, actor: User, roles: list[str], request: HttpRequest | None = None
) -> frozenset[str]:
    """Require a second factor of exactly ``roles``; audited with before and after."""
    require(actor, Capability.MANAGE_STAFF)
    if any(role not in Role.values for role in roles):
        raise ValidationError({"roles": "Choose roles from the list shown."})
    before = required_roles()
    after = frozenset(roles)
    if before == after:
        return after
    for role in Role.values:
        SecondFactorPolicy.objects.update_or_create(role=role, defaults={"required": role in after})
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        object_type="clinic.secondfactorpolicy",
        object_id="policy",
        summary=f"second factor required for: {_labels(after)} (was: {_labels(before)})",
        request=request,
    )
    return after


def _labels(roles: frozenset[str] | set[str]) -> str:
    return ", ".join(Role(role).label for role in Role.values if role in roles) or "no role"


def describe(status: SecondFactorStatus) -> dict[str, Any]:
    """For templates: what someone has, in words."""
    methods = []
    if status.has_totp:
        methods.append("authenticator app")
    if status.passkeys:
        methods.append(f"{status.passkeys} passkey{'s' if status.passkeys != 1 else ''}")
    return {"methods": methods, "recovery_codes_left": status.recovery_codes_left}
