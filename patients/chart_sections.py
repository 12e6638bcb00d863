"""The sections of the patient chart kept rendered (``clinic.fragments``): for everyone, the
summary and the consents; for clinicians, the alerts at the top, and the record below the
infusion sessions (intakes, medications, screening, decisions, measurements, questionnaires,
next-day check-ins).

They are the same for every clinician with the same permissions, and drawing them reads a
dozen queries and builds a few hundred objects, so they are drawn once for a version of every
row they show and served from the cache until one of those rows changes. The version is one
query (``clinical_record_version``); the audit trail, which grows with every view, is not in
them and is drawn each time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from clinic.fragments import KEPT_CSRF, RowsOf, cached_fragment, rows_version
from clinic.models import Location, User
from patients.chart import PatientChart
from patients.models import (
    CheckIn,
    CommunicationConsent,
    ConsentDocument,
    ConsentSignature,
    IntakeSubmission,
    Measurement,
    Medication,
    MedicationReconciliation,
    Patient,
    QuestionnaireResponse,
    SafetyAlert,
    ScreeningDecision,
    ScreeningResult,
)

# The markup version of the two fragments: change it when a template they draw changes
# (templates/patients/chart/partials/_clinical_alerts.html, _clinical_record.html and the
# partials they include), so that copies drawn by the old markup are not shown.
CLINICAL_SECTIONS_VERSION = "1"


@dataclass(frozen=True)
class ClinicalSections:
    alerts: SafeString  # the safety alerts and the chart's alerts, at the top
    record: SafeString  # intakes to check-ins


def clinical_record_version(patient: Patient) -> str:
    """A version of every row the clinical sections show (``clinic.fragments.rows_version``):
    the patient's screenings, decisions, intakes and their medication lists and
    confirmations, measurements, questionnaires, safety alerts and check-ins, and the staff
    and places named in them (whole tables: a few dozen rows each). One query."""
    mine = [patient.pk]
    return rows_version(
        RowsOf(ScreeningResult, "patient", mine),
        RowsOf(ScreeningDecision, "patient", mine),
        RowsOf(IntakeSubmission, "patient", mine),
        Medication.objects.filter(intake__patient=patient),
        MedicationReconciliation.objects.filter(intake__patient=patient),
        RowsOf(Measurement, "patient", mine),
        RowsOf(QuestionnaireResponse, "patient", mine),
        RowsOf(SafetyAlert, "patient", mine),
        RowsOf(CheckIn, "patient", mine),
        RowsOf(User),
        RowsOf(Location),
    )


def clinical_sections(
    request: HttpRequest, chart: PatientChart, permissions: Mapping[str, bool]
) -> ClinicalSections:
    """The chart's clinical sections for a clinician whose ``permissions`` (the page's
    ``can_record``, ``can_decide`` and ``can_send_links``) decide the buttons and forms in
    them. Call only after the page's access check, for a reader who sees clinical data.
    One query when both are kept (the version), the clinical record's when one is drawn."""
    patient = chart.patient
    parts = (
        patient.pk,
        str(patient.public_id),
        # The questionnaires suggested follow the conditions, a field of the patient's row.
        tuple(patient.conditions),
        timezone.get_current_timezone_name(),
        tuple(sorted(permissions.items())),
        clinical_record_version(patient),
    )

    def draw(template_name: str) -> str:
        context = {"patient": patient, "clinical": chart.clinical, **permissions, **KEPT_CSRF}
        return render_to_string(template_name, context)

    return ClinicalSections(
        alerts=cached_fragment(
            "chart-clinical-alerts",
            CLINICAL_SECTIONS_VERSION,
            parts,
            lambda: draw("patients/chart/partials/_clinical_alerts.html"),
            request=request,
        ),
        record=cached_fragment(
            "chart-clinical-record",
            CLINICAL_SECTIONS_VERSION,
            parts,
            lambda: draw("patients/chart/partials/_clinical_record.html"),
            request=request,
        ),
    )


# The markup version of the summary and consent fragments: change it when
# templates/patients/chart/partials/_summary.html, _consents.html or a partial they include
# changes.
SUMMARY_SECTIONS_VERSION = "1"


@dataclass(frozen=True)
class SummarySections:
    summary: SafeString  # demographics and contact details
    consents: SafeString  # contact consent per channel, and the consent form


def summary_version(patient: Patient) -> str:
    """A version of every row the summary and consent sections show: the patient, their
    contact consents and consent signatures, the consent forms, and the staff and places
    named (whole tables: a few dozen rows each). One query."""
    mine = [patient.pk]
    return rows_version(
        RowsOf(Patient, "pk", mine),
        RowsOf(CommunicationConsent, "patient", mine),
        RowsOf(ConsentSignature, "patient", mine),
        RowsOf(ConsentDocument),
        RowsOf(User),
        RowsOf(Location),
    )


def summary_sections(
    request: HttpRequest, chart: PatientChart, permissions: Mapping[str, bool]
) -> SummarySections:
    """The chart's summary and consent sections for a reader whose ``permissions`` (the
    page's ``can_send_links`` and ``can_witness``, and whether they see clinical detail: the
    weight and height) decide what they show. Call only after the page's access check. One
    query when both are kept (the version), three more when drawn."""
    patient = chart.patient
    parts = (
        patient.pk,
        # The age follows the day.
        chart.today,
        timezone.get_current_timezone_name(),
        tuple(sorted(permissions.items())),
        chart.sees_clinical,
        summary_version(patient),
    )

    def draw(template_name: str) -> str:
        context = {"patient": patient, "chart": chart, **permissions, **KEPT_CSRF}
        return render_to_string(template_name, context)

    return SummarySections(
        summary=cached_fragment(
            "chart-summary",
            SUMMARY_SECTIONS_VERSION,
            parts,
            lambda: draw("patients/chart/partials/_summary.html"),
        ),
        consents=cached_fragment(
            "chart-consents",
            SUMMARY_SECTIONS_VERSION,
            parts,
            lambda: draw("patients/chart/partials/_consents.html"),
            request=request,
        ),
    )
