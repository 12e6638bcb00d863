"""FHIR builders for who the patient is and what they agreed to: Patient, Condition and
Consent. Pure functions of our models: no query runs here (the callers load the rows)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from billing.models import DiagnosisCode
from clinic.conditions import Condition as ConditionKey
from interop.fhir import codes
from interop.fhir.codes import Code
from interop.fhir.common import JSON, concept, instant, meta, patient_reference, record_id
from patients.models import (
    CommunicationConsent,
    ConsentSignature,
    Patient,
    PatientStatus,
    SexAtBirth,
)

# Patient.gender is the administrative gender; the record keeps the sex assigned at birth,
# which is what we know. "Intersex" is "other" there and has no US Core birth-sex code.
_GENDER = {SexAtBirth.FEMALE: "female", SexAtBirth.MALE: "male", SexAtBirth.INTERSEX: "other"}
_BIRTH_SEX = {SexAtBirth.FEMALE: "F", SexAtBirth.MALE: "M"}


def patient_resource(patient: Patient) -> JSON:
    """US Core Patient: identifier, names, contact details, sex, birth date, address, and
    the emergency contact."""
    resource: JSON = {
        "resourceType": "Patient",
        "id": str(patient.public_id),
        "meta": meta(codes.PROFILE_PATIENT),
        "identifier": [
            {"system": codes.URN_IETF_RFC_3986, "value": f"urn:uuid:{patient.public_id}"}
        ],
        "active": patient.status != PatientStatus.DISCHARGED,
        "name": [
            {
                "use": "official",
                "family": patient.legal_last_name,
                "given": [patient.legal_first_name],
            }
        ],
        "gender": _GENDER[SexAtBirth(patient.sex_at_birth)],
        "birthDate": patient.date_of_birth.isoformat(),
    }
    if patient.preferred_name:
        resource["name"].append(
            {"use": "usual", "family": patient.legal_last_name, "given": [patient.preferred_name]}
        )
    birth_sex = _BIRTH_SEX.get(SexAtBirth(patient.sex_at_birth))
    if birth_sex:
        resource["extension"] = [{"url": codes.US_CORE_BIRTH_SEX, "valueCode": birth_sex}]
    telecom = []
    if patient.mobile:
        telecom.append({"system": "phone", "value": patient.mobile, "use": "mobile"})
    if patient.email:
        telecom.append({"system": "email", "value": patient.email})
    if telecom:
        resource["telecom"] = telecom
    address = _address(patient)
    if address:
        resource["address"] = [address]
    contact = _emergency_contact(patient)
    if contact:
        resource["contact"] = [contact]
    return resource


def _address(patient: Patient) -> JSON:
    address: JSON = {}
    lines = [line for line in (patient.address_line1, patient.address_line2) if line]
    if lines:
        address["line"] = lines
    for key, value in (
        ("city", patient.city),
        ("state", patient.region),
        ("postalCode", patient.postal_code),
    ):
        if value:
            address[key] = value
    if address and patient.country:
        address["country"] = patient.country
    return address


def _emergency_contact(patient: Patient) -> JSON:
    if not (patient.emergency_contact_name or patient.emergency_contact_phone):
        return {}
    contact: JSON = {"relationship": [{"text": "Emergency contact"}]}
    if patient.emergency_contact_relationship:
        contact["relationship"].append({"text": patient.emergency_contact_relationship})
    if patient.emergency_contact_name:
        contact["name"] = {"text": patient.emergency_contact_name}
    if patient.emergency_contact_phone:
        contact["telecom"] = [{"system": "phone", "value": patient.emergency_contact_phone}]
    return contact


def diagnosis_codes() -> dict[str, Code]:
    """The ICD-10-CM code of each condition, as the clinic keeps it for its superbills
    (``billing.models.DiagnosisCode``, which clinic admins edit; the defaults come from
    DOMAIN.md), so the export and the superbill never disagree. One query."""
    return {
        row.condition: Code(codes.ICD10CM, row.code, row.description)
        for row in DiagnosisCode.objects.all()
    }


def condition_resources(patient: Patient, icd10: Mapping[str, Code]) -> list[JSON]:
    """One US Core Condition (problem list item) for each condition on the patient's record,
    coded in ICD-10-CM where ``icd10`` (``diagnosis_codes()``) has a code and in SNOMED CT
    where ``codes.SNOMED_BY_CONDITION`` has one, and named in any case."""
    return [_condition(patient.public_id, key, icd10) for key in patient.conditions]


def _condition(patient_public_id: uuid.UUID, key: str, icd10: Mapping[str, Code]) -> JSON:
    label = ConditionKey(key).label if key in ConditionKey.values else key
    codings = [
        code for code in (icd10.get(key), codes.SNOMED_BY_CONDITION.get(key)) if code is not None
    ]
    return {
        "resourceType": "Condition",
        "id": record_id(patient_public_id, "condition", key),
        "meta": meta(codes.PROFILE_CONDITION),
        "clinicalStatus": concept(codes.CONDITION_ACTIVE),
        "category": [concept(codes.CONDITION_PROBLEM_LIST)],
        "code": concept(*codings, text=label),
        "subject": patient_reference(patient_public_id),
    }


def treatment_consent_resource(signature: ConsentSignature, patient_public_id: uuid.UUID) -> JSON:
    """The signed informed consent: scope treatment, the version signed as the policy, and
    when and how it was signed. ``signature.document`` is read (select it with the row)."""
    document = signature.document
    return {
        "resourceType": "Consent",
        "id": str(signature.public_id),
        "status": "active",
        "scope": concept(codes.CONSENT_SCOPE_TREATMENT),
        "category": [concept(codes.CONSENT_CATEGORY, text="Informed consent to treatment")],
        "patient": patient_reference(patient_public_id),
        "dateTime": instant(signature.signed_at),
        "performer": [patient_reference(patient_public_id)],
        "policy": [{"uri": f"urn:uuid:{document.public_id}"}],
        "sourceAttachment": {
            "title": f"{document.title} (version {document.version})",
            "creation": instant(signature.signed_at),
        },
        "provision": {"type": "permit"},
    }


def contact_consent_resources(
    consents: Iterable[CommunicationConsent], patient_public_id: uuid.UUID
) -> list[JSON]:
    """Every change to the patient's consent to be contacted, oldest first per channel: the
    latest on each channel is active, the ones it replaced inactive. ``consents`` must be
    in (channel, recorded_at, id) order."""
    rows = list(consents)
    resources = []
    for index, row in enumerate(rows):
        later = rows[index + 1] if index + 1 < len(rows) else None
        current = later is None or later.channel != row.channel
        resources.append(contact_consent_resource(row, patient_public_id, current=current))
    return resources


def contact_consent_resource(
    consent: CommunicationConsent, patient_public_id: uuid.UUID, *, current: bool
) -> JSON:
    channel = consent.get_channel_display()
    verb = "given" if consent.granted else "withdrawn"
    return {
        "resourceType": "Consent",
        "id": record_id(patient_public_id, "contact-consent", consent.pk),
        "status": "active" if current else "inactive",
        "scope": concept(codes.CONSENT_SCOPE_PRIVACY),
        "category": [concept(codes.CONSENT_CATEGORY, text=f"Consent to be contacted by {channel}")],
        "patient": patient_reference(patient_public_id),
        "dateTime": instant(consent.recorded_at),
        "policyRule": concept(codes.OPT_IN if consent.granted else codes.OPT_OUT),
        "provision": {"type": "permit" if consent.granted else "deny"},
        "sourceAttachment": {"title": f"Contact by {channel} {verb}: {consent.method}"},
    }
