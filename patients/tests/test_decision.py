"""The physician's decision: who may make it, what it needs, when it goes stale, and what
it allows."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic.models import AuditEvent
from patients.models import PatientStatus, ScreeningDecision, ScreeningOutcome
from patients.screening import RULESET_VERSION
from patients.services.intake import intake_submit
from patients.services.measurements import measurement_record
from patients.services.questionnaires import questionnaire_record
from patients.services.screening import (
    course_scheduling_allowed,
    decision_current,
    decision_is_stale,
    decision_record,
    screening_run,
)
from patients.tests.factories import (
    IntakeSubmissionFactory,
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
    ScreeningResultFactory,
)
from patients.tests.test_intake import complete_answers

APPROVE = ScreeningDecision.Decision.APPROVE
DEFER = ScreeningDecision.Decision.DEFER
DECLINE = ScreeningDecision.Decision.DECLINE
JUSTIFICATION = "Allergy was a rash to a different drug; confirmed with the allergist."


@pytest.fixture
def patient(db):
    return PatientFactory()


def baseline_phq9(patient):
    """A baseline PHQ-9 of zeros: with a complete intake and a measurement, no fact the rules
    ask for is left unrecorded (approving over one needs an acknowledgement)."""
    return QuestionnaireResponseFactory(patient=patient, answers={f"q{n}": 0 for n in range(1, 10)})


@pytest.fixture
def screened(patient, nina):
    IntakeSubmissionFactory(patient=patient, answers=complete_answers())
    MeasurementFactory(patient=patient)
    baseline_phq9(patient)
    return screening_run(patient=patient, actor=nina)


def decide(patient, screening, actor, decision=APPROVE, **kwargs):
    return decision_record(
        patient=patient,
        screening=screening,
        decision=decision,
        reason=kwargs.pop("reason", "Reviewed the findings with the patient."),
        actor=actor,
        **kwargs,
    )


# --- Who decides, and what a decision needs ----------------------------------------------


@pytest.mark.parametrize("persona", ["nina", "fran", "alice", "edie", "olga"])
def test_only_a_physician_can_decide(persona, request, patient, screened):
    with pytest.raises(PermissionDenied, match="Only a physician"):
        decide(patient, screened, request.getfixturevalue(persona))
    assert not ScreeningDecision.objects.exists()


def test_a_physician_approves_and_the_decision_records_who_when_and_on_what(
    patient, screened, phil
):
    decision = decide(patient, screened, phil)
    assert decision.decided_by == phil
    assert decision.screening == screened
    assert decision.ruleset_version == RULESET_VERSION
    assert decision.decided_at is not None
    patient.refresh_from_db()
    assert patient.status == PatientStatus.APPROVED


@pytest.mark.parametrize(
    ("choice", "status"),
    [(DEFER, PatientStatus.DEFERRED), (DECLINE, PatientStatus.DECLINED)],
)
def test_a_deferral_or_decline_sets_the_status(choice, status, patient, screened, phil):
    decide(patient, screened, phil, choice, needed="Blood pressure below 140/90.")
    patient.refresh_from_db()
    assert patient.status == status


def test_a_deferral_must_say_what_is_needed(patient, screened, phil):
    with pytest.raises(ValidationError) as caught:
        decide(patient, screened, phil, DEFER, needed="  ")
    assert list(caught.value.message_dict) == ["needed"]
    assert "what is needed" in caught.value.message_dict["needed"][0]
    assert not ScreeningDecision.objects.exists()


def test_every_decision_needs_a_reason(patient, screened, phil):
    with pytest.raises(ValidationError) as caught:
        decide(patient, screened, phil, DECLINE, reason="")
    assert list(caught.value.message_dict) == ["reason"]


def test_an_unknown_decision_is_refused(patient, screened, phil):
    with pytest.raises(ValidationError) as caught:
        decide(patient, screened, phil, "maybe")
    assert caught.value.message_dict == {"decision": ["Choose approve, defer or decline."]}


@pytest.fixture
def contraindicated(patient, nina):
    IntakeSubmissionFactory(patient=patient, answers=complete_answers(allergy_ketamine="yes"))
    MeasurementFactory(patient=patient)
    baseline_phq9(patient)
    result = screening_run(patient=patient, actor=nina)
    assert result.outcome == ScreeningOutcome.CONTRAINDICATED
    return result


def test_approving_over_a_contraindication_needs_a_written_justification(
    patient, contraindicated, phil
):
    for justification in ["", "Seems fine to me.", " " * 30]:
        with pytest.raises(ValidationError) as caught:
            decide(patient, contraindicated, phil, override_justification=justification)
        assert list(caught.value.message_dict) == ["override_justification"]
        assert "at least 20 characters" in caught.value.message_dict["override_justification"][0]
    assert not ScreeningDecision.objects.exists()


def test_a_justified_override_is_kept(patient, contraindicated, phil):
    decision = decide(patient, contraindicated, phil, override_justification=JUSTIFICATION)
    assert decision.override_justification == JUSTIFICATION


def test_declining_a_contraindicated_result_needs_no_justification(patient, contraindicated, phil):
    assert decide(patient, contraindicated, phil, DECLINE).decision == DECLINE


def test_a_decision_must_be_on_the_latest_result(patient, screened, nina, phil):
    screening_run(patient=patient, actor=nina)
    with pytest.raises(ValidationError, match="A newer screening result exists"):
        decide(patient, screened, phil)
    assert not ScreeningDecision.objects.exists()


def test_a_decision_cannot_use_another_patients_result(patient, screened, phil):
    other = PatientFactory()
    with pytest.raises(ValidationError, match="another patient"):
        decide(other, screened, phil)


def test_a_decision_is_audited(patient, screened, phil):
    decision = decide(patient, screened, phil)
    event = AuditEvent.objects.get(object_type="patients.screeningdecision")
    assert event.object_id == str(decision.public_id)
    assert event.actor == phil
    assert event.summary == f"recorded a screening decision for patient {patient.public_id}"


# --- Current and stale -------------------------------------------------------------------


def test_the_latest_decision_is_the_current_one(patient, screened, phil):
    assert decision_current(patient) is None
    decide(patient, screened, phil, DECLINE)
    approval = decide(patient, screened, phil)
    assert decision_current(patient) == approval


def test_a_decision_is_fresh_until_something_new_is_learned(patient, screened, phil):
    decision = decide(patient, screened, phil)
    assert decision_is_stale(decision) is False


def test_a_new_measurement_makes_the_decision_stale(patient, screened, nina, phil):
    decision = decide(patient, screened, phil)
    measurement_record(
        actor=nina, patient=patient, systolic=128, diastolic=82, heart_rate=72, spo2=98
    )
    assert decision_is_stale(decision) is True
    patient.refresh_from_db()
    assert patient.status == PatientStatus.AWAITING_DECISION


def test_a_new_intake_makes_the_decision_stale(patient, screened, nina, phil):
    decision = decide(patient, screened, phil)
    intake_submit(patient=patient, answers=complete_answers(), entered_by=nina)
    assert decision_is_stale(decision) is True


def test_a_new_baseline_phq9_makes_the_decision_stale(patient, screened, nina, phil):
    decision = decide(patient, screened, phil)
    questionnaire_record(
        actor=nina, patient=patient, instrument="phq9", answers={f"q{n}": 0 for n in range(1, 10)}
    )
    assert decision_is_stale(decision) is True


def test_a_measurement_not_yet_screened_also_makes_the_decision_stale(patient, screened, phil):
    decision = decide(patient, screened, phil)
    MeasurementFactory(patient=patient)  # written directly: no screening run
    assert decision_is_stale(decision) is True


def test_a_decision_on_a_result_that_was_never_the_latest_is_stale(patient, phil):
    older = ScreeningResultFactory(patient=patient)
    ScreeningResultFactory(patient=patient)
    decision = ScreeningDecision.objects.create(
        patient=patient, screening=older, ruleset_version="test", decision=APPROVE, decided_by=phil
    )
    assert decision_is_stale(decision) is True


# --- What a decision allows --------------------------------------------------------------


def test_no_course_without_a_decision(patient, screened):
    allowed, reason = course_scheduling_allowed(patient)
    assert allowed is False
    assert reason.startswith("No screening decision yet")


def test_a_course_can_be_scheduled_after_a_current_approval(patient, screened, phil):
    decide(patient, screened, phil)
    allowed, reason = course_scheduling_allowed(patient)
    assert allowed is True
    assert reason.startswith("Approved by Phil Physician on ")


@pytest.mark.parametrize("choice", [DEFER, DECLINE])
def test_no_course_after_a_deferral_or_decline(choice, patient, screened, phil):
    decide(patient, screened, phil, choice, needed="A cardiology letter.")
    allowed, reason = course_scheduling_allowed(patient)
    assert allowed is False
    assert "must approve" in reason


def test_no_course_once_the_approval_is_stale(patient, screened, nina, phil):
    decide(patient, screened, phil)
    measurement_record(
        actor=nina, patient=patient, systolic=128, diastolic=82, heart_rate=72, spo2=98
    )
    allowed, reason = course_scheduling_allowed(patient)
    assert allowed is False
    assert "decide again" in reason


def test_a_later_decline_overrides_an_earlier_approval(patient, screened, phil):
    decide(patient, screened, phil)
    decide(patient, screened, phil, DECLINE)
    assert course_scheduling_allowed(patient)[0] is False
