"""The kinds of message there are: how each is written, and whether it is still wanted.

Apps register their kinds in ``<app>/messages.py``; ``autodiscover()`` (from
``ClinicConfig.ready``) imports those modules. A kind is looked up by the name stored on
``OutboxMessage.kind``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.utils.module_loading import autodiscover_modules

from clinic.models import OutboxMessage


@dataclass(frozen=True)
class Rendered:
    """A message ready for its channel: ``subject``, ``html`` and ``attachments`` are for
    email only.

    ``attachments`` are ``(file name, content, MIME type)`` triples, e.g. the .ics of a
    booking: ``("consultation.ics", text, "text/calendar")``. The email channel attaches
    each one (``EmailMessage.attach(name, content, mimetype)``); texts ignore them.
    """

    body: str
    subject: str = ""
    html: str = ""
    attachments: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class NotWanted:
    """Why a message is no longer to be sent: a reason code (``SKIP_REASONS``) and a
    sentence for the staff view."""

    reason: str
    detail: str


@dataclass(frozen=True)
class MessageKind:
    """One kind of message, and the one place that says how the rules treat it.

    ``render`` writes it from the row (its ``context`` holds ids and the few values the text
    needs); ``still_wanted`` returns None to send, or why not (e.g. the appointment was
    cancelled or moved since).

    How the rules (``clinic.messaging.rules``) treat texts of the kind:

    - ``transactional``: a message the patient needs (a confirmation, a reminder, a moved or
      cancelled notice, a course schedule, a waitlist offer, a link staff send). Never held
      by the daily and weekly caps and not counted towards them; quiet hours still apply.
    - ``urgent`` (a safety alert, a STOP confirmation): not held by quiet hours or caps.
    - ``before_quiet_hours``: a text due inside quiet hours goes at the last allowed minute
      before them instead of after them (reminders: one that arrives after the visit is of
      no use). Without it a text waits for the end of quiet hours.
    - Everything else is a non-urgent nudge (a questionnaire, the next-day check-in): capped
      and counted. ``capped=False`` takes a nudge out of the caps without making it
      transactional; ``counted`` says whether a sent text of the kind counts.
    """

    name: str
    render: Callable[[OutboxMessage], Rendered]
    still_wanted: Callable[[OutboxMessage], NotWanted | None] = lambda message: None
    urgent: bool = False
    capped: bool = True
    transactional: bool = False
    before_quiet_hours: bool = False
    description: str = ""

    @property
    def counted(self) -> bool:
        """Held by the caps, and counted towards them once sent: non-urgent nudges only."""
        return self.capped and not self.transactional and not self.urgent


# Reason codes, shown to staff with their words.
SKIP_REASONS: dict[str, str] = {
    "no_consent": "No consent for this channel",
    "no_address": "No email address or mobile number",
    "cancelled": "The appointment was cancelled",
    "moved": "The appointment was moved",
    "past": "Too late: the time it was for has passed",
    "cap": "Over the limit of non-urgent texts a day or a week",
    "not_wanted": "No longer needed",
    "unknown_kind": "Unknown kind of message",
}

_KINDS: dict[str, MessageKind] = {}


def register(kind: MessageKind) -> MessageKind:
    """Make ``kind`` known by its name (once: a second kind of the same name is an error)."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise ValueError(f"Two message kinds are called {kind.name!r}.")
    _KINDS[kind.name] = kind
    return kind


def kind_named(name: str) -> MessageKind | None:
    return _KINDS.get(name)


def kinds_registered() -> list[MessageKind]:
    """Every known kind (``rules`` needs the ones that count towards the caps)."""
    return list(_KINDS.values())


def autodiscover() -> None:
    autodiscover_modules("messages")
