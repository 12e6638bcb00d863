"""The patient chart: one page with everything the signed-in staff member may see.

Front desk and clinic admins get the demographics, status and contact consent; nurses
and physicians get the clinical record as well. Every view is in the audit log.

The sections of the apps above ``patients`` (appointments and courses, infusion sessions,
outcomes) are added through ``chart_page``: ``scheduling``, ``infusions`` and ``outcomes``
register into it from their ``AppConfig.ready``, each deciding who may see its section.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.contributions import Contributions, KeptVersions, Refinements
from clinic.permissions import Capability, capability_required, user_can
from clinic.queries import prepared_plans
from patients.chart import chart_audit_trail, chart_for
from patients.chart_sections import (
    clinical_record_sources,
    clinical_sections,
    summary_sections,
    summary_sources,
)
from patients.selectors import can_see_clinical, patient_for
from patients.services.consent import can_witness
from patients.views.records import audit_patient_view

chart_page = Contributions("patient chart")
"""Contributors take ``(user, patient, *, shown)``. The chart shows ``schedule_html``
(scheduling: the appointments and the treatment courses), ``infusion_sessions_html``
(infusions: the section listing the latest sessions; ``infusion_sessions`` has every
start, read when asked for) and ``outcomes_html`` (outcomes: the figures) when they are
there. ``shown["show_in_full"]`` names the long list the reader asked to see whole
(``?show=<name>``); a contributor lists only the latest of its long lists otherwise.
``shown["kept_versions"]`` holds the versions of the kept sections (``chart_versions``)."""

chart_versions = KeptVersions("patient chart")
"""Declarers take ``(user, patient)`` and return the sources of the versions of their kept
sections the reader will be shown (``clinic.contributions.KeptVersions``): the chart reads
them with its own in one query, and its contributors find them in
``shown["kept_versions"]`` (``clinic.contributions.kept_version``)."""

chart_patient = Refinements("patient chart's patient")
"""Refiners of the query that reads the chart's patient: an app above ``patients`` adds what
its section shows of the patient (billing: the balance) to that query instead of asking again
(one query fewer each). What a refiner adds is on the patient its contributor is given."""


@require_GET
@capability_required(Capability.VIEW_PATIENTS)
def patient_chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    # Planned once per connection: a lookup by a unique key, whose subqueries (the balance,
    # the packages) cost PostgreSQL more to plan than to run, on every chart.
    with prepared_plans():
        patient = patient_for(request.user, patient_id, refine=chart_patient.apply)
    clinical = can_see_clinical(request.user)
    audit_patient_view(request, patient, "viewed the chart" if clinical else "viewed the summary")
    user = request.user
    chart = chart_for(patient, clinical=clinical)
    # Every kept section's version, the chart's own and its contributors', in one query.
    own = {"chart-summary": summary_sources(patient)}
    if clinical:
        own["chart-clinical"] = clinical_record_sources(patient)
    versions = chart_versions.read(own, user, patient)
    # What the clinical sections offer to do: part of their key (patients.chart_sections).
    permissions = {
        "can_send_links": user_can(user, Capability.SEND_PATIENT_LINKS),
        "can_record": user_can(user, Capability.RECORD_CLINICAL),
        "can_decide": user_can(user, Capability.DECIDE_SCREENING),
    }
    context = {
        "chart": chart,
        "patient": patient,
        "can_edit": user_can(user, Capability.EDIT_PATIENT_DETAILS),
        **permissions,
        "show_in_full": request.GET.get("show", ""),
        "kept_versions": versions,
    }
    context["can_witness"] = can_witness(user)
    context["summary_sections"] = summary_sections(
        request,
        chart,
        {"can_send_links": permissions["can_send_links"], "can_witness": context["can_witness"]},
        version=versions["chart-summary"],
    )
    chart_page.add_to(context, user, patient)
    if clinical:
        context["clinical_sections"] = clinical_sections(
            request, chart, permissions, version=versions["chart-clinical"]
        )
        # Not kept: it grows with every view, this one included.
        context["audit_events"] = chart_audit_trail(patient)
    return render(request, "patients/chart/chart.html", context)
