"""What the patient chart shows, read in a fixed number of queries however long the record.

``chart_for`` assembles the page; who may see which part is decided by the caller
through ``patients.selectors`` (``patient_for`` and ``can_see_clinical``): without
clinical access only the demographics, status and contact consent are read at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache, cached_property
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KT
from django.utils import timezone

from clinic.conditions import Condition
from clinic.models import AuditEvent
from clinic.queries import prepared_plans
from patients.followups import CheckInSummary, recent_check_ins
from patients.models import (
    ChartSafetyAlerts,
    ConsentSignature,
    IntakeSubmission,
    Measurement,
    Medication,
    MedicationReconciliation,
    Patient,
    PatientLink,
    QuestionnaireResponse,
    ScreeningDecision,
    ScreeningResult,
)
from patients.questionnaires import (
    Definition,
    Instrument,
    definition_for,
    instruments_for_conditions,
)
from patients.selectors import ChannelConsent, contact_consents_current
from patients.services.consent import ConsentStatus, consent_status
from patients.services.screening import decision_is_stale

# How many of the longer lists the chart shows, newest first.
CHART_MEASUREMENTS = 20
CHART_QUESTIONNAIRES = 20
CHART_AUDIT_EVENTS = 50


@dataclass(frozen=True)
class Alert:
    level: str  # "urgent" or "contraindicated"
    title: str
    detail: str


@dataclass(frozen=True)
class ScoredQuestionnaire:
    response: QuestionnaireResponse
    definition: Definition


@dataclass(frozen=True)
class ClinicalChart:
    alerts: list[Alert]
    safety: ChartSafetyAlerts
    intakes: list[IntakeSubmission]
    # The medication list of the latest intake, and the latest confirmation of it.
    medications: list[Medication]
    medications_confirmed: MedicationReconciliation | None
    screening: ScreeningResult | None
    decisions: list[ScreeningDecision]
    current_decision: ScreeningDecision | None
    decision_is_stale: bool
    measurements: list[Measurement]
    questionnaires: list[ScoredQuestionnaire]
    suggested_instruments: list[Definition]
    check_ins: list[CheckInSummary]


@dataclass(frozen=True)
class PatientChart:
    patient: Patient
    today: date
    age: int
    condition_labels: list[str]
    sees_clinical: bool

    @cached_property
    def contact_consents(self) -> list[ChannelConsent]:
        """The current consent on each channel, read when first asked for (a query)."""
        return contact_consents_current(self.patient)

    @cached_property
    def consent(self) -> ConsentStatus:
        """Whether the patient has signed the consent form, read when first asked for (two
        queries). For the front desk too: it gates the infusion day."""
        return consent_status(self.patient)

    @cached_property
    def clinical(self) -> ClinicalChart | None:
        """The clinical record (None without clinical access), read when first asked for:
        about a dozen queries, which the chart saves when its sections are kept rendered
        (``patients.chart_sections``)."""
        return _clinical_chart(self.patient) if self.sees_clinical else None


def chart_for(patient: Patient, *, clinical: bool) -> PatientChart:
    """The chart of ``patient``; the clinical part only with ``clinical=True``. The consents
    and the clinical part are read when first used (``patients.chart_sections`` keeps the
    sections drawn from them)."""
    today = timezone.localdate()
    return PatientChart(
        patient=patient,
        today=today,
        age=patient.age_on(today),
        condition_labels=[
            Condition(key).label for key in patient.conditions if key in Condition.values
        ],
        sees_clinical=clinical,
    )


def _clinical_chart(patient: Patient) -> ClinicalChart:
    screening = patient.screenings.order_by("-created_at", "-id").first()
    questionnaires, latest_phq9, baseline_phq9 = _questionnaires_of(patient)
    # The latest intake, measurement and decision are the first of the lists the chart
    # shows: read once, for the list and for the alerts and staleness that need the latest.
    intakes = list(
        patient.intakes.defer("answers")
        .annotate(suicidal_thoughts=KT("answers__suicidal_thoughts"))
        .select_related("entered_by", "via_link")
        .order_by("-version")
    )
    decisions = list(
        patient.decisions.select_related("decided_by", "screening").order_by("-decided_at", "-id")
    )
    current_decision = decisions[0] if decisions else None
    latest = intakes[0] if intakes else None
    medications = list(latest.medications.all()) if latest else []
    confirmed = (
        latest.reconciliations.select_related("confirmed_by")
        .order_by("-confirmed_at", "-id")
        .first()
        if latest
        else None
    )
    measurements = list(
        patient.measurements.select_related("taken_by").order_by("-taken_at", "-id")[
            :CHART_MEASUREMENTS
        ]
    )
    safety = patient.safety_alerts.for_chart()
    return ClinicalChart(
        alerts=chart_alerts(
            screening,
            latest_phq9,
            intake_reports_suicidal_thoughts=bool(intakes)
            and intakes[0].suicidal_thoughts == "yes",
            intake=intakes[0] if intakes else None,
            safety=safety,
        ),
        safety=safety,
        intakes=intakes,
        medications=medications,
        medications_confirmed=confirmed,
        screening=screening,
        decisions=decisions,
        current_decision=current_decision,
        decision_is_stale=current_decision is not None
        and decision_is_stale(
            current_decision,
            screening=screening,
            intake=intakes[0] if intakes else None,
            measurement=measurements[0] if measurements else None,
            baseline_phq9=baseline_phq9,
        ),
        measurements=measurements,
        questionnaires=[
            ScoredQuestionnaire(response, definition_for(response.instrument))
            for response in questionnaires
        ],
        suggested_instruments=[
            definition_for(instrument)
            for instrument in instruments_for_conditions(patient.conditions)
        ],
        check_ins=recent_check_ins(patient),
    )


def _questionnaires_of(
    patient: Patient,
) -> tuple[list[QuestionnaireResponse], QuestionnaireResponse | None, QuestionnaireResponse | None]:
    """The latest ``CHART_QUESTIONNAIRES`` questionnaires (newest first), the latest PHQ-9
    (for the urgent alert) and the latest baseline PHQ-9 (whether the decision is stale),
    in one query: the last two are usually among the first, and are read with them."""
    newest = ("-completed_at", "-id")
    mine = QuestionnaireResponse.objects.filter(patient=patient)
    phq9 = mine.filter(instrument=Instrument.PHQ9)
    latest = mine.order_by(*newest).values("pk")[:CHART_QUESTIONNAIRES]
    latest_phq9 = phq9.order_by(*newest).values("pk")[:1]
    baseline = (
        phq9.filter(context=QuestionnaireResponse.Context.BASELINE)
        .order_by(*newest)
        .values("pk")[:1]
    )
    rows = list(
        mine.filter(Q(pk__in=latest) | Q(pk__in=latest_phq9) | Q(pk__in=baseline))
        .select_related("entered_by")
        .order_by(*newest)
    )
    # Newest first, so the first PHQ-9 is the latest: the query included it whatever its age.
    first_phq9 = next((row for row in rows if row.instrument == Instrument.PHQ9), None)
    first_baseline = next(
        (
            row
            for row in rows
            if row.instrument == Instrument.PHQ9
            and row.context == QuestionnaireResponse.Context.BASELINE
        ),
        None,
    )
    return rows[:CHART_QUESTIONNAIRES], first_phq9, first_baseline


def chart_alerts(
    screening: ScreeningResult | None,
    latest_phq9: QuestionnaireResponse | None,
    intake_reports_suicidal_thoughts: bool = False,
    *,
    intake: IntakeSubmission | None = None,
    safety: ChartSafetyAlerts | None = None,
) -> list[Alert]:
    """Urgent flags first, then each contraindication found by the latest screening.

    The urgent flag (suicidal thoughts in the latest screening, PHQ-9 or intake) is left
    to the safety alerts (``safety``) when one is open, which says the same above it, and
    is not raised when a clinician recorded a follow-up after the latest of those reports:
    the chart stops asking for the contact that was made."""
    alerts: list[Alert] = []
    findings: list[dict[str, Any]] = list(screening.findings) if screening is not None else []
    urgent = [finding for finding in findings if finding.get("urgent")]
    phq9_positive = latest_phq9 is not None and latest_phq9.item9_positive
    reported = [
        moment
        for moment, said in (
            (screening.created_at if screening else None, bool(urgent)),
            (latest_phq9.completed_at if latest_phq9 else None, phq9_positive),
            (intake.submitted_at if intake else None, intake_reports_suicidal_thoughts),
        )
        if said and moment is not None
    ]
    if (
        safety is not None
        and reported
        and (safety.open or _followed_up_since(safety, max(reported)))
    ):
        urgent, phq9_positive, intake_reports_suicidal_thoughts = [], False, False
    if urgent or phq9_positive or intake_reports_suicidal_thoughts:
        if urgent:
            detail = urgent[0]["reason"]
        elif phq9_positive:
            detail = (
                "PHQ-9 question 9 (thoughts of being better off dead or of self-harm) was "
                "answered above 0."
            )
        else:
            detail = (
                "The latest intake answers yes to thoughts of being better off dead or of "
                "self-harm in the past two weeks."
            )
        alerts.append(
            Alert(
                "urgent",
                "Suicidal thoughts reported: a clinician must contact the patient today",
                detail,
            )
        )
    for finding in findings:
        if finding.get("severity") == "contraindicated":
            alerts.append(
                Alert(
                    "contraindicated",
                    f"Contraindicated: {finding['rule_id']}",
                    f"{finding['reason']} (value: {finding['value']})",
                )
            )
    return alerts


def _followed_up_since(safety: ChartSafetyAlerts, moment: datetime) -> bool:
    return any(alert.resolved_at >= moment for alert in safety.followed_up)


# The records of a patient whose audit events are on their chart: the model, the field
# its events name it by (``object_id``), and the path from it to the patient.
AUDITED_RECORDS: list[tuple[type[Any], str, str]] = [
    (PatientLink, "public_id", "patient"),
    (IntakeSubmission, "pk", "patient"),
    (Measurement, "pk", "patient"),
    (QuestionnaireResponse, "pk", "patient"),
    (ScreeningResult, "public_id", "patient"),
    (ScreeningDecision, "public_id", "patient"),
    (ConsentSignature, "public_id", "patient"),
    (MedicationReconciliation, "pk", "intake__patient"),
]


@cache
def _audited_ids_sql(model: type[Any], id_field: str, owner: str) -> str:
    """``SELECT`` of the ids (as text) the audit log names ``model``'s rows of one patient by
    (the patient's id the one parameter): written once, where querysets were built and
    compiled again on every chart (~4 ms of the busiest one's)."""
    quote = connection.ops.quote_name
    meta = model._meta
    field = meta.pk if id_field == "pk" else meta.get_field(id_field)
    column = f"r.{quote(field.column)}::text"
    table = quote(meta.db_table)
    if owner == "patient":
        patient_column = quote(meta.get_field("patient").column)
        return f"SELECT {column} FROM {table} r WHERE r.{patient_column} = %s"  # noqa: S608
    via, _ = owner.split("__")
    link = meta.get_field(via)
    owner_meta = link.related_model._meta
    return (
        f"SELECT {column} FROM {table} r JOIN {quote(owner_meta.db_table)} o "  # noqa: S608
        f"ON r.{quote(link.column)} = o.{quote(owner_meta.pk.column)} "
        f"WHERE o.{quote(owner_meta.get_field('patient').column)} = %s"
    )


def patient_audit_trail(patient: Patient) -> QuerySet[AuditEvent]:
    """Audit events about the patient and the records that belong to them, newest first.

    One query: the patient's own events, and those of their links, intakes, measurements,
    questionnaires, screenings, decisions, consent signatures and medication list
    confirmations (logged by public id where the record has one, by primary key otherwise).
    """
    belongs = Q(object_type=Patient._meta.label_lower, object_id=str(patient.public_id))
    for model, id_field, owner in AUDITED_RECORDS:
        # Names from the models, quoted; the patient a parameter.
        ids = RawSQL(_audited_ids_sql(model, id_field, owner), [patient.pk])  # noqa: S611
        belongs |= Q(object_type=model._meta.label_lower, object_id__in=ids)
    return (
        AuditEvent.objects.filter(belongs).select_related("actor").order_by("-occurred_at", "-id")
    )


@dataclass(frozen=True)
class AuditTrailRow:
    """One line of the chart's audit trail: when, who (None: nobody signed in), what
    (``AuditEvent.Action``) and the event's summary."""

    occurred_at: datetime
    actor_name: str | None
    action: str
    summary: str


def chart_audit_trail(patient: Patient, limit: int = CHART_AUDIT_EVENTS) -> list[AuditTrailRow]:
    """The ``limit`` newest events of ``patient_audit_trail``, as the chart shows them: one
    query, written once (``_audit_trail_sql``) and planned once per connection
    (``clinic.queries.prepared_plans``), its rows read as plain values. Every chart reads
    it (the trail grows with every view, so it cannot be kept), and building and planning
    the queryset's OR of nine subqueries, then fifty events and their actors, cost more
    than running it."""
    params: list[Any] = [Patient._meta.label_lower, str(patient.public_id)]
    for model, _, _ in AUDITED_RECORDS:
        params += [model._meta.label_lower, patient.pk]
    with prepared_plans(), connection.cursor() as cursor:
        cursor.execute(_audit_trail_sql(), [*params, limit])
        return [AuditTrailRow(*row) for row in cursor.fetchall()]


@cache
def _audit_trail_sql() -> str:
    """``chart_audit_trail``'s query: the events of the patient (the first two parameters:
    its type and public id) and of each of ``AUDITED_RECORDS`` (its type and the patient's
    id), newest first, with the actor's name; the limit the last parameter. Each record's
    ids as ``= ANY(ARRAY(...))``: read first, then the events off the (type, id) index, as a
    generic plan would not do for ``IN (subquery)`` (``clinic.queries.equals_any``)."""
    quote = connection.ops.quote_name
    event = AuditEvent._meta
    staff = event.get_field("actor").related_model._meta

    def column(name: str) -> str:
        return f"e.{quote(event.get_field(name).column)}"

    of_type = f"{column('object_type')} = %s"
    belongs = [f"({of_type} AND {column('object_id')} = %s)"] + [
        f"({of_type} AND {column('object_id')} = ANY(ARRAY({_audited_ids_sql(*record)})))"
        for record in AUDITED_RECORDS
    ]
    newest = f"{column('occurred_at')} DESC, {column('id')} DESC"
    # The newest first, then their actors' names: joined for the fifty rows shown, not for
    # every event of the patient (a busy one has thousands of views).
    events = (  # names from the models, quoted; every value a parameter
        f"SELECT {column('occurred_at')}, {column('actor')}, {column('action')}, "  # noqa: S608
        f"{column('summary')}, {column('id')} FROM {quote(event.db_table)} e "
        f"WHERE {' OR '.join(belongs)} ORDER BY {newest} LIMIT %s"
    )
    return (
        f"SELECT {column('occurred_at')}, u.{quote(staff.get_field('full_name').column)}, "  # noqa: S608
        f"{column('action')}, {column('summary')} FROM ({events}) e "
        f"LEFT JOIN {quote(staff.db_table)} u ON u.{quote(staff.pk.column)} = {column('actor')} "
        f"ORDER BY {newest}"
    )
