"""Candidacy screening and the physician's decision on it.

``screening_run`` applies the rules (``patients.screening``) to what is known now — the
patient record, the latest intake, the latest measurement and the latest baseline PHQ-9
— and keeps the result exactly as it was, with the facts, thresholds and rule-set
version behind it. It runs after every intake, measurement and baseline PHQ-9.

A decision is made on one result. When anything newer arrives (a new intake,
measurement or PHQ-9, hence a newer result), the decision is stale: the patient waits
for a physician again and no course can be scheduled (``course_scheduling_allowed``,
which the scheduling services must call).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.timezone import localtime

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, user_can
from patients.intake.facts import facts_from, facts_to_json
from patients.models import (
    IntakeSubmission,
    Measurement,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    ScreeningDecision,
    ScreeningOutcome,
    ScreeningResult,
)
from patients.questionnaires import Instrument
from patients.screening import screen, thresholds_from_settings
from patients.services.details import patient_set_status

MIN_OVERRIDE_JUSTIFICATION = 20

DECISION_STATUS = {
    ScreeningDecision.Decision.APPROVE: PatientStatus.APPROVED,
    ScreeningDecision.Decision.DEFER: PatientStatus.DEFERRED,
    ScreeningDecision.Decision.DECLINE: PatientStatus.DECLINED,
}
# A new screening result reopens the question for these patients.
_DECIDED = {PatientStatus.APPROVED, PatientStatus.DEFERRED, PatientStatus.DECLINED}


# --- Reads -------------------------------------------------------------------------------


def latest_intake(patient: Patient) -> IntakeSubmission | None:
    return _latest_intake(patient.pk)


def latest_measurement(patient: Patient) -> Measurement | None:
    return _latest_measurement(patient.pk)


def latest_baseline_phq9(patient: Patient) -> QuestionnaireResponse | None:
    return _latest_baseline_phq9(patient.pk)


def screening_latest(patient: Patient) -> ScreeningResult | None:
    return _screening_latest(patient.pk)


def _latest_intake(patient_id: int) -> IntakeSubmission | None:
    return IntakeSubmission.objects.filter(patient_id=patient_id).order_by("-version").first()


def _latest_measurement(patient_id: int) -> Measurement | None:
    return Measurement.objects.filter(patient_id=patient_id).order_by("-taken_at", "-id").first()


def _latest_baseline_phq9(patient_id: int) -> QuestionnaireResponse | None:
    return (
        QuestionnaireResponse.objects.filter(
            patient_id=patient_id,
            instrument=Instrument.PHQ9,
            context=QuestionnaireResponse.Context.BASELINE,
        )
        .order_by("-completed_at", "-id")
        .first()
    )


def _screening_latest(patient_id: int) -> ScreeningResult | None:
    return (
        ScreeningResult.objects.filter(patient_id=patient_id).order_by("-created_at", "-id").first()
    )


# "Not given: read it" for the optional arguments above (None means "there is none").
READ_NOW = object()


def decision_current(patient: Patient) -> ScreeningDecision | None:
    """The patient's latest decision (it supersedes earlier ones), stale or not."""
    return (
        patient.decisions.select_related("screening", "decided_by")
        .order_by("-decided_at", "-id")
        .first()
    )


def decision_is_stale(
    decision: ScreeningDecision,
    *,
    screening: ScreeningResult | object | None = READ_NOW,
    intake: IntakeSubmission | object | None = READ_NOW,
    measurement: Measurement | object | None = READ_NOW,
    baseline_phq9: QuestionnaireResponse | object | None = READ_NOW,
) -> bool:
    """True when something was learned after the result the decision was made on: a newer
    screening result, or a newer intake, measurement or baseline PHQ-9 (even one that has
    not been screened yet). Runs up to four queries, fewer when the caller passes the
    patient's latest ``screening``, ``intake``, ``measurement`` and ``baseline_phq9``
    (None: there is none)."""
    # The decided-on result is the latest one, or the decision is stale already.
    if screening is READ_NOW:
        screening = _screening_latest(decision.patient_id)
    if not isinstance(screening, ScreeningResult) or screening.pk != decision.screening_id:
        return True
    if intake is READ_NOW:
        intake = _latest_intake(decision.patient_id)
    if measurement is READ_NOW:
        measurement = _latest_measurement(decision.patient_id)
    phq9 = (
        _latest_baseline_phq9(decision.patient_id) if baseline_phq9 is READ_NOW else baseline_phq9
    )
    return (
        (intake.pk if isinstance(intake, IntakeSubmission) else None) != screening.intake_id
        or (measurement.pk if isinstance(measurement, Measurement) else None)
        != screening.measurement_id
        or (phq9.pk if isinstance(phq9, QuestionnaireResponse) else None) != screening.phq9_id
    )


def course_scheduling_allowed(patient: Patient) -> tuple[bool, str]:
    """Whether a treatment course may be scheduled, and why not. Only a current approval
    by a physician, made on the latest screening result, allows it."""
    decision = decision_current(patient)
    if decision is None:
        return False, (
            "No screening decision yet: a physician must review the screening result and "
            "approve treatment before a course can be scheduled."
        )
    if decision.decision != ScreeningDecision.Decision.APPROVE:
        return False, (
            f"The latest screening decision is “{decision.get_decision_display()}”: a "
            "physician must approve treatment before a course can be scheduled."
        )
    if decision_is_stale(decision):
        return False, (
            "There is new information since treatment was approved (a new intake, "
            "measurement or questionnaire): a physician must review the latest screening "
            "result and decide again before a course can be scheduled."
        )
    when = date_format(localtime(decision.decided_at), "DATE_FORMAT")
    return True, f"Approved by {decision.decided_by.full_name} on {when}."


# Facts not recorded that asking the patient cannot stand in for: a blood pressure is
# measured, and question 9 of the PHQ-9 (thoughts of death or self-harm) is answered on the
# questionnaire itself. Approval waits for them; each says how to record it.
MUST_BE_RECORDED = {
    "missing.blood_pressure": (
        "Measure the blood pressure (Record measurements, on the chart) and run the "
        "screening again."
    ),
    "missing.phq9_item9": (
        "Have the patient answer a PHQ-9 (by link, or entered on the chart with them) and run "
        "the screening again: question 9 asks about thoughts of death or self-harm."
    ),
}


def missing_findings(screening: ScreeningResult) -> list[dict]:
    """The result's findings of facts not recorded ("ask before deciding"), in its order."""
    return [finding for finding in screening.findings if finding.get("missing")]


def missing_fact_names(screening: ScreeningResult) -> list[str]:
    """Each fact not recorded, as its rule's sentence up to the advice ("Allergy to ketamine
    or esketamine is not recorded")."""
    return [_fact_name(finding) for finding in missing_findings(screening)]


def _fact_name(finding: dict) -> str:
    return str(finding.get("reason", "")).split(";")[0].strip().rstrip(".")


def _missing_refusal(missing: list[dict]) -> str:
    count = len(missing)
    listed = "; ".join(_fact_name(finding) for finding in missing)
    return (
        f"The screening has {count} fact{'' if count == 1 else 's'} not recorded, and a "
        f"missing answer is never read as all clear: {listed}. Record the intake first and run "
        "the screening again, or, to approve now, tick that you asked about each of them and "
        "write what the patient said."
    )


# --- Writes ------------------------------------------------------------------------------


@transaction.atomic
def screening_run(
    *, patient: Patient, actor: User | None, request: HttpRequest | None = None
) -> ScreeningResult:
    """Screen the patient on what is known now and keep the result.

    A patient who already had a decision goes back to awaiting one: the new result may
    change it.
    """
    # Lock the patient so results are created one after another: "the latest result"
    # must be well defined for decisions.
    patient.refresh_from_db(from_queryset=Patient.objects.select_for_update())
    intake = latest_intake(patient)
    measurement = latest_measurement(patient)
    phq9 = latest_baseline_phq9(patient)
    facts = facts_from(
        patient=patient,
        answers=intake.answers if intake else None,
        measurement=measurement,
        phq9=phq9,
        medications=list(intake.medications.all()) if intake else (),
    )
    outcome = screen(facts, thresholds_from_settings())
    result = ScreeningResult.objects.create(
        patient=patient,
        intake=intake,
        measurement=measurement,
        phq9=phq9,
        outcome=str(outcome.outcome),
        findings=[finding.to_dict() for finding in outcome.findings],
        facts=facts_to_json(facts),
        thresholds=outcome.thresholds,
        ruleset_version=outcome.ruleset_version,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=result,
        summary=f"ran the screening rules for patient {patient.public_id}",
        request=request,
    )
    if patient.status in _DECIDED:
        patient.status = patient_set_status(
            actor=actor, patient=patient, status=PatientStatus.AWAITING_DECISION, request=request
        ).status
    return result


@transaction.atomic
def decision_record(
    *,
    patient: Patient,
    screening: ScreeningResult,
    decision: ScreeningDecision.Decision | str,
    reason: str,
    actor: User,
    needed: str = "",
    override_justification: str = "",
    missing_facts_acknowledged: bool = False,
    missing_facts_note: str = "",
    request: HttpRequest | None = None,
) -> ScreeningDecision:
    """A physician approves, defers or declines treatment on the latest screening result.

    Approving on a result with facts not recorded (the rules' "missing" findings: "… is not
    recorded; ask before deciding") needs ``missing_facts_acknowledged`` and a
    ``missing_facts_note`` of at least ``MIN_OVERRIDE_JUSTIFICATION`` characters saying what
    the patient answered or why treatment is safe without it, the way a contraindication
    needs a written justification. The rules make a missing fact a *review* finding and
    DOMAIN.md lets a physician decide on review findings, so approval is not refused
    outright; but it is never given in one click over questions nobody asked. Deferring or
    declining needs neither: record the intake and screen again instead."""
    if not user_can(actor, Capability.DECIDE_SCREENING):
        raise PermissionDenied(
            "Only a physician can approve, defer or decline treatment. Ask a physician to "
            "review the screening result."
        )
    patient.refresh_from_db(from_queryset=Patient.objects.select_for_update())
    reason = (reason or "").strip()
    needed = (needed or "").strip()
    override_justification = (override_justification or "").strip()
    missing_facts_note = (missing_facts_note or "").strip()
    if screening.patient_id != patient.pk:
        raise ValidationError(
            "This screening result belongs to another patient. Open the patient's own "
            "screening result and decide there."
        )
    latest = screening_latest(patient)
    if latest is None or latest.pk != screening.pk:
        raise ValidationError(
            "A newer screening result exists for this patient, so this decision was not "
            "saved. Review the latest result and decide again."
        )
    errors: dict[str, list[str]] = {}
    if decision not in ScreeningDecision.Decision.values:
        errors["decision"] = ["Choose approve, defer or decline."]
    if not reason:
        errors["reason"] = ["Say why, in a sentence or two: it stays on the patient's record."]
    if decision == ScreeningDecision.Decision.DEFER and not needed:
        errors["needed"] = [
            "Say what is needed before treatment can be reconsidered, e.g. a blood pressure "
            "below 140/90 or a letter from the cardiologist."
        ]
    overriding = (
        decision == ScreeningDecision.Decision.APPROVE
        and screening.outcome == ScreeningOutcome.CONTRAINDICATED
    )
    missing = missing_findings(screening)
    approving = decision == ScreeningDecision.Decision.APPROVE
    unmeasured = [
        MUST_BE_RECORDED[f["rule_id"]] for f in missing if f["rule_id"] in MUST_BE_RECORDED
    ]
    if approving and unmeasured:
        errors["decision"] = ["Not yet: " + " ".join(unmeasured)]
    missing = [f for f in missing if f["rule_id"] not in MUST_BE_RECORDED]
    if approving and missing and not missing_facts_acknowledged:
        errors["missing_facts_acknowledged"] = [_missing_refusal(missing)]
    if approving and missing and len(missing_facts_note) < MIN_OVERRIDE_JUSTIFICATION:
        errors["missing_facts_note"] = [
            "Write what the patient answered about each fact not recorded, or why treatment is "
            f"safe without it (at least {MIN_OVERRIDE_JUSTIFICATION} characters); or record the "
            "intake first and run the screening again."
        ]
    if overriding and len(override_justification) < MIN_OVERRIDE_JUSTIFICATION:
        errors["override_justification"] = [
            "The screening found a contraindication. To approve anyway, write why treatment "
            f"is safe for this patient (at least {MIN_OVERRIDE_JUSTIFICATION} characters)."
        ]
    if errors:
        raise ValidationError(errors)

    choice = ScreeningDecision.Decision(decision)
    record = ScreeningDecision.objects.create(
        patient=patient,
        screening=screening,
        ruleset_version=screening.ruleset_version,
        decision=choice,
        decided_by=actor,
        reason=reason,
        needed=needed if choice == ScreeningDecision.Decision.DEFER else "",
        override_justification=(
            override_justification if choice == ScreeningDecision.Decision.APPROVE else ""
        ),
        missing_facts_acknowledged=[finding["rule_id"] for finding in missing]
        if choice == ScreeningDecision.Decision.APPROVE
        else [],
        missing_facts_note=missing_facts_note
        if choice == ScreeningDecision.Decision.APPROVE and missing
        else "",
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=record,
        summary=f"recorded a screening decision for patient {patient.public_id}",
        request=request,
    )
    patient.status = patient_set_status(
        actor=actor, patient=patient, status=DECISION_STATUS[choice], request=request
    ).status
    return record
