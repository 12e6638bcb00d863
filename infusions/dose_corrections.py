"""A dose recorded in full, then an infusion that stopped early: what was really given.

The nurse records the dose when the infusion starts (``infusions.orders.dose_administer``):
drawn, given, and the rest wasted. When an IV infusion then ends early (stopped early, or
ended more than ``INFUSION_END_TOLERANCE_MINUTES`` before its planned duration), the patient
did not receive all of it: ``dose_correct`` records what they did receive and wastes the
rest in front of a witness. The ledger is append-only, so nothing recorded is edited: the
correction is two new entries on the dose's lot, in one transaction with the
``DoseCorrection`` that links them:

- an adjustment that ``corrects`` the dose's entry, giving back what was not given, and
- the witnessed waste of that same amount, for the session and its patient.

The lot's balance ends where it was (the drug left the lot either way); the patient's
administration record now says what they received. Until the correction is recorded the
discharge checklist lists it as outstanding (``correction_needed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from infusions import ledger
from infusions.models import (
    DoseAdministration,
    DoseCorrection,
    DoseOrder,
    InfusionSession,
    LedgerEntry,
    Lot,
)
from infusions.models.orders import DoseRoute
from infusions.models.sessions import InfusionSessionState, minutes_infusing
from infusions.orders import current_order

State = InfusionSessionState
Errors = dict[str, list[str]]

READ = object()  # "read it here" (``correction_needed``)

# States in which the infusion has ended (the drug stopped running).
ENDED_STATES = frozenset({State.RECOVERING, State.STOPPED_EARLY, State.DISCHARGED})


@dataclass(frozen=True)
class CorrectionNeeded:
    """A dose recorded in full for an infusion that ran only ``minutes_run`` of
    ``planned_minutes`` (None when it was stopped early without a planned duration)."""

    administration: DoseAdministration
    minutes_run: int
    planned_minutes: int | None
    stopped_early: bool

    @property
    def sentence(self) -> str:
        ran = (
            f"The infusion ran {self.minutes_run} of its planned {self.planned_minutes} minutes"
            if self.planned_minutes
            else "The infusion was stopped early"
        )
        return (
            f"{ran}, but the dose is recorded as {_plain(self.administration.administered_mg)} "
            "mg given: record what was actually given and waste the rest with a witness."
        )


def correction_needed(
    session: InfusionSession,
    *,
    order: DoseOrder | object | None = READ,
    administration: DoseAdministration | object | None = READ,
) -> CorrectionNeeded | None:
    """The session's dose when its IV infusion ended early and what was really given is not
    recorded yet; None otherwise (not ended, ran its course, nothing given, corrected).

    ``order`` and ``administration``: the session's current order and what was given of it,
    when the caller has read them already (with ``correction``); else read here. Then one
    query more, the session's moves."""
    if session.state not in ENDED_STATES or session.started_at is None:
        return None
    if order is READ:
        order = current_order(session)
    if not isinstance(order, DoseOrder) or order.route != DoseRoute.IV_INFUSION:
        return None
    if administration is READ:
        administration = (
            DoseAdministration.objects.filter(order=order).select_related("correction").first()
        )
    if not isinstance(administration, DoseAdministration) or administration.administered_mg <= 0:
        return None
    if _corrected(administration):
        return None
    changes = list(session.state_changes.order_by("at", "id").values_list("to_state", "at"))
    run = minutes_infusing(changes)
    planned = order.duration_minutes
    stopped = any(to_state == State.STOPPED_EARLY for to_state, _ in changes)
    short = bool(planned) and run < planned - settings.INFUSION_END_TOLERANCE_MINUTES
    if not (stopped or short):
        return None
    return CorrectionNeeded(
        administration=administration,
        minutes_run=run,
        planned_minutes=planned,
        stopped_early=stopped,
    )


@transaction.atomic
def dose_correct(
    *,
    actor: User,
    session: InfusionSession,
    given_mg: Any,
    wasted_mg: Any,
    witness: User | None,
    witness_password: str,
    witness_otp: str = "",
    request: HttpRequest | None = None,
) -> DoseCorrection:
    """Record what was really given of the session's dose after its infusion ended early,
    and waste the rest in front of ``witness`` (their password, and code when they have a
    second factor). ``given_mg`` + ``wasted_mg`` must be the dose recorded as given.
    Refuses, changing nothing, when no correction is due or anything is wrong."""
    require(actor, Capability.HANDLE_CONTROLLED_SUBSTANCES)
    locked = (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("appointment__patient", "appointment__location")
        .get(pk=session.pk)
    )
    needed = correction_needed(locked)
    if needed is None:
        raise ValidationError(
            {
                "session": [
                    "There is no dose to correct: the infusion is still running, ran its "
                    "planned time, or the correction is recorded already."
                ]
            }
        )
    administration = needed.administration
    recorded = administration.administered_mg
    errors: Errors = {}
    given = _amount(given_mg, "given_mg", "What was given", errors, allow_zero=True)
    wasted = _amount(wasted_mg, "wasted_mg", "What was wasted", errors)
    if given is not None and wasted is not None and given + wasted != recorded:
        errors.setdefault("wasted_mg", []).append(
            f"Given ({_plain(given)} mg) and wasted ({_plain(wasted)} mg) must add up to the "
            f"{_plain(recorded)} mg recorded as given: the rest is "
            f"{_plain(recorded - given)} mg."
        )
    if witness is None:
        errors.setdefault("witness", []).append(
            "Choose the second nurse or physician who saw the rest destroyed."
        )
    if errors:
        raise ValidationError(errors)
    assert given is not None and wasted is not None  # noqa: S101

    patient = locked.appointment.patient
    ran = (
        f"ran {needed.minutes_run} of {needed.planned_minutes} min"
        if needed.planned_minutes
        else f"ran {needed.minutes_run} min"
    )
    reason = (
        f"Infusion stopped early ({ran}): {_plain(given)} mg of the {_plain(recorded)} mg "
        f"recorded was given; {_plain(wasted)} mg not given."
    )
    working = Lot.objects.get(pk=administration.lot_id)
    # Give back first, then waste: the waste can never take the lot below what it holds.
    try:
        correction_entry, waste = _book(
            actor,
            working,
            administration,
            wasted,
            witness,
            witness_password,
            witness_otp,
            reason,
            locked,
            request,
        )
    except ValidationError as error:
        raise _as_form_errors(error) from None
    correction = DoseCorrection.objects.create(
        administration=administration,
        given_mg=given,
        wasted_mg=wasted,
        recorded_by=actor,
        witness=witness,
        correction_entry=correction_entry,
        wasted_entry=waste,
        reason=reason,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=correction,
        summary=f"corrected the dose given after an early stop for patient {patient.public_id}",
        request=request,
    )
    return correction


def given_of(administration: DoseAdministration | None) -> Decimal | None:
    """What the patient received of ``administration`` (``DoseAdministration.given_mg``:
    the correction's figure when the infusion stopped early and it is recorded, else what
    was recorded at the start)."""
    return None if administration is None else administration.given_mg


def _book(
    actor: User,
    lot: Lot,
    administration: DoseAdministration,
    amount: Decimal,
    witness: User | None,
    witness_password: str,
    witness_otp: str,
    reason: str,
    session: InfusionSession,
    request: HttpRequest | None,
) -> tuple[LedgerEntry, LedgerEntry]:
    """The adjustment giving back what was not given, then its witnessed waste (a refusal
    of the second rolls back the first with the caller's transaction)."""
    given_back = ledger.ledger_adjust(
        actor=actor,
        lot=lot,
        amount_mg=amount,
        reason=reason,
        corrects=administration.administered_entry,
        request=request,
    )
    wasted = ledger.ledger_waste(
        actor=actor,
        lot=lot,
        amount_mg=amount,
        witness=witness,
        witness_password=witness_password,
        witness_otp=witness_otp,
        reason=reason,
        patient=session.appointment.patient,
        session=session,
        request=request,
    )
    return given_back, wasted


def _as_form_errors(error: ValidationError) -> ValidationError:
    """The ledger's field names as the correction form's."""
    if not hasattr(error, "error_dict"):
        return error
    renamed: Errors = {}
    for field, messages in error.message_dict.items():
        renamed.setdefault("wasted_mg" if field == "amount_mg" else field, []).extend(messages)
    return ValidationError(renamed)


def _corrected(administration: DoseAdministration) -> bool:
    try:
        administration.correction  # noqa: B018 - read (or found in select_related)
    except DoseCorrection.DoesNotExist:
        return False
    return True


def _amount(
    value: Any, field: str, label: str, errors: Errors, *, allow_zero: bool = False
) -> Decimal | None:
    return ledger.decimal_in(value, field, label, "mg", errors, allow_zero=allow_zero)


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"
