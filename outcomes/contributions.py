"""What ``outcomes`` adds to the patient chart (``patients.views.chart.chart_page``),
registered from ``OutcomesConfig.ready``: each questionnaire's course and its picture, for
clinical staff. It reuses the infusion sessions the chart already read (``infusions``
contributes them first), which saves a query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from outcomes.views import chart_outcomes, chart_outcomes_section
from patients.models import Patient
from patients.selectors import can_see_clinical
from patients.views.chart import chart_page


@chart_page.register
def outcomes_chart(user: Any, patient: Patient, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    if not can_see_clinical(user):
        return {}
    outcomes = chart_outcomes(patient, shown.get("infusion_sessions"))
    return {"outcomes_chart": outcomes, "outcomes_html": chart_outcomes_section(outcomes)}
