"""Staff accounts: creating, changing, deactivating and unlocking them; passwords.

Every change is written to the audit log. Accounts are never deleted: a person who leaves is
deactivated, so the records they made stay attributed to them.

Least privilege for roles (``role_grant_refusal``): any clinic admin may create accounts and
remove roles, but a clinical role (physician, nurse: prescribing, giving and recording a
Schedule III drug) is granted only by a clinic admin who is also a physician, a
"physician-admin" (typically the medical director), and never by anyone to themselves. A
fresh clinic gets its first physician-admin from ``manage.py create_staff``. Every role
change is audited with the roles before and after.
"""

from __future__ import annotations

import hashlib
from typing import Any

from axes.models import AccessAttempt
from axes.utils import reset as axes_reset
from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from clinic.account_emails import INVITATION, NEW_LINK, RESET, password_email_enqueue
from clinic.api_tokens import api_tokens_delete_all
from clinic.audit import Action, audit_record, changed_fields_summary, client_ip
from clinic.auth import is_demo_account
from clinic.models import User
from clinic.permissions import Capability, require
from clinic.roles import CLINICAL_ROLES, Role
from clinic.staff_sessions import staff_sessions_end

# --- Managing other people's accounts (clinic admins) ------------------------------------


@transaction.atomic
def staff_create(
    *,
    actor: User,
    email: str,
    full_name: str,
    roles: list[str],
    request: HttpRequest | None = None,
) -> User:
    """Open an account with no usable password; follow with ``staff_password_link_token``."""
    require(actor, Capability.MANAGE_STAFF)
    email, errors = _new_account_errors(email, full_name, roles)
    if "roles" not in errors:
        refusal = role_grant_refusal(actor=actor, member=None, before=[], after=roles)
        if refusal:
            errors["roles"] = refusal
    if "email" not in errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = _email_taken(email)
    if errors:
        raise ValidationError(errors)

    member = User(email=email, full_name=full_name.strip(), roles=_ordered_roles(roles))
    member.set_unusable_password()
    try:
        with transaction.atomic():
            member.save()
    except IntegrityError:
        # Someone else created the same address a moment ago.
        raise ValidationError({"email": _email_taken(email)}) from None
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=member,
        summary="created the account (email, full name, roles); "
        + roles_change_summary([], member.roles),
        request=request,
    )
    return member


@transaction.atomic
def staff_bootstrap(*, email: str, full_name: str, roles: list[str]) -> User:
    """An account made from the command line (``manage.py create_staff``), with no actor.

    Clinical roles are granted this way only while no physician-admin exists: it is how a
    fresh clinic gets its medical director, who then grants clinical roles in the staff area.
    """
    email, errors = _new_account_errors(email, full_name, roles)
    if "email" not in errors and User.objects.filter(email__iexact=email).exists():
        errors["email"] = _email_taken(email)
    physician_admins = User.objects.filter(
        is_active=True, roles__contains=[Role.CLINIC_ADMIN, Role.PHYSICIAN]
    )
    if "roles" not in errors and CLINICAL_ROLES.intersection(roles) and physician_admins.exists():
        errors["roles"] = (
            "A clinic admin who is also a physician already exists: they grant the physician "
            "and nurse roles in the staff area (Staff accounts). Leave those roles out here."
        )
    if errors:
        raise ValidationError(errors)
    member = User(email=email, full_name=full_name.strip(), roles=_ordered_roles(roles))
    member.set_unusable_password()
    member.save()
    audit_record(
        actor=None,
        action=Action.CREATE,
        target=member,
        summary="created the account (manage.py create_staff); "
        + roles_change_summary([], member.roles),
    )
    return member


@transaction.atomic
def staff_update(
    *,
    actor: User,
    member: User,
    full_name: str,
    roles: list[str],
    request: HttpRequest | None = None,
) -> User:
    require(actor, Capability.MANAGE_STAFF)
    errors: dict[str, str] = {}
    _check_name_and_roles(full_name, roles, errors)
    if (
        "roles" not in errors
        and member.pk == actor.pk
        and Role.CLINIC_ADMIN in member.roles
        and Role.CLINIC_ADMIN not in roles
    ):
        errors["roles"] = (
            "You cannot remove your own clinic admin role: you would lose access to this page. "
            "Ask another clinic admin to do it if it is really meant."
        )
    if "roles" not in errors:
        refusal = role_grant_refusal(actor=actor, member=member, before=member.roles, after=roles)
        if refusal:
            errors["roles"] = refusal
    if errors:
        raise ValidationError(errors)

    changed: list[str] = []
    summary: list[str] = []
    full_name = full_name.strip()
    if full_name != member.full_name:
        member.full_name = full_name
        changed.append("full_name")
        summary.append(changed_fields_summary(["full name"]))
    if set(roles) != set(member.roles):
        summary.append(roles_change_summary(member.roles, roles))
        member.roles = _ordered_roles(roles)
        changed.append("roles")
    if not changed:
        return member
    member.save(update_fields=changed)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=member,
        summary="; ".join(summary),
        request=request,
    )
    return member


def is_physician_admin(user: User) -> bool:
    """May grant clinical roles: an active clinic admin who is also a physician."""
    return user.is_active and Role.CLINIC_ADMIN in user.roles and Role.PHYSICIAN in user.roles


def role_grant_refusal(
    *, actor: User, member: User | None, before: list[str], after: list[str]
) -> str:
    """Why ``actor`` may not change ``member``'s roles from ``before`` to ``after``, or "".

    The one place the rule for granting clinical roles lives (see the module docstring).
    Removing roles is never refused here. ``member`` is None for an account being created.
    May run one query, to name who can grant the roles.
    """
    granted = [role for role in Role.values if role in after and role not in before]
    clinical = [Role(role).label.lower() for role in granted if role in CLINICAL_ROLES]
    if not clinical:
        return ""
    roles_text = " and ".join(clinical) + (" roles" if len(clinical) > 1 else " role")
    if member is not None and member.pk == actor.pk:
        return (
            f"You cannot give yourself the {roles_text}. Another clinic admin who is also "
            "a physician (such as the medical director) must grant it."
        )
    if is_physician_admin(actor):
        return ""
    who = _physician_admins_other_than(member)
    ask = (
        f"Ask {who} to grant it, or choose other roles."
        if who
        else "There is no such account yet: whoever runs the server can create the first "
        "with manage.py create_staff. Choose other roles for now."
    )
    return (
        f"Only a clinic admin who is also a physician (such as the medical director) can "
        f"grant the {roles_text}. {ask}"
    )


def roles_change_summary(before: list[str], after: list[str]) -> str:
    """e.g. "roles: Front desk → Front desk, Nurse", for the audit log."""

    def labels(roles: list[str]) -> str:
        return ", ".join(Role(role).label for role in _ordered_roles(roles)) or "none"

    return f"roles: {labels(before)} → {labels(after)}"


def _physician_admins_other_than(member: User | None) -> str:
    admins = User.objects.filter(
        is_active=True, roles__contains=[Role.CLINIC_ADMIN, Role.PHYSICIAN]
    ).order_by("full_name")
    if member is not None and member.pk is not None:
        admins = admins.exclude(pk=member.pk)
    names = [str(admin) for admin in admins[:3]]
    return " or ".join(names)


@transaction.atomic
def staff_set_active(
    *, actor: User, member: User, is_active: bool, request: HttpRequest | None = None
) -> User:
    """Deactivate (which also revokes their API tokens and signs them out everywhere) or
    reactivate an account."""
    require(actor, Capability.MANAGE_STAFF)
    if member.pk == actor.pk and not is_active:
        raise ValidationError(
            "You cannot deactivate your own account. Ask another clinic admin to do it."
        )
    if member.is_active == is_active:
        state = "active" if is_active else "deactivated"
        raise ValidationError(f"{member} is already {state}; nothing was changed.")

    member.is_active = is_active
    member.save(update_fields=["is_active"])
    summary = "reactivated the account"
    if not is_active:
        revoked = api_tokens_delete_all(member=member)
        ended = staff_sessions_end(actor=None, member=member)
        summary = "deactivated the account" + (
            f" and revoked its {revoked} API token{'s' if revoked > 1 else ''}" if revoked else ""
        )
        if ended:
            summary += f"; signed out {ended} session{'s' if ended > 1 else ''}"
    audit_record(actor=actor, action=Action.UPDATE, target=member, summary=summary, request=request)
    return member


@transaction.atomic
def staff_unlock(*, actor: User, member: User, request: HttpRequest | None = None) -> int:
    """Forget the failed sign-ins django-axes counted for this account; returns how many rows.

    Axes records the address as it was typed, so every capitalisation of it is cleared.
    """
    require(actor, Capability.MANAGE_STAFF)
    typed_as = set(
        AccessAttempt.objects.filter(username__iexact=member.email).values_list(
            "username", flat=True
        )
    )
    cleared = sum(axes_reset(username=username) for username in typed_as)
    if cleared:
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=member,
            summary="cleared failed sign-in attempts (unlocked)",
            request=request,
        )
    return cleared


@transaction.atomic
def staff_password_link_token(
    *,
    actor: User,
    member: User,
    request: HttpRequest | None = None,
    invitation: bool = False,
) -> str:
    """Email ``member`` a one-time set-password link; return a token for one to show too.

    The email (``clinic.account_emails``) is an invitation naming ``actor`` for a new
    account, else a new link. A link stops working once the password is set, after a
    sign-in, or after ``PASSWORD_RESET_TIMEOUT`` (three days by default). The current
    password, if any, keeps working until the link is used.
    """
    require(actor, Capability.MANAGE_STAFF)
    if not member.is_active:
        raise ValidationError(
            f"{member}'s account is deactivated. Reactivate it before making a set-password link."
        )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=member,
        summary="emailed an invitation with a set-password link"
        if invitation
        else "made a set-password link and emailed it",
        request=request,
    )
    password_email_enqueue(
        member=member, kind=INVITATION if invitation else NEW_LINK, actor=actor, request=request
    )
    return default_token_generator.make_token(member)


# Requests for a reset link by email, per address and per client address, per hour.
RESET_LIMIT_PER_EMAIL = 3
RESET_LIMIT_PER_IP = 20


def password_reset_request(*, email: str, request: HttpRequest | None = None) -> None:
    """Email a reset link to the active account with this address, if there is one.

    The caller answers the same whatever happens here, so nobody learns which addresses
    have accounts. Nothing is sent to a deactivated account, to a demo account when DEBUG
    is off, or beyond the hourly limits (each address, each client address).
    """
    email = User.objects.normalize_email(email.strip()).lower()
    email_key = hashlib.sha256(email.encode()).hexdigest()
    over_limit = _over_hourly_limit(f"pwreset:email:{email_key}", RESET_LIMIT_PER_EMAIL)
    ip = client_ip(request)
    if ip is not None:
        over_limit = _over_hourly_limit(f"pwreset:ip:{ip}", RESET_LIMIT_PER_IP) or over_limit
    if over_limit:
        return
    member = User.objects.filter(email__iexact=email, is_active=True).first()
    if member is None or (not settings.DEBUG and is_demo_account(member.email)):
        return
    with transaction.atomic():
        audit_record(
            actor=None,
            action=Action.UPDATE,
            target=member,
            summary="a password reset link was asked for and emailed",
            request=request,
        )
        password_email_enqueue(member=member, kind=RESET, request=request)


def _over_hourly_limit(key: str, limit: int) -> bool:
    cache.add(key, 0, timeout=3600)
    try:
        return cache.incr(key) > limit
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=3600)
        return False


def password_link_user(public_id: Any, token: str) -> User | None:
    """The active account a set-password link belongs to, or None if the link is no good."""
    member = User.objects.filter(public_id=public_id, is_active=True).first()
    if member is None or not default_token_generator.check_token(member, token):
        return None
    return member


# --- A person's own account --------------------------------------------------------------


@transaction.atomic
def password_set(
    *,
    user: User,
    new_password: str,
    request: HttpRequest | None = None,
    with_link: bool = False,
) -> User:
    """Set ``user``'s password. Callers check the old password or the link token first.

    Every other session of theirs ends: all of them when the link was used, all but this
    one when they changed it signed in. After a change in a signed-in session, call
    ``update_session_auth_hash`` to keep it.
    """
    password_validation.validate_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password"])
    signed_in_here = (
        request is not None
        and not with_link
        and getattr(request, "user", None) is not None
        and request.user.pk == user.pk
    )
    ended = staff_sessions_end(
        actor=None,
        member=user,
        keep_session_key=request.session.session_key if signed_in_here else None,
    )
    summary = (
        "set their password with a set-password link" if with_link else "changed their password"
    )
    if ended:
        summary += f", which signed out {ended} other session{'' if ended == 1 else 's'}"
    audit_record(actor=user, action=Action.UPDATE, target=user, summary=summary, request=request)
    return user


# --- Helpers ----------------------------------------------------------------------------


def _new_account_errors(email: str, full_name: str, roles: list[str]) -> tuple[str, dict[str, str]]:
    """A new account's address as it is stored (trimmed, lower case), and what is wrong
    with it, the name or the roles."""
    email = User.objects.normalize_email(email.strip()).lower()
    errors: dict[str, str] = {}
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = "Enter a valid email address, e.g. name@yourclinic.com."
    _check_name_and_roles(full_name, roles, errors)
    return email, errors


def _check_name_and_roles(full_name: str, roles: list[str], errors: dict[str, str]) -> None:
    if not full_name.strip():
        errors["full_name"] = "Enter the person's full name, as colleagues know them."
    if not roles:
        errors["roles"] = "Choose at least one role: without one they can do nothing."
    elif any(role not in Role.values for role in roles):
        errors["roles"] = "Choose roles from the list shown."


def _ordered_roles(roles: list[str]) -> list[str]:
    return [role for role in Role.values if role in roles]


def _email_taken(email: str) -> str:
    return (
        f"There is already an account for {email}. Find it in the staff list (it may be "
        "deactivated) and reactivate or edit it instead."
    )
