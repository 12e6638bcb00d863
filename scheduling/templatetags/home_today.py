"""``{% today_rows appointments_today %}``: the rows of the staff home's "Today's
appointments" (``templates/scheduling/partials/_today.html``), one a location
(``scheduling.contributions.todays_appointments``); a tag, with the board's address worked
out once, because the template's loop (an escape a cell, a link a row) cost about as much
as reading the counts. The markup is the template's, character for character."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from scheduling.contributions import LocationToday

register = template.Library()


def _row(day: LocationToday, board: str) -> str:
    name = escape(day.location.name)
    yours = ' <span class="badge text-bg-info">yours</span>' if day.yours else ""
    return (
        '\n      <tr data-testid="today-location">'
        f'\n        <th scope="row">{name}{yours}</th>'
        f'\n        <td class="text-end" data-testid="today-to-come">{day.to_come}</td>'
        f'\n        <td class="text-end" data-testid="today-here">{day.here}</td>'
        f'\n        <td class="text-end">{day.done}</td>'
        f'\n        <td class="text-end">{day.no_show}</td>'
        f'\n        <td><a href="{board}?location={day.location.public_id}">Open the schedule'
        f'<span class="visually-hidden"> of {name}</span></a></td>'
        "\n      </tr>\n      "
    )


@register.simple_tag
def today_rows(days: Iterable[LocationToday]) -> SafeString:
    board = reverse("scheduling:board")
    return mark_safe("".join(_row(day, board) for day in days))  # noqa: S308 (escaped above)
