"""``{% patient_rows patients %}``: the rows of the staff patient list
(``templates/patients/records/list.html``), from the plain rows ``patients.views.records``
reads (``LIST_FIELDS``); a tag, with the chart's address worked out once, because the
template's loop (a link, a date, a phone number and a dozen lookups a row) cost more than the
search. The markup is the template's, character for character."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from html import escape  # Django's escape is this, behind a lazy-string wrapper
from typing import Any

from django import template
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from clinic.phones import phone_display
from patients.models import PatientStatus

register = template.Library()

_ANY_ID = uuid.UUID(int=0)
_STATUS = dict(PatientStatus.choices)


def _contact(patient: Any) -> str:
    mobile, email = patient.mobile, patient.email
    lines = [
        f'<span class="text-nowrap">{escape(phone_display(mobile))}</span>' if mobile else "",
        f'{"<br>" if mobile else ""}<span class="small">{escape(email)}</span>' if email else "",
        "" if mobile or email else '<span class="text-body-secondary">None recorded</span>',
    ]
    return "\n          ".join(lines)


def _row(patient: Any, chart: tuple[str, str]) -> str:
    prefers = (
        '<br><span class="small text-body-secondary">'
        f"Prefers {escape(patient.preferred_name)}</span>"
        if patient.preferred_name
        else ""
    )
    return (
        "\n      <tr>"
        '\n        <th scope="row">'
        f'\n          <a href="{chart[0]}{patient.public_id}{chart[1]}">'
        f"{escape(patient.legal_last_name)}, {escape(patient.legal_first_name)}</a>"
        f"\n          {prefers}"
        "\n        </th>"
        f'\n        <td class="text-nowrap">{patient.date_of_birth:%Y-%m-%d}</td>'
        "\n        <td>"
        f"\n          {_contact(patient)}"
        "\n        </td>"
        f"\n        <td>{escape(patient.preferred_location__name or '—')}</td>"
        '\n        <td><span class="badge text-bg-light border">'
        f"{escape(_STATUS.get(patient.status, patient.status))}</span></td>"
        "\n      </tr>\n      "
    )


@register.simple_tag
def patient_rows(patients: Iterable[Any]) -> SafeString:
    """A row a patient: a named row with ``LIST_FIELDS`` (attributes, not a model)."""
    before, after = reverse("patients:chart", args=[_ANY_ID]).split(str(_ANY_ID))
    return mark_safe("".join(_row(patient, (before, after)) for patient in patients))  # noqa: S308 (escaped above)
