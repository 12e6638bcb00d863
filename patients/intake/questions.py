"""The intake's questions: one Django form per section (``SECTIONS``), the choices they
offer, and which sections a patient is asked (pregnancy is not asked when male at birth).

A form made with ``draft=True`` accepts any question left unanswered, so a patient can save
progress; without it every question that the screening rules rely on needs an answer.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, ClassVar, TypeVar

from django import forms
from django.conf import settings
from django.utils import timezone

from patients.models import SexAtBirth

YES = "yes"
NO = "no"
UNSURE = "unsure"
YES_NO = [(YES, "Yes"), (NO, "No")]
YES_NO_UNSURE = [(YES, "Yes"), (NO, "No"), (UNSURE, "I'm not sure")]

HEART_DISEASE_CHOICES = [
    ("none", "No"),
    ("controlled", "Yes, and my treatment keeps it well controlled"),
    (
        "uncontrolled",
        "Yes, and it is not well controlled (or I recently had a heart attack, chest pain "
        "at rest or heart failure)",
    ),
]
LIVER_DISEASE_CHOICES = [
    ("none", "No"),
    ("mild", "Yes, mild"),
    ("moderate", "Yes, moderate"),
    ("severe", "Yes, severe (for example cirrhosis with complications)"),
]
SUBSTANCE_USE_CHOICES = [
    ("none", "No"),
    ("past", "In the past, but not now"),
    ("current", "Yes, at the moment"),
]
PREGNANCY_TEST_CHOICES = [
    ("negative", "Yes, and it was negative"),
    ("positive", "Yes, and it was positive"),
    ("none", "No"),
]
SUBSTANCE_USE_DISORDER_CHOICES = [
    ("none", "No"),
    ("in_remission", "Yes, but I am in recovery now"),
    ("active", "Yes, and it is still a problem now"),
]

_REQUIRED_MESSAGE = "Answer this question before you send the questionnaire."
_CHOICE_MESSAGE = "Choose one of the answers shown."


# --- Fields ------------------------------------------------------------------------------


def _choice(
    label: str, choices: list[tuple[str, str]], *, short: str, help_text: str = ""
) -> forms.ChoiceField:
    field = forms.ChoiceField(
        label=label,
        choices=choices,
        widget=forms.RadioSelect,
        help_text=help_text,
        label_suffix="",
        error_messages={"required": _REQUIRED_MESSAGE, "invalid_choice": _CHOICE_MESSAGE},
    )
    return _labelled(field, short)


def _yes_no(
    label: str, *, short: str, help_text: str = "", unsure: bool = False
) -> forms.ChoiceField:
    return _choice(label, YES_NO_UNSURE if unsure else YES_NO, short=short, help_text=help_text)


def _text(
    label: str, *, short: str, help_text: str = "", required: bool = False
) -> forms.CharField:
    field = forms.CharField(
        label=label,
        help_text=help_text,
        required=required,
        max_length=2000,
        label_suffix="",
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={
            "required": _REQUIRED_MESSAGE,
            "max_length": "Keep this under %(limit_value)d characters; you can tell us more "
            "at your consultation.",
        },
    )
    return _labelled(field, short)


FieldT = TypeVar("FieldT", bound=forms.Field)


def _labelled(field: FieldT, short: str) -> FieldT:
    field.short_label = short  # type: ignore[attr-defined]
    return field


def short_label(field: forms.Field) -> str:
    return getattr(field, "short_label", None) or str(field.label)


# --- Sections ----------------------------------------------------------------------------


class IntakeSectionForm(forms.Form):
    """One section of the intake. ``draft=True`` lets every question stay unanswered."""

    key: ClassVar[str]
    title: ClassVar[str]
    intro: ClassVar[str] = ""

    def __init__(self, *args: Any, draft: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.draft = draft
        if draft:
            for field in self.fields.values():
                field.required = False


class MedicalHistoryForm(IntakeSectionForm):
    key = "medical"
    title = "Your health"
    intro = "Some health conditions change whether ketamine is safe for you, so we ask about them."

    hypertension = _yes_no(
        "Have you been told you have high blood pressure?", short="High blood pressure"
    )
    heart_disease = _choice(
        "Do you have heart disease?",
        HEART_DISEASE_CHOICES,
        short="Heart disease",
        help_text="For example a past heart attack, angina (chest pain), heart failure or an "
        "irregular heartbeat.",
    )
    aneurysm_or_avm = _yes_no(
        "Have you ever been told you have an aneurysm (a weak, bulging blood vessel) or an "
        "arteriovenous malformation (AVM)?",
        short="Aneurysm or AVM",
    )
    intracranial_bleeding = _yes_no(
        "Have you ever had bleeding in or around your brain?",
        short="Bleeding in or around the brain",
    )
    raised_icp_or_iop = _yes_no(
        "Have you been told you have raised pressure inside your head or inside your eyes "
        "(such as glaucoma)?",
        short="Raised intracranial or intraocular pressure",
    )
    liver_disease = _choice(
        "Do you have liver disease?",
        LIVER_DISEASE_CHOICES,
        short="Liver disease",
        help_text="If you are not sure how severe it is, choose the closest answer; we will "
        "check with you.",
    )
    seizures = _yes_no(
        "Have you ever had a seizure, or been told you have epilepsy?", short="Seizures"
    )
    other_medical = _text(
        "Is there anything else about your health we should know?",
        short="Other health conditions",
        help_text="Other conditions, operations or hospital stays. Leave blank if there is "
        "nothing else.",
    )


class PsychiatricHistoryForm(IntakeSectionForm):
    key = "psychiatric"
    title = "Your mental health"
    intro = "These questions help us understand what you have been through and what has helped."

    depression = _yes_no("Have you been diagnosed with depression?", short="Depression")
    bipolar = _yes_no(
        "Have you ever been diagnosed with bipolar disorder?", short="Bipolar disorder"
    )
    mania_now = _yes_no(
        "Right now, are you going through a time of unusually high mood or energy, needing "
        "much less sleep than usual, or racing thoughts?",
        short="Mania now",
    )
    psychosis_history = _yes_no(
        "Have you ever had psychosis (hearing or seeing things other people did not, or "
        "beliefs others found very strange), or been diagnosed with schizophrenia?",
        short="Psychosis or schizophrenia, ever",
    )
    psychosis_now = _yes_no(
        "Right now, are you hearing or seeing things other people do not, or holding beliefs "
        "others find very strange?",
        short="Psychosis now",
    )
    suicidal_thoughts = _yes_no(
        "In the past two weeks, have you had thoughts that you would be better off dead, or "
        "of hurting yourself?",
        short="Suicidal thoughts (past two weeks)",
    )
    antidepressant_trials = _labelled(
        forms.IntegerField(
            label="How many different antidepressant medicines have you tried?",
            min_value=0,
            max_value=50,
            label_suffix="",
            help_text="Count each medicine once, even if you took it more than once. Enter 0 if "
            "you have not tried any.",
            error_messages={
                "required": _REQUIRED_MESSAGE,
                "invalid": "Enter a whole number, such as 0, 1 or 3.",
                "min_value": "Enter 0 or more.",
                "max_value": "Enter a number up to 50.",
            },
        ),
        "Antidepressants tried",
    )
    psychotherapy = _yes_no(
        "Have you had talking therapy (psychotherapy or counselling)?", short="Psychotherapy"
    )
    ect = _yes_no("Have you had electroconvulsive therapy (ECT)?", short="ECT")
    tms = _yes_no("Have you had transcranial magnetic stimulation (TMS)?", short="TMS")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["suicidal_thoughts"].help_text = (
            f"If you might act on these thoughts now, call or text {settings.CRISIS_LINE} or go "
            "to your nearest emergency department."
        )


class SubstanceUseForm(IntakeSectionForm):
    key = "substances"
    title = "Alcohol and drugs"
    intro = (
        "Your answers stay confidential. Ketamine can be misused, so we ask everyone about "
        "alcohol and drugs to keep treatment safe."
    )

    alcohol = _choice("Do you drink alcohol?", SUBSTANCE_USE_CHOICES, short="Alcohol")
    cannabis = _choice("Do you use cannabis (marijuana)?", SUBSTANCE_USE_CHOICES, short="Cannabis")
    street_stimulants = _choice(
        "Do you use stimulants that were not prescribed for you, such as cocaine, "
        "methamphetamine or someone else's ADHD medicine?",
        SUBSTANCE_USE_CHOICES,
        short="Stimulants (not prescribed)",
    )
    opioids = _choice(
        "Do you use opioids that were not prescribed for you (such as heroin or fentanyl), "
        "or more of a prescribed opioid than you were told to take?",
        SUBSTANCE_USE_CHOICES,
        short="Opioids (not as prescribed)",
    )
    ketamine_misuse = _yes_no(
        "Have you ever used ketamine other than as given or prescribed by a clinician?",
        short="Ketamine misuse, ever",
    )
    substance_use_disorder = _choice(
        "Have you ever been told you have a problem with alcohol or drugs (an addiction or "
        "substance use disorder)?",
        SUBSTANCE_USE_DISORDER_CHOICES,
        short="Substance use disorder",
    )
    remission_since = _labelled(
        forms.DateField(
            label="If you are in recovery: since when?",
            required=False,
            label_suffix="",
            help_text="Your best guess is fine, for example the first day of the month.",
            widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            error_messages={"invalid": "Enter a date, for example 2023-05-01."},
        ),
        "In recovery since",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        disorder = data.get("substance_use_disorder")
        since = data.get("remission_since")
        if disorder and disorder != "in_remission":
            data["remission_since"] = None  # only meaningful in recovery
        elif since is not None and since > timezone.localdate():
            self.add_error("remission_since", "This date is in the future: enter when it began.")
        elif disorder == "in_remission" and since is None and not self.draft:
            self.add_error(
                "remission_since",
                "You said you are in recovery: tell us since when (your best guess is fine).",
            )
        return data


class MedicationsForm(IntakeSectionForm):
    """The medicines section. The medicines themselves are a list (one row each, see
    ``patients.intake.medications``) that goes with the answers; this form asks whether
    there are any, so an empty list is an answer and not a question skipped."""

    key = "medications"
    title = "Your medicines"
    intro = (
        "Some medicines change how ketamine works or how safe it is. Tell us about every "
        "medicine you take, and the antidepressants you took before."
    )

    takes_medicines = _yes_no(
        "Do you take any medicines at the moment?",
        short="Takes medicines now",
        help_text="Prescription and over-the-counter medicines, and supplements. If yes, add "
        "each one to the list below.",
    )


class MedicationsFormV1(IntakeSectionForm):
    """The medicines section of questionnaire version 1 (yes/no boxes and a dose in mg of
    lorazepam), no longer asked: kept so older intakes are shown, compared and screened
    as they were answered."""

    key = "medications"
    title = "Your medicines"
    intro = "Some medicines change how ketamine works or how safe it is."

    medications = _text(
        "Which medicines do you take at the moment?",
        short="Current medicines",
        required=True,
        help_text="Include prescription and over-the-counter medicines and supplements, with "
        "the dose if you know it. If you take none, write “none”.",
    )
    benzodiazepines = _yes_no(
        "Do you take a benzodiazepine, such as lorazepam (Ativan), alprazolam (Xanax), "
        "clonazepam (Klonopin) or diazepam (Valium)?",
        short="Benzodiazepines",
    )
    benzodiazepine_lorazepam_mg = _labelled(
        forms.DecimalField(
            label="If yes: how much a day, in milligrams of lorazepam?",
            required=False,
            min_value=Decimal(0),
            max_value=Decimal(100),
            max_digits=5,
            decimal_places=2,
            label_suffix="",
            help_text="If you take a different benzodiazepine, list it with its dose above and "
            "give your best estimate here; the clinic will check it with you.",
            error_messages={
                "invalid": "Enter a number of milligrams, such as 0.5 or 2.",
                "min_value": "Enter 0 or more milligrams.",
                "max_value": "Enter 100 mg or less; if you take more, tell us in the list above.",
                "max_decimal_places": "Use at most 2 decimal places, such as 0.25.",
                "max_digits": "Enter 100 mg or less, with at most 2 decimal places.",
            },
        ),
        "Benzodiazepine dose (lorazepam-equivalent mg a day)",
    )
    maoi = _yes_no(
        "Do you take an MAOI antidepressant, such as phenelzine (Nardil), tranylcypromine "
        "(Parnate), isocarboxazid (Marplan) or a selegiline patch (Emsam)?",
        short="MAOI",
    )
    lamotrigine = _yes_no("Do you take lamotrigine (Lamictal)?", short="Lamotrigine")
    other_cns_depressants = _yes_no(
        "Do you take other medicines that make you drowsy, such as opioid painkillers, "
        "sleeping tablets, gabapentin or pregabalin?",
        short="Other CNS depressants",
    )
    stimulant_medication = _yes_no(
        "Do you take a prescribed stimulant, for example for ADHD (such as Adderall, Ritalin "
        "or Vyvanse)?",
        short="Stimulant medicines",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        takes = data.get("benzodiazepines")
        if takes == NO:
            data["benzodiazepine_lorazepam_mg"] = None
        elif (
            takes == YES
            and data.get("benzodiazepine_lorazepam_mg") is None
            and "benzodiazepine_lorazepam_mg" not in self.errors
            and not self.draft
        ):
            self.add_error(
                "benzodiazepine_lorazepam_mg",
                "You said you take a benzodiazepine: enter how many milligrams a day (your "
                "best estimate is fine).",
            )
        return data


class AllergiesForm(IntakeSectionForm):
    key = "allergies"
    title = "Allergies"

    allergy_ketamine = _yes_no(
        "Have you ever had an allergic reaction to ketamine or esketamine (Spravato)?",
        short="Ketamine or esketamine allergy",
        unsure=True,
    )
    other_allergies = _text(
        "Do you have any other allergies?",
        short="Other allergies",
        help_text="Medicines, foods, latex or anything else, and what happens. Leave blank if "
        "you have none.",
    )


class PregnancyForm(IntakeSectionForm):
    key = "pregnancy"
    title = "Pregnancy and breastfeeding"
    intro = "Ketamine is not given during pregnancy or while breastfeeding."

    pregnant = _yes_no("Are you pregnant?", short="Pregnant", unsure=True)
    pregnancy_test = _choice(
        "If you are not sure: have you done a pregnancy test in the past week?",
        PREGNANCY_TEST_CHOICES,
        short="Pregnancy test (past week)",
        help_text="Only if you answered “I'm not sure”. The clinic can do a test at your "
        "consultation.",
    )
    breastfeeding = _yes_no("Are you breastfeeding?", short="Breastfeeding")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pregnancy_test"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("pregnant") in (YES, NO):
            data["pregnancy_test"] = ""  # only asked when not sure
        return data


class GoalsForm(IntakeSectionForm):
    key = "goals"
    title = "Your goals"

    treatment_goals = _text(
        "What do you hope treatment will change for you?",
        short="Treatment goals",
        help_text="In your own words. It helps us keep track of what matters to you.",
    )


SECTIONS: tuple[type[IntakeSectionForm], ...] = (
    MedicalHistoryForm,
    PsychiatricHistoryForm,
    SubstanceUseForm,
    MedicationsForm,
    AllergiesForm,
    PregnancyForm,
    GoalsForm,
)
SECTION_KEYS: tuple[str, ...] = tuple(section.key for section in SECTIONS)
FIELD_SECTION: dict[str, type[IntakeSectionForm]] = {
    name: section for section in SECTIONS for name in section.base_fields
}


def sections_for(sex_at_birth: str) -> tuple[type[IntakeSectionForm], ...]:
    """The sections to ask this patient: pregnancy is not asked when male at birth."""
    if sex_at_birth == SexAtBirth.MALE:
        return tuple(section for section in SECTIONS if section is not PregnancyForm)
    return SECTIONS


def section_by_key(key: str, sex_at_birth: str) -> type[IntakeSectionForm] | None:
    for section in sections_for(sex_at_birth):
        if section.key == key:
            return section
    return None
