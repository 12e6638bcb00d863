"""Public consultation booking, under /book/ (namespace "booking"): no sign-in.

/book/ lists the locations; /book/<location>/ the free consultation times a week at a time;
/book/<location>/details/?start=… the booker's details; /book/confirmed/<token>/ the
confirmation; /book/manage/<token>/ (and cancel/, reschedule/, calendar.ics) what the
patient can do later with the link in their email (``scheduling.views.booking_manage``).
Every page works without JavaScript; every refusal is a page that says what to do
(404/409/410/429), never a 500.

The rules are ``scheduling.booking``'s; these views only coordinate them.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from clinic.client_address import client_ip
from clinic.forms import show_service_errors
from clinic.fragments import cached_fragment, this_minute
from clinic.models import Location
from scheduling.availability import Slot
from scheduling.booking.manage import (
    decoy_token,
    manage_token,
)
from scheduling.booking.offer import (
    BookingWeek,
    booking_consultation_type,
    booking_location,
    booking_locations,
    booking_slot_errors,
    booking_week,
    booking_week_drawn_from,
    booking_week_of,
    slot_parse,
    slot_value,
)
from scheduling.booking.rate_limits import RateLimited, booking_rate_limit
from scheduling.booking.submit import (
    POLICY_CHANGED,
    POLICY_NOT_AGREED,
    booking_nonce,
    booking_replayed,
    booking_submit,
)
from scheduling.booking.summary import opening_hours_lines
from scheduling.booking_terms import (
    BookingTerms,
    booking_awaits_payment,
    booking_payment_page,
    booking_terms,
)
from scheduling.forms_booking import BookingDetailsForm
from scheduling.models import Appointment, AppointmentType
from scheduling.services.free_time import SlotTaken
from scheduling.wording import clock_text, when_text

# What the booking service calls a field → the form field it belongs to.
_DETAILS_FIELD = {"conditions": "condition", "preferred_location": "__all__"}


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _week_number(request: HttpRequest) -> int:
    try:
        return max(int(request.GET.get("week", "0")), 0)
    except ValueError:
        return 0


def _slot_links(
    week: BookingWeek, url: str, *, leave_out: datetime | None = None
) -> list[dict[str, Any]]:
    """Each day of ``week`` with a link per free time (``url`` + ?start=), but
    ``leave_out`` (the time being moved away from)."""
    return [
        {
            "day": day,
            "times": [
                {
                    "url": f"{url}?start={slot_value(slot.starts_at)}",
                    "label": clock_text(slot.local_start),
                    "full": when_text(slot.starts_at, slot.location),
                }
                for slot in day.slots
                if slot.starts_at != leave_out
            ],
        }
        for day in week.days
    ]


def _alternative_links(alternatives: list[Slot], url: str) -> list[dict[str, str]]:
    return [
        {
            "url": f"{url}?start={slot_value(slot.starts_at)}",
            "label": when_text(slot.starts_at, slot.location),
        }
        for slot in alternatives
    ]


def _unavailable(request: HttpRequest, location: Location | None = None) -> HttpResponse:
    return render(request, "scheduling/booking/unavailable.html", {"location": location})


# --- Choosing a location and a time -----------------------------------------------------------


@require_GET
def booking_start(request: HttpRequest) -> HttpResponse:
    consultation = booking_consultation_type()
    if consultation is None:
        return _unavailable(request)
    locations = [
        {"location": location, "hours": opening_hours_lines(location)}
        for location in booking_locations()
    ]
    return render(
        request,
        "scheduling/booking/start.html",
        {
            "locations": locations,
            "consultation": consultation,
            "horizon_days": settings.BOOKING_HORIZON_DAYS,
        },
    )


@require_GET
def booking_slots(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = booking_location(location_id, prefetch=False)
    consultation = booking_consultation_type()
    if consultation is None:
        return _unavailable(request, location)
    return _slots_page(request, location, consultation, week_number=_week_number(request))


# The week's markup in the fragment cache: change it when _week.html (or the time_buttons
# tag) draws differently.
BOOKING_WEEK_VERSION = "1"


def _slots_page(
    request: HttpRequest, location: Location, consultation: AppointmentType, *, week_number: int
) -> HttpResponse:
    page_url = reverse("booking:slots", args=[location.public_id])
    details_url = reverse("booking:details", args=[location.public_id])
    # The week's times are kept rendered (clinic.fragments): they are the same for every
    # visitor, drawn again after any write to what they are worked out from
    # (booking_week_drawn_from) and every minute. Within a minute they are worked out from
    # its end, so a time that has passed is never offered (one that falls within the
    # minute goes at its start).
    minute = this_minute()
    parts = (
        location.pk,
        consultation.pk,
        week_number,
        minute,
        settings.BOOKING_HORIZON_DAYS,
        settings.INFUSIONS_PER_NURSE,
        page_url,
        booking_week_drawn_from(
            location=location, appointment_type=consultation, week=week_number, minute=minute
        ),
    )

    def draw() -> str:
        week = booking_week(
            location=location,
            appointment_type=consultation,
            week=week_number,
            not_before=minute + timedelta(minutes=1),
        )
        return render_to_string(
            "scheduling/booking/partials/_week.html",
            {
                "location": location,
                "week": week,
                "days": _slot_links(week, details_url),
                "page_url": page_url,
            },
        )

    return render(
        request,
        "scheduling/booking/slots.html",
        {
            "location": location,
            "consultation": consultation,
            "week_markup": cached_fragment("booking-week", BOOKING_WEEK_VERSION, parts, draw),
        },
    )


# --- The booker's details ---------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def booking_details(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = booking_location(location_id)
    consultation = booking_consultation_type()
    if consultation is None:
        return _unavailable(request, location)
    slots_url = reverse("booking:slots", args=[location.public_id])
    # The location's policy to agree to, and a card or deposit to give first, if any.
    terms = booking_terms(location)
    if request.method == "GET":
        starts_at = slot_parse(request.GET.get("start"))
        if starts_at is None or booking_slot_errors(
            location=location, appointment_type=consultation, starts_at=starts_at
        ):
            messages.error(
                request, "That time can't be booked any more. Please choose a time from the list."
            )
            return redirect(slots_url)
        form = BookingDetailsForm(
            initial={
                "starts_at": slot_value(starts_at),
                "nonce": booking_nonce(),
                "policy_digest": terms.digest if terms is not None else "",
            }
        )
        return _details_page(request, location, consultation, form, starts_at, terms)

    form = BookingDetailsForm(request.POST)
    policy_changed = (
        terms is not None and terms.policy and form.data.get("policy_digest") != terms.digest
    )
    if policy_changed:
        # The policy was edited while the booker read it: they agree to the words they see.
        data = request.POST.copy()
        data["policy_digest"] = terms.digest
        data.pop("agree_policy", None)
        form = BookingDetailsForm(data)
        form.is_valid()
        form.add_error("agree_policy", POLICY_CHANGED)
        return _details_page(request, location, consultation, form, _posted_start(form), terms)
    if not form.is_valid():
        starts_at = form.cleaned_data.get("starts_at")
        if starts_at is not None:
            # So every problem shows at once, the time's too.
            for message in booking_slot_errors(
                location=location, appointment_type=consultation, starts_at=starts_at
            ).get("starts_at", []):
                form.add_error("starts_at", message)
        if terms is not None and terms.policy and not form.cleaned_data.get("agree_policy"):
            form.add_error("agree_policy", POLICY_NOT_AGREED)
        return _details_page(request, location, consultation, form, _posted_start(form), terms)
    starts_at = form.cleaned_data["starts_at"]
    details = form.details()
    nonce = form.cleaned_data["nonce"] or booking_nonce()
    replayed = booking_replayed(nonce)
    if replayed is not None:
        if booking_awaits_payment(replayed):  # sent twice while the time is held: pay still
            return _payment_page(request, location, consultation, form, replayed, terms)
        return _confirmed_redirect(manage_token(replayed, emailed=details.consent_email))
    try:
        booking_rate_limit(
            ip=client_ip(request), email=details.email, mobile=details.mobile, location=location
        )
    except RateLimited as limited:
        return _too_many(request, location, limited)
    if form.is_honeypot_filled:
        # Looks like any other booking to the bot that filled it in; nothing is saved.
        token = decoy_token(location=location, starts_at=starts_at, emailed=details.consent_email)
        return _confirmed_redirect(token)
    try:
        appointment = booking_submit(
            location=location,
            appointment_type=consultation,
            starts_at=starts_at,
            details=details,
            nonce=nonce,
            base_url=_base_url(request),
            request=request,
            terms=terms,
            agreed=form.cleaned_data["agree_policy"],
        )
    except SlotTaken as taken:
        return _taken_page(request, location, starts_at, taken)
    except ValidationError as exc:
        show_service_errors(form, exc, field_for=lambda key: _DETAILS_FIELD.get(key, key))
        return _details_page(request, location, consultation, form, starts_at, terms)
    if terms is not None and terms.holds_the_time:
        return _payment_page(request, location, consultation, form, appointment, terms)
    return _confirmed_redirect(manage_token(appointment, emailed=details.consent_email))


def _payment_page(
    request: HttpRequest,
    location: Location,
    consultation: AppointmentType,
    form: BookingDetailsForm,
    appointment: Appointment,
    terms: BookingTerms | None,
) -> HttpResponse:
    """The held time, and the link to the card (or deposit) page. A link the booker
    follows, not a redirect: the form may post only to the clinic (Content-Security-Policy
    ``form-action 'self'``). If that page can't be opened, the time is released and the form
    says so."""
    try:
        url = booking_payment_page(appointment=appointment, base_url=_base_url(request))
    except ValidationError as exc:
        form.add_error(None, " ".join(exc.messages))
        return _details_page(request, location, consultation, form, appointment.starts_at, terms)
    return render(
        request,
        "scheduling/booking/payment.html",
        {
            "location": location,
            "consultation": consultation,
            "when": when_text(appointment.starts_at, location),
            "terms": terms,
            "payment_url": url,
        },
    )


def _taken_page(
    request: HttpRequest, location: Location, starts_at: datetime, taken: SlotTaken
) -> HttpResponse:
    """A refused booking (409): the nearest free times the refusal found, and a link to the
    week of ``starts_at`` with all of them. Not the week itself: when a crowd asks for one
    time, reading and drawing a week of times for each of them was most of their wait."""
    slots_url = reverse("booking:slots", args=[location.public_id])
    return render(
        request,
        "scheduling/booking/taken.html",
        {
            "location": location,
            "taken": taken.message,
            "alternatives": _alternative_links(
                taken.alternatives, reverse("booking:details", args=[location.public_id])
            ),
            "all_times_url": f"{slots_url}?week={booking_week_of(location, starts_at)}",
        },
        status=409,
    )


def _posted_start(form: BookingDetailsForm) -> datetime | None:
    return slot_parse(form.data.get("starts_at"))


def _details_page(
    request: HttpRequest,
    location: Location,
    consultation: AppointmentType,
    form: BookingDetailsForm,
    starts_at: datetime | None,
    terms: BookingTerms | None = None,
) -> HttpResponse:
    return render(
        request,
        "scheduling/booking/details.html",
        {
            "location": location,
            "consultation": consultation,
            "form": form,
            "when": when_text(starts_at, location) if starts_at else "",
            "slots_url": reverse("booking:slots", args=[location.public_id]),
            "action_url": reverse("booking:details", args=[location.public_id]),
            "crisis_line_text": settings.CRISIS_LINE_TEXT,
            "terms": terms,
        },
    )


def _too_many(request: HttpRequest, location: Location, limited: RateLimited) -> HttpResponse:
    response = render(
        request,
        "scheduling/booking/too_many.html",
        {"location": location, "message": str(limited)},
        status=429,
    )
    response["Retry-After"] = str(limited.retry_after)
    return response


def _confirmed_redirect(token: str) -> HttpResponse:
    return redirect("booking:confirmed", token=token)


# --- After booking: the confirmation and the manage link --------------------------------------
