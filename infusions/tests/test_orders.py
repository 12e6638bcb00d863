"""Dose orders and administration: the arithmetic through the service (exactly
``dosing.calculate``), every limit at its boundary, today's weight, re-orders, the gate
before starting, the dose given with witnessed waste booked in the ledger in one
transaction (a refusal leaves the ledger as it was), and the dose history with its
escalations."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.models import AuditEvent
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from infusions import dosing, vitals
from infusions.ledger import lot_receive
from infusions.ledger_reports import lot_balance_from_entries
from infusions.models import DoseAdministration, DoseOrder, LedgerEntry, Lot, PreAssessment
from infusions.models.sessions import InfusionSessionState
from infusions.orders import (
    current_order,
    dose_administer,
    dose_history,
    dose_order_sign,
    start_problems,
)
from infusions.preassessment import pre_assessment_record, pre_assessment_vitals
from infusions.readings import ReadingInput
from infusions.sessions import session_for_appointment, session_transition
from infusions.tests.factories import (
    SUPPLIER,
    complete_pre_assessment,
    dea_registered,
    infusion_session,
)
from scheduling.tests.test_booking import book, next_week, riverside_for
from tests.clock import advance, travel_to

S = InfusionSessionState
LIMITS = dosing.limits_from_settings()
THOUSANDTH = Decimal("0.001")
NORMAL = ReadingInput(
    systolic=120, diastolic=80, heart_rate=72, spo2=98, respiratory_rate=14, consciousness=1
)
D = Decimal


def errors(error: pytest.ExceptionInfo[ValidationError], field: str) -> str:
    return " ".join(error.value.message_dict[field])


def sign(phil, session, **fields) -> DoseOrder:
    return dose_order_sign(
        actor=phil,
        session=session,
        **(
            {
                "route": "iv_infusion",
                "dose_mg_per_kg": "0.5",
                "duration_minutes": 40,
                "concentration_mg_per_ml": "0.4",
            }
            | fields
        ),
    )


def checked_in(nina, session):
    return session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)


def weighed(nina, session, weight: str = "80.0"):
    pre_assessment_record(actor=nina, session=session, weight_kg=weight)
    return session


@pytest.fixture
def session(nina, phil):
    """Checked in and weighed at 80.0 kg today."""
    return weighed(nina, checked_in(nina, infusion_session(nina, phil)))


@pytest.fixture
def ready(nina, phil):
    """Checked in with every pre-infusion check done (80.0 kg today)."""
    session = checked_in(nina, infusion_session(nina, phil))
    complete_pre_assessment(session, nina)
    return session


def receive(nina, location, *, mg_per_ml: str = "50", ml: str = "10", **fields) -> Lot:
    return lot_receive(
        actor=nina,
        location=dea_registered(location),
        product_name="Ketamine HCl injection 50 mg/mL",
        concentration_mg_per_ml=mg_per_ml,
        container_volume_ml=ml,
        containers_received=1,
        lot_number=fields.pop("lot_number", "K-001"),
        expiry_date=fields.pop("expiry_date", location.local_now().date() + timedelta(days=365)),
        supplier="Hospira",
        **SUPPLIER,
        invoice_number="INV-1",
        **fields,
    )


@pytest.fixture
def infusing(nina, phil):
    """An infusion running on a signed 0.5 mg/kg order for 80 kg (40.0 mg)."""
    session = checked_in(nina, infusion_session(nina, phil))
    complete_pre_assessment(session, nina)
    sign(phil, session)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    return session_transition(actor=nina, session=session, to_state=S.INFUSING)


@pytest.fixture
def lot(nina, infusing) -> Lot:
    """500 mg at the session's location."""
    return receive(nina, infusing.appointment.location)


def give(nina, session, lot, *, drawn="50", given="40", witness=None, password=PASSWORD, **kw):
    return dose_administer(
        actor=nina,
        order=current_order(session),
        lot=lot,
        drawn_mg=drawn,
        administered_mg=given,
        witness=witness,
        witness_password=password,
        **kw,
    )


# --- The arithmetic ------------------------------------------------------------------------------

# weight kg, route, dose mg/kg, minutes, mg/mL -> total mg, mg/h, mL/h, volume mL
ARITHMETIC = [
    ("80.0", "iv_infusion", "0.5", 40, "0.4", "40.0", "60.0", "150.0", "100.00"),
    ("83.4", "iv_infusion", "0.75", 40, "1", "62.6", "93.8", "93.8", "62.55"),
    ("72.5", "iv_infusion", "0.1", 30, "0.5", "7.3", "14.5", "29.0", "14.50"),
    ("300.0", "iv_infusion", "1.0", 100, "2", "300.0", "180.0", "90.0", "150.00"),
    ("30.0", "iv_infusion", "0.35", 45, "0.4", "10.5", "14.0", "35.0", "26.25"),
    ("65.3", "iv_infusion", "0.6", 40, None, "39.2", "58.8", None, None),
    ("61.7", "iv_infusion", "0.55", 50, "0.8", "33.9", "40.7", "50.9", "42.42"),
    ("80.0", "im", "0.5", None, "50", "40.0", None, None, "0.80"),
]


@pytest.mark.parametrize(
    "weight,route,dose,minutes,concentration,total,mg_h,ml_h,volume", ARITHMETIC
)
def test_the_order_carries_the_servers_exact_arithmetic(
    nina, phil, weight, route, dose, minutes, concentration, total, mg_h, ml_h, volume
):
    session = weighed(nina, checked_in(nina, infusion_session(nina, phil)), weight)

    order = sign(
        phil,
        session,
        route=route,
        dose_mg_per_kg=dose,
        duration_minutes=minutes,
        concentration_mg_per_ml=concentration,
    )

    order.refresh_from_db()
    expected = dosing.calculate(dosing.DoseOrder(dose, weight, minutes, concentration, route))
    as_decimal = [None if value is None else D(value) for value in (total, mg_h, ml_h, volume)]
    assert [order.total_mg, order.rate_mg_per_h, order.rate_ml_per_h, order.volume_ml] == as_decimal
    assert (order.total_mg, order.rate_mg_per_h, order.rate_ml_per_h, order.volume_ml) == (
        expected.total_mg,
        expected.rate_mg_per_h,
        expected.rate_ml_per_h,
        expected.volume_ml,
    )
    assert order.weight_kg == D(weight)
    assert order.dose_mg_per_kg == D(dose)
    assert order.ordered_by == phil


def test_a_json_float_dose_is_read_as_its_decimal_text(phil, session):
    order = sign(phil, session, dose_mg_per_kg=0.55, concentration_mg_per_ml=0.4)

    assert order.dose_mg_per_kg == D("0.55")
    assert order.total_mg == D("44.0")


# --- Limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dose,allowed",
    [
        (LIMITS.min_mg_per_kg - THOUSANDTH, False),
        (LIMITS.min_mg_per_kg, True),
        (LIMITS.max_mg_per_kg, True),
        (LIMITS.max_mg_per_kg + THOUSANDTH, False),
    ],
)
def test_the_dose_must_be_within_the_clinics_range(phil, session, dose, allowed):
    if allowed:
        assert sign(phil, session, dose_mg_per_kg=str(dose)).dose_mg_per_kg == dose
        return
    with pytest.raises(ValidationError) as error:
        sign(phil, session, dose_mg_per_kg=str(dose))

    assert "outside the clinic's allowed range" in errors(error, "dose_mg_per_kg")
    assert not DoseOrder.objects.exists()


@pytest.mark.parametrize(
    "minutes,allowed",
    [
        (LIMITS.min_duration_minutes - 1, False),
        (LIMITS.min_duration_minutes, True),
        (LIMITS.max_duration_minutes, True),
        (LIMITS.max_duration_minutes + 1, False),
        (None, False),
    ],
)
def test_an_infusions_duration_must_be_within_the_range(phil, session, minutes, allowed):
    if allowed:
        assert sign(phil, session, duration_minutes=minutes).duration_minutes == minutes
        return
    with pytest.raises(ValidationError) as error:
        sign(phil, session, duration_minutes=minutes)

    assert "duration" in errors(error, "duration_minutes")
    assert not DoseOrder.objects.exists()


@pytest.mark.parametrize(
    "field,value",
    [
        ("dose_mg_per_kg", "0.5555"),
        ("dose_mg_per_kg", "lots"),
        ("concentration_mg_per_ml", "0.0001"),
        ("concentration_mg_per_ml", "-1"),
        ("route", "oral"),
        ("duration_minutes", "forty"),
    ],
)
def test_it_refuses_bad_input_with_a_message_by_field(phil, session, field, value):
    with pytest.raises(ValidationError) as error:
        sign(phil, session, **{field: value})

    assert errors(error, field)
    assert not DoseOrder.objects.exists()


# --- Today's weight ------------------------------------------------------------------------------


def test_it_refuses_an_order_before_the_patient_is_weighed(nina, phil):
    session = checked_in(nina, infusion_session(nina, phil))

    with pytest.raises(ValidationError) as error:
        sign(phil, session)

    assert "Weigh the patient today first" in errors(error, "weight_kg")
    assert not DoseOrder.objects.exists()


def test_it_refuses_an_order_for_yesterdays_weight(phil, session):
    tz = session.appointment.location.tz
    start_of_today = timezone.now().astimezone(tz).replace(hour=0, minute=0, second=0)
    PreAssessment.objects.filter(session=session).update(
        weighed_at=start_of_today - timedelta(seconds=1)
    )

    with pytest.raises(ValidationError) as error:
        sign(phil, session)

    assert "Weigh the patient today first" in errors(error, "weight_kg")
    assert not DoseOrder.objects.exists()


def test_a_weight_from_the_start_of_today_will_do(phil, session):
    tz = session.appointment.location.tz
    start_of_today = timezone.now().astimezone(tz).replace(hour=0, minute=0, second=0)
    PreAssessment.objects.filter(session=session).update(weighed_at=start_of_today)

    assert sign(phil, session).weight_kg == D("80.0")


# --- Who and when --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nina", "fran", "alice"])
def test_only_a_physician_signs_an_order(request, session, persona):
    with pytest.raises(PermissionDenied):
        sign(request.getfixturevalue(persona), session)

    assert not DoseOrder.objects.exists()


def test_an_order_may_be_signed_after_the_pre_assessment_passed(nina, phil, session):
    pre_assessment_record(
        actor=nina,
        session=session,
        identity_confirmed=True,
        pregnancy_status="not_pregnant",
        escort_confirmed=True,
        escort_name="Sam",
        last_ate_at=timezone.now() - timedelta(hours=10),
    )
    pre_assessment_vitals(actor=nina, session=session, values=NORMAL)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)

    assert sign(phil, session).session == session


def test_it_refuses_an_order_before_check_in(nina, phil):
    session = infusion_session(nina, phil)

    with pytest.raises(ValidationError) as error:
        sign(phil, session)

    assert "Check the patient in first" in errors(error, "session")


def test_it_refuses_an_order_once_the_infusion_is_running(phil, infusing):
    with pytest.raises(ValidationError) as error:
        sign(phil, infusing, dose_mg_per_kg="0.6")

    assert "before the infusion starts" in errors(error, "session")
    assert DoseOrder.objects.count() == 1


def test_a_new_order_replaces_the_current_one(phil, session):
    first = sign(phil, session)

    second = sign(phil, session, dose_mg_per_kg="0.6")

    assert second.replaces == first
    assert current_order(session) == second
    assert DoseOrder.objects.count() == 2
    event = AuditEvent.objects.filter(object_id=str(second.public_id)).get()
    assert "replacement" in event.summary
    assert str(session.appointment.patient.public_id) in event.summary


# --- The gate before starting --------------------------------------------------------------------


def test_the_infusion_cannot_start_without_a_signed_order(nina, ready):
    assert start_problems(ready) == ["A physician must sign the dose order first."]


def test_the_infusion_cannot_start_on_an_order_for_another_weight(nina, phil, session):
    sign(phil, session)
    pre_assessment_record(actor=nina, session=session, weight_kg="85.0")

    problems = start_problems(session)

    assert len(problems) == 1
    assert "worked out for 80.0 kg but today's weight is 85.0 kg" in problems[0]


def test_the_infusion_cannot_start_on_a_hold(nina, phil, session):
    sign(phil, session)
    hold = vitals.caution_hold_from_settings().hold_systolic
    pre_assessment_vitals(
        actor=nina,
        session=session,
        values=ReadingInput(
            systolic=hold,
            diastolic=80,
            heart_rate=70,
            spo2=98,
            respiratory_rate=14,
            consciousness=1,
        ),
    )

    assert start_problems(session) == [
        "The blood pressure is at or above the hold limit: no infusion today."
    ]


def test_a_signed_order_and_checks_let_it_start(nina, phil, ready):
    sign(phil, ready)

    assert start_problems(ready) == []


# --- Administration ------------------------------------------------------------------------------


def test_it_records_the_dose_and_the_witnessed_waste_in_the_ledger(nina, phil, infusing, lot):
    administration = give(nina, infusing, lot, drawn="50", given="40", witness=phil)

    administration.refresh_from_db()
    assert (administration.drawn_mg, administration.administered_mg, administration.wasted_mg) == (
        D("50"),
        D("40"),
        D("10"),
    )
    assert administration.given_by == nina
    assert administration.witness == phil
    given, wasted = administration.administered_entry, administration.wasted_entry
    assert (given.kind, given.amount_mg, given.session) == ("administered", D("-40"), infusing)
    assert (wasted.kind, wasted.amount_mg, wasted.witness) == ("wasted", D("-10"), phil)
    assert wasted.patient == infusing.appointment.patient
    lot.refresh_from_db()
    assert lot.balance_mg == D("450") == lot_balance_from_entries(lot)


def test_nothing_is_wasted_when_all_that_was_drawn_is_given(nina, infusing, lot):
    administration = give(nina, infusing, lot, drawn="40", given="40", witness=None)

    assert administration.wasted_mg == 0
    assert administration.wasted_entry is None
    assert administration.witness is None
    assert LedgerEntry.objects.filter(kind="wasted").count() == 0


@pytest.mark.parametrize(
    "given,allowed",
    [("40.05", True), ("40.051", False), ("41", False)],
)
def test_no_more_than_the_order_is_given_beyond_rounding(nina, phil, infusing, lot, given, allowed):
    if allowed:
        assert give(nina, infusing, lot, drawn="41", given=given, witness=phil).pk
        return
    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, drawn="41", given=given, witness=phil)

    assert "The order is for 40.0 mg" in errors(error, "administered_mg")
    _nothing_booked(lot)


def _nothing_booked(lot: Lot) -> None:
    lot.refresh_from_db()
    assert lot.balance_mg == D("500")
    assert LedgerEntry.objects.filter(lot=lot).count() == 1  # the receipt
    assert not DoseAdministration.objects.exists()


def test_the_administrator_cannot_witness_their_own_waste(nina, infusing, lot):
    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, witness=nina)

    assert "your own second person" in errors(error, "witness")
    _nothing_booked(lot)


def test_a_wrong_witness_password_saves_nothing(nina, phil, infusing, lot):
    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, witness=phil, password="wrong")

    assert "not Phil Physician's password" in errors(error, "witness_password")
    _nothing_booked(lot)


def test_waste_needs_a_witness(nina, infusing, lot):
    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, witness=None)

    assert "10 mg is left over" in errors(error, "witness")
    _nothing_booked(lot)


def test_a_front_desk_witness_is_refused(nina, fran, infusing, lot):
    with pytest.raises(ValidationError):
        give(nina, infusing, lot, witness=fran)

    _nothing_booked(lot)


def test_a_lot_that_cannot_cover_the_waste_undoes_the_dose_too(nina, phil, infusing):
    lot = receive(nina, infusing.appointment.location, mg_per_ml="45", ml="1")

    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, drawn="50", given="40", witness=phil)

    assert "below zero" in errors(error, "drawn_mg")
    lot.refresh_from_db()
    assert lot.balance_mg == D("45") == lot_balance_from_entries(lot)
    assert LedgerEntry.objects.filter(lot=lot).count() == 1
    assert not DoseAdministration.objects.exists()


def test_a_lot_of_another_location_is_refused(nina, phil, infusing):
    elsewhere = riverside_for(nina, phil, name="Lakeside")
    other = receive(nina, elsewhere, lot_number="L-9")

    with pytest.raises(ValidationError) as error:
        give(nina, infusing, other, witness=phil)

    assert "another location" in errors(error, "lot")
    other.refresh_from_db()
    assert other.balance_mg == D("500")
    assert not DoseAdministration.objects.exists()


def test_an_expired_lot_is_refused(nina, phil, infusing):
    # Expired stock can't be received through the ledger: a lot kept past its date.
    expired = Lot.objects.create(
        location=infusing.appointment.location,
        product_name="Ketamine",
        concentration_mg_per_ml=D("50"),
        volume_ml=D("10"),
        container_volume_ml=D("10"),
        containers_received=1,
        **SUPPLIER,
        lot_number="OLD-1",
        expiry_date=infusing.appointment.location.local_now().date() - timedelta(days=2),
        supplier="Hospira",
        invoice_number="INV-0",
        received_by=nina,
        received_at=timezone.now() - timedelta(days=400),
        balance_mg=D("500"),
    )

    with pytest.raises(ValidationError) as error:
        give(nina, infusing, expired, witness=phil)

    assert "expired" in errors(error, "lot")
    assert not DoseAdministration.objects.exists()
    expired.refresh_from_db()
    assert expired.balance_mg == D("500")
    assert not LedgerEntry.objects.filter(lot=expired).exists()


@pytest.mark.parametrize(
    "drawn,given,field",
    [
        ("40", "45", "administered_mg"),
        ("0", "0", "drawn_mg"),
        ("abc", "40", "drawn_mg"),
        ("40.0001", "40", "drawn_mg"),
        ("-5", "40", "drawn_mg"),
    ],
)
def test_it_refuses_impossible_amounts(nina, phil, infusing, lot, drawn, given, field):
    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, drawn=drawn, given=given, witness=phil)

    assert errors(error, field)
    _nothing_booked(lot)


def test_the_dose_is_recorded_once(nina, phil, infusing, lot):
    give(nina, infusing, lot, witness=phil)

    with pytest.raises(ValidationError) as error:
        give(nina, infusing, lot, witness=phil)

    assert "recorded already" in errors(error, "order")
    assert DoseAdministration.objects.count() == 1


def test_the_dose_is_recorded_once_the_infusion_has_started(nina, phil, ready):
    sign(phil, ready)
    lot = receive(nina, ready.appointment.location)

    with pytest.raises(ValidationError) as error:
        give(nina, ready, lot, witness=phil)

    assert "Start the infusion first" in errors(error, "session")
    _nothing_booked(lot)


@pytest.mark.parametrize("state", [S.PAUSED, S.RECOVERING, S.STOPPED_EARLY])
def test_the_dose_may_be_recorded_later_in_the_session(nina, phil, infusing, lot, state):
    reason = "Felt faint." if state == S.STOPPED_EARLY else ""
    if state == S.RECOVERING:
        advance(40)  # the order's 40 minutes
    session = session_transition(actor=nina, session=infusing, to_state=state, reason=reason)

    assert give(nina, session, lot, witness=phil).order.session == session


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_only_nurses_and_physicians_record_a_dose(request, phil, infusing, lot, persona):
    with pytest.raises(PermissionDenied):
        give(request.getfixturevalue(persona), infusing, lot, witness=phil)

    _nothing_booked(lot)


def test_a_physician_may_give_it_and_a_nurse_witness(nina, phil, infusing, lot):
    second_nurse = make_staff("nora@clinic.test", "Nora Nurse", Role.NURSE)

    administration = give(phil, infusing, lot, witness=second_nurse)

    assert administration.given_by == phil
    assert administration.witness == second_nurse


def test_a_replaced_order_cannot_be_given(nina, phil, infusing, lot):
    old = DoseOrder.objects.get()
    new = DoseOrder.objects.create(
        session=infusing,
        route=old.route,
        dose_mg_per_kg=old.dose_mg_per_kg,
        weight_kg=old.weight_kg,
        duration_minutes=old.duration_minutes,
        total_mg=old.total_mg,
        ordered_by=phil,
        replaces=old,
    )

    with pytest.raises(ValidationError) as error:
        dose_administer(actor=nina, order=old, lot=lot, drawn_mg="40", administered_mg="40")

    assert "replaced" in errors(error, "order")
    assert current_order(infusing) == new
    _nothing_booked(lot)


# --- The dose history ----------------------------------------------------------------------------


def later_session(nina, phil, patient, location, weeks: int):
    """Another checked-in, weighed session for ``patient``, ``weeks`` later than the first
    (the clock moves on to ten minutes before it, when the patient may check in)."""
    day = next_week(location) + timedelta(days=2 * weeks)
    appointment = book(nina, patient, location, "infusion", hour=9, day=day)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    session = session_for_appointment(appointment=appointment, actor=nina)
    return weighed(nina, checked_in(nina, session))


def test_the_history_marks_each_rise_from_the_dose_before(nina, phil):
    location = riverside_for(nina, phil)
    first = weighed(nina, checked_in(nina, infusion_session(nina, phil, location=location)))
    patient = first.appointment.patient
    sessions = [first] + [later_session(nina, phil, patient, location, n) for n in (1, 2, 3, 4)]
    for session, dose in zip(sessions, ["0.5", "0.75", "0.75", "0.6", "0.8"], strict=True):
        travel_to(session.appointment.starts_at)  # each order on its session's day
        sign(phil, session, dose_mg_per_kg=dose)
    replacement = sign(phil, sessions[4], dose_mg_per_kg="0.9")

    history = dose_history(patient)

    assert [entry.session for entry in history] == sessions
    assert history[-1].order == replacement
    assert [entry.dose_text for entry in history] == ["0.5", "0.75", "0.75", "0.6", "0.9"]
    assert [entry.escalation for entry in history] == [None, D("0.500"), None, None, D("0.500")]
    assert [entry.escalation_percent for entry in history] == ["", "50", "", "", "50"]


def test_a_sessions_history_stops_at_it_and_lists_the_latest(nina, phil, django_assert_num_queries):
    location = riverside_for(nina, phil)
    first = weighed(nina, checked_in(nina, infusion_session(nina, phil, location=location)))
    patient = first.appointment.patient
    sessions = [first] + [later_session(nina, phil, patient, location, n) for n in (1, 2, 3)]
    for session, dose in zip(sessions, ["0.5", "0.75", "0.6", "0.8"], strict=True):
        travel_to(session.appointment.starts_at)  # each order on its session's day
        sign(phil, session, dose_mg_per_kg=dose)

    with django_assert_num_queries(1):
        up_to_third = dose_history(patient, up_to=sessions[2])
    latest_two = dose_history(patient, up_to=sessions[2], latest=2)

    assert [entry.session for entry in up_to_third] == sessions[:3]
    # The last two up to the third session; the first of them has no dose before it read.
    assert [entry.session for entry in latest_two] == sessions[1:3]
    assert [entry.dose_text for entry in latest_two] == ["0.75", "0.6"]
    assert [entry.escalation for entry in latest_two] == [None, None]
    assert dose_history(patient, latest=2)[1].escalation == D("0.333")


def test_the_history_is_one_query(nina, phil, django_assert_num_queries):
    location = riverside_for(nina, phil)
    first = weighed(nina, checked_in(nina, infusion_session(nina, phil, location=location)))
    patient = first.appointment.patient
    sessions = [first] + [later_session(nina, phil, patient, location, n) for n in (1, 2)]
    for session in sessions:
        travel_to(session.appointment.starts_at)  # each order on its session's day
        sign(phil, session)

    with django_assert_num_queries(1):
        history = dose_history(patient)
        assert [entry.given for entry in history] == [None, None, None]
        assert [entry.session.appointment.location for entry in history] == [location] * 3
