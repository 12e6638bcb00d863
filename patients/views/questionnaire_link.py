"""The pages a patient opens from a questionnaire or check-in link, under /p/ (namespace
"patient_links").

One page per link, made for a phone: every question on it, large touch targets, and no
JavaScript needed. A missing answer shows the page again with a message by each question
left out, and nothing is kept until every answer is there. A link that was altered,
used, replaced or has expired gets a page saying so (404 or 410), never an error. The
thank-you page shows crisis resources at once when the answers reported thoughts of
self-harm (the clinic is alerted in the same request: ``patients.services.safety``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from patients.followups import (
    SIDE_EFFECTS_OTHER_MAX_LENGTH,
    checkin_side_effect_choices,
    checkin_submit,
    link_instruments,
    questionnaire_link_submit,
)
from patients.links import LinkError, link_for_token
from patients.models import CheckIn, PatientLink
from patients.questionnaires import QuestionnaireForm, questionnaire_form_class
from patients.views.links import patient_only

# What the thank-you page needs after the link is used up: whether to show crisis
# resources, and the number of the patient's location. Only in the browser that answered.
DONE_SESSION_KEY = "followup_done"


def _refused(request: HttpRequest, error: LinkError) -> HttpResponse:
    return render(
        request,
        "patients/questionnaire_link/refused.html",
        {"message": str(error)},
        status=error.status,
    )


def _first_name(link: PatientLink) -> str:
    return link.patient.preferred_name or link.patient.legal_first_name


def _clinic_phone(link: PatientLink) -> str:
    location = link.patient.preferred_location or (
        link.appointment.location if link.appointment is not None else None
    )
    return location.phone if location is not None else ""


def _done(request: HttpRequest, link: PatientLink, *, crisis: bool, page: str) -> HttpResponse:
    request.session[DONE_SESSION_KEY] = {"crisis": crisis, "phone": _clinic_phone(link)}
    return redirect(page)


# --- Questionnaires ---------------------------------------------------------------------


def _show_errors(forms_: list[QuestionnaireForm], exc: ValidationError) -> None:
    """Put the service's "<instrument>-<item>" errors by their questions."""
    by_prefix = {form.prefix: form for form in forms_}
    for key, messages in exc.message_dict.items():
        prefix, _, item = key.partition("-")
        form = by_prefix.get(prefix, forms_[0])
        form.add_error(item if item in form.fields else None, messages)


@never_cache
@patient_only
def questionnaire_by_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = link_for_token(token, PatientLink.Purpose.QUESTIONNAIRE)
    except LinkError as error:
        return _refused(request, error)
    data = request.POST if request.method == "POST" else None
    forms_ = [
        questionnaire_form_class(instrument)(data, prefix=instrument.value)
        for instrument in link_instruments(link)
    ]
    missing = 0
    if data is not None:
        if all([form.is_valid() for form in forms_]):  # noqa: C419 (validate every form)
            try:
                submitted = questionnaire_link_submit(
                    link=link,
                    answers={form.prefix: form.cleaned_data for form in forms_},
                    request=request,
                )
            except LinkError as error:
                return _refused(request, error)
            except ValidationError as exc:
                _show_errors(forms_, exc)
            else:
                return _done(
                    request,
                    link,
                    crisis=submitted.needs_crisis_resources,
                    page="patient_links:questionnaire-done",
                )
        missing = sum(len(form.errors) for form in forms_)
    return render(
        request,
        "patients/questionnaire_link/questionnaire.html",
        {
            "forms": forms_,
            "first_name": _first_name(link),
            "missing": missing,
            "expires_at": link.expires_at,
        },
    )


@require_GET
@never_cache
def questionnaire_done(request: HttpRequest) -> HttpResponse:
    return _thanks(request, what="questionnaire")


# --- The next-day check-in ----------------------------------------------------------------


class CheckInForm(forms.Form):
    wellbeing = forms.TypedChoiceField(
        label="How are you feeling today?",
        choices=CheckIn.Wellbeing.choices,
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect,
        label_suffix="",
        error_messages={
            "required": "Choose how you are feeling today, from very bad to very good.",
            "invalid_choice": "Choose one of the answers.",
        },
    )
    side_effects = forms.MultipleChoiceField(
        label="Have you had any of these since your visit? Tick all that apply.",
        choices=checkin_side_effect_choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label_suffix="",
        error_messages={"invalid_choice": "Choose from the list, or describe it below."},
    )
    side_effects_other = forms.CharField(
        label="Anything else you noticed? (optional)",
        max_length=SIDE_EFFECTS_OTHER_MAX_LENGTH,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        label_suffix="",
    )
    self_harm_thoughts = forms.TypedChoiceField(
        label=(
            "Since your visit, have you had thoughts that you would be better off dead, or of "
            "harming yourself?"
        ),
        choices=[("yes", "Yes"), ("no", "No")],
        coerce=lambda value: value == "yes",
        empty_value=None,
        widget=forms.RadioSelect,
        label_suffix="",
        error_messages={"required": "Answer yes or no: it helps us look after you."},
    )


@never_cache
@patient_only
def checkin_by_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = link_for_token(token, PatientLink.Purpose.CHECK_IN)
    except LinkError as error:
        return _refused(request, error)
    form = CheckInForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data: dict[str, Any] = form.cleaned_data
        try:
            _, alert = checkin_submit(
                link=link,
                wellbeing=data["wellbeing"],
                side_effects=data["side_effects"],
                side_effects_other=data["side_effects_other"],
                self_harm_thoughts=data["self_harm_thoughts"],
                request=request,
            )
        except LinkError as error:
            return _refused(request, error)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        else:
            return _done(
                request, link, crisis=alert is not None, page="patient_links:check-in-done"
            )
    invalid = request.method == "POST" and bool(form.errors)
    return render(
        request,
        "patients/questionnaire_link/checkin.html",
        {
            "form": form,
            "first_name": _first_name(link),
            "invalid": invalid,
            "clinic_phone": _clinic_phone(link),
        },
    )


@require_GET
@never_cache
def checkin_done(request: HttpRequest) -> HttpResponse:
    return _thanks(request, what="check-in")


def _thanks(request: HttpRequest, *, what: str) -> HttpResponse:
    done = request.session.get(DONE_SESSION_KEY) or {}
    return render(
        request,
        "patients/questionnaire_link/done.html",
        {
            "what": what,
            "crisis": bool(done.get("crisis")),
            "clinic_phone": done.get("phone", ""),
            "crisis_line_text": settings.CRISIS_LINE_TEXT,
        },
    )
