"""What happens elsewhere when a visit ends.

A visit ends when its appointment reaches "discharged": a consultation or follow-up when the
front desk or the clinician marks it done, an infusion when its session's discharge checklist
is signed (``infusions.discharge``, which brings the appointment along). Every one of those
moves is written by ``scheduling.services.status_changes.record_status``, which calls the
functions registered here in the same transaction, so what they write commits or rolls back
with the visit's end.

``scheduling`` does not know who listens: ``billing`` (a layer above) registers the visit's
draft invoice from ``BillingConfig.ready``, the way ``infusions`` registers the session's
owner in ``scheduling.session_owner``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic.models import User
    from scheduling.models import Appointment

VisitEnded = Callable[..., None]
"""Called as ``listener(appointment=..., actor=...)``; ``actor`` is None for the system."""

VisitReopened = Callable[..., None]
"""Called as ``listener(appointment=..., actor=..., reason=...)`` when a visit's end is undone."""

_listeners: list[VisitEnded] = []
_reopen_listeners: list[VisitReopened] = []


def register(listener: VisitEnded) -> VisitEnded:
    """Call ``listener`` whenever a visit ends (once: registering again changes nothing, so a
    ``ready`` that runs twice does no harm). Usable as a decorator."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def visit_ended(*, appointment: Appointment, actor: User | None) -> None:
    """Tell every listener that ``appointment`` (locked, just discharged) has ended."""
    for listener in _listeners:
        listener(appointment=appointment, actor=actor)


def register_reopened(listener: VisitReopened) -> VisitReopened:
    """Call ``listener`` whenever a visit's end is undone (``scheduling.services.undo``), in
    the transaction that undoes it: ``billing`` gives a package visit back. Once, as
    ``register``."""
    if listener not in _reopen_listeners:
        _reopen_listeners.append(listener)
    return listener


def visit_reopened(*, appointment: Appointment, actor: User | None, reason: str) -> None:
    """Tell every listener that ``appointment`` (locked, back to checked in) has not ended."""
    for listener in _reopen_listeners:
        listener(appointment=appointment, actor=actor, reason=reason)
