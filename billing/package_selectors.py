"""Reads of packages, and who may read them.

``offers_for`` (clinic admins, who define offers), ``offers_on_sale`` (what the front desk may
sell at a location on a day), ``patient_packages`` (a patient's packages with what is used and
left, for the billing page and the API), ``packages_left_for`` (what is left, for everyone who
sees the balance: the chart and the check-in page), and ``package_liability`` (the report).

What is used of a package is never stored beside it: it is the count of its uses that stand
(not given back), read in the same query as the package (``with_use_counts``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, Round
from django.http import Http404

from billing.models import (
    InvoiceStatus,
    PackageOffer,
    PackagePrice,
    PackageUse,
    PatientPackage,
)
from billing.selectors import MONEY
from clinic.models import Location
from clinic.permissions import Capability, require, user_can
from patients.models import Patient

# --- Offers ----------------------------------------------------------------------------------


def _price_on(day: date, field: str = "amount") -> Subquery:
    """The offer's price in effect on ``day`` (for the outer offer), or NULL."""
    return Subquery(
        PackagePrice.objects.filter(offer=OuterRef("pk"), effective_from__lte=day)
        .order_by("-effective_from")
        .values(field)[:1]
    )


def offers_with_prices(queryset: QuerySet[PackageOffer], day: date) -> QuerySet[PackageOffer]:
    """``queryset`` with each offer's ``price`` on ``day`` (None before its first price) and
    its locations (prefetched: one more query for the whole list)."""
    return (
        queryset.select_related("appointment_type")
        .prefetch_related("locations")
        .annotate(price=_price_on(day), price_from=_price_on(day, "effective_from"))
    )


def offers_for(user: Any, day: date) -> QuerySet[PackageOffer]:
    """Every package offer, on sale first, for clinic admins (who define them)."""
    require(user, Capability.MANAGE_PRICES)
    return offers_with_prices(PackageOffer.objects.all(), day).order_by(
        F("retired_at").asc(nulls_first=True), "name", "id"
    )


def offer_for(user: Any, public_id: uuid.UUID | str) -> PackageOffer:
    """One package offer, for clinic admins: 403 for anyone else, 404 if there is none."""
    require(user, Capability.MANAGE_PRICES)
    try:
        return PackageOffer.objects.select_related("appointment_type").get(public_id=public_id)
    except (PackageOffer.DoesNotExist, ValueError, ValidationError):
        raise Http404("No package offer has that id.") from None


def offers_on_sale(location: Location | None = None) -> QuerySet[PackageOffer]:
    """Offers not retired (sold at ``location``, when one is given: those naming it, or
    naming no location)."""
    offers = PackageOffer.objects.filter(retired_at__isnull=True)
    if location is not None:
        offers = offers.filter(Q(locations=location) | Q(locations__isnull=True)).distinct()
    return offers.order_by("name", "id")


def offer_sold_at(offer: PackageOffer, location: Location) -> bool:
    """Whether ``offer`` is sold at ``location`` (one query)."""
    return not offer.locations.exists() or offer.locations.filter(pk=location.pk).exists()


def package_price_in_effect(offer: PackageOffer, day: date) -> PackagePrice | None:
    return offer.prices.filter(effective_from__lte=day).order_by("-effective_from").first()


# --- A patient's packages --------------------------------------------------------------------


def with_use_counts(queryset: QuerySet[PatientPackage]) -> QuerySet[PatientPackage]:
    """``queryset`` with each package's ``used`` (its uses that stand) and ``left``, in the
    same query. A package whose sale invoice is void has nothing ``left``."""
    used = (
        PackageUse.objects.filter(package=OuterRef("pk"), released_at__isnull=True)
        .values("package")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return queryset.annotate(
        used=Coalesce(Subquery(used, output_field=IntegerField()), Value(0))
    ).annotate(
        left=ExpressionWrapper(F("visits") - F("used"), output_field=IntegerField()),
    )


def patient_packages(patient: Patient) -> QuerySet[PatientPackage]:
    """The patient's packages, oldest first, with ``used``, ``left`` and the sale invoice
    (its status says whether the package was voided)."""
    return with_use_counts(
        PatientPackage.objects.filter(patient=patient).select_related(
            "invoice", "location", "offer__appointment_type"
        )
    ).order_by("sold_at", "id")


def live_packages(queryset: QuerySet[PatientPackage]) -> QuerySet[PatientPackage]:
    """Packages whose sale stands and that have visits left."""
    return (
        with_use_counts(queryset)
        .exclude(invoice__status=InvoiceStatus.VOID)
        .filter(left__gt=0)
        .order_by("sold_at", "id")
    )


def packages_left_for(user: Any, patient: Patient) -> list[PatientPackage] | None:
    """The patient's packages with visits left (oldest first: used first), for anyone who
    sees the balance: clinicians see what is left, not what it cost. None for anyone else.
    One query, none for a patient read with ``has_packages`` False (the chart's, through
    ``billing.package_contributions.with_packages_sold``)."""
    if not user_can(user, Capability.VIEW_BALANCE):
        return None
    if not getattr(patient, "has_packages", True):
        return []
    return list(
        live_packages(PatientPackage.objects.filter(patient=patient)).select_related(
            "offer__appointment_type"
        )
    )


# --- The liability report --------------------------------------------------------------------


@dataclass(frozen=True)
class LiabilityRow:
    location: str
    offer: str
    packages: int
    sold: int
    used: int
    left: int
    unearned: Decimal


def package_liability(user: Any) -> list[LiabilityRow]:
    """Per location (where sold) and offer: packages sold, visits sold, used and left, and
    the money not yet earned (each package's visits left x its price per visit, rounded to
    the cent per package). Voided sales are not counted. One query, however many packages."""
    require(user, Capability.MANAGE_PRICES)
    per_package = with_use_counts(
        PatientPackage.objects.exclude(invoice__status=InvoiceStatus.VOID)
    ).annotate(
        unearned=Round(
            ExpressionWrapper(F("price") * F("left") / F("visits"), output_field=MONEY),
            precision=2,
        )
    )
    rows = (
        per_package.values("location__name", "location_id", "offer__name", "offer_id")
        .annotate(
            n_packages=Count("id"),
            n_sold=Sum("visits"),
            n_used=Sum("used"),
            n_left=Sum("left"),
            n_unearned=Sum("unearned"),
        )
        .order_by("location__name", "location_id", "offer__name", "offer_id")
    )
    return [
        LiabilityRow(
            location=row["location__name"],
            offer=row["offer__name"],
            packages=row["n_packages"],
            sold=row["n_sold"],
            used=row["n_used"],
            left=row["n_left"],
            unearned=Decimal(row["n_unearned"]).quantize(Decimal("0.01"), ROUND_HALF_UP),
        )
        for row in rows
    ]


def liability_totals(rows: list[LiabilityRow]) -> LiabilityRow:
    return LiabilityRow(
        location="All locations",
        offer="All packages",
        packages=sum(r.packages for r in rows),
        sold=sum(r.sold for r in rows),
        used=sum(r.used for r in rows),
        left=sum(r.left for r in rows),
        unearned=sum((r.unearned for r in rows), Decimal("0.00")),
    )
