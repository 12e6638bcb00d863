"""Staff pages for one appointment: booking it, its details, moving it along the day
(check in, no-show, infusing, recovering, discharged), cancelling and rescheduling.

The rules are ``scheduling.services``'; free times come from ``scheduling.availability``.
These views pass input to them and show their refusals: a ``ValidationError`` next to the
field it names (or above the form), a ``SlotTaken`` with the nearest free times to choose
from instead.

The status buttons work without JavaScript (a POST, then a redirect back to the board);
with HTMX they replace just that appointment's card.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, time, timedelta
from itertools import groupby
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import Action, audit_record
from clinic.contributions import Contributions
from clinic.forms import SearchForm, show_service_errors
from clinic.models import Location
from clinic.permissions import Capability, capability_required, user_can
from patients.models import Patient
from patients.selectors import patient_for, patients_search
from scheduling.availability import Slot, free_slots, nearest_free_slots
from scheduling.board.cards import ACTIONS, SESSION_STEP, board_entry, for_the_board
from scheduling.board.day import board_locations, local_instant
from scheduling.forms import (
    CancelForm,
    EndVisitForm,
    NoShowForm,
    RescheduleRangeForm,
    SlotChoiceForm,
    SlotSearchForm,
    UndoForm,
)
from scheduling.models import INFUSION_KINDS, Appointment, AppointmentStatus, WaitlistEntry
from scheduling.selectors import appointment_for, appointments_visible_to, booking_note_for
from scheduling.services.book_and_reschedule import appointment_book, appointment_reschedule
from scheduling.services.checks import is_infusion
from scheduling.services.free_time import SlotTaken
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.services.status_rules import appointment_move_problems, appointment_next_statuses
from scheduling.services.undo import appointment_undo, undo_deadline, undo_refusal, undoable_change
from scheduling.views.board import board_url

RESCHEDULE_DAYS = 7
PATIENT_MATCHES = 20

appointment_page = Contributions("appointment page")
"""Contributors take ``(user, appointment, *, shown)``. The page shows ``infusion_session``
(the appointment's infusion session or None, from ``infusions``), ``visit_invoice`` (the
visit's invoice or None, from ``billing``) and ``packages_left`` (what is left of the
patient's packages, from ``billing``, where the front desk checks the patient in) when they
are there."""


# --- Shared helpers ------------------------------------------------------------------------


def audit_patient_view(request: HttpRequest, patient: Patient, page: str) -> None:
    """Log that the signed-in staff member saw ``patient`` on ``page``."""
    audit_record(
        actor=request.user, action=Action.VIEW, target=patient, summary=page, request=request
    )


def patient_from_query(request: HttpRequest) -> Patient | None:
    """The patient named by ``?patient=<uuid>``: None when there is none, 404 for an id
    that is no patient's, 403 for staff who may not see patients."""
    raw = request.GET.get("patient", "").strip()
    if not raw:
        return None
    try:
        public_id = uuid.UUID(raw)
    except ValueError:
        raise Http404("No such patient.") from None
    return patient_for(request.user, public_id)


def patient_matches(request: HttpRequest) -> tuple[SearchForm, list[Patient]]:
    """For pages opened without a patient: the search box and who matches it."""
    form = SearchForm(request.GET)
    search = form.search()
    if not search:
        return form, []
    matches = list(patients_search(request.user, search=search)[:PATIENT_MATCHES])
    if matches:
        audit_record(
            actor=request.user,
            action=Action.VIEW,
            object_type=Patient._meta.label_lower,
            summary=f"searched patients to book for: {len(matches)} shown",
            request=request,
        )
    return form, matches


def _posted(request: HttpRequest) -> Any:
    """The form data of a POST (even an empty one, so it is validated), else None."""
    return request.POST if request.method == "POST" else None


def _safe_next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


def _board_for(appointment: Appointment) -> str:
    return board_url(
        appointment.location, appointment.starts_at.astimezone(appointment.location.tz).date()
    )


def _detail_url(appointment: Appointment) -> str:
    return reverse("scheduling:appointment-detail", args=[appointment.public_id])


def _when(appointment: Appointment) -> str:
    local = appointment.starts_at.astimezone(appointment.location.tz)
    return f"{local:%H:%M} on {local:%a} {local.day} {local:%b %Y}"


def _by_day(slots: Iterable[Slot]) -> list[tuple[date, list[Slot]]]:
    return [(day, list(group)) for day, group in groupby(slots, key=lambda s: s.local_start.date())]


# --- Booking -----------------------------------------------------------------------------------


@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_new(request: HttpRequest) -> HttpResponse:
    """Book an appointment for ``?patient=``: choose a location, type and day, see the free
    times, press one. Without a patient, find them first."""
    patient = patient_from_query(request)
    if patient is None:
        search, matches = patient_matches(request)
        context = {"search": search, "matches": matches, "purpose": "book"}
        return render(request, "scheduling/appointments/choose_patient.html", context)
    locations = board_locations(request.user)
    data = request.POST if request.method == "POST" else request.GET
    bound = request.method == "POST" or "location" in request.GET
    search = SlotSearchForm(
        data if bound else None,
        locations=locations,
        initial=_search_initial(patient, list(locations)),
    )
    # Where, what and when, read before any refusal is added to the form: the free times
    # are listed again under the refusal.
    query = dict(search.cleaned_data) if bound and search.is_valid() else None
    taken: SlotTaken | None = None
    if request.method == "POST" and query is not None:
        choice = SlotChoiceForm(request.POST)
        if not choice.is_valid():
            for error in choice.errors.get("starts_at", []):
                search.add_error(None, error)
        else:
            try:
                appointment = appointment_book(
                    actor=request.user,
                    patient=patient,
                    location=query["location"],
                    appointment_type=query["appointment_type"],
                    starts_at=choice.cleaned_data["starts_at"],
                    request=request,
                )
            except SlotTaken as exc:
                if exc.existing is not None:
                    messages.info(request, exc.message)
                    return redirect(_detail_url(exc.existing))
                taken = exc
            except ValidationError as exc:
                show_service_errors(search, exc)
            else:
                messages.success(
                    request,
                    f"Booked {patient.display_name}: {appointment.appointment_type.name.lower()} "
                    f"at {_when(appointment)}, {appointment.location.name}.",
                )
                return redirect(_detail_url(appointment))
    slots: list[Slot] = []
    nearest: list[Slot] = []
    if query is not None:
        location, appointment_type, day = query["location"], query["appointment_type"], query["day"]
        slots = free_slots(
            location=location,
            appointment_type=appointment_type,
            start_date=day,
            end_date=day,
            patient=patient,
        )
        if not slots and taken is None:
            nearest = nearest_free_slots(
                location=location,
                appointment_type=appointment_type,
                around=local_instant(location, day, time(12)),
                patient=patient,
            )
    audit_patient_view(request, patient, "viewed the booking page")
    context = {
        "patient": patient,
        "search": search,
        "query": query,
        "slots": slots,
        "nearest": nearest,
        "taken": taken,
    }
    return render(request, "scheduling/appointments/new.html", context)


def _search_initial(patient: Patient, locations: list[Location]) -> dict[str, Any]:
    """The patient's own location if it is open, else the first; a consultation; today."""
    location = next(
        (loc for loc in locations if loc.pk == patient.preferred_location_id),
        locations[0] if locations else None,
    )
    if location is None:
        return {"appointment_type": "consultation"}
    return {
        "location": location.public_id,
        "appointment_type": "consultation",
        "day": location.local_now().date(),
    }


# --- One appointment -------------------------------------------------------------------------


@require_GET
@capability_required(Capability.VIEW_SCHEDULE)
def appointment_detail(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    appointment = appointment_for(request.user, appointment_id)
    audit_patient_view(request, appointment.patient, f"viewed appointment {appointment.public_id}")
    context = {
        "entry": board_entry(appointment, request.user),
        "appointment": appointment,
        "board_url": _board_for(appointment),
        "next_url": request.get_full_path(),
        "offered_to": WaitlistEntry.objects.filter(offered_appointment=appointment)
        .select_related("patient")
        .first(),
        "has_session": appointment.appointment_type.kind in INFUSION_KINDS,
        "can_see_session": user_can(request.user, Capability.VIEW_CLINICAL),
        # Shown to everyone who may see the appointment; the rule is booking_note_for's.
        "booking_note": booking_note_for(request.user, appointment),
    }
    # The infusion session, for an infusion or booster (``infusions``).
    appointment_page.add_to(context, request.user, appointment)
    # What the session does next (the entry above has no session state: not the board's query).
    session = context.get("infusion_session")
    context["session_next_step"] = SESSION_STEP.get(getattr(session, "state", ""), "")
    return render(request, "scheduling/appointments/detail.html", context)


@require_POST
@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_action(
    request: HttpRequest, appointment_id: uuid.UUID, action: str
) -> HttpResponse:
    """Move the appointment along (check in, no-show, start infusion, recovery, discharge).

    Without HTMX: a message and a redirect back (to ``next`` or the board). With HTMX: the
    appointment's card again, with the outcome in it."""
    appointment = appointment_for(request.user, appointment_id)
    error = done = ""
    board_action = ACTIONS.get(action)
    if board_action is not None and (
        board_action.status == AppointmentStatus.NO_SHOW
        or (
            board_action.status == AppointmentStatus.DISCHARGED
            and not is_infusion(appointment.appointment_type)
        )
    ):
        # Confirmed on their own pages (appointment_no_show_view, appointment_end_visit_view);
        # an infusion's discharge is its session's (refused there with the reason).
        board_action = None
    if board_action is None:
        names = ", ".join(f"“{one.label.lower()}”" for one in ACTIONS.values())
        error = (
            f"“{action[:40]}” is not something the board can do to an appointment: use {names}, "
            "or the cancel and reschedule pages."
        )
    else:
        try:
            appointment_set_status(
                actor=request.user,
                appointment=appointment,
                status=board_action.status,
                request=request,
            )
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            done = (
                f"{appointment.patient.display_name}: {appointment.get_status_display().lower()}."
            )
    if request.htmx:
        card = for_the_board(appointments_visible_to(request.user)).get(pk=appointment.pk)
        context = {
            "entry": board_entry(card, request.user),
            "next_url": _safe_next(request) or _board_for(appointment),
            "htmx": True,
            "error": error,
            "done": done,
        }
        return render(request, "scheduling/board/partials/_appointment.html", context)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, done)
    return redirect(_safe_next(request) or _board_for(appointment))


@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_no_show_view(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Confirm that the patient did not come: a no-show is final (but for a short undo) and
    frees the time for the waitlist, so it is never one click beside "Check in"."""
    appointment = appointment_for(request.user, appointment_id)
    return _confirmed_status(
        request,
        appointment,
        AppointmentStatus.NO_SHOW,
        NoShowForm(_posted(request)),
        unticked="Tick the box to confirm the patient did not come.",
        done="marked a no-show",
        viewed="viewed the no-show page of an appointment",
        refusal=appointment_move_problems(appointment, AppointmentStatus.NO_SHOW),
        template="scheduling/appointments/no_show.html",
    )


@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_end_visit_view(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Confirm that a consultation or follow-up is over (discharged): it drafts the visit's
    invoice, so it is never one click, and it can be undone for a few minutes."""
    appointment = appointment_for(request.user, appointment_id)
    return _confirmed_status(
        request,
        appointment,
        AppointmentStatus.DISCHARGED,
        EndVisitForm(_posted(request)),
        unticked="Tick the box to confirm the consultation is over.",
        done="the visit has ended",
        viewed="viewed the end-visit page of an appointment",
        refusal=(
            ["An infusion ends with the discharge checklist on its session."]
            if is_infusion(appointment.appointment_type)
            else appointment_move_problems(appointment, AppointmentStatus.DISCHARGED)
        ),
        template="scheduling/appointments/end_visit.html",
    )


def _confirmed_status(
    request: HttpRequest,
    appointment: Appointment,
    status: AppointmentStatus,
    form: forms.Form,
    *,
    unticked: str,
    done: str,
    viewed: str,
    refusal: list[str],
    template: str,
) -> HttpResponse:
    """A status change that is never one click (a no-show, the end of a visit): the page
    asks for the box ticked, then moves the appointment and says it can be undone."""
    back = _safe_next(request) or _board_for(appointment)
    error = ""
    if request.method == "POST" and form.is_valid():
        if not form.cleaned_data["confirm"]:
            form.add_error("confirm", unticked)
        else:
            try:
                appointment_set_status(
                    actor=request.user, appointment=appointment, status=status, request=request
                )
            except ValidationError as exc:
                error = " ".join(exc.messages)
            else:
                messages.success(
                    request,
                    f"{appointment.patient.display_name}: {done}. You can undo this for "
                    f"{settings.UNDO_MINUTES} minutes from the board.",
                )
                return redirect(back)
    audit_patient_view(request, appointment.patient, viewed)
    context = {
        "appointment": appointment,
        "form": form,
        "error": error,
        "back": back,
        "refusal": refusal,
        "undo_minutes": settings.UNDO_MINUTES,
    }
    return render(request, template, context)


@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_undo_view(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Undo the last check-in, no-show or cancellation, with a reason, within minutes."""
    appointment = appointment_for(request.user, appointment_id)
    form = UndoForm(_posted(request))
    back = _safe_next(request) or _board_for(appointment)
    change = undoable_change(appointment)
    if request.method == "POST" and form.is_valid():
        try:
            appointment_undo(
                actor=request.user,
                appointment=appointment,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{appointment.patient.display_name}: undone, the appointment is "
                f"{appointment.get_status_display().lower()} again.",
            )
            return redirect(back)
    audit_patient_view(request, appointment.patient, "viewed the undo page of an appointment")
    context = {
        "appointment": appointment,
        "form": form,
        "back": back,
        "change": change,
        "refusal": undo_refusal(request.user, appointment, change),
        "deadline": undo_deadline(change) if change else None,
    }
    return render(request, "scheduling/appointments/undo.html", context)


@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_cancel_view(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Confirm the cancellation, with the reason (required)."""
    appointment = appointment_for(request.user, appointment_id)
    form = CancelForm(_posted(request))
    back = _safe_next(request) or _board_for(appointment)
    if request.method == "POST" and form.is_valid():
        try:
            appointment_cancel(
                actor=request.user,
                appointment=appointment,
                reason=form.cleaned_data["reason"],
                by_clinic=form.cleaned_data["who"] == "clinic",
                request=request,
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            message = (
                f"Cancelled {appointment.patient.display_name}'s "
                f"{appointment.appointment_type.name.lower()} at {_when(appointment)}. You can "
                f"undo this for {settings.UNDO_MINUTES} minutes (the card under Not attending)."
            )
            offer = (
                WaitlistEntry.objects.filter(
                    offered_appointment=appointment, state=WaitlistEntry.State.OFFERED
                )
                .select_related("patient")
                .first()
            )
            if offer is not None:
                message += (
                    f" The time was offered to {offer.patient.display_name} from the waitlist."
                )
            messages.success(request, message)
            return redirect(back)
    audit_patient_view(request, appointment.patient, "viewed the cancel page of an appointment")
    context = {
        "appointment": appointment,
        "entry": board_entry(appointment, request.user),
        "form": form,
        "can_cancel": AppointmentStatus.CANCELLED in appointment_next_statuses(appointment),
        "back": back,
    }
    return render(request, "scheduling/appointments/cancel.html", context)


@capability_required(Capability.BOOK_APPOINTMENTS)
def appointment_reschedule_view(request: HttpRequest, appointment_id: uuid.UUID) -> HttpResponse:
    """Free times for the same patient, type and location over a week; press one to move
    the appointment there."""
    appointment = appointment_for(request.user, appointment_id)
    location = appointment.location
    today = location.local_now().date()
    range_form = RescheduleRangeForm(request.GET)
    range_form.is_valid()
    start = max(range_form.cleaned_data.get("start") or today, today)
    end = start + timedelta(days=RESCHEDULE_DAYS - 1)
    taken: SlotTaken | None = None
    choice = SlotChoiceForm(_posted(request))
    if request.method == "POST" and choice.is_valid():
        try:
            appointment_reschedule(
                actor=request.user,
                appointment=appointment,
                starts_at=choice.cleaned_data["starts_at"],
                request=request,
            )
        except SlotTaken as exc:
            taken = exc
        except ValidationError as exc:
            show_service_errors(choice, exc, field_for=lambda key: "starts_at")
        else:
            messages.success(
                request,
                f"Moved {appointment.patient.display_name}'s "
                f"{appointment.appointment_type.name.lower()} to {_when(appointment)}.",
            )
            return redirect(_board_for(appointment))
    movable = appointment.status == AppointmentStatus.BOOKED
    slots: list[Slot] = []
    if movable:
        slots = [
            slot
            for slot in free_slots(
                location=location,
                appointment_type=appointment.appointment_type,
                start_date=start,
                end_date=end,
                patient=appointment.patient,
                excluding=appointment,
            )
            if slot.starts_at != appointment.starts_at
        ]
    audit_patient_view(request, appointment.patient, "viewed the reschedule page of an appointment")
    page = reverse("scheduling:appointment-reschedule", args=[appointment.public_id])
    context = {
        "appointment": appointment,
        "entry": board_entry(appointment, request.user),
        "movable": movable,
        "choice": choice,
        "taken": taken,
        "days": _by_day(slots),
        "start": start,
        "end": end,
        "earlier_url": f"{page}?start={start - timedelta(days=RESCHEDULE_DAYS):%Y-%m-%d}"
        if start > today
        else "",
        "later_url": f"{page}?start={end + timedelta(days=1):%Y-%m-%d}",
        "board_url": _board_for(appointment),
        "form_errors": range_form.errors,
    }
    return render(request, "scheduling/appointments/reschedule.html", context)
