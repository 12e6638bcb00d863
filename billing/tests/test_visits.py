"""Where a visit ends, its invoice is drafted: at the end of a consultation and at an
infusion's discharge, once per visit, with the price in effect on the visit's local day; with
no price set, a draft with no line that says so, and the visit ends all the same."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest

from billing.models import Invoice
from billing.services import invoice_add_visit_price, invoice_draft_for_visit, price_set
from billing.tests.factories import price, visit
from infusions.discharge import discharge_sign
from infusions.tests.test_discharge import CHECKLIST, session_in
from scheduling.models import AppointmentStatus
from scheduling.services.status_changes import appointment_set_status
from scheduling.tests.factories import AppointmentFactory, LocationFactory, appointment_type

pytestmark = pytest.mark.django_db


def test_the_end_of_a_consultation_drafts_its_invoice_at_the_visit_s_price(fran):
    consultation = visit("consultation", status=AppointmentStatus.CHECKED_IN)
    price("consultation", consultation.location, "250.00")

    appointment_set_status(actor=fran, appointment=consultation, status="discharged")

    invoice = Invoice.objects.get(appointment=consultation)
    assert invoice.status == "draft" and invoice.patient == consultation.patient
    assert invoice.created_by == fran and invoice.currency == "USD"
    line = invoice.lines.get()
    assert (line.quantity, line.amount) == (1, Decimal("250.00"))
    assert line.description.startswith("Consultation on ")


def test_an_infusion_s_discharge_drafts_its_invoice(nina, phil):
    session = session_in(nina, phil)
    appointment = session.appointment
    price("infusion", appointment.location, "495.00")

    discharge_sign(actor=nina, session=session, **CHECKLIST)

    invoice = Invoice.objects.get(appointment=appointment)
    assert invoice.lines.get().amount == Decimal("495.00")


def test_the_price_is_the_one_in_effect_on_the_visit_s_local_day(alice):
    # 23:30 in Chicago is the next day in UTC: the local day decides.
    location = LocationFactory(time_zone="America/Chicago")
    local_day = date(2026, 3, 9)
    starts_at = datetime.combine(local_day, time(23, 30), tzinfo=location.tz)
    consultation = AppointmentFactory(
        appointment_type=appointment_type("consultation"), location=location, starts_at=starts_at
    )
    assert starts_at.astimezone(UTC).date() == local_day + timedelta(days=1)
    price("consultation", location, "200", effective_from=local_day - timedelta(days=30))
    price("consultation", location, "220", effective_from=local_day)
    price("consultation", location, "260", effective_from=local_day + timedelta(days=1))

    invoice = invoice_draft_for_visit(appointment=consultation, actor=None)

    assert invoice.lines.get().amount == Decimal("220.00")
    # A later change of price rewrites nothing.
    price_set(
        actor=alice,
        appointment_type=consultation.appointment_type,
        location=location,
        amount="999",
        effective_from=local_day,
    )
    assert invoice.lines.get().amount == Decimal("220.00")


def test_one_invoice_per_visit(fran):
    consultation = visit("consultation")
    price("consultation", consultation.location, "100")

    first = invoice_draft_for_visit(appointment=consultation, actor=fran)
    again = invoice_draft_for_visit(appointment=consultation, actor=fran)

    assert first.pk == again.pk
    assert Invoice.objects.count() == 1 and first.lines.count() == 1


def test_with_no_price_the_visit_still_ends_with_an_empty_draft(fran, alice):
    consultation = visit("consultation", status=AppointmentStatus.CHECKED_IN)

    appointment_set_status(actor=fran, appointment=consultation, status="discharged")

    consultation.refresh_from_db()
    invoice = Invoice.objects.get(appointment=consultation)
    assert consultation.status == "discharged"
    assert not invoice.lines.exists()
    # Once an admin sets the price, the front desk puts it on the draft.
    price_set(
        actor=alice,
        appointment_type=consultation.appointment_type,
        location=consultation.location,
        amount="180",
        effective_from=consultation.starts_at.date() - timedelta(days=1),
    )
    invoice_add_visit_price(actor=fran, invoice=invoice)
    assert invoice.lines.get().amount == Decimal("180.00")
