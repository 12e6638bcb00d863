"""The dose on the session screen: a physician signs the order (with the server's numbers and
an HTMX preview), a nurse records what was given with a witness for the waste, the dose
history with its escalations; errors shown and nothing saved; who may do what."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from conftest import PASSWORD
from infusions.ledger import ledger_adjust, lot_receive
from infusions.models import DoseAdministration, DoseOrder, LedgerEntry
from infusions.models.sessions import InfusionSessionState
from infusions.orders import dose_order_sign
from infusions.sessions import session_for_appointment, session_transition
from infusions.tests.factories import (
    SUPPLIER,
    complete_pre_assessment,
    dea_registered,
    infusion_session,
)
from scheduling.tests.test_booking import book, next_week
from tests.clock import travel_to

S = InfusionSessionState
HTMX = {"HTTP_HX_REQUEST": "true"}
ORDER = {
    "route": "iv_infusion",
    "dose_mg_per_kg": "0.75",
    "duration_minutes": "40",
    "concentration_mg_per_ml": "0.4",
    "note": "",
}


def url(name: str, session) -> str:
    return reverse(f"infusions:{name}", args=[session.public_id])


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def session(nina, phil):
    """Checked in, every check done, 80.0 kg today."""
    session = infusion_session(nina, phil)
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    return session


def sign(phil, session, dose="0.5"):
    return dose_order_sign(
        actor=phil,
        session=session,
        route="iv_infusion",
        dose_mg_per_kg=dose,
        duration_minutes=40,
        concentration_mg_per_ml="0.4",
    )


@pytest.fixture
def infusing(nina, phil, session):
    sign(phil, session)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    return session_transition(actor=nina, session=session, to_state=S.INFUSING)


@pytest.fixture
def lot(nina, session):
    return lot_receive(
        actor=nina,
        location=dea_registered(session.appointment.location),
        product_name="Ketamine HCl injection 50 mg/mL",
        concentration_mg_per_ml="50",
        container_volume_ml="10",
        containers_received=1,
        lot_number="K-001",
        expiry_date=session.appointment.location.local_now().date() + timedelta(days=365),
        supplier="Hospira",
        **SUPPLIER,
        invoice_number="INV-1",
    )


# --- The order -----------------------------------------------------------------------------------


def test_a_physician_sees_the_order_form_with_todays_weight(client, phil, session):
    client.force_login(phil)

    page = text(client.get(url("session", session)))

    assert 'id="dose"' in page
    assert 'data-testid="dose-order-form"' in page
    assert "<strong>80.0 kg</strong>" in page
    assert f'hx-post="{url("dose-calculate", session)}"' in page


def test_a_nurse_sees_no_order_form(client, nina, session):
    client.force_login(nina)

    page = text(client.get(url("session", session)))

    assert 'data-testid="dose-order-form"' not in page
    assert "A physician signs it." in page


def test_a_physician_signs_the_order_and_sees_the_servers_numbers(client, phil, session):
    client.force_login(phil)

    response = client.post(url("dose-order", session), ORDER, follow=True)

    order = DoseOrder.objects.get()
    assert (order.total_mg, order.rate_mg_per_h, order.rate_ml_per_h, order.volume_ml) == (
        Decimal("60.0"),
        Decimal("90.0"),
        Decimal("225.0"),
        Decimal("150.00"),
    )
    page = text(response)
    assert response.redirect_chain[-1][0] == url("session", session) + "#dose"
    assert 'data-testid="dose-total">60.0 mg' in page
    assert "225.0 mL/h" in page


def test_with_htmx_the_order_answers_with_the_section(client, phil, session):
    client.force_login(phil)

    response = client.post(url("dose-order", session), ORDER, **HTMX)

    page = text(response)
    assert "<html" not in page
    assert page.lstrip().startswith('<section id="dose"')
    assert "Dose order signed: 60.0 mg (0.75 mg/kg for 80.0 kg)." in page


def test_the_calculate_button_previews_without_saving(client, phil, session):
    client.force_login(phil)

    response = client.post(url("dose-calculate", session), ORDER, **HTMX)

    page = text(response)
    assert 'data-testid="dose-preview"' in page
    assert "60.0 mg" in page
    assert "225.0 mL/h" in page
    assert "150.00 mL" in page
    assert not DoseOrder.objects.exists()


def test_without_javascript_the_preview_shows_on_the_session_screen(client, phil, session):
    client.force_login(phil)

    response = client.post(url("dose-calculate", session), ORDER)

    page = text(response)
    assert response.status_code == 200
    assert "<html" in page
    assert 'data-testid="dose-preview"' in page
    assert 'value="0.75"' in page
    assert "Nothing was saved" not in page
    assert not DoseOrder.objects.exists()


def test_the_preview_says_what_is_wrong(client, phil, session):
    client.force_login(phil)

    response = client.post(url("dose-calculate", session), ORDER | {"dose_mg_per_kg": "2"}, **HTMX)

    assert "outside the clinic&#x27;s allowed range" in text(response)
    assert not DoseOrder.objects.exists()


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("dose_mg_per_kg", "1.001", "outside the clinic&#x27;s allowed range"),
        ("duration_minutes", "29", "outside the allowed range"),
        ("route", "oral", "Select a valid choice"),
    ],
)
def test_a_bad_order_is_shown_by_its_field_and_not_saved(
    client, phil, session, field, value, message
):
    client.force_login(phil)

    response = client.post(url("dose-order", session), ORDER | {field: value})

    assert response.status_code == 400
    assert message in text(response)
    assert f'id="order-{field}_error"' in text(response)
    assert not DoseOrder.objects.exists()


def test_an_order_before_weighing_says_to_weigh_first(client, nina, phil):
    session = infusion_session(nina, phil)
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    client.force_login(phil)

    page = text(client.get(url("session", session)))
    response = client.post(url("dose-order", session), ORDER, **HTMX)

    assert 'data-testid="dose-weigh-first"' in page
    assert "Weigh the patient today first" in text(response)
    assert not DoseOrder.objects.exists()


@pytest.mark.parametrize("persona", ["nina", "fran", "alice"])
def test_only_a_physician_may_sign_or_preview(request, client, session, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.post(url("dose-order", session), ORDER).status_code == 403
    assert client.post(url("dose-calculate", session), ORDER).status_code == 403
    assert not DoseOrder.objects.exists()


# --- What was given ------------------------------------------------------------------------------


def given(lot, witness, **fields) -> dict:
    return {
        "lot": str(lot.public_id),
        "drawn_mg": "50",
        "administered_mg": "40",
        "witness": str(witness.public_id) if witness else "",
        "witness_password": PASSWORD,
        "note": "",
    } | fields


def test_the_administration_form_offers_usable_lots_and_other_clinicians(
    client, nina, phil, fran, infusing, lot
):
    empty = lot_receive(
        actor=nina,
        location=infusing.appointment.location,
        product_name="Ketamine",
        concentration_mg_per_ml="50",
        container_volume_ml="1",
        containers_received=1,
        lot_number="EMPTY-1",
        expiry_date=infusing.appointment.location.local_now().date() + timedelta(days=30),
        supplier="Hospira",
        **SUPPLIER,
        invoice_number="INV-2",
    )
    ledger_adjust(actor=nina, lot=empty, amount_mg="-50", reason="Broken vial")
    client.force_login(nina)

    page = text(client.get(url("session", infusing)))

    assert 'data-testid="dose-give-form"' in page
    assert f'value="{lot.public_id}"' in page
    assert f'value="{empty.public_id}"' not in page
    assert f'value="{phil.public_id}"' in page
    assert f'value="{nina.public_id}"' not in page
    assert f'value="{fran.public_id}"' not in page


def test_a_nurse_records_the_dose_and_the_witnessed_waste(client, nina, phil, infusing, lot):
    client.force_login(nina)

    response = client.post(url("dose-administer", infusing), given(lot, phil), **HTMX)

    assert "Recorded: 40 mg given, 10 mg wasted." in text(response)
    assert 'data-testid="dose-administration"' in text(response)
    administration = DoseAdministration.objects.get()
    assert (administration.given_by, administration.witness) == (nina, phil)
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("450")


def test_a_wrong_witness_password_is_shown_and_nothing_is_booked(client, nina, phil, infusing, lot):
    client.force_login(nina)

    response = client.post(
        url("dose-administer", infusing),
        given(lot, phil, witness_password="nope"),
        **HTMX,
    )

    assert "not Phil Physician&#x27;s password" in text(response)
    assert 'id="give-witness_password_error"' in text(response)
    assert not DoseAdministration.objects.exists()
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("500")


def test_the_nurse_cannot_name_herself_as_witness(client, nina, infusing, lot):
    client.force_login(nina)

    response = client.post(url("dose-administer", infusing), given(lot, nina))

    assert response.status_code == 400
    assert "Select a valid choice" in text(response)
    assert not DoseAdministration.objects.exists()
    assert LedgerEntry.objects.filter(lot=lot).count() == 1


def test_too_much_given_is_shown_and_nothing_is_booked(client, nina, phil, infusing, lot):
    client.force_login(nina)

    response = client.post(
        url("dose-administer", infusing),
        given(lot, phil, drawn_mg="45", administered_mg="45"),
        **HTMX,
    )

    assert "The order is for 40.0 mg" in text(response)
    assert not DoseAdministration.objects.exists()


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_only_clinicians_record_a_dose(request, client, phil, infusing, lot, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.post(url("dose-administer", infusing), given(lot, phil))

    assert response.status_code == 403
    assert not DoseAdministration.objects.exists()


# --- The history ---------------------------------------------------------------------------------


def test_the_history_marks_an_escalation_in_words(client, nina, phil, session):
    sign(phil, session, dose="0.5")
    location = session.appointment.location
    patient = session.appointment.patient
    appointment = book(
        nina, patient, location, "infusion", hour=9, day=next_week(location) + timedelta(days=3)
    )
    later = session_for_appointment(appointment=appointment, actor=nina)
    travel_to(appointment.starts_at - timedelta(minutes=10))  # its day, to check in
    later = session_transition(actor=nina, session=later, to_state=S.CHECKED_IN)
    complete_pre_assessment(later, nina)
    sign(phil, later, dose="0.75")
    client.force_login(nina)

    page = text(client.get(url("session", later)))

    assert 'data-testid="dose-history"' in page
    assert "▲ Escalation</span> +50 %" in page
    assert 'data-escalation="0.500"' in page
    assert "first dose" in page
    assert "this session" in page


def test_a_long_history_lists_the_latest_up_to_the_session(
    client, nina, phil, session, monkeypatch
):
    monkeypatch.setattr("infusions.views.sections.preassessment.DOSE_HISTORY", 1)
    sign(phil, session, dose="0.5")
    location = session.appointment.location
    patient = session.appointment.patient
    appointment = book(
        nina, patient, location, "infusion", hour=9, day=next_week(location) + timedelta(days=3)
    )
    later = session_for_appointment(appointment=appointment, actor=nina)
    travel_to(appointment.starts_at - timedelta(minutes=10))  # its day, to check in
    later = session_transition(actor=nina, session=later, to_state=S.CHECKED_IN)
    complete_pre_assessment(later, nina)
    sign(phil, later, dose="0.75")
    client.force_login(nina)

    latest = text(client.get(url("session", later)))
    earlier = text(client.get(url("session", session)))

    # The later session lists its own dose, escalated from the one before (not listed).
    assert latest.count("mg/kg</td>") == 1
    assert "0.75 mg/kg" in latest
    assert "▲ Escalation</span> +50 %" in latest
    assert "first dose" not in latest
    assert 'data-testid="earlier-doses"' in latest
    assert f"/staff/patients/{patient.public_id}/?show=sessions" in latest
    # The earlier session's history stops at it: the later dose is not in it.
    assert "0.75 mg/kg" not in earlier
    assert "first dose" in earlier
    assert 'data-testid="earlier-doses"' not in earlier


def _page_queries(client, session) -> int:
    """Queries for the session screen, leaving out the sign-in session's activity stamp
    (written at most once a minute)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url("session", session)).status_code == 200
    return len(
        [
            query
            for query in queries.captured_queries
            if "django_session" not in query["sql"] and "SAVEPOINT" not in query["sql"]
        ]
    )


def test_the_session_page_takes_the_same_queries_with_a_longer_history(client, nina, phil, session):
    sign(phil, session)
    client.force_login(nina)
    _page_queries(client, session)  # the flowsheet and the chart drawn, then kept
    before = _page_queries(client, session)
    location = session.appointment.location
    patient = session.appointment.patient
    for offset in (3, 6, 9):
        appointment = book(
            nina,
            patient,
            location,
            "infusion",
            hour=9,
            day=next_week(location) + timedelta(days=offset),
        )
        other = session_for_appointment(appointment=appointment, actor=nina)
        travel_to(appointment.starts_at - timedelta(minutes=10))  # its day, to check in
        other = session_transition(actor=nina, session=other, to_state=S.CHECKED_IN)
        complete_pre_assessment(other, nina)
        sign(phil, other)
    travel_to(session.appointment.starts_at - timedelta(minutes=10))  # back to the first day

    assert _page_queries(client, session) == before
