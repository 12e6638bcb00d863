"""Where each person is signed in (``clinic.models.StaffSession``), and ending those sessions.

A row is written at sign-in (``clinic.signals``), its last activity refreshed by
``SessionLifetimeMiddleware`` at most every half minute, and it is removed at sign-out.
Ending a session deletes it from Django's session store (whatever ``SESSION_ENGINE``: the
database by default), so its browser is signed out at its next request; the middleware
also signs out a browser whose row is gone, in case the store still held it.

A person may end their other sessions; a clinic admin may end anyone's. A password change
ends the person's other sessions, a password set by link and a deactivation all of them.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record, client_ip
from clinic.models import StaffSession, User
from clinic.permissions import Capability, require
from clinic.user_agents import browser_summary

SESSION_ID_KEY = "chairside_staff_session"
SESSION_TYPE = "clinic.staffsession"


# --- Reading --------------------------------------------------------------------------------


def staff_sessions_of(user: User) -> QuerySet[StaffSession]:
    """The person's sessions that may still be alive, most recently active first.

    A session idle for longer than the idle limit, or older than the longest lifetime, has
    been signed out by the middleware (or will be at its next request), so it is left out.
    """
    now = timezone.now()
    # The middleware refreshes last_seen_at every half minute at most.
    idle_cut = now - settings.SESSION_IDLE_TIMEOUT - timedelta(minutes=1)
    return StaffSession.objects.filter(
        user=user,
        last_seen_at__gte=idle_cut,
        created_at__gte=now - settings.SESSION_MAX_LIFETIME,
    ).order_by("-last_seen_at", "-id")


def current_session_id(request: HttpRequest) -> str | None:
    return request.session.get(SESSION_ID_KEY)


# --- Sign-in, activity, sign-out (called by the signals and the middleware) ------------------


def staff_session_started(*, request: HttpRequest, user: User) -> StaffSession:
    """Record the session ``login()`` has just made for ``user``."""
    session = request.session
    if session.session_key is None:
        session.save()
    now = timezone.now()
    row, _ = StaffSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "created_at": now,
            "last_seen_at": now,
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:300],
            "ip_address": client_ip(request),
        },
    )
    session[SESSION_ID_KEY] = str(row.public_id)
    return row


def staff_session_seen(request: HttpRequest) -> bool:
    """Note activity on the signed-in session; False if the session was ended meanwhile.

    Also follows the session to a new key (a password change cycles it). A session made
    before these records existed gets one now.
    """
    session_id = request.session.get(SESSION_ID_KEY)
    if session_id is None:
        staff_session_started(request=request, user=request.user)
        return True
    updated = StaffSession.objects.filter(public_id=session_id, user=request.user).update(
        last_seen_at=timezone.now(), session_key=request.session.session_key
    )
    return bool(updated)


def staff_session_ended(*, request: HttpRequest) -> None:
    """Forget the session being signed out of (``logout()`` flushes the store itself)."""
    session_id = request.session.get(SESSION_ID_KEY)
    if session_id is not None:
        StaffSession.objects.filter(public_id=session_id).delete()


# --- Ending sessions --------------------------------------------------------------------------


@transaction.atomic
def staff_session_revoke(
    *, actor: User, staff_session: StaffSession, request: HttpRequest | None = None
) -> None:
    """End one session: its owner may (another of their own), and so may a clinic admin."""
    owner = staff_session.user
    if owner.pk != actor.pk:
        require(actor, Capability.MANAGE_STAFF)
    if request is not None and staff_session.session_key == request.session.session_key:
        raise ValidationError("That is this session. To end it, sign out.")
    _end([staff_session])
    whose = "their" if owner.pk == actor.pk else f"{owner}'s"
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type=SESSION_TYPE,
        object_id=str(owner.public_id),
        summary=f"signed out {whose} session on {browser_summary(staff_session.user_agent)}",
        request=request,
    )


@transaction.atomic
def staff_sessions_end(
    *,
    actor: User | None,
    member: User,
    keep_session_key: str | None = None,
    request: HttpRequest | None = None,
    reason: str = "",
) -> int:
    """End all of ``member``'s sessions but the one keyed ``keep_session_key``; how many.

    ``actor`` is the person asking: ``member`` themselves, or a clinic admin; None when a
    service that has checked already ends them (a password set by link, a deactivation),
    in which case it writes the audit itself and nothing is recorded here.
    """
    if actor is not None and actor.pk != member.pk:
        require(actor, Capability.MANAGE_STAFF)
    if actor is not None and not actor.is_active:
        raise PermissionDenied
    sessions = list(StaffSession.objects.filter(user=member).exclude(session_key=keep_session_key))
    _end(sessions)
    if actor is not None and sessions:
        if actor.pk == member.pk:
            what = f"signed out of {len(sessions)} other session{_s(sessions)}"
        else:
            what = f"signed {member} out everywhere ({len(sessions)} session{_s(sessions)})"
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type=SESSION_TYPE,
            object_id=str(member.public_id),
            summary=what + (f" {reason}" if reason else ""),
            request=request,
        )
    return len(sessions)


def _end(sessions: list[StaffSession]) -> None:
    store_class: Any = import_module(settings.SESSION_ENGINE).SessionStore
    for staff_session in sessions:
        store_class(session_key=staff_session.session_key).delete()
    StaffSession.objects.filter(pk__in=[s.pk for s in sessions]).delete()


def _s(items: list[Any]) -> str:
    return "" if len(items) == 1 else "s"
