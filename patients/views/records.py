"""Staff pages for the patient record: the list, details, contact consent, measurements
and questionnaires.

Every page that shows a patient's data writes a VIEW event to the audit log; every
change is logged by the service that makes it. The rules live in the record services
(``patients.services.details``, ``.contact_consent``, ``.measurements`` and
``.questionnaires``); these views pass input to them and show their errors next to the
fields.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from clinic.audit import Action, audit_record
from clinic.forms import show_service_errors
from clinic.models import Location
from clinic.paging import list_page
from clinic.permissions import Capability, capability_required, user_can
from clinic.selectors import locations_visible_to
from patients.forms import (
    ContactConsentForm,
    MeasurementForm,
    PatientFilterForm,
    PatientForm,
    QuestionnaireContextForm,
    QuestionnaireLinkForm,
)
from patients.messages import link_channels_said
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import (
    Instrument,
    definition_for,
    instruments_for_conditions,
    questionnaire_form_class,
)
from patients.selectors import (
    contact_consent_history,
    contact_consents_current,
    patient_for,
    patients_search,
)
from patients.services import details
from patients.services.contact_consent import contact_consent_record
from patients.services.measurements import measurement_record
from patients.services.questionnaires import questionnaire_link_create, questionnaire_record
from patients.views.links import replace_confirm

PATIENTS_PER_PAGE = 25
# What the list shows of each patient (``patients.templatetags.patient_rows``), read as plain
# rows: 25 patients and their locations as models cost more than the search itself.
LIST_FIELDS = (
    "public_id",
    "legal_last_name",
    "legal_first_name",
    "preferred_name",
    "date_of_birth",
    "mobile",
    "email",
    "preferred_location__name",
    "status",
)


def audit_patient_view(request: HttpRequest, patient: Patient, page: str) -> None:
    """Log that the signed-in staff member looked at ``page`` of ``patient``'s record."""
    audit_record(
        actor=request.user, action=Action.VIEW, target=patient, summary=page, request=request
    )


def sent_channels(patient: Patient, send: bool) -> list[str] | None:
    """For the pages that show a new link: the channels it was just queued on, by label
    (empty: the patient agreed to none or has no address), or None when staff only asked
    for the link to copy."""
    if not send:
        return None
    return link_channels_said(patient)


def _chart_url(patient: Patient, anchor: str = "") -> str:
    url = reverse("patients:chart", args=[patient.public_id])
    return f"{url}#{anchor}" if anchor else url


# --- The list --------------------------------------------------------------------------


@capability_required(Capability.VIEW_PATIENTS)
def patient_list(request: HttpRequest) -> HttpResponse:
    form = PatientFilterForm(request.GET, locations=locations_visible_to(request.user))
    filters = form.filters()  # an invalid filter is shown with its error and ignored
    patients = patients_search(request.user, **filters).values_list(*LIST_FIELDS, named=True)
    # Not counted: a COUNT(*) of a search costs more than its page (clinic.paging).
    page = list_page(patients, per_page=PATIENTS_PER_PAGE, number=request.GET.get("page"))
    # The list shows names and dates of birth: reading it is reading patient data.
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        object_type=Patient._meta.label_lower,
        summary=f"viewed the patient list: page {page.number}, {len(page.object_list)} shown",
        request=request,
    )
    context = {
        "form": form,
        "page": page,
        "filtered": any(value not in (None, "") for value in filters.values()),
        "can_create": user_can(request.user, Capability.EDIT_PATIENT_DETAILS),
    }
    return render(request, "patients/records/list.html", context)


# --- Details ---------------------------------------------------------------------------


@capability_required(Capability.EDIT_PATIENT_DETAILS)
def patient_create(request: HttpRequest) -> HttpResponse:
    form = PatientForm(
        request.POST or None,
        locations=locations_visible_to(request.user).filter(is_active=True),
        clinical=user_can(request.user, Capability.RECORD_CLINICAL),
    )
    if request.method == "POST" and form.is_valid():
        try:
            patient = details.patient_create(
                actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{patient.display_name} added. Record how they agreed to be contacted next.",
            )
            return redirect(_chart_url(patient))
    context = {
        "form": form,
        "title": "Add a patient",
        "submit_label": "Add patient",
        "cancel_url": reverse("patients:list"),
    }
    return render(request, "patients/records/form.html", context)


@capability_required(Capability.EDIT_PATIENT_DETAILS)
def patient_edit(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id)
    # The patient's own location stays choosable even if it was deactivated since.
    locations = locations_visible_to(request.user) | Location.objects.filter(
        pk=patient.preferred_location_id
    )
    form = PatientForm(
        request.POST or None,
        initial=PatientForm.initial_for(patient),
        locations=locations,
        clinical=user_can(request.user, Capability.RECORD_CLINICAL),
    )
    if request.method == "POST" and form.is_valid():
        try:
            patient = details.patient_update(
                actor=request.user, patient=patient, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(request, f"Saved {patient.display_name}'s details.")
            return redirect(_chart_url(patient))
    audit_patient_view(request, patient, "viewed the details form")
    context = {
        "form": form,
        "patient": patient,
        "title": f"Edit {patient.display_name}'s details",
        "submit_label": "Save changes",
        "cancel_url": _chart_url(patient),
    }
    return render(request, "patients/records/form.html", context)


# --- Contact consent -------------------------------------------------------------------


@capability_required(Capability.EDIT_PATIENT_DETAILS)
def contact_consent(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id)
    form = ContactConsentForm(request.POST or None, initial={"channel": request.GET.get("channel")})
    if request.method == "POST" and form.is_valid():
        try:
            consent = contact_consent_record(
                actor=request.user, patient=patient, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            state = "given" if consent.granted else "withdrawn"
            messages.success(
                request, f"Recorded: consent to {consent.get_channel_display().lower()} {state}."
            )
            return redirect(_chart_url(patient, "contact-consent"))
    audit_patient_view(request, patient, "viewed contact consent")
    context = {
        "form": form,
        "patient": patient,
        "current": contact_consents_current(patient),
        "history": contact_consent_history(patient),
    }
    return render(request, "patients/records/contact_consent.html", context)


# --- Measurements and questionnaires ----------------------------------------------------


@capability_required(Capability.RECORD_CLINICAL)
def measurement_new(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id, clinical=True)
    form = MeasurementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            measurement_record(
                actor=request.user, patient=patient, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request, "Measurement recorded, and the screening was run again with it."
            )
            return redirect(_chart_url(patient, "measurements"))
    audit_patient_view(request, patient, "viewed the measurement form")
    return render(
        request, "patients/records/measurement_form.html", {"form": form, "patient": patient}
    )


@capability_required(Capability.RECORD_CLINICAL)
def questionnaire_new(request: HttpRequest, patient_id: uuid.UUID, instrument: str) -> HttpResponse:
    patient = patient_for(request.user, patient_id, clinical=True)
    if instrument not in {member.value for member in Instrument}:
        raise Http404("There is no such questionnaire.")
    definition = definition_for(instrument)
    form = questionnaire_form_class(instrument)(request.POST or None)
    # Opened from an infusion session: "before an infusion", and back to the session after.
    asked = request.GET.get("context", "")
    known = {value for value, _ in QuestionnaireResponse.Context.choices}
    context_form = QuestionnaireContextForm(
        request.POST or None, initial={"context": asked} if asked in known else None
    )
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = ""
    if request.method == "POST" and all([form.is_valid(), context_form.is_valid()]):
        try:
            response = questionnaire_record(
                actor=request.user,
                patient=patient,
                instrument=instrument,
                answers=form.cleaned_data,
                context=context_form.cleaned_data["context"],
                request=request,
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request,
                f"{definition.short_name} recorded: {response.total}/{definition.max_total} "
                f"({response.band}).",
            )
            if response.item9_positive:
                messages.warning(
                    request,
                    "Question 9 was answered above 0 (thoughts of being better off dead or of "
                    "self-harm). A clinician must contact the patient today.",
                )
            return redirect(next_url or _chart_url(patient, "questionnaires"))
    audit_patient_view(request, patient, f"viewed the {definition.short_name} form")
    context = {
        "form": form,
        "context_form": context_form,
        "definition": definition,
        "patient": patient,
        "next_url": next_url,
    }
    return render(request, "patients/records/questionnaire_form.html", context)


@capability_required(Capability.RECORD_CLINICAL)
@capability_required(Capability.SEND_PATIENT_LINKS)
@never_cache
def questionnaire_link(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Choose questionnaires and send the patient a link to answer them (or show it to copy).

    Clinicians' (the suggestion follows the conditions treated, and the scores are
    clinical): those for the conditions, as the baseline until the patient has answered
    any questionnaire, then as a follow-up."""
    patient = patient_for(request.user, patient_id, clinical=True)
    initial = {
        "instruments": [i.value for i in instruments_for_conditions(patient.conditions)],
        "context": (
            QuestionnaireResponse.Context.FOLLOW_UP
            if patient.questionnaires.exists()
            else QuestionnaireResponse.Context.BASELINE
        ),
    }
    form = QuestionnaireLinkForm(request.POST or None, initial=initial)
    action = reverse("patients:questionnaire-link", args=[patient.public_id])
    if request.method == "POST" and form.is_valid():
        send = request.POST.get("send") == "1"
        try:
            link, token = questionnaire_link_create(
                actor=request.user,
                patient=patient,
                instruments=[Instrument(value) for value in form.cleaned_data["instruments"]],
                context=form.cleaned_data["context"],
                send_to_patient=send,
                replace_live=request.POST.get("replace") == "1",
                request=request,
            )
        except ValidationError as exc:
            if "replace_live" in exc.message_dict:
                return replace_confirm(
                    request,
                    patient=patient,
                    what="questionnaire",
                    action=action,
                    problems=exc.message_dict["replace_live"],
                    keep=[("instruments", value) for value in form.cleaned_data["instruments"]]
                    + [("context", form.cleaned_data["context"])],
                )
            show_service_errors(form, exc)
        else:
            context = {
                "patient": patient,
                "link": link,
                "url": request.build_absolute_uri(
                    reverse("patient_links:questionnaire", args=[token])
                ),
                "instruments": [definition_for(value).short_name for value in link.instruments],
                "sent_to": sent_channels(patient, send),
            }
            return render(request, "patients/questionnaire_link/link_created.html", context)
    return render(
        request,
        "patients/questionnaire_link/link_form.html",
        {"patient": patient, "form": form, "action": action},
        status=400 if form.errors else 200,
    )
