"""Who owns the clinical state of an infusion or booster appointment: its infusion session.

``scheduling`` knows appointments; what happens in the chair (check-in, the infusion,
recovery, discharge) belongs to the infusion session of the ``infusions`` app, a layer
above. So that the day board, the appointment API and every other caller of
``scheduling.services.status_changes.appointment_set_status`` go through the session's
services without ``scheduling`` importing ``infusions``, the session's owner registers itself
here at start-up (``infusions.apps.InfusionsConfig.ready``), the way apps register message
kinds with ``clinic.messaging.registry``.

The database holds the same rule below the services: a deferred constraint trigger
(``infusions`` migration ``0007_infusion_day_agrees``) refuses, at commit, an infusion
appointment whose status disagrees with its session's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from django.http import HttpRequest

    from clinic.models import User
    from scheduling.models import Appointment, AppointmentStatus


class SessionOwner(Protocol):
    def move(
        self,
        *,
        actor: User | None,
        appointment: Appointment,
        status: AppointmentStatus,
        reason: str,
        request: HttpRequest | None,
    ) -> None:
        """Move the appointment's session to the state matching ``status`` (check in, start,
        recovery, discharge); the session's service brings the appointment along through
        ``scheduling.services.status_changes.appointment_follow_session``. Raises
        ``ValidationError`` keyed "status" (changing nothing) when the session may not move."""

    def undo_check_in(
        self,
        *,
        actor: User,
        appointment: Appointment,
        reason: str,
        request: HttpRequest | None,
    ) -> None:
        """Take the session back from checked in to scheduled (the appointment goes back to
        booked in the same transaction); ``ValidationError`` if the session has moved on."""


_owner: SessionOwner | None = None


def register(owner: SessionOwner) -> None:
    global _owner
    _owner = owner


def session_owner() -> SessionOwner:
    if _owner is None:
        raise ImproperlyConfigured(
            "No infusion session owner is registered: add 'infusions' to INSTALLED_APPS."
        )
    return _owner
