"""``{% location_day_cards locations %}``: the staff home's "Today at our locations", a card
a location (``clinic.selectors.locations_today``); a tag because the template's loop (a
branch, two filters and a few escapes a card) cost more than reading them. The markup is the
template's, character for character."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.template.defaultfilters import pluralize
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from clinic.selectors import LocationDay

register = template.Library()


def _card(location: LocationDay) -> str:
    today = location.today
    if today.closure:
        hours = (
            '<span class="badge text-bg-secondary">Closed</span> '
            f"{escape(today.closure.reason)}\n            "
        )
    elif today.is_open:
        hours = (
            f"Open {today.opens_at:%H:%M}–{today.closes_at:%H:%M} "
            f'<span class="text-body-secondary">({escape(location.time_zone)})</span>'
            "\n            "
        )
    else:
        hours = '<span class="badge text-bg-secondary">Closed today</span>'
    chairs = location.active_chair_count
    return (
        '\n    <div class="col">'
        '\n      <div class="card h-100">'
        '\n        <div class="card-body">'
        f'\n          <h3 class="h6 card-title">{escape(location.name)}</h3>'
        '\n          <p class="card-text mb-1">'
        f"\n            {hours}"
        "\n          </p>"
        '\n          <p class="card-text small text-body-secondary">'
        f"{chairs} infusion chair{pluralize(chairs)}</p>"
        "\n        </div>"
        "\n      </div>"
        "\n    </div>"
        "\n    "
    )


@register.simple_tag
def location_day_cards(locations: Iterable[LocationDay]) -> SafeString:
    return mark_safe("".join(_card(location) for location in locations))  # noqa: S308 (escaped above)
