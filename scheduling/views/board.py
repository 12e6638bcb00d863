"""The day board and the week board, at /staff/schedule/.

``?location=<uuid>&date=YYYY-MM-DD&view=day|week``; each defaults to the reader's own
location (their shift today, else where they have most shifts, else the first open one),
today there, and the day view. The arrangement is ``scheduling.board``'s; the
buttons on it post to ``scheduling.views.appointments``.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from clinic.audit import Action, audit_record
from clinic.contributions import Contributions
from clinic.models import Location
from clinic.permissions import Capability, capability_required, user_can
from patients.models import Patient
from scheduling.board.day import board_locations, day_board
from scheduling.board.week import week_board
from scheduling.forms import BoardFilterForm
from scheduling.shifts import home_location

board_page = Contributions("day board")
"""Contributors take ``(user, location, *, shown)``. The board shows ``open_alerts`` (the
sessions at the location with open vitals alerts, from ``infusions``) when it is there."""


def board_url(location: Location, day: date, view: str = "day") -> str:
    query = {"location": str(location.public_id), "date": day.isoformat()}
    if view == "week":
        query["view"] = "week"
    return f"{reverse('scheduling:board')}?{urlencode(query)}"


@require_GET
@capability_required(Capability.VIEW_SCHEDULE)
def board(request: HttpRequest) -> HttpResponse:
    locations = list(board_locations(request.user))
    if not locations:
        return render(request, "scheduling/board/no_locations.html")
    form = BoardFilterForm(request.GET, locations=locations)
    location, day, view = form.choice(
        lambda location: location.local_now().date(),
        lambda locations: home_location(request.user, locations),
    )
    context = {
        "form": form,
        "location": location,
        "day": day,
        "view": view,
        "next_url": request.get_full_path(),
        "can_book": user_can(request.user, Capability.BOOK_APPOINTMENTS),
        "day_url": board_url(location, day),
        "week_url": board_url(location, day, "week"),
        "today_url": board_url(location, location.local_now().date(), view),
    }
    # E.g. the sessions at this location with open vitals alerts: the day board's banner.
    board_page.add_to(context, request.user, location)
    if view == "week":
        week = week_board(user=request.user, location=location, day=day)
        shown = sum(len(one.entries) for one in week.days)
        context.update(
            week=week,
            previous_url=board_url(location, week.previous_week, view),
            next_period_url=board_url(location, week.next_week, view),
        )
        template = "scheduling/board/week.html"
    else:
        board = day_board(user=request.user, location=location, day=day)
        shown = board.attending_count + len(board.not_attending)
        context.update(
            board=board,
            previous_url=board_url(location, board.previous_day, view),
            next_period_url=board_url(location, board.next_day, view),
        )
        template = "scheduling/board/day.html"
    if shown:
        # Patients' names are on the page: reading it is reading patient data.
        audit_record(
            actor=request.user,
            action=Action.VIEW,
            object_type=Patient._meta.label_lower,
            summary=f"viewed the {view} board of {location.name} for {day:%Y-%m-%d}: "
            f"{shown} appointments shown",
            request=request,
        )
    return render(request, template, context)
