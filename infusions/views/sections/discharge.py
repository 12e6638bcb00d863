"""The discharge and chart sections of the session screen: the checklist form (its
physician's fields appear only while an alert is unresolved) and what the section shows,
including the status part the flowsheet's answers swap out of band."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest

from clinic.forms import cosigner_code_field
from clinic.models import User
from clinic.permissions import Capability, user_can
from infusions.discharge_readiness import (
    DISCHARGE_STATES,
    baseline_reading,
    default_escort_name,
    discharge_blockers,
    latest_reading,
    physicians,
    recovery_shortfall,
    unresolved_alerts,
)
from infusions.models import Discharge, InfusionSession

ALDRETE_CHOICES = [("", "Choose a score")] + [(str(n), str(n)) for n in range(10, -1, -1)]


class PhysicianChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return obj.full_name


class DischargeForm(forms.Form):
    """The checklist as the nurse ticks it; ``discharge_sign`` decides what is enough."""

    vitals_near_baseline = forms.BooleanField(
        required=False, label="Vital signs are back near the patient's baseline"
    )
    alert_and_oriented = forms.BooleanField(
        required=False, label="Alert and oriented (knows who and where they are, and the day)"
    )
    aldrete_score = forms.TypedChoiceField(
        choices=ALDRETE_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        label="Modified Aldrete score",
    )
    escort_present = forms.BooleanField(
        required=False, label="An adult escort is here to take the patient home"
    )
    escort_name = forms.CharField(required=False, max_length=120, label="Escort's name")
    instructions_given = forms.BooleanField(
        required=False,
        label="After-care instructions given: no driving, machinery or important decisions "
        "until the next day",
    )
    physician = PhysicianChoiceField(
        queryset=User.objects.none(),
        required=False,
        to_field_name="public_id",
        empty_label="Choose the physician",
        label="Physician who reviewed the discharge",
    )
    physician_password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        label="Physician's password (not needed when the physician signs)",
    )
    physician_otp = cosigner_code_field("Physician's 6-digit code")
    physician_note = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Physician's note",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["physician"].queryset = physicians()


def section_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """What the discharge part of the session screen shows (its chart is kept rendered:
    ``kept.chart_html``)."""
    return discharge_context(request, session)


def discharge_context(
    request: HttpRequest, session: InfusionSession, form: DischargeForm | None = None
) -> dict[str, Any]:
    discharge = Discharge.objects.filter(session=session).select_related("signed_by", "physician")
    discharge = discharge.first()
    applies = discharge is None and session.state in DISCHARGE_STATES
    context: dict[str, Any] = {
        "discharge": discharge,
        "discharge_applies": applies,
        "discharge_min_aldrete": _min_aldrete(),
    }
    if not applies:
        return context
    unresolved = unresolved_alerts(session)
    shortfall = recovery_shortfall(session)
    if form is None:
        initial = {"escort_name": default_escort_name(session)}
        if (unresolved or shortfall) and user_can(request.user, Capability.SIGN_MEDICAL_ORDERS):
            initial["physician"] = request.user.public_id
        form = DischargeForm(initial=initial)
    return (
        context
        | _status(session, unresolved)
        | {
            "discharge_form": form,
            "discharge_stopped_early": session.state == InfusionSession.State.STOPPED_EARLY,
            # Too little recovery so far: the same physician's note lets the patient go.
            "discharge_recovery_shortfall": shortfall,
        }
    )


def discharge_status_context(session: InfusionSession) -> dict[str, Any] | None:
    """The status part of the discharge section alone (``_discharge_status.html``: what
    stands in the way, baseline and latest reading, values still out of range), for the
    flowsheet's answers to swap out of band; None when the section shows no status (not
    recovering yet, or signed already)."""
    if session.state not in DISCHARGE_STATES:
        return None
    if Discharge.objects.filter(session=session).exists():
        return None
    return _status(session, unresolved_alerts(session))


def _status(session: InfusionSession, unresolved: list[Any]) -> dict[str, Any]:
    return {
        "discharge_blockers": discharge_blockers(session),
        "discharge_unresolved": unresolved,
        "discharge_baseline": baseline_reading(session),
        "discharge_latest": latest_reading(session),
    }


def _min_aldrete() -> int:
    return settings.DISCHARGE_MIN_ALDRETE
