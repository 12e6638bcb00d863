"""Theft or significant loss of ketamine (21 CFR 1301.76(b)).

Whoever discovers it records an incident (``loss_incident_report``: nurses and physicians).
That starts the clock: the registrant must notify the DEA field office in writing within
one business day of the discovery (``notice_due_by``), then file DEA Form 106. Each is
recorded as a step (``loss_incident_step``: the location's registrant, a physician, or a
clinic admin) with its reference; the incident is open until Form 106 is filed, and until
then it is shown to the location's registrant on the staff home.

Business days here are Monday to Friday on the location's calendar; public holidays are
not known to the application, so the due date may be a day early around one (never late).
The missing drug itself is booked in the ledger as an adjustment or a count, as before.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability, require, user_can
from infusions.dea import latest_registration
from infusions.ledger import LEDGER_CAPABILITY, decimal_in
from infusions.models import LossIncident, LossIncidentStep, Lot
from infusions.models.dea import LossKind, LossStep

Errors = dict[str, list[str]]
SATURDAY = 5


def next_business_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= SATURDAY:
        day += timedelta(days=1)
    return day


def notice_due_by(incident: LossIncident) -> datetime:
    """The end of the business day after the discovery, on the location's clock."""
    tz = incident.location.tz
    discovered = incident.discovered_at.astimezone(tz).date()
    return datetime.combine(next_business_day(discovered), time(23, 59), tzinfo=tz)


def open_incidents() -> QuerySet[LossIncident]:
    """Incidents whose Form 106 is not filed yet (one query when listed)."""
    filed = LossIncidentStep.objects.filter(incident=OuterRef("pk"), step=LossStep.FORM_106_FILED)
    return LossIncident.objects.exclude(Exists(filed)).select_related("location", "lot")


def incidents_for_registrant(user: Any) -> list[LossIncident]:
    """Open incidents at the locations where ``user`` is the current registrant."""
    if not user_can(user, Capability.VIEW_LEDGER):
        return []
    incidents = list(open_incidents().order_by("discovered_at", "id"))
    mine = []
    registrants: dict[int, int | None] = {}
    for incident in incidents:
        if incident.location_id not in registrants:
            latest = latest_registration(incident.location)
            registrants[incident.location_id] = latest.registrant_id if latest else None
        if registrants[incident.location_id] == user.pk:
            mine.append(incident)
    return mine


@transaction.atomic
def loss_incident_report(
    *,
    actor: User,
    location: Location,
    kind: str,
    discovered_at: datetime | None,
    description: str,
    lot: Lot | None = None,
    amount_mg: Decimal | str | None = None,
    request: HttpRequest | None = None,
) -> LossIncident:
    require(actor, LEDGER_CAPABILITY)
    errors: Errors = {}
    now = timezone.now()
    discovered_at = discovered_at or now
    if kind not in LossKind.values:
        errors["kind"] = ["Choose what happened: theft, significant loss or lost in transit."]
    if discovered_at > now:
        errors["discovered_at"] = ["That time is in the future: enter when it was discovered."]
    description = (description or "").strip()
    if not description:
        errors["description"] = [
            "Describe what is missing and how it was found: the DEA notice needs it."
        ]
    amount = None
    if amount_mg not in (None, ""):
        amount = decimal_in(amount_mg, "amount_mg", "The amount missing", "mg", errors)
    if lot is not None and lot.location_id != location.pk:
        errors["lot"] = [f"Lot {lot.lot_number} is stock of another location: choose one here."]
    if errors:
        raise ValidationError(errors)
    incident = LossIncident.objects.create(
        location=location,
        kind=kind,
        discovered_at=discovered_at,
        description=description,
        lot=lot,
        amount_mg=amount,
        reported_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=incident,
        summary=f"reported a ketamine {kind.replace('_', ' ')} at location {location.public_id}",
        request=request,
    )
    return incident


def may_record_steps(user: Any) -> bool:
    return user_can(user, Capability.SIGN_MEDICAL_ORDERS) or user_can(
        user, Capability.MANAGE_LOCATIONS
    )


@transaction.atomic
def loss_incident_step(
    *,
    actor: User,
    incident: LossIncident,
    step: str,
    reference: str,
    done_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> LossIncidentStep:
    if not may_record_steps(actor):
        require(actor, Capability.SIGN_MEDICAL_ORDERS)
    errors: Errors = {}
    now = timezone.now()
    done_at = done_at or now
    done = set(incident.steps.values_list("step", flat=True))
    if step not in LossStep.values:
        errors["step"] = ["Choose which report was made."]
    elif step in done:
        errors["step"] = [f"“{LossStep(step).label}” is recorded already for this incident."]
    elif step == LossStep.FORM_106_FILED and LossStep.FIELD_OFFICE_NOTIFIED not in done:
        errors["step"] = [
            "Record the written notice to the DEA field office first: it comes before Form 106."
        ]
    reference = (reference or "").strip()
    if not reference:
        errors["reference"] = [
            "Enter a reference: to whom and how the notice was sent, or Form 106's "
            "confirmation number."
        ]
    if done_at > now:
        errors["done_at"] = ["That time is in the future: enter when it was done."]
    elif done_at < incident.discovered_at:
        errors["done_at"] = ["That is before the discovery: check the date."]
    if errors:
        raise ValidationError(errors)
    recorded = LossIncidentStep.objects.create(
        incident=incident, step=step, done_at=done_at, reference=reference, recorded_by=actor
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=recorded,
        summary=f"recorded {step.replace('_', ' ')} for a ketamine loss incident",
        request=request,
    )
    return recorded
