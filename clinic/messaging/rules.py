"""Whether a message is to be sent now, later, or not at all.

``decide`` is asked by the worker right before sending, so it sees the world as it is then:
the kind's own check (the appointment not cancelled or moved since), the patient's consent
for the channel, quiet hours for texts in the location's time zone (deferred to the
morning), and the caps on non-urgent texts (a day and a week per patient).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from clinic.messaging.registry import NotWanted, kind_named
from clinic.models import OutboxMessage


@dataclass(frozen=True)
class Decision:
    """Send now (neither set), send later (``defer_until``), or never (``skip``)."""

    defer_until: datetime | None = None
    skip: NotWanted | None = None

    @property
    def send(self) -> bool:
        return self.defer_until is None and self.skip is None


SEND = Decision()


def decide(message: OutboxMessage, now: datetime) -> Decision:
    kind = kind_named(message.kind)
    if kind is None:
        return Decision(
            skip=NotWanted("unknown_kind", f"No message kind is called {message.kind}.")
        )
    not_wanted = kind.still_wanted(message)
    if not_wanted is not None:
        return Decision(skip=not_wanted)
    return SEND
