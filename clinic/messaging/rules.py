"""Whether a message is to be sent now, later, or not at all.

``decide`` is asked by the worker right before sending, so it sees the world as it is then.
The checks, in order:

1. The kind is known, and its own ``still_wanted`` says yes (the appointment not cancelled
   or moved since, a reminder's time not passed, a link not used up).
2. Consent: the patient's current consent for the channel (their latest choice, one
   query) must be "granted". Kinds in ``CONSENT_EXEMPT_KINDS`` (the one confirmation of a
   STOP) and messages to staff (no patient) need none. Skipped as "no_consent".
3. Quiet hours, for texts that are not urgent: none between ``MESSAGE_QUIET_HOURS`` (21:00
   and 08:00 by default) on the location's clock (the message's location, else the
   patient's preferred location, else ``TIME_ZONE``); deferred to the next 08:00 there.
   The local wall time is built first and then converted, so DST nights are right (08:00
   exists on both change nights in every zone whose clocks change at night).
4. Caps, for texts of kinds with ``capped=True`` that are not urgent: at most
   ``SMS_DAILY_CAP`` a local day and ``SMS_WEEKLY_CAP`` in any rolling 7 days per patient,
   counting capped texts already sent (and, so two workers cannot both take the last
   place, the patient's capped texts being sent right now that were queued earlier).
   Deferred to the first time the text fits: the next local day at 08:00 for the daily cap,
   the moment the oldest counted text leaves the 7-day window for the weekly cap (moved
   out of quiet hours if needed).

A deferral is only worth making if the message is still of use then. A message may say
until when it is (``context["useful_until"]``, an ISO time: a 48-hour reminder is of no use
once the 2-hour one is due); a deferral to that time or later is a skip instead: "cap" when
the caps held it back, "past" when quiet hours did. Without ``useful_until`` the message is
deferred and its ``still_wanted`` judges it again when it comes due.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from django.conf import settings
from django.db.models import Q
from django.utils.dateparse import parse_datetime

from clinic.messaging.registry import NotWanted, kind_named, kinds_registered
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus

# Kinds sent whatever the patient's consent: the one confirmation that a STOP was received
# (clinic.messaging.inbound) goes out after SMS consent was withdrawn by that STOP.
CONSENT_EXEMPT_KINDS: frozenset[str] = frozenset({"sms_stop_confirmation"})

WEEK = timedelta(days=7)


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
    """What to do with ``message`` at ``now`` (see the module docstring for the order).

    Queries: the kind's own check, one for consent, and for a capped text one more (two
    with the location or patient not selected with the message)."""
    kind = kind_named(message.kind)
    if kind is None:
        return Decision(
            skip=NotWanted("unknown_kind", f"No message kind is called {message.kind}.")
        )
    not_wanted = kind.still_wanted(message)
    if not_wanted is not None:
        return Decision(skip=not_wanted)
    if needs_consent(message) and not consent_granted(message):
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
            NotWanted(
                "past",
                f"Quiet hours: it could only have been sent at {_clock(quiet_until, zone)}, "
                "after the time it was for.",
            ),
        )
    if kind.capped and message.patient_id is not None:
        fits_at = cap_fits_at(message, now, zone)
        if fits_at is not None:
            return _later(
                message,
                fits_at,
                NotWanted(
                    "cap",
                    f"The patient had their {_caps_text()} already, and the next free "
                    f"place ({_clock(fits_at, zone)}) is after the time it was for.",
                ),
            )
    return SEND


# --- Consent ------------------------------------------------------------------------------


def needs_consent(message: OutboxMessage) -> bool:
    return message.patient_id is not None and message.kind not in CONSENT_EXEMPT_KINDS


def consent_granted(message: OutboxMessage) -> bool:
    """The patient's latest consent choice on the message's channel is "granted" (one
    query; no choice on record is no consent)."""
    from patients.models import CommunicationConsent

    latest = (
        CommunicationConsent.objects.filter(patient_id=message.patient_id, channel=message.channel)
        .order_by("-recorded_at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest)


# --- Quiet hours --------------------------------------------------------------------------


def message_time_zone(message: OutboxMessage) -> tzinfo:
    """The message's location's zone, else the patient's preferred location's, else the
    clinic's default (``TIME_ZONE``)."""
    if message.location_id is not None:
        return message.location.tz
    if message.patient_id is not None:
        patient = message.patient
        if patient.preferred_location_id is not None:
            return patient.preferred_location.tz
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


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


def local_moment(day: object, at: time, zone: tzinfo) -> datetime:
    """``day`` at the wall-clock time ``at`` in ``zone``, as an aware UTC-convertible time.

    Built on the wall clock and then resolved by zoneinfo, so 08:00 is 08:00 local on a DST
    day whatever the offset was the evening before."""
    return datetime.combine(day, at, tzinfo=zone)  # type: ignore[arg-type]


# --- Caps ---------------------------------------------------------------------------------


def _uncapped_kinds() -> list[str]:
    return [kind.name for kind in kinds_registered() if kind.urgent or not kind.capped]


def cap_fits_at(message: OutboxMessage, now: datetime, zone: tzinfo) -> datetime | None:
    """None when one more capped text to the patient now stays within the caps; else the
    first time it would (out of quiet hours). One query.

    Counted: the patient's non-urgent texts of capped kinds sent in the last 7 days, and
    those being sent right now that were queued before this one (taken as sent now). Kinds
    not registered count too (better one text too few than one too many)."""
    daily, weekly = settings.SMS_DAILY_CAP, settings.SMS_WEEKLY_CAP
    rows = (
        OutboxMessage.objects.filter(
            patient_id=message.patient_id,
            channel=OutboxChannel.SMS,
            urgent=False,
        )
        .exclude(kind__in=_uncapped_kinds())
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


def _later(message: OutboxMessage, when: datetime, useless: NotWanted) -> Decision:
    """Defer to ``when``, unless the message would be of no use by then."""
    limit = useful_until(message)
    if limit is not None and when >= limit:
        return Decision(skip=useless)
    return Decision(defer_until=when)


def _clock(moment: datetime, zone: tzinfo) -> str:
    local = moment.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"
