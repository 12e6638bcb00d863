"""Spravato (esketamine) nasal spray sessions under the REMS: the writes.

- ``session_kind_set``: make a session an esketamine one (or back), before any dose, when its
  appointment allows it (``rems.kind_problem``: a Spravato session appointment opens an
  esketamine session; other appointments are too short for the 2 hours of monitoring);
- ``rems_enrol``: the patient's REMS enrolment (REMS patient ID, enrolment date);
- ``rems_certify``: the location's certification as a REMS healthcare setting;
- ``esketamine_lot_receive``: esketamine stock into the ledger, as 28 mg devices;
- ``esketamine_dose_give``: the dose (56 mg in 2 devices or 84 mg in 3), each device from a
  lot, taken from the ledger; the session starts and moves straight to monitoring (recovering),
  and the Patient Monitoring Form is opened, due in 7 days;
- ``rems_assessment_record``: sedation, dissociation and respiratory depression;
- ``rems_form_complete``: at discharge, when the patient could have left;
- ``rems_form_mark_submitted``: a clinician says the form was sent, and on what date.

What the rules read (what stops the dose or discharge, the form's contents) is in
``infusions.rems``. Every write refuses with a ``ValidationError`` keyed by field, saying
what to fix, and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability, require, user_can
from infusions import rems
from infusions.ledger import ledger_administer, lot_receive
from infusions.models import (
    DoseOrder,
    EsketamineDevice,
    EsketamineDose,
    InfusionSession,
    Lot,
    RemsAssessment,
    RemsMonitoringForm,
    RemsPatientEnrolment,
    RemsSettingCertification,
)
from infusions.models.ledger import ESKETAMINE_MG_PER_DEVICE, LotProduct
from infusions.models.rems import ESKETAMINE_DOSES_MG, Presence
from infusions.models.sessions import InfusionSessionState, SessionKind
from infusions.sessions import session_transition
from patients.models import Patient

State = InfusionSessionState
Errors = dict[str, list[str]]

# The states in which a session may still change its kind: nothing given yet.
KIND_STATES = frozenset({State.SCHEDULED, State.CHECKED_IN, State.PRE_ASSESSMENT_PASSED})
# Spravato's device: 28 mg of esketamine in 0.2 mL (140 mg/mL).
DEVICE_ML = Decimal("0.2")
DEVICE_MG_PER_ML = Decimal(ESKETAMINE_MG_PER_DEVICE) / DEVICE_ML
ID_MAX = 40


# --- The session's kind ----------------------------------------------------------------------


@transaction.atomic
def session_kind_set(
    *, actor: User, session: InfusionSession, kind: str, request: HttpRequest | None = None
) -> InfusionSession:
    """Make ``session`` an esketamine session, or an IV ketamine one, before any dose is
    ordered or given."""
    require(actor, Capability.RECORD_CLINICAL)
    if kind not in SessionKind.values:
        raise ValidationError({"kind": ["Choose ketamine or Spravato (esketamine) nasal spray."]})
    locked = InfusionSession.objects.select_for_update().get(pk=session.pk)
    if locked.kind == kind:
        return locked
    if EsketamineDose.objects.filter(session=locked).exists() or locked.state not in KIND_STATES:
        state = State(locked.state)
        raise ValidationError(
            {
                "kind": [
                    "The session has ended: its medicine can't change now."
                    if state in (State.NOT_STARTED, State.DISCHARGED, State.STOPPED_EARLY)
                    else "The dose has been given: the session's medicine can't change now."
                ]
            }
        )
    if DoseOrder.objects.filter(session=locked).exists():
        raise ValidationError(
            {
                "kind": [
                    "A ketamine dose order is signed for this session: book a separate "
                    "appointment for esketamine, or mark this session not started."
                ]
            }
        )
    problem = rems.kind_problem(locked, kind)
    if problem:
        raise ValidationError({"kind": [problem]})
    locked.kind = kind
    locked.save(update_fields=["kind"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"made the session a {SessionKind(kind).label} session for patient "
        f"{locked.appointment.patient.public_id}",
        request=request,
    )
    session.kind = kind
    return locked


# --- Enrolment and certification ----------------------------------------------------------------


@transaction.atomic
def rems_enrol(
    *,
    actor: User,
    patient: Patient,
    rems_patient_id: str,
    enrolled_on: date | None,
    request: HttpRequest | None = None,
) -> RemsPatientEnrolment:
    """Record that ``patient`` is enrolled in the Spravato REMS, by a clinician."""
    require(actor, Capability.RECORD_CLINICAL)
    Patient.objects.select_for_update().filter(pk=patient.pk).first()
    errors: Errors = {}
    existing = RemsPatientEnrolment.objects.filter(patient=patient).first()
    if existing is not None:
        raise ValidationError(
            {
                "rems_patient_id": [
                    f"The patient is enrolled already (REMS patient ID "
                    f"{existing.rems_patient_id}, since {existing.enrolled_on:%d %b %Y})."
                ]
            }
        )
    rems_patient_id = _identifier(rems_patient_id, "rems_patient_id", "REMS patient ID", errors)
    _past_date(enrolled_on, "enrolled_on", "the enrolment date", errors)
    if errors:
        raise ValidationError(errors)
    enrolment = RemsPatientEnrolment.objects.create(
        patient=patient, rems_patient_id=rems_patient_id, enrolled_on=enrolled_on, recorded_by=actor
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=enrolment,
        summary=f"recorded the REMS enrolment of patient {patient.public_id}",
        request=request,
    )
    return enrolment


@transaction.atomic
def rems_certify(
    *,
    actor: User,
    location: Location,
    certification_id: str,
    certified_on: date | None,
    request: HttpRequest | None = None,
) -> RemsSettingCertification:
    """Record ``location``'s certification as a Spravato REMS healthcare setting (a physician
    or clinic admin)."""
    if not (
        user_can(actor, Capability.SIGN_MEDICAL_ORDERS)
        or user_can(actor, Capability.MANAGE_LOCATIONS)
    ):
        raise PermissionDenied("A physician or clinic admin records the REMS certification.")
    Location.objects.select_for_update().filter(pk=location.pk).first()
    errors: Errors = {}
    existing = RemsSettingCertification.objects.filter(location=location).first()
    if existing is not None:
        raise ValidationError(
            {
                "certification_id": [
                    f"{location.name} is certified already ({existing.certification_id}, since "
                    f"{existing.certified_on:%d %b %Y})."
                ]
            }
        )
    certification_id = _identifier(certification_id, "certification_id", "certification ID", errors)
    _past_date(certified_on, "certified_on", "the certification date", errors)
    if errors:
        raise ValidationError(errors)
    certification = RemsSettingCertification.objects.create(
        location=location,
        certification_id=certification_id,
        certified_on=certified_on,
        recorded_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=certification,
        summary=f"recorded the REMS setting certification of {location.name}",
        request=request,
    )
    return certification


# --- Stock -----------------------------------------------------------------------------------


def esketamine_lot_receive(*, devices: int | str, **receipt: Any) -> Lot:
    """Receive Spravato devices: ``lot_receive`` with the device as the container (28 mg in
    0.2 mL), so the lot's balance is always whole devices. ``receipt`` is the rest of
    ``lot_receive``'s arguments, but the strength and container size."""
    return lot_receive(
        concentration_mg_per_ml=DEVICE_MG_PER_ML,
        container_volume_ml=DEVICE_ML,
        containers_received=devices,
        product=LotProduct.ESKETAMINE,
        **receipt,
    )


# --- The dose --------------------------------------------------------------------------------


@transaction.atomic
def esketamine_dose_give(
    *,
    actor: User,
    session: InfusionSession,
    devices: int | str | None,
    lots: Sequence[Lot | uuid.UUID | str | None],
    request: HttpRequest | None = None,
) -> EsketamineDose:
    """Record the esketamine dose the patient took under supervision just now: ``devices``
    (2 for 56 mg, 3 for 84 mg), ``lots`` the lot of each device in order (a ``Lot`` or its
    public id). Each device is taken from its lot in the ledger; the session starts and goes
    straight to monitoring; the Patient Monitoring Form is opened."""
    require(actor, Capability.RECORD_CLINICAL)
    require(actor, Capability.HANDLE_CONTROLLED_SUBSTANCES)
    locked = (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("appointment__patient", "appointment__location")
        .get(pk=session.pk)
    )
    appointment = locked.appointment
    if locked.kind != SessionKind.ESKETAMINE:
        raise ValidationError(
            {"session": ["This is an IV ketamine session: make it a Spravato session first."]}
        )
    if EsketamineDose.objects.filter(session=locked).exists():
        raise ValidationError({"session": ["The esketamine dose is recorded already."]})
    if locked.state != State.PRE_ASSESSMENT_PASSED:
        state = State(locked.state)
        raise ValidationError(
            {
                "session": [
                    "Pass the pre-infusion checks first (blood pressure before the dose "
                    "included): the dose is given after them."
                    if state in (State.SCHEDULED, State.CHECKED_IN)
                    else f"The session is {state.label.lower()}: no dose can be given now."
                ]
            }
        )
    problems = rems.dose_problems(locked)
    if problems:
        raise ValidationError({"session": problems})
    errors: Errors = {}
    count = _devices(devices, errors)
    chosen: list[Lot] = []
    if count is not None:
        available = {lot.public_id: lot for lot in rems.esketamine_lots(appointment.location)}
        lots = list(lots)
        for position in range(1, count + 1):
            value = lots[position - 1] if position <= len(lots) else None
            lot = _lot_of(value, available)
            if lot is None:
                errors.setdefault(f"lot_{position}", []).append(
                    f"Choose the lot of device {position} (from the box's label)"
                    + (
                        "."
                        if available
                        else f": no esketamine stock is left at {appointment.location.name}. "
                        "Receive it into the ledger first."
                    )
                )
            else:
                chosen.append(lot)
        for lot in set(chosen):
            need = chosen.count(lot)
            if lot.devices_left is not None and lot.devices_left < need:
                errors.setdefault("lots", []).append(
                    f"Lot {lot.lot_number} has {lot.devices_left} device"
                    f"{'s' if lot.devices_left != 1 else ''} left, not {need}: choose another "
                    "lot for the rest."
                )
    if errors:
        raise ValidationError(errors)
    assert count is not None  # noqa: S101

    now = timezone.now()
    patient = appointment.patient
    dose = EsketamineDose.objects.create(
        session=locked,
        dose_mg=ESKETAMINE_DOSES_MG[count],
        devices=count,
        enrolment=rems.enrolment_of(patient),
        certification=rems.certification_of(appointment.location),
        given_at=now,
        given_by=actor,
    )
    for position, lot in enumerate(chosen, start=1):
        try:
            entry = ledger_administer(
                actor=actor,
                lot=lot,
                patient=patient,
                amount_mg=ESKETAMINE_MG_PER_DEVICE,
                occurred_at=now,
                session=locked,
                request=request,
            )
        except ValidationError as error:
            raise ValidationError({f"lot_{position}": error.messages}) from None
        EsketamineDevice.objects.create(dose=dose, position=position, lot=lot, ledger_entry=entry)
    for step in (State.INFUSING, State.RECOVERING):
        locked = session_transition(actor=actor, session=locked, to_state=step, request=request)
    RemsMonitoringForm.objects.create(
        session=locked,
        location=appointment.location,
        due_on=now.astimezone(appointment.location.tz).date()
        + timedelta(days=settings.REMS_FORM_DUE_DAYS),
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=dose,
        summary=f"recorded an esketamine dose ({dose.dose_mg} mg, {count} devices, lots) for "
        f"patient {patient.public_id}",
        request=request,
    )
    for field in InfusionSession._meta.concrete_fields:
        setattr(session, field.attname, getattr(locked, field.attname))
    return dose


# --- Monitoring ------------------------------------------------------------------------------


@transaction.atomic
def rems_assessment_record(
    *,
    actor: User,
    session: InfusionSession,
    sedation: str,
    dissociation: str,
    respiratory_depression: str,
    note: str = "",
    request: HttpRequest | None = None,
) -> RemsAssessment:
    """Record, now, whether sedation, dissociation and respiratory depression are present."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = InfusionSession.objects.select_for_update().get(pk=session.pk)
    if not EsketamineDose.objects.filter(session=locked).exists():
        raise ValidationError(
            {"session": ["Record the esketamine dose first: the assessments come after it."]}
        )
    if locked.state != State.RECOVERING:
        raise ValidationError(
            {"session": ["The patient has gone home: no assessment can be added now."]}
        )
    errors: Errors = {}
    values = {
        "sedation": sedation,
        "dissociation": dissociation,
        "respiratory_depression": respiratory_depression,
    }
    for (name, label), value in zip(rems.THREE, values.values(), strict=True):
        if value not in Presence.values:
            errors[name] = [f"Say whether {label.lower()} is present or not."]
    note = (note or "").strip()
    if len(note) > 1000:
        errors["note"] = ["Shorten the note to 1,000 characters or fewer."]
    if errors:
        raise ValidationError(errors)
    assessment = RemsAssessment.objects.create(
        session=locked, assessed_at=timezone.now(), note=note, recorded_by=actor, **values
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=assessment,
        summary=f"assessed sedation, dissociation and respiratory depression for patient "
        f"{locked.appointment.patient.public_id}",
        request=request,
    )
    return assessment


def rems_form_complete(*, session: InfusionSession) -> None:
    """At discharge (``infusions.discharge.discharge_sign``, same transaction): record when
    the patient could have left."""
    form = RemsMonitoringForm.objects.select_for_update().filter(session=session).first()
    if form is None or form.could_have_left_at is not None:
        return
    form.could_have_left_at = rems.monitoring(session).could_have_left_at()
    if form.could_have_left_at is not None:
        form.save(update_fields=["could_have_left_at"])


@transaction.atomic
def rems_form_mark_submitted(
    *,
    actor: User,
    form: RemsMonitoringForm,
    submitted_on: date | None,
    request: HttpRequest | None = None,
) -> RemsMonitoringForm:
    """Mark the Patient Monitoring Form sent to the REMS, on ``submitted_on``."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = RemsMonitoringForm.objects.select_for_update().get(pk=form.pk)
    if locked.submitted_on is not None:
        raise ValidationError(
            {"submitted_on": [f"Marked submitted already, on {locked.submitted_on:%d %b %Y}."]}
        )
    contents = rems.form_contents(locked)
    errors: Errors = {}
    if contents.missing:
        errors["form"] = ["The form is not complete: " + " ".join(contents.missing)]
    location = contents.location
    if submitted_on is None:
        errors["submitted_on"] = ["Enter the date the form was submitted."]
    elif submitted_on > timezone.now().astimezone(location.tz).date():
        errors["submitted_on"] = ["The date submitted is in the future: enter the day it was sent."]
    elif submitted_on < contents.session_date.date():
        errors["submitted_on"] = [
            f"The date submitted is before the session ({contents.session_date:%d %b %Y}): "
            "check it."
        ]
    if errors:
        raise ValidationError(errors)
    locked.submitted_on = submitted_on
    locked.submitted_by = actor
    locked.submitted_recorded_at = timezone.now()
    locked.save(update_fields=["submitted_on", "submitted_by", "submitted_recorded_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"marked the REMS monitoring form of patient {contents.patient.public_id} "
        "submitted",
        request=request,
    )
    for name in ("submitted_on", "submitted_by_id", "submitted_recorded_at"):
        setattr(form, name, getattr(locked, name))
    return locked


# --- Input ------------------------------------------------------------------------------------


def _identifier(value: str, field: str, label: str, errors: Errors) -> str:
    value = (value or "").strip()
    if not value:
        errors[field] = [f"Enter the {label}, as the REMS gave it."]
    elif len(value) > ID_MAX:
        errors[field] = [f"The {label} is at most {ID_MAX} characters: check it."]
    return value


def _past_date(value: date | None, field: str, label: str, errors: Errors) -> None:
    if value is None or isinstance(value, datetime) or not isinstance(value, date):
        errors[field] = [f"Enter {label} (year, month and day)."]
    elif value > timezone.localdate() + timedelta(days=1):
        errors[field] = [f"{label.capitalize()} is in the future: enter the day it happened."]


def _devices(value: Any, errors: Errors) -> int | None:
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = None
    if count not in ESKETAMINE_DOSES_MG or isinstance(value, bool):
        errors["devices"] = [
            "Choose 56 mg (2 devices) or 84 mg (3 devices): those are the only esketamine "
            "doses, 28 mg per device."
        ]
        return None
    return count


def _lot_of(value: Any, available: dict[uuid.UUID, Lot]) -> Lot | None:
    if isinstance(value, Lot):
        value = value.public_id
    try:
        key = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None
    return available.get(key)
