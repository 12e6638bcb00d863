"""The pre-infusion checks and the dose parts of the session screen.

Two sections: ``#pre-assessment`` (the checklist, the checks form, the pre-infusion vital
signs and a physician's acknowledgement of a blood pressure caution) and ``#dose`` (the
physician's order with a live calculation, the current order, what was given, and the
dose history across the patient's sessions).

Every form posts to its own URL. With HTMX the answer is the section again (with the
errors next to the fields, or what was saved); without JavaScript a saved form redirects
back to the section, and a refused one shows the whole session screen with the errors.
All rules are in ``infusions.preassessment`` and ``infusions.orders``; the forms and what the
sections show are in ``infusions.views.sections.preassessment``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required
from infusions import dosing
from infusions.dose_corrections import dose_correct
from infusions.models import InfusionSession
from infusions.models.preassessment import BloodPressureStatus
from infusions.models.sessions import InfusionSessionState
from infusions.orders import current_order, dose_administer, dose_order_sign, dose_preview, plain
from infusions.preassessment import (
    pre_assessment_acknowledge_caution,
    pre_assessment_record,
    pre_assessment_vitals,
)
from infusions.selectors import lot_for, session_for
from infusions.views.common import session_base_context, session_url
from infusions.views.sections.preassessment import (
    AdministerForm,
    CautionForm,
    DoseCorrectionForm,
    DoseOrderForm,
    PreAssessmentForm,
    PreVitalsForm,
    dose_context,
    pre_assessment_context,
)
from infusions.views.sections.screen import session_context

State = InfusionSessionState
PRE_SECTION = "pre-assessment"
DOSE_SECTION = "dose"


# --- Pages ---------------------------------------------------------------------------------------


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def pre_assessment_save(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """Save the checks recorded so far (partial saves are fine)."""
    session = session_for(request.user, session_id)
    with timezone.override(session.appointment.location.tz):
        form = PreAssessmentForm(request.POST, auto_id="pre-%s")
        valid = form.is_valid()
    if valid:
        data = form.cleaned_data
        try:
            pre_assessment_record(
                actor=request.user,
                session=session,
                identity_confirmed=data["identity_confirmed"],
                weight_kg=data["weight_kg"] or None,
                pregnancy_status=data["pregnancy_status"],
                escort_confirmed=data["escort_confirmed"],
                escort_name=data["escort_name"],
                escort_phone=data["escort_phone"],
                last_ate_at=data["last_ate_at"],
                notes=data["notes"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            return _saved(request, session, PRE_SECTION, "The pre-infusion checks are saved.")
    return _refused(request, session, PRE_SECTION, pre_form=form)


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def pre_assessment_vitals_save(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """Take the pre-infusion vital signs."""
    session = session_for(request.user, session_id)
    form = PreVitalsForm(request.POST, auto_id="pv-%s")
    if form.is_valid():
        try:
            assessment = pre_assessment_vitals(
                actor=request.user, session=session, values=form.reading(), request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            done = {
                BloodPressureStatus.OK: "The pre-infusion vital signs are saved: within limits.",
                BloodPressureStatus.CAUTION: "Saved. A blood pressure today is at or above "
                "the caution limit: a physician must acknowledge it before the infusion.",
                BloodPressureStatus.HOLD: "Saved. A blood pressure today is at or above the "
                "hold limit: there is no infusion today, whatever later readings say.",
            }[BloodPressureStatus(assessment.bp_status)]
            return _saved(request, session, PRE_SECTION, done)
    return _refused(request, session, PRE_SECTION, pre_vitals_form=form)


@require_POST
@capability_required(Capability.SIGN_MEDICAL_ORDERS)
def pre_assessment_acknowledge(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """A physician acknowledges a blood pressure caution, with a note."""
    session = session_for(request.user, session_id)
    form = CautionForm(request.POST, auto_id="ack-%s")
    if form.is_valid():
        try:
            pre_assessment_acknowledge_caution(
                actor=request.user, session=session, note=form.cleaned_data["note"], request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            return _saved(request, session, PRE_SECTION, "The caution is acknowledged.")
    return _refused(request, session, PRE_SECTION, pre_caution_form=form)


@require_POST
@capability_required(Capability.SIGN_MEDICAL_ORDERS)
def dose_order(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """A physician signs the dose order (replacing the current one, if any)."""
    session = session_for(request.user, session_id)
    limits = dosing.limits_from_settings()
    form = DoseOrderForm(request.POST, limits=limits, auto_id="order-%s")
    if form.is_valid():
        data = form.cleaned_data
        try:
            order = dose_order_sign(
                actor=request.user,
                session=session,
                route=data["route"],
                dose_mg_per_kg=data["dose_mg_per_kg"],
                duration_minutes=data["duration_minutes"],
                concentration_mg_per_ml=data["concentration_mg_per_ml"],
                note=data["note"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            return _saved(
                request,
                session,
                DOSE_SECTION,
                f"Dose order signed: {order.total_mg} mg ({plain(order.dose_mg_per_kg)} mg/kg "
                f"for {order.weight_kg} kg).",
            )
    return _refused(request, session, DOSE_SECTION, dose_order_form=form)


@require_POST
@capability_required(Capability.SIGN_MEDICAL_ORDERS)
def dose_calculate(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """What the order in the form comes to (HTMX preview; nothing is saved)."""
    session = session_for(request.user, session_id)
    limits = dosing.limits_from_settings()
    form = DoseOrderForm(request.POST, limits=limits, auto_id="order-%s")
    preview = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            preview = dose_preview(
                session=session,
                route=data["route"],
                dose_mg_per_kg=data["dose_mg_per_kg"],
                duration_minutes=data["duration_minutes"],
                concentration_mg_per_ml=data["concentration_mg_per_ml"],
            )
        except ValidationError as error:
            show_service_errors(form, error)
    if request.htmx:
        return render(
            request,
            "infusions/preassessment/_dose_preview.html",
            {"dose_preview": preview, "dose_preview_form": form},
        )
    # Without JavaScript: the session screen with the form as filled in and the preview.
    return _refused(
        request,
        session,
        DOSE_SECTION,
        ok=preview is not None,
        dose_order_form=form,
        dose_preview=preview,
    )


@require_POST
@capability_required(Capability.HANDLE_CONTROLLED_SUBSTANCES)
def dose_give(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """Record the dose given, and the witnessed waste of what was left."""
    session = session_for(request.user, session_id)
    form = AdministerForm(request.POST, session=session, actor=request.user, auto_id="give-%s")
    order = current_order(session)
    if order is None:
        form.add_error(None, "A physician must sign the dose order first.")
    elif form.is_valid():
        data = form.cleaned_data
        witness = next((u for u in form.witnesses if str(u.public_id) == data["witness"]), None)
        try:
            administration = dose_administer(
                actor=request.user,
                order=order,
                lot=lot_for(request.user, data["lot"]),
                drawn_mg=data["drawn_mg"],
                administered_mg=data["administered_mg"],
                witness=witness,
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                note=data["note"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            wasted = (
                f", {plain(administration.wasted_mg)} mg wasted" if administration.wasted_mg else ""
            )
            done = f"Recorded: {plain(administration.administered_mg)} mg given{wasted}."
            return _saved(request, session, DOSE_SECTION, done)
    return _refused(request, session, DOSE_SECTION, dose_give_form=form)


@require_POST
@capability_required(Capability.HANDLE_CONTROLLED_SUBSTANCES)
def dose_correct_view(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    """Record what was really given of a dose after the infusion ended early, and the
    witnessed waste of the rest (``infusions.dose_corrections``)."""
    session = session_for(request.user, session_id)
    form = DoseCorrectionForm(request.POST, actor=request.user, auto_id="correct-%s")
    if form.is_valid():
        data = form.cleaned_data
        witness = next((u for u in form.witnesses if str(u.public_id) == data["witness"]), None)
        try:
            correction = dose_correct(
                actor=request.user,
                session=session,
                given_mg=data["given_mg"],
                wasted_mg=data["wasted_mg"],
                witness=witness,
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            done = (
                f"Recorded: {plain(correction.given_mg)} mg actually given, "
                f"{plain(correction.wasted_mg)} mg not given and wasted."
            )
            return _saved(request, session, DOSE_SECTION, done)
    return _refused(request, session, DOSE_SECTION, dose_correct_form=form)


def _section_url(session: InfusionSession, section: str) -> str:
    return session_url(session, section)


def _saved(request: HttpRequest, session: InfusionSession, section: str, done: str) -> HttpResponse:
    if request.htmx:
        session.refresh_from_db()
        return _render_section(request, session, section, {f"{_prefix(section)}_done": done})
    messages.success(request, done)
    return redirect(_section_url(session, section))


def _refused(
    request: HttpRequest,
    session: InfusionSession,
    section: str,
    *,
    ok: bool = False,
    **forms_given: Any,
) -> HttpResponse:
    """The section again with the posted form: alone for htmx, else the whole screen (400
    unless ``ok``: a preview is not a refusal)."""
    if request.htmx:
        return _render_section(request, session, section, forms_given)
    context = session_context(request, session)
    if section == PRE_SECTION:
        context |= pre_assessment_context(request, session, **forms_given)
    else:
        context |= dose_context(request, session, **forms_given)
    if ok:
        return render(request, "infusions/session/detail.html", context)
    messages.error(request, "Nothing was saved: see what to fix below.")
    return render(request, "infusions/session/detail.html", context, status=400)


def _render_section(
    request: HttpRequest, session: InfusionSession, section: str, forms_given: dict[str, Any]
) -> HttpResponse:
    context = session_base_context(request, session)
    if section == PRE_SECTION:
        context |= pre_assessment_context(request, session, **forms_given)
        template = "infusions/session/_pre_assessment.html"
    else:
        context |= dose_context(request, session, **forms_given)
        template = "infusions/session/_dose.html"
    # 200 even with errors: htmx swaps only successful answers, and this one is the section
    # with the errors next to the fields.
    return render(request, template, context)


def _prefix(section: str) -> str:
    return "pre" if section == PRE_SECTION else "dose"
