"""Writes of a patient's baseline measurements: vitals and weight, which the screening
uses, so recording them runs the screening again.

As for every record service: input is checked first (``ValidationError`` keyed by field,
nothing saved), and each measurement is in the audit log by the patient's ``public_id``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from patients.models import Measurement, Patient
from patients.services.details import CLOCK_SKEW, WEIGHT_RANGE_KG, Errors, decimal_in_range
from patients.services.screening import screening_run

# field: (lowest, highest, what, unit), the same ranges as the model's checks.
MEASUREMENT_RANGES: dict[str, tuple[int, int, str, str]] = {
    "systolic": (60, 260, "systolic blood pressure", "mmHg"),
    "diastolic": (30, 160, "diastolic blood pressure", "mmHg"),
    "heart_rate": (25, 250, "heart rate", "beats a minute"),
    "spo2": (50, 100, "oxygen saturation (SpO₂)", "%"),
}


@transaction.atomic
def measurement_record(
    *,
    actor: User | None,
    patient: Patient,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    spo2: int,
    weight_kg: Decimal | int | float | str | None = None,
    taken_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Measurement:
    """Record baseline vitals (and weight), then re-run the patient's screening.

    A weight also becomes the patient's current weight on their record.
    """
    readings = {
        "systolic": systolic,
        "diastolic": diastolic,
        "heart_rate": heart_rate,
        "spo2": spo2,
    }
    errors: Errors = {}
    for field, value in readings.items():
        low, high, what, unit = MEASUREMENT_RANGES[field]
        if value is None or value == "":
            errors[field] = [f"Enter the {what} in {unit}."]
        elif isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            errors[field] = [
                f"Enter a {what} between {low} and {high} {unit}; {value} is outside what "
                "can be measured. Check the reading and enter it again."
            ]
    if "systolic" not in errors and "diastolic" not in errors and diastolic >= systolic:
        errors["diastolic"] = [
            f"The diastolic pressure ({diastolic}) must be lower than the systolic "
            f"({systolic}). Check the reading, and that the two were not swapped."
        ]
    weight = None
    try:
        weight = decimal_in_range(weight_kg, WEIGHT_RANGE_KG, "weight", "kg", "72.5")
    except ValidationError as exc:
        errors["weight_kg"] = exc.messages
    if taken_at is not None and taken_at > timezone.now() + CLOCK_SKEW:
        errors["taken_at"] = ["That time is in the future. Enter when the reading was taken."]
    if errors:
        raise ValidationError(errors)

    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    measurement = Measurement.objects.create(
        patient=locked,
        taken_at=taken_at or timezone.now(),
        taken_by=actor if actor is not None and actor.is_authenticated else None,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        weight_kg=weight,
    )
    recorded = ["blood pressure", "heart rate", "SpO2"]
    if weight is not None:
        recorded.append("weight")
        if locked.weight_kg != weight:
            locked.weight_kg = weight
            locked.save(update_fields=["weight_kg", "updated_at"])
            patient.weight_kg = weight
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=measurement,
        summary=f"recorded {', '.join(recorded)} for patient {locked.public_id}",
        request=request,
    )
    screening_run(patient=locked, actor=actor, request=request)
    return measurement
