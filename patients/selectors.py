"""Reads of patient records and the access checks that go with them.

``patient_for`` is the one way pages, the API and tasks fetch a patient for a staff
member; ``clinical=True`` additionally requires the clinical-detail capability, which
the front desk and clinic admins do not have.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.db.models import QuerySet
from django.http import Http404

from clinic.permissions import Capability, require, user_can
from patients.models import Patient


def patients_visible_to(user: Any) -> QuerySet[Patient]:
    if not user_can(user, Capability.VIEW_PATIENTS):
        return Patient.objects.none()
    return Patient.objects.all()


def patient_for(user: Any, public_id: uuid.UUID | str, *, clinical: bool = False) -> Patient:
    """The patient ``user`` may see; 403 without the capability, 404 if there is none."""
    require(user, Capability.VIEW_PATIENTS)
    if clinical:
        require(user, Capability.VIEW_CLINICAL)
    try:
        return (
            patients_visible_to(user).select_related("preferred_location").get(public_id=public_id)
        )
    except (Patient.DoesNotExist, ValueError):
        raise Http404("No such patient.") from None


def can_see_clinical(user: Any) -> bool:
    return user_can(user, Capability.VIEW_CLINICAL)
