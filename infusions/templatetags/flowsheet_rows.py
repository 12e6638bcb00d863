"""``{% reading_rows %}``: the rows of the vitals flowsheet's table
(``templates/infusions/flowsheet/_live.html``).

A tag rather than template markup per row: a session has about 80 readings, the page and
its 60-second refresh show them all, and the template's loop (a ``with``, a nested loop over
the cells, a dozen filters and lookups a row) cost ~12 ms a render, more than the rest of
the fragment. The markup is the template's, character for character; the one reading whose
"mark in error" form is open (refused, re-shown) still renders its form's template.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.template.context import Context
from django.utils import timezone
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe

from infusions.flowsheet import FlowsheetRow

register = template.Library()

_HIGH = '<span aria-hidden="true">▲</span> high'
_LOW = '<span aria-hidden="true">▼</span> low'


def _e(value: Any) -> str:
    return str(conditional_escape("" if value is None else value))


def _hm(value: datetime) -> str:
    """What ``value|time:"H:i"`` shows: the time on the clock of the current time zone (the
    template's ``{% timezone %}``)."""
    return timezone.localtime(value).strftime("%H:%M")


def _full_name(user: Any) -> str:
    return "" if user is None else _e(user.full_name)


def _alert_cell(row: FlowsheetRow) -> str:
    parts = []
    for alert in row.alerts:
        if alert.acknowledged_at:
            note = f": {_e(alert.action_note)}" if alert.action_note else ""
            what = (
                f'<span aria-hidden="true">✓ </span>{_e(alert.get_action_display())} — '
                f"{_full_name(alert.acknowledged_by)}, {_hm(alert.acknowledged_at)}{note}"
            )
        else:
            what = '<span class="fw-bold text-danger"><span aria-hidden="true">⚠ </span>Open</span>'
        summary = f'<span class="visually-hidden">({_e(alert.summary)})</span>'
        parts.append(f"\n          <div>{what} {summary}</div>")
    return "".join(parts)


def _row(row: FlowsheetRow, context: Context, can_record: bool, readings_url: str) -> str:
    reading = row.reading
    taken_at = _hm(reading.taken_at)
    when = (
        f'<time datetime="{reading.taken_at.isoformat()}">{taken_at}</time> '
        f'<span class="small fw-normal text-body-secondary">'
        f"{_e(reading.get_phase_display().lower())}</span>"
    )
    consciousness = (
        f'{_e(reading.consciousness)} <span class="small">{_e(row.consciousness_label)}</span>'
        if reading.consciousness
        else "—"
    )
    pain = "—" if reading.pain is None else _e(reading.pain)
    if row.in_error:
        struck = ' class="text-decoration-line-through"'
        cells = "".join(f"<td{struck}>{_e(cell.text)}</td>" for cell in row.cells.values())
        head = (
            '\n      <tr data-testid="reading" class="text-body-secondary" data-in-error="true">'
            f'\n        <th scope="row"{struck}>{when}</th>'
            f"\n        {cells}\n        <td{struck}>{consciousness}</td>"
            f"\n        <td{struck}>{pain}</td>\n      "
        )
    else:
        cells = "".join(
            f'<td class="table-danger fw-bold" data-flag="{_e(cell.flag)}">{_e(cell.text)} '
            f'<span class="text-nowrap">{_HIGH if cell.flag == "high" else _LOW}</span></td>'
            if cell.flag
            else f"<td>{_e(cell.text)}</td>"
            for cell in row.cells.values()
        )
        head = (
            '\n      <tr data-testid="reading">'
            f'\n        <th scope="row">{when}</th>'
            f"\n        {cells}\n        <td>{consciousness}</td>\n        <td>{pain}</td>\n      "
        )
    monitor = " (monitor)" if reading.source == "monitor" else ""
    reading_error = context.get("reading_error")
    if row.in_error:
        action = (
            f'<div class="text-danger">Entered in error: {_e(reading.entered_in_error_reason)} '
            f"({_full_name(reading.entered_in_error_by)}, {_hm(reading.entered_in_error_at)})"
            "</div>\n          "
        )
    elif not can_record:
        action = ""
    elif reading_error and reading_error[0].pk == reading.pk:
        action = _in_error_form(context, reading, reading_error) + "\n          "
    else:
        url = f"{readings_url}{reading.public_id}/error/"
        action = (
            f'<div class="mt-1"><a class="small" href="{_e(url)}" hx-get="{_e(url)}" '
            f'data-testid="in-error-open">Mark in error…<span class="visually-hidden"> '
            f"(the reading at {taken_at})</span></a></div>"
        )
    return (
        f'{head}\n        <td class="small">{_alert_cell(row)}</td>'
        f'\n        <td class="small">{_full_name(reading.recorded_by)}{monitor}'
        f"\n          {action}\n        </td>\n      </tr>\n      "
    )


def _in_error_form(context: Context, reading: Any, bound: Any) -> str:
    form_template = context.template.engine.get_template("infusions/flowsheet/_in_error_form.html")
    values = {
        "record": reading,
        "kind": "reading",
        "url_name": "infusions:reading-error",
        "target": "#flowsheet",
        "bound": bound,
    }
    with context.push(**values):
        return form_template.render(context)


@register.simple_tag(takes_context=True)
def reading_rows(context: Context, rows: list[FlowsheetRow], readings_url: str = "") -> SafeString:
    """The ``<tr>`` of each reading in ``rows``; the context gives ``can_record`` and
    ``reading_error`` (the reading whose "mark in error" form is open, with the form)."""
    can_record = bool(context.get("can_record"))
    return mark_safe(  # noqa: S308 (every value above is escaped)
        "".join(_row(row, context, can_record, readings_url) for row in rows)
    )
