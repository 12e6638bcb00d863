"""The pre-infusion checks and the dose parts of the session screen.

Two sections: ``#pre-assessment`` (the checklist, the checks form, the pre-infusion vital
signs and a physician's acknowledgement of a blood pressure caution) and ``#dose`` (the
physician's order with a live calculation, the current order, what was given, and the
dose history across the patient's sessions).

Every form posts to its own URL. With HTMX the answer is the section again (with the
errors next to the fields, or what was saved); without JavaScript a saved form redirects
back to the section, and a refused one shows the whole session screen with the errors.
All rules are in ``infusions.preassessment`` and ``infusions.orders``.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.forms import cosigner_code_field, show_service_errors
from clinic.models import User
from clinic.permissions import ROLE_CAPABILITIES, Capability, capability_required, user_can
from infusions import dosing, vitals
from infusions.models import DoseAdministration, InfusionSession, PreAssessment
from infusions.models.orders import DoseRoute
from infusions.models.preassessment import BloodPressureStatus, PregnancyStatus
from infusions.models.sessions import InfusionSessionState
from infusions.orders import (
    ADMINISTER_STATES,
    ORDER_STATES,
    administration_lots,
    current_order,
    dose_administer,
    dose_history,
    dose_order_sign,
    dose_preview,
    plain,
)
from infusions.preassessment import (
    pre_assessment_acknowledge_caution,
    pre_assessment_checklist,
    pre_assessment_problems,
    pre_assessment_record,
    pre_assessment_vitals,
    pre_session_questionnaires,
    pregnancy_not_applicable,
    weighed_today,
)
from infusions.readings import ReadingInput
from infusions.selectors import lot_for, session_for
from infusions.views.common import session_base_context

State = InfusionSessionState
PRE_SECTION = "pre-assessment"
DOSE_SECTION = "dose"
BIG = {"class": "form-control-lg"}
NUMBER = {"class": "form-control-lg", "inputmode": "numeric", "autocomplete": "off"}
DECIMAL = {"class": "form-control-lg", "inputmode": "decimal", "autocomplete": "off"}


# --- Forms: shapes only; the services check the values ------------------------------------------


class PreAssessmentForm(forms.Form):
    identity_confirmed = forms.BooleanField(
        label="Identity confirmed (name and date of birth asked and checked)", required=False
    )
    weight_kg = forms.CharField(
        label="Weight today (kg)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs=DECIMAL),
        help_text="Weigh the patient now; in kilograms, e.g. 72.5.",
    )
    pregnancy_status = forms.ChoiceField(
        label="Pregnancy status",
        required=False,
        choices=PregnancyStatus.choices,
        widget=forms.RadioSelect,
    )
    escort_confirmed = forms.BooleanField(
        label="An adult escort will take the patient home", required=False
    )
    escort_name = forms.CharField(
        label="Escort's name", required=False, max_length=120, widget=forms.TextInput(attrs=BIG)
    )
    escort_phone = forms.CharField(
        label="Escort's phone",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs=BIG | {"inputmode": "tel", "autocomplete": "off"}),
    )
    last_ate_at = forms.DateTimeField(
        label="Last ate or drank (other than water)",
        required=False,
        widget=forms.DateTimeInput(attrs=BIG | {"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"invalid": "Enter the date and time, e.g. 2026-03-27 07:30."},
    )
    notes = forms.CharField(label="Notes", required=False, widget=forms.Textarea(attrs={"rows": 2}))


class PreVitalsForm(forms.Form):
    systolic = forms.IntegerField(
        label="Systolic (mmHg)", required=False, widget=forms.NumberInput(attrs=NUMBER)
    )
    diastolic = forms.IntegerField(
        label="Diastolic (mmHg)", required=False, widget=forms.NumberInput(attrs=NUMBER)
    )
    heart_rate = forms.IntegerField(
        label="Heart rate (/min)", required=False, widget=forms.NumberInput(attrs=NUMBER)
    )
    spo2 = forms.IntegerField(
        label="SpO2 (%)", required=False, widget=forms.NumberInput(attrs=NUMBER)
    )
    respiratory_rate = forms.IntegerField(
        label="Respiratory rate (/min)", required=False, widget=forms.NumberInput(attrs=NUMBER)
    )
    consciousness = forms.TypedChoiceField(
        label="Level of consciousness",
        required=False,
        coerce=int,
        empty_value=None,
        choices=[("", "Choose…"), *vitals.CONSCIOUSNESS_CHOICES],
        widget=forms.Select(attrs={"class": "form-select-lg"}),
    )
    pain = forms.IntegerField(
        label="Pain (0–10, if relevant)", required=False, widget=forms.NumberInput(attrs=NUMBER)
    )

    def reading(self) -> ReadingInput:
        return ReadingInput(**{name: self.cleaned_data.get(name) for name in self.fields})


class CautionForm(forms.Form):
    note = forms.CharField(
        label="Why the infusion may go ahead",
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why the infusion may go ahead."},
    )


class DoseOrderForm(forms.Form):
    route = forms.ChoiceField(
        label="Route", choices=DoseRoute.choices, widget=forms.RadioSelect, initial="iv_infusion"
    )
    dose_mg_per_kg = forms.CharField(
        label="Dose (mg/kg)", max_length=20, widget=forms.TextInput(attrs=DECIMAL)
    )
    duration_minutes = forms.CharField(
        label="Duration (minutes)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs=NUMBER),
        help_text="Required for an IV infusion.",
    )
    concentration_mg_per_ml = forms.CharField(
        label="Bag or syringe concentration (mg/mL)",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs=DECIMAL),
        help_text="For the rate in mL/h and the volume.",
    )
    note = forms.CharField(label="Note", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, limits: dosing.DoseLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        low, high = limits.min_mg_per_kg.normalize(), limits.max_mg_per_kg.normalize()
        self.fields["dose_mg_per_kg"].help_text = f"The clinic allows {low:f}–{high:f} mg/kg."
        self.fields["duration_minutes"].help_text = (
            f"Required for an IV infusion: {limits.min_duration_minutes}–"
            f"{limits.max_duration_minutes} minutes."
        )


class AdministerForm(forms.Form):
    lot = forms.ChoiceField(
        label="Lot", widget=forms.Select(attrs={"class": "form-select-lg"}), choices=[]
    )
    drawn_mg = forms.CharField(
        label="Drawn up (mg)", max_length=20, widget=forms.TextInput(attrs=DECIMAL)
    )
    administered_mg = forms.CharField(
        label="Given (mg)", max_length=20, widget=forms.TextInput(attrs=DECIMAL)
    )
    witness = forms.ChoiceField(
        label="Waste witnessed by",
        required=False,
        choices=[],
        widget=forms.Select(attrs={"class": "form-select-lg"}),
        help_text="Needed when less is given than drawn: the rest is wasted in front of them.",
    )
    witness_password = forms.CharField(
        label="Witness's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs=BIG | {"autocomplete": "off"}),
        help_text="The witness types their own password.",
    )
    witness_otp = cosigner_code_field("Witness's 6-digit code", attrs=BIG)
    note = forms.CharField(label="Note", required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, session: InfusionSession, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lots = administration_lots(session)
        self.fields["lot"].choices = [("", "Choose a lot…")] + [
            (
                str(lot.public_id),
                f"{lot.lot_number} · {lot.product_name} · {lot.balance_mg} mg left · "
                f"expires {lot.expiry_date:%d %b %Y}",
            )
            for lot in self.lots
        ]
        self.witnesses = witnesses_for(actor)
        self.fields["witness"].choices = [("", "No waste / choose…")] + [
            (str(user.public_id), user.full_name) for user in self.witnesses
        ]


# --- The sections' context ---------------------------------------------------------------------


def section_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """What the pre-infusion checks and the dose parts of the session screen show."""
    return pre_assessment_context(request, session) | dose_context(request, session)


def pre_assessment_context(
    request: HttpRequest, session: InfusionSession, **forms_given: Any
) -> dict[str, Any]:
    user = request.user
    assessment = _assessment(session)
    patient = session.appointment.patient
    editable = user_can(user, Capability.RECORD_CLINICAL) and session.state == State.CHECKED_IN
    caution_reasons: tuple[str, ...] = ()
    if assessment is not None and assessment.vitals is not None:
        reading = assessment.vitals
        caution_reasons = vitals.pre_infusion_status(
            vitals.Reading(
                systolic=reading.systolic,
                diastolic=reading.diastolic,
                heart_rate=reading.heart_rate,
                spo2=reading.spo2,
                respiratory_rate=reading.respiratory_rate,
                consciousness=reading.consciousness,
                pain=reading.pain,
            ),
            vitals.caution_hold_from_settings(),
        ).reasons
    is_hold = assessment is not None and assessment.bp_status == BloodPressureStatus.HOLD
    needs_ack = (
        assessment is not None
        and assessment.bp_status == BloodPressureStatus.CAUTION
        and assessment.caution_acknowledged_by_id is None
    )
    with timezone.override(session.appointment.location.tz):
        pre_form = forms_given.get("pre_form") or PreAssessmentForm(
            initial=_pre_initial(assessment, session), auto_id="pre-%s"
        )
    checklist = pre_assessment_checklist(session)
    return {
        "pre_assessment": assessment,
        "pre_checklist": checklist,
        "pre_problems": pre_assessment_problems(session),
        # The checks marked "To do" in the list: the count says exactly those.
        "pre_todo": [item for item in checklist if item.blocks and not item.done],
        "pre_editable": editable,
        "pre_form": pre_form,
        "pre_vitals_form": forms_given.get("pre_vitals_form") or PreVitalsForm(auto_id="pv-%s"),
        "pre_caution_form": forms_given.get("pre_caution_form") or CautionForm(auto_id="ack-%s"),
        "pre_can_acknowledge": needs_ack
        and editable
        and user_can(user, Capability.SIGN_MEDICAL_ORDERS),
        "pre_needs_ack": needs_ack,
        "pre_is_hold": is_hold,
        "pre_bp_reasons": caution_reasons,
        "pre_can_mark_not_started": user_can(user, Capability.RECORD_CLINICAL)
        and session.state in (State.CHECKED_IN, State.PRE_ASSESSMENT_PASSED, State.SCHEDULED),
        "pre_male": pregnancy_not_applicable(patient),
        "pre_questionnaires": pre_session_questionnaires(session),
        "pre_fasting_hours": _fasting_hours(),
        "pre_done": forms_given.get("pre_done", ""),
        "pre_errors": _non_field_errors(forms_given),
    }


def dose_context(
    request: HttpRequest, session: InfusionSession, **forms_given: Any
) -> dict[str, Any]:
    user = request.user
    order = current_order(session)
    administration = None
    if order is not None:
        administration = DoseAdministration.objects.filter(order=order).first()
    assessment = _assessment(session)
    limits = dosing.limits_from_settings()
    history = dose_history(session.appointment.patient)
    previous_dose = next(
        (entry.order.dose_mg_per_kg for entry in reversed(history) if entry.session != session),
        None,
    )
    can_order = (
        user_can(user, Capability.SIGN_MEDICAL_ORDERS)
        and session.state in ORDER_STATES
        and administration is None
    )
    can_give = (
        user_can(user, Capability.HANDLE_CONTROLLED_SUBSTANCES)
        and session.state in ADMINISTER_STATES
        and order is not None
        and administration is None
    )
    order_form = forms_given.get("dose_order_form")
    if order_form is None and can_order:
        order_form = DoseOrderForm(
            initial=_order_initial(order, previous_dose, limits), limits=limits, auto_id="order-%s"
        )
    give_form = forms_given.get("dose_give_form")
    if give_form is None and can_give:
        assert order is not None  # noqa: S101
        give_form = AdministerForm(
            initial={"drawn_mg": order.total_mg, "administered_mg": order.total_mg},
            session=session,
            actor=user,
            auto_id="give-%s",
        )
    return {
        "dose_order": order,
        "dose_order_dose": plain(order.dose_mg_per_kg) if order else "",
        "dose_order_concentration": plain(order.concentration_mg_per_ml) if order else "",
        "dose_administration": administration,
        "dose_weight_today": weighed_today(assessment, session),
        "dose_weight_kg": assessment.weight_kg if assessment is not None else None,
        "dose_can_order": can_order,
        "dose_can_give": can_give,
        "dose_order_form": order_form,
        "dose_give_form": give_form,
        "dose_preview": forms_given.get("dose_preview"),
        "dose_history": history,
        "dose_limits": limits,
        "dose_done": forms_given.get("dose_done", ""),
        "dose_errors": _non_field_errors(forms_given),
    }


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
                BloodPressureStatus.CAUTION: "Saved. The blood pressure is at or above the "
                "caution limit: a physician must acknowledge it before the infusion.",
                BloodPressureStatus.HOLD: "Saved. The blood pressure is at or above the hold "
                "limit: there is no infusion today.",
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


# --- Helpers -------------------------------------------------------------------------------------


def witnesses_for(actor: Any) -> list[User]:
    """Other active staff who may witness controlled-substance waste (nurses, physicians)."""
    roles = [
        str(role)
        for role, capabilities in ROLE_CAPABILITIES.items()
        if Capability.HANDLE_CONTROLLED_SUBSTANCES in capabilities
    ]
    return list(
        User.objects.filter(is_active=True, roles__overlap=roles)
        .exclude(pk=actor.pk)
        .order_by("full_name", "email")
    )


def _assessment(session: InfusionSession) -> PreAssessment | None:
    return (
        PreAssessment.objects.filter(session=session)
        .select_related("vitals", "caution_acknowledged_by", "recorded_by")
        .first()
    )


def _pre_initial(assessment: PreAssessment | None, session: InfusionSession) -> dict[str, Any]:
    if assessment is None:
        return {}
    return {
        "identity_confirmed": assessment.identity_confirmed,
        # Yesterday's weight is not offered again: the patient is weighed today.
        "weight_kg": assessment.weight_kg if weighed_today(assessment, session) else None,
        "pregnancy_status": assessment.pregnancy_status,
        "escort_confirmed": assessment.escort_confirmed,
        "escort_name": assessment.escort_name,
        "escort_phone": assessment.escort_phone,
        "last_ate_at": assessment.last_ate_at,
        "notes": assessment.notes,
    }


def _order_initial(order: Any, previous_dose: Decimal | None, limits: dosing.DoseLimits) -> dict:
    if order is not None:
        return {
            "route": order.route,
            "dose_mg_per_kg": plain(order.dose_mg_per_kg),
            "duration_minutes": order.duration_minutes,
            "concentration_mg_per_ml": plain(order.concentration_mg_per_ml),
        }
    return {
        "route": DoseRoute.IV_INFUSION,
        "dose_mg_per_kg": plain(previous_dose or limits.default_mg_per_kg),
        "duration_minutes": limits.default_duration_minutes,
    }


def _non_field_errors(forms_given: dict[str, Any]) -> list[str]:
    """The refusals of the posted form that belong to no field (e.g. the session's state)."""
    return [
        str(error)
        for value in forms_given.values()
        if isinstance(value, forms.Form)
        for error in value.non_field_errors()
    ]


def _fasting_hours() -> int:
    from django.conf import settings

    return settings.PRE_INFUSION_FASTING_HOURS


def _section_url(session: InfusionSession, section: str) -> str:
    from infusions.views.session import session_url

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
    from infusions.views.session import session_context

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
