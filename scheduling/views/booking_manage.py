"""A booking managed by the patient through the link in their email, under /book/manage/
(namespace "booking"): no sign-in, the link's token is the key. /book/manage/<token>/ shows
the booking, cancel/ and reschedule/ change it (until the clinic's deadline), calendar.ics
adds it to a calendar; /book/confirmed/<token>/ is the page right after booking. Every
refusal is a page that says what to do, never a 500.

The rules are ``scheduling.booking.manage``'s; these views only coordinate them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from clinic.forms import show_service_errors
from patients.services.safety import booking_reason_alerted
from scheduling.booking.manage import (
    ManageLink,
    ManageLinkError,
    booking_cancel,
    booking_reschedule,
    manage_link,
    manage_token,
)
from scheduling.booking.offer import (
    booking_slot_errors,
    booking_week,
    slot_parse,
    slot_value,
)
from scheduling.booking.summary import booking_summary
from scheduling.booking_terms import (
    booking_cancel_fee_notice,
)
from scheduling.calendar_files import appointment_ics
from scheduling.forms_booking import BookingCancelForm, BookingRescheduleForm
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.free_time import SlotTaken
from scheduling.services.online_changes import (
    appointment_online_change_deadline,
    appointment_patient_may_change,
)
from scheduling.views.booking import _alternative_links, _base_url, _slot_links, _week_number
from scheduling.wording import when_text


def _link_problem(request: HttpRequest, error: ManageLinkError) -> HttpResponse:
    return render(
        request,
        "scheduling/booking/link_problem.html",
        {"message": str(error)},
        status=error.status,
    )


def _booking_context(link: ManageLink, token: str) -> dict[str, Any]:
    """What every page about one booking shows, including whether and until when it can
    be changed online: the confirmation and the manage page say it with the same words
    (``partials/_change_deadline.html``), from the one rule in ``scheduling.services``."""
    appointment = link.appointment
    may_change, why_not = appointment_patient_may_change(appointment)
    deadline = appointment_online_change_deadline(appointment)
    return {
        "summary": booking_summary(appointment),
        "manage_url": reverse("booking:manage", args=[token]),
        "ics_url": reverse("booking:ics", args=[token]),
        "emailed": link.emailed,
        "may_change": may_change,
        "why_not": why_not,
        "change_deadline": when_text(deadline, appointment.location) if deadline else "",
    }


@never_cache
@require_GET
def booking_confirmed(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = manage_link(token, allow_decoy=True)
    except ManageLinkError as error:
        return _link_problem(request, error)
    if link.appointment.status != AppointmentStatus.BOOKED:
        # Cancelled (or under way) since: the manage page says what it is now.
        return redirect("booking:manage", token=token)
    context = {
        **_booking_context(link, token),
        # The booking's reason raised a safety alert: the crisis line comes first.
        "crisis": booking_reason_alerted(link.appointment),
        "crisis_line_text": settings.CRISIS_LINE_TEXT,
    }
    return render(request, "scheduling/booking/confirmed.html", context)


@never_cache
@require_GET
def booking_manage(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = manage_link(token)
    except ManageLinkError as error:
        return _link_problem(request, error)
    return render(
        request,
        "scheduling/booking/manage.html",
        {
            **_booking_context(link, token),
            "cancel_url": reverse("booking:manage-cancel", args=[token]),
            "reschedule_url": reverse("booking:manage-reschedule", args=[token]),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def booking_manage_cancel(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = manage_link(token)
    except ManageLinkError as error:
        return _link_problem(request, error)
    manage_url = reverse("booking:manage", args=[token])
    may_change, why_not = appointment_patient_may_change(link.appointment)
    if not may_change:
        messages.error(request, why_not)
        return redirect(manage_url)
    form = BookingCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            booking_cancel(
                appointment=link.appointment,
                note=form.cleaned_data["note"],
                base_url=_base_url(request),
                request=request,
            )
        except ValidationError as exc:
            if not hasattr(exc, "error_dict"):
                messages.error(request, " ".join(exc.messages))
                return redirect(manage_url)
            show_service_errors(form, exc)
        else:
            messages.success(request, "Your appointment is cancelled.")
            return redirect(manage_url)
    return render(
        request,
        "scheduling/booking/cancel.html",
        {
            **_booking_context(link, token),
            "form": form,
            "fee_notice": booking_cancel_fee_notice(link.appointment),
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def booking_manage_reschedule(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = manage_link(token)
    except ManageLinkError as error:
        return _link_problem(request, error)
    appointment = link.appointment
    manage_url = reverse("booking:manage", args=[token])
    page_url = reverse("booking:manage-reschedule", args=[token])
    may_change, why_not = appointment_patient_may_change(appointment)
    if not may_change:
        messages.error(request, why_not)
        return redirect(manage_url)
    taken: SlotTaken | None = None
    if request.method == "POST":
        form = BookingRescheduleForm(request.POST)
        if form.is_valid():
            try:
                moved = booking_reschedule(
                    appointment=appointment,
                    starts_at=form.cleaned_data["starts_at"],
                    base_url=_base_url(request),
                    request=request,
                )
            except SlotTaken as exc:
                taken = exc
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    f"Your appointment has moved to {when_text(moved.starts_at, moved.location)}.",
                )
                return redirect("booking:manage", token=manage_token(moved))
        else:
            messages.error(request, " ".join(form.errors["starts_at"]))
    else:
        chosen = slot_parse(request.GET.get("start"))
        if chosen is not None:
            return _reschedule_confirm(request, link, token, chosen)
    week = booking_week(
        location=appointment.location,
        appointment_type=appointment.appointment_type,
        week=_week_number(request),
        patient=appointment.patient,
        excluding=appointment,
    )
    return render(
        request,
        "scheduling/booking/reschedule.html",
        {
            **_booking_context(link, token),
            "location": appointment.location,
            "week": week,
            "days": _slot_links(week, page_url, leave_out=appointment.starts_at),
            "page_url": page_url,
            "taken": taken.message if taken else "",
            "alternatives": _alternative_links(taken.alternatives, page_url) if taken else [],
        },
        status=409 if taken else 200,
    )


def _reschedule_confirm(
    request: HttpRequest, link: ManageLink, token: str, starts_at: datetime
) -> HttpResponse:
    appointment = link.appointment
    errors = booking_slot_errors(
        location=appointment.location,
        appointment_type=appointment.appointment_type,
        starts_at=starts_at,
    )
    if errors:
        messages.error(request, " ".join(errors["starts_at"]))
        return redirect("booking:manage-reschedule", token=token)
    return render(
        request,
        "scheduling/booking/reschedule_confirm.html",
        {
            **_booking_context(link, token),
            "new_when": when_text(starts_at, appointment.location),
            "form": BookingRescheduleForm(initial={"starts_at": slot_value(starts_at)}),
            "action_url": reverse("booking:manage-reschedule", args=[token]),
        },
    )


@never_cache
@require_GET
def booking_ics(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = manage_link(token)
    except ManageLinkError as error:
        return _link_problem(request, error)
    appointment: Appointment = link.appointment
    url = request.build_absolute_uri(reverse("booking:manage", args=[token]))
    host = urlsplit(url).hostname or "chairside.invalid"
    response = HttpResponse(
        appointment_ics(appointment, host=host, url=url),
        content_type="text/calendar; charset=utf-8",
    )
    response["Content-Disposition"] = 'attachment; filename="consultation.ics"'
    return response
