"""Discharge: the checklist a nurse signs before the patient goes home.

What must happen before the checklist can be signed at all (``discharge_blockers``), and
whether it needs a physician's note, are in ``infusions.discharge_readiness``.

``discharge_sign`` records the checklist (``Discharge``): vitals back near the patient's
baseline, alert and oriented, a modified Aldrete score of at least
``settings.DISCHARGE_MIN_ALDRETE``, an adult escort present (named), and the after-care
instructions given. An alert that is still unresolved (its value is still outside the alert
thresholds in the latest reading of that value) needs a physician's note; when the nurse
signs, the physician confirms with their own password at the chair.

A recovering session moves to discharged in the same transaction
(``infusions.sessions.session_transition``, which asks ``discharge_problems``). A session that
stopped early is final already and the lifecycle has no move out of it, but the patient is
still watched in recovery and then sent home: its checklist is recorded the same way, with no
state move, and the appointment goes from recovering to discharged.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.cosign import cosigner_errors
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from infusions.discharge_readiness import (
    DISCHARGE_STATES,
    default_escort_name,
    discharge_blockers,
    physician_review_reasons,
)
from infusions.esketamine import rems_form_complete
from infusions.models import Discharge, InfusionSession
from infusions.models.sessions import InfusionSessionState, SessionKind
from infusions.sessions import session_transition
from patients.followups import followup_checkin_enqueue
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.status_changes import appointment_follow_session

State = InfusionSessionState

# --- Signing -------------------------------------------------------------------------------


@transaction.atomic
def discharge_sign(
    *,
    actor: User,
    session: InfusionSession,
    vitals_near_baseline: bool,
    alert_and_oriented: bool,
    aldrete_score: int | None,
    escort_present: bool,
    escort_name: str = "",
    instructions_given: bool,
    physician: User | None = None,
    physician_password: str = "",
    physician_otp: str = "",
    physician_note: str = "",
    request: HttpRequest | None = None,
) -> Discharge:
    """Sign the discharge checklist for ``session`` and send the patient home.

    Refuses (``ValidationError`` keyed by field, nothing saved) anything in
    ``discharge_blockers`` (under "session"), each criterion not met, and an unresolved alert
    without a physician's note: ``physician`` (who may sign medical orders) and
    ``physician_note``, with the physician's own ``physician_password`` (and ``physician_otp``
    when they have a second factor) unless the physician is the one signing. With no
    unresolved alert the physician fields are not needed and are not kept. ``escort_name``
    defaults to the escort named at the pre-assessment."""
    require(actor, Capability.RECORD_CLINICAL)
    appointment = (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient")
        .get(pk=session.appointment_id)
    )
    current = InfusionSession.objects.select_for_update().get(pk=session.pk)
    blockers = discharge_blockers(current)
    if (
        State(current.state) not in DISCHARGE_STATES
        or Discharge.objects.filter(session=current).exists()
    ):
        raise ValidationError({"session": blockers})

    errors: dict[str, list[str]] = {}
    if blockers:
        errors["session"] = blockers
    _check_criteria(
        errors,
        vitals_near_baseline=vitals_near_baseline,
        alert_and_oriented=alert_and_oriented,
        aldrete_score=aldrete_score,
        escort_present=escort_present,
    )
    escort_name = (escort_name or "").strip() or default_escort_name(current)
    if not escort_name:
        errors["escort_name"] = ["Enter the name of the adult taking the patient home."]
    elif len(escort_name) > Discharge._meta.get_field("escort_name").max_length:
        errors["escort_name"] = ["Shorten the escort's name to 120 characters or fewer."]
    if not instructions_given:
        errors["instructions_given"] = [
            "Give the patient the written after-care instructions (print the after-care "
            "sheet) and go through them, then tick this."
        ]
    reasons = physician_review_reasons(current)
    physician_note = (physician_note or "").strip()
    if reasons:
        _check_physician(
            errors,
            actor=actor,
            physician=physician,
            password=physician_password,
            otp=physician_otp,
            note=physician_note,
            reasons=reasons,
            request=request,
        )
    else:
        physician, physician_note = None, ""
    if errors:
        raise ValidationError(errors)

    discharge = Discharge.objects.create(
        session=current,
        vitals_near_baseline=True,
        alert_and_oriented=True,
        aldrete_score=aldrete_score,
        escort_present=True,
        escort_name=escort_name,
        instructions_given=True,
        physician=physician,
        physician_note=physician_note,
        signed_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=discharge,
        summary=f"signed the discharge checklist for patient {appointment.patient.public_id}"
        + (" with a physician's note" if physician_note else ""),
        request=request,
    )
    if current.kind == SessionKind.ESKETAMINE:
        rems_form_complete(session=current)
    if current.state == State.RECOVERING:
        # session_transition moves the appointment along too.
        current = _move_to_discharged(actor, current, request)
    else:
        _discharge_appointment(actor, appointment, request)
    # The next-day check-in, queued in this transaction (patients.followups).
    followup_checkin_enqueue(appointment=appointment, discharged_at=discharge.signed_at)
    for field in InfusionSession._meta.concrete_fields:
        setattr(session, field.attname, getattr(current, field.attname))
    return discharge


def _check_criteria(
    errors: dict[str, list[str]],
    *,
    vitals_near_baseline: bool,
    alert_and_oriented: bool,
    aldrete_score: int | None,
    escort_present: bool,
) -> None:
    minimum = settings.DISCHARGE_MIN_ALDRETE
    if not vitals_near_baseline:
        errors["vitals_near_baseline"] = [
            "Not ready to go home: the vital signs must be back near the patient's baseline "
            "(the reading before the infusion). Keep watching and take another reading."
        ]
    if not alert_and_oriented:
        errors["alert_and_oriented"] = [
            "Not ready to go home: the patient must be alert and oriented (knows who and where "
            "they are, and the day). Keep watching and check again."
        ]
    if aldrete_score is None:
        errors["aldrete_score"] = ["Enter the modified Aldrete score (0 to 10)."]
    elif isinstance(aldrete_score, bool) or not isinstance(aldrete_score, int):
        errors["aldrete_score"] = [
            "Enter the modified Aldrete score as a whole number from 0 to 10, "
            f"not {aldrete_score!r}."
        ]
    elif not 0 <= aldrete_score <= 10:
        errors["aldrete_score"] = [
            f"A modified Aldrete score is 0 to 10, not {aldrete_score}: score the patient again."
        ]
    elif aldrete_score < minimum:
        errors["aldrete_score"] = [
            f"Not ready to go home: the modified Aldrete score is {aldrete_score} and the "
            f"clinic needs at least {minimum}. Keep watching the patient and score again."
        ]
    if not escort_present:
        errors["escort_present"] = [
            "Not ready to go home: an adult escort must be here to take the patient home (no "
            "driving until the next day). Call the escort, or keep the patient until they come."
        ]


def _check_physician(
    errors: dict[str, list[str]],
    *,
    actor: User,
    physician: User | None,
    password: str,
    otp: str,
    note: str,
    reasons: list[str],
    request: HttpRequest | None,
) -> None:
    what = " ".join(reasons)
    if physician is None:
        errors["physician"] = [
            f"{what} A physician must review it and write a note before the patient goes "
            "home. Choose the physician."
        ]
    elif not user_can(physician, Capability.SIGN_MEDICAL_ORDERS):
        errors["physician"] = [f"{physician} cannot write this note: choose a physician."]
    elif physician.pk != actor.pk:
        for field, messages in cosigner_errors(
            actor=actor,
            cosigner=physician,
            password=password,
            otp=otp,
            capability=Capability.SIGN_MEDICAL_ORDERS,
            field="physician",
            what="reviewed the discharge",
            who="a physician",
            request=request,
        ).items():
            errors.setdefault(field, []).extend(messages)
    if not note:
        errors["physician_note"] = [
            "Write the physician's note: why the patient may go home now, and what they should do."
        ]


def _move_to_discharged(
    actor: User, session: InfusionSession, request: HttpRequest | None
) -> InfusionSession:
    return session_transition(
        actor=actor, session=session, to_state=State.DISCHARGED, request=request
    )


def _discharge_appointment(
    actor: User, appointment: Appointment, request: HttpRequest | None
) -> None:
    """A stopped-early session stays as it is; its appointment (recovering) is done."""
    appointment_follow_session(
        actor=actor, appointment=appointment, status=AppointmentStatus.DISCHARGED, request=request
    )
