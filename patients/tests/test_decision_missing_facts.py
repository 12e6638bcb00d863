"""Approving treatment on a screening result with facts not recorded ("ask before deciding")
takes more than one click: the physician ticks that they asked about each one and writes what
the patient said (as a contraindication needs a written justification); otherwise the approval
is refused, listing what is missing, and nothing is saved. Deferring needs neither. The same
on the service, the decision page and the API, and the database keeps the note."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from patients.models import PatientStatus, ScreeningDecision
from patients.services.screening import decision_record, screening_run
from patients.tests.factories import (
    IntakeSubmissionFactory,
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)
from patients.tests.test_intake import complete_answers

APPROVE = ScreeningDecision.Decision.APPROVE
NOTE = "Asked today: no ketamine allergy, not pregnant, no heart disease, no psychosis."


@pytest.fixture
def patient(db):
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Walkerton")


@pytest.fixture
def unasked(patient, nina):
    """Screened with a measurement and a baseline PHQ-9 but no intake: every intake fact is
    "not recorded"."""
    MeasurementFactory(patient=patient)
    QuestionnaireResponseFactory(patient=patient, answers=dict.fromkeys(_phq9_items(), 0))
    return screening_run(patient=patient, actor=nina)


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ("phq9", "Measure the blood pressure"),
        ("measurement", "Have the patient answer a PHQ-9"),
    ],
)
def test_a_blood_pressure_or_phq9_not_recorded_cannot_be_acknowledged_away(
    patient, nina, phil, record, said
):
    IntakeSubmissionFactory(patient=patient, answers=complete_answers())
    if record == "phq9":
        QuestionnaireResponseFactory(patient=patient, answers=dict.fromkeys(_phq9_items(), 0))
    else:
        MeasurementFactory(patient=patient)
    screening = screening_run(patient=patient, actor=nina)

    with pytest.raises(ValidationError) as refused:
        approve(patient, screening, phil, missing_facts_acknowledged=True, missing_facts_note=NOTE)

    assert said in " ".join(refused.value.message_dict["decision"])
    assert not ScreeningDecision.objects.exists()


@pytest.fixture
def complete(patient, nina):
    """Screened on a complete intake, a measurement and a baseline PHQ-9: nothing missing."""
    IntakeSubmissionFactory(patient=patient, answers=complete_answers())
    MeasurementFactory(patient=patient)
    QuestionnaireResponseFactory(patient=patient, answers=dict.fromkeys(_phq9_items(), 0))
    return screening_run(patient=patient, actor=nina)


def _phq9_items() -> list[str]:
    from patients.questionnaires import definition_for

    return definition_for("phq9").item_keys


def approve(patient, screening, phil, **kwargs):
    return decision_record(
        patient=patient,
        screening=screening,
        decision=APPROVE,
        reason="Reviewed the findings.",
        actor=phil,
        **kwargs,
    )


# --- The service ---------------------------------------------------------------------------------


def test_approving_over_facts_not_recorded_is_refused_listing_them(patient, unasked, phil):
    missing = [finding for finding in unasked.findings if finding.get("missing")]
    assert len(missing) > 10

    with pytest.raises(ValidationError) as refused:
        approve(patient, unasked, phil)

    said = " ".join(refused.value.message_dict["missing_facts_acknowledged"])
    assert f"The screening has {len(missing)} facts not recorded" in said
    assert "Allergy to ketamine or esketamine is not recorded" in said
    assert "Record the intake first" in said
    assert "missing_facts_note" in refused.value.message_dict
    assert not ScreeningDecision.objects.exists()
    patient.refresh_from_db()
    assert patient.status != PatientStatus.APPROVED


def test_a_tick_without_a_note_is_not_enough(patient, unasked, phil):
    with pytest.raises(ValidationError) as refused:
        approve(patient, unasked, phil, missing_facts_acknowledged=True, missing_facts_note="ok")

    assert set(refused.value.message_dict) == {"missing_facts_note"}
    assert not ScreeningDecision.objects.exists()


def test_a_note_without_the_tick_is_not_enough(patient, unasked, phil):
    with pytest.raises(ValidationError) as refused:
        approve(patient, unasked, phil, missing_facts_note=NOTE)

    assert set(refused.value.message_dict) == {"missing_facts_acknowledged"}


def test_the_acknowledged_approval_keeps_what_was_missing_and_the_note(patient, unasked, phil):
    decision = approve(
        patient, unasked, phil, missing_facts_acknowledged=True, missing_facts_note=NOTE
    )

    decision.refresh_from_db()
    assert "missing.allergy_ketamine" in decision.missing_facts_acknowledged
    assert len(decision.missing_facts_acknowledged) == sum(
        1 for finding in unasked.findings if finding.get("missing")
    )
    assert decision.missing_facts_note == NOTE


def test_deferring_needs_no_acknowledgement(patient, unasked, phil):
    decision = decision_record(
        patient=patient,
        screening=unasked,
        decision=ScreeningDecision.Decision.DEFER,
        reason="Intake not done.",
        needed="The intake form, then screening again.",
        actor=phil,
    )

    assert decision.missing_facts_acknowledged == []
    assert decision.missing_facts_note == ""


def test_a_complete_result_approves_in_one_step(patient, complete, phil):
    assert not [finding for finding in complete.findings if finding.get("missing")]

    decision = approve(patient, complete, phil)

    assert decision.decision == APPROVE
    assert decision.missing_facts_acknowledged == []


def test_the_database_refuses_acknowledged_facts_without_a_note(patient, unasked, phil):
    with (
        pytest.raises(IntegrityError, match="decision_missing_facts_have_a_note"),
        transaction.atomic(),
    ):
        ScreeningDecision.objects.create(
            patient=patient,
            screening=unasked,
            ruleset_version=unasked.ruleset_version,
            decision=APPROVE,
            decided_by=phil,
            reason="Reviewed.",
            missing_facts_acknowledged=["missing.allergy_ketamine"],
        )


# --- The page and the API ------------------------------------------------------------------------


def test_the_decision_page_lists_the_missing_facts_and_refuses_one_click(
    client, patient, unasked, phil
):
    client.force_login(phil)
    url = f"/staff/patients/{patient.public_id}/decision/new/"

    form = client.get(url)
    refused = client.post(
        url,
        {"screening": str(unasked.public_id), "decision": "approve", "reason": "Looks fine."},
    )

    assert 'data-testid="missing-facts"' in form.text
    assert "Allergy to ketamine or esketamine is not recorded" in form.text
    assert refused.status_code == 200
    assert "facts not recorded" in refused.text
    assert not ScreeningDecision.objects.exists()


def test_the_decision_page_approves_with_the_tick_and_the_note(client, patient, unasked, phil):
    client.force_login(phil)

    response = client.post(
        f"/staff/patients/{patient.public_id}/decision/new/",
        {
            "screening": str(unasked.public_id),
            "decision": "approve",
            "reason": "Looks fine.",
            "missing_facts_acknowledged": "on",
            "missing_facts_note": NOTE,
        },
    )

    assert response.status_code == 302
    assert ScreeningDecision.objects.get().missing_facts_note == NOTE


def test_the_api_answers_400_then_201_with_the_acknowledgement(client, patient, unasked, phil):
    client.force_login(phil)
    url = f"/api/v1/patients/{patient.public_id}/decisions/"
    body = {"screening": str(unasked.public_id), "decision": "approve", "reason": "Fine."}

    refused = client.post(url, body, content_type="application/json")
    approved = client.post(
        url,
        body | {"missing_facts_acknowledged": True, "missing_facts_note": NOTE},
        content_type="application/json",
    )

    assert refused.status_code == 400
    assert "facts not recorded" in " ".join(refused.json()["missing_facts_acknowledged"])
    assert approved.status_code == 201, approved.json()
    assert "missing.allergy_ketamine" in approved.json()["missing_facts_acknowledged"]
