"""Intake questionnaire pages: staff entering an intake, reading and comparing versions,
making a link for the patient; and the patient's own pages behind that link.

The patient pages (``public_intake``) show one section per step and save a draft on
every "Save and continue", so they work without JavaScript and can be resumed with the
same link until the patient submits. They show nothing about the patient but their
first name, and any link problem is a clear page (404 or 410), never an error.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required, user_can
from patients.intake.answers import (
    answers_by_section,
    answers_diff,
    clean_answers,
    draft_answers,
    draft_steps,
    form_answers,
    section_forms,
)
from patients.intake.medications import (
    MedicationFormSet,
    MedicationRowForm,
    draft_medications,
    formset_initial,
    list_problems,
    medication_lines,
    medication_rows,
)
from patients.intake.questions import IntakeSectionForm, MedicationsForm, sections_for
from patients.links import LinkError, link_for_token
from patients.medicines import CATALOGUE
from patients.models import Patient, PatientLink
from patients.selectors import patient_for
from patients.services.intake import intake_link_create, intake_save_draft, intake_submit
from patients.services.screening import latest_intake
from patients.views.intake_medicines import (
    ADD_PREFIX,
    medicines_context,
    medicines_post,
    pending_medicine,
)
from patients.views.links import patient_only, replace_confirm
from patients.views.records import audit_patient_view, sent_channels

REVIEW_STEP = "review"


def _detail_url(patient: Patient, version: int) -> str:
    return reverse("patients:intake-detail", args=[patient.public_id, version])


def _show_errors(forms_: list[IntakeSectionForm], exc: ValidationError) -> None:
    """Put a service's errors next to their questions, whichever section they are in."""
    if not hasattr(exc, "error_dict"):
        forms_[0].add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form = next((form for form in forms_ if name in form.fields), forms_[0])
        form.add_error(name if name in form.fields else None, errors)


# --- Staff: entering, reading and comparing ----------------------------------------------


@capability_required(Capability.RECORD_CLINICAL)
def intake_new(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """All sections on one page, filled in with the latest version if there is one."""
    patient = patient_for(request.user, patient_id, clinical=True)
    latest = latest_intake(patient)
    initial = latest.answers if latest is not None else {}
    data = request.POST if request.method == "POST" else None
    forms_ = section_forms(patient.sex_at_birth, data=data, initial=initial)
    medicines = MedicationFormSet(
        data=data,
        prefix="med",
        initial=formset_initial(medication_rows(latest.medications.all())) if latest else [],
    )
    if data is not None:
        valid = [form.is_valid() for form in forms_] + [medicines.is_valid()]
        if all(valid):
            answers: dict[str, Any] = {}
            for form in forms_:
                answers.update(form_answers(form))
            try:
                submission = intake_submit(
                    patient=patient,
                    answers=answers,
                    medications=medicines.rows(),
                    entered_by=request.user,
                    request=request,
                )
            except ValidationError as exc:
                _show_errors(forms_, exc)
            else:
                messages.success(
                    request,
                    f"Intake version {submission.version} saved and the screening rules run again.",
                )
                return redirect(_detail_url(patient, submission.version))
        messages.error(request, "Some answers need attention: see the messages by each question.")
    else:
        audit_patient_view(request, patient, "opened the intake form")
    return render(
        request,
        "patients/intake/form.html",
        {
            "patient": patient,
            "forms": forms_,
            "latest": latest,
            "medicines": medicines,
            "catalogue": CATALOGUE,
        },
    )


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def intake_detail(request: HttpRequest, patient_id: uuid.UUID, version: int) -> HttpResponse:
    patient = patient_for(request.user, patient_id, clinical=True)
    versions = list(patient.intakes.select_related("entered_by", "via_link").order_by("-version"))
    submission = next((item for item in versions if item.version == version), None)
    if submission is None:
        raise Http404("This patient has no intake with that version number.")
    audit_patient_view(request, patient, f"viewed intake version {version}")
    return render(
        request,
        "patients/intake/detail.html",
        {
            "patient": patient,
            "submission": submission,
            "versions": versions,
            "sections": answers_by_section(submission.answers, patient.sex_at_birth),
            "medicine_lines": medication_lines(medication_rows(submission.medications.all())),
            "previous": version - 1 if version > 1 else None,
            "can_record": user_can(request.user, Capability.RECORD_CLINICAL),
        },
    )


class IntakeDiffForm(forms.Form):
    from_version = forms.IntegerField(label="Compare version", min_value=1)
    to_version = forms.IntegerField(label="with version", min_value=1)

    def __init__(self, *args: Any, versions: list[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.versions = versions

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        for name in ("from_version", "to_version"):
            if data.get(name) is not None and data[name] not in self.versions:
                self.add_error(
                    name,
                    f"There is no version {data[name]}; choose one of "
                    f"{', '.join(str(v) for v in sorted(self.versions))}.",
                )
        return data


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def intake_diff(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """What changed between two versions: ``?from=1&to=2`` (default: the last two)."""
    patient = patient_for(request.user, patient_id, clinical=True)
    submissions = {item.version: item for item in patient.intakes.select_related("entered_by")}
    versions = sorted(submissions)
    latest = versions[-1] if versions else None
    data = {
        "from_version": request.GET.get("from") or (latest - 1 if latest else ""),
        "to_version": request.GET.get("to") or (latest or ""),
    }
    form = IntakeDiffForm(data, versions=versions)
    audit_patient_view(request, patient, "compared intake versions")
    context: dict[str, Any] = {"patient": patient, "form": form, "versions": versions}
    if len(versions) < 2:
        return render(request, "patients/intake/diff.html", context)
    if not form.is_valid():
        return render(request, "patients/intake/diff.html", context)
    old = submissions[form.cleaned_data["from_version"]]
    new = submissions[form.cleaned_data["to_version"]]
    before = medication_lines(medication_rows(old.medications.all()))
    after = medication_lines(medication_rows(new.medications.all()))
    context |= {
        "old": old,
        "new": new,
        "changes": answers_diff(old.answers, new.answers),
        "medicines_removed": [line for line in before if line not in after],
        "medicines_added": [line for line in after if line not in before],
    }
    return render(request, "patients/intake/diff.html", context)


@require_POST
@never_cache
@capability_required(Capability.SEND_PATIENT_LINKS)
def intake_link(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Make an intake link and show it once, to copy into a message to the patient."""
    patient = patient_for(request.user, patient_id)
    send = request.POST.get("send") == "1"
    try:
        link, token = intake_link_create(
            actor=request.user,
            patient=patient,
            send_to_patient=send,
            replace_live=request.POST.get("replace") == "1",
            request=request,
        )
    except ValidationError as error:
        # A working link would stop working: say which, and ask before replacing it.
        return replace_confirm(
            request,
            patient=patient,
            what="intake",
            action=reverse("patients:intake-link", args=[patient.public_id]),
            problems=error.message_dict.get("replace_live", []),
        )
    url = request.build_absolute_uri(reverse("patient_links:intake", args=[token]))
    return render(
        request,
        "patients/intake/link_created.html",
        {"patient": patient, "link": link, "url": url, "sent_to": sent_channels(patient, send)},
    )


# --- The patient's pages -----------------------------------------------------------------


def _link_problem(request: HttpRequest, error: LinkError) -> HttpResponse:
    return render(
        request,
        "patients/intake/public_problem.html",
        {"message": str(error)},
        status=getattr(error, "status", 410),
    )


def _first_name(patient: Patient) -> str:
    return patient.preferred_name or patient.legal_first_name


def _resume_step(link: PatientLink, keys: list[str]) -> str:
    """Where a patient coming back should start: the first section not saved yet."""
    saved = set(draft_steps(link))
    return next((key for key in keys if key not in saved), REVIEW_STEP)


def _step_url(token: str, step: str) -> str:
    return f"{reverse('patient_links:intake', args=[token])}?step={step}"


def _next_url(token: str, keys: list[str], index: int, action: str) -> str:
    """Where "Save and continue", "Save and go back" or "check my answers" lead."""
    if action == "back" and index > 0:
        return _step_url(token, keys[index - 1])
    if action == REVIEW_STEP:
        return _step_url(token, REVIEW_STEP)
    return _step_url(token, keys[index + 1] if index + 1 < len(keys) else REVIEW_STEP)


@never_cache
@patient_only
def public_intake(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = link_for_token(token, PatientLink.Purpose.INTAKE)
    except LinkError as error:
        return _link_problem(request, error)
    patient = link.patient
    sections = sections_for(patient.sex_at_birth)
    keys = [section.key for section in sections]
    step = request.GET.get("step", "")
    if step == REVIEW_STEP:
        return _public_review(request, link, token)
    if step not in keys:
        step = _resume_step(link, keys) if not step else keys[0]
        if step == REVIEW_STEP:
            return redirect(_step_url(token, REVIEW_STEP))
    index = keys.index(step)
    section = sections[index]
    extra: dict[str, Any] = {}
    action = request.POST.get("action", "") if request.method == "POST" else ""
    moving_on = action in ("next", "back", REVIEW_STEP)
    if step == MedicationsForm.key and (
        action in ("search", "add")
        or action.startswith("remove-")
        or (moving_on and pending_medicine(request))
    ):
        form = section(data=request.POST, draft=True)
        try:
            response, add_form, query = medicines_post(
                request,
                link,
                form,
                _step_url(token, step),
                action="add" if moving_on else action,
                done_url=_next_url(token, keys, index, action) if moving_on else "",
            )
        except LinkError as error:
            return _link_problem(request, error)
        if response is not None:
            return response
        extra = medicines_context(link, token, add_form, query)
    elif request.method == "POST":
        form = section(data=request.POST, draft=True)
        if form.is_valid():
            try:
                intake_save_draft(link=link, data=form_answers(form), step=step, request=request)
            except LinkError as error:
                return _link_problem(request, error)
            except ValidationError as exc:
                show_service_errors(form, exc)
            else:
                return redirect(_next_url(token, keys, index, action))
    else:
        form = section(initial=draft_answers(link), draft=True)
    if step == MedicationsForm.key and not extra:
        extra = medicines_context(link, token, MedicationRowForm(prefix=ADD_PREFIX))
    return render(
        request,
        "patients/intake/public_step.html",
        extra
        | {
            "form": form,
            "section": section,
            "first_name": _first_name(patient),
            "step_number": index + 1,
            "step_count": len(keys) + 1,  # and the review
            "is_first": index == 0,
            # Back from the review to change one section: offer the way straight back.
            "all_saved": set(keys) <= set(draft_steps(link)),
            "action_url": _step_url(token, step),
            "expires_at": link.expires_at,
        },
    )


def _public_review(request: HttpRequest, link: PatientLink, token: str) -> HttpResponse:
    patient = link.patient
    answers = draft_answers(link)
    try:
        clean_answers(answers, sex_at_birth=patient.sex_at_birth, draft=False)
    except ValidationError as exc:
        problems = exc.message_dict
    else:
        problems = {}
    mismatch = list_problems(answers, draft_medications(link))
    if mismatch and "takes_medicines" not in problems:
        problems["takes_medicines"] = mismatch
    if request.method == "POST" and not problems:
        try:
            intake_submit(
                patient=patient,
                answers=answers,
                medications=draft_medications(link),
                via_link=link,
                request=request,
            )
        except LinkError as error:
            return _link_problem(request, error)
        except ValidationError as exc:
            problems = exc.message_dict
        else:
            return redirect("patient_links:intake-done")
    sections = [
        (
            section,
            _step_url(token, section.key),
            [(row, problems.get(row.key, [])) for row in section.rows],
        )
        for section in answers_by_section(answers, patient.sex_at_birth)
    ]
    return render(
        request,
        "patients/intake/public_review.html",
        {
            "first_name": _first_name(patient),
            "sections": sections,
            "problem_count": len(problems),
            "submitted": request.method == "POST",
            "action_url": _step_url(token, REVIEW_STEP),
            "back_url": _step_url(token, sections[-1][0].key),
            "medicine_lines": medication_lines(draft_medications(link)),
            "medicines_url": _step_url(token, MedicationsForm.key),
            "step_count": len(sections) + 1,
            "expires_at": link.expires_at,
        },
    )


@require_GET
def public_intake_done(request: HttpRequest) -> HttpResponse:
    return render(request, "patients/intake/public_done.html")
