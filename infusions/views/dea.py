"""The DEA records' pages, under /staff/ledger/ beside the ledger they belong to.

- Inventories: when each location's next one is due, those taken, one inventory's counts,
  and taking one (``infusions.inventories.inventory_take``; nurses and physicians, with a
  witness).
- Destruction of a lot's stock with two witnesses (``infusions.destruction``, Form 41).
- Theft or significant loss: incidents, the one-business-day clock for the DEA field
  office notice, and the Form 106 step that closes one (``infusions.losses``).

- DEA registrations: each location's current registration (or why it has none that
  counts, which stops it receiving and giving ketamine), its earlier ones, and for clinic
  admins the form that records a registration (``infusions.dea.dea_registration_record``).

Read by those who read the ledger (``VIEW_LEDGER``). Nothing here is edited or deleted.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from clinic.forms import show_service_errors
from clinic.permissions import capability_required, require, user_can
from clinic.selectors import location_for, locations_visible_to
from infusions.dea import (
    REGISTRATION_CAPABILITY,
    dea_registration_record,
    registration_problem_of,
    registrations_visible_to,
)
from infusions.destruction import lot_destroy
from infusions.forms_dea import (
    DeaRegistrationForm,
    DestructionForm,
    InventoryForm,
    LossIncidentForm,
    LossStepForm,
)
from infusions.inventories import inventories_due, inventory_take, lots_to_count
from infusions.ledger import LEDGER_CAPABILITY, LEDGER_READ_CAPABILITY
from infusions.losses import (
    loss_incident_report,
    loss_incident_step,
    may_record_steps,
    notice_due_by,
    open_incidents,
)
from infusions.models import Inventory, LossIncident
from infusions.models.dea import LossStep
from infusions.selectors import lot_for

EARLIER_SHOWN = 5
INVENTORIES_PER_PAGE = 25
INCIDENTS_PER_PAGE = 25


@require_http_methods(["GET", "POST"])
@capability_required(LEDGER_READ_CAPABILITY)
def registrations_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    can_register = user_can(user, REGISTRATION_CAPABILITY)
    visible = locations_visible_to(user)
    form = DeaRegistrationForm(
        request.POST if request.method == "POST" else None,
        locations=visible,
        initial={"location": request.GET.get("location") or None},
    )
    if request.method == "POST":
        require(user, REGISTRATION_CAPABILITY)
        if form.is_valid():
            data = form.cleaned_data
            try:
                registration = dea_registration_record(
                    actor=user,
                    location=data["location"],
                    number=data["number"],
                    registrant=data["registrant"],
                    expires_on=data["expires_on"],
                    request=request,
                )
            except ValidationError as error:
                show_service_errors(form, error)
            else:
                messages.success(
                    request,
                    f"Recorded {registration.location}'s DEA registration {registration.number}, "
                    f"expiring {registration.expires_on:%Y-%m-%d}.",
                )
                return redirect("ledger:registrations")
        form.data = form.data.copy()
        form.data.pop("confirm", None)
    context = {
        "rows": registration_rows(user, visible.filter(is_active=True)),
        "form": form if can_register else None,
        "can_record": user_can(user, LEDGER_CAPABILITY),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "infusions/ledger/registrations.html", context, status=status)


def registration_rows(user: Any, locations: Any) -> list[dict[str, Any]]:
    """Each location with its registrations, latest first, and what stops it handling
    ketamine today (two queries, whatever the number of locations)."""
    registrations = registrations_visible_to(user).order_by("-recorded_at", "-id")
    rows = []
    for location in locations.order_by("name").prefetch_related(
        Prefetch("dea_registrations", queryset=registrations, to_attr="registrations")
    ):
        latest = location.registrations[0] if location.registrations else None
        rows.append(
            {
                "location": location,
                "latest": latest,
                "earlier": location.registrations[1 : 1 + EARLIER_SHOWN],
                "problem": registration_problem_of(location, latest, location.local_now().date()),
            }
        )
    return rows


# --- Inventories ---------------------------------------------------------------------------


@require_GET
@capability_required(LEDGER_READ_CAPABILITY)
def inventories_page(request: HttpRequest) -> HttpResponse:
    """When each location's next inventory is due, and the inventories taken (newest first)."""
    user = request.user
    locations = locations_visible_to(user).filter(is_active=True).order_by("name")
    inventories = (
        Inventory.objects.filter(location__in=locations_visible_to(user))
        .select_related("location", "counted_by", "witness")
        .annotate(lots_counted=Count("counts"))
        .order_by("-taken_at", "-id")
    )
    page = Paginator(inventories, INVENTORIES_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "due": inventories_due(locations),
        "page": page,
        "can_record": user_can(user, LEDGER_CAPABILITY),
    }
    return render(request, "infusions/ledger/inventories.html", context)


@require_http_methods(["GET", "POST"])
@capability_required(LEDGER_CAPABILITY)
def inventory_take_page(request: HttpRequest, location_id: UUID) -> HttpResponse:
    location = location_for(request.user, location_id)
    lots = list(lots_to_count(location))
    form = InventoryForm(request.POST or None, lots=lots, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        wall_clock = data["taken_at"]
        try:
            inventory = inventory_take(
                actor=request.user,
                location=location,
                time_of_day=data["time_of_day"],
                counts=form.counts(),
                explanations=form.explanations(),
                witness=data["witness"],
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                taken_at=wall_clock.replace(tzinfo=location.tz) if wall_clock else None,
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Recorded the inventory of {location}: {len(lots)} lots counted, witnessed by "
                f"{inventory.witness}.",
            )
            return redirect("ledger:inventory", inventory_id=inventory.public_id)
    if form.is_bound:
        form.data = form.data.copy()
        form.data.pop("confirm", None)
    context = {"form": form, "location": location, "lots": lots, "can_record": True}
    status = 400 if form.is_bound else 200
    return render(request, "infusions/ledger/inventory_take.html", context, status=status)


@require_GET
@capability_required(LEDGER_READ_CAPABILITY)
def inventory_page(request: HttpRequest, inventory_id: UUID) -> HttpResponse:
    """One inventory: each lot's count against the book, and the adjustment of any
    difference."""
    inventory = (
        Inventory.objects.filter(
            public_id=inventory_id, location__in=locations_visible_to(request.user)
        )
        .select_related("location", "counted_by", "witness")
        .first()
    )
    if inventory is None:
        raise Http404("No such inventory.")
    counts = (
        inventory.counts.select_related("lot")
        .prefetch_related("corrections")
        .order_by("lot__expiry_date", "lot__received_at", "lot_id")
    )
    context = {
        "inventory": inventory,
        "counts": counts,
        "can_record": user_can(request.user, LEDGER_CAPABILITY),
    }
    return render(request, "infusions/ledger/inventory.html", context)


# --- Theft or significant loss -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@capability_required(LEDGER_READ_CAPABILITY)
def incidents_page(request: HttpRequest) -> HttpResponse:
    """Open incidents first with their DEA notice's due time, then the closed ones; the
    report form for those who handle the drug."""
    user = request.user
    can_report = user_can(user, LEDGER_CAPABILITY)
    form = LossIncidentForm(request.POST or None, locations=locations_visible_to(user))
    if request.method == "POST":
        require(user, LEDGER_CAPABILITY)
        if form.is_valid():
            data = form.cleaned_data
            location = data["location"]
            wall_clock = data["discovered_at"]
            try:
                incident = loss_incident_report(
                    actor=user,
                    location=location,
                    kind=data["kind"],
                    discovered_at=wall_clock.replace(tzinfo=location.tz) if wall_clock else None,
                    description=data["description"],
                    amount_mg=data["amount_mg"],
                    request=request,
                )
            except ValidationError as error:
                show_service_errors(form, error)
            else:
                due = notice_due_by(incident)
                messages.success(
                    request,
                    f"Recorded. The registrant must notify the DEA field office in writing by "
                    f"{due:%a %b} {due.day}, {due:%H:%M}, then file DEA Form 106.",
                )
                return redirect("ledger:incident", incident_id=incident.public_id)
        form.data = form.data.copy()
        form.data.pop("confirm", None)
    open_ids = set(open_incidents().values_list("pk", flat=True))
    incidents = LossIncident.objects.filter(location__in=locations_visible_to(user)).select_related(
        "location", "reported_by"
    )
    page = Paginator(incidents.order_by("-discovered_at", "-id"), INCIDENTS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    rows = [
        {"incident": incident, "open": incident.pk in open_ids, "due": notice_due_by(incident)}
        for incident in page.object_list
    ]
    context = {
        "rows": rows,
        "page": page,
        "form": form if can_report else None,
        "can_record": can_report,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "infusions/ledger/incidents.html", context, status=status)


@require_http_methods(["GET", "POST"])
@capability_required(LEDGER_READ_CAPABILITY)
def incident_page(request: HttpRequest, incident_id: UUID) -> HttpResponse:
    user = request.user
    incident = (
        LossIncident.objects.filter(public_id=incident_id, location__in=locations_visible_to(user))
        .select_related("location", "lot", "reported_by")
        .first()
    )
    if incident is None:
        raise Http404("No such incident.")
    form = LossStepForm(request.POST or None)
    if request.method == "POST":
        if not may_record_steps(user):
            raise PermissionDenied
        if form.is_valid():
            try:
                loss_incident_step(
                    actor=user,
                    incident=incident,
                    step=form.cleaned_data["step"],
                    reference=form.cleaned_data["reference"],
                    request=request,
                )
            except ValidationError as error:
                show_service_errors(form, error)
            else:
                messages.success(request, "Recorded.")
                return redirect("ledger:incident", incident_id=incident.public_id)
    steps = list(incident.steps.select_related("recorded_by"))
    context = {
        "incident": incident,
        "steps": steps,
        "closed": any(step.step == LossStep.FORM_106_FILED for step in steps),
        "due": notice_due_by(incident),
        "form": form if may_record_steps(user) else None,
        "can_record": user_can(user, LEDGER_CAPABILITY),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "infusions/ledger/incident.html", context, status=status)


# --- Destruction ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@capability_required(LEDGER_CAPABILITY)
def lot_destroy_page(request: HttpRequest, lot_id: UUID) -> HttpResponse:
    lot = lot_for(request.user, lot_id)
    form = DestructionForm(request.POST or None, actor=request.user)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data.pop("confirm")
        try:
            destruction = lot_destroy(actor=request.user, lot=lot, request=request, **data)
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Recorded {-destruction.entry.amount_mg} mg of lot {lot.lot_number} destroyed "
                f"({destruction.get_method_display().lower()}), with two witnesses. The balance "
                f"is {destruction.entry.balance_after_mg} mg.",
            )
            return redirect("ledger:lot", lot_id=lot.public_id)
    if form.is_bound:
        form.data = form.data.copy()
        form.data.pop("confirm", None)
    context = {"form": form, "lot": lot, "can_record": True}
    status = 400 if form.is_bound else 200
    return render(request, "infusions/ledger/destroy.html", context, status=status)
