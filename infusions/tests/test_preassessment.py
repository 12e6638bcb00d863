"""Pre-infusion checks: recording them (partly, then fully), every rule at its boundary,
the pre-infusion vital signs against the caution and hold limits, a physician's
acknowledgement, the pre-session questionnaire, and who may do what. A refusal saves
nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from clinic.models import AuditEvent
from infusions import dosing, vitals
from infusions.models import PreAssessment, VitalsReading
from infusions.models.preassessment import BloodPressureStatus, PregnancyStatus
from infusions.models.readings import VitalsPhase
from infusions.models.sessions import InfusionSessionState
from infusions.preassessment import (
    pre_assessment_acknowledge_caution,
    pre_assessment_record,
    pre_assessment_vitals,
)
from infusions.preassessment_checklist import (
    pre_assessment_checklist,
    pre_assessment_problems,
    pre_session_questionnaires,
)
from infusions.readings import ReadingInput
from infusions.sessions import session_transition
from infusions.tests.factories import complete_pre_assessment, infusion_session
from infusions.tests.test_flowsheet import session_in
from patients.models import QuestionnaireResponse, SexAtBirth
from patients.questionnaires import Instrument
from patients.tests.factories import PatientFactory, QuestionnaireResponseFactory

S = InfusionSessionState
LIMITS = dosing.limits_from_settings()
BP = vitals.caution_hold_from_settings()
TENTH = Decimal("0.1")


def normal(**values) -> ReadingInput:
    """A full, normal reading (120/80) unless ``values`` say else."""
    return ReadingInput(
        **(
            {
                "systolic": 120,
                "diastolic": 80,
                "heart_rate": 72,
                "spo2": 98,
                "respiratory_rate": 14,
                "consciousness": 1,
            }
            | values
        )
    )


def everything(**fields) -> dict:
    """Every check recorded and fine (the vital signs apart)."""
    return {
        "identity_confirmed": True,
        "weight_kg": "80.0",
        "pregnancy_status": PregnancyStatus.NOT_PREGNANT,
        "escort_confirmed": True,
        "escort_name": "Sam Escort",
        "escort_phone": "+13125550100",
        "last_ate_at": timezone.now() - timedelta(hours=12),
        "notes": "",
    } | fields


def errors(error: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return " ".join(error.value.message_dict[field])


@pytest.fixture
def session(nina, phil):
    session = infusion_session(nina, phil)
    return session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)


# --- Recording the checks ------------------------------------------------------------------------


def test_it_saves_part_of_the_checks_and_says_what_is_left(nina, session):
    assessment = pre_assessment_record(actor=nina, session=session, identity_confirmed=True)

    assessment.refresh_from_db()
    assert assessment.identity_confirmed is True
    assert assessment.weight_kg is None
    assert assessment.recorded_by == nina
    problems = pre_assessment_problems(session)
    assert "Confirm the patient's identity (name and date of birth)." not in problems
    assert "Weigh the patient and record today's weight." in problems
    assert "Take the pre-infusion vital signs." in problems


def test_a_later_save_leaves_what_it_does_not_name(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything())

    pre_assessment_record(actor=nina, session=session, escort_name="Alex Escort")

    assessment = PreAssessment.objects.get(session=session)
    assert assessment.escort_name == "Alex Escort"
    assert assessment.identity_confirmed is True
    assert assessment.weight_kg == Decimal("80.0")


def test_every_check_done_with_normal_vitals_lets_the_session_pass(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything())
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert pre_assessment_problems(session) == []
    moved = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    assert moved.state == S.PRE_ASSESSMENT_PASSED


def test_the_factory_checks_pass(nina, session):
    complete_pre_assessment(session, nina)

    assert pre_assessment_problems(session) == []


def test_it_audits_the_checks_by_public_id_only(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything())

    event = AuditEvent.objects.filter(object_id=str(session.public_id)).latest("id")
    patient = session.appointment.patient
    assert str(patient.public_id) in event.summary
    assert patient.legal_last_name not in event.summary
    assert "80.0" not in event.summary
    assert "kg" not in event.summary


# --- Weight --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weight,allowed",
    [
        (LIMITS.min_weight_kg - TENTH, False),
        (LIMITS.min_weight_kg, True),
        (LIMITS.max_weight_kg, True),
        (LIMITS.max_weight_kg + TENTH, False),
    ],
)
def test_the_weight_must_be_within_the_clinics_limits(nina, session, weight, allowed):
    if allowed:
        assessment = pre_assessment_record(actor=nina, session=session, weight_kg=str(weight))
        assessment.refresh_from_db()
        assert assessment.weight_kg == weight
        assert timezone.now() - assessment.weighed_at < timedelta(seconds=5)
        return
    with pytest.raises(ValidationError) as error:
        pre_assessment_record(
            actor=nina, session=session, identity_confirmed=True, weight_kg=str(weight)
        )

    assert "is outside" in errors(error, "weight_kg")
    assert "not pounds" in errors(error, "weight_kg")
    assert not PreAssessment.objects.exists()


@pytest.mark.parametrize("weight", ["72.55", "heavy", "NaN", "Infinity"])
def test_it_refuses_a_weight_that_is_not_a_tenth_of_a_kg(nina, session, weight):
    with pytest.raises(ValidationError) as error:
        pre_assessment_record(actor=nina, session=session, weight_kg=weight)

    assert "weight" in errors(error, "weight_kg").lower()
    assert not PreAssessment.objects.exists()


def test_the_same_weight_again_keeps_when_it_was_taken(nina, session):
    first = pre_assessment_record(actor=nina, session=session, weight_kg="80.0")
    weighed_at = first.weighed_at

    again = pre_assessment_record(actor=nina, session=session, weight_kg=Decimal("80"))
    changed = pre_assessment_record(actor=nina, session=session, weight_kg="81.2")

    assert again.weighed_at == weighed_at
    assert changed.weighed_at > weighed_at


def test_the_weight_at_the_chair_becomes_the_patients_weight(nina, session):
    patient = session.appointment.patient

    pre_assessment_record(actor=nina, session=session, weight_kg="82.4")
    patient.refresh_from_db()

    assert patient.weight_kg == Decimal("82.4")
    assert AuditEvent.objects.filter(
        action="update", object_id=str(patient.public_id), summary__contains="weight"
    ).exists()


def test_a_weight_from_yesterday_is_not_todays(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything())
    pre_assessment_vitals(actor=nina, session=session, values=normal())
    tz = session.appointment.location.tz
    yesterday = timezone.now().astimezone(tz).replace(hour=12) - timedelta(days=1)
    PreAssessment.objects.filter(session=session).update(weighed_at=yesterday)

    assert pre_assessment_problems(session) == [
        "The weight is not from today: weigh the patient again."
    ]


# --- Pregnancy -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sex,status,blocks",
    [
        (SexAtBirth.FEMALE, "", True),
        (SexAtBirth.INTERSEX, "", True),
        (SexAtBirth.MALE, "", False),
        (SexAtBirth.FEMALE, PregnancyStatus.NOT_APPLICABLE, False),
        (SexAtBirth.FEMALE, PregnancyStatus.NOT_PREGNANT, False),
        (SexAtBirth.FEMALE, PregnancyStatus.TEST_NEGATIVE, False),
        (SexAtBirth.FEMALE, PregnancyStatus.TEST_POSITIVE, True),
        (SexAtBirth.FEMALE, PregnancyStatus.PREGNANT, True),
        (SexAtBirth.MALE, PregnancyStatus.NOT_APPLICABLE, False),
    ],
)
def test_pregnancy_status_is_needed_unless_male_at_birth(nina, phil, sex, status, blocks):
    patient = PatientFactory(sex_at_birth=sex)
    session = infusion_session(nina, phil, patient=patient)
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    pre_assessment_record(actor=nina, session=session, **everything(pregnancy_status=status))
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    problems = pre_assessment_problems(session)

    assert bool(problems) == blocks
    if status in (PregnancyStatus.TEST_POSITIVE, PregnancyStatus.PREGNANT):
        assert problems == ["The patient may be pregnant: there is no infusion today."]


def test_it_refuses_a_pregnancy_status_that_does_not_exist(nina, session):
    with pytest.raises(ValidationError) as error:
        pre_assessment_record(actor=nina, session=session, pregnancy_status="maybe")

    assert "Choose the pregnancy status" in errors(error, "pregnancy_status")
    assert not PreAssessment.objects.exists()


# --- Escort --------------------------------------------------------------------------------------


@pytest.mark.parametrize("confirmed,name", [(False, "Sam"), (True, ""), (True, "   ")])
def test_the_escort_needs_confirming_and_naming(nina, session, confirmed, name):
    pre_assessment_record(
        actor=nina, session=session, **everything(escort_confirmed=confirmed, escort_name=name)
    )
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert pre_assessment_problems(session) == [
        "Confirm the adult escort who will take the patient home."
    ]


def test_it_refuses_an_escort_phone_too_long_to_keep(nina, session):
    with pytest.raises(ValidationError) as error:
        pre_assessment_record(actor=nina, session=session, escort_phone="1" * 21)

    assert "at most 20 characters" in errors(error, "escort_phone")


# --- Fasting -------------------------------------------------------------------------------------


def _fasted_for(nina, session, hours: timedelta) -> list[str]:
    pre_assessment_record(
        actor=nina, session=session, **everything(last_ate_at=timezone.now() - hours)
    )
    pre_assessment_vitals(actor=nina, session=session, values=normal())
    return pre_assessment_problems(session)


def test_fasting_exactly_the_hours_asked_is_enough(nina, session):
    hours = settings.PRE_INFUSION_FASTING_HOURS
    assert hours > 0

    assert _fasted_for(nina, session, timedelta(hours=hours)) == []


def test_fasting_a_minute_short_is_not(nina, session):
    hours = settings.PRE_INFUSION_FASTING_HOURS

    problems = _fasted_for(nina, session, timedelta(hours=hours) - timedelta(minutes=1))

    assert len(problems) == 1
    assert f"less than {hours} hours ago" in problems[0]


def test_a_last_meal_is_asked_for_when_the_clinic_needs_fasting(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything(last_ate_at=None))
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert pre_assessment_problems(session) == [
        "Ask when the patient last ate or drank (other than water)."
    ]


@override_settings(PRE_INFUSION_FASTING_HOURS=0)
def test_no_fasting_rule_when_the_setting_is_zero(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything(last_ate_at=None))
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert pre_assessment_problems(session) == []
    assert "fasting" not in [item.key for item in pre_assessment_checklist(session)]


def test_it_refuses_a_last_meal_in_the_future(nina, session):
    with pytest.raises(ValidationError) as error:
        pre_assessment_record(
            actor=nina, session=session, last_ate_at=timezone.now() + timedelta(hours=1)
        )

    assert "in the future" in errors(error, "last_ate_at")
    assert not PreAssessment.objects.exists()


# --- Pre-infusion vital signs --------------------------------------------------------------------


@pytest.mark.parametrize(
    "systolic,diastolic,status",
    [
        (BP.caution_systolic - 1, 80, BloodPressureStatus.OK),
        (BP.caution_systolic, 80, BloodPressureStatus.CAUTION),
        (BP.hold_systolic - 1, 80, BloodPressureStatus.CAUTION),
        (BP.hold_systolic, 80, BloodPressureStatus.HOLD),
        (BP.caution_systolic - 1, BP.caution_diastolic - 1, BloodPressureStatus.OK),
        (BP.caution_systolic - 1, BP.caution_diastolic, BloodPressureStatus.CAUTION),
        (BP.caution_systolic - 1, BP.hold_diastolic - 1, BloodPressureStatus.CAUTION),
        (BP.caution_systolic - 1, BP.hold_diastolic, BloodPressureStatus.HOLD),
    ],
)
def test_the_pre_infusion_blood_pressure_is_judged_at_its_limits(
    nina, session, systolic, diastolic, status
):
    assessment = pre_assessment_vitals(
        actor=nina, session=session, values=normal(systolic=systolic, diastolic=diastolic)
    )

    assessment.refresh_from_db()
    assert assessment.bp_status == status
    reading = assessment.vitals
    assert (reading.phase, reading.systolic, reading.diastolic) == (
        VitalsPhase.PRE,
        systolic,
        diastolic,
    )
    assert reading.session == session


def test_a_hold_means_no_infusion_today(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything())
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.hold_systolic))

    assert pre_assessment_problems(session) == [
        "The blood pressure is at or above the hold limit: no infusion today."
    ]
    with pytest.raises(ValidationError):
        session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    stopped = session_transition(
        actor=nina, session=session, to_state=S.NOT_STARTED, reason="BP on hold"
    )
    assert stopped.state == S.NOT_STARTED


def test_it_refuses_impossible_vitals_and_saves_nothing(nina, session):
    with pytest.raises(ValidationError) as error:
        pre_assessment_vitals(actor=nina, session=session, values=normal(diastolic=130))

    assert "must be below the systolic" in errors(error, "diastolic")
    assert not VitalsReading.objects.exists()
    assert not PreAssessment.objects.exists()


def test_it_refuses_vitals_without_a_blood_pressure(nina, session):
    with pytest.raises(ValidationError):
        pre_assessment_vitals(
            actor=nina, session=session, values=normal(systolic=None, diastolic=None)
        )

    assert not VitalsReading.objects.exists()


# --- A physician's acknowledgement of a caution ---------------------------------------------------


@pytest.fixture
def caution(nina, session):
    pre_assessment_record(actor=nina, session=session, **everything())
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.caution_systolic))
    return session


def test_a_caution_needs_a_physicians_acknowledgement(phil, nina, caution):
    assert pre_assessment_problems(caution) == [
        "The blood pressure is at or above the caution limit: a physician must acknowledge it."
    ]

    pre_assessment_acknowledge_caution(actor=phil, session=caution, note="Usual for her; calm.")

    assessment = PreAssessment.objects.get(session=caution)
    assert assessment.caution_acknowledged_by == phil
    assert assessment.caution_note == "Usual for her; calm."
    assert pre_assessment_problems(caution) == []


@pytest.mark.parametrize("persona", ["nina", "fran", "alice"])
def test_only_a_physician_may_acknowledge_a_caution(request, caution, persona):
    with pytest.raises(PermissionDenied):
        pre_assessment_acknowledge_caution(
            actor=request.getfixturevalue(persona), session=caution, note="Fine."
        )

    assert PreAssessment.objects.get(session=caution).caution_acknowledged_by is None


@pytest.mark.parametrize("note", ["", "   "])
def test_the_acknowledgement_needs_a_note(phil, caution, note):
    with pytest.raises(ValidationError) as error:
        pre_assessment_acknowledge_caution(actor=phil, session=caution, note=note)

    assert "Say why" in errors(error, "note")
    assert PreAssessment.objects.get(session=caution).caution_acknowledged_by is None


@pytest.mark.parametrize(
    "systolic,message",
    [(BP.caution_systolic - 1, "no caution to acknowledge"), (BP.hold_systolic, "hold limit")],
)
def test_there_is_nothing_to_acknowledge_without_a_caution(nina, phil, session, systolic, message):
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=systolic))

    with pytest.raises(ValidationError) as error:
        pre_assessment_acknowledge_caution(actor=phil, session=session, note="Fine.")

    assert message in errors(error, "note")
    assert PreAssessment.objects.get(session=session).caution_acknowledged_by is None


def test_a_new_reading_needs_a_new_acknowledgement(nina, phil, caution):
    pre_assessment_acknowledge_caution(actor=phil, session=caution, note="Fine.")

    pre_assessment_vitals(actor=nina, session=caution, values=normal(systolic=BP.caution_systolic))

    assessment = PreAssessment.objects.get(session=caution)
    assert assessment.caution_acknowledged_by is None
    assert VitalsReading.objects.filter(session=caution).count() == 2
    assert len(pre_assessment_problems(caution)) == 1


def test_it_is_acknowledged_once(phil, caution):
    pre_assessment_acknowledge_caution(actor=phil, session=caution, note="Fine.")

    with pytest.raises(ValidationError) as error:
        pre_assessment_acknowledge_caution(actor=phil, session=caution, note="Again.")

    assert "acknowledged it already" in errors(error, "note")
    assert PreAssessment.objects.get(session=caution).caution_note == "Fine."


# --- When the checks may change -------------------------------------------------------------------


def test_it_refuses_checks_before_check_in(nina, phil):
    session = infusion_session(nina, phil)

    with pytest.raises(ValidationError) as error:
        pre_assessment_record(actor=nina, session=session, identity_confirmed=True)

    assert "Check the patient in first" in errors(error, "session")
    assert not PreAssessment.objects.exists()


def test_the_checks_are_frozen_once_passed(nina, session):
    complete_pre_assessment(session, nina)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)

    with pytest.raises(ValidationError) as error:
        pre_assessment_record(actor=nina, session=session, weight_kg="95.0")
    with pytest.raises(ValidationError):
        pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert "checks are final" in errors(error, "session")
    assert PreAssessment.objects.get(session=session).weight_kg == Decimal("80.0")


def test_the_checks_are_closed_once_the_session_ended(nina, session):
    session = session_transition(
        actor=nina, session=session, to_state=S.NOT_STARTED, reason="Went home unwell."
    )

    with pytest.raises(ValidationError) as error:
        pre_assessment_record(actor=nina, session=session, identity_confirmed=True)

    assert "not started" in errors(error, "session")


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_only_nurses_and_physicians_record_the_checks(request, session, persona):
    someone = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        pre_assessment_record(actor=someone, session=session, identity_confirmed=True)
    with pytest.raises(PermissionDenied):
        pre_assessment_vitals(actor=someone, session=session, values=normal())

    assert not PreAssessment.objects.exists()
    assert not VitalsReading.objects.exists()


def test_a_physician_may_record_the_checks_too(phil, session):
    assert pre_assessment_record(actor=phil, session=session, identity_confirmed=True).pk


# --- The checklist and the pre-session questionnaire ---------------------------------------------


def test_the_checklist_shows_consent_and_screening_without_blocking_here(nina, session):
    complete_pre_assessment(session, nina)

    items = {item.key: item for item in pre_assessment_checklist(session)}

    assert items["consent"].done and not items["consent"].blocks
    assert items["screening"].done and not items["screening"].blocks
    assert "Approved by" in items["screening"].detail
    assert all(items[key].done for key in ("identity", "weight", "pregnancy", "escort", "vitals"))


def test_the_checklist_says_what_to_do_when_consent_is_missing(nina, session, monkeypatch):
    monkeypatch.setattr(
        "patients.services.consent.infusion_start_allowed",
        lambda patient: (False, "The patient has not signed the consent form (version 1)."),
    )

    items = {item.key: item for item in pre_assessment_checklist(session)}

    assert not items["consent"].done
    assert "has not signed" in items["consent"].todo


def test_a_started_sessions_checklist_says_how_consent_and_screening_were_then(
    nina, phil, monkeypatch
):
    started = session_in(nina, phil, InfusionSessionState.INFUSING)
    # Consent lapses later (a new version, an expiry): the started session's record says
    # what the start checked, not what today's check would say.
    monkeypatch.setattr(
        "patients.services.consent.infusion_start_allowed",
        lambda patient: (False, "The patient has not signed the consent form (version 2)."),
    )

    items = {item.key: item for item in pre_assessment_checklist(started)}

    assert items["consent"].done
    assert items["consent"].detail == "Checked when the infusion started."
    assert items["screening"].done


def test_the_questionnaires_fit_the_patients_conditions(nina, phil):
    patient = PatientFactory(conditions=["ptsd", "anxiety", "fibromyalgia"])
    session = infusion_session(nina, phil, patient=patient)

    instruments = [q.instrument for q in pre_session_questionnaires(session)]

    assert instruments == [Instrument.PHQ9, Instrument.GAD7, Instrument.PCL5, Instrument.PAIN_NRS]


def test_todays_questionnaires_are_shown_and_linked_to_the_checks(nina, session):
    patient = session.appointment.patient
    today = QuestionnaireResponseFactory(
        patient=patient, context=QuestionnaireResponse.Context.PRE_SESSION
    )
    QuestionnaireResponseFactory(
        patient=patient,
        context=QuestionnaireResponse.Context.FOLLOW_UP,
        completed_at=timezone.now() - timedelta(days=3),
    )
    questionnaire = next(
        item for item in pre_assessment_checklist(session) if item.key == "questionnaire"
    )

    assessment = pre_assessment_record(actor=nina, session=session, identity_confirmed=True)

    assert questionnaire.done and not questionnaire.blocks
    assert [q.response for q in pre_session_questionnaires(session)] == [today]
    assert list(assessment.questionnaires.all()) == [today]


def test_a_missing_questionnaire_does_not_stop_the_infusion(nina, session):
    complete_pre_assessment(session, nina)

    questionnaire = next(
        item for item in pre_assessment_checklist(session) if item.key == "questionnaire"
    )

    assert not questionnaire.done
    assert "PHQ-9" in questionnaire.todo
    assert pre_assessment_problems(session) == []
