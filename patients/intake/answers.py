"""Intake answers: checked as a whole answer set and returned in stored form, shown as
staff and patients read them, compared between two versions; and the progress a patient
saved through their link.

Stored answers are one flat JSON object: field name -> value (choice values as text,
numbers as int, doses as decimal text, dates as ISO text, ``None`` or ``""`` when not
answered), plus ``schema_version``. Old versions are never rewritten: code reading
answers must cope with keys that are missing or that it does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.formats import date_format

from patients.intake.questions import (
    FIELD_SECTION,
    SECTION_KEYS,
    SECTIONS,
    IntakeSectionForm,
    MedicationsForm,
    MedicationsFormV1,
    sections_for,
    short_label,
)
from patients.models import PatientLink

# 2: the medicines are a list (``patients.intake.medications``) instead of yes/no boxes.
INTAKE_SCHEMA_VERSION = 2
SCHEMA_VERSION_KEY = "schema_version"

NOT_ANSWERED = "Not answered"


# --- Answers -----------------------------------------------------------------------------


def to_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, date):
        return value.isoformat()
    return value


def form_answers(form: IntakeSectionForm) -> dict[str, Any]:
    """A valid section form's answers, ready to store as JSON."""
    return {name: to_json(form.cleaned_data.get(name)) for name in form.fields}


def _form_data(answers: Mapping[str, Any], names: Iterable[str]) -> dict[str, str]:
    # Stored answers are already in the forms' input formats; None becomes blank.
    return {name: "" if answers.get(name) is None else str(answers[name]) for name in names}


def section_forms(
    sex_at_birth: str,
    *,
    data: Mapping[str, Any] | None = None,
    initial: Mapping[str, Any] | None = None,
    draft: bool = False,
) -> list[IntakeSectionForm]:
    """One form per section asked of this patient, all bound to ``data`` if given."""
    return [
        section(data=data, initial=dict(initial or {}), draft=draft)
        for section in sections_for(sex_at_birth)
    ]


def clean_answers(answers: Mapping[str, Any], *, sex_at_birth: str, draft: bool) -> dict[str, Any]:
    """Check a whole answer set and return it in stored form, with ``schema_version``.

    Raises ``ValidationError`` keyed by field name. Keys that are not questions are
    dropped; questions not asked of this patient (pregnancy, male at birth) too.
    """
    errors: dict[str, list[ValidationError]] = {}
    clean: dict[str, Any] = {}
    for section in sections_for(sex_at_birth):
        form = section(data=_form_data(answers, section.base_fields), draft=draft)
        if form.is_valid():
            clean.update(form_answers(form))
        else:
            for name, messages in form.errors.as_data().items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    clean[SCHEMA_VERSION_KEY] = INTAKE_SCHEMA_VERSION
    return clean


def display_value(field: forms.Field | None, value: Any) -> str:
    """An answer as staff and patients read it."""
    if value is None or value == "":
        return NOT_ANSWERED
    if isinstance(field, forms.ChoiceField):
        return str(dict(field.choices).get(value, value))
    if isinstance(field, forms.DecimalField):
        try:
            return f"{to_json(Decimal(str(value)))} mg"
        except InvalidOperation:
            return str(value)
    if isinstance(field, forms.DateField):
        try:
            return date_format(date.fromisoformat(str(value)), "DATE_FORMAT")
        except ValueError:
            return str(value)
    return str(value)


@dataclass(frozen=True)
class AnswerRow:
    key: str
    label: str  # the question as the patient read it
    short_label: str  # for staff
    value: str


@dataclass(frozen=True)
class SectionAnswers:
    key: str
    title: str
    rows: tuple[AnswerRow, ...]


def schema_version(answers: Mapping[str, Any]) -> int:
    """The questionnaire version an answer set was given in (1 when it does not say)."""
    version = answers.get(SCHEMA_VERSION_KEY)
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def _as_asked(
    sections: Iterable[type[IntakeSectionForm]], answers: Mapping[str, Any]
) -> list[type[IntakeSectionForm]]:
    # Version 1 asked about medicines with yes/no boxes: show those questions for it.
    if schema_version(answers) >= 2:
        return list(sections)
    return [MedicationsFormV1 if s is MedicationsForm else s for s in sections]


def answers_by_section(answers: Mapping[str, Any], sex_at_birth: str) -> list[SectionAnswers]:
    """Every question asked of this patient with its answer, section by section, as the
    questionnaire of that answer set's version asked them."""
    return [
        SectionAnswers(
            key=section.key,
            title=section.title,
            rows=tuple(
                AnswerRow(
                    name,
                    str(field.label),
                    short_label(field),
                    display_value(field, answers.get(name)),
                )
                for name, field in section.base_fields.items()
            ),
        )
        for section in _as_asked(sections_for(sex_at_birth), answers)
    ]


@dataclass(frozen=True)
class AnswerChange:
    key: str
    section: str
    label: str
    before: str
    after: str


def answers_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[AnswerChange]:
    """What changed between two answer sets, question by question, in questionnaire order.

    Answers are compared as people read them, so "2.50" and "2.5" mg are the same.
    Keys this version of the questionnaire does not know are compared as they are.
    """
    changes: list[AnswerChange] = []
    known = set(FIELD_SECTION)
    for section in [*SECTIONS, MedicationsFormV1]:
        for name, field in section.base_fields.items():
            if section is MedicationsFormV1 and name in known:
                continue
            known.add(name)
            before = display_value(field, old.get(name))
            after = display_value(field, new.get(name))
            if before != after:
                changes.append(AnswerChange(name, section.title, short_label(field), before, after))
    unknown = (set(old) | set(new)) - known - {SCHEMA_VERSION_KEY}
    for name in sorted(unknown):
        before = display_value(None, old.get(name))
        after = display_value(None, new.get(name))
        if before != after:
            changes.append(AnswerChange(name, "Other", name, before, after))
    return changes


# --- A patient's unsubmitted progress (kept on their link) -------------------------------


def draft_answers(link: PatientLink) -> dict[str, Any]:
    """The answers a patient saved through their link so far."""
    answers = (link.draft or {}).get("answers")
    return dict(answers) if isinstance(answers, Mapping) else {}


def draft_steps(link: PatientLink) -> list[str]:
    """The sections the patient has saved at least once, in the order they saved them."""
    steps = (link.draft or {}).get("steps_saved")
    return [step for step in steps if step in SECTION_KEYS] if isinstance(steps, list) else []
