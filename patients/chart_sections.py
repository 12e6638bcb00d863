"""The sections of the patient chart kept rendered (``clinic.fragments``): for everyone, the
summary and the consents; for clinicians, the alerts at the top, and the record below the
infusion sessions (intakes, medications, screening, decisions, measurements, questionnaires,
next-day check-ins).

They are the same for every clinician with the same permissions, and drawing them reads a
dozen queries and builds a few hundred objects, so they are drawn once for a version of every
row they show and served from the cache until one of those rows changes. The chart reads
their versions with those of the other apps' kept sections in one query
(``patients.views.chart.chart_versions``); the audit trail, which grows with every view, is
not in them and is drawn each time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from clinic.fragments import (
    KEPT_CSRF,
    Fragment,
    RowsOf,
    Source,
    ValuesOf,
    cached_fragments,
    rows_version,
)
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


def clinical_record_sources(patient: Patient) -> list[Source]:
    """The rows the clinical sections show, for their version (``clinic.fragments``): the
    patient's screenings, decisions, intakes and their medication lists and confirmations,
    measurements, questionnaires, safety alerts and check-ins, and the staff and places
    named in them (whole tables: a few dozen rows each)."""
    mine = [patient.pk]
    intakes = ValuesOf(IntakeSubmission, "pk", "patient", mine)
    return [
        RowsOf(ScreeningResult, "patient", mine),
        RowsOf(ScreeningDecision, "patient", mine),
        RowsOf(IntakeSubmission, "patient", mine),
        RowsOf(Medication, "intake", intakes),
        RowsOf(MedicationReconciliation, "intake", intakes),
        RowsOf(Measurement, "patient", mine),
        RowsOf(QuestionnaireResponse, "patient", mine),
        RowsOf(SafetyAlert, "patient", mine),
        RowsOf(CheckIn, "patient", mine),
        RowsOf(User),
        RowsOf(Location),
    ]


def clinical_record_version(patient: Patient) -> str:
    """A version of every row the clinical sections show (``clinical_record_sources``).
    One query."""
    return rows_version(*clinical_record_sources(patient))


def clinical_sections(
    request: HttpRequest,
    chart: PatientChart,
    permissions: Mapping[str, bool],
    *,
    version: str | None = None,
) -> ClinicalSections:
    """The chart's clinical sections for a clinician whose ``permissions`` (the page's
    ``can_record``, ``can_decide`` and ``can_send_links``) decide the buttons and forms in
    them. Call only after the page's access check, for a reader who sees clinical data.
    ``version``: of ``clinical_record_sources``, when the page read it with its others. One
    query when both are kept (the version, none when given), the clinical record's when one
    is drawn."""
    patient = chart.patient
    parts = (
        patient.pk,
        str(patient.public_id),
        # The questionnaires suggested follow the conditions, a field of the patient's row.
        tuple(patient.conditions),
        timezone.get_current_timezone_name(),
        tuple(sorted(permissions.items())),
        version if version is not None else clinical_record_version(patient),
    )

    def draw(template_name: str) -> Callable[[], str]:
        # The clinical record is read when a section is drawn, not before (a query each).
        return lambda: render_to_string(
            template_name,
            {"patient": patient, "clinical": chart.clinical, **permissions, **KEPT_CSRF},
        )

    # Both read in one round trip; the clinical record read once, for the first drawn.
    alerts, record = _kept_sections(
        request,
        CLINICAL_SECTIONS_VERSION,
        parts,
        draw,
        {
            "chart-clinical-alerts": "_clinical_alerts.html",
            "chart-clinical-record": "_clinical_record.html",
        },
    )
    return ClinicalSections(alerts=alerts, record=record)


def _kept_sections(
    request: HttpRequest,
    version: str,
    parts: tuple,
    draw: Callable[[str], Callable[[], str]],
    templates: Mapping[str, str],
) -> list[SafeString]:
    """The chart's kept sections named by ``templates`` (each kind's partial under
    templates/patients/chart/partials/), drawn from ``parts``, in one round trip."""
    return cached_fragments(
        [
            Fragment(kind, version, parts, draw(f"patients/chart/partials/{template}"))
            for kind, template in templates.items()
        ],
        request=request,
    )


# The markup version of the summary and consent fragments: change it when
# templates/patients/chart/partials/_summary.html, _consents.html or a partial they include
# changes.
SUMMARY_SECTIONS_VERSION = "1"


@dataclass(frozen=True)
class SummarySections:
    summary: SafeString  # demographics and contact details
    consents: SafeString  # contact consent per channel, and the consent form


def summary_sources(patient: Patient) -> list[Source]:
    """The rows the summary and consent sections show, for their version: the patient,
    their contact consents and consent signatures, the consent forms, and the staff and
    places named (whole tables: a few dozen rows each)."""
    mine = [patient.pk]
    return [
        RowsOf(Patient, "pk", mine),
        RowsOf(CommunicationConsent, "patient", mine),
        RowsOf(ConsentSignature, "patient", mine),
        RowsOf(ConsentDocument),
        RowsOf(User),
        RowsOf(Location),
    ]


def summary_version(patient: Patient) -> str:
    """A version of every row the summary and consent sections show (``summary_sources``).
    One query."""
    return rows_version(*summary_sources(patient))


def summary_sections(
    request: HttpRequest,
    chart: PatientChart,
    permissions: Mapping[str, bool],
    *,
    version: str | None = None,
) -> SummarySections:
    """The chart's summary and consent sections for a reader whose ``permissions`` (the
    page's ``can_send_links`` and ``can_witness``, and whether they see clinical detail: the
    weight and height) decide what they show. Call only after the page's access check.
    ``version``: of ``summary_sources``, when the page read it with its others. One query
    when both are kept (the version, none when given), three more when drawn."""
    patient = chart.patient
    parts = (
        patient.pk,
        # The age follows the day.
        chart.today,
        timezone.get_current_timezone_name(),
        tuple(sorted(permissions.items())),
        chart.sees_clinical,
        version if version is not None else summary_version(patient),
    )

    def draw(template_name: str) -> Callable[[], str]:
        return lambda: render_to_string(
            template_name, {"patient": patient, "chart": chart, **permissions, **KEPT_CSRF}
        )

    summary, consents = _kept_sections(
        request,
        SUMMARY_SECTIONS_VERSION,
        parts,
        draw,
        {"chart-summary": "_summary.html", "chart-consents": "_consents.html"},
    )
    return SummarySections(summary=summary, consents=consents)
