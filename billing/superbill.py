"""The superbill: what a patient sends their insurer to claim out-of-network reimbursement,
for one visit or every visit in a date range.

It is read from the books, never kept beside them: the patient's issued invoices (a draft
charges nothing yet, a void one was credited in full), each line's charge as the invoice
has it, and what was paid on them (payments - refunds). Each visit's price line (the first
line without a code on a visit's invoice, the one drafted when the visit ended) is shown as
the visit's service codes (``ServiceCode`` of its kind, with units from
``billing.codes.units_for``): the primary code (the first by position: 96365 for an
infusion, 99204 or 99214 for a visit) carries the line's charge, the others that apply are
shown at no extra charge ("included"), so the superbill adds up to the invoices. When the
primary code does not apply (an infusion of 15 minutes or fewer), the charge is shown on a
line without a code saying why, never against a code of another kind of service.
The rendering provider of an infusion is the physician who signed its dose; of any other
visit, the appointment's clinician.
Lines the desk added with a code show as they are. A visit that did not take place (a
no-show's or a late cancellation's fee) is not a service: its lines show uncoded.

Diagnoses are the patient's conditions coded as ICD-10-CM (``DiagnosisCode``). The scored
questionnaires a visit counts (96127) are those completed from
``PRE_INFUSION_QUESTIONNAIRE_HOURS`` before its start until the end of its recovery, each
counted once, for the earliest visit it falls in (so a questionnaire between two close
visits is never billed twice).

Access: ``invoice_superbill_for`` and ``range_superbill_for``, on top of the books' own
access functions (``invoice_for``, ``billing_patient_for``): the front desk and clinic
admins; clinicians see the balance on the chart only. A range superbill costs the same
number of queries however many visits it holds.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from billing.codes import (
    INFUSION_MINIMUM_MINUTES,
    Practice,
    VisitFacts,
    practice_for,
    units_for,
)
from billing.models import (
    DiagnosisCode,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    PracticeDetails,
    ServiceCode,
    UnitsRule,
)
from billing.selectors import billing_patient_for, invoice_for, invoices_with_sums
from clinic.conditions import Condition
from infusions.models import DoseOrder, InfusionSession
from infusions.models.orders import DoseRoute
from infusions.models.sessions import minutes_infusing
from patients.models import Patient, QuestionnaireResponse
from scheduling.models import Appointment, AppointmentStatus

# The longest range one superbill covers.
MAX_RANGE_DAYS = 366


@dataclass(frozen=True)
class Diagnosis:
    condition: str
    code: str
    description: str


@dataclass(frozen=True)
class ServiceLine:
    code: str
    description: str
    units: int
    charge: Decimal
    included: bool = False
    # Why a visit's price has no code (its primary code does not apply): the description.
    uncoded_reason: bool = False


@dataclass
class SuperbillVisit:
    invoice: Invoice
    day: date
    what: str
    provider: str
    practice: Practice
    services: list[ServiceLine] = field(default_factory=list)

    @property
    def charges(self) -> Decimal:
        return self.invoice.total

    @property
    def paid(self) -> Decimal:
        return self.invoice.paid - self.invoice.refunded

    @property
    def credited(self) -> Decimal:
        return self.invoice.credited


@dataclass
class Superbill:
    patient: Patient
    visits: list[SuperbillVisit]
    diagnoses: list[Diagnosis]
    uncoded_conditions: list[str]
    practices: list[Practice]
    start: date | None = None
    end: date | None = None

    @property
    def charges(self) -> Decimal:
        return sum((visit.charges for visit in self.visits), Decimal("0.00"))

    @property
    def credited(self) -> Decimal:
        return sum((visit.credited for visit in self.visits), Decimal("0.00"))

    @property
    def paid(self) -> Decimal:
        return sum((visit.paid for visit in self.visits), Decimal("0.00"))

    @property
    def due(self) -> Decimal:
        return self.charges - self.credited - self.paid

    @property
    def pointers(self) -> str:
        """The diagnoses each service points to, by their numbers (a claim takes four)."""
        return ", ".join(str(number) for number in range(1, min(len(self.diagnoses), 4) + 1))

    @property
    def missing_codes(self) -> bool:
        return any(
            not line.code and not line.uncoded_reason
            for visit in self.visits
            for line in visit.services
        )


class NotBillableYet(Exception):
    """The invoice charges nothing (yet): a draft, or void."""


# --- Access ----------------------------------------------------------------------------------


def invoice_superbill_for(user: Any, public_id: uuid.UUID | str) -> Superbill:
    """The superbill of one invoice (one visit) ``user`` may see: 403/404 as ``invoice_for``;
    ``NotBillableYet`` for a draft or a void invoice."""
    invoice = invoice_for(user, public_id)
    if invoice.status != InvoiceStatus.ISSUED:
        raise NotBillableYet(invoice.status)
    return _superbill(invoice.patient, list(_issued(Invoice.objects.filter(pk=invoice.pk))))


def range_superbill_for(
    user: Any, patient_public_id: uuid.UUID | str, start: date, end: date
) -> Superbill:
    """The superbill of every visit of the patient from ``start`` to ``end`` (local dates of
    service, both included): 403 without billing access, 404 for no such patient."""
    patient = billing_patient_for(user, patient_public_id)
    # A day either side in UTC, then each visit's own local date decides.
    since = datetime.combine(start - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=2), datetime.min.time(), tzinfo=UTC)
    near = _issued(
        Invoice.objects.filter(patient=patient).filter(
            Q(appointment__starts_at__gte=since, appointment__starts_at__lt=until)
            | Q(appointment__isnull=True, issued_at__gte=since, issued_at__lt=until)
        )
    )
    invoices = [invoice for invoice in near if start <= _service_day(invoice) <= end]
    bill = _superbill(patient, invoices)
    bill.start, bill.end = start, end
    return bill


# --- Reading it ------------------------------------------------------------------------------


def _issued(queryset: QuerySet[Invoice]) -> QuerySet[Invoice]:
    return (
        invoices_with_sums(queryset.filter(status=InvoiceStatus.ISSUED))
        .select_related(
            "location", "appointment__appointment_type", "appointment__clinician", "patient"
        )
        .prefetch_related(Prefetch("lines", queryset=InvoiceLine.objects.order_by("id")))
        .order_by("appointment__starts_at", "issued_at", "id")
    )


def _service_day(invoice: Invoice) -> date:
    when = invoice.appointment.starts_at if invoice.appointment else invoice.issued_at
    return when.astimezone(invoice.location.tz).date()


def _superbill(patient: Patient, invoices: list[Invoice]) -> Superbill:
    """The superbill of ``invoices`` (read by ``_issued``: with their sums and lines): a fixed
    number of queries whatever their count."""
    appointments = [invoice.appointment for invoice in invoices if invoice.appointment]
    facts, providers = _visit_facts(patient, appointments)
    codes: dict[int, list[ServiceCode]] = defaultdict(list)
    for code in ServiceCode.objects.filter(
        is_active=True,
        appointment_type_id__in={a.appointment_type_id for a in appointments},
    ).order_by("position", "id"):
        codes[code.appointment_type_id].append(code)
    details = list(PracticeDetails.objects.all())
    practices: dict[int, Practice] = {}
    visits = []
    for invoice in invoices:
        location = invoice.location
        if location.pk not in practices:
            practices[location.pk] = practice_for(
                location, details, clinic_name=settings.CLINIC_NAME
            )
        appointment = invoice.appointment
        visit = SuperbillVisit(
            invoice=invoice,
            day=_service_day(invoice),
            what=appointment.appointment_type.name if appointment else "Services",
            provider=providers.get(appointment.pk, "") if appointment else "",
            practice=practices[location.pk],
        )
        visit.services = _services(
            list(invoice.lines.all()),
            codes.get(appointment.appointment_type_id, []) if appointment else [],
            facts.get(appointment.pk, VisitFacts()) if appointment else VisitFacts(),
            is_visit=appointment is not None and appointment.status == AppointmentStatus.DISCHARGED,
        )
        visits.append(visit)
    diagnoses, uncoded = _diagnoses(patient)
    return Superbill(
        patient=patient,
        visits=visits,
        diagnoses=diagnoses,
        uncoded_conditions=uncoded,
        practices=list(practices.values()),
    )


def _services(
    lines: list[InvoiceLine], codes: list[ServiceCode], facts: VisitFacts, *, is_visit: bool
) -> list[ServiceLine]:
    """The invoice's lines as coded services; the visit's price line as the visit's codes."""
    result: list[ServiceLine] = []
    price_line_seen = False
    for line in lines:
        if line.service_code:
            result.append(
                ServiceLine(line.service_code, line.description, line.quantity, line.amount)
            )
            continue
        if is_visit and not price_line_seen and codes:
            price_line_seen = True
            result.extend(_visit_services(line, codes, facts))
            continue
        result.append(ServiceLine("", line.description, line.quantity, line.amount))
    return result


def _visit_services(
    line: InvoiceLine, codes: list[ServiceCode], facts: VisitFacts
) -> list[ServiceLine]:
    """The visit's price ``line`` as its codes (``codes``: its kind's, by position). The
    price goes against the primary code (the first) only: when that one does not apply (an
    infusion of 15 minutes or fewer has no 96365), it is shown on a line without a code
    saying why, never against a code of another kind of service (a questionnaire's 96127);
    the other codes that apply are shown included either way."""
    primary = codes[0]
    applying = [(code, units_for(code.units_rule, facts)) for code in codes]
    applying = [(code, units) for code, units in applying if units > 0]
    result: list[ServiceLine] = []
    if applying and applying[0][0] == primary:
        code, units = applying.pop(0)
        result.append(ServiceLine(code.code, code.description, units, line.amount))
    else:
        result.append(
            ServiceLine("", _not_coded(primary), line.quantity, line.amount, uncoded_reason=True)
        )
    result.extend(
        ServiceLine(code.code, code.description, units, Decimal("0.00"), included=True)
        for code, units in applying
    )
    return result


def _not_coded(primary: ServiceCode) -> str:
    """Why a visit's price has no code: its primary code does not apply."""
    if primary.units_rule == UnitsRule.INFUSION_FIRST_HOUR:
        return f"Infusion under {INFUSION_MINIMUM_MINUTES + 1} minutes: no time-based code applies"
    return f"{primary.code} ({primary.description}) does not apply to this visit: no code"


def _visit_facts(
    patient: Patient, appointments: list[Appointment]
) -> tuple[dict[int, VisitFacts], dict[int, str]]:
    """Each visit's infusion minutes, drug given and questionnaires, and who rendered it (the
    physician who signed an infusion's dose, else the visit's clinician): five queries."""
    if not appointments:
        return {}, {}
    ids = [a.pk for a in appointments]
    sessions = InfusionSession.objects.filter(appointment_id__in=ids).prefetch_related(
        Prefetch("state_changes"),
        Prefetch(
            "dose_orders",
            queryset=DoseOrder.objects.select_related(
                "administration__correction", "ordered_by"
            ).order_by("signed_at", "id"),
        ),
    )
    minutes: dict[int, int] = {}
    drug: dict[int, bool] = {}
    orderer: dict[int, str] = {}
    for session in sessions:
        orders = list(session.dose_orders.all())
        given = [order for order in orders if _administered(order)]
        iv = not orders or any(order.route == DoseRoute.IV_INFUSION for order in orders)
        changes = [(change.to_state, change.at) for change in session.state_changes.all()]
        end = session.ended_at or (changes[-1][1] if changes else None)
        minutes[session.appointment_id] = minutes_infusing(changes, end) if iv and end else 0
        drug[session.appointment_id] = bool(given)
        if orders:
            orderer[session.appointment_id] = orders[-1].ordered_by.full_name
    questionnaires = _questionnaires_per_visit(patient, appointments)
    facts = {
        a.pk: VisitFacts(
            infusion_minutes=minutes.get(a.pk, 0),
            scored_questionnaires=questionnaires.get(a.pk, 0),
            drug_given=drug.get(a.pk, False),
        )
        for a in appointments
    }
    # An infusion's provider is the physician who signed its dose (the appointment's
    # clinician is the nurse in the chair); a consultation's, the appointment's clinician.
    providers = {
        a.pk: orderer.get(a.pk) or (a.clinician.full_name if a.clinician else "")
        for a in appointments
    }
    return facts, providers


def _administered(order: DoseOrder) -> bool:
    try:
        # What was really given (after an early stop, the corrected figure).
        return order.administration.given_mg > 0
    except DoseOrder.administration.RelatedObjectDoesNotExist:
        return False


def _questionnaires_per_visit(patient: Patient, appointments: list[Appointment]) -> dict[int, int]:
    """How many scored questionnaires count for each of ``appointments`` (two queries): each
    questionnaire counts for the earliest of the patient's billed visits whose window (from
    ``PRE_INFUSION_QUESTIONNAIRE_HOURS`` before its start to the end of its recovery) holds
    it. A billed visit is one that took place and whose invoice is not void; a draft's visit
    counts, so that a questionnaire is never on two superbills, one printed before the draft
    was issued and one after."""
    before = timedelta(hours=settings.PRE_INFUSION_QUESTIONNAIRE_HOURS)
    earliest = min(a.starts_at for a in appointments) - before
    latest = max(a.blocks_until for a in appointments)
    windows = list(
        Appointment.objects.filter(
            patient=patient,
            status=AppointmentStatus.DISCHARGED,
            invoice__status__in=[InvoiceStatus.DRAFT, InvoiceStatus.ISSUED],
            blocks_until__gte=earliest,
            starts_at__lte=latest + before,
        )
        .order_by("starts_at", "id")
        .values_list("id", "starts_at", "blocks_until")
    )
    counts: dict[int, int] = defaultdict(int)
    completed = QuestionnaireResponse.objects.filter(
        patient=patient, completed_at__gte=earliest, completed_at__lte=latest
    ).values_list("completed_at", flat=True)
    for at in completed:
        for visit_id, starts_at, blocks_until in windows:
            if starts_at - before <= at <= blocks_until:
                counts[visit_id] += 1
                break
    return counts


def _diagnoses(patient: Patient) -> tuple[list[Diagnosis], list[str]]:
    """The patient's conditions as ICD-10-CM codes (one query), in the order the record lists
    them, and the labels of those no code is set for."""
    mapped = {
        row.condition: row for row in DiagnosisCode.objects.filter(condition__in=patient.conditions)
    }
    diagnoses, uncoded = [], []
    for condition in patient.conditions:
        label = Condition(condition).label if condition in Condition.values else condition
        row = mapped.get(condition)
        if row is None:
            uncoded.append(label)
        else:
            diagnoses.append(Diagnosis(label, row.code, row.description))
    return diagnoses, uncoded
