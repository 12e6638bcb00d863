"""What ``outcomes`` adds to the patient chart (``patients.views.chart.chart_page``),
registered from ``OutcomesConfig.ready``: each questionnaire's course and its picture, for
clinical staff, kept rendered by a version of the rows it is drawn from, which the chart
reads with its others (``chart_versions``). Drawn, it reuses the infusion sessions' starts
the chart has (``infusions`` contributes them first), which saves a query."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clinic.contributions import kept_version
from clinic.fragments import Source, rows_version
from outcomes.views import chart_outcomes_sources, kept_chart_outcomes_section
from patients.models import Patient
from patients.selectors import can_see_clinical
from patients.views.chart import chart_page, chart_versions


@chart_versions.register
def outcomes_version_sources(user: Any, patient: Patient) -> dict[str, list[Source]]:
    if not can_see_clinical(user):
        return {}
    return {"chart-outcomes": chart_outcomes_sources(patient)}


@chart_page.register
def outcomes_chart(user: Any, patient: Patient, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    if not can_see_clinical(user):
        return {}
    version = kept_version(
        shown, "chart-outcomes", lambda: rows_version(*chart_outcomes_sources(patient))
    )
    html = kept_chart_outcomes_section(patient, shown.get("infusion_sessions"), version=version)
    return {"outcomes_html": html}
