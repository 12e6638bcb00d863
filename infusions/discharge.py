"""Discharge: the checklist a nurse signs before the patient goes home."""

from __future__ import annotations

from infusions.models import Discharge, InfusionSession


def discharge_problems(session: InfusionSession) -> list[str]:
    """What stops ``session`` moving to discharged; empty once the checklist is signed."""
    if not Discharge.objects.filter(session=session).exists():
        return ["Complete and sign the discharge checklist."]
    return []
