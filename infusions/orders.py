"""Dose orders (signed by a physician) and their administration (by a nurse)."""

from __future__ import annotations

from infusions.models import BloodPressureStatus, DoseOrder, InfusionSession, PreAssessment


def current_order(session: InfusionSession) -> DoseOrder | None:
    """The session's order that no later order replaces, or None."""
    return session.dose_orders.filter(replaced_by__isnull=True).order_by("-signed_at").first()


def start_problems(session: InfusionSession) -> list[str]:
    """What stops the infusion starting now; empty when it may start."""
    problems = []
    try:
        if session.pre_assessment.bp_status == BloodPressureStatus.HOLD:
            problems.append("The blood pressure is at or above the hold limit: no infusion today.")
    except PreAssessment.DoesNotExist:
        problems.append("Record the pre-infusion checks first.")
    if current_order(session) is None:
        problems.append("A physician must sign the dose order first.")
    return problems
