"""Every code the FHIR export writes, and where it comes from.

One module so that a reviewer can check each code against its source in one place. Codes
are only used here when a source confirmed them; a condition without a confirmed code is
exported with its name as text (FHIR allows a CodeableConcept with text only).
"""

from __future__ import annotations

from typing import NamedTuple

# --- Code systems (FHIR R4 "Using Codes", terminologies page) ---------------------------
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED_CT = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONSENT_SCOPE = "http://terminology.hl7.org/CodeSystem/consentscope"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DATA_ABSENT_REASON = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
# A UUID identifier is written as a URN under this system (FHIR R4, datatypes: Identifier).
URN_IETF_RFC_3986 = "urn:ietf:rfc:3986"


class Code(NamedTuple):
    system: str
    code: str
    display: str

    def coding(self) -> dict[str, str]:
        return {"system": self.system, "code": self.code, "display": self.display}


# --- Profiles -----------------------------------------------------------------------------
# The FHIR R4 vital signs profiles (hl7.org/fhir/R4/observation-vitalsigns.html) are
# required of every vital sign; US Core 6.1.0 (hl7.org/fhir/us/core/STU6.1) publishes a
# profile for each resource below except Appointment, MedicationAdministration and Consent.
FHIR_PROFILE = "http://hl7.org/fhir/StructureDefinition/"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"
PROFILE_PATIENT = US_CORE + "us-core-patient"
PROFILE_BLOOD_PRESSURE = (US_CORE + "us-core-blood-pressure", FHIR_PROFILE + "bp")
PROFILE_HEART_RATE = (US_CORE + "us-core-heart-rate", FHIR_PROFILE + "heartrate")
PROFILE_RESPIRATORY_RATE = (US_CORE + "us-core-respiratory-rate", FHIR_PROFILE + "resprate")
PROFILE_PULSE_OXIMETRY = (US_CORE + "us-core-pulse-oximetry", FHIR_PROFILE + "oxygensat")
PROFILE_BODY_WEIGHT = (US_CORE + "us-core-body-weight", FHIR_PROFILE + "bodyweight")
PROFILE_BODY_HEIGHT = (US_CORE + "us-core-body-height", FHIR_PROFILE + "bodyheight")
PROFILE_SCREENING = US_CORE + "us-core-observation-screening-assessment"
PROFILE_QUESTIONNAIRE_RESPONSE = US_CORE + "us-core-questionnaireresponse"
PROFILE_CONDITION = US_CORE + "us-core-condition-problems-health-concerns"
# US Core Patient: the sex assigned at birth (F or M; other answers are left out).
US_CORE_BIRTH_SEX = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex"

# --- Vital signs (LOINC, as bound by the FHIR R4 vital signs profiles) ------------------
VITAL_SIGNS_CATEGORY = Code(OBSERVATION_CATEGORY, "vital-signs", "Vital Signs")
SURVEY_CATEGORY = Code(OBSERVATION_CATEGORY, "survey", "Survey")
BLOOD_PRESSURE_PANEL = Code(LOINC, "85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = Code(LOINC, "8480-6", "Systolic blood pressure")
DIASTOLIC = Code(LOINC, "8462-4", "Diastolic blood pressure")
HEART_RATE = Code(LOINC, "8867-4", "Heart rate")
RESPIRATORY_RATE = Code(LOINC, "9279-1", "Respiratory rate")
# Pulse oximetry carries both codes: 59408-5 (by pulse oximetry, US Core) and 2708-6 (the
# oxygen saturation code the base vital signs profile asks for).
OXYGEN_SATURATION_PULSE_OXIMETRY = Code(
    LOINC, "59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"
)
OXYGEN_SATURATION = Code(LOINC, "2708-6", "Oxygen saturation in Arterial blood")
BODY_WEIGHT = Code(LOINC, "29463-7", "Body weight")
BODY_HEIGHT = Code(LOINC, "8302-2", "Body height")


class Unit(NamedTuple):
    """A UCUM unit: ``code`` is what machines read, ``unit`` what people read."""

    code: str
    unit: str


MM_HG = Unit("mm[Hg]", "mmHg")
PER_MINUTE = Unit("/min", "/min")
PERCENT = Unit("%", "%")
KILOGRAM = Unit("kg", "kg")
CENTIMETRE = Unit("cm", "cm")
MILLIGRAM = Unit("mg", "mg")
MILLIGRAM_PER_HOUR = Unit("mg/h", "mg/h")
SCORE = Unit("{score}", "{score}")


# --- Questionnaires (LOINC panels and their total scores) -------------------------------
class Survey(NamedTuple):
    panel: Code
    total: Code


SURVEYS: dict[str, Survey] = {
    # PHQ-9: panel 44249-1 and total 44261-6 are the codes of the issue and of US Core's
    # screening examples; both are listed in the LOINC PHQ-SADS panel (loinc.org/69729-2).
    "phq9": Survey(
        panel=Code(LOINC, "44249-1", "PHQ-9 quick depression assessment panel"),
        total=Code(LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score"),
    ),
    # GAD-7: panel 69737-5 (the LOINC code of the GAD-7 article, e.g. piglix.com mirror of
    # Wikipedia "Generalized Anxiety Disorder 7"); total 70274-6, "Generalized anxiety
    # disorder 7 item (GAD-7) total score [Reported.PHQ]" (loinc.org/69729-2, and HL7's
    # Person-Centered Outcomes IG value set prom-target-measures).
    "gad7": Survey(
        panel=Code(LOINC, "69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
        total=Code(LOINC, "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score"),
    ),
    # PCL-5: panel 101697-1, "Post traumatic stress disorder checklist - civilian version
    # DSM-5 [PCL-5]", and total 101698-9, "PTSD PCL-5 score [PCL-5]" (LOINC 2.75; seen on
    # findacode.com/loinc/101697-1 and healthassure.in/codes/loinc-101698-9).
    "pcl5": Survey(
        panel=Code(
            LOINC, "101697-1", "Post traumatic stress disorder checklist - civilian version DSM-5"
        ),
        total=Code(LOINC, "101698-9", "PTSD PCL-5 score [PCL-5]"),
    ),
}
# The pain rating has no LOINC panel of its own here: it is not exported as a survey.


def questionnaire_canonical(instrument: str) -> str:
    """The canonical URL of an instrument's Questionnaire: LOINC publishes its panels as
    Questionnaires at http://loinc.org/q/<panel code>."""
    return f"http://loinc.org/q/{SURVEYS[instrument].panel.code}"


# --- The drug ------------------------------------------------------------------------------
# RxNorm concept 6130 is the ingredient (term type IN) "ketamine"; the clinical drugs given
# here (ketamine HCl injection 10, 50 and 100 mg/mL) are the RxNorm concepts 238082,
# 238083 and 238084 listed for them in openFDA's NDC directory (api.fda.gov/drug/ndc.json,
# e.g. product_ndc 0409-2051 and 42023-113). We export the ingredient: a lot records the
# product's concentration, not which of those concepts it is.
KETAMINE = Code(RXNORM, "6130", "ketamine")

# --- Consent -------------------------------------------------------------------------------
# Consent.category: LOINC 59284-0 "Patient Consent" (FHIR R4 consent-category value set).
CONSENT_CATEGORY = Code(LOINC, "59284-0", "Patient Consent")
CONSENT_SCOPE_TREATMENT = Code(CONSENT_SCOPE, "treatment", "Treatment")
CONSENT_SCOPE_PRIVACY = Code(CONSENT_SCOPE, "patient-privacy", "Privacy Consent")
OPT_IN = Code(V3_ACT_CODE, "OPTIN", "opt-in")
OPT_OUT = Code(V3_ACT_CODE, "OPTOUT", "opt-out")

# --- Conditions ----------------------------------------------------------------------------
CONDITION_PROBLEM_LIST = Code(CONDITION_CATEGORY, "problem-list-item", "Problem List Item")
CONDITION_ACTIVE = Code(CONDITION_CLINICAL, "active", "Active")
CONDITION_CONFIRMED = Code(CONDITION_VERIFICATION, "confirmed", "Confirmed")

# ICD-10-CM codes of the conditions are the clinic's own data, kept for its superbills
# (billing.models.DiagnosisCode: defaults from ../shared/DOMAIN.md, "Money", edited by clinic
# admins); the export reads them there (interop.fhir.patient.diagnosis_codes).


# SNOMED CT concepts for the conditions, given beside the ICD-10-CM code (US Core accepts
# either in Condition.code). Only where the same concept id and name agree across several
# independent public sources: HL7's own FHIR examples as kept in client libraries' tests
# (203082005 "Fibromyalgia (disorder)", 47505003 "Posttraumatic stress disorder"), OHDSI
# vocabulary records (13746004 "Bipolar disorder"), Synthea's modules (370143000 "Major
# depressive disorder"; 21897009 "Generalized anxiety disorder"), and eCQM value-set
# queries (6471006 "Suicidal thoughts"; 37796009 "Migraine"). The depressions and bipolar
# depression get the broader disorder, which they are kinds of, rather than a guess at a
# narrower concept. Left out, for sources that disagree or are missing: OCD, CRPS,
# substance use and eating disorders, neuropathic and MS-related pain, cluster headache. A
# wrong code is worse than none; a terminology server check would be the next step.
SNOMED_BY_CONDITION: dict[str, Code] = {
    "trd": Code(SNOMED_CT, "370143000", "Major depressive disorder"),
    "mdd": Code(SNOMED_CT, "370143000", "Major depressive disorder"),
    "bipolar_depression": Code(SNOMED_CT, "13746004", "Bipolar disorder"),
    "suicidal_ideation": Code(SNOMED_CT, "6471006", "Suicidal thoughts"),
    "anxiety": Code(SNOMED_CT, "21897009", "Generalized anxiety disorder"),
    "ptsd": Code(SNOMED_CT, "47505003", "Posttraumatic stress disorder"),
    "fibromyalgia": Code(SNOMED_CT, "203082005", "Fibromyalgia"),
    "migraine": Code(SNOMED_CT, "37796009", "Migraine"),
}
