"""The boards' grids kept rendered (``clinic.fragments``): the front desk's screens ask for the
same board again and again, and drawing a busy day's ~180 cards or a week's ~500 rows is
most of the page's cost.

A kept grid is found under the version of every row it is drawn from (``board_sources``):
the location (its name, time zone), its opening hours, closures and chairs, the appointment
types, the appointments of the local days shown, their patients (the names) and clinicians
(the names); for the day's cards also each appointment's status changes ("Undo") and what
the apps above add to the cards (``board_card_rows``: the infusion sessions, their dose
orders and open vitals alerts). So any write to any of them, by any path, draws the grid
again on the next view. The reader's roles (which decide every button and what clinical
detail a card shows) are part of the key, and so are, for the day, the status changes
the reader made that they may still undo (only their author may undo a change when no role
is shared), the page's own address (where each move comes back to) and ``this_minute()``
(the "now" row, check-in and no-show times, undo deadlines). The week's list shows no
buttons and no time relative to now: its key has the location's today instead (the
highlighted day).

The page's access check and the location's choice are the view's, made before a grid is
looked up; the open vitals alerts' banner (clinical, drawn per request) is not in it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q, QuerySet
from django.template.loader import render_to_string

from clinic.contributions import Contributions
from clinic.fragments import (
    KEPT_CSRF,
    RowsOf,
    cached_fragment,
    rows_counts,
    rows_version_query,
    this_minute,
    version_of,
)
from clinic.models import Chair, Closure, Location, OpeningHours, User
from patients.models import Patient
from scheduling.board.day import day_board, local_day_bounds
from scheduling.board.week import week_board, week_of
from scheduling.models import (
    NON_BLOCKING_STATUSES,
    Appointment,
    AppointmentStatusChange,
    AppointmentType,
)

# The markup versions of the kept grids: change them when their templates
# (``scheduling/board/partials/_day.html``, ``_week.html``) or ``scheduling.board.html`` change.
DAY_FRAGMENT = "1"
WEEK_FRAGMENT = "1"

board_card_rows = Contributions("board card rows")
"""What the apps above ``scheduling`` show on a card (``scheduling.board.cards.board_cards``)
comes from rows of their own: contributors take the appointments' queryset (``appointments``
as a keyword, ``shown`` as every contributor does) and name a queryset of each kind of row
they read for those appointments, so that a kept day board changes with them."""


def board_sources(
    location_id: int,
    starts: datetime,
    ends: datetime,
    *,
    cards: bool,
    reader_id: int | None = None,
    since: datetime | None = None,
) -> list[QuerySet | RowsOf]:
    """What a board of location ``location_id`` from ``starts`` to ``ends`` is drawn from,
    for ``rows_version``. The first source is the appointments shown (for the week: those
    attending, then the others, as the week counts them apart), whose count
    ``rows_counts`` gives. With ``cards`` (the day), also what the cards show, and the
    status changes by ``reader_id`` since ``since`` (those they may still undo)."""
    in_range = Appointment.objects.filter(
        location_id=location_id, starts_at__gte=starts, starts_at__lt=ends
    )
    if cards:
        appointments: list[QuerySet | RowsOf] = [in_range]
    else:
        not_attending = Q(status__in=NON_BLOCKING_STATUSES)
        appointments = [in_range.exclude(not_attending), in_range.filter(not_attending)]
    place = [location_id]
    sources = [
        *appointments,
        RowsOf(Location, "pk", place),
        RowsOf(OpeningHours, "location", place),
        RowsOf(Closure, "location", place),
        RowsOf(Chair, "location", place),
        RowsOf(AppointmentType),
        Patient.objects.filter(pk__in=in_range.values("patient_id")),
        User.objects.filter(pk__in=in_range.values("clinician_id")),
    ]
    if cards:
        changes = AppointmentStatusChange.objects.filter(appointment__in=in_range.values("pk"))
        sources.append(changes)
        sources.append(changes.filter(by_id=reader_id, at__gte=since))
        added: dict[str, Any] = {}
        board_card_rows.add_to(added, in_range)
        sources.extend(added.values())
    return sources


# Stand-ins for the values of one board, to compile its version query once per process (see
# ``_board_version``): none is a value a board is ever asked with.
_LOCATION, _READER = -7_000_001, -7_000_002
_STARTS, _ENDS, _SINCE = (datetime(year, 1, 1, tzinfo=UTC) for year in (1901, 1902, 1903))


@functools.cache
def _compiled(cards: bool) -> tuple[str, tuple[Any, ...]]:
    sql, params = rows_version_query(
        *board_sources(_LOCATION, _STARTS, _ENDS, cards=cards, reader_id=_READER, since=_SINCE)
    )
    flat = {item for param in params for item in (param if isinstance(param, list) else [param])}
    stand_ins = {_LOCATION, _STARTS, _ENDS} | ({_READER, _SINCE} if cards else set())
    if not stand_ins <= flat:  # each must be a parameter, never written into the SQL
        raise ImproperlyConfigured("A board's version query holds a value in its SQL.")
    return sql, tuple(params)


def _board_version(
    location: Location, first: date, last: date, *, cards: bool, reader: Any = None
) -> str:
    """``rows_version(*board_sources(...))`` for ``location``'s local days ``first`` to
    ``last``. Compiling its dozen querysets cost more than running the query, so it is
    compiled once, with stand-ins, and each board's values are put in their places."""
    starts, ends = local_day_bounds(location, first, last)
    # Undoable for a few minutes after the change (``scheduling.services.undo``): an older
    # change shows no button to anyone, however the key is cut.
    since = this_minute() - timedelta(minutes=settings.UNDO_MINUTES)
    values = {
        _LOCATION: location.pk,
        _READER: getattr(reader, "pk", None),
        _STARTS: starts,
        _ENDS: ends,
        _SINCE: since,
    }
    sql, stand_ins = _compiled(cards)
    params = [
        [values.get(item, item) for item in param]
        if isinstance(param, list)
        else values.get(param, param)
        for param in stand_ins
    ]
    return version_of(sql, params)


def reader_facts(user: Any) -> tuple[str, ...]:
    """What decides what ``user`` may see and do on a board: their roles (every capability
    comes from them, ``clinic.permissions``, and "Undo" compares them with the author's)."""
    return tuple(sorted(user.roles))


def _kept(
    kind: str, version: str, rows: str, parts: tuple, draw: Callable[[], str], request: Any
) -> tuple[str, int]:
    html = cached_fragment(kind, version, (*parts, rows), draw, request=request)
    return html, rows_counts(rows)[0]


def kept_day_board(
    request: Any, location: Location, day: date, context: dict[str, Any]
) -> tuple[str, int]:
    """The day's grid (``partials/_day.html``) for ``request.user``, and how many
    appointments it shows. ``context``: the page's links the grid shows (``next_url``,
    ``next_period_url``, ``week_url``) and ``can_book``, all decided by what the key holds."""
    user = request.user

    def draw() -> str:
        board = day_board(user=user, location=location, day=day)
        return render_to_string(
            "scheduling/board/partials/_day.html",
            {**context, **KEPT_CSRF, "location": location, "day": day, "board": board},
        )

    parts = (
        location.pk,
        day,
        reader_facts(user),
        this_minute(),
        context["next_url"],
        context["next_period_url"],
        context["week_url"],
    )
    rows = _board_version(location, day, day, cards=True, reader=user)
    return _kept("day-board", DAY_FRAGMENT, rows, parts, draw, request)


def kept_week_board(request: Any, location: Location, day: date) -> tuple[str, int]:
    """The week's grid and list (``partials/_week.html``) around ``day``, and how many
    attending appointments it lists."""
    user = request.user
    monday, sunday = week_of(day)

    def draw() -> str:
        week = week_board(user=user, location=location, day=day)
        return render_to_string(
            "scheduling/board/partials/_week.html", {"location": location, "week": week}
        )

    parts = (location.pk, monday, reader_facts(user), location.local_now().date())
    rows = _board_version(location, monday, sunday, cards=False)
    return _kept("week-board", WEEK_FRAGMENT, rows, parts, draw, None)
