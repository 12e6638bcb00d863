"""Standard symptom questionnaires: their wording, their scoring, and a form to ask them.

Pure Python apart from the form builder at the bottom, which needs Django forms but no
models. Used for the baseline measurements at consultation (issue 3) and for the
follow-up questionnaires and outcome figures (issue 6): store `Score.answers` and
`Score.total`, and re-score stored answers with `score()` whenever in doubt.

The PHQ-9, GAD-7 and PCL-5 are free to use, but they are only valid when asked as
published, so the item wording below is the instruments' own and must not be edited.
The one liberty taken is PCL-5's "circle one of the numbers to the right", which reads
"select one of the answers" on a screen.

Scores and bands follow ../shared/DOMAIN.md, section "Questionnaires".
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from django import forms

from clinic.conditions import (
    ANXIETY_CONDITIONS,
    CONDITION_KEYS,
    PAIN_CONDITIONS,
    PSYCHIATRIC_CONDITIONS,
    PTSD_CONDITIONS,
)


class Instrument(StrEnum):
    PHQ9 = "phq9"
    GAD7 = "gad7"
    PCL5 = "pcl5"
    PAIN_NRS = "pain_nrs"


class QuestionnaireError(ValueError):
    """Answers that cannot be scored. `errors` maps each item key (e.g. "q4") to what the
    person filling in the questionnaire should do about it."""

    def __init__(self, instrument: Instrument, errors: Mapping[str, str]) -> None:
        self.instrument = instrument
        self.errors: dict[str, str] = dict(errors)
        details = "; ".join(f"{key}: {message}" for key, message in self.errors.items())
        super().__init__(f"{DEFINITIONS[instrument].short_name} cannot be scored: {details}")


@dataclass(frozen=True)
class Item:
    key: str  # "q1", "q2", ... in the order the instrument asks them
    text: str

    @property
    def number(self) -> int:
        return int(self.key.removeprefix("q"))


class Choice(NamedTuple):
    value: int
    label: str


class Band(NamedTuple):
    low: int  # inclusive
    high: int  # inclusive
    label: str


@dataclass(frozen=True)
class Definition:
    instrument: Instrument
    short_name: str  # "PHQ-9": for headings, charts and messages
    title: str  # "PHQ-9 (depression)"
    instructions: str  # the instrument's own stem, shown above the items
    items: tuple[Item, ...]
    choices: tuple[Choice, ...]  # the same answer scale for every item
    min_total: int
    max_total: int
    bands: tuple[Band, ...]  # contiguous, covering min_total..max_total
    interpretation: str  # what the score means, for staff
    source: str  # where the wording and cut-offs come from

    @property
    def item_keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)

    @property
    def item_min(self) -> int:
        return min(choice.value for choice in self.choices)

    @property
    def item_max(self) -> int:
        return max(choice.value for choice in self.choices)

    def band_for(self, total: int) -> str:
        for band in self.bands:
            if band.low <= total <= band.high:
                return band.label
        raise ValueError(
            f"{self.short_name} totals run from {self.min_total} to {self.max_total}, not {total}."
        )


# --- The instruments --------------------------------------------------------------------

_FREQUENCY_CHOICES = (
    Choice(0, "Not at all"),
    Choice(1, "Several days"),
    Choice(2, "More than half the days"),
    Choice(3, "Nearly every day"),
)

_PCL5_CHOICES = (
    Choice(0, "Not at all"),
    Choice(1, "A little bit"),
    Choice(2, "Moderately"),
    Choice(3, "Quite a bit"),
    Choice(4, "Extremely"),
)


def _items(*texts: str) -> tuple[Item, ...]:
    return tuple(Item(key=f"q{number}", text=text) for number, text in enumerate(texts, 1))


# Item 9 asks about thoughts of being better off dead or of self-harm: any answer above
# 0 alerts the clinical team, whatever the total.
PHQ9_SAFETY_ITEM = "q9"

# Published PCL-5 cut-offs for probable PTSD range from 31 to 33 (Bovin et al. 2016;
# National Center for PTSD); 33 is the one the National Center for PTSD suggests.
PCL5_PROBABLE_PTSD_CUTOFF = 33

# A change of 2 points (about 30 %) on the 0-10 scale is clinically important
# (Farrar et al. 2001).
PAIN_MEANINGFUL_CHANGE = 2

# Response: at least a 50 % fall from the pre-treatment baseline (DOMAIN.md).
RESPONSE_REDUCTION = 0.5

# Remission: a total below this (DOMAIN.md). Only PHQ-9 and GAD-7 define one here.
REMISSION_BELOW: Mapping[Instrument, int] = MappingProxyType(
    {Instrument.PHQ9: 5, Instrument.GAD7: 5}
)

PHQ9 = Definition(
    instrument=Instrument.PHQ9,
    short_name="PHQ-9",
    title="PHQ-9 (depression)",
    instructions=(
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    ),
    items=_items(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or "
        "your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
        "Moving or speaking so slowly that other people could have noticed? Or the "
        "opposite — being so fidgety or restless that you have been moving around a lot "
        "more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    choices=_FREQUENCY_CHOICES,
    min_total=0,
    max_total=27,
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 19, "moderately severe"),
        Band(20, 27, "severe"),
    ),
    interpretation=(
        "Depression severity over the last 2 weeks; higher is worse. Any answer above "
        '"Not at all" on question 9 (thoughts of being better off dead or of self-harm) '
        "needs prompt clinical follow-up, whatever the total."
    ),
    source=(
        "Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression "
        "severity measure. J Gen Intern Med 2001;16(9):606-613. Free to use, no permission "
        "required (phqscreeners.com)."
    ),
)

GAD7 = Definition(
    instrument=Instrument.GAD7,
    short_name="GAD-7",
    title="GAD-7 (anxiety)",
    instructions=(
        "Over the last 2 weeks, how often have you been bothered by the following problems?"
    ),
    items=_items(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
    choices=_FREQUENCY_CHOICES,
    min_total=0,
    max_total=21,
    bands=(
        Band(0, 4, "minimal"),
        Band(5, 9, "mild"),
        Band(10, 14, "moderate"),
        Band(15, 21, "severe"),
    ),
    interpretation=(
        "Anxiety severity over the last 2 weeks; higher is worse. 10 or more warrants "
        "further assessment."
    ),
    source=(
        "Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing "
        "generalized anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-1097. "
        "Free to use, no permission required (phqscreeners.com)."
    ),
)

PCL5 = Definition(
    instrument=Instrument.PCL5,
    short_name="PCL-5",
    title="PCL-5 (post-traumatic stress)",
    instructions=(
        "Below is a list of problems that people sometimes have in response to a very "
        "stressful experience. Please read each problem carefully and then select one of "
        "the answers to indicate how much you have been bothered by that problem in the "
        "past month. In the past month, how much were you bothered by:"
    ),
    items=_items(
        "Repeated, disturbing, and unwanted memories of the stressful experience?",
        "Repeated, disturbing dreams of the stressful experience?",
        "Suddenly feeling or acting as if the stressful experience were actually happening "
        "again (as if you were actually back there reliving it)?",
        "Feeling very upset when something reminded you of the stressful experience?",
        "Having strong physical reactions when something reminded you of the stressful "
        "experience (for example, heart pounding, trouble breathing, sweating)?",
        "Avoiding memories, thoughts, or feelings related to the stressful experience?",
        "Avoiding external reminders of the stressful experience (for example, people, "
        "places, conversations, activities, objects, or situations)?",
        "Trouble remembering important parts of the stressful experience?",
        "Having strong negative beliefs about yourself, other people, or the world (for "
        "example, having thoughts such as: I am bad, there is something seriously wrong "
        "with me, no one can be trusted, the world is completely dangerous)?",
        "Blaming yourself or someone else for the stressful experience or what happened after it?",
        "Having strong negative feelings such as fear, horror, anger, guilt, or shame?",
        "Loss of interest in activities that you used to enjoy?",
        "Feeling distant or cut off from other people?",
        "Trouble experiencing positive feelings (for example, being unable to feel "
        "happiness or have loving feelings for people close to you)?",
        "Irritable behavior, angry outbursts, or acting aggressively?",
        "Taking too many risks or doing things that could cause you harm?",
        'Being "superalert" or watchful or on guard?',
        "Feeling jumpy or easily startled?",
        "Having difficulty concentrating?",
        "Trouble falling or staying asleep?",
    ),
    choices=_PCL5_CHOICES,
    min_total=0,
    max_total=80,
    bands=(
        Band(0, PCL5_PROBABLE_PTSD_CUTOFF - 1, "below the probable-PTSD cut-off"),
        Band(PCL5_PROBABLE_PTSD_CUTOFF, 80, "probable PTSD"),
    ),
    interpretation=(
        "PTSD symptom severity over the past month; higher is worse. A total of "
        f"{PCL5_PROBABLE_PTSD_CUTOFF} or more suggests probable PTSD (published cut-offs "
        "range from 31 to 33). It is a screen, not a diagnosis."
    ),
    source=(
        "Weathers FW, Litz BT, Keane TM, Palmieri PA, Marx BP, Schnurr PP. The PTSD "
        "Checklist for DSM-5 (PCL-5), 2013, National Center for PTSD (public domain); "
        "Blevins CA et al. J Trauma Stress 2015;28(6):489-498; Bovin MJ et al. Psychol "
        "Assess 2016;28(11):1379-1391 (cut-offs 31-33)."
    ),
)

PAIN_NRS = Definition(
    instrument=Instrument.PAIN_NRS,
    short_name="Pain NRS",
    title="Pain NRS (average pain, 0 to 10)",
    instructions=(
        "Choose the one number that best describes your pain on average over the past "
        "week, from 0 (no pain) to 10 (worst pain imaginable)."
    ),
    items=_items("Your average pain over the past week"),
    choices=(
        Choice(0, "0 – No pain"),
        *(Choice(value, str(value)) for value in range(1, 10)),
        Choice(10, "10 – Worst pain imaginable"),
    ),
    min_total=0,
    max_total=10,
    bands=(
        Band(0, 0, "none"),
        Band(1, 3, "mild"),
        Band(4, 6, "moderate"),
        Band(7, 10, "severe"),
    ),
    interpretation=(
        "Average pain intensity over the past week; higher is worse. A change of "
        f"{PAIN_MEANINGFUL_CHANGE} points or more is clinically meaningful."
    ),
    source=(
        "11-point numeric rating scale; bands as in DOMAIN.md. Farrar JT et al. Pain "
        "2001;94(2):149-158 (a 2-point change is clinically important)."
    ),
)

DEFINITIONS: Mapping[Instrument, Definition] = MappingProxyType(
    {definition.instrument: definition for definition in (PHQ9, GAD7, PCL5, PAIN_NRS)}
)


def definition_for(instrument: Instrument | str) -> Definition:
    """The definition of an instrument; accepts the enum or its value ("phq9")."""
    return DEFINITIONS[Instrument(instrument)]


# --- Scoring ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    instrument: Instrument
    total: int
    band: str  # the band label, e.g. "moderately severe"
    item9_positive: bool  # PHQ-9 only: question 9 answered above 0; False elsewhere
    answers: dict[str, int]  # item key -> value, in item order

    @property
    def definition(self) -> Definition:
        return DEFINITIONS[self.instrument]

    @property
    def summary(self) -> str:
        """E.g. "PHQ-9 12/27 (moderate)"."""
        definition = self.definition
        return f"{definition.short_name} {self.total}/{definition.max_total} ({self.band})"


def _missing_message(definition: Definition, item: Item) -> str:
    if len(definition.items) == 1:
        return "Answer the question."
    return f"Answer question {item.number}."


def _range_message(definition: Definition) -> str:
    return f"Choose a value from {definition.item_min} to {definition.item_max}."


def score(instrument: Instrument | str, answers: Mapping[str, int]) -> Score:
    """Score a complete set of answers.

    Every item must be answered with an int on the instrument's scale (bool is not an
    int here) and no other keys may be present; otherwise `QuestionnaireError` lists
    what to fix per item key and nothing is scored: there are no partial scores.
    """
    definition = definition_for(instrument)
    errors: dict[str, str] = {}
    for item in definition.items:
        if item.key not in answers or answers[item.key] is None:
            errors[item.key] = _missing_message(definition, item)
            continue
        value = answers[item.key]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or not definition.item_min <= value <= definition.item_max
        ):
            errors[item.key] = _range_message(definition)
    for key in answers:
        if key not in definition.item_keys:
            errors[key] = f"{definition.short_name} has no question {key!r}; remove it."
    if errors:
        raise QuestionnaireError(definition.instrument, errors)

    clean = {item.key: int(answers[item.key]) for item in definition.items}
    total = sum(clean.values())
    return Score(
        instrument=definition.instrument,
        total=total,
        band=definition.band_for(total),
        item9_positive=(definition.instrument is Instrument.PHQ9 and clean[PHQ9_SAFETY_ITEM] > 0),
        answers=clean,
    )


# --- Outcomes (issue 6) -----------------------------------------------------------------


def _require_non_negative(**totals: int) -> None:
    for name, value in totals.items():
        if value < 0:
            raise ValueError(f"{name} is a questionnaire total and cannot be negative.")


def response(baseline_total: int, current_total: int) -> bool:
    """Treatment response: the total has fallen by at least 50 % from the pre-treatment
    baseline. A baseline of 0 has nothing to fall from, so it is never a response."""
    _require_non_negative(baseline_total=baseline_total, current_total=current_total)
    if baseline_total == 0:
        return False
    # Integer arithmetic, so exactly half counts: 10 -> 5 is a response.
    return current_total * 2 <= baseline_total


def remission(instrument: Instrument | str, total: int) -> bool | None:
    """Remission: PHQ-9 below 5 or GAD-7 below 5.

    Returns None for instruments without a remission threshold (PCL-5, Pain NRS), so
    callers can tell "not in remission" from "not applicable" (e.g. leave them out of
    a remission rate rather than count them as failures).
    """
    _require_non_negative(total=total)
    below = REMISSION_BELOW.get(Instrument(instrument))
    if below is None:
        return None
    return total < below


def pain_change_is_meaningful(baseline: int, current: int) -> bool:
    """Whether a pain NRS change, better or worse, is clinically meaningful (2 points)."""
    for name, value in (("baseline", baseline), ("current", current)):
        if not PAIN_NRS.min_total <= value <= PAIN_NRS.max_total:
            raise ValueError(f"{name} pain must be from 0 to 10, not {value}.")
    return abs(current - baseline) >= PAIN_MEANINGFUL_CHANGE


# --- Which questionnaires fit which conditions ------------------------------------------


def instruments_for_conditions(conditions: Iterable[str]) -> list[Instrument]:
    """The baseline and follow-up questionnaires that fit the conditions being treated,
    in the order to ask them: PHQ-9, GAD-7, PCL-5, Pain NRS.

    PHQ-9 comes with every psychiatric condition, not only depression, because its
    question 9 is the clinic's screen for thoughts of self-harm. Unknown keys are
    ignored; with no known condition the PHQ-9 alone is asked.
    """
    known = set(conditions) & CONDITION_KEYS
    instruments = []
    if known & PSYCHIATRIC_CONDITIONS or not known:
        instruments.append(Instrument.PHQ9)
    if known & ANXIETY_CONDITIONS:
        instruments.append(Instrument.GAD7)
    if known & PTSD_CONDITIONS:
        instruments.append(Instrument.PCL5)
    if known & PAIN_CONDITIONS:
        instruments.append(Instrument.PAIN_NRS)
    return instruments


# --- Forms ------------------------------------------------------------------------------


class QuestionnaireForm(forms.Form):
    """Base of the generated questionnaire forms; see `questionnaire_form_class()`.

    One radio group per item, named by item key ("q1", ...). Django and crispy-forms
    render each radio group as a <fieldset> whose <legend> is the item text, with the
    field's errors linked by aria-describedby. Show `definition.instructions` above
    the fields. To put several questionnaires on one page, give each form
    `prefix=instrument.value` so their field names do not clash.
    """

    definition: Definition  # set on each generated subclass

    def score(self) -> Score:
        """The score of the submitted answers. Raises QuestionnaireError (with the
        field errors) if the form is not valid, so call is_valid() first."""
        if not self.is_valid():
            raise QuestionnaireError(
                self.definition.instrument,
                {key: " ".join(messages) for key, messages in self.errors.items()},
            )
        return score(self.definition.instrument, self.cleaned_data)


def _item_field(definition: Definition, item: Item) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        label=item.text,
        choices=list(definition.choices),
        coerce=int,
        empty_value=None,
        widget=forms.RadioSelect,
        label_suffix="",  # items end in "?" or are phrases; a ":" after them reads badly
        error_messages={
            "required": _missing_message(definition, item),
            "invalid_choice": _range_message(definition),
        },
    )


@functools.cache
def _form_class(instrument: Instrument) -> type[QuestionnaireForm]:
    definition = DEFINITIONS[instrument]
    attrs: dict[str, Any] = {"definition": definition, "__module__": __name__}
    for item in definition.items:
        attrs[item.key] = _item_field(definition, item)
    name = "".join(part.capitalize() for part in instrument.value.split("_")) + "Form"
    return type(name, (QuestionnaireForm,), attrs)


def questionnaire_form_class(instrument: Instrument | str) -> type[QuestionnaireForm]:
    """A Django form class asking `instrument`'s items, e.g. `Phq9Form`; the same
    class is returned on every call."""
    return _form_class(Instrument(instrument))
