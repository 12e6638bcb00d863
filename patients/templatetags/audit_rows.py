"""``{% audit_rows events %}``: the rows of the chart's audit trail
(``templates/patients/chart/partials/_audit_trail.html``), the latest 50 on every chart; a
tag because the template's loop (a date filter, a default and lookups a row) cost ~3 ms a
chart. The markup is the template's, character for character (the loop it replaced is in
``patients/tests/test_audit_rows.py``). ``events`` are ``patients.chart.AuditTrailRow``: plain
values, read without building an event and its actor a row."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from html import escape  # django.utils.html.escape's own, without its lazy check

from django import template
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import get_current_timezone

from clinic.models import AuditEvent
from patients.chart import AuditTrailRow

register = template.Library()

# What each action is shown as (``get_action_display``: an unknown one as itself).
_ACTION_LABELS = dict(AuditEvent.Action.choices)


def _row(event: AuditTrailRow, zone: tzinfo) -> str:
    who = event.actor_name or "Nobody signed in"
    action = _ACTION_LABELS.get(event.action, event.action)
    # Read from a timestamptz: aware, as the date filter takes it.
    when = event.occurred_at.astimezone(zone)
    return (
        "\n      <tr>"
        f'\n        <td class="text-nowrap">{when:%Y-%m-%d %H:%M:%S}</td>'
        f"\n        <td>{escape(who)}</td>"
        f"\n        <td>{escape(action)}</td>"
        f"\n        <td>{escape(event.summary)}</td>"
        "\n      </tr>\n      "
    )


@register.simple_tag
def audit_rows(events: Iterable[AuditTrailRow]) -> SafeString:
    # The page's time zone, as the template's date filter took it for each row.
    zone = get_current_timezone()
    return mark_safe("".join(_row(event, zone) for event in events))  # noqa: S308 (escaped above)
