"""Spravato (esketamine) under the REMS: the session screen's ``#rems`` forms, the printable
Patient Monitoring Form, and the locations' REMS certifications.

Each form posts to its own URL; a saved one redirects back to the session's ``#rems``, a
refused one shows the whole session screen with the errors next to the fields (400). The
rules are in ``infusions.rems`` and ``infusions.esketamine``.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required, user_can
from clinic.selectors import locations_visible_to
from infusions import rems
from infusions.esketamine import (
    esketamine_dose_give,
    esketamine_lot_receive,
    rems_assessment_record,
    rems_certify,
    rems_enrol,
    rems_form_mark_submitted,
    session_kind_set,
)
from infusions.models import InfusionSession, RemsSettingCertification
from infusions.selectors import rems_form_for, session_for
from infusions.views.common import audit_session_view, session_url
from infusions.views.sections.rems import (
    AssessmentForm,
    CertificationForm,
    EnrolmentForm,
    EsketamineDoseForm,
    EsketamineReceiveForm,
    SubmittedForm,
)
from infusions.views.sections.screen import session_context

SECTION = "rems"


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def kind_set(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = session_for(request.user, session_id)
    try:
        session_kind_set(
            actor=request.user, session=session, kind=request.POST.get("kind", ""), request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            "This is a Spravato (esketamine) session: the REMS rules apply."
            if session.is_esketamine
            else "This is an IV ketamine session.",
        )
    return redirect(session_url(session, SECTION))


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def enrol(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = session_for(request.user, session_id)
    form = EnrolmentForm(request.POST, auto_id="rems-enrol-%s")
    if form.is_valid():
        try:
            rems_enrol(
                actor=request.user,
                patient=session.appointment.patient,
                rems_patient_id=form.cleaned_data["rems_patient_id"],
                enrolled_on=form.cleaned_data["enrolled_on"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            return _saved(request, session, "The patient's REMS enrolment is recorded.")
    return _refused(request, session, rems_enrolment_form=form)


@require_POST
@capability_required(Capability.HANDLE_CONTROLLED_SUBSTANCES)
def dose_give(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = session_for(request.user, session_id)
    lots = rems.esketamine_lots(session.appointment.location)
    form = EsketamineDoseForm(request.POST, lots=lots, auto_id="rems-dose-%s")
    if form.is_valid():
        devices = form.cleaned_data["devices"]
        chosen = [form.cleaned_data[f"lot_{n}"] or None for n in (1, 2, 3)][:devices]
        try:
            dose = esketamine_dose_give(
                actor=request.user, session=session, devices=devices, lots=chosen, request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            tz = session.appointment.location.tz
            state = rems.monitoring(session)
            return _saved(
                request,
                session,
                f"Recorded: esketamine {dose.dose_mg} mg ({dose.devices} devices) at "
                f"{dose.given_at.astimezone(tz):%H:%M}. Monitoring until at least "
                f"{state.ready_at.astimezone(tz):%H:%M}; blood pressure due at about "
                f"{state.bp_after_due_at.astimezone(tz):%H:%M}.",
            )
    elif "devices" in form.errors:
        form.errors["devices"] = form.error_class(
            [
                "Choose 56 mg (2 devices) or 84 mg (3 devices): those are the only esketamine "
                "doses, 28 mg per device."
            ]
        )
    return _refused(request, session, rems_dose_form=form)


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def assessment_add(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = session_for(request.user, session_id)
    form = AssessmentForm(request.POST, auto_id="rems-assess-%s")
    if form.is_valid():
        try:
            assessment = rems_assessment_record(
                actor=request.user, session=session, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            done = (
                "Recorded: sedation, dissociation and respiratory depression have resolved."
                if assessment.all_resolved
                else "Recorded. Keep watching the patient and assess again."
            )
            return _saved(request, session, done)
    return _refused(request, session, rems_assessment_form=form)


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def form_page(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    """The Patient Monitoring Form, printable."""
    form = rems_form_for(request.user, form_id)
    audit_session_view(request, form.session, "REMS patient monitoring form")
    return render(request, "infusions/rems/form.html", _form_context(request, form))


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def form_submitted(request: HttpRequest, form_id: uuid.UUID) -> HttpResponse:
    form = rems_form_for(request.user, form_id)
    submitted = SubmittedForm(request.POST, auto_id="rems-submitted-%s")
    if submitted.is_valid():
        try:
            rems_form_mark_submitted(
                actor=request.user,
                form=form,
                submitted_on=submitted.cleaned_data["submitted_on"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(submitted, error)
        else:
            messages.success(request, "Marked submitted: the form leaves the tracker.")
            return redirect("infusions:rems-form", form_id=form.public_id)
    messages.error(request, "Nothing was saved: see what to fix below.")
    return render(
        request,
        "infusions/rems/form.html",
        _form_context(request, form, submitted_form=submitted),
        status=400,
    )


@require_http_methods(["GET", "POST"])
@capability_required(Capability.USE_STAFF_AREA)
def certifications_page(request: HttpRequest) -> HttpResponse:
    """Each location's REMS setting certification, for clinicians and clinic admins;
    physicians and clinic admins record one."""
    if not (
        user_can(request.user, Capability.VIEW_CLINICAL)
        or user_can(request.user, Capability.MANAGE_LOCATIONS)
    ):
        raise PermissionDenied("The REMS certifications are for clinicians and clinic admins.")
    locations = list(locations_visible_to(request.user).filter(is_active=True).order_by("name"))
    may_record = user_can(request.user, Capability.SIGN_MEDICAL_ORDERS) or user_can(
        request.user, Capability.MANAGE_LOCATIONS
    )
    form = CertificationForm(auto_id="rems-cert-%s")
    refused_location = None
    if request.method == "POST":
        if not may_record:
            raise PermissionDenied("A physician or clinic admin records the REMS certification.")
        location = next(
            (loc for loc in locations if str(loc.public_id) == request.POST.get("location")), None
        )
        form = CertificationForm(request.POST, auto_id="rems-cert-%s")
        if location is None:
            form.add_error(None, "Choose one of the locations listed.")
        elif form.is_valid():
            try:
                rems_certify(
                    actor=request.user, location=location, request=request, **form.cleaned_data
                )
            except ValidationError as error:
                show_service_errors(form, error)
            else:
                messages.success(request, f"{location.name}'s REMS certification is recorded.")
                return redirect("infusions:rems-certifications")
        refused_location = location
    certifications = {
        c.location_id: c
        for c in RemsSettingCertification.objects.filter(location__in=locations).select_related(
            "recorded_by"
        )
    }
    rows = [(location, certifications.get(location.pk)) for location in locations]
    status = 400 if form.errors else 200
    return render(
        request,
        "infusions/rems/certifications.html",
        {
            "rows": rows,
            "may_record": may_record,
            "form": form,
            "blank_form": CertificationForm(auto_id="rems-cert-%s"),
            "refused_location": refused_location,
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
@capability_required(Capability.HANDLE_CONTROLLED_SUBSTANCES)
def receive_page(request: HttpRequest) -> HttpResponse:
    """Receive Spravato devices into the ledger (``esketamine_lot_receive``)."""
    form = EsketamineReceiveForm(request.POST or None, locations=locations_visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        location = data.pop("location")
        wall_clock = data.pop("received_at")
        devices = data.pop("containers_received")
        try:
            lot = esketamine_lot_receive(
                actor=request.user,
                location=location,
                devices=devices,
                received_at=wall_clock.replace(tzinfo=location.tz) if wall_clock else None,
                request=request,
                **data,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Received lot {lot.lot_number}: {lot.devices_left} Spravato devices at "
                f"{location}.",
            )
            return redirect("ledger:lot", lot_id=lot.public_id)
    status = 400 if form.errors else 200
    return render(request, "infusions/rems/receive.html", {"form": form}, status=status)


# --- Helpers -----------------------------------------------------------------------------------


def _form_context(request: HttpRequest, form: Any, **extra: Any) -> dict[str, Any]:
    contents = rems.form_contents(form)
    return {
        "contents": contents,
        "rems_form": form,
        "session": form.session,
        "location": contents.location,
        "patient": contents.patient,
        "can_record": user_can(request.user, Capability.RECORD_CLINICAL),
        "submitted_form": extra.get("submitted_form") or SubmittedForm(auto_id="rems-submitted-%s"),
    }


def _saved(request: HttpRequest, session: InfusionSession, done: str) -> HttpResponse:
    messages.success(request, done)
    return redirect(session_url(session, SECTION))


def _refused(request: HttpRequest, session: InfusionSession, **forms_given: Any) -> HttpResponse:
    session.refresh_from_db()
    context = session_context(request, session, rems_forms=forms_given)
    messages.error(request, "Nothing was saved: see what to fix below.")
    return render(request, "infusions/session/detail.html", context, status=400)
