"""Discharge: what stands in the way, each criterion at its boundary, the physician's note on
an unresolved alert, and what a signature changes (and what a refusal leaves alone)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.discharge import discharge_sign
from infusions.discharge_readiness import discharge_blockers, discharge_problems, unresolved_alerts
from infusions.dose_corrections import dose_correct
from infusions.models import (
    Discharge,
    DoseAdministration,
    InfusionSession,
    Lot,
    SessionAlert,
    SessionStateChange,
)
from infusions.models.sessions import InfusionSessionState
from infusions.readings import ReadingInput, reading_record
from infusions.sessions import session_transition
from infusions.tests.factories import (
    SUPPLIER,
    complete_pre_assessment,
    infusion_session,
    signed_order,
)
from scheduling.models import AppointmentStatus
from tests.clock import advance

S = InfusionSessionState
NORMAL = ReadingInput(
    systolic=124, diastolic=78, heart_rate=76, spo2=98, respiratory_rate=14, consciousness=1
)
HIGH_BP = ReadingInput(
    systolic=186, diastolic=96, heart_rate=80, spo2=97, respiratory_rate=14, consciousness=1
)
CHECKLIST = {
    "vitals_near_baseline": True,
    "alert_and_oriented": True,
    "aldrete_score": 10,
    "escort_present": True,
    "escort_name": "",
    "instructions_given": True,
}


# --- Helpers shared with the page, summary and API tests ---------------------------------------


def give(session: InfusionSession, nurse) -> DoseAdministration:
    """Record that the current order was given in full (no waste), without the ledger."""
    order = session.dose_orders.get(replaced_by__isnull=True)
    lot = Lot.objects.create(
        location=session.appointment.location,
        product_name="Ketamine HCl injection 50 mg/mL",
        concentration_mg_per_ml=Decimal("50"),
        volume_ml=Decimal("10"),
        container_volume_ml=Decimal("10"),
        containers_received=1,
        **SUPPLIER,
        lot_number="KX-2041",
        expiry_date=session.appointment.location.local_now().date() + timedelta(days=365),
        supplier="Acme Pharma",
        invoice_number="INV-1",
        received_by=nurse,
        balance_mg=Decimal("500"),
    )
    return DoseAdministration.objects.create(
        order=order,
        lot=lot,
        drawn_mg=order.total_mg,
        administered_mg=order.total_mg,
        wasted_mg=Decimal("0"),
        given_by=nurse,
    )


def correct_dose(session: InfusionSession, nurse, witness) -> None:
    """After an early stop: 4 mg of the dose was really given, the rest wasted before
    ``witness`` (``infusions.dose_corrections``)."""
    total = session.dose_orders.get(replaced_by__isnull=True).total_mg
    dose_correct(
        actor=nurse,
        session=session,
        given_mg="4",
        wasted_mg=total - 4,
        witness=witness,
        witness_password=PASSWORD,
    )


def session_in(nurse, physician, state: S = S.RECOVERING, *, given: bool = True):
    """A session walked (through the service) to ``state``: infusing, recovering or stopped
    early, with its dose recorded as given unless told."""
    session = infusion_session(nurse, physician)
    complete_pre_assessment(session, nurse)
    signed_order(session, physician)
    steps = [S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED, S.INFUSING]
    if state == S.RECOVERING:
        steps.append(S.RECOVERING)
    for step in steps:
        if step == S.RECOVERING:
            advance(40)  # the order's 40 minutes
        session = session_transition(actor=nurse, session=session, to_state=step)
    if given:
        give(session, nurse)
    if state == S.STOPPED_EARLY:
        session = session_transition(
            actor=nurse, session=session, to_state=S.STOPPED_EARLY, reason="Felt unwell."
        )
    if state in (S.RECOVERING, S.STOPPED_EARLY):
        advance(30)  # the least recovery before discharge (tested in test_time_guards.py)
    return session


def acknowledge_all(session: InfusionSession, by) -> None:
    SessionAlert.objects.filter(session=session, acknowledged_at__isnull=True).update(
        acknowledged_by=by, acknowledged_at=timezone.now(), action="continue"
    )


def with_unresolved_alert(session: InfusionSession, nurse, physician) -> None:
    """A high blood pressure, acknowledged, and still high in the latest reading."""
    reading_record(actor=nurse, session=session, values=HIGH_BP)
    acknowledge_all(session, physician)


def sign(actor, session, **changes):
    return discharge_sign(actor=actor, session=session, **(CHECKLIST | changes))


def refusal(error: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return " ".join(error.value.message_dict[field])


def assert_nothing_changed(session: InfusionSession, state: S = S.RECOVERING) -> None:
    session.refresh_from_db()
    assert session.state == state
    assert not Discharge.objects.filter(session=session).exists()
    assert not SessionStateChange.objects.filter(session=session, to_state=S.DISCHARGED).exists()
    session.appointment.refresh_from_db()
    assert session.appointment.status == AppointmentStatus.RECOVERING


@pytest.fixture
def recovering(nina, phil):
    return session_in(nina, phil)


# --- Signing ------------------------------------------------------------------------------------


def test_it_discharges_the_patient_and_the_appointment_follows(nina, recovering):
    discharge = sign(nina, recovering)

    recovering.refresh_from_db()
    assert recovering.state == S.DISCHARGED
    assert recovering.ended_at is not None
    assert recovering.appointment.status == AppointmentStatus.DISCHARGED
    assert discharge.signed_by == nina
    assert discharge.aldrete_score == 10
    # The escort named at the pre-assessment, unless the nurse names another.
    assert discharge.escort_name == "Sam Escort"
    assert discharge.physician is None and discharge.physician_note == ""
    assert SessionStateChange.objects.filter(
        session=recovering, from_state=S.RECOVERING, to_state=S.DISCHARGED, by=nina
    ).exists()
    assert discharge_problems(recovering) == []


def test_the_nurse_may_name_another_escort(nina, recovering):
    discharge = sign(nina, recovering, escort_name="  Robin Driver ")
    assert discharge.escort_name == "Robin Driver"


def test_it_audits_the_signature_by_the_patients_opaque_id_only(nina, recovering):
    sign(nina, recovering)
    patient = recovering.appointment.patient
    event = AuditEvent.objects.get(action="create", object_type="infusions.discharge")
    assert str(patient.public_id) in event.summary
    assert patient.legal_last_name not in event.summary
    assert event.object_label == ""


@pytest.mark.parametrize(
    "field",
    ["vitals_near_baseline", "alert_and_oriented", "escort_present", "instructions_given"],
)
def test_it_refuses_each_criterion_not_met_and_changes_nothing(nina, recovering, field):
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, **{field: False})

    assert list(error.value.message_dict) == [field]
    assert_nothing_changed(recovering)


def test_it_names_every_missing_criterion_at_once(nina, recovering):
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, alert_and_oriented=False, aldrete_score=None, escort_present=False)
    assert set(error.value.message_dict) == {
        "alert_and_oriented",
        "aldrete_score",
        "escort_present",
    }
    assert "Not ready to go home" in refusal(error, "escort_present")


def test_an_aldrete_score_just_below_the_minimum_is_refused(nina, recovering, settings):
    minimum = settings.DISCHARGE_MIN_ALDRETE
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, aldrete_score=minimum - 1)
    message = refusal(error, "aldrete_score")
    assert message.startswith("Not ready to go home")
    assert f"at least {minimum}" in message
    assert_nothing_changed(recovering)


def test_an_aldrete_score_at_the_minimum_is_enough(nina, recovering, settings):
    discharge = sign(nina, recovering, aldrete_score=settings.DISCHARGE_MIN_ALDRETE)
    assert discharge.aldrete_score == settings.DISCHARGE_MIN_ALDRETE


@override_settings(DISCHARGE_MIN_ALDRETE=7)
@pytest.mark.parametrize("score,accepted", [(6, False), (7, True)])
def test_the_clinic_sets_the_minimum_aldrete_score(nina, recovering, score, accepted):
    if accepted:
        assert sign(nina, recovering, aldrete_score=score).aldrete_score == score
        return
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, aldrete_score=score)
    assert "at least 7" in refusal(error, "aldrete_score")


@pytest.mark.parametrize("score", [-1, 11, "9", True])
def test_it_refuses_a_score_that_is_not_one(nina, recovering, score):
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, aldrete_score=score)
    assert "0" in refusal(error, "aldrete_score") and "10" in refusal(error, "aldrete_score")
    assert_nothing_changed(recovering)


def test_it_refuses_an_escort_name_too_long_to_keep(nina, recovering):
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, escort_name="E" * 121)
    assert "120 characters" in refusal(error, "escort_name")
    assert_nothing_changed(recovering)


def test_the_front_desk_may_not_sign(fran, recovering):
    with pytest.raises(PermissionDenied):
        sign(fran, recovering)
    assert_nothing_changed(recovering)


# --- What stands in the way ---------------------------------------------------------------------


def test_a_recovering_session_with_its_dose_recorded_may_be_signed(recovering):
    assert discharge_blockers(recovering) == []


def test_an_open_alert_blocks_discharge_until_acknowledged(nina, phil, recovering):
    reading_record(actor=nina, session=recovering, values=HIGH_BP)
    reading_record(actor=nina, session=recovering, values=NORMAL)

    assert discharge_blockers(recovering) == [
        "Acknowledge the 1 open alert on the flowsheet first, saying what was done."
    ]
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering)
    assert "Acknowledge the 1 open alert" in refusal(error, "session")
    assert_nothing_changed(recovering)

    acknowledge_all(recovering, phil)
    assert discharge_blockers(recovering) == []
    sign(nina, recovering)


def test_an_alert_on_a_reading_entered_in_error_does_not_block(nina, recovering):
    reading = reading_record(actor=nina, session=recovering, values=HIGH_BP)
    reading.entered_in_error_at = timezone.now()
    reading.entered_in_error_by = nina
    reading.entered_in_error_reason = "Cuff on the wrong arm."
    reading.save(
        update_fields=["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason"]
    )
    assert discharge_blockers(recovering) == []
    assert unresolved_alerts(recovering) == []


def test_a_dose_given_but_not_recorded_blocks_discharge(nina, phil):
    session = session_in(nina, phil, given=False)
    blockers = discharge_blockers(session)
    assert len(blockers) == 1 and "Record what was given and wasted" in blockers[0]
    with pytest.raises(ValidationError) as error:
        sign(nina, session)
    assert "Record what was given and wasted" in refusal(error, "session")
    assert_nothing_changed(session)


def test_it_refuses_while_the_infusion_is_still_running(nina, phil):
    session = session_in(nina, phil, S.INFUSING)
    with pytest.raises(ValidationError) as error:
        sign(nina, session)
    assert "end the infusion" in refusal(error, "session")
    session.refresh_from_db()
    assert session.state == S.INFUSING
    assert not Discharge.objects.exists()


def test_it_refuses_to_sign_twice(nina, recovering):
    sign(nina, recovering)
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering)
    assert "signed already" in refusal(error, "session")
    assert Discharge.objects.count() == 1


# --- Unresolved alerts and the physician's note ---------------------------------------------------


def test_an_alert_still_outside_the_limits_needs_a_physicians_note(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    [unresolved] = unresolved_alerts(recovering)
    assert (unresolved.parameter, unresolved.direction) == ("systolic", "high")
    assert "186 mmHg" in unresolved.message

    with pytest.raises(ValidationError) as error:
        sign(nina, recovering)
    assert set(error.value.message_dict) == {"physician", "physician_note"}
    assert "Choose the physician" in refusal(error, "physician")
    assert_nothing_changed(recovering)


def test_the_physician_confirms_the_note_with_their_password(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    note = "BP settling, asymptomatic; home with escort, GP check tomorrow."

    discharge = sign(
        nina, recovering, physician=phil, physician_password=PASSWORD, physician_note=note
    )

    assert discharge.physician == phil
    assert discharge.physician_note == note
    recovering.refresh_from_db()
    assert recovering.state == S.DISCHARGED
    assert "physician's note" in AuditEvent.objects.get(object_type="infusions.discharge").summary


def test_a_wrong_physician_password_is_refused_and_nothing_is_saved(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, physician=phil, physician_password="guess", physician_note="Fine.")
    assert "not Phil Physician's password" in refusal(error, "physician_password")
    assert_nothing_changed(recovering)


def test_the_note_itself_is_required(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, physician=phil, physician_password=PASSWORD, physician_note=" ")
    assert list(error.value.message_dict) == ["physician_note"]
    assert_nothing_changed(recovering)


def test_a_nurse_cannot_write_the_physicians_note(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    with pytest.raises(ValidationError) as error:
        sign(nina, recovering, physician=nina, physician_password=PASSWORD, physician_note="Fine.")
    assert "choose a physician" in refusal(error, "physician")
    assert_nothing_changed(recovering)


def test_a_physician_signing_writes_the_note_without_a_password(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    discharge = sign(phil, recovering, physician=phil, physician_note="Reviewed: may go home.")
    assert discharge.signed_by == phil and discharge.physician == phil


def test_a_later_reading_back_within_limits_resolves_the_alert(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    reading_record(actor=nina, session=recovering, values=NORMAL)

    assert unresolved_alerts(recovering) == []
    discharge = sign(nina, recovering, physician=nina, physician_note="ignored")
    # Not needed, so not kept.
    assert discharge.physician is None and discharge.physician_note == ""


def test_a_later_reading_without_that_value_leaves_it_unresolved(nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    reading_record(actor=nina, session=recovering, values=ReadingInput(spo2=98), source="monitor")
    assert [item.parameter for item in unresolved_alerts(recovering)] == ["systolic"]


def test_each_value_of_one_alert_is_resolved_on_its_own(nina, phil, recovering):
    reading_record(
        actor=nina, session=recovering, values=replace(NORMAL, systolic=186, heart_rate=124)
    )
    acknowledge_all(recovering, phil)
    alert = SessionAlert.objects.get(session=recovering)
    assert [(i.parameter, i.alert) for i in unresolved_alerts(recovering)] == [
        ("systolic", alert),
        ("heart_rate", alert),
    ]

    reading_record(actor=nina, session=recovering, values=replace(NORMAL, systolic=184))

    [still] = unresolved_alerts(recovering)
    assert (still.parameter, still.reading.systolic) == ("systolic", 184)
    assert "184 mmHg" in still.message


@override_settings(VITALS_ALERT_THRESHOLDS={"systolic_at_or_above": 190})
def test_unresolved_is_judged_against_the_clinics_thresholds(nina, phil, recovering):
    reading_record(actor=nina, session=recovering, values=replace(NORMAL, systolic=195))
    acknowledge_all(recovering, phil)
    reading_record(actor=nina, session=recovering, values=HIGH_BP)  # 186: under 190
    assert unresolved_alerts(recovering) == []


# --- Stopped early ------------------------------------------------------------------------------


def test_a_session_stopped_early_is_discharged_without_a_state_move(nina, phil):
    session = session_in(nina, phil, S.STOPPED_EARLY)
    assert session.appointment.status == AppointmentStatus.RECOVERING
    assert "record what was actually given" in " ".join(discharge_blockers(session))
    correct_dose(session, nina, phil)
    assert discharge_blockers(session) == []

    discharge = sign(nina, session)

    session.refresh_from_db()
    assert session.state == S.STOPPED_EARLY
    assert discharge.session == session
    session.appointment.refresh_from_db()
    assert session.appointment.status == AppointmentStatus.DISCHARGED
    assert discharge_blockers(session) == [
        "The discharge checklist is signed already: the patient has gone home."
    ]


def test_a_session_stopped_early_is_refused_like_any_other(nina, phil):
    session = session_in(nina, phil, S.STOPPED_EARLY)
    with pytest.raises(ValidationError):
        sign(nina, session, alert_and_oriented=False)
    assert_nothing_changed(session, S.STOPPED_EARLY)
