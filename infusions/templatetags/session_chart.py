"""``{% chart_point_rows chart %}``: the rows of the session chart's table (the chart as a
table, ``templates/infusions/session/_chart.html``), one per reading, about 80 a session;
a tag because the template's loop (a time filter and four ``default`` filters a row) cost
~4 ms a session screen. The markup is the template's, character for character."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

register = template.Library()


def _or_dash(value: int | None) -> Any:
    """What ``value|default:"-"`` (an en dash) shows for a measured number."""
    return value or "–"


@register.simple_tag
def chart_point_rows(chart: Any) -> SafeString:
    return mark_safe(  # noqa: S308 (times and whole numbers only)
        "".join(
            f"\n            <tr><td>{template_localtime(point.at).strftime('%H:%M')}</td>"
            f"<td>{_or_dash(point.systolic)}/{_or_dash(point.diastolic)}</td>"
            f"<td>{_or_dash(point.heart_rate)}</td><td>{_or_dash(point.spo2)}</td></tr>\n          "
            for point in chart.points
        )
    )
