"""What the outcomes dashboard counts, kept per patient (``outcomes.facts``)."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from clinic.models import Location
from patients.models import Patient


class PatientOutcomeFacts(models.Model):
    """One patient's facts for the outcomes dashboard, as last counted from their
    courses, infusions and scores by ``outcomes.facts.outcome_facts_refresh`` (the worker
    runs it every ``OUTCOME_FACTS_REFRESH_MINUTES``; ``OutcomeFactsCount`` says when).
    Nothing else writes here, and nothing here is the record of anything: every row can
    be counted again, so the rows hold no foreign-key constraint that would stand in the
    way of the records they were counted from. A patient with no course, no infusion and
    no questionnaire has no row."""

    patient = models.OneToOneField(
        Patient,
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # The location of the current course (induction or maintenance), else of the latest
    # course; None without a course (the dashboard then takes the preferred location).
    course_location = models.ForeignKey(
        Location,
        null=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # read whole, never looked up by location
        related_name="+",
    )
    # "induction" or "maintenance" while in such a course, else "".
    course_state = models.CharField(max_length=20, blank=True)
    first_infusion_at = models.DateTimeField(null=True)
    last_questionnaire_at = models.DateTimeField(null=True)
    # A score of any questionnaire worsened (outcomes.scores).
    worsened = models.BooleanField(default=False)
    # Instruments with a baseline and a score since treatment began (response can be
    # judged), and of those, the ones meeting response and remission.
    judged = ArrayField(models.CharField(max_length=20), default=list)
    responded = ArrayField(models.CharField(max_length=20), default=list)
    remitted = ArrayField(models.CharField(max_length=20), default=list)

    class Meta:
        verbose_name_plural = "patient outcome facts"

    def __str__(self) -> str:
        return "outcome facts"


class OutcomeFactsCount(models.Model):
    """When the worker last counted every patient's outcome facts, and how many patients
    have facts: one row (id 1), rewritten by each count."""

    counted_at = models.DateTimeField()
    patients = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="outcome_facts_count_one_row")
        ]

    def __str__(self) -> str:
        return f"outcome facts counted {self.counted_at:%Y-%m-%d %H:%M}"
