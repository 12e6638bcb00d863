"""Spravato (esketamine) sessions under the REMS: the dose and its devices, the enrolment it
needs, the monitoring, discharge no earlier than 2 hours, and the Patient Monitoring Form."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from infusions.discharge import discharge_sign
from infusions.discharge_readiness import discharge_blockers, physician_review_reasons
from infusions.esketamine import (
    esketamine_dose_give,
    rems_assessment_record,
    rems_enrol,
    rems_form_mark_submitted,
    session_kind_set,
)
from infusions.models import (
    EsketamineDevice,
    EsketamineDose,
    LedgerEntry,
    Lot,
    RemsMonitoringForm,
)
from infusions.models.ledger import LedgerEntryKind
from infusions.models.sessions import InfusionSessionState, SessionKind
from infusions.orders import administration_lots, dose_order_sign
from infusions.preassessment_checklist import pre_assessment_checklist, pre_assessment_problems
from infusions.readings import ReadingInput, reading_record
from infusions.rems import form_contents, forms_due, monitoring
from infusions.sessions import session_transition
from infusions.tests.factories import complete_pre_assessment, infusion_session
from infusions.tests.rems_factories import dosed, esketamine_ready
from tests.clock import travel_to

S = InfusionSessionState
BP = ReadingInput(
    systolic=128, diastolic=82, heart_rate=76, spo2=98, respiratory_rate=14, consciousness=1
)
CHECKLIST = {
    "vitals_near_baseline": True,
    "alert_and_oriented": True,
    "aldrete_score": 10,
    "escort_present": True,
    "escort_name": "",
    "instructions_given": True,
}


def at(dose, minutes: float) -> None:
    travel_to(dose.given_at + timedelta(minutes=minutes))


def resolved(session, nurse) -> None:
    rems_assessment_record(
        actor=nurse,
        session=session,
        sedation="absent",
        dissociation="absent",
        respiratory_depression="absent",
    )


def monitored(nina, phil):
    """Dosed, BP at 40 minutes, all resolved at 90, BP at 115."""
    session, dose = dosed(nina, phil)
    at(dose, 40)
    reading_record(actor=nina, session=session, values=BP)
    at(dose, 60)
    rems_assessment_record(
        actor=nina,
        session=session,
        sedation="present",
        dissociation="present",
        respiratory_depression="absent",
    )
    at(dose, 90)
    resolved(session, nina)
    at(dose, 115)
    reading_record(actor=nina, session=session, values=BP)
    return session, dose


# --- The dose ---------------------------------------------------------------------------------


def test_a_56_mg_dose_takes_two_devices_from_the_ledger_and_starts_the_monitoring(nina, phil):
    session, lot = esketamine_ready(nina, phil)

    dose = esketamine_dose_give(actor=nina, session=session, devices=2, lots=[lot, lot])

    assert (dose.dose_mg, dose.devices) == (56, 2)
    session.refresh_from_db()
    assert session.state == S.RECOVERING
    assert session.appointment.status == "recovering"
    entries = LedgerEntry.objects.filter(session=session, kind=LedgerEntryKind.ADMINISTERED)
    assert [e.amount_mg for e in entries] == [Decimal("-28.000")] * 2
    lot.refresh_from_db()
    assert lot.devices_left == 10
    assert [d.lot for d in EsketamineDevice.objects.filter(dose=dose)] == [lot, lot]
    form = RemsMonitoringForm.objects.get(session=session)
    assert form.due_on == dose.given_at.astimezone(lot.location.tz).date() + timedelta(days=7)


def test_an_84_mg_dose_takes_three_devices_possibly_from_two_lots(nina, phil):
    session, lot = esketamine_ready(nina, phil)
    from infusions.tests.rems_factories import esketamine_stock

    other = esketamine_stock(lot.location, nina, devices=4, lot_number="SPR-2699")
    dose = esketamine_dose_give(actor=nina, session=session, devices="3", lots=[lot, lot, other])
    assert (dose.dose_mg, dose.devices) == (84, 3)
    other.refresh_from_db()
    assert other.devices_left == 3


@pytest.mark.parametrize("devices", [1, 4, "two", None, True])
def test_it_refuses_any_other_dose_and_changes_nothing(nina, phil, devices):
    session, lot = esketamine_ready(nina, phil)
    with pytest.raises(ValidationError) as error:
        esketamine_dose_give(actor=nina, session=session, devices=devices, lots=[lot] * 4)
    assert "56 mg (2 devices) or 84 mg (3 devices)" in error.value.message_dict["devices"][0]
    assert not EsketamineDose.objects.exists()
    lot.refresh_from_db()
    assert lot.devices_left == 12


def test_the_database_refuses_a_dose_that_is_not_56_or_84_mg(nina, phil):
    _, dose = dosed(nina, phil)
    # Never changed once given (append-only), nor created with another dose.
    with pytest.raises(DatabaseError), transaction.atomic():
        EsketamineDose.objects.filter(pk=dose.pk).update(dose_mg=70)
    with pytest.raises(IntegrityError), transaction.atomic():
        EsketamineDose.objects.create(
            session=infusion_session(nina, phil),
            dose_mg=56,
            devices=3,
            enrolment=dose.enrolment,
            certification=dose.certification,
            given_at=timezone.now(),
            given_by=nina,
        )


def test_the_database_refuses_a_dose_without_its_devices_at_commit(nina, phil):
    session, lot = esketamine_ready(nina, phil)
    from infusions.rems import certification_of, enrolment_of

    with pytest.raises(IntegrityError), transaction.atomic():
        EsketamineDose.objects.create(
            session=session,
            dose_mg=56,
            devices=2,
            enrolment=enrolment_of(session.appointment.patient),
            certification=certification_of(lot.location),
            given_at=timezone.now(),
            given_by=nina,
        )
        # The deferred check runs at the savepoint's commit only for the outer transaction:
        # make it run now.
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def test_it_refuses_the_dose_without_the_patients_rems_enrolment(nina, phil):
    session, lot = esketamine_ready(nina, phil, enrol=False)
    with pytest.raises(ValidationError) as error:
        esketamine_dose_give(actor=nina, session=session, devices=2, lots=[lot, lot])
    message = " ".join(error.value.message_dict["session"])
    assert "not enrolled in the Spravato REMS" in message
    assert "REMS patient ID" in message
    assert not EsketamineDose.objects.exists()
    session.refresh_from_db()
    assert session.state == S.PRE_ASSESSMENT_PASSED


def test_it_refuses_the_dose_at_a_location_not_certified(nina, phil):
    session, lot = esketamine_ready(nina, phil, certify=False)
    with pytest.raises(ValidationError) as error:
        esketamine_dose_give(actor=nina, session=session, devices=2, lots=[lot, lot])
    assert "REMS setting certification" in " ".join(error.value.message_dict["session"])


def test_it_refuses_a_lot_without_enough_devices(nina, phil):
    session, lot = esketamine_ready(nina, phil)
    Lot.objects.filter(pk=lot.pk)  # 12 devices: ask for a lot that has fewer
    from infusions.tests.rems_factories import esketamine_stock

    small = esketamine_stock(lot.location, nina, devices=1, lot_number="SPR-1")
    with pytest.raises(ValidationError) as error:
        esketamine_dose_give(actor=nina, session=session, devices=2, lots=[small, small])
    assert "has 1 device left, not 2" in error.value.message_dict["lots"][0]


def test_it_refuses_the_enrolment_without_an_id_or_date(nina, phil):
    session, _ = esketamine_ready(nina, phil, enrol=False)
    with pytest.raises(ValidationError) as error:
        rems_enrol(
            actor=nina, patient=session.appointment.patient, rems_patient_id=" ", enrolled_on=None
        )
    assert set(error.value.message_dict) == {"rems_patient_id", "enrolled_on"}


def test_ketamine_orders_and_lots_stay_apart_from_esketamine(nina, phil):
    session, lot = esketamine_ready(nina, phil)
    assert lot not in administration_lots(session)
    with pytest.raises(ValidationError) as error:
        dose_order_sign(
            actor=phil,
            session=session,
            route="iv_infusion",
            dose_mg_per_kg="0.5",
            duration_minutes=40,
            concentration_mg_per_ml="0.4",
        )
    assert "esketamine" in " ".join(error.value.messages)


def test_the_kind_cannot_change_once_the_dose_is_given(nina, phil):
    session, _ = dosed(nina, phil)
    with pytest.raises(ValidationError):
        session_kind_set(actor=nina, session=session, kind=SessionKind.IV_KETAMINE)


def test_a_spravato_appointment_opens_an_esketamine_session_that_keeps_the_chair(nina, phil):
    session = infusion_session(nina, phil, kind="spravato")

    assert session.kind == SessionKind.ESKETAMINE
    appointment = session.appointment
    # 15 minutes for the dose and 2 hours of monitoring: the board keeps the chair till then.
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=135)


def test_an_infusion_appointment_is_too_short_for_esketamine_and_changes_nothing(nina, phil):
    session = infusion_session(nina, phil)

    with pytest.raises(ValidationError) as error:
        session_kind_set(actor=nina, session=session, kind=SessionKind.ESKETAMINE)

    message = error.value.message_dict["kind"][0]
    assert "Spravato session appointment" in message and "2 h" in message
    session.refresh_from_db()
    assert session.kind == SessionKind.IV_KETAMINE


def test_a_spravato_appointment_stays_an_esketamine_session(nina, phil):
    session = infusion_session(nina, phil, kind="spravato")

    with pytest.raises(ValidationError) as error:
        session_kind_set(actor=nina, session=session, kind=SessionKind.IV_KETAMINE)

    assert "infusion appointment" in error.value.message_dict["kind"][0]
    session.refresh_from_db()
    assert session.kind == SessionKind.ESKETAMINE


# --- Monitoring and discharge ----------------------------------------------------------------


def test_a_blood_pressure_above_140_90_before_the_dose_asks_to_consider_delaying(nina, phil):
    session, _ = esketamine_ready(nina, phil)
    assert not monitoring(session).consider_delay  # 120/80
    from infusions.tests.factories import vitals_reading

    vitals_reading(session, nina, systolic=146, diastolic=88)
    assert monitoring(session).consider_delay


def test_the_blood_pressure_40_minutes_after_the_dose_is_due_then(nina, phil):
    session, dose = dosed(nina, phil)
    at(dose, 20)
    assert monitoring(session).bp_after_status == "upcoming"
    at(dose, 38)
    assert monitoring(session).bp_after_status == "due"
    reading_record(actor=nina, session=session, values=BP)
    state = monitoring(session)
    assert state.bp_after_status == "taken"
    assert state.bp_before is not None and state.bp_before.taken_at < dose.given_at


def test_it_refuses_discharge_at_1_h_59_allows_it_at_2_h_and_completes_the_form(nina, phil):
    session, dose = monitored(nina, phil)

    at(dose, 119)
    with pytest.raises(ValidationError) as error:
        discharge_sign(actor=nina, session=session, **CHECKLIST)
    message = " ".join(error.value.message_dict["session"])
    assert "at least 2 h of monitoring" in message
    assert "1 h 59 min" in message
    # The REMS minimum is no override: a physician's note is not what stands in the way.
    assert physician_review_reasons(session) == []
    session.refresh_from_db()
    assert session.state == S.RECOVERING

    at(dose, 120)
    assert discharge_blockers(session) == []
    discharge_sign(actor=nina, session=session, **CHECKLIST)
    session.refresh_from_db()
    assert session.state == S.DISCHARGED
    # And the session's monitoring form is complete (every field: see the next test).
    contents = form_contents(RemsMonitoringForm.objects.get(session=session))
    assert contents.missing == []
    assert contents.form.could_have_left_at == dose.given_at + timedelta(minutes=120)


def test_it_refuses_discharge_while_sedation_is_present(nina, phil):
    session, dose = dosed(nina, phil)
    at(dose, 125)
    reading_record(actor=nina, session=session, values=BP)
    rems_assessment_record(
        actor=nina,
        session=session,
        sedation="present",
        dissociation="absent",
        respiratory_depression="absent",
    )
    with pytest.raises(ValidationError) as error:
        discharge_sign(actor=nina, session=session, **CHECKLIST)
    assert "Still present at the latest assessment" in " ".join(error.value.message_dict["session"])
    assert "sedation" in " ".join(error.value.message_dict["session"])


def test_it_refuses_discharge_without_a_recent_blood_pressure(nina, phil):
    session, dose = dosed(nina, phil)
    at(dose, 40)
    reading_record(actor=nina, session=session, values=BP)
    resolved(session, nina)
    at(dose, 125)
    blockers = discharge_blockers(session)
    assert any("Take the blood pressure before discharge" in b for b in blockers)


def test_a_reading_just_after_the_dose_is_not_the_one_before_discharge(nina, phil):
    session, dose = dosed(nina, phil)
    at(dose, 1)
    reading_record(actor=nina, session=session, values=BP)

    at(dose, 5)
    assert monitoring(session).bp_discharge is None
    at(dose, 40)
    reading_record(actor=nina, session=session, values=BP)
    state = monitoring(session)
    assert state.bp_after.taken_at == dose.given_at + timedelta(minutes=40)
    assert state.bp_discharge is None  # the 40-minute one is not also the last one
    at(dose, 100)
    reading_record(actor=nina, session=session, values=BP)
    assert monitoring(session).bp_discharge.taken_at == dose.given_at + timedelta(minutes=100)


def test_without_a_40_minute_reading_only_a_later_one_counts_before_discharge(nina, phil):
    session, dose = dosed(nina, phil)
    at(dose, 1)
    reading_record(actor=nina, session=session, values=BP)
    at(dose, 25)
    assert monitoring(session).bp_discharge is None
    form = form_contents(RemsMonitoringForm.objects.get(session=session))
    assert "No blood pressure before discharge." in form.missing

    at(dose, 100)
    reading_record(actor=nina, session=session, values=BP)
    assert monitoring(session).bp_discharge.taken_at == dose.given_at + timedelta(minutes=100)


# --- The Patient Monitoring Form ---------------------------------------------------------------


def test_a_discharged_session_produces_a_complete_monitoring_form(nina, phil):
    session, dose = monitored(nina, phil)
    at(dose, 121)
    discharge_sign(actor=nina, session=session, **CHECKLIST)

    form = RemsMonitoringForm.objects.get(session=session)
    contents = form_contents(form)
    assert contents.missing == []
    assert contents.enrolment.rems_patient_id == "REMS-PT-0042"
    assert contents.certification.certification_id == "REMS-HCS-7781"
    assert contents.monitoring_provider == nina
    assert contents.monitoring.dose.dose_mg == 56
    assert [d.lot.lot_number for d in contents.monitoring.dose.device_uses.all()] == [
        "SPR-2607",
        "SPR-2607",
    ]
    state = contents.monitoring
    assert state.bp_before and state.bp_after and state.bp_discharge
    assert state.experienced == {
        "sedation": True,
        "dissociation": True,
        "respiratory_depression": False,
    }
    # Resolved at 90 minutes, but the minimum is 2 hours.
    assert form.could_have_left_at == dose.given_at + timedelta(minutes=120)


def test_a_clinician_marks_the_form_submitted_and_it_leaves_the_tracker(nina, phil):
    session, dose = monitored(nina, phil)
    at(dose, 121)
    discharge_sign(actor=nina, session=session, **CHECKLIST)
    form = RemsMonitoringForm.objects.get(session=session)
    assert [due.form for due in forms_due(nina)] == [form]

    today = timezone.now().astimezone(session.appointment.location.tz).date()
    with pytest.raises(ValidationError) as error:
        rems_form_mark_submitted(actor=nina, form=form, submitted_on=today + timedelta(days=2))
    assert "future" in error.value.message_dict["submitted_on"][0]

    rems_form_mark_submitted(actor=nina, form=form, submitted_on=today)
    form.refresh_from_db()
    assert form.submitted_on == today and form.submitted_by == nina
    assert forms_due(nina) == []


def test_the_form_cannot_be_marked_submitted_before_it_is_complete(nina, phil):
    session, _ = dosed(nina, phil)
    form = RemsMonitoringForm.objects.get(session=session)
    with pytest.raises(ValidationError) as error:
        rems_form_mark_submitted(actor=nina, form=form, submitted_on=timezone.localdate())
    assert "not complete" in error.value.message_dict["form"][0]


def test_an_unsubmitted_form_is_overdue_after_7_days(nina, phil):
    _, dose = dosed(nina, phil)
    at(dose, 60 * 24 * 8)
    (due,) = forms_due(nina)
    assert due.overdue


def test_front_desk_sees_no_tracker(fran):
    assert forms_due(fran) is None


def test_an_esketamine_session_waits_for_no_ketamine_order_on_the_physicians_home(nina, phil):
    from infusions.contributions import sessions_awaiting_order
    from infusions.sessions import session_transition
    from infusions.tests.factories import complete_pre_assessment

    session, _ = esketamine_ready(nina, phil)
    iv = infusion_session(nina, phil, location=session.appointment.location, hour=11)
    iv = session_transition(actor=nina, session=iv, to_state=S.CHECKED_IN)
    complete_pre_assessment(iv, nina)
    waiting = sessions_awaiting_order(phil)
    assert iv in waiting
    assert session not in waiting


# --- Before the dose: food and drink ------------------------------------------------------------


def test_a_spravato_patient_may_have_eaten_3_hours_before_the_dose(nina, phil):
    session = infusion_session(nina, phil, kind="spravato")
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    assessment = complete_pre_assessment(
        session, nina, last_ate_at=timezone.now() - timedelta(hours=3)
    )
    # An IV session asks for 4 hours; the Spravato label for 2 hours without food.
    assert pre_assessment_problems(session) == []
    (fasting,) = [i for i in pre_assessment_checklist(session) if i.key == "fasting"]
    assert "2 hours" in fasting.label and "30 minutes" in fasting.label

    assessment.last_ate_at = timezone.now() - timedelta(minutes=90)
    assessment.save()
    (problem,) = pre_assessment_problems(session)
    assert "less than 2 hours ago" in problem


def test_an_alert_is_acknowledged_without_infusion_actions_on_a_spravato_session(nina, phil):
    """There is no infusion to slow, pause or stop after the nasal spray: those are
    refused with what to do instead, and the alert stays open; watching and medication
    close it."""
    from infusions.models import SessionAlert
    from infusions.models.readings import AlertAction
    from infusions.session_alerts import alert_acknowledge

    session, dose = dosed(nina, phil)
    at(dose, 40)
    high = ReadingInput(
        systolic=190, diastolic=112, heart_rate=76, spo2=98, respiratory_rate=14, consciousness=1
    )
    reading_record(actor=nina, session=session, values=high)
    alert = SessionAlert.objects.get(session=session)
    state = session.state

    for action in (AlertAction.SLOW, AlertAction.PAUSE, AlertAction.STOP):
        with pytest.raises(ValidationError) as refused:
            alert_acknowledge(actor=nina, alert=alert, action=action)
        assert "no infusion to slow, pause or stop" in str(refused.value.message_dict["action"])
    alert.refresh_from_db()
    session.refresh_from_db()
    assert (alert.acknowledged_at, session.state) == (None, state)

    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.CONTINUE)
    alert.refresh_from_db()
    assert alert.action == AlertAction.CONTINUE and alert.acknowledged_by == nina
