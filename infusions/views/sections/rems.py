"""The Spravato (esketamine) part of the session screen (``#rems``): the session's medicine,
the REMS enrolment and certification, the dose with each device's lot, the three blood
pressures with the one due about 40 minutes after the dose, the assessments of sedation,
dissociation and respiratory depression, and the monitoring form. Rules are in
``infusions.rems``; writes in ``infusions.esketamine``."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.http import HttpRequest

from clinic.permissions import Capability, user_can
from infusions import rems
from infusions.esketamine import KIND_STATES
from infusions.forms_ledger import LotReceiveForm
from infusions.models import DoseOrder, InfusionSession, RemsMonitoringForm
from infusions.models.rems import Presence
from infusions.models.sessions import InfusionSessionState, SessionKind

State = InfusionSessionState
DATE = forms.DateInput(attrs={"type": "date"})


class EnrolmentForm(forms.Form):
    rems_patient_id = forms.CharField(
        label="REMS patient ID", max_length=40, help_text="As the REMS gave it on enrolment."
    )
    enrolled_on = forms.DateField(label="Enrolment date", widget=DATE)


class CertificationForm(forms.Form):
    certification_id = forms.CharField(label="REMS setting certification ID", max_length=40)
    certified_on = forms.DateField(label="Certified on", widget=DATE)


class EsketamineDoseForm(forms.Form):
    devices = forms.TypedChoiceField(
        label="Dose",
        choices=[(2, "56 mg: 2 devices"), (3, "84 mg: 3 devices")],
        coerce=int,
        widget=forms.RadioSelect,
    )

    def __init__(self, *args: Any, lots: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Choose the lot")] + [
            (
                str(lot.public_id),
                f"{lot.lot_number} (expires {lot.expiry_date:%d %b %Y}, "
                f"{lot.devices_left} devices left)",
            )
            for lot in lots
        ]
        for position in (1, 2, 3):
            self.fields[f"lot_{position}"] = forms.ChoiceField(
                label=f"Device {position}: lot number",
                choices=choices,
                required=False,
                help_text="The third device only for 84 mg." if position == 3 else "",
            )


class AssessmentForm(forms.Form):
    sedation = forms.ChoiceField(
        label="Sedation", choices=Presence.choices, widget=forms.RadioSelect
    )
    dissociation = forms.ChoiceField(
        label="Dissociation", choices=Presence.choices, widget=forms.RadioSelect
    )
    respiratory_depression = forms.ChoiceField(
        label="Respiratory depression", choices=Presence.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(
        label="Note (optional)", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class EsketamineReceiveForm(LotReceiveForm):
    """A delivery of Spravato devices: the device is the container (28 mg), so there is no
    strength or container size to enter, only how many devices arrived."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        del self.fields["concentration_mg_per_ml"]
        del self.fields["container_volume_ml"]
        self.fields["containers_received"].label = "Devices received"
        self.fields["containers_received"].help_text = "How many 28 mg devices of this lot arrived."
        self.fields[
            "product_name"
        ].help_text = "As on the label, e.g. Spravato (esketamine) nasal spray 28 mg."
        self.fields["product_name"].initial = "Spravato (esketamine) nasal spray 28 mg device"


class SubmittedForm(forms.Form):
    submitted_on = forms.DateField(label="Date submitted to the REMS", widget=DATE)


def section_context(
    request: HttpRequest, session: InfusionSession, **forms_given: Any
) -> dict[str, Any]:
    """What ``#rems`` shows; the kind switch before any dose for IV sessions too."""
    can_record = user_can(request.user, Capability.RECORD_CLINICAL)
    may_switch = (
        can_record
        and session.state in KIND_STATES
        and not DoseOrder.objects.filter(session=session).exists()
    )
    other = SessionKind.IV_KETAMINE if session.is_esketamine else SessionKind.ESKETAMINE
    switch_problem = rems.kind_problem(session, other) if may_switch else ""
    context: dict[str, Any] = {
        "rems_may_switch": may_switch and not switch_problem,
        # Why an IV session can't become a Spravato one (its chair time is too short).
        "rems_switch_problem": switch_problem if not session.is_esketamine else "",
    }
    if not session.is_esketamine:
        return context
    appointment = session.appointment
    state = rems.monitoring(session)
    lots = rems.esketamine_lots(appointment.location) if state.dose is None else []
    context |= {
        "rems": state,
        "rems_enrolment": rems.enrolment_of(appointment.patient),
        "rems_certification": rems.certification_of(appointment.location),
        "rems_form": RemsMonitoringForm.objects.filter(session=session).first(),
        "rems_lots": lots,
        "rems_can_give": can_record
        and user_can(request.user, Capability.HANDLE_CONTROLLED_SUBSTANCES)
        and session.state == State.PRE_ASSESSMENT_PASSED
        and state.dose is None,
        "rems_can_assess": can_record and session.state == State.RECOVERING and state.dose,
        "rems_enrolment_form": forms_given.get("rems_enrolment_form")
        or EnrolmentForm(auto_id="rems-enrol-%s"),
        "rems_dose_form": forms_given.get("rems_dose_form")
        or EsketamineDoseForm(lots=lots, auto_id="rems-dose-%s"),
        "rems_assessment_form": forms_given.get("rems_assessment_form")
        or AssessmentForm(auto_id="rems-assess-%s"),
        "rems_blockers": state.blockers() if session.state == State.RECOVERING else [],
        "rems_bp_discharge_minutes": settings.REMS_BP_BEFORE_DISCHARGE_MINUTES,
    }
    return context
