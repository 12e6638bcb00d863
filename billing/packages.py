"""Packages: a series of visits of one kind sold together (e.g. an induction series of six
infusions at a package price) and used one visit at a time.

- Clinic admins define offers (``package_offer_create``), set their effective-dated prices
  (``package_price_set``) and retire them (``package_offer_retire``). A package sold copies
  the offer's name, visits and price: nothing done to the offer rewrites what was sold.
- The front desk sells one to a patient (``package_sell``): an issued invoice for the package
  price, paid like any other invoice (cash, cheque, the card terminal, the card on file).
- When a visit of the package's kind ends, its draft invoice's visit line is covered by the
  patient's oldest package with visits left (``package_cover_visit``, from ``billing.visits``):
  the line is priced at zero and names the package, and a ``PackageUse`` records it.
- The visit goes back to the package when its end is undone (``package_visit_give_back``),
  when the covered line is taken off the draft (``billing.services.invoice_remove_line``), or
  when its invoice is voided (the database does it, migration ``0007_packages``).

The database refuses more uses than visits bought, a second use of one visit, and changes to
what was sold (``billing.models``, migration ``0007_packages``).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from billing.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PackageOffer,
    PackagePrice,
    PackageUse,
    PatientPackage,
)
from billing.package_selectors import (
    offer_sold_at,
    package_price_in_effect,
    with_use_counts,
)
from billing.selectors import price_in_effect, visit_date
from billing.services import DESCRIPTION_MAX, _amount, _money, invoice_issue
from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability, require
from patients.models import Patient
from scheduling.models import Appointment, AppointmentType

NAME_MAX = PackageOffer._meta.get_field("name").max_length
MAX_VISITS = 50


def _effective_from(value: date) -> date:
    if not isinstance(value, date) or not date(2000, 1, 1) <= value <= date(2100, 12, 31):
        raise ValidationError(
            {"effective_from": ["Enter the day the price starts, between 2000 and 2100."]}
        )
    return value


# --- Offers (clinic admins) ------------------------------------------------------------------


@transaction.atomic
def package_offer_create(
    *,
    actor: User,
    name: str,
    appointment_type: AppointmentType,
    visits: int,
    amount: object,
    effective_from: date,
    locations: list[Location] | tuple[Location, ...] = (),
    request: HttpRequest | None = None,
) -> PackageOffer:
    """A new package offer: ``visits`` visits of ``appointment_type`` for ``amount`` from
    ``effective_from`` on, sold at ``locations`` (none: at every location)."""
    require(actor, Capability.MANAGE_PRICES)
    errors: dict[str, list[str]] = {}
    name = " ".join((name or "").split())
    if not name:
        errors["name"] = ["Name the package as the patient will read it, e.g. “Six infusions”."]
    elif len(name) > NAME_MAX:
        errors["name"] = [f"Shorten the name to {NAME_MAX} characters or fewer."]
    elif PackageOffer.objects.filter(name__iexact=name, retired_at__isnull=True).exists():
        errors["name"] = ["A package on sale already has this name: choose another."]
    if isinstance(visits, bool) or not isinstance(visits, int) or not 1 <= visits <= MAX_VISITS:
        errors["visits"] = [f"Enter the number of visits, from 1 to {MAX_VISITS}."]
    try:
        amount = _amount(amount, "amount")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        _effective_from(effective_from)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    offer = PackageOffer.objects.create(
        name=name, appointment_type=appointment_type, visits=visits, created_by=actor
    )
    offer.locations.set(locations)
    PackagePrice.objects.create(
        offer=offer, effective_from=effective_from, amount=amount, set_by=actor
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=offer,
        summary=f"created the package offer ({visits} visits) at {_money(amount)} "
        f"from {effective_from:%Y-%m-%d}",
        request=request,
    )
    return offer


@transaction.atomic
def package_price_set(
    *,
    actor: User,
    offer: PackageOffer,
    amount: object,
    effective_from: date,
    request: HttpRequest | None = None,
) -> PackagePrice:
    """Set what ``offer`` costs from ``effective_from`` on (a new price, or a new amount for
    one starting that day). Packages already sold keep the price they were sold at."""
    require(actor, Capability.MANAGE_PRICES)
    amount = _amount(amount, "amount")
    _effective_from(effective_from)
    locked = PackageOffer.objects.select_for_update().get(pk=offer.pk)
    if locked.retired_at is not None:
        raise ValidationError({"offer": ["This package is retired: it has no new prices."]})
    price, created = PackagePrice.objects.get_or_create(
        offer=locked,
        effective_from=effective_from,
        defaults={"amount": amount, "set_by": actor},
    )
    if not created:
        price.amount, price.set_by, price.set_at = amount, actor, timezone.now()
        price.save(update_fields=["amount", "set_by", "set_at"])
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        target=price,
        summary=f"set the package price to {_money(amount)} from {effective_from:%Y-%m-%d}",
        request=request,
    )
    return price


@transaction.atomic
def package_offer_retire(
    *, actor: User, offer: PackageOffer, request: HttpRequest | None = None
) -> PackageOffer:
    """Stop selling ``offer``. Packages already sold are used as before."""
    require(actor, Capability.MANAGE_PRICES)
    locked = PackageOffer.objects.select_for_update().get(pk=offer.pk)
    if locked.retired_at is not None:
        raise ValidationError({"offer": ["This package is retired already."]})
    locked.retired_at, locked.retired_by = timezone.now(), actor
    locked.save(update_fields=["retired_at", "retired_by"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary="retired the package offer",
        request=request,
    )
    offer.retired_at, offer.retired_by = locked.retired_at, actor
    return locked


# --- Selling (front desk) --------------------------------------------------------------------


def sale_terms(offer: PackageOffer, location: Location) -> PackagePrice:
    """The price ``offer`` is sold at, at ``location`` today, or a ValidationError saying why
    it is not sold there now."""
    if offer.retired_at is not None:
        raise ValidationError(
            {"offer": [f"“{offer.name}” is no longer sold: choose another package."]}
        )
    if not offer_sold_at(offer, location):
        raise ValidationError(
            {"location": [f"“{offer.name}” is not sold at {location.name}: choose another."]}
        )
    today = timezone.now().astimezone(location.tz).date()
    price = package_price_in_effect(offer, today)
    if price is None:
        raise ValidationError(
            {
                "offer": [
                    f"“{offer.name}” has no price on {today:%b %-d, %Y} yet: a clinic admin "
                    "sets it under Packages."
                ]
            }
        )
    return price


@transaction.atomic
def package_sell(
    *,
    actor: User,
    patient: Patient,
    offer: PackageOffer,
    location: Location,
    request: HttpRequest | None = None,
) -> PatientPackage:
    """Sell ``offer`` to ``patient`` at ``location``: an invoice for the package price is
    issued now (paid like any invoice), and the patient has the offer's visits to use."""
    require(actor, Capability.TAKE_PAYMENTS)
    if not location.is_active:
        raise ValidationError({"location": ["Choose a location that is open."]})
    offer = (
        PackageOffer.objects.select_for_update().select_related("appointment_type").get(pk=offer.pk)
    )
    price = sale_terms(offer, location)
    invoice = Invoice.objects.create(
        patient=patient,
        location=location,
        currency=settings.BILLING_CURRENCY,
        created_by=actor,
    )
    description = f"Package: {offer.name} ({offer.visits} × {offer.appointment_type.name.lower()})"
    InvoiceLine.objects.create(
        invoice=invoice,
        description=description[:DESCRIPTION_MAX],
        quantity=1,
        unit_amount=price.amount,
        amount=price.amount,
    )
    invoice_issue(actor=actor, invoice=invoice, request=request)
    package = PatientPackage.objects.create(
        patient=patient,
        offer=offer,
        location=location,
        name=offer.name,
        visits=offer.visits,
        price=price.amount,
        invoice=invoice,
        sold_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=package,
        summary=f"sold a package of {offer.visits} visits for {_money(price.amount)} on "
        f"invoice {invoice.number} to patient {patient.public_id}",
        request=request,
    )
    return package


# --- Using a visit, and giving it back -------------------------------------------------------


def _visit_line_description(appointment: Appointment) -> str:
    """The description ``billing.services`` gives a visit's price line."""
    return f"{appointment.appointment_type.name} on {visit_date(appointment):%b %-d, %Y}"


@transaction.atomic
def package_cover_visit(
    *, invoice: Invoice, appointment: Appointment, actor: User | None
) -> PackageUse | None:
    """Cover the visit ``appointment`` by the patient's oldest package of its kind with visits
    left, if there is one: the visit's line on its draft ``invoice`` is priced at zero and
    names the package. Called in the transaction that ends the visit, after its draft is
    made (``billing.visits``). Nothing happens if the invoice is no longer a draft or the
    visit is covered already (a visit ended again after an undo)."""
    locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
    if locked.status != InvoiceStatus.DRAFT:
        return None
    standing = PackageUse.objects.filter(appointment=appointment, released_at__isnull=True)
    if standing.exists():
        return standing.get()
    candidates = PatientPackage.objects.filter(
        patient_id=appointment.patient_id,
        offer__appointment_type_id=appointment.appointment_type_id,
    ).exclude(invoice__status=InvoiceStatus.VOID)
    # Lock them, oldest first (the order every request takes), then count what is left.
    ids = list(
        candidates.select_for_update(of=("self",))
        .order_by("sold_at", "id")
        .values_list("pk", flat=True)
    )
    package = (
        with_use_counts(PatientPackage.objects.filter(pk__in=ids))
        .filter(left__gt=0)
        .order_by("sold_at", "id")
        .first()
    )
    if package is None:
        return None
    number = package.used + 1
    plain = _visit_line_description(appointment)
    description = f"{plain}, covered by package: {package.name} (visit {number} of "
    description = f"{description[: DESCRIPTION_MAX - 10]}{package.visits})"
    line = locked.lines.filter(description=plain).order_by("id").first()
    if line is None:
        line = InvoiceLine(invoice=locked, quantity=1)
    line.description, line.unit_amount, line.amount = description, 0, 0
    line.save()
    use = PackageUse.objects.create(
        package=package,
        appointment=appointment,
        invoice=locked,
        line=line,
        used_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=use,
        summary=f"covered a visit by a package (visit {number} of {package.visits}) for "
        f"patient {package.patient.public_id}",
    )
    return use


@transaction.atomic
def package_visit_give_back(
    *, appointment: Appointment, actor: User | None, reason: str
) -> PackageUse | None:
    """Give the visit ``appointment`` back to its package, if a package covers it and its
    invoice is still a draft (an issued invoice keeps it until it is voided): the visit's line
    is charged at its price again (or taken off when no price is set). Called when the
    visit's end is undone (``billing.visits``)."""
    use = (
        PackageUse.objects.select_for_update()
        .filter(appointment=appointment, released_at__isnull=True)
        .select_related("package")
        .first()
    )
    if use is None:
        return None
    invoice = Invoice.objects.select_for_update().get(pk=use.invoice_id)
    if invoice.status != InvoiceStatus.DRAFT:
        return None
    use.released_at = timezone.now()
    use.released_by = actor if actor is not None and actor.is_authenticated else None
    use.release_reason = reason
    use.save(update_fields=["released_at", "released_by", "release_reason"])
    line = InvoiceLine.objects.filter(pk=use.line_id).first() if use.line_id else None
    if line is not None:
        price = price_in_effect(appointment)
        if price is None:
            line.delete()
        else:
            line.description = _visit_line_description(appointment)
            line.unit_amount = line.amount = price.amount
            line.save(update_fields=["description", "unit_amount", "amount"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=use,
        summary=f"gave a visit back to its package for patient {use.package.patient.public_id}",
    )
    return use


def package_summary(package: Any) -> str:
    """e.g. "Six infusions: 2 of 6 used, 4 left" (for a package from ``with_use_counts``)."""
    return f"{package.name}: {package.used} of {package.visits} used, {package.left} left"
