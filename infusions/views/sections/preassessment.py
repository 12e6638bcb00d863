"""The pre-infusion checks and dose sections of the session screen: their forms (shapes
only; the services check the values) and what each section shows."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone

from clinic.forms import cosigner_code_field
from clinic.models import User
from clinic.permissions import ROLE_CAPABILITIES, Capability, user_can
from infusions import dosing, vitals
from infusions.dose_corrections import correction_needed, given_of
from infusions.models import InfusionSession, PreAssessment
from infusions.models.orders import DoseAdministration, DoseOrder, DoseRoute
from infusions.models.preassessment import BloodPressureStatus, PregnancyStatus
from infusions.models.rems import ESKETAMINE_NO_DRINK_MINUTES, ESKETAMINE_NO_FOOD_MINUTES
from infusions.models.sessions import InfusionSessionState
from infusions.orders import (
    ADMINISTER_STATES,
    ORDER_STATES,
    administration_lots,
    dose_history,
    plain,
)
from infusions.pre_bp import worst_pre_reading
from infusions.preassessment_checklist import (
    READ_NOW,
    pre_assessment_checklist,
    pre_assessment_problems,
    pre_session_questionnaires,
    pregnancy_not_applicable,
    weighed_today,
)
from infusions.readings import ReadingInput

State = InfusionSessionState
# How many of the patient's doses, up to this session, the session's page lists.
DOSE_HISTORY = 8

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


class DoseCorrectionForm(forms.Form):
    """What was really given of a dose recorded in full, when the infusion ended early."""

    given_mg = forms.CharField(
        label="Actually given (mg)", max_length=20, widget=forms.TextInput(attrs=DECIMAL)
    )
    wasted_mg = forms.CharField(
        label="Not given, wasted (mg)",
        max_length=20,
        widget=forms.TextInput(attrs=DECIMAL),
        help_text="The two must add up to the dose recorded as given.",
    )
    witness = forms.ChoiceField(
        label="Waste witnessed by",
        choices=[],
        widget=forms.Select(attrs={"class": "form-select-lg"}),
    )
    witness_password = forms.CharField(
        label="Witness's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs=BIG | {"autocomplete": "off"}),
        help_text="The witness types their own password.",
    )
    witness_otp = cosigner_code_field("Witness's 6-digit code", attrs=BIG)

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.witnesses = witnesses_for(actor)
        self.fields["witness"].choices = [("", "Choose…")] + [
            (str(user.public_id), user.full_name) for user in self.witnesses
        ]


# --- The sections' context ---------------------------------------------------------------------


def section_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """What the pre-infusion checks and the dose parts of the session screen show (the
    checks read once for both)."""
    assessment = _assessment(session)
    return pre_assessment_context(request, session, assessment=assessment) | dose_context(
        request, session, assessment=assessment
    )


def pre_assessment_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    assessment: PreAssessment | None = READ_NOW,
    **forms_given: Any,
) -> dict[str, Any]:
    user = request.user
    if assessment is READ_NOW:
        assessment = _assessment(session)
    patient = session.appointment.patient
    editable = user_can(user, Capability.RECORD_CLINICAL) and session.state == State.CHECKED_IN
    # The session's status is sticky (``infusions.pre_bp``): the box names the reading that
    # set it, which may not be the latest.
    caution_reasons: tuple[str, ...] = ()
    status_reading = None
    if assessment is not None and assessment.bp_status in (
        BloodPressureStatus.HOLD,
        BloodPressureStatus.CAUTION,
    ):
        status_reading, caution_reasons = worst_pre_reading(session, assessment.bp_status)
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
    if session.is_esketamine:
        # Spravato's advice is about food (2 hours) and drinks (30 minutes) apart.
        pre_form.fields["last_ate_at"].label = "Last ate"
    questionnaires = pre_session_questionnaires(session)
    checklist = pre_assessment_checklist(
        session, assessment=assessment, questionnaires=questionnaires
    )
    return {
        "pre_assessment": assessment,
        "pre_checklist": checklist,
        "pre_problems": pre_assessment_problems(session, assessment=assessment),
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
        "pre_bp_reading": status_reading,
        "pre_can_mark_not_started": user_can(user, Capability.RECORD_CLINICAL)
        and session.state in (State.CHECKED_IN, State.PRE_ASSESSMENT_PASSED, State.SCHEDULED),
        "pre_male": pregnancy_not_applicable(patient),
        "pre_questionnaires": questionnaires,
        "pre_fasting_hours": 0 if session.is_esketamine else _fasting_hours(),
        "pre_no_food_minutes": ESKETAMINE_NO_FOOD_MINUTES,
        "pre_no_drink_minutes": ESKETAMINE_NO_DRINK_MINUTES,
        "pre_done": forms_given.get("pre_done", ""),
        "pre_errors": non_field_errors(forms_given),
    }


def dose_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    assessment: PreAssessment | None = READ_NOW,
    **forms_given: Any,
) -> dict[str, Any]:
    user = request.user
    if assessment is READ_NOW:
        assessment = _assessment(session)
    limits = dosing.limits_from_settings()
    # The doses up to this session, the latest of them (a patient on weekly boosters has a
    # hundred after two years; the chart lists them all), and the one before those for the
    # first one's escalation.
    history = dose_history(session.appointment.patient, up_to=session, latest=DOSE_HISTORY + 1)
    earlier = len(history) > DOSE_HISTORY
    history = history[-DOSE_HISTORY:]
    # The session's current order and what was given are in the patient's history (the
    # latest order of this session that no later one replaces): not read again.
    this_session = [entry for entry in history if entry.session.pk == session.pk]
    order = administration = None
    if this_session:
        # Who signed, gave and witnessed it and the lot, for the section: one query, not
        # one each as the template asks.
        order = DoseOrder.objects.select_related(
            "ordered_by",
            "administration__lot",
            "administration__given_by",
            "administration__witness",
            "administration__correction__witness",
        ).get(pk=this_session[-1].order.pk)
        try:
            administration = order.administration
        except DoseAdministration.DoesNotExist:
            administration = None
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
    correction = (
        correction_needed(session, order=order, administration=administration)
        if administration is not None
        else None
    )
    correct_form = forms_given.get("dose_correct_form")
    if (
        correct_form is None
        and correction is not None
        and user_can(user, Capability.HANDLE_CONTROLLED_SUBSTANCES)
    ):
        correct_form = DoseCorrectionForm(actor=user, auto_id="correct-%s")
    return {
        "dose_correction_needed": correction,
        "dose_correct_form": correct_form,
        "dose_given_mg": given_of(administration),
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
        "dose_history_earlier": earlier,
        "dose_limits": limits,
        "dose_done": forms_given.get("dose_done", ""),
        "dose_errors": non_field_errors(forms_given),
    }


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


def non_field_errors(forms_given: dict[str, Any]) -> list[str]:
    """The refusals of the posted form that belong to no field (e.g. the session's state)."""
    return [
        str(error)
        for value in forms_given.values()
        if isinstance(value, forms.Form)
        for error in value.non_field_errors()
    ]


def _fasting_hours() -> int:
    return settings.PRE_INFUSION_FASTING_HOURS
