"""Follow-ups: the questionnaires patients answer between visits, and the next-day check-in.

When (settings, DOMAIN.md "Follow-up"):

- **before each infusion or booster**: the day before, at ``FOLLOWUP_QUESTIONNAIRE_HOUR``
  on the location's clock (context "pre_session");
- **after an induction course starts**: ``FOLLOWUP_AFTER_INDUCTION_DAYS`` (7 and 28) days
  after its first infusion, then every ``FOLLOWUP_MAINTENANCE_INTERVAL_DAYS`` (30) while the
  course goes on, in maintenance or still marked induction (context "follow_up");
- **the day after each infusion**: the check-in, at ``FOLLOWUP_CHECKIN_HOUR`` local,
  queued when the patient is discharged (``followup_checkin_enqueue``, called by
  ``infusions.discharge``).

Each is a ``PatientLink`` (signed, expiring, single-use: ``patients.links``) and one outbox
message per channel the patient consented to, named by an idempotency key, so the daily
task (``patients.tasks``) may run twice, or late, and still queue each message once. The
task queues everything due up to the location's tomorrow, each message with its own local
send time (``not_before``), so the hour it runs at does not matter.

A new questionnaire link replaces the patient's older unanswered one (``link_create``), so
the patient only ever has one questionnaire open; a message whose link was replaced is
skipped when its time comes (``patients.followup_messages``).

Answers come back through ``questionnaire_link_submit`` and ``checkin_submit``, which keep
them and, in the same transaction, raise a safety alert when the patient reports thoughts
of self-harm (``patients.services.safety``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.messaging.outbox import outbox_enqueue
from clinic.models import Location, OutboxMessage
from patients.links import link_create, link_for_token, link_mark_used, link_token
from patients.models import (
    CheckIn,
    Patient,
    PatientLink,
    QuestionnaireResponse,
    SafetyAlert,
    SideEffect,
)
from patients.questionnaires import (
    Instrument,
    QuestionnaireError,
    instruments_for_conditions,
    score,
)
from patients.selectors import contact_consents_current
from patients.services.questionnaires import questionnaire_record
from patients.services.safety import safety_alert_raise

logger = logging.getLogger(__name__)

QUESTIONNAIRE_KIND = "questionnaire_due"
CHECKIN_KIND = "next_day_checkin"
Context = QuestionnaireResponse.Context


# --- Local times --------------------------------------------------------------------------


def local_moment(day: date, hour: int, tz: tzinfo) -> datetime:
    """``hour``:00 on ``day`` on the wall clock of ``tz``, as an aware UTC datetime.

    The offset is the one in force on that day, so 10:00 is 10:00 on either side of a DST
    change (an hour that does not exist that day, in the spring gap, comes out an hour later).
    """
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def checkin_send_at(discharged_at: datetime, tz: tzinfo) -> datetime:
    """When the next-day check-in goes out: ``FOLLOWUP_CHECKIN_HOUR`` on the day after the
    local day of discharge."""
    next_day = discharged_at.astimezone(tz).date() + timedelta(days=1)
    return local_moment(next_day, settings.FOLLOWUP_CHECKIN_HOUR, tz)


def _tz(location: Location | None) -> tzinfo:
    return location.tz if location is not None else timezone.get_default_timezone()


# --- Queueing a message with its link ---------------------------------------------------


def consented_channels(patient: Patient) -> list[str]:
    """The channels the patient currently consents to be contacted on (one query)."""
    return [consent.channel for consent in contact_consents_current(patient) if consent.granted]


def _enqueue_with_link(
    *,
    patient: Patient,
    purpose: PatientLink.Purpose,
    key: str,
    kind: str,
    send_at: datetime,
    location: Location | None,
    appointment: Any = None,
    instruments: Iterable[str] = (),
    questionnaire_context: str = "",
    extra_context: Mapping[str, Any] | None = None,
) -> list[OutboxMessage]:
    """One link and one message per consented channel, keyed ``<key>:<channel>``; nothing
    new if any of those keys exists (the link is not made again either, as a new link would
    replace the one already sent). Call inside a transaction."""
    # The patient's row lock makes two runs at once take turns: the second sees the first's
    # messages and makes no second link.
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    channels = consented_channels(patient)
    if not channels:
        return []
    keys = {channel: f"{key}:{channel}" for channel in channels}
    if OutboxMessage.objects.filter(idempotency_key__in=keys.values()).exists():
        return []
    now = timezone.now()
    lifetime = max(send_at - now, timedelta(0)) + timedelta(
        days=settings.FOLLOWUP_LINK_LIFETIME_DAYS
    )
    link, _ = link_create(patient=patient, purpose=purpose, created_by=None, lifetime=lifetime)
    link.instruments = list(instruments)
    link.questionnaire_context = questionnaire_context
    link.appointment = appointment
    link.save(update_fields=["instruments", "questionnaire_context", "appointment"])
    context = {"link": str(link.public_id), **(extra_context or {})}
    return [
        outbox_enqueue(
            key=channel_key,
            kind=kind,
            channel=channel,
            patient=patient,
            appointment=appointment,
            location=location,
            context=context,
            not_before=send_at,
        )
        for channel, channel_key in keys.items()
    ]


@transaction.atomic
def followup_checkin_enqueue(
    *, appointment: Any, discharged_at: datetime | None = None
) -> list[OutboxMessage]:
    """Queue the next-day check-in after ``appointment``'s infusion (once per appointment),
    on the channels the patient consents to; due the next local day at
    ``FOLLOWUP_CHECKIN_HOUR``."""
    location = appointment.location
    send_at = checkin_send_at(discharged_at or timezone.now(), _tz(location))
    return _enqueue_with_link(
        patient=appointment.patient,
        purpose=PatientLink.Purpose.CHECK_IN,
        key=f"appointment:{appointment.public_id}:checkin",
        kind=CHECKIN_KIND,
        send_at=send_at,
        location=location,
        appointment=appointment,
    )


# --- What is due --------------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    """A questionnaire to send: ``key`` names it (without the channel)."""

    patient: Patient
    key: str
    context: str  # QuestionnaireResponse.Context
    due_on: date  # the location's day it is for
    send_at: datetime
    location: Location
    appointment: Any = None  # the infusion a pre-session questionnaire is for
    extra: dict[str, Any] = field(default_factory=dict)


DueSource = Callable[[datetime], list[Due]]
_due_sources: list[DueSource] = []


def due_source(source: DueSource) -> DueSource:
    """Register ``source``, which lists the questionnaires due from a few days before
    ``now`` up to each location's tomorrow. The appointments and courses they are due for
    are ``scheduling``'s (``scheduling.questionnaire_dues``, registered from its
    ``AppConfig.ready``, a layer above). Usable as a decorator; registering twice changes
    nothing."""
    if source not in _due_sources:
        _due_sources.append(source)
    return source


def followups_due(now: datetime | None = None) -> list[Due]:
    """Every questionnaire due from a few days ago up to each location's tomorrow, in the
    order to queue them: by day, a pre-session one last on its day (the link queued last
    is the one that stays live)."""
    now = now or timezone.now()
    dues = [due for source in _due_sources for due in source(now)]
    return sorted(dues, key=lambda due: (due.due_on, due.context == Context.PRE_SESSION))


def followup_enqueue(due: Due) -> list[OutboxMessage]:
    """Queue one due questionnaire (its link and messages), unless it is queued already."""
    with transaction.atomic():
        return _enqueue_with_link(
            patient=due.patient,
            purpose=PatientLink.Purpose.QUESTIONNAIRE,
            key=due.key,
            kind=QUESTIONNAIRE_KIND,
            send_at=due.send_at,
            location=due.location,
            appointment=due.appointment,
            instruments=[item.value for item in instruments_for_conditions(due.patient.conditions)],
            questionnaire_context=due.context,
            extra_context={"context": due.context, **due.extra},
        )


def followups_enqueue_due(now: datetime | None = None) -> int:
    """The daily task: queue every questionnaire that is due; returns how many messages were
    new. Each is queued in its own transaction, so one that fails (logged by key, which holds
    opaque ids only) does not hold up the others; the next run tries it again."""
    created = 0
    for due in followups_due(now):
        try:
            created += len(followup_enqueue(due))
        except Exception:
            logger.exception("Could not queue follow-up %s", due.key)
    return created


# --- Answers through a link ---------------------------------------------------------------


def link_instruments(link: PatientLink) -> list[Instrument]:
    """The questionnaires a link asks, in order; those for the patient's conditions when the
    link does not name them."""
    if link.instruments:
        known = {member.value for member in Instrument}
        return [Instrument(value) for value in link.instruments if value in known]
    return instruments_for_conditions(link.patient.conditions)


def _lock(link: PatientLink) -> PatientLink:
    # Again under a row lock, through the one access function for links: two tabs sending
    # at once cannot both succeed. Raises LinkError.
    return link_for_token(link_token(link), PatientLink.Purpose(link.purpose), for_update=True)


@dataclass(frozen=True)
class Submitted:
    responses: list[QuestionnaireResponse]
    alerts: list[SafetyAlert]

    @property
    def needs_crisis_resources(self) -> bool:
        return bool(self.alerts)


@transaction.atomic
def questionnaire_link_submit(
    *,
    link: PatientLink,
    answers: Mapping[str, Mapping[str, int]],
    request: HttpRequest | None = None,
) -> Submitted:
    """Keep the answers to every questionnaire the link asks, scored, and use the link up.

    ``answers`` maps instrument ("phq9") to its answers. All or nothing: any missing or
    out-of-range answer raises ValidationError keyed "<instrument>-<item>" (e.g.
    "phq9-q9"), and nothing is stored. A PHQ-9 with question 9 above 0 raises a safety
    alert and queues the on-call email in this same transaction (``questionnaire_record``).
    Raises LinkError when the link can no longer be used.
    """
    locked = _lock(link)
    instruments = link_instruments(locked)
    errors: dict[str, list[str]] = {}
    for instrument in instruments:
        try:
            score(instrument, answers.get(instrument.value) or {})
        except QuestionnaireError as exc:
            for key, message in exc.errors.items():
                errors[f"{instrument.value}-{key}"] = [message]
    if errors:
        raise ValidationError(errors)
    context = locked.questionnaire_context or Context.FOLLOW_UP
    responses = [
        questionnaire_record(
            actor=None,
            patient=locked.patient,
            instrument=instrument,
            answers=dict(answers[instrument.value]),
            context=context,
            via_link=locked,
            request=request,
        )
        for instrument in instruments
    ]
    link_mark_used(locked)
    alerts = list(
        SafetyAlert.objects.filter(questionnaire__in=[response.pk for response in responses])
    )
    return Submitted(responses=responses, alerts=alerts)


# The side effects a patient can tell at home (blood pressure and heart rate are measured).
CHECKIN_SIDE_EFFECTS_LEFT_OUT = frozenset({"raised_bp", "raised_hr", "other"})
SIDE_EFFECTS_OTHER_MAX_LENGTH = CheckIn._meta.get_field("side_effects_other").max_length


# How the check-in asks a patient about them, in everyday words (staff pages keep the
# clinical names of ``SideEffect``).
CHECKIN_SIDE_EFFECT_WORDS = {
    "nausea": "Feeling sick (nausea)",
    "vomiting": "Being sick (vomiting)",
    "dizziness": "Dizziness",
    "headache": "Headache",
    "vision": "Blurred or double vision",
    "anxiety": "Feeling anxious, low or uneasy",
    "hallucinations": "Seeing or hearing things that were not there",
    "sedation": "Very sleepy, or hard to wake up",
}


def checkin_side_effect_choices() -> list[tuple[str, str]]:
    return [
        (value, CHECKIN_SIDE_EFFECT_WORDS.get(value, label))
        for value, label in SideEffect.choices
        if value not in CHECKIN_SIDE_EFFECTS_LEFT_OUT
    ]


@dataclass(frozen=True)
class CheckInSummary:
    """A check-in as the chart lists it: the answers in words."""

    check_in: CheckIn
    side_effects: list[str]


def recent_check_ins(patient: Patient, limit: int = 10) -> list[CheckInSummary]:
    """The patient's latest next-day check-ins, newest first, side effects by label. One
    query."""
    labels = dict(SideEffect.choices)
    return [
        CheckInSummary(
            check_in=check_in,
            side_effects=[str(labels.get(value, value)) for value in check_in.side_effects]
            + ([check_in.side_effects_other] if check_in.side_effects_other else []),
        )
        for check_in in patient.check_ins.order_by("-completed_at", "-id")[:limit]
    ]


@transaction.atomic
def checkin_submit(
    *,
    link: PatientLink,
    wellbeing: int | None,
    side_effects: Iterable[str] = (),
    side_effects_other: str = "",
    self_harm_thoughts: bool | None,
    request: HttpRequest | None = None,
) -> tuple[CheckIn, SafetyAlert | None]:
    """Keep the patient's next-day check-in and use the link up.

    Refuses (ValidationError keyed by field, nothing stored) a missing answer to "how are
    you" or to the question about thoughts of self-harm, and side effects not on the list.
    A "yes" to that question raises a safety alert and queues the on-call email in this
    same transaction. Raises LinkError when the link can no longer be used.
    """
    locked = _lock(link)
    errors: dict[str, list[str]] = {}
    if wellbeing not in CheckIn.Wellbeing.values or isinstance(wellbeing, bool):
        errors["wellbeing"] = ["Choose how you are feeling today, from very bad to very good."]
    chosen = list(dict.fromkeys(side_effects))
    allowed = {value for value, _ in checkin_side_effect_choices()}
    if set(chosen) - allowed:
        errors["side_effects"] = ["Choose side effects from the list, or describe them below."]
    other = (side_effects_other or "").strip()
    if len(other) > SIDE_EFFECTS_OTHER_MAX_LENGTH:
        errors["side_effects_other"] = [
            f"Keep it to {SIDE_EFFECTS_OTHER_MAX_LENGTH} characters; the clinic will ask you "
            "about the rest."
        ]
    if not isinstance(self_harm_thoughts, bool):
        errors["self_harm_thoughts"] = ["Answer yes or no: it helps us look after you."]
    if errors:
        raise ValidationError(errors)
    check_in = CheckIn.objects.create(
        patient=locked.patient,
        appointment=locked.appointment,
        via_link=locked,
        wellbeing=wellbeing,
        side_effects=chosen,
        side_effects_other=other,
        self_harm_thoughts=self_harm_thoughts,
    )
    audit_record(
        actor=None,
        action=Action.CREATE,
        target=check_in,
        summary=f"recorded a next-day check-in for patient {locked.patient.public_id}",
        request=request,
    )
    alert = None
    if self_harm_thoughts:
        alert = safety_alert_raise(
            patient=locked.patient,
            source=SafetyAlert.Source.CHECK_IN,
            check_in=check_in,
            appointment=locked.appointment,
            request=request,
        )
    link_mark_used(locked)
    return check_in, alert
