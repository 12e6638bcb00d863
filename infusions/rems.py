"""Reading an esketamine (Spravato) session against its REMS: what the dose still needs, where
the monitoring stands, what stops discharge, and the Patient Monitoring Form.

The rules (DOMAIN.md, "Spravato (esketamine) nasal spray REMS"):

- the patient is enrolled in the REMS, and the location certified as a REMS setting, before
  the first dose (``dose_problems``);
- after the dose the patient is watched for at least ``ESKETAMINE_MIN_MONITORING_MINUTES``
  (2 hours, and no setting may make it shorter) and until sedation, dissociation and
  respiratory depression have all resolved;
- blood pressure before the dose (the pre-infusion checks, with their caution and hold
  limits: ``infusions.pre_bp``), about ``REMS_BP_AFTER_DOSE_MINUTES`` (40) after it (the
  session page prompts when it is due) and before discharge (the last reading after the
  40-minute one, within ``REMS_BP_BEFORE_DISCHARGE_MINUTES`` of it);
- a Patient Monitoring Form per session, due within ``REMS_FORM_DUE_DAYS`` (7) of the dose.

Discharge before the 2 hours, or with any of the three still present, is refused outright:
the physician's note that may shorten the IV ketamine recovery
(``discharge_readiness.physician_review_reasons``) does not apply, because the REMS makes 2
hours the minimum, not a clinic default. Writes are in ``infusions.esketamine``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from clinic.models import Location
from clinic.permissions import Capability, user_can
from infusions import vitals
from infusions.models import (
    Discharge,
    EsketamineDose,
    InfusionSession,
    Lot,
    RemsAssessment,
    RemsMonitoringForm,
    RemsPatientEnrolment,
    RemsSettingCertification,
    SessionEvent,
    VitalsReading,
)
from infusions.models.events import Severity
from infusions.models.ledger import ESKETAMINE_MG_PER_DEVICE, LotProduct
from infusions.models.preassessment import BloodPressureStatus
from infusions.models.readings import VitalsPhase
from infusions.models.sessions import SessionKind
from infusions.pre_bp import reading_bp_status
from patients.medicines import DrugClass, drug_by_key
from patients.models import Patient

# Medicines that add to esketamine's sedation, as the form asks for them.
SEDATING_CLASSES = frozenset(
    {DrugClass.BENZODIAZEPINE, DrugClass.OPIOID, DrugClass.OTHER_CNS_DEPRESSANT}
)
# The label: consider delaying the dose when the blood pressure before it is above 140/90
# (a prompt, not a stop: the caution and hold limits of the pre-infusion checks decide that).
CONSIDER_DELAY_ABOVE = (140, 90)
THREE = (
    ("sedation", "Sedation"),
    ("dissociation", "Dissociation"),
    ("respiratory_depression", "Respiratory depression"),
)


def min_monitoring_minutes() -> int:
    return settings.ESKETAMINE_MIN_MONITORING_MINUTES


# --- Before the dose ------------------------------------------------------------------------


def enrolment_of(patient: Patient) -> RemsPatientEnrolment | None:
    return RemsPatientEnrolment.objects.filter(patient=patient).first()


def certification_of(location: Location) -> RemsSettingCertification | None:
    return RemsSettingCertification.objects.filter(location=location).first()


def enrolment_problem(patient: Patient) -> str:
    if enrolment_of(patient) is None:
        return (
            "The patient is not enrolled in the Spravato REMS: record their REMS patient ID "
            "and enrolment date first (no esketamine may be given before)."
        )
    return ""


def certification_problem(location: Location) -> str:
    if certification_of(location) is None:
        return (
            f"{location.name} has no REMS setting certification recorded: a physician or "
            "clinic admin records it under Spravato REMS before esketamine is given here."
        )
    return ""


# The chair time a Spravato session needs besides the monitoring: checking the patient, the
# blood pressure before the dose, the devices (the "Spravato session" type: 15 + 120 minutes).
DOSE_MINUTES = 15


def chair_minutes_needed() -> int:
    """How long the appointment must keep the chair for an esketamine session: the dose and
    the minimum monitoring after it."""
    return DOSE_MINUTES + min_monitoring_minutes()


def kind_problem(session: InfusionSession, kind: str) -> str:
    """Why ``session`` may not become a ``kind`` session ("" when it may): the kind follows
    the appointment, so a Spravato appointment stays esketamine, and an esketamine session
    needs an appointment whose chair time covers the dose and the 2 hours after it."""
    from scheduling.models import AppointmentKind

    appointment = session.appointment
    spravato = appointment.appointment_type.kind == AppointmentKind.SPRAVATO
    if kind == SessionKind.IV_KETAMINE and spravato:
        return (
            "This is a Spravato session appointment: for IV ketamine, book an infusion "
            "appointment instead."
        )
    if kind == SessionKind.ESKETAMINE:
        booked = int((appointment.blocks_until - appointment.starts_at).total_seconds() // 60)
        if booked < chair_minutes_needed():
            return (
                f"This appointment keeps the chair for {hours_minutes(booked)}, but a Spravato "
                f"patient is watched for at least {hours_minutes(min_monitoring_minutes())} "
                f"after the dose ({hours_minutes(chair_minutes_needed())} in all): book a "
                "Spravato session appointment instead."
            )
    return ""


def dose_problems(session: InfusionSession) -> list[str]:
    """What stops the esketamine dose being given now (enrolment, certification)."""
    appointment = session.appointment
    return [
        problem
        for problem in (
            enrolment_problem(appointment.patient),
            certification_problem(appointment.location),
        )
        if problem
    ]


def start_problems(session: InfusionSession) -> list[str]:
    """``orders.start_problems`` for an esketamine session: the dose itself starts it
    (``infusions.esketamine.esketamine_dose_give``)."""
    problems = dose_problems(session)
    if not EsketamineDose.objects.filter(session=session).exists():
        problems.append(
            "Record the esketamine dose (56 or 84 mg, each device's lot): recording it starts "
            "the monitoring."
        )
    return problems


def esketamine_lots(location: Location) -> list[Lot]:
    """The esketamine lots at ``location`` a device may come from: not expired, at least
    one device left, soonest expiry first."""
    today = timezone.now().astimezone(location.tz).date()
    return list(
        Lot.objects.filter(
            location=location,
            product=LotProduct.ESKETAMINE,
            expiry_date__gte=today,
            balance_mg__gte=ESKETAMINE_MG_PER_DEVICE,
        ).order_by("expiry_date", "received_at")
    )


# --- After the dose --------------------------------------------------------------------------


@dataclass
class Monitoring:
    """Where an esketamine session's monitoring stands at ``now``."""

    session: InfusionSession
    dose: EsketamineDose | None
    now: datetime
    bp_before: VitalsReading | None = None
    bp_after: VitalsReading | None = None
    bp_discharge: VitalsReading | None = None
    assessments: list[RemsAssessment] = field(default_factory=list)
    limits: vitals.CautionHold | None = None

    @property
    def ready_at(self) -> datetime | None:
        if self.dose is None:
            return None
        return self.dose.given_at + timedelta(minutes=min_monitoring_minutes())

    @property
    def minutes_watched(self) -> int:
        if self.dose is None:
            return 0
        return max(0, int((self.now - self.dose.given_at).total_seconds() // 60))

    @property
    def watched_text(self) -> str:
        return hours_minutes(self.minutes_watched)

    @property
    def minimum_text(self) -> str:
        return hours_minutes(min_monitoring_minutes())

    @property
    def time_left(self) -> bool:
        return self.ready_at is not None and self.now < self.ready_at

    @property
    def bp_after_due_at(self) -> datetime | None:
        if self.dose is None:
            return None
        return self.dose.given_at + timedelta(minutes=settings.REMS_BP_AFTER_DOSE_MINUTES)

    @property
    def bp_after_window(self) -> tuple[datetime, datetime] | None:
        due = self.bp_after_due_at
        if due is None:
            return None
        slack = timedelta(minutes=settings.REMS_BP_AFTER_DOSE_TOLERANCE_MINUTES)
        return due - slack, due + slack

    @property
    def bp_after_status(self) -> str:
        """ "taken", "due" (in its window now), "upcoming", or "missed"."""
        if self.bp_after is not None:
            return "taken"
        window = self.bp_after_window
        if window is None:
            return "upcoming"
        if self.now < window[0]:
            return "upcoming"
        if self.now <= window[1]:
            return "due"
        return "missed"

    @property
    def latest_assessment(self) -> RemsAssessment | None:
        return self.assessments[-1] if self.assessments else None

    @property
    def still_present(self) -> list[str]:
        """The labels of what the latest assessment found present (none when there is no
        assessment yet: ``blockers`` asks for one then)."""
        latest = self.latest_assessment
        if latest is None:
            return []
        return [label for name, label in THREE if getattr(latest, name) == "present"]

    @property
    def experienced(self) -> dict[str, bool]:
        """Whether each of the three was present at any assessment after the dose."""
        return {
            name: any(getattr(a, name) == "present" for a in self.assessments) for name, _ in THREE
        }

    @property
    def consider_delay(self) -> bool:
        """The blood pressure before the dose is above 140/90 (the label's "consider
        delaying")."""
        reading = self.bp_before
        if reading is None:
            return False
        systolic, diastolic = CONSIDER_DELAY_ABOVE
        return (reading.systolic or 0) > systolic or (reading.diastolic or 0) > diastolic

    def bp_status(self, reading: VitalsReading | None) -> str:
        if reading is None or self.limits is None:
            return ""
        status = reading_bp_status(reading.systolic, reading.diastolic, self.limits)
        return "" if status is None else BloodPressureStatus(status).label

    @property
    def bp_before_status(self) -> str:
        return self.bp_status(self.bp_before)

    @property
    def bp_after_bp_status(self) -> str:
        return self.bp_status(self.bp_after)

    @property
    def bp_discharge_status(self) -> str:
        return self.bp_status(self.bp_discharge)

    def blockers(self) -> list[str]:
        """What stops discharge now, each a sentence saying what to do."""
        if self.dose is None:
            return ["Record the esketamine dose first: the monitoring starts with it."]
        tz = self.session.appointment.location.tz
        blockers = []
        if self.time_left:
            blockers.append(
                f"Not yet: the REMS asks for at least {self.minimum_text} of monitoring after "
                f"the esketamine dose and the patient has been watched for "
                f"{self.watched_text} (until {self.ready_at.astimezone(tz):%H:%M}). A "
                "physician's note does not shorten it."
            )
        latest = self.latest_assessment
        if latest is None:
            blockers.append(
                "Assess sedation, dissociation and respiratory depression: the patient goes "
                "home only once all three have resolved."
            )
        elif self.still_present:
            what = ", ".join(self.still_present).lower()
            blockers.append(
                f"Still present at the latest assessment "
                f"({latest.assessed_at.astimezone(tz):%H:%M}): {what}. Keep watching the "
                "patient and assess again once it has resolved."
            )
        if self.bp_discharge is None:
            blockers.append(
                "Take the blood pressure before discharge (none in the last "
                f"{settings.REMS_BP_BEFORE_DISCHARGE_MINUTES} minutes since the one about "
                f"{settings.REMS_BP_AFTER_DOSE_MINUTES} minutes after the dose)."
            )
        return blockers

    def could_have_left_at(self) -> datetime | None:
        """When the patient could first have gone home: the end of the minimum monitoring,
        or the assessment from which all three stayed resolved, whichever is later."""
        if self.dose is None or not self.assessments or self.still_present:
            return None
        resolved_from = self.assessments[-1].assessed_at
        for assessment in reversed(self.assessments):
            if not assessment.all_resolved:
                break
            resolved_from = assessment.assessed_at
        return max(self.ready_at, resolved_from)


def hours_minutes(minutes: int) -> str:
    """119 -> "1 h 59 min", 120 -> "2 h", 40 -> "40 min"."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def monitoring(session: InfusionSession, now: datetime | None = None) -> Monitoring:
    """Where ``session``'s monitoring stands (three queries: the dose, the readings, the
    assessments). ``now`` defaults to the clock, or the discharge time once discharged."""
    dose = (
        EsketamineDose.objects.filter(session=session)
        .prefetch_related("device_uses__lot")
        .select_related("given_by", "enrolment", "certification")
        .first()
    )
    discharge = Discharge.objects.filter(session=session).first()
    now = now or (discharge.signed_at if discharge else timezone.now())
    result = Monitoring(
        session=session, dose=dose, now=now, limits=vitals.caution_hold_from_settings()
    )
    readings = [
        reading
        for reading in VitalsReading.objects.filter(
            session=session,
            entered_in_error_at__isnull=True,
            taken_at__lte=now,
        ).order_by("taken_at", "id")
        if reading.systolic is not None or reading.diastolic is not None
    ]
    if dose is None:
        pre = [r for r in readings if r.phase == VitalsPhase.PRE]
        result.bp_before = pre[-1] if pre else None
        return result
    before = [r for r in readings if r.taken_at <= dose.given_at]
    result.bp_before = before[-1] if before else None
    low, high = result.bp_after_window
    due = result.bp_after_due_at
    in_window = [r for r in readings if low <= r.taken_at <= high]
    if in_window:
        result.bp_after = min(in_window, key=lambda r: abs((r.taken_at - due).total_seconds()))
    # Before discharge: the last reading after the ~40-minute one (after its window when it
    # was missed), taken in the last minutes before now (the discharge, once signed); never
    # one taken just after the dose.
    since = now - timedelta(minutes=settings.REMS_BP_BEFORE_DISCHARGE_MINUTES)
    after = result.bp_after.taken_at if result.bp_after is not None else high
    later = [r for r in readings if r.taken_at > after and r.taken_at >= since]
    result.bp_discharge = later[-1] if later else None
    result.assessments = list(
        RemsAssessment.objects.filter(session=session, assessed_at__gte=dose.given_at)
    )
    return result


def discharge_blockers(session: InfusionSession) -> list[str]:
    """What the REMS adds to ``discharge_readiness.discharge_blockers``."""
    return monitoring(session).blockers()


# --- The Patient Monitoring Form -------------------------------------------------------------


@dataclass
class FormContents:
    """Every field of the Patient Monitoring Form, filled from the session, and what is
    missing (``missing``, each a sentence)."""

    form: RemsMonitoringForm
    patient: Patient
    location: Location
    enrolment: RemsPatientEnrolment | None
    certification: RemsSettingCertification | None
    monitoring: Monitoring
    monitoring_provider: Any
    session_date: date
    sedating_medicines: list[str]
    serious_events: list[SessionEvent]
    missing: list[str]

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def overdue(self) -> bool:
        return self.form.submitted_on is None and self.form.due_on < _today(self.location)


def form_contents(form: RemsMonitoringForm) -> FormContents:
    """The form of ``form.session`` as the REMS asks for it (a handful of queries)."""
    session = form.session
    appointment = session.appointment
    patient, location = appointment.patient, appointment.location
    state = monitoring(session)
    dose = state.dose
    discharge = Discharge.objects.filter(session=session).select_related("signed_by").first()
    provider = dose.given_by if dose else None
    missing = []
    if discharge is None:
        missing.append("The patient has not been discharged yet: the form is complete then.")
    for label, reading in (
        ("before the dose", state.bp_before),
        ("about 40 minutes after the dose", state.bp_after),
        ("before discharge", state.bp_discharge),
    ):
        if reading is None:
            missing.append(f"No blood pressure {label}.")
    if not state.assessments:
        missing.append("No assessment of sedation, dissociation and respiratory depression.")
    if discharge is not None and form.could_have_left_at is None:
        missing.append("The time the patient could have left is not recorded.")
    return FormContents(
        form=form,
        patient=patient,
        location=location,
        enrolment=dose.enrolment if dose else enrolment_of(patient),
        certification=dose.certification if dose else certification_of(location),
        monitoring=state,
        monitoring_provider=provider,
        session_date=(dose.given_at if dose else appointment.starts_at).astimezone(location.tz),
        sedating_medicines=sedating_medicines(patient),
        serious_events=list(
            SessionEvent.objects.filter(
                session=session, entered_in_error_at__isnull=True, severity=Severity.SEVERE
            )
        ),
        missing=missing,
    )


def sedating_medicines(patient: Patient) -> list[str]:
    """The sedating medicines the patient takes now, from their latest intake's list
    ("alprazolam (Xanax) 0.5 mg"), as the clinic's list classes them."""
    from patients.services.screening import latest_intake

    intake = latest_intake(patient)
    if intake is None:
        return []
    names = []
    for medication in intake.medications.filter(status="current").order_by("position"):
        drug = drug_by_key(medication.drug_key) if medication.drug_key else None
        if drug is None or drug.drug_class not in SEDATING_CLASSES:
            continue
        strength = f" {medication.strength_mg.normalize():f} mg" if medication.strength_mg else ""
        names.append(f"{medication.name}{strength}")
    return names


@dataclass(frozen=True)
class FormDue:
    form: RemsMonitoringForm
    overdue: bool
    due_today: bool


def forms_due(user: Any) -> list[FormDue] | None:
    """The monitoring forms not marked submitted (each due 7 days after its dose) at the
    locations of the clinician's shifts (every location when they have none), soonest due
    first, each with whether it is overdue: None for staff who do not see clinical records.
    Two queries (the shifts and the forms), however many forms."""
    if not user_can(user, Capability.VIEW_CLINICAL):
        return None
    from scheduling.shifts import shift_locations_of

    shifts = shift_locations_of(user)
    forms = RemsMonitoringForm.objects.filter(submitted_on__isnull=True)
    if shifts:
        forms = forms.filter(location_id__in=shifts)
    due = []
    for form in forms.select_related("session__appointment__patient", "location").order_by(
        "due_on", "id"
    ):
        today = _today(form.location)
        due.append(FormDue(form=form, overdue=form.due_on < today, due_today=form.due_on == today))
    return due


def _today(location: Location) -> date:
    return timezone.now().astimezone(location.tz).date()
