"""What happens elsewhere when an appointment's status moves (a no-show, a cancellation, the
undo of either).

Every move is written by ``scheduling.services.status_changes.record_status``, which calls
the functions registered here in the same transaction, so what they write commits or rolls
back with the move. ``scheduling`` does not know who listens: ``billing`` (a layer above)
registers the no-show and late-cancel fee proposals from ``BillingConfig.ready``, as it
registers the visit's invoice in ``scheduling.visit_end``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from clinic.models import User
    from scheduling.models import Appointment

StatusChanged = Callable[..., None]
"""Called as ``listener(appointment=..., previous=..., actor=..., undo=...)``: the
appointment (locked) is at its new status; ``previous`` is the status it left; ``actor`` is
None for the patient online or the system; ``undo`` says the move undid the one before."""

_listeners: list[StatusChanged] = []


def register(listener: StatusChanged) -> StatusChanged:
    """Call ``listener`` on every status move (registering twice changes nothing)."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def status_changed(
    *, appointment: Appointment, previous: str, actor: User | None, undo: bool
) -> None:
    for listener in _listeners:
        listener(appointment=appointment, previous=previous, actor=actor, undo=undo)
