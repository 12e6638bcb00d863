"""The medicines step of the patient's intake link: the list so far, a search of the
clinic's drug list to add a medicine, and a button to remove one.

It works without JavaScript: "Search" posts the form and the page comes back with the
matching medicines to choose from; with htmx the same results appear as the patient
types (``public_medicine_search`` returns just them). The search text is posted, never
put in a URL, so no medicine name reaches a log. Every add or remove is saved on the
link at once, with the step's other answers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from clinic.forms import show_service_errors
from patients.intake.answers import form_answers
from patients.intake.medications import (
    MedicationRowForm,
    draft_medications,
    medication_lines,
)
from patients.intake.questions import IntakeSectionForm, MedicationsForm
from patients.links import LinkError, link_for_token
from patients.medicines import Drug, search
from patients.models import PatientLink
from patients.services.intake import intake_save_draft
from patients.views.links import patient_only

ADD_PREFIX = "add"
STEP = MedicationsForm.key


def _query(data: Any) -> str:
    return " ".join(str(data.get(f"{ADD_PREFIX}-name", "")).split())[:120]


def medicines_context(
    link: PatientLink, token: str, add_form: MedicationRowForm, query: str = ""
) -> dict[str, Any]:
    """What the medicines step shows besides the section's questions."""
    results: list[Drug] = search(query) if query else []
    return {
        "medicine_lines": medication_lines(draft_medications(link)),
        "add_form": add_form,
        "search_url": reverse("patient_links:intake-medicine-search", args=[token]),
        "results": results,
        "query": query,
        "searched": bool(query),
    }


def medicines_post(
    request: HttpRequest,
    link: PatientLink,
    form: IntakeSectionForm,
    step_url: str,
    *,
    action: str = "",
    done_url: str = "",
) -> tuple[HttpResponse | None, MedicationRowForm, str]:
    """Handle "search", "add" and "remove" on the medicines step (``action``, or the
    button pressed), redirecting to ``done_url`` (default: back to the list) once saved.

    Returns a redirect when the list was saved, or None with the add form (and search
    text) to show again; other actions are the step's ordinary ones (None, unbound)."""
    action = action or request.POST.get("action", "")
    query = _query(request.POST)
    if action == "search":
        return None, MedicationRowForm(prefix=ADD_PREFIX, initial={"name": query}), query
    rows = draft_medications(link)
    if action == "add":
        add_form = MedicationRowForm(data=request.POST, prefix=ADD_PREFIX)
        if not add_form.is_valid() or not form.is_valid():
            return None, add_form, query
        rows.append(add_form.row())
    elif action.startswith("remove-"):
        position = action.removeprefix("remove-")
        if not position.isdigit() or not 1 <= int(position) <= len(rows):
            # A list changed in another tab: show it as it is now.
            return redirect(f"{step_url}#medicines"), MedicationRowForm(prefix=ADD_PREFIX), ""
        if not form.is_valid():
            return None, MedicationRowForm(prefix=ADD_PREFIX), ""
        del rows[int(position) - 1]
    else:
        return None, MedicationRowForm(prefix=ADD_PREFIX), ""
    add_form = MedicationRowForm(prefix=ADD_PREFIX)
    try:
        intake_save_draft(
            link=link, data=form_answers(form), step=STEP, medications=rows, request=request
        )
    except ValidationError as exc:
        show_service_errors(form, exc)
        return None, add_form, ""
    return redirect(done_url or f"{step_url}#medicines"), add_form, ""


def pending_medicine(request: HttpRequest) -> bool:
    """Whether the patient typed or chose a medicine but did not press "Add" before moving
    on: it is added first, so nothing they entered is lost."""
    return bool(_query(request.POST) or request.POST.get(f"{ADD_PREFIX}-drug_key"))


@require_POST
@never_cache
@patient_only
def public_medicine_search(request: HttpRequest, token: str) -> HttpResponse:
    """The medicines matching what the patient typed, as choices for the add form (htmx)."""
    try:
        link_for_token(token, PatientLink.Purpose.INTAKE)
    except LinkError as error:
        return HttpResponse(str(error), status=getattr(error, "status", 410))
    query = _query(request.POST)
    return render(
        request,
        "patients/intake/partials/_medicine_results.html",
        {"results": search(query) if query else [], "query": query, "searched": bool(query)},
    )
