"""``{% board_card entry %}``, ``{% card_actions entry %}`` and ``{% week_rows entries %}``:
the boards' cards and the week's list rows, written by ``scheduling.board.html`` rather than
through an include per card (the day board shows ~180 cards, the week ~500 rows). What is
the same for every card (links' prefixes, ``next``, the CSRF field) is worked out once per
page render."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.template.context import Context
from django.utils.safestring import SafeString

from scheduling.board.cards import BoardEntry
from scheduling.board.html import CardHtml, week_rows_html
from scheduling.board.week import WeekEntry

register = template.Library()


def _writer(context: Context, htmx: bool) -> CardHtml:
    key = ("board_cards", bool(htmx))
    writer = context.render_context.get(key)
    if writer is None:
        writer = CardHtml(
            next_url=context.get("next_url", ""),
            csrf_token=context.get("csrf_token"),
            htmx=bool(htmx),
        )
        context.render_context[key] = writer
    return writer


@register.simple_tag(takes_context=True)
def board_card(context: Context, entry: BoardEntry, htmx: bool = False) -> SafeString:
    """The appointment's card (with ``error`` or ``done`` from the context, after a move)."""
    return _writer(context, htmx).card(
        entry, error=context.get("error", ""), done=context.get("done", "")
    )


@register.simple_tag(takes_context=True)
def card_actions(context: Context, entry: BoardEntry, htmx: bool = False) -> SafeString:
    """The moves the signed-in member of staff may make on the appointment."""
    return _writer(context, htmx).actions(entry)


@register.simple_tag
def week_rows(entries: Iterable[WeekEntry]) -> SafeString:
    """A day's rows of the week's list."""
    return week_rows_html(entries)
