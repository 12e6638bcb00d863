"""The day board and the week board, at /staff/schedule/.

``?location=<uuid>&date=YYYY-MM-DD&view=day|week``; each defaults to the reader's own
location (their shift today, else where they have most shifts, else the first open one),
today there, and the day view. The arrangement is ``scheduling.board``'s; the
buttons on it post to ``scheduling.views.appointments``.
"""

from __future__ import annotations

from datetime import date, timedelta
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
from scheduling.board.day import board_locations
from scheduling.board.kept import kept_day_board, kept_week_board
from scheduling.board.week import WEEK, week_of
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
    if view == "week":
        monday, _ = week_of(day)
        context.update(
            first_day=monday,
            previous_url=board_url(location, monday - timedelta(days=WEEK), view),
            next_period_url=board_url(location, monday + timedelta(days=WEEK), view),
        )
        # The grid and the list, kept rendered for every reader with the same roles.
        board_html, shown = kept_week_board(request, location, day)
        template = "scheduling/board/week.html"
    else:
        context.update(
            previous_url=board_url(location, day - timedelta(days=1), view),
            next_period_url=board_url(location, day + timedelta(days=1), view),
        )
        # E.g. the sessions at this location with open vitals alerts: the day board's
        # banner, read on every view (never kept).
        board_page.add_to(context, request.user, location)
        board_html, shown = kept_day_board(
            request,
            location,
            day,
            {
                name: context[name]
                for name in ("next_url", "next_period_url", "week_url", "can_book")
            },
        )
        template = "scheduling/board/day.html"
    context["board_html"] = board_html
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
