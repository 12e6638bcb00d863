"""Whether the checks before an infusion (``PreAssessment``) are complete.

``pre_assessment_problems`` is the one list of what stops the session passing;
``pre_assessment_checklist`` shows the same checks (and consent, screening and the
pre-session questionnaire, which are decided elsewhere or do not block) as a checklist.
Recording the checks is ``infusions.preassessment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from infusions.models import InfusionSession, PreAssessment
from infusions.models.preassessment import BloodPressureStatus, PregnancyStatus
from infusions.models.rems import ESKETAMINE_NO_DRINK_MINUTES, ESKETAMINE_NO_FOOD_MINUTES
from infusions.models.sessions import InfusionSessionState
from patients.models import Patient, QuestionnaireResponse, SexAtBirth
from patients.questionnaires import Instrument, definition_for, instruments_for_conditions

State = InfusionSessionState

# Pregnancy answers that stop the infusion.
PREGNANT = frozenset({PregnancyStatus.PREGNANT, PregnancyStatus.TEST_POSITIVE})
# The states of a session whose infusion started (and was let start only with consent and
# screening current).
STARTED_STATES = frozenset(
    {
        InfusionSessionState.INFUSING,
        InfusionSessionState.PAUSED,
        InfusionSessionState.RECOVERING,
        InfusionSessionState.DISCHARGED,
        InfusionSessionState.STOPPED_EARLY,
    }
)


# --- Reads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckItem:
    """One line of the checklist: ``done``, or what to do (``todo``).

    ``blocks`` is False for what is shown but does not stop the session passing here
    (consent and screening are checked by ``infusions.sessions``; the questionnaire is
    asked for but not required)."""

    key: str
    label: str
    done: bool
    detail: str = ""
    todo: str = ""
    blocks: bool = True


# For ``assessment=``: the checks are read from the database now (the default).
READ_NOW: Any = object()


def pre_assessment_problems(
    session: InfusionSession, *, assessment: PreAssessment | None = READ_NOW
) -> list[str]:
    """What is still missing or wrong before ``session`` may pass its pre-assessment, each
    as a sentence saying what to do; empty when it may pass. ``assessment``: the session's
    checks, when the caller has just read them (a page that shows them too)."""
    if assessment is READ_NOW:
        assessment = _assessment_or_none(session)
    if assessment is None:
        return ["Record the pre-infusion checks first."]
    return [item.todo for item in _assessment_items(session, assessment) if not item.done]


def pre_assessment_checklist(
    session: InfusionSession,
    *,
    assessment: PreAssessment | None = READ_NOW,
    questionnaires: list[PreSessionQuestionnaire] | None = None,
) -> list[CheckItem]:
    """Every pre-infusion check for the session screen, in the order a nurse works;
    ``assessment`` as for ``pre_assessment_problems``; ``questionnaires`` from
    ``pre_session_questionnaires`` when the caller has them already."""
    if assessment is READ_NOW:
        assessment = _assessment_or_none(session)
    from patients.services.consent import infusion_start_allowed
    from patients.services.screening import course_scheduling_allowed

    patient = session.appointment.patient
    if session.state in STARTED_STATES:
        # The start was refused without both (``sessions.GATED_STATES``): what the list
        # says of a started session is how it was then, not whether a consent signed a
        # year ago is still current today (and two reads fewer on every refresh).
        started = "the dose was given" if session.is_esketamine else "the infusion started"
        consented, consent_text = True, f"Checked when {started}."
        approved, screening_text = True, f"Checked when {started}."
    else:
        consented, consent_text = infusion_start_allowed(patient)
        approved, screening_text = course_scheduling_allowed(patient)
    items = [
        CheckItem(
            "consent",
            "Current consent signed",
            consented,
            detail=consent_text if consented else "",
            todo="" if consented else consent_text,
            blocks=False,
        ),
        CheckItem(
            "screening",
            "Screening approved and current",
            approved,
            detail=screening_text if approved else "",
            todo="" if approved else screening_text,
            blocks=False,
        ),
    ]
    items.extend(_assessment_items(session, assessment or PreAssessment(session=session)))
    if questionnaires is None:
        questionnaires = pre_session_questionnaires(session)
    missing = [q.short_name for q in questionnaires if q.response is None]
    items.append(
        CheckItem(
            "questionnaire",
            "Pre-session questionnaire",
            not missing,
            detail="Completed before this infusion: "
            + ", ".join(
                f"{q.short_name} {q.response.total} "
                f"({q.response.completed_at.astimezone(session.appointment.location.tz):%a %H:%M})"
                for q in questionnaires
                if q.response
            )
            if not missing
            else "",
            todo=f"Ask the patient to complete: {', '.join(missing)} (does not stop the infusion)."
            if missing
            else "",
            blocks=False,
        )
    )
    return items


@dataclass(frozen=True)
class PreSessionQuestionnaire:
    """A questionnaire that fits the patient's conditions, and the answers that count for this
    infusion, if any."""

    instrument: Instrument
    short_name: str
    title: str
    response: QuestionnaireResponse | None


def pre_session_questionnaires(session: InfusionSession) -> list[PreSessionQuestionnaire]:
    """The questionnaires that fit the patient's conditions (as on the chart), each with
    the latest one that counts for this infusion, if any (one query)."""
    patient = session.appointment.patient
    todays = {}
    for response in questionnaires_before_infusion(session):
        todays.setdefault(response.instrument, response)
    result = []
    for instrument in instruments_for_conditions(patient.conditions):
        definition = definition_for(instrument)
        result.append(
            PreSessionQuestionnaire(
                instrument=instrument,
                short_name=definition.short_name,
                title=definition.title,
                response=todays.get(instrument.value),
            )
        )
    return result


def questionnaires_before_infusion(
    session: InfusionSession, now: datetime | None = None
) -> list[QuestionnaireResponse]:
    """The patient's questionnaires that count for this infusion (newest first): completed
    within ``PRE_INFUSION_QUESTIONNAIRE_HOURS`` before the appointment's start, and not
    after now (one taken at the chair after the start counts too)."""
    now = now or timezone.now()
    hours = timedelta(hours=settings.PRE_INFUSION_QUESTIONNAIRE_HOURS)
    return list(
        QuestionnaireResponse.objects.filter(
            patient=session.appointment.patient,
            completed_at__gte=session.appointment.starts_at - hours,
            completed_at__lte=now,
        ).order_by("-completed_at", "-id")
    )


def pregnancy_not_applicable(patient: Patient) -> bool:
    """Whether the patient cannot become pregnant by their sex at birth."""
    return patient.sex_at_birth == SexAtBirth.MALE


def weighed_today(assessment: PreAssessment | None, session: InfusionSession) -> bool:
    """Whether the assessment holds a weight taken today at the session's location."""
    if assessment is None or assessment.weight_kg is None or assessment.weighed_at is None:
        return False
    tz = session.appointment.location.tz
    return local_day(assessment.weighed_at, tz) == local_day(timezone.now(), tz)


# --- Helpers ---------------------------------------------------------------------------------


def _assessment_items(session: InfusionSession, assessment: PreAssessment) -> list[CheckItem]:
    """The checks that decide whether the session may pass (all ``blocks``)."""
    tz = session.appointment.location.tz
    now = timezone.now()
    patient = session.appointment.patient
    items = []

    items.append(
        CheckItem(
            "identity",
            "Identity confirmed",
            assessment.identity_confirmed,
            todo="Confirm the patient's identity (name and date of birth).",
        )
    )

    if assessment.weight_kg is None or assessment.weighed_at is None:
        items.append(
            CheckItem(
                "weight", "Weight today", False, todo="Weigh the patient and record today's weight."
            )
        )
    elif not weighed_today(assessment, session):
        items.append(
            CheckItem(
                "weight",
                "Weight today",
                False,
                todo="The weight is not from today: weigh the patient again.",
            )
        )
    else:
        weighed = assessment.weighed_at.astimezone(tz)
        items.append(
            CheckItem(
                "weight",
                "Weight today",
                True,
                detail=f"{assessment.weight_kg} kg at {weighed:%H:%M}",
            )
        )

    status = assessment.pregnancy_status
    if status in PREGNANT:
        items.append(
            CheckItem(
                "pregnancy",
                "Pregnancy status",
                False,
                detail=PregnancyStatus(status).label,
                todo="The patient may be pregnant: there is no infusion today.",
            )
        )
    elif status:
        items.append(
            CheckItem("pregnancy", "Pregnancy status", True, PregnancyStatus(status).label)
        )
    elif pregnancy_not_applicable(patient):
        items.append(
            CheckItem("pregnancy", "Pregnancy status", True, "Not applicable (male at birth)")
        )
    else:
        items.append(
            CheckItem(
                "pregnancy",
                "Pregnancy status",
                False,
                todo="Record the pregnancy status (or that it does not apply).",
            )
        )

    escort_ok = assessment.escort_confirmed and bool(assessment.escort_name.strip())
    items.append(
        CheckItem(
            "escort",
            "Escort home confirmed",
            escort_ok,
            detail=assessment.escort_name if escort_ok else "",
            todo="Confirm the adult escort who will take the patient home.",
        )
    )

    fasting_hours = settings.PRE_INFUSION_FASTING_HOURS
    if session.is_esketamine:
        # The Spravato label's advice, whatever the clinic asks before an IV infusion.
        fasting_minutes = ESKETAMINE_NO_FOOD_MINUTES
        fasting_text = hours_text(fasting_minutes)
        label = (
            f"No food for {fasting_text} before the dose, and nothing to drink in the last "
            f"{ESKETAMINE_NO_DRINK_MINUTES} minutes"
        )
        ask = "Ask when the patient last ate."
        ate = "ate"
    else:
        fasting_minutes = fasting_hours * 60
        fasting_text = f"{fasting_hours} hours"
        label = f"Nothing to eat or drink (but water) for {fasting_hours} hours"
        ask = "Ask when the patient last ate or drank (other than water)."
        ate = "ate or drank"
    if fasting_minutes:
        if assessment.last_ate_at is None:
            items.append(CheckItem("fasting", label, False, todo=ask))
        else:
            ready_at = assessment.last_ate_at + timedelta(minutes=fasting_minutes)
            last = assessment.last_ate_at.astimezone(tz)
            if now < ready_at:
                items.append(
                    CheckItem(
                        "fasting",
                        label,
                        False,
                        detail=f"Last ate at {last:%H:%M}",
                        todo=f"The patient {ate} less than {fasting_text} ago: "
                        f"wait until {ready_at.astimezone(tz):%H:%M}, or rebook.",
                    )
                )
            else:
                items.append(CheckItem("fasting", label, True, f"Last ate at {last:%H:%M}"))

    label = "Pre-infusion vital signs"
    if assessment.vitals_id is None:
        items.append(CheckItem("vitals", label, False, todo="Take the pre-infusion vital signs."))
    elif assessment.bp_status == BloodPressureStatus.HOLD:
        items.append(
            CheckItem(
                "vitals",
                label,
                False,
                detail=_bp_text(assessment),
                todo="The blood pressure is at or above the hold limit: no infusion today.",
            )
        )
    elif (
        assessment.bp_status == BloodPressureStatus.CAUTION
        and assessment.caution_acknowledged_by_id is None
    ):
        items.append(
            CheckItem(
                "vitals",
                label,
                False,
                detail=_bp_text(assessment),
                todo="The blood pressure is at or above the caution limit: a physician must "
                "acknowledge it.",
            )
        )
    else:
        detail = _bp_text(assessment)
        if assessment.bp_status == BloodPressureStatus.CAUTION:
            detail += f"; caution acknowledged by {assessment.caution_acknowledged_by}"
        items.append(CheckItem("vitals", label, True, detail))
    return items


def _bp_text(assessment: PreAssessment) -> str:
    reading = assessment.vitals
    if reading is None:
        return ""
    return f"BP {reading.systolic}/{reading.diastolic}, HR {reading.heart_rate}"


def _assessment_or_none(session: InfusionSession) -> PreAssessment | None:
    """The session's checks as saved now (one query; never a stale cached copy)."""
    return (
        PreAssessment.objects.filter(session=session)
        .select_related("vitals", "caution_acknowledged_by")
        .first()
    )


def local_day(moment: datetime, tz: Any) -> date:
    return moment.astimezone(tz).date()


def hours_text(minutes: int) -> str:
    """120 -> "2 hours", 90 -> "90 minutes"."""
    hours, rest = divmod(minutes, 60)
    if rest:
        return f"{minutes} minutes"
    return f"{hours} hour{'s' if hours != 1 else ''}"
