"""The DEA records' pages, under /staff/ledger/ beside the ledger they belong to.

- DEA registrations: each location's current registration (or why it has none that
  counts, which stops it receiving and giving ketamine), its earlier ones, and for clinic
  admins the form that records a registration (``infusions.dea.dea_registration_record``).

Read by those who read the ledger (``VIEW_LEDGER``). Nothing here is edited or deleted.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clinic.forms import show_service_errors
from clinic.permissions import capability_required, require, user_can
from clinic.selectors import locations_visible_to
from infusions.dea import (
    REGISTRATION_CAPABILITY,
    dea_registration_record,
    registration_problem_of,
    registrations_visible_to,
)
from infusions.forms_dea import DeaRegistrationForm
from infusions.ledger import LEDGER_CAPABILITY, LEDGER_READ_CAPABILITY

EARLIER_SHOWN = 5


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
