"""The checks before an infusion starts (``PreAssessment``), and whether they are complete."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from infusions.models import BloodPressureStatus, InfusionSession, PreAssessment, PregnancyStatus

# Pregnancy answers that stop the infusion.
PREGNANT = frozenset({PregnancyStatus.PREGNANT, PregnancyStatus.TEST_POSITIVE})


def pre_assessment_problems(session: InfusionSession) -> list[str]:
    """What is still missing or wrong before ``session`` may pass its pre-assessment, each
    as a sentence saying what to do; empty when it may pass."""
    try:
        assessment = session.pre_assessment
    except PreAssessment.DoesNotExist:
        return ["Record the pre-infusion checks first."]
    tz = session.appointment.location.tz
    today = timezone.now().astimezone(tz).date()
    problems = []
    if not assessment.identity_confirmed:
        problems.append("Confirm the patient's identity (name and date of birth).")
    if assessment.weight_kg is None or assessment.weighed_at is None:
        problems.append("Weigh the patient and record today's weight.")
    elif assessment.weighed_at.astimezone(tz).date() != today:
        problems.append("The weight is not from today: weigh the patient again.")
    if not assessment.pregnancy_status:
        problems.append("Record the pregnancy status (or that it does not apply).")
    elif assessment.pregnancy_status in PREGNANT:
        problems.append("The patient may be pregnant: there is no infusion today.")
    if not assessment.escort_confirmed or not assessment.escort_name.strip():
        problems.append("Confirm the adult escort who will take the patient home.")
    fasting_hours = settings.PRE_INFUSION_FASTING_HOURS
    if fasting_hours:
        if assessment.last_ate_at is None:
            problems.append("Ask when the patient last ate or drank (other than water).")
        elif timezone.now() - assessment.last_ate_at < timezone.timedelta(hours=fasting_hours):
            problems.append(
                f"The patient ate or drank less than {fasting_hours} hours ago: wait, or rebook."
            )
    if assessment.vitals_id is None:
        problems.append("Take the pre-infusion vital signs.")
    elif assessment.bp_status == BloodPressureStatus.HOLD:
        problems.append("The blood pressure is at or above the hold limit: no infusion today.")
    elif (
        assessment.bp_status == BloodPressureStatus.CAUTION
        and assessment.caution_acknowledged_by_id is None
    ):
        problems.append(
            "The blood pressure is at or above the caution limit: a physician must acknowledge it."
        )
    return problems
