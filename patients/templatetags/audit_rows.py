"""``{% audit_rows events %}``: the rows of the chart's audit trail
(``templates/patients/chart/partials/_audit_trail.html``), the latest 50 on every chart; a
tag because the template's loop (a date filter, a default and lookups a row) cost ~3 ms a
chart. The markup is the template's, character for character."""

from __future__ import annotations

from collections.abc import Iterable

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from clinic.models import AuditEvent

register = template.Library()


def _row(event: AuditEvent) -> str:
    who = (event.actor.full_name if event.actor is not None else "") or "Nobody signed in"
    return (
        "\n      <tr>"
        f'\n        <td class="text-nowrap">'
        f"{template_localtime(event.occurred_at).strftime('%Y-%m-%d %H:%M:%S')}</td>"
        f"\n        <td>{conditional_escape(who)}</td>"
        f"\n        <td>{conditional_escape(event.get_action_display())}</td>"
        f"\n        <td>{conditional_escape(event.summary)}</td>"
        "\n      </tr>\n      "
    )


@register.simple_tag
def audit_rows(events: Iterable[AuditEvent]) -> SafeString:
    return mark_safe("".join(_row(event) for event in events))  # noqa: S308 (escaped above)
