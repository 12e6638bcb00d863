"""The waitlist for staff: who is waiting for an earlier time (or has been offered one),
adding a patient, and taking them off. The rules are ``scheduling.services``'."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from clinic.audit import Action, audit_record
from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required, user_can
from patients.models import Patient
from scheduling.board.day import board_locations
from scheduling.forms import WaitlistEntryForm, WaitlistFilterForm
from scheduling.models import WaitlistEntry
from scheduling.selectors import waitlist_entry_for, waitlist_visible_to
from scheduling.services.waitlist import waitlist_add, waitlist_remove
from scheduling.views.appointments import audit_patient_view, patient_from_query, patient_matches

ENTRIES_PER_PAGE = 50
WEEKDAY_NAMES = dict(enumerate(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]))
OPEN_STATES = [WaitlistEntry.State.WAITING, WaitlistEntry.State.OFFERED]


@require_GET
@capability_required(Capability.VIEW_SCHEDULE)
def waitlist(request: HttpRequest) -> HttpResponse:
    """Everyone waiting or offered a time, by location, first come first."""
    form = WaitlistFilterForm(request.GET, locations=list(board_locations(request.user)))
    location = form.chosen_location()
    entries = waitlist_visible_to(request.user).filter(state__in=OPEN_STATES)
    if location is not None:
        entries = entries.filter(location=location)
    entries = entries.select_related("offered_appointment__appointment_type").order_by(
        "location__name", "location_id", "created_at", "id"
    )
    page = Paginator(entries, ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    for entry in page.object_list:
        entry.weekdays_label = ", ".join(
            WEEKDAY_NAMES[day] for day in entry.preferred_weekdays if day in WEEKDAY_NAMES
        )
    if page.object_list:
        audit_record(
            actor=request.user,
            action=Action.VIEW,
            object_type=Patient._meta.label_lower,
            summary=f"viewed the waitlist: page {page.number}, {len(page.object_list)} shown",
            request=request,
        )
    context = {
        "form": form,
        "location": location,
        "page": page,
        "can_book": user_can(request.user, Capability.BOOK_APPOINTMENTS),
    }
    return render(request, "scheduling/waitlist/list.html", context)


@capability_required(Capability.BOOK_APPOINTMENTS)
def waitlist_new(request: HttpRequest) -> HttpResponse:
    """Put ``?patient=`` on the waitlist; without a patient, find them first."""
    patient = patient_from_query(request)
    if patient is None:
        search, matches = patient_matches(request)
        context = {"search": search, "matches": matches, "purpose": "waitlist"}
        return render(request, "scheduling/appointments/choose_patient.html", context)
    locations = board_locations(request.user)
    preferred = locations.filter(pk=patient.preferred_location_id).first()
    form = WaitlistEntryForm(
        request.POST if request.method == "POST" else None,
        locations=locations,
        initial={
            "location": preferred.public_id if preferred else None,
            "appointment_type": "consultation",
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            entry = waitlist_add(
                actor=request.user, patient=patient, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{patient.display_name} is on the waitlist for "
                f"{entry.appointment_type.name.lower()} at {entry.location.name}. When a time "
                "that fits frees up, it is offered to them.",
            )
            return redirect(reverse("scheduling:waitlist"))
    audit_patient_view(request, patient, "viewed the waitlist form")
    return render(request, "scheduling/waitlist/form.html", {"form": form, "patient": patient})


@capability_required(Capability.BOOK_APPOINTMENTS)
def waitlist_remove_view(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    """Confirm, then take the patient off the waitlist."""
    entry = waitlist_entry_for(request.user, entry_id)
    if request.method == "POST":
        try:
            waitlist_remove(actor=request.user, entry=entry, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"Took {entry.patient.display_name} off the waitlist for "
                f"{entry.appointment_type.name.lower()} at {entry.location.name}.",
            )
        return redirect(reverse("scheduling:waitlist"))
    audit_patient_view(request, entry.patient, "viewed the waitlist removal page")
    return render(request, "scheduling/waitlist/remove.html", {"entry": entry})
