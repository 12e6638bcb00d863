"""Whether a message is to be sent now, later, or not at all, and when a text is planned.

Two kinds of text (``MessageKind`` says which, in its registration: one place):

- **Transactional** (``transactional=True``): what the patient needs about a booked visit or
  from staff: confirmations, reminders, moved and cancelled notices, the course schedule,
  waitlist offers, the intake and consent links staff send. Never held by the caps, and
  not counted towards them either: DOMAIN.md caps *non-urgent nudges* (1 a day, 3 a week),
  and counting an induction week's six reminders would starve the questionnaires it is
  meant to limit, or, worse, let a nudge crowd out a reminder.
- **Nudges** (everything else that is not urgent: questionnaire reminders, the next-day
  check-in, anything not about a booked visit): held by the caps and counted.

Urgent kinds (a safety alert, a STOP confirmation) pass quiet hours and caps.

**When a text is planned** (``planned_send_at``, called by ``outbox.outbox_enqueue``, so
every caller gets the same answer): a text due inside quiet hours (``MESSAGE_QUIET_HOURS``,
21:00 to 08:00 by default, on the location's clock) is moved

- for kinds with ``before_quiet_hours`` (reminders): *earlier*, to the last allowed minute
  before those quiet hours began: 20:59, one minute before 21:00, so the dispatcher (every
  minute) sends it before the quiet hours start. A 2-hour reminder for a 09:00 visit goes at
  20:59 the evening before. If that minute has passed already (booked at 22:00 for 09:00),
  to the end of quiet hours (08:00), but only if that is still before the time it is for
  (``useful_until``, else the appointment's start); if not, it is due now and ``decide``
  skips it at once, with the reason, so staff see it on the chart;
- for other kinds: to the end of quiet hours, as ``decide`` would.

The move is noted in ``context["held"]`` (``{"why": "quiet_hours", "due": <its own time>}``)
for the chart, which says "moved earlier" or "held until".

**At send time**, ``decide`` is asked by the worker right before sending, so it sees the
world as it is then. The checks, in order:

1. The kind is known, and its own ``still_wanted`` says yes (the appointment not cancelled
   or moved since, a reminder's time not passed, a link not used up).
2. Consent: the patient's current consent for the channel (their latest choice, one
   query) must be "granted". Kinds in ``CONSENT_EXEMPT_KINDS`` (the one confirmation of a
   STOP) and messages to staff (no patient) need none. Skipped as "no_consent".
3. Quiet hours, for texts that are not urgent: none between ``MESSAGE_QUIET_HOURS`` on the
   location's clock (the message's location, else the patient's preferred location, else
   ``TIME_ZONE``). A text found inside them (planned outside, but the worker was late, or
   queued before this rule) waits for their end: the last minute before them is gone. The
   local wall time is built first and then converted, so DST nights are right (08:00
   exists on both change nights in every zone whose clocks change at night).
4. Caps, for texts of counted kinds (``MessageKind.counted``: nudges): at most
   ``SMS_DAILY_CAP`` a local day and ``SMS_WEEKLY_CAP`` in any rolling 7 days per patient,
   counting nudges already sent (and, so two workers cannot both take the last place, the
   patient's nudges being sent right now that were queued earlier). Deferred to the first
   time the text fits: the next local day at 08:00 for the daily cap, the moment the
   oldest counted text leaves the 7-day window for the weekly cap (moved out of quiet hours
   if needed).

A deferral is only worth making if the message is still of use then: until
``context["useful_until"]`` (an ISO time: a 48-hour reminder is of no use once the 2-hour one
is due), else until the appointment's start (``context["starts_at"]``). A deferral to that
time or later is a skip instead: "cap" when the caps held it back, "past" when quiet hours
did. So nothing is ever deferred past its visit. Without either time the message is
deferred and its ``still_wanted`` judges it again when it comes due. A deferral says why
(``Decision.held``), which the outbox keeps in ``context["held"]`` for the chart.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from django.conf import settings
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from clinic.messaging.recipients import patient_directory
from clinic.messaging.registry import NotWanted, kind_named, kinds_registered
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus

# Kinds sent whatever the patient's consent: the one confirmation that a STOP was received
# (clinic.messaging.inbound) goes out after SMS consent was withdrawn by that STOP.
CONSENT_EXEMPT_KINDS: frozenset[str] = frozenset({"sms_stop_confirmation"})

WEEK = timedelta(days=7)


# Why a text waits: the codes kept in ``context["held"]["why"]``.
HELD_QUIET_HOURS = "quiet_hours"
HELD_CAP = "cap"
# How long before quiet hours start a text moved earlier is due: the dispatcher runs every
# minute, so a text due at 20:59 is sent before 21:00.
BEFORE_QUIET_HOURS = timedelta(minutes=1)


@dataclass(frozen=True)
class Decision:
    """Send now (neither set), send later (``defer_until``, with why: ``held``), or never
    (``skip``)."""

    defer_until: datetime | None = None
    skip: NotWanted | None = None
    held: str = ""

    @property
    def send(self) -> bool:
        return self.defer_until is None and self.skip is None


SEND = Decision()


def decide(
    message: OutboxMessage,
    now: datetime,
    *,
    consenting: Collection[int] | None = None,
    counted: dict[int, list[CountedText]] | None = None,
) -> Decision:
    """What to do with ``message`` at ``now`` (see the module docstring for the order).

    Queries: the kind's own check, one for consent, and for a capped text one more (two
    with the location or patient not selected with the message). None for consent or caps
    when they were read already for a batch: ``consenting``, the patients who consent to
    the message's channel (``consenting()``), and ``counted``, the texts counting towards
    the caps of the batch's patients (``counted_texts()``)."""
    kind = kind_named(message.kind)
    if kind is None:
        return Decision(
            skip=NotWanted("unknown_kind", f"No message kind is called {message.kind}.")
        )
    not_wanted = kind.still_wanted(message)
    if not_wanted is not None:
        return Decision(skip=not_wanted)
    if needs_consent(message) and not consent_granted(message, consenting):
        return Decision(
            skip=NotWanted(
                "no_consent",
                f"The patient has not agreed to {OutboxChannel(message.channel).label.lower()} "
                "messages (or withdrew their agreement).",
            )
        )
    if message.channel != OutboxChannel.SMS or message.urgent or kind.urgent:
        return SEND
    zone = message_time_zone(message)
    quiet_until = quiet_hours_end(now, zone)
    if quiet_until is not None:
        return _later(
            message,
            quiet_until,
            HELD_QUIET_HOURS,
            NotWanted("past", _quiet_hours_too_late(quiet_until, zone)),
        )
    if kind.counted and message.patient_id is not None:
        fits_at = cap_fits_at(message, now, zone, counted)
        if fits_at is not None:
            return _later(
                message,
                fits_at,
                HELD_CAP,
                NotWanted(
                    "cap",
                    f"The patient had their {_caps_text()} already, and the next free "
                    f"place ({_clock(fits_at, zone)}) is after the time it was for.",
                ),
            )
    return SEND


def _quiet_hours_too_late(quiet_until: datetime, zone: tzinfo) -> str:
    return (
        f"Quiet hours: it could only have been sent at {_clock(quiet_until, zone)}, after the "
        "time it was for. Tell the patient another way if they still need it."
    )


# --- Planning a text ------------------------------------------------------------------------


def planned_send_at(
    *,
    kind_name: str,
    channel: str,
    urgent: bool,
    due: datetime,
    now: datetime,
    zone: tzinfo,
    limit: datetime | None,
) -> tuple[datetime, bool]:
    """When to send a message due at ``due`` (the module docstring, "When a text is
    planned"), and whether quiet hours moved it. ``limit`` is the time it is of use until.
    No query."""
    kind = kind_named(kind_name)
    if channel != OutboxChannel.SMS or urgent or (kind is not None and kind.urgent):
        return due, False
    if due <= now or quiet_hours_end(due, zone) is None:
        return due, False  # due now: ``decide`` judges it when it is sent
    if kind is not None and kind.before_quiet_hours:
        began = quiet_hours_start(due, zone)
        if began is not None and began - BEFORE_QUIET_HOURS > now:
            return began - BEFORE_QUIET_HOURS, True
        if began is not None and now < began:  # within that last minute: go now
            return now, True
    after = quiet_hours_end(due, zone)
    if after is None or (limit is not None and after >= limit):
        # No time left to send it out of quiet hours: due now, so ``decide`` skips it at
        # once (or sends it, if now is still before them) and staff see why on the chart.
        return now, False
    return after, True


# --- Consent ------------------------------------------------------------------------------


def needs_consent(message: OutboxMessage) -> bool:
    return message.patient_id is not None and message.kind not in CONSENT_EXEMPT_KINDS


def consent_granted(message: OutboxMessage, consenting: Collection[int] | None = None) -> bool:
    """The patient's latest consent choice on the message's channel is "granted" (one
    query; no choice on record is no consent). The patients app answers
    (``recipients``). ``consenting``: the answer read already, for a batch."""
    if consenting is not None:
        return message.patient_id in consenting
    return patient_directory().consent_granted(message.patient_id, message.channel)


def consenting(messages: Iterable[OutboxMessage]) -> dict[str, set[int]]:
    """For each channel, the patients of ``messages`` who consent to it now: what
    ``consent_granted`` would say of each message, in one query per channel."""
    wanted: dict[str, set[int]] = {}
    for message in messages:
        if needs_consent(message):
            wanted.setdefault(message.channel, set()).add(message.patient_id)
    directory = patient_directory()
    return {channel: directory.consenting(ids, channel) for channel, ids in wanted.items()}


# --- Quiet hours --------------------------------------------------------------------------


def message_time_zone(message: OutboxMessage) -> tzinfo:
    """The message's location's zone, else the patient's preferred location's, else the
    clinic's default (``TIME_ZONE``)."""
    if message.location_id is not None:
        return time_zone_for(location=message.location)
    if message.patient_id is not None and message.patient.preferred_location_id is not None:
        return time_zone_for(patient=message.patient)
    return time_zone_for()


def quiet_hours_end(now: datetime, zone: tzinfo) -> datetime | None:
    """When the quiet hours around ``now`` end (the next ``MESSAGE_QUIET_HOURS`` end on the
    local clock), or None when ``now`` is not in them. Start 21 and end 8: 20:59 is not
    quiet, 21:00 is; 07:59 is quiet, 08:00 is not."""
    start, end = settings.MESSAGE_QUIET_HOURS
    local = now.astimezone(zone)
    minutes = local.hour * 60 + local.minute
    start_m, end_m = start * 60, end * 60
    if start_m == end_m:
        return None
    over_midnight = start_m > end_m  # the usual case
    in_quiet = start_m <= minutes or minutes < end_m
    in_span = start_m <= minutes < end_m
    if not (in_quiet if over_midnight else in_span):
        return None
    day = local.date()
    if minutes >= end_m:
        day += timedelta(days=1)
    return local_moment(day, time(end), zone)


def quiet_hours_start(moment: datetime, zone: tzinfo) -> datetime | None:
    """When the quiet hours around ``moment`` began (21:00 the evening before, for 07:00),
    or None when ``moment`` is not in them."""
    if quiet_hours_end(moment, zone) is None:
        return None
    start, end = settings.MESSAGE_QUIET_HOURS
    local = moment.astimezone(zone)
    day = local.date()
    if start > end and local.hour < start:  # after midnight: they began the evening before
        day -= timedelta(days=1)
    return local_moment(day, time(start), zone)


def time_zone_for(*, location: object = None, patient: object = None) -> tzinfo:
    """The zone quiet hours are read in: the location's, else the patient's preferred
    location's, else ``TIME_ZONE``."""
    if location is not None:
        return location.tz  # type: ignore[attr-defined]
    preferred = getattr(patient, "preferred_location", None) if patient is not None else None
    if preferred is not None:
        return preferred.tz
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_moment(day: object, at: time, zone: tzinfo) -> datetime:
    """``day`` at the wall-clock time ``at`` in ``zone``, as an aware UTC-convertible time.

    Built on the wall clock and then resolved by zoneinfo, so 08:00 is 08:00 local on a DST
    day whatever the offset was the evening before."""
    return datetime.combine(day, at, tzinfo=zone)  # type: ignore[arg-type]


# --- Caps ---------------------------------------------------------------------------------


def _uncounted_kinds() -> list[str]:
    return [kind.name for kind in kinds_registered() if not kind.counted]


@dataclass(frozen=True)
class CountedText:
    """A patient's text that may count towards the caps: sent, or being sent."""

    pk: int
    status: str
    sent_at: datetime | None
    created_at: datetime
    claimed_until: datetime | None

    def counts_for(self, message: OutboxMessage, now: datetime) -> bool:
        """Whether it counts for ``message`` at ``now``: the query of ``cap_fits_at``."""
        if self.pk == message.pk:
            return False
        if self.status == OutboxStatus.SENT:
            return self.sent_at is not None and self.sent_at > now - WEEK
        return (
            self.status == OutboxStatus.SENDING
            and self.claimed_until is not None
            and self.claimed_until > now
            and (self.created_at, self.pk) < (message.created_at, message.pk)
        )


def counted_texts(messages: Iterable[OutboxMessage], now: datetime) -> dict[int, list[CountedText]]:
    """For each patient with a capped text among ``messages``, the texts that may count
    towards their caps at ``now`` (``CountedText``): what ``cap_fits_at`` reads for each
    message, in one query for them all (none without a capped text)."""
    patient_ids = {message.patient_id for message in messages if _capped(message)}
    if not patient_ids:
        return {}
    rows = (
        OutboxMessage.objects.filter(
            patient_id__in=patient_ids, channel=OutboxChannel.SMS, urgent=False
        )
        .exclude(kind__in=_uncounted_kinds())
        .filter(_sent_since(now - WEEK) | Q(status=OutboxStatus.SENDING, claimed_until__gt=now))
        .values_list("patient_id", "pk", "status", "sent_at", "created_at", "claimed_until")
    )
    counted: dict[int, list[CountedText]] = {patient_id: [] for patient_id in patient_ids}
    for patient_id, *fields in rows:
        counted[patient_id].append(CountedText(*fields))
    return counted


def _capped(message: OutboxMessage) -> bool:
    """Whether ``decide`` may ask the caps about ``message`` (before the quiet hours)."""
    kind = kind_named(message.kind)
    return (
        kind is not None
        and kind.counted
        and message.patient_id is not None
        and message.channel == OutboxChannel.SMS
        and not message.urgent
    )


def cap_fits_at(
    message: OutboxMessage,
    now: datetime,
    zone: tzinfo,
    counted: dict[int, list[CountedText]] | None = None,
) -> datetime | None:
    """None when one more capped text to the patient now stays within the caps; else the
    first time it would (out of quiet hours). One query, none with ``counted``
    (``counted_texts``, read for a batch).

    Counted: the patient's texts of counted kinds (nudges) sent in the last 7 days, and
    those being sent right now that were queued before this one (taken as sent now). Kinds
    not registered count too (better one text too few than one too many)."""
    daily, weekly = settings.SMS_DAILY_CAP, settings.SMS_WEEKLY_CAP
    if counted is not None and message.patient_id in counted:
        rows = [
            (text.status, text.sent_at)
            for text in counted[message.patient_id]
            if text.counts_for(message, now)
        ]
    else:
        rows = list(
            OutboxMessage.objects.filter(
                patient_id=message.patient_id,
                channel=OutboxChannel.SMS,
                urgent=False,
            )
            .exclude(kind__in=_uncounted_kinds())
            .exclude(pk=message.pk)
            .filter(_sent_since(now - WEEK) | _in_flight_before(message, now))
            .values_list("status", "sent_at")
        )
    sent = sorted(sent_at if status == OutboxStatus.SENT else now for status, sent_at in rows)
    local = now.astimezone(zone)
    day_start = local_moment(local.date(), time(0), zone)
    today = sum(1 for moment in sent if moment >= day_start)
    candidates = []
    if today >= daily:
        _start, end = settings.MESSAGE_QUIET_HOURS
        candidates.append(local_moment(local.date() + timedelta(days=1), time(end), zone))
    if len(sent) >= weekly:
        candidates.append(sent[len(sent) - weekly] + WEEK)
    if not candidates:
        return None
    fits_at = max(candidates)
    return quiet_hours_end(fits_at, zone) or fits_at


def _sent_since(moment: datetime) -> Q:
    return Q(status=OutboxStatus.SENT, sent_at__gt=moment)


def _in_flight_before(message: OutboxMessage, now: datetime) -> Q:
    earlier = Q(created_at__lt=message.created_at) | Q(
        created_at=message.created_at, pk__lt=message.pk
    )
    return Q(status=OutboxStatus.SENDING, claimed_until__gt=now) & earlier


def _caps_text() -> str:
    daily, weekly = settings.SMS_DAILY_CAP, settings.SMS_WEEKLY_CAP
    return (
        f"{daily} text{'s' if daily != 1 else ''} a day or {weekly} "
        f"text{'s' if weekly != 1 else ''} a week"
    )


# --- Helpers ------------------------------------------------------------------------------


def useful_until(message: OutboxMessage) -> datetime | None:
    value = (message.context or {}).get("useful_until")
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def useful_limit(message: OutboxMessage) -> datetime | None:
    """Until when the message is of use: its ``useful_until``, else the start of the visit it
    is about (``context["starts_at"]``), else None (its ``still_wanted`` judges)."""
    limit = useful_until(message)
    if limit is not None:
        return limit
    value = (message.context or {}).get("starts_at")
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _later(message: OutboxMessage, when: datetime, held: str, useless: NotWanted) -> Decision:
    """Defer to ``when``, unless the message would be of no use by then."""
    limit = useful_limit(message)
    if limit is not None and when >= limit:
        return Decision(skip=useless)
    return Decision(defer_until=when, held=held)


def _clock(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"
