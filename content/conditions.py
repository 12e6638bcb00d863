"""The conditions pages of the public site: one page per group of conditions.

The groups are the ones the clinic's questionnaires use, and each lists the conditions by
the names the patient record gives them (both from ``clinic.conditions``), so the site and
the intake form speak the same language.
The words are the project's own, from the facts in DOMAIN.md: they describe, they do not
promise.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from clinic import conditions
from clinic.conditions import Condition


@dataclass(frozen=True)
class ConditionGroup:
    slug: str
    title: str
    summary: str
    keys: frozenset[str]
    paragraphs: tuple[str, ...]
    # How the clinic follows progress for this group, in plain words.
    measured_by: str
    # What the physician looks at closely for this group during screening.
    screening_notes: tuple[str, ...] = ()

    @property
    def condition_names(self) -> list[str]:
        return [label for value, label in Condition.choices if value in self.keys]

    def get_absolute_url(self) -> str:
        return reverse("content:condition", args=[self.slug])


CONDITION_GROUPS: tuple[ConditionGroup, ...] = (
    ConditionGroup(
        slug="depression",
        title="Depression",
        summary=(
            "Depression that has not lifted with other treatment, major depression, the "
            "depressive phase of bipolar disorder, and suicidal thoughts."
        ),
        keys=conditions.DEPRESSION_CONDITIONS,
        paragraphs=(
            "Ketamine infusions are most often offered to people whose depression has not "
            "improved enough after trying other treatments such as medicines and talking "
            "therapy. Infusions are given alongside the care you already have, not instead "
            "of it: your own doctor and therapist stay involved.",
            "A course usually begins with an induction series of about six infusions over "
            "two to three weeks. After that, some people come back for single booster "
            "infusions when their symptoms start to return.",
            "If you are having thoughts of ending your life, please tell us. It does not "
            "stop you from being treated, and a clinician will contact you the same day. "
            "If you are in danger now, call the crisis line below or go to your nearest "
            "emergency department.",
        ),
        measured_by=(
            "You fill in a short depression questionnaire (the PHQ-9) before treatment and "
            "during the course, so you and your clinician can see how things change. A fall "
            "of half or more from where you started is what clinicians call a response."
        ),
        screening_notes=(
            "A history of bipolar disorder or psychosis is reviewed by a physician before "
            "any decision; current mania or psychosis means infusions are not safe for now.",
        ),
    ),
    ConditionGroup(
        slug="anxiety-and-ocd",
        title="Anxiety and OCD",
        summary="Anxiety disorders and obsessive-compulsive disorder.",
        keys=conditions.ANXIETY_CONDITIONS,
        paragraphs=(
            "Some clinics offer ketamine infusions for anxiety disorders and for "
            "obsessive-compulsive disorder, usually when other treatments have not helped "
            "enough. The course follows the same steps as for depression: a consultation, "
            "screening by a physician, an induction series, then maintenance if it helps.",
            "Feeling anxious or unsettled during an infusion can happen. Your blood "
            "pressure and other signs are checked regularly, staff are close by, and these "
            "feelings usually pass soon after the infusion ends.",
        ),
        measured_by=(
            "Alongside the PHQ-9 you fill in the GAD-7, a short anxiety questionnaire, before "
            "treatment and during the course."
        ),
    ),
    ConditionGroup(
        slug="ptsd",
        title="PTSD",
        summary="Post-traumatic stress disorder.",
        keys=conditions.PTSD_CONDITIONS,
        paragraphs=(
            "Some clinics offer ketamine infusions to people living with PTSD, alongside the "
            "care and therapy they already have rather than in place of it.",
            "The course follows the same steps as for other conditions: a consultation, "
            "screening by a physician, an induction series, then maintenance if it helps.",
        ),
        measured_by=(
            "You fill in the PCL-5, a questionnaire about PTSD symptoms, and the PHQ-9 before "
            "treatment and during the course."
        ),
    ),
    ConditionGroup(
        slug="substance-use-and-eating-disorders",
        title="Substance use and eating disorders",
        summary="Substance use disorders and eating disorders.",
        keys=conditions.OTHER_PSYCHIATRIC_CONDITIONS,
        paragraphs=(
            "Some clinics treat people with substance use disorders or eating disorders, "
            "as one part of a wider treatment plan with their own care team.",
            "Because ketamine is itself a controlled medicine, a physician looks at your "
            "history with care. We ask about it openly and without judgement: honest "
            "answers are what keep treatment safe.",
        ),
        measured_by=(
            "You fill in the PHQ-9 before treatment and during the course; your clinician "
            "will talk with you about other ways of following your progress."
        ),
        screening_notes=(
            "An active substance use disorder means infusions are not offered for now. A "
            "history that is in remission, or any past misuse of ketamine, is reviewed by a "
            "physician before a decision is made.",
        ),
    ),
    ConditionGroup(
        slug="chronic-pain",
        title="Chronic pain",
        summary=(
            "Neuropathic pain, fibromyalgia, complex regional pain syndrome, migraine, "
            "cluster headache and MS-related nerve pain."
        ),
        keys=conditions.PAIN_CONDITIONS,
        paragraphs=(
            "Ketamine is also used for some long-lasting pain conditions, including pain "
            "that comes from the nerves. Pain treatment follows its own plan: the doses and "
            "the length of each infusion differ from those used for depression, and "
            "infusions are often longer.",
            "Your pain specialist or family doctor stays in charge of your overall pain "
            "care; we work with them.",
        ),
        measured_by=(
            "You rate your pain from 0 to 10 before treatment and during the course. A change "
            "of two points or more is the kind of difference that matters in daily life."
        ),
    ),
)


def condition_group(slug: str) -> ConditionGroup | None:
    return next((group for group in CONDITION_GROUPS if group.slug == slug), None)
