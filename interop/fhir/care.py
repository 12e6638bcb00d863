"""FHIR builders for the clinic's visits and doses: Appointment and MedicationAdministration.
Pure functions: no query runs here (the callers select the related rows named below)."""

from __future__ import annotations

import uuid

from infusions.models import DoseAdministration, EsketamineDevice
from infusions.models.ledger import ESKETAMINE_MG_PER_DEVICE
from interop.fhir import codes
from interop.fhir.common import JSON, concept, instant, patient_reference, quantity
from scheduling.models import Appointment, AppointmentStatus

# Our appointment statuses in FHIR's (R4 AppointmentStatus): in the chair, infusing or
# recovering, the patient has arrived; discharged is a visit that took place.
APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.CHECKED_IN: "checked-in",
    AppointmentStatus.INFUSING: "arrived",
    AppointmentStatus.RECOVERING: "arrived",
    AppointmentStatus.DISCHARGED: "fulfilled",
    AppointmentStatus.NO_SHOW: "noshow",
    AppointmentStatus.CANCELLED: "cancelled",
}


def appointment_resource(appointment: Appointment, patient_public_id: uuid.UUID) -> JSON:
    """An Appointment: when, what kind, where and with whom. Reads ``location``,
    ``appointment_type`` and ``clinician`` (select them with the row). The note a patient
    wrote when booking online is not exported: it has its own reading rule
    (``scheduling.selectors.booking_note_for``)."""
    kind = appointment.appointment_type.name
    participants = [
        {"actor": patient_reference(patient_public_id), "status": "accepted"},
        {"actor": {"display": appointment.location.name}, "status": "accepted"},
    ]
    if appointment.clinician is not None:
        participants.append(
            {"actor": {"display": appointment.clinician.full_name}, "status": "accepted"}
        )
    resource: JSON = {
        "resourceType": "Appointment",
        "id": str(appointment.public_id),
        "status": APPOINTMENT_STATUS[AppointmentStatus(appointment.status)],
        "serviceType": [{"text": kind}],
        "description": kind,
        "start": instant(appointment.starts_at),
        "end": instant(appointment.ends_at),
        "created": instant(appointment.created_at),
        "participant": participants,
    }
    if appointment.status == AppointmentStatus.CANCELLED:
        resource["cancelationReason"] = {"text": appointment.cancel_reason}
    return resource


def medication_administration_resource(
    administration: DoseAdministration, patient_public_id: uuid.UUID
) -> JSON:
    """One dose of ketamine given: the drug (RxNorm) with the lot it came from, the amount
    given (the waste stays in the ledger; after an early stop, what was really given:
    ``DoseAdministration.given_mg``), the route and rate ordered, who gave it and when.
    Reads ``order``, ``lot``, ``given_by`` and ``correction`` (select them with the row)."""
    order = administration.order
    lot = administration.lot
    dosage: JSON = {
        "route": {"text": order.get_route_display()},
        "dose": quantity(administration.given_mg, codes.MILLIGRAM),
    }
    if order.rate_mg_per_h is not None:
        dosage["rateQuantity"] = quantity(order.rate_mg_per_h, codes.MILLIGRAM_PER_HOUR)
    return {
        "resourceType": "MedicationAdministration",
        "id": str(administration.public_id),
        "contained": [
            {
                "resourceType": "Medication",
                "id": "drug",
                "code": concept(codes.KETAMINE, text=lot.product_name),
                "batch": {
                    "lotNumber": lot.lot_number,
                    "expirationDate": lot.expiry_date.isoformat(),
                },
            }
        ],
        "status": "completed",
        "medicationReference": {"reference": "#drug", "display": lot.product_name},
        "subject": patient_reference(patient_public_id),
        "effectiveDateTime": instant(administration.recorded_at),
        "performer": [{"actor": {"display": administration.given_by.full_name}}],
        "dosage": dosage,
    }


def esketamine_administration_resource(
    device: EsketamineDevice, patient_public_id: uuid.UUID
) -> JSON:
    """One Spravato device used (28 mg of esketamine, intranasal), as the ledger records it:
    a dose of 56 or 84 mg is two or three of these, each with its own lot. The drug is named
    by text only: no source at hand confirmed esketamine's RxNorm code, and a wrong code is
    worse than none (``codes``). Reads ``dose``, ``dose.given_by`` and ``lot``."""
    dose = device.dose
    lot = device.lot
    return {
        "resourceType": "MedicationAdministration",
        "id": f"{dose.public_id}-{device.position}",
        "contained": [
            {
                "resourceType": "Medication",
                "id": "drug",
                "code": concept(text=f"esketamine ({lot.product_name})"),
                "batch": {
                    "lotNumber": lot.lot_number,
                    "expirationDate": lot.expiry_date.isoformat(),
                },
            }
        ],
        "status": "completed",
        "medicationReference": {"reference": "#drug", "display": lot.product_name},
        "subject": patient_reference(patient_public_id),
        "effectiveDateTime": instant(dose.given_at),
        "performer": [{"actor": {"display": dose.given_by.full_name}}],
        "note": [
            {
                "text": f"Device {device.position} of {dose.devices} "
                f"({dose.dose_mg} mg esketamine nasal spray in all)."
            }
        ],
        "dosage": {
            "route": {"text": "Intranasal"},
            "dose": quantity(ESKETAMINE_MG_PER_DEVICE, codes.MILLIGRAM),
        },
    }
