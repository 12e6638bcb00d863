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

from clinic.contributions import Contributions, Refinements
from clinic.permissions import Capability, capability_required, user_can
from patients.chart import CHART_AUDIT_EVENTS, chart_for, patient_audit_trail
from patients.chart_sections import clinical_sections, summary_sections
from patients.selectors import can_see_clinical, patient_for
from patients.services.consent import can_witness
from patients.views.records import audit_patient_view

chart_page = Contributions("patient chart")
"""Contributors take ``(user, patient, *, shown)``. The chart shows ``schedule_html``
(scheduling: the appointments and the treatment courses), ``infusion_sessions``
and ``infusion_sessions_html`` (infusions: every start, and the section listing the
latest) and ``outcomes_chart`` and ``outcomes_html`` (outcomes: the figures, and the
section drawn from them) when they are
there. ``shown["show_in_full"]`` names the long list the reader asked to see whole
(``?show=<name>``); a contributor lists only the latest of its long lists otherwise."""

chart_patient = Refinements("patient chart's patient")
"""Refiners of the query that reads the chart's patient: an app above ``patients`` adds what
its section shows of the patient (billing: the balance) to that query instead of asking again
(one query fewer each). What a refiner adds is on the patient its contributor is given."""


@require_GET
@capability_required(Capability.VIEW_PATIENTS)
def patient_chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id, refine=chart_patient.apply)
    clinical = can_see_clinical(request.user)
    audit_patient_view(request, patient, "viewed the chart" if clinical else "viewed the summary")
    user = request.user
    chart = chart_for(patient, clinical=clinical)
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
    }
    context["can_witness"] = can_witness(user)
    context["summary_sections"] = summary_sections(
        request,
        chart,
        {"can_send_links": permissions["can_send_links"], "can_witness": context["can_witness"]},
    )
    chart_page.add_to(context, user, patient)
    if clinical:
        context["clinical_sections"] = clinical_sections(request, chart, permissions)
        # Not kept: it grows with every view, this one included.
        context["audit_events"] = list(patient_audit_trail(patient)[:CHART_AUDIT_EVENTS])
    return render(request, "patients/chart/chart.html", context)
