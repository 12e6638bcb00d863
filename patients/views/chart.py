"""The patient chart: one page with everything the signed-in staff member may see.

Front desk and clinic admins get the demographics, status and contact consent; nurses
and physicians get the clinical record as well. Every view is in the audit log.
"""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.permissions import Capability, capability_required, user_can
from infusions.selectors import sessions_of_patient
from patients.chart import chart_for
from patients.followups import recent_check_ins
from patients.selectors import can_see_clinical, patient_for
from patients.services.consent import can_witness
from patients.views.outcomes import chart_outcomes
from patients.views.records import audit_patient_view
from scheduling.board import patient_appointments
from scheduling.courses.reads import course_progress, courses_of_patient


@require_GET
@capability_required(Capability.VIEW_PATIENTS)
def patient_chart(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id)
    clinical = can_see_clinical(request.user)
    audit_patient_view(request, patient, "viewed the chart" if clinical else "viewed the summary")
    user = request.user
    context = {
        "chart": chart_for(patient, clinical=clinical),
        "patient": patient,
        "can_edit": user_can(user, Capability.EDIT_PATIENT_DETAILS),
        "can_send_links": user_can(user, Capability.SEND_PATIENT_LINKS),
        "can_record": user_can(user, Capability.RECORD_CLINICAL),
        "can_decide": user_can(user, Capability.DECIDE_SCREENING),
    }
    context["can_witness"] = can_witness(user)
    if user_can(user, Capability.VIEW_SCHEDULE):
        context |= {
            "appointments": patient_appointments(user, patient),
            "courses": [
                (course, course_progress(course)) for course in courses_of_patient(user, patient)
            ],
            "can_book": user_can(user, Capability.BOOK_APPOINTMENTS),
            "can_plan_course": user_can(user, Capability.MANAGE_COURSES),
        }
    if clinical:
        context["infusion_sessions"] = sessions_of_patient(user, patient)
        context["outcomes_chart"] = chart_outcomes(patient, context["infusion_sessions"])
        context["check_ins"] = recent_check_ins(patient)
    return render(request, "patients/chart/chart.html", context)
