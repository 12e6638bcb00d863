"""``{% board_url location when %}``: a link to the day board (or ``"week"``), built by the
same ``board_url`` the views use, so every link names the day the way the board reads it
(``date=``, in the location's own calendar)."""

from __future__ import annotations

from datetime import date, datetime

from django import template

from clinic.models import Location
from scheduling.views.board import board_url as _board_url

register = template.Library()


@register.simple_tag
def board_url(location: Location, when: date | datetime, view: str = "day") -> str:
    """The board of ``location`` on ``when``: a day, or a moment (the day it is there then,
    which is not always the day in UTC)."""
    if isinstance(when, datetime):
        when = when.astimezone(location.tz).date()
    return _board_url(location, when, view)
