"""FHIR builders for what was measured: vital signs (FHIR vital signs and US Core
profiles, LOINC codes and UCUM units) and the scored questionnaires (a QuestionnaireResponse
with a panel Observation and its total score). Pure functions: no query runs here."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from infusions.models import VitalsReading
from interop.fhir import codes
from interop.fhir.codes import Code, Unit
from interop.fhir.common import (
    JSON,
    concept,
    instant,
    meta,
    patient_reference,
    quantity,
    record_id,
    reference,
)
from patients.models import Measurement, Patient, QuestionnaireResponse
from patients.questionnaires import definition_for


@dataclass(frozen=True)
class VitalSigns:
    """One set of vital signs as taken, whatever record it comes from (a consultation's
    measurement or an infusion's reading); None where a sign was not taken."""

    id_prefix: str  # what each observation's id is named by, unique per set of readings
    taken_at: datetime
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    spo2: int | None = None
    weight_kg: Decimal | None = None
    entered_in_error: bool = False


def measurement_vital_signs(measurement: Measurement) -> VitalSigns:
    return VitalSigns(
        id_prefix=f"measurement-{measurement.pk}",
        taken_at=measurement.taken_at,
        systolic=measurement.systolic,
        diastolic=measurement.diastolic,
        heart_rate=measurement.heart_rate,
        spo2=measurement.spo2,
        weight_kg=measurement.weight_kg,
    )


def reading_vital_signs(reading: VitalsReading) -> VitalSigns:
    return VitalSigns(
        id_prefix=f"reading-{reading.public_id}",
        taken_at=reading.taken_at,
        systolic=reading.systolic,
        diastolic=reading.diastolic,
        heart_rate=reading.heart_rate,
        respiratory_rate=reading.respiratory_rate,
        spo2=reading.spo2,
        entered_in_error=reading.entered_in_error_at is not None,
    )


def vital_sign_observations(signs: VitalSigns, patient_public_id: uuid.UUID) -> list[JSON]:
    """An Observation for each sign taken: blood pressure as one panel with its systolic and
    diastolic components (a missing half says so, so the panel always has both), heart and
    respiratory rates, pulse oximetry, body weight. A reading marked entered in error is
    exported with that status, as FHIR asks, rather than left out."""
    observations = []
    if signs.systolic is not None or signs.diastolic is not None:
        observations.append(_blood_pressure(signs, patient_public_id))
    simple = [
        ("heart-rate", codes.PROFILE_HEART_RATE, (codes.HEART_RATE,), signs.heart_rate),
        (
            "respiratory-rate",
            codes.PROFILE_RESPIRATORY_RATE,
            (codes.RESPIRATORY_RATE,),
            signs.respiratory_rate,
        ),
        (
            "spo2",
            codes.PROFILE_PULSE_OXIMETRY,
            (codes.OXYGEN_SATURATION_PULSE_OXIMETRY, codes.OXYGEN_SATURATION),
            signs.spo2,
        ),
        ("weight", codes.PROFILE_BODY_WEIGHT, (codes.BODY_WEIGHT,), signs.weight_kg),
    ]
    units = {
        "heart-rate": codes.PER_MINUTE,
        "respiratory-rate": codes.PER_MINUTE,
        "spo2": codes.PERCENT,
        "weight": codes.KILOGRAM,
    }
    for kind, profiles, loinc, value in simple:
        if value is None:
            continue
        observation = _vital_sign(signs, patient_public_id, kind, profiles, loinc)
        observation["valueQuantity"] = quantity(value, units[kind])
        observations.append(observation)
    return observations


def body_height_observation(patient: Patient) -> JSON | None:
    """The height on the patient's record (kept with the record, not with a measurement:
    its time is when the record last changed)."""
    if patient.height_cm is None:
        return None
    signs = VitalSigns(id_prefix="record", taken_at=patient.updated_at)
    observation = _vital_sign(
        signs, patient.public_id, "height", codes.PROFILE_BODY_HEIGHT, (codes.BODY_HEIGHT,)
    )
    observation["valueQuantity"] = quantity(patient.height_cm, codes.CENTIMETRE)
    return observation


def _vital_sign(
    signs: VitalSigns,
    patient_public_id: uuid.UUID,
    kind: str,
    profiles: tuple[str, ...],
    loinc: tuple[Code, ...],
) -> JSON:
    return {
        "resourceType": "Observation",
        "id": record_id(patient_public_id, "vital-sign", f"{signs.id_prefix}-{kind}"),
        "meta": meta(*profiles),
        "status": "entered-in-error" if signs.entered_in_error else "final",
        "category": [concept(codes.VITAL_SIGNS_CATEGORY)],
        "code": concept(*loinc),
        "subject": patient_reference(patient_public_id),
        "effectiveDateTime": instant(signs.taken_at),
    }


def _blood_pressure(signs: VitalSigns, patient_public_id: uuid.UUID) -> JSON:
    observation = _vital_sign(
        signs,
        patient_public_id,
        "blood-pressure",
        codes.PROFILE_BLOOD_PRESSURE,
        (codes.BLOOD_PRESSURE_PANEL,),
    )
    observation["component"] = [
        _component(codes.SYSTOLIC, signs.systolic, codes.MM_HG),
        _component(codes.DIASTOLIC, signs.diastolic, codes.MM_HG),
    ]
    return observation


def _component(code: Code, value: int | None, unit: Unit) -> JSON:
    component: JSON = {"code": concept(code)}
    if value is None:
        component["dataAbsentReason"] = concept(
            Code(codes.DATA_ABSENT_REASON, "not-performed", "Not Performed")
        )
    else:
        component["valueQuantity"] = quantity(value, unit)
    return component


# --- Questionnaires ---------------------------------------------------------------------


def is_exported_survey(response: QuestionnaireResponse) -> bool:
    """PHQ-9, GAD-7 and PCL-5 are exported; the pain rating has no LOINC panel here."""
    return response.instrument in codes.SURVEYS


def survey_resources(response: QuestionnaireResponse, patient_public_id: uuid.UUID) -> list[JSON]:
    """A scored questionnaire as FHIR has it: the answers (QuestionnaireResponse), the panel
    Observation made of them, and the total score as an Observation the panel holds. Empty
    for an instrument without a LOINC panel (``is_exported_survey``)."""
    if not is_exported_survey(response):
        return []
    survey = codes.SURVEYS[response.instrument]
    ids = {
        part: record_id(patient_public_id, "questionnaire", f"{response.pk}-{part}")
        for part in ("answers", "panel", "total")
    }
    definition = definition_for(response.instrument)
    items = []
    for item in definition.items:
        entry: JSON = {"linkId": item.key, "text": item.text}
        if item.key in response.answers:
            entry["answer"] = [{"valueInteger": int(response.answers[item.key])}]
        items.append(entry)
    items.append(
        {
            "linkId": "total",
            "text": f"{definition.short_name} total score",
            "answer": [{"valueInteger": response.total}],
        }
    )
    subject = patient_reference(patient_public_id)
    effective = instant(response.completed_at)
    answers = {
        "resourceType": "QuestionnaireResponse",
        "id": ids["answers"],
        "meta": meta(codes.PROFILE_QUESTIONNAIRE_RESPONSE),
        "questionnaire": codes.questionnaire_canonical(response.instrument),
        "status": "completed",
        "subject": subject,
        "authored": effective,
        "item": items,
    }
    derived_from = [reference("QuestionnaireResponse", ids["answers"])]
    total = {
        "resourceType": "Observation",
        "id": ids["total"],
        "meta": meta(codes.PROFILE_SCREENING),
        "status": "final",
        "category": [concept(codes.SURVEY_CATEGORY)],
        "code": concept(survey.total),
        "subject": subject,
        "effectiveDateTime": effective,
        "valueQuantity": quantity(response.total, codes.SCORE),
        "interpretation": [{"text": response.band}],
        "derivedFrom": derived_from,
    }
    panel = {
        "resourceType": "Observation",
        "id": ids["panel"],
        "meta": meta(codes.PROFILE_SCREENING),
        "status": "final",
        "category": [concept(codes.SURVEY_CATEGORY)],
        "code": concept(survey.panel),
        "subject": subject,
        "effectiveDateTime": effective,
        "hasMember": [reference("Observation", ids["total"])],
        "derivedFrom": derived_from,
    }
    return [answers, panel, total]
