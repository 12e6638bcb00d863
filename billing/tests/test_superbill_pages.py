"""The superbill: fran at the front desk prints one for a visit, and one for every visit in a
date range, with the practice, the patient, the diagnoses as ICD-10-CM codes, the services as
CPT codes with units from the session's infusion minutes, the charges and what was paid;
nina the nurse gets no further than the balance; every read is audited; the range superbill
costs the same number of queries however many visits it holds; alice edits the codes."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.codes import practice_details_set
from billing.models import DiagnosisCode, InvoiceLine, Payment, PracticeDetails, ServiceCode
from billing.services import invoice_issue
from billing.tests.factories import draft, issued, visit
from clinic.models import AuditEvent
from infusions.models import SessionStateChange
from infusions.tests.factories import signed_order
from patients.models import QuestionnaireResponse
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def superbill_page(invoice) -> str:
    return f"/staff/billing/invoices/{invoice.public_id}/superbill/"


def range_page(patient, start="", end="") -> str:
    url = f"/staff/billing/patients/{patient.public_id}/superbill/"
    return url + (f"?start={start}&end={end}" if start or end else "")


def infused_visit(patient, location, nurse, *, minutes: int, days_ago: int = 0, price="450.00"):
    """An infusion visit discharged after ``minutes`` of infusing, with its issued invoice."""
    appointment = visit("infusion", status="discharged", patient=patient, location=location)
    if days_ago:
        shift = timedelta(days=days_ago)
        appointment.starts_at -= shift
        appointment.ends_at -= shift
        appointment.blocks_until -= shift
        appointment.save(update_fields=["starts_at", "ends_at", "blocks_until"])
    session = appointment.infusion_session
    started = appointment.starts_at + timedelta(minutes=5)
    ended = started + timedelta(minutes=minutes)
    for to_state, at in (("infusing", started), ("recovering", ended), ("discharged", ended)):
        SessionStateChange.objects.create(
            session=session, from_state="x", to_state=to_state, at=at, by=nurse
        )
    session.started_at, session.ended_at = started, ended + timedelta(minutes=40)
    session.save(update_fields=["started_at", "ended_at"])
    return issued(appointment=appointment, lines=[price])


@pytest.fixture
def robin():
    return PatientFactory(
        legal_first_name="Robin",
        legal_last_name="Vale",
        conditions=["trd", "anxiety", "sud"],
        address_line1="12 Orchard Lane",
        city="Albany",
        region="NY",
        postal_code="12207",
    )


@pytest.fixture
def riverside(alice):
    location = LocationFactory(name="Riverside")
    practice_details_set(
        actor=alice,
        location=None,
        practice_name="Calm Waters Infusions",
        npi="1234567893",
        tax_id="12-3456789",
        place_of_service="11",
    )
    return location


def test_fran_prints_the_superbill_of_an_infusion_that_ran_100_minutes(
    client, fran, nina, robin, riverside
):
    invoice = infused_visit(robin, riverside, nina, minutes=100)
    Payment.objects.create(invoice=invoice, method="cash", amount=Decimal("200.00"), taken_by=fran)
    QuestionnaireResponse.objects.create(
        patient=robin,
        instrument="phq9",
        answers={},
        total=14,
        band="moderate",
        completed_at=invoice.appointment.starts_at - timedelta(hours=20),
    )
    client.force_login(fran)

    response = client.get(superbill_page(invoice))

    assert response.status_code == 200
    shown = response.content.decode()
    assert "Calm Waters Infusions" in shown and "NPI: 1234567893" in shown
    assert "Tax id (EIN): 12-3456789" in shown and "11 Office" in shown
    assert "Robin Vale" in shown and "Mar 27, 1984" in shown and "12 Orchard Lane" in shown
    assert "F33.2" in shown and "F41.1" in shown
    assert "substance use disorder" in shown  # uncoded: the admin is told
    rows = [
        (line.code, line.units, line.charge, line.included)
        for line in response.context["bill"].visits[0].services
    ]
    assert rows == [
        ("96365", 1, Decimal("450.00"), False),
        ("96366", 1, Decimal("0.00"), True),
        ("96127", 1, Decimal("0.00"), True),
    ]
    assert 'data-testid="superbill-charges">450.00 USD<' in shown.replace("$", "")
    assert "superbill-paid" in shown and "200.00" in shown
    assert "css/print/superbill.css" in shown
    assert AuditEvent.objects.filter(
        object_id=str(invoice.public_id), action="view", summary__contains="the superbill"
    ).exists()


def test_a_40_minute_infusion_bills_the_first_hour_only(client, fran, nina, robin, riverside):
    invoice = infused_visit(robin, riverside, nina, minutes=40)
    client.force_login(fran)

    bill = client.get(superbill_page(invoice)).context["bill"]

    assert [(s.code, s.units) for s in bill.visits[0].services] == [("96365", 1)]


def test_a_location_bills_with_its_own_place_of_service(
    client, alice, fran, nina, robin, riverside
):
    practice_details_set(actor=alice, location=riverside, place_of_service="22")
    invoice = infused_visit(robin, riverside, nina, minutes=40)
    client.force_login(fran)

    practice = client.get(superbill_page(invoice)).context["bill"].practices[0]

    assert practice.place_of_service == "22" and practice.npi == "1234567893"
    assert practice.address_lines == riverside.address_lines


def test_a_consultation_is_coded_as_a_new_patient_visit(client, fran, robin, riverside):
    appointment = visit("consultation", status="discharged", patient=robin, location=riverside)
    invoice = draft(appointment=appointment, lines=["250.00"])
    InvoiceLine.objects.create(
        invoice=invoice,
        description="Lab work",
        service_code="36415",
        quantity=1,
        unit_amount=Decimal("20.00"),
        amount=Decimal("20.00"),
    )
    invoice_issue(actor=fran, invoice=invoice)
    client.force_login(fran)

    services = client.get(superbill_page(invoice)).context["bill"].visits[0].services

    assert [(s.code, s.units, s.charge) for s in services] == [
        ("99204", 1, Decimal("250.00")),
        ("36415", 1, Decimal("20.00")),
    ]


def test_a_no_show_fee_is_no_service_and_gets_no_code(client, fran, robin, riverside):
    missed = visit("infusion", status="no_show", patient=robin, location=riverside)
    invoice = issued(appointment=missed, lines=["75.00"])
    client.force_login(fran)

    response = client.get(superbill_page(invoice))

    services = response.context["bill"].visits[0].services
    assert [(s.code, s.charge) for s in services] == [("", Decimal("75.00"))]
    assert "Some charges have no CPT or HCPCS code" in response.content.decode()


def test_the_codes_are_data_a_changed_code_shows_on_the_next_superbill(
    client, fran, nina, robin, riverside
):
    ServiceCode.objects.filter(code="J3490").update(is_active=True)
    DiagnosisCode.objects.filter(condition="trd").update(code="F33.1", description="Moderate")
    invoice = infused_visit(robin, riverside, nina, minutes=40)
    client.force_login(fran)

    shown = client.get(superbill_page(invoice)).content.decode()

    assert "F33.1" in shown and "F33.2" not in shown
    assert "J3490" not in shown  # no dose was given in this session: no drug to bill


def test_a_draft_invoice_has_no_superbill_yet(client, fran, robin, riverside):
    invoice = draft(patient=robin, location=riverside)
    client.force_login(fran)

    response = client.get(superbill_page(invoice))

    assert response.status_code == 200
    assert "issue the invoice first" in response.content.decode()
    assert response.context["bill"] is None


def test_clinicians_see_the_balance_only_and_no_superbill(client, nina, phil, robin, riverside):
    invoice = issued(patient=robin, location=riverside)
    for clinician in (nina, phil):
        client.force_login(clinician)
        assert client.get(superbill_page(invoice)).status_code == 403
        assert client.get(range_page(robin)).status_code == 403


def test_an_unknown_invoice_or_patient_is_404(client, fran):
    client.force_login(fran)
    unknown = "00000000-0000-0000-0000-000000000000"
    assert client.get(f"/staff/billing/invoices/{unknown}/superbill/").status_code == 404
    assert client.get(f"/staff/billing/patients/{unknown}/superbill/").status_code == 404


def test_the_range_superbill_lists_every_charged_visit_in_the_dates(
    client, fran, nina, robin, riverside
):
    old = infused_visit(robin, riverside, nina, minutes=40, days_ago=40)
    recent = infused_visit(robin, riverside, nina, minutes=100, days_ago=3)
    draft(patient=robin, location=riverside)  # not issued: not on the superbill
    today = timezone.localdate()
    client.force_login(fran)

    response = client.get(range_page(robin, today - timedelta(days=10), today))

    bill = response.context["bill"]
    assert [visit.invoice for visit in bill.visits] == [recent]
    assert bill.charges == Decimal("450.00")
    everything = client.get(range_page(robin, today - timedelta(days=60), today)).context["bill"]
    assert [visit.invoice for visit in everything.visits] == [old, recent]
    assert AuditEvent.objects.filter(
        object_id=str(robin.public_id), summary__startswith="viewed the superbill for"
    ).exists()


def test_a_questionnaire_counts_once_for_the_first_visit_it_falls_before(
    client, fran, nina, robin, riverside
):
    first = infused_visit(robin, riverside, nina, minutes=40, days_ago=2)
    second = infused_visit(robin, riverside, nina, minutes=40, days_ago=1)
    QuestionnaireResponse.objects.create(
        patient=robin,
        instrument="phq9",
        answers={},
        total=9,
        band="mild",
        completed_at=first.appointment.starts_at - timedelta(hours=2),
    )
    today = timezone.localdate()
    client.force_login(fran)

    bill = client.get(range_page(robin, today - timedelta(days=5), today)).context["bill"]

    codes = {visit.invoice: [s.code for s in visit.services] for visit in bill.visits}
    assert codes == {first: ["96365", "96127"], second: ["96365"]}


def test_a_missed_visit_takes_no_questionnaire_from_the_next(client, fran, nina, robin, riverside):
    attended = infused_visit(robin, riverside, nina, minutes=40, days_ago=1)
    missed = visit("infusion", status="no_show", patient=robin, location=riverside)
    missed.starts_at = attended.appointment.starts_at - timedelta(hours=30)
    missed.ends_at = missed.starts_at + timedelta(minutes=40)
    missed.blocks_until = missed.ends_at + timedelta(minutes=45)
    missed.save()
    issued(appointment=missed, lines=["75.00"])  # its fee
    QuestionnaireResponse.objects.create(
        patient=robin,
        instrument="gad7",
        answers={},
        total=8,
        band="mild",
        completed_at=missed.starts_at - timedelta(hours=1),
    )
    client.force_login(fran)

    bill = client.get(superbill_page(attended)).context["bill"]

    assert [s.code for s in bill.visits[0].services] == ["96365", "96127"]


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-03-01", "2026-02-01", "comes before the first"),
        ("2024-01-01", "2026-01-01", "366 days at most"),
        ("soon", "2026-01-01", "Enter a date"),
    ],
)
def test_bad_dates_say_what_to_fix(client, fran, robin, start, end, message):
    client.force_login(fran)

    response = client.get(range_page(robin, start, end))

    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_range_superbill_costs_the_same_queries_however_many_visits(
    client, fran, nina, robin, riverside
):
    today = timezone.localdate()
    url = range_page(robin, today - timedelta(days=30), today)
    infused_visit(robin, riverside, nina, minutes=100, days_ago=1)
    client.force_login(fran)
    client.get(url)
    with CaptureQueriesContext(connection) as one:
        client.get(url)
    for days_ago in (2, 3, 4, 5):
        infused_visit(robin, riverside, nina, minutes=40, days_ago=days_ago)
    with CaptureQueriesContext(connection) as five:
        response = client.get(url)

    assert len(response.context["bill"].visits) == 5
    assert len(five) == len(one)


def test_the_invoice_and_billing_pages_link_to_the_superbill(client, fran, robin, riverside):
    invoice = issued(patient=robin, location=riverside)
    client.force_login(fran)

    invoice_page = client.get(f"/staff/billing/invoices/{invoice.public_id}/").content.decode()
    billing_page = client.get(f"/staff/billing/patients/{robin.public_id}/").content.decode()

    assert superbill_page(invoice) in invoice_page
    assert range_page(robin) in billing_page


def test_alice_sets_the_practice_details_and_codes_on_the_staff_pages(client, alice, fran):
    client.force_login(alice)
    assert client.get("/staff/billing/superbill-codes/").status_code == 200

    bad = client.post(
        "/staff/billing/superbill-codes/practice/", {"npi": "1234567890", "tax_id": "12"}
    )
    assert bad.status_code == 400 and "check digit" in bad.content.decode()
    assert PracticeDetails.objects.get(location=None).npi == ""

    good = client.post(
        "/staff/billing/superbill-codes/practice/",
        {"practice_name": "Calm Waters", "npi": "1234567893", "tax_id": "12-3456789"},
    )
    assert good.status_code == 302
    assert PracticeDetails.objects.get(location=None).npi == "1234567893"

    code = ServiceCode.objects.get(appointment_type__kind="follow_up", code="99214")
    changed = client.post(
        f"/staff/billing/superbill-codes/services/{code.public_id}/",
        {
            "appointment_type": code.appointment_type_id,
            "code": "99215",
            "description": "Office visit, established patient (high complexity)",
            "units_rule": "per_visit",
            "position": 0,
            "is_active": "on",
        },
    )
    assert changed.status_code == 302
    code.refresh_from_db()
    assert code.code == "99215"

    recoded = client.post(
        "/staff/billing/superbill-codes/diagnoses/cluster_headache/",
        {"code": "G44.009", "description": "Cluster headache syndrome, unspecified"},
    )
    assert recoded.status_code == 302
    assert DiagnosisCode.objects.get(condition="cluster_headache").code == "G44.009"

    client.force_login(fran)
    assert client.get("/staff/billing/superbill-codes/").status_code == 403


def test_an_invoice_for_no_visit_shows_on_the_day_it_was_issued(client, fran, robin, riverside):
    invoice = issued(patient=robin, location=riverside, lines=["40.00"])
    today = timezone.localdate()
    client.force_login(fran)

    bill = client.get(range_page(robin, today - timedelta(days=1), today + timedelta(days=1)))
    earlier = client.get(range_page(robin, today - timedelta(days=9), today - timedelta(days=2)))

    visits = bill.context["bill"].visits
    assert [(v.invoice, v.what, [s.charge for s in v.services]) for v in visits] == [
        (invoice, "Services", [Decimal("40.00")])
    ]
    assert earlier.context["bill"].visits == []
    assert "No visits were charged in these dates" in earlier.content.decode()


def test_an_infusion_under_16_minutes_shows_its_price_on_an_uncoded_line_saying_why(
    client, fran, nina, robin, riverside
):
    invoice = infused_visit(robin, riverside, nina, minutes=12, price="495.00")
    QuestionnaireResponse.objects.create(
        patient=robin,
        instrument="phq9",
        answers={},
        total=14,
        band="moderate",
        completed_at=invoice.appointment.starts_at - timedelta(hours=2),
    )
    client.force_login(fran)

    response = client.get(superbill_page(invoice))

    bill = response.context["bill"]
    rows = [(s.code, s.units, s.charge, s.included) for s in bill.visits[0].services]
    # Never the infusion's price against the questionnaire's code (96127).
    assert rows == [
        ("", 1, Decimal("495.00"), False),
        ("96127", 1, Decimal("0.00"), True),
    ]
    assert bill.visits[0].services[0].description == (
        "Infusion under 16 minutes: no time-based code applies"
    )
    assert bill.charges == bill.visits[0].invoice.total == Decimal("495.00")
    shown = response.content.decode()
    assert "Infusion under 16 minutes: no time-based code applies" in shown
    # A reason is given: not a charge someone forgot to code.
    assert not bill.missing_codes


def test_an_infusions_rendering_provider_is_the_physician_who_signed_the_dose(
    client, fran, nina, phil, robin, riverside
):
    invoice = infused_visit(robin, riverside, nina, minutes=40)
    appointment = invoice.appointment
    appointment.clinician = nina
    appointment.save(update_fields=["clinician"])
    signed_order(appointment.infusion_session, phil)
    client.force_login(fran)

    bill = client.get(superbill_page(invoice)).context["bill"]

    assert bill.visits[0].provider == phil.full_name


def test_a_consultations_rendering_provider_is_its_clinician(client, fran, phil, robin, riverside):
    appointment = visit("consultation", status="discharged", patient=robin, location=riverside)
    appointment.clinician = phil
    appointment.save(update_fields=["clinician"])
    invoice = issued(appointment=appointment, lines=["300.00"])
    client.force_login(fran)

    bill = client.get(superbill_page(invoice)).context["bill"]

    assert bill.visits[0].provider == phil.full_name
