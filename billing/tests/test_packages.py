"""Packages: clinic admins define offers (effective-dated prices, retired, never rewriting what
was sold); the front desk sells one to a patient on an issued invoice; each visit of the
package's kind that ends is covered by the oldest package with visits left, and goes back to
it when the visit's end is undone, its covered line is taken off, or its invoice is voided.
The database refuses more uses than visits bought, two uses of one visit, and changes to what
was sold."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction

from billing.models import Invoice, PackageUse, PatientPackage
from billing.package_selectors import patient_packages, with_use_counts
from billing.packages import (
    package_offer_create,
    package_offer_retire,
    package_price_set,
    package_sell,
)
from billing.services import (
    invoice_issue,
    invoice_remove_line,
    invoice_void,
    payment_take,
)
from billing.tests.factories import price
from billing.tests.package_factories import offer, visit_of, visits_of
from infusions.discharge import discharge_sign
from infusions.tests.test_discharge import CHECKLIST, session_in
from patients.tests.factories import PatientFactory
from scheduling.services.status_changes import appointment_set_status
from scheduling.services.undo import appointment_undo
from scheduling.tests.factories import LocationFactory, appointment_type

pytestmark = pytest.mark.django_db
REFUSED = (IntegrityError, InternalError, ProgrammingError)


def refused(action) -> str:
    with pytest.raises(REFUSED) as caught, transaction.atomic():
        action()
    return str(caught.value)


def messages_of(caught) -> str:
    return " ".join(caught.value.messages)


def end(appointment, actor):
    appointment_set_status(actor=actor, appointment=appointment, status="discharged")
    return Invoice.objects.get(appointment=appointment)


def left_of(package) -> int:
    return with_use_counts(PatientPackage.objects.filter(pk=package.pk)).get().left


@pytest.fixture
def riverside():
    return LocationFactory(name="Riverside")


@pytest.fixture
def pat():
    return PatientFactory()


# --- Offers ----------------------------------------------------------------------------------


def test_a_clinic_admin_defines_an_offer_with_its_first_price(alice, riverside):
    made = package_offer_create(
        actor=alice,
        name="  Induction series of six   infusions ",
        appointment_type=appointment_type("infusion"),
        visits=6,
        amount="2,400.00",
        effective_from=date(2026, 1, 1),
        locations=[riverside],
    )

    assert made.name == "Induction series of six infusions" and made.visits == 6
    assert list(made.locations.all()) == [riverside]
    assert made.prices.get().amount == Decimal("2400.00")


def test_a_bad_offer_says_what_to_fix_and_makes_nothing(alice):
    offer(name="Six consultations")

    with pytest.raises(ValidationError) as caught:
        package_offer_create(
            actor=alice,
            name="six consultations",
            appointment_type=appointment_type("consultation"),
            visits=0,
            amount="-5",
            effective_from=date(1999, 1, 1),
        )

    errors = caught.value.message_dict
    assert "already has this name" in errors["name"][0]
    assert "from 1 to 50" in errors["visits"][0]
    assert "more than 0" in errors["amount"][0]
    assert "between 2000 and 2100" in errors["effective_from"][0]


def test_only_clinic_admins_define_offers(fran, nina):
    for someone in (fran, nina):
        with pytest.raises(PermissionDenied):
            package_offer_create(
                actor=someone,
                name="Three boosters",
                appointment_type=appointment_type("booster"),
                visits=3,
                amount="1200",
                effective_from=date(2026, 1, 1),
            )


def test_a_new_price_or_retiring_the_offer_never_rewrites_what_was_sold(
    alice, fran, pat, riverside
):
    sold_offer = offer(amount="1200")
    package = package_sell(actor=fran, patient=pat, offer=sold_offer, location=riverside)

    package_price_set(actor=alice, offer=sold_offer, amount="1500", effective_from=date(2021, 1, 1))
    package_offer_retire(actor=alice, offer=sold_offer)

    package.refresh_from_db()
    assert (package.price, package.visits) == (Decimal("1200.00"), 6)
    assert package.invoice.lines.get().amount == Decimal("1200.00")
    with pytest.raises(ValidationError) as caught:
        package_offer_retire(actor=alice, offer=sold_offer)
    assert "retired already" in messages_of(caught)


def test_the_database_keeps_an_offer_s_kind_and_visits_and_what_was_sold(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    sold_offer = package.offer

    assert "keeps its kind" in refused(
        lambda: type(sold_offer).objects.filter(pk=sold_offer.pk).update(visits=10)
    )
    assert "append-only" in refused(
        lambda: PatientPackage.objects.filter(pk=package.pk).update(visits=60)
    )
    assert "append-only" in refused(lambda: PatientPackage.objects.filter(pk=package.pk).delete())


# --- Selling ---------------------------------------------------------------------------------


def test_the_front_desk_sells_a_package_on_an_issued_invoice(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(amount="1200"), location=riverside)

    invoice = package.invoice
    assert invoice.status == "issued" and invoice.number is not None
    assert invoice.appointment is None and invoice.location == riverside
    line = invoice.lines.get()
    assert line.amount == Decimal("1200.00")
    assert line.description == "Package: Six consultations (6 × consultation)"
    assert (package.visits, package.price, package.sold_by) == (6, Decimal("1200.00"), fran)
    # Paid like any invoice.
    payment_take(actor=fran, invoice=invoice, method="cash", amount="1200")
    assert left_of(package) == 6


def test_a_clinician_does_not_sell_packages(nina, pat, riverside):
    with pytest.raises(PermissionDenied):
        package_sell(actor=nina, patient=pat, offer=offer(), location=riverside)
    assert not Invoice.objects.exists()


def test_a_package_is_sold_at_today_s_price(fran, alice, pat, riverside):
    sold_offer = offer(amount="1200")
    package_price_set(actor=alice, offer=sold_offer, amount="1300", effective_from=date(2021, 1, 1))
    package_price_set(actor=alice, offer=sold_offer, amount="9999", effective_from=date(2099, 1, 1))

    package = package_sell(actor=fran, patient=pat, offer=sold_offer, location=riverside)

    assert package.price == Decimal("1300.00")


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("retired", "no longer sold"),
        ("elsewhere", "is not sold at Riverside"),
        ("no_price", "has no price on"),
    ],
)
def test_a_sale_that_cannot_be_made_says_why_and_makes_nothing(
    alice, fran, pat, riverside, setup, message
):
    if setup == "retired":
        sold_offer = offer()
        package_offer_retire(actor=alice, offer=sold_offer)
    elif setup == "elsewhere":
        sold_offer = offer(locations=[LocationFactory(name="Mesa")])
    else:
        sold_offer = offer(effective_from=date.today() + timedelta(days=30))

    with pytest.raises(ValidationError) as caught:
        package_sell(actor=fran, patient=pat, offer=sold_offer, location=riverside)

    assert message in messages_of(caught)
    assert not Invoice.objects.exists() and not PatientPackage.objects.exists()


# --- Using visits ----------------------------------------------------------------------------


def test_the_end_of_a_visit_is_covered_by_the_package(fran, pat, riverside):
    price("consultation", riverside, "250.00")
    package = package_sell(actor=fran, patient=pat, offer=offer(visits=3), location=riverside)
    consultation = visit_of(pat, riverside)

    invoice = end(consultation, fran)

    line = invoice.lines.get()
    assert line.amount == Decimal("0.00")
    assert "covered by package: Six consultations (visit 1 of 3)" in line.description
    use = PackageUse.objects.get()
    assert (use.package, use.appointment, use.invoice, use.line) == (
        package,
        consultation,
        invoice,
        line,
    )
    assert left_of(package) == 2
    # The front desk issues it as usual: nothing is owed for the visit.
    issued = invoice_issue(actor=fran, invoice=invoice)
    assert issued.total == 0


def test_an_infusion_s_discharge_uses_an_infusion_package(nina, phil, fran):
    session = session_in(nina, phil)
    appointment = session.appointment
    price("infusion", appointment.location, "495.00")
    package = package_sell(
        actor=fran,
        patient=appointment.patient,
        offer=offer("Six infusions", kind="infusion", amount="2400"),
        location=appointment.location,
    )

    discharge_sign(actor=nina, session=session, **CHECKLIST)

    assert Invoice.objects.get(appointment=appointment).lines.get().amount == 0
    assert left_of(package) == 5


def test_a_visit_of_another_kind_is_charged_as_usual(fran, pat, riverside):
    price("follow_up", riverside, "125.00")
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)

    invoice = end(visit_of(pat, riverside, kind="follow_up"), fran)

    assert invoice.lines.get().amount == Decimal("125.00")
    assert left_of(package) == 6 and not PackageUse.objects.exists()


def test_the_oldest_package_is_used_first_and_then_the_next(fran, pat, riverside):
    price("consultation", riverside, "250.00")
    first = package_sell(actor=fran, patient=pat, offer=offer("Two", visits=2), location=riverside)
    second = package_sell(
        actor=fran, patient=pat, offer=offer("Ten", visits=10), location=riverside
    )

    for visit in visits_of(pat, riverside, 3):
        end(visit, fran)

    assert (left_of(first), left_of(second)) == (0, 9)


def test_with_no_visit_left_the_visit_is_charged_its_price(fran, pat, riverside):
    price("consultation", riverside, "250.00")
    package = package_sell(actor=fran, patient=pat, offer=offer(visits=1), location=riverside)
    covered, charged = visits_of(pat, riverside, 2)

    end(covered, fran)
    invoice = end(charged, fran)

    assert invoice.lines.get().amount == Decimal("250.00")
    assert left_of(package) == 0 and PackageUse.objects.count() == 1


def test_with_no_price_set_the_package_still_covers_the_visit(fran, pat, riverside):
    package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)

    invoice = end(visit_of(pat, riverside), fran)

    assert invoice.lines.get().amount == 0


def test_undoing_the_end_of_the_visit_gives_it_back_and_ending_it_again_uses_it_again(
    fran, pat, riverside
):
    price("consultation", riverside, "250.00")
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    consultation = visit_of(pat, riverside)
    invoice = end(consultation, fran)

    appointment_undo(actor=fran, appointment=consultation, reason="Pressed by mistake")

    use = PackageUse.objects.get()
    assert use.released_at is not None and use.released_by == fran
    assert "Pressed by mistake" in use.release_reason
    assert invoice.lines.get().amount == Decimal("250.00")
    assert left_of(package) == 6

    end(consultation, fran)
    assert invoice.lines.get().amount == 0
    assert left_of(package) == 5 and PackageUse.objects.count() == 2


def test_voiding_the_visit_s_invoice_gives_the_visit_back(fran, alice, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    invoice = invoice_issue(actor=fran, invoice=end(visit_of(pat, riverside), fran))

    invoice_void(actor=alice, invoice=invoice, reason="Visit recorded for the wrong patient")

    use = PackageUse.objects.get()
    assert use.released_by == alice and "wrong patient" in use.release_reason
    assert left_of(package) == 6


def test_taking_the_covered_line_off_the_draft_gives_the_visit_back(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    invoice = end(visit_of(pat, riverside), fran)

    invoice_remove_line(actor=fran, invoice=invoice, line_id=invoice.lines.get().pk)

    assert not invoice.lines.exists()
    use = PackageUse.objects.get()
    assert use.released_at is not None and use.line is None
    assert left_of(package) == 6


def test_a_package_with_visits_used_is_not_voided(fran, alice, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    end(visit_of(pat, riverside), fran)

    with pytest.raises(ValidationError) as caught:
        invoice_void(actor=alice, invoice=package.invoice, reason="Changed their mind")

    assert "void those visits' invoices first" in messages_of(caught)
    # Underneath, the database refuses it too.
    invoice = Invoice.objects.get(pk=package.invoice.pk)
    invoice.status, invoice.void_reason = "void", "Changed their mind"
    invoice.voided_at = invoice.issued_at
    assert "visits used cannot be voided" in refused(invoice.save)


def test_a_voided_package_covers_no_visit(fran, alice, pat, riverside):
    price("consultation", riverside, "250.00")
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    invoice_void(actor=alice, invoice=package.invoice, reason="Sold by mistake")

    invoice = end(visit_of(pat, riverside), fran)

    assert invoice.lines.get().amount == Decimal("250.00")
    assert [p.left for p in patient_packages(pat)] == [6]  # shown void, not live
    assert Invoice.objects.get(pk=package.invoice.pk).status == "void"


# --- The database's refusals -----------------------------------------------------------------


def _use(package, appointment, invoice, line=None):
    return lambda: PackageUse.objects.create(
        package=package, appointment=appointment, invoice=invoice, line=line
    )


def test_the_database_refuses_more_uses_than_visits_bought(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(visits=1), location=riverside)
    first, second = visits_of(pat, riverside, 2)
    invoices = [
        Invoice.objects.create(patient=pat, location=riverside, appointment=a, currency="USD")
        for a in (first, second)
    ]
    _use(package, first, invoices[0])()

    assert "no more visits than were bought" in refused(_use(package, second, invoices[1]))


def test_the_database_refuses_two_uses_of_one_visit(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    consultation = visit_of(pat, riverside)
    invoice = Invoice.objects.create(
        patient=pat, location=riverside, appointment=consultation, currency="USD"
    )
    _use(package, consultation, invoice)()

    assert "one_package_use_per_visit" in refused(_use(package, consultation, invoice))


def test_the_database_refuses_a_use_of_another_patient_or_kind_or_invoice(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    other = visit_of(PatientFactory(), riverside)
    follow_up = visit_of(pat, riverside, kind="follow_up")
    consultation = visit_of(pat, riverside, hours_ago=5)
    sale = package.invoice

    for appointment in (other, follow_up):
        invoice = Invoice.objects.create(
            patient=appointment.patient, location=riverside, appointment=appointment, currency="USD"
        )
        assert "own patient and kind" in refused(_use(package, appointment, invoice))
    assert "own draft invoice" in refused(_use(package, consultation, sale))


def test_a_package_use_is_never_deleted_nor_changed_but_to_give_it_back(fran, pat, riverside):
    package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    end(visit_of(pat, riverside), fran)
    use = PackageUse.objects.get()

    with connection.cursor() as cursor:
        delete = f"DELETE FROM {PackageUse._meta.db_table} WHERE id = %s"  # noqa: S608
        assert "never deleted" in refused(lambda: cursor.execute(delete, [use.pk]))
    assert "given back" in refused(
        lambda: PackageUse.objects.filter(pk=use.pk).update(
            appointment=visit_of(pat, riverside, hours_ago=7)
        )
    )
    assert "package_use_release_has_reason" in refused(
        lambda: PackageUse.objects.filter(pk=use.pk).update(released_at=use.used_at)
    )


def test_undoing_the_end_of_a_visit_with_no_price_takes_its_covered_line_off(fran, pat, riverside):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    consultation = visit_of(pat, riverside)
    invoice = end(consultation, fran)

    appointment_undo(actor=fran, appointment=consultation, reason="Not done yet")

    assert not invoice.lines.exists()
    use = PackageUse.objects.get()
    assert use.released_at is not None and use.line is None
    assert left_of(package) == 6


def test_an_issued_visit_invoice_keeps_its_package_visit_when_the_end_is_undone(
    fran, pat, riverside
):
    package = package_sell(actor=fran, patient=pat, offer=offer(), location=riverside)
    consultation = visit_of(pat, riverside)
    invoice_issue(actor=fran, invoice=end(consultation, fran))

    appointment_undo(actor=fran, appointment=consultation, reason="Not done yet")

    # The books do not change with the visit: voiding the invoice gives the visit back.
    assert left_of(package) == 5
