"""The boards' cards and rows as HTML, written in Python: the day board shows ~180 cards and
the week board ~500 rows at a busy location, and rendering each through nested template
includes (with a ``{% url %}`` per link and a ``|time`` filter per time) cost ~0.7 ms a card,
most of the page's time. What is the same for every card of a page (the URL prefixes, the
``next`` parameter, the CSRF field) is worked out once per page (``CardHtml``); each card
then only escapes its own words.

The markup is the one the templates had (``scheduling/board/partials/_appointment.html``
and ``_actions.html`` now call these): change it here. Every value from the database or the
user goes through ``escape``; the result is marked safe only as a whole."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from urllib.parse import quote

from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from scheduling.board.cards import BoardEntry
from scheduling.board.week import WeekEntry
from scheduling.models import Appointment, AppointmentStatus

Status = AppointmentStatus

BADGE_CLASS = {
    Status.BOOKED: "text-bg-secondary",
    Status.CHECKED_IN: "text-bg-info",
    Status.INFUSING: "text-bg-primary",
    Status.RECOVERING: "text-bg-warning",
    Status.DISCHARGED: "text-bg-success",
    Status.NO_SHOW: "text-bg-danger",
}
_BADGES = {
    str(value): (
        f'<span class="badge {BADGE_CLASS.get(value, "text-bg-dark")}" data-testid="status">'
        f"{escape(label)}</span>"
    )
    for value, label in Status.choices
}
# What ``{% csrf_token %}`` is given when the view asked for none (it then writes nothing).
NO_CSRF_TOKEN = "NOTPROVIDED"  # noqa: S105 - a marker, not a secret
UNDO_WHAT = {
    Status.CHECKED_IN: "check-in",
    Status.NO_SHOW: "no-show",
    Status.DISCHARGED: "discharge",
}


def status_badge(appointment: Appointment) -> SafeString:
    """The appointment's status as a coloured badge; the colour repeats the word, never
    replaces it."""
    badge = _BADGES.get(str(appointment.status))
    if badge is None:
        badge = (
            '<span class="badge text-bg-dark" data-testid="status">'
            f"{escape(appointment.get_status_display())}</span>"
        )
    return mark_safe(badge)  # noqa: S308 - built from escaped parts above


@cache
def url_prefix(name: str) -> tuple[str, str]:
    """The path of URL ``name`` (one ``<uuid>`` argument) before and after the id: one
    ``reverse()`` per process rather than one per link. The URL configuration is fixed once
    loaded (tests that override it read other names)."""
    placeholder = str(uuid.UUID(int=0))
    head, tail = reverse(name, args=[placeholder]).split(placeholder)
    return head, tail


def _hm(moment: datetime) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


class CardHtml:
    """Writes one page's cards. ``next_url``: where the card's moves come back to;
    ``csrf_token``: the page's token (the ``csrf_token`` of the template's context), or
    None/"NOTPROVIDED" for none; ``htmx``: whether the move buttons replace only the card."""

    def __init__(self, *, next_url: str, csrf_token: object, htmx: bool) -> None:
        self.htmx = htmx
        self.next_value = escape(next_url)
        self.next_query = escape(quote(str(next_url)))
        token = str(csrf_token) if csrf_token else ""
        self.csrf_field = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{escape(token)}">'
            if token and token != NO_CSRF_TOKEN
            else ""
        )
        self.card_head, self.card_tail = url_prefix("scheduling:appointment-detail")
        self.session_head, self.session_tail = url_prefix("infusions:session")
        self.open_head, self.open_tail = url_prefix("infusions:session-open")

    def card(self, entry: BoardEntry, *, error: str = "", done: str = "") -> SafeString:
        """``_appointment.html``: the appointment's card, with its moves. Times are on the
        appointment's location's clock (``entry.local_*``)."""
        appointment = entry.appointment
        public_id = appointment.public_id
        card_url = f"{self.card_head}{public_id}{self.card_tail}"
        name = escape(appointment.patient.display_name)
        attending = entry.attending
        recovery = entry.has_recovery and attending
        status = escape(appointment.status)
        parts = [
            '<div class="appointment-card card h-100 small',
            "" if attending else " bg-body-tertiary",
            " has-recovery" if recovery else "",
            f'" id="appointment-{public_id}" data-testid="appointment" data-status="{status}"',
            f' data-procedure-percent="{entry.procedure_percent}"' if recovery else "",
            '>\n  <div class="card-body p-2">\n'
            '    <div class="d-flex flex-wrap justify-content-between align-items-start gap-1">\n'
            f'      <a class="fw-semibold" href="{card_url}">',
            name if attending else f"<del>{name}</del>",
            f"</a>\n      {status_badge(appointment)}\n    </div>\n    <div",
            "" if attending else ' class="text-decoration-line-through"',
            f' data-testid="time"><time datetime="{escape(appointment.starts_at.isoformat())}">',
            f"{_hm(entry.local_start)}</time>–{_hm(entry.local_end)} · ",
            f"{escape(appointment.appointment_type.name)}</div>\n    ",
        ]
        if recovery:
            parts.append(
                '<div class="text-body-secondary">Recovery until '
                f"{_hm(entry.local_blocks_until)}</div>"
            )
        parts.append("\n    ")
        if entry.session_step:
            parts.append(
                f'<div class="fw-semibold" data-testid="session-step">'
                f"{escape(entry.session_step)}</div>"
            )
        parts.append("\n    ")
        session_url = (
            f"{self.session_head}{entry.session_id}{self.session_tail}" if entry.session_id else ""
        )
        if entry.sees_clinical and attending and entry.is_infusion:
            if session_url:
                link = f'<a href="{session_url}" data-testid="session-link">Infusion session</a>'
            else:
                link = (
                    f'<form method="post" action="{self.open_head}{public_id}{self.open_tail}"'
                    f' class="d-inline">{self.csrf_field}<button type="submit" class="btn '
                    'btn-link p-0 align-baseline" data-testid="session-link">Open the infusion '
                    "session</button></form>"
                )
            parts.append(f"<div>{link}</div>")
        parts.append("\n    ")
        if entry.open_alerts:
            if entry.sees_clinical and session_url:
                count = entry.open_alerts
                parts.append(
                    f'<a class="badge text-bg-danger text-decoration-none" href="{session_url}'
                    '#flowsheet" data-testid="open-alerts"><span aria-hidden="true">⚠ </span>'
                    f"{count} open alert{'' if count == 1 else 's'}"
                    f'<span class="visually-hidden">: {name}</span></a>'
                )
            else:
                parts.append(
                    '<span class="badge text-bg-danger" data-testid="open-alerts"><span '
                    'aria-hidden="true">⚠ </span>Needs a nurse\'s attention</span>'
                )
        parts.append("\n    ")
        if appointment.status == Status.CANCELLED and appointment.cancel_reason:
            parts.append(
                '<div class="text-body-secondary">Reason: '
                f"{escape(appointment.cancel_reason)}</div>"
            )
        parts.append("\n    ")
        if error:
            parts.append(
                '<div class="alert alert-danger py-1 px-2 mt-1 mb-0" role="alert">'
                f"{escape(error)}</div>"
            )
        parts.append("\n    ")
        if done:
            parts.append(f'<div class="text-success mt-1" role="status">Done: {escape(done)}</div>')
        parts.append("\n    ")
        parts.append(self._actions(entry, card_url, name))
        parts.append("\n  </div>\n</div>\n")
        return mark_safe("".join(parts))  # noqa: S308 - every value escaped above

    def actions(self, entry: BoardEntry) -> SafeString:
        """``_actions.html``: what the signed-in member of staff may do to the appointment
        next. Each status change is a plain POST form (it works without JavaScript); with
        ``htmx`` the form also replaces just the appointment's card."""
        appointment = entry.appointment
        card_url = f"{self.card_head}{appointment.public_id}{self.card_tail}"
        return mark_safe(  # noqa: S308 - every value escaped in _actions
            self._actions(entry, card_url, escape(appointment.patient.display_name))
        )

    def _actions(self, entry: BoardEntry, card_url: str, name: str) -> str:
        if not (entry.actions or entry.can_reschedule or entry.can_cancel or entry.undo_until):
            return ""
        next_query = self.next_query
        parts = ['<div class="d-flex flex-wrap gap-1 mt-1" data-testid="actions">\n']
        for action in entry.actions:
            label, style, slug = escape(action.label), action.style, action.slug
            if slug == "no-show":
                parts.append(
                    f'  <a class="btn btn-sm btn-{style} ms-auto" href="{card_url}no-show/'
                    f'?next={next_query}" data-action="no-show">{label}<span '
                    f'class="visually-hidden"> {name}</span></a>\n'
                )
            elif slug == "discharge":
                parts.append(
                    f'  <a class="btn btn-sm btn-{style}" href="{card_url}end-visit/'
                    f'?next={next_query}" data-action="discharge">{label}<span '
                    f'class="visually-hidden">: {name}</span></a>\n'
                )
            else:
                target = f"{card_url}{slug}/"
                hx = (
                    f' hx-post="{target}" hx-target="closest .appointment-card" hx-swap="outerHTML"'
                    if self.htmx
                    else ""
                )
                parts.append(
                    f'  <form method="post" action="{target}"{hx}>\n    {self.csrf_field}\n'
                    f'    <input type="hidden" name="next" value="{self.next_value}">\n'
                    f'    <button type="submit" class="btn btn-sm btn-{style}" '
                    f'data-action="{slug}">{label}<span class="visually-hidden">: {name}</span>'
                    "</button>\n  </form>\n"
                )
        if entry.can_reschedule:
            parts.append(
                f'  <a class="btn btn-sm btn-outline-secondary" href="{card_url}reschedule/">'
                f'Reschedule<span class="visually-hidden">: {name}</span></a>\n'
            )
        if entry.undo_until:
            what = UNDO_WHAT.get(entry.appointment.status, "cancellation")
            parts.append(
                f'  <a class="btn btn-sm btn-outline-secondary" href="{card_url}undo/'
                f'?next={next_query}" data-action="undo">Undo {what}<span '
                f'class="visually-hidden"> of {name}</span><small class="ms-1">(until '
                f"{_hm(entry.undo_until)})</small></a>\n"
            )
        if entry.can_cancel:
            parts.append(
                f'  <a class="btn btn-sm btn-outline-danger" href="{card_url}cancel/'
                f'?next={next_query}">Cancel…<span class="visually-hidden"> '
                f"{name}'s appointment</span></a>\n"
            )
        parts.append("</div>")
        return "".join(parts)


def week_rows_html(entries: Iterable[WeekEntry]) -> SafeString:
    """The week's list, a day's rows: time (on the location's clock), the patient's name
    linking to the appointment, type, chair and clinician, status. The appointments come
    from ``board_appointments(..., cards=False)``: the type's and clinician's names are on
    them."""
    parts = []
    for entry in entries:
        appointment = entry.appointment
        chair, clinician = appointment.chair, appointment.clinician_name
        where = escape(chair.name) if chair else ""
        if chair and clinician:
            where += " · "
        if clinician:
            where += escape(clinician)
        parts.append(
            "\n        <tr>\n"
            f'          <td class="text-nowrap"><time datetime="'
            f'{escape(appointment.starts_at.isoformat())}">{_hm(entry.local_start)}</time>–'
            f"{_hm(entry.local_end)}</td>\n"
            f'          <td><a href="{entry.url}">{escape(appointment.patient.display_name)}'
            "</a></td>\n"
            f"          <td>{escape(appointment.type_name)}</td>\n"
            f"          <td>{where}</td>\n"
            f"          <td>{status_badge(appointment)}</td>\n"
            "        </tr>\n        "
        )
    return mark_safe("".join(parts))  # noqa: S308 - every value escaped above
