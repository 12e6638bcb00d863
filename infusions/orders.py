"""Dose orders (signed by a physician) and their administration (by a nurse).

``dose_order_sign`` works the dose out from today's weight on the pre-assessment, only
through ``infusions.dosing.calculate`` (Decimal, explicit rounding), and stores the
server's numbers. A new order ``replaces`` the current one until the drug is given.

``dose_administer`` records what was drawn from a lot, given and wasted once the infusion
has started: the dose and the witnessed waste go through ``infusions.ledger`` in the same
transaction as the ``DoseAdministration`` that links them, so a refusal anywhere saves
nothing (the ledger included).

``start_problems`` is what stops the infusion starting; ``dose_history`` the patient's
doses across sessions with each escalation from the dose before.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from clinic.queries import equals_any
from infusions import dosing, ledger, rems
from infusions.dose_gap import recent_dose_problems
from infusions.models import (
    DoseAdministration,
    DoseOrder,
    InfusionSession,
    LedgerEntry,
    Lot,
    PreAssessment,
)
from infusions.models.ledger import MG, LotProduct
from infusions.models.orders import DOSE
from infusions.models.preassessment import BloodPressureStatus
from infusions.models.sessions import InfusionSessionState, SessionKind
from infusions.preassessment_checklist import weighed_today
from patients.models import Patient
from scheduling.models import Appointment

State = InfusionSessionState
Errors = dict[str, list[str]]

# Orders are signed before the infusion starts.
ORDER_STATES = frozenset({State.CHECKED_IN, State.PRE_ASSESSMENT_PASSED})
# The drug is given (and recorded) once the infusion has started.
ADMINISTER_STATES = frozenset({State.INFUSING, State.PAUSED, State.RECOVERING, State.STOPPED_EARLY})
# The order's total is rounded to 0.1 mg; what was given may differ from it by the rounding.
ROUNDING_TOLERANCE_MG = dosing.TOTAL_MG_QUANTUM / 2
MG_PLACES = Decimal(1).scaleb(-MG["decimal_places"])
MG_LIMIT = Decimal(10) ** (MG["max_digits"] - MG["decimal_places"])
DOSE_PLACES = Decimal(1).scaleb(-DOSE["decimal_places"])
MAX_DURATION_MINUTES = 24 * 60


def current_order(session: InfusionSession) -> DoseOrder | None:
    """The session's order that no later order replaces, or None."""
    return session.dose_orders.filter(replaced_by__isnull=True).order_by("-signed_at").first()


def start_problems(session: InfusionSession) -> list[str]:
    """What stops the infusion starting now; empty when it may start. An esketamine
    session starts with its dose instead (``infusions.rems.start_problems``)."""
    if session.kind == SessionKind.ESKETAMINE:
        return rems.start_problems(session)
    problems = []
    assessment: PreAssessment | None
    try:
        assessment = session.pre_assessment
    except PreAssessment.DoesNotExist:
        assessment = None
        problems.append("Record the pre-infusion checks first.")
    if assessment is not None and assessment.bp_status == BloodPressureStatus.HOLD:
        problems.append("The blood pressure is at or above the hold limit: no infusion today.")
    problems.extend(recent_dose_problems(session))
    order = current_order(session)
    if order is None:
        problems.append("A physician must sign the dose order first.")
    elif assessment is not None and assessment.weight_kg not in (None, order.weight_kg):
        problems.append(
            f"The dose order was worked out for {order.weight_kg} kg but today's weight is "
            f"{assessment.weight_kg} kg: a physician must sign a new order."
        )
    return problems


# --- Orders ----------------------------------------------------------------------------------


@transaction.atomic
def dose_order_sign(
    *,
    actor: User,
    session: InfusionSession,
    route: str,
    dose_mg_per_kg: Decimal | str | int,
    duration_minutes: int | str | None,
    concentration_mg_per_ml: Decimal | str | int | None,
    note: str = "",
    request: HttpRequest | None = None,
) -> DoseOrder:
    """Sign a dose order for today's weight; it replaces the current order, if any.

    Refuses (changing nothing) unless a physician signs it, the session is checked in or has
    passed its pre-assessment, the patient had no other infusion started within the minimum
    gap (``infusions.dose_gap``), today's weight is recorded, the dose is within the clinic's
    limits and nothing of the current order has been given."""
    if not user_can(actor, Capability.SIGN_MEDICAL_ORDERS):
        raise PermissionDenied("Only a physician may sign a dose order: ask the physician.")
    locked = _locked(session)
    state = State(locked.state)
    if state not in ORDER_STATES:
        raise ValidationError({"session": [_order_state_message(state)]})
    if locked.kind == SessionKind.ESKETAMINE:
        raise ValidationError(
            {
                "session": [
                    "This is a Spravato (esketamine) session: record the esketamine dose "
                    "(56 or 84 mg) on the session instead of a ketamine order."
                ]
            }
        )
    too_soon = recent_dose_problems(locked)
    if too_soon:
        raise ValidationError({"session": too_soon})
    assessment = PreAssessment.objects.filter(session=locked).first()
    if not weighed_today(assessment, locked):
        raise ValidationError(
            {
                "weight_kg": [
                    "Weigh the patient today first: the dose is worked out from today's weight "
                    "on the pre-infusion checks."
                ]
            }
        )
    assert assessment is not None  # noqa: S101
    previous = current_order(locked)
    if previous is not None and DoseAdministration.objects.filter(order=previous).exists():
        raise ValidationError(
            {"session": ["The dose has been given already: an order can't change after that."]}
        )
    errors: Errors = {}
    duration = _blank_to_none(duration_minutes)
    concentration = _blank_to_none(concentration_mg_per_ml)
    _check_places(dose_mg_per_kg, "dose_mg_per_kg", "The dose", DOSE_PLACES, errors)
    if concentration is not None:
        _check_places(
            concentration, "concentration_mg_per_ml", "The concentration", MG_PLACES, errors
        )
    try:
        calculation = dosing.calculate(
            dosing.DoseOrder(
                dose_mg_per_kg=_no_float(dose_mg_per_kg),
                weight_kg=assessment.weight_kg,
                duration_minutes=_no_float(duration),
                concentration_mg_per_ml=_no_float(concentration),
                route=route,
            ),
            dosing.limits_from_settings(),
        )
    except dosing.DoseError as error:
        for field, message in error.errors.items():
            errors.setdefault(field, []).insert(0, message)
        raise ValidationError(errors) from None
    if calculation.duration_minutes is not None and calculation.duration_minutes > (
        MAX_DURATION_MINUTES
    ):
        errors.setdefault("duration_minutes", []).append(
            f"Enter a duration of at most {MAX_DURATION_MINUTES} minutes, or leave it blank."
        )
    if calculation.concentration_mg_per_ml is not None and (
        calculation.concentration_mg_per_ml >= MG_LIMIT
    ):
        errors.setdefault("concentration_mg_per_ml", []).append(
            "That concentration is too large: enter it in mg/mL, as on the label."
        )
    if errors:
        raise ValidationError(errors)

    order = DoseOrder.objects.create(
        session=locked,
        route=calculation.route.value,
        dose_mg_per_kg=calculation.dose_mg_per_kg,
        weight_kg=calculation.weight_kg,
        duration_minutes=calculation.duration_minutes,
        concentration_mg_per_ml=calculation.concentration_mg_per_ml,
        total_mg=calculation.total_mg,
        rate_mg_per_h=calculation.rate_mg_per_h,
        rate_ml_per_h=calculation.rate_ml_per_h,
        volume_ml=calculation.volume_ml,
        note=(note or "").strip(),
        ordered_by=actor,
        signed_at=timezone.now(),
        replaces=previous,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=order,
        summary=("signed a replacement dose order" if previous else "signed a dose order")
        + f" for patient {locked.appointment.patient.public_id}",
        request=request,
    )
    return order


def dose_preview(
    *,
    session: InfusionSession,
    route: str,
    dose_mg_per_kg: Any,
    duration_minutes: Any,
    concentration_mg_per_ml: Any,
) -> dosing.DoseCalculation:
    """What an order would come to, without signing it (the same ``dosing.calculate``).
    Raises ``ValidationError`` keyed by field, as ``dose_order_sign`` would."""
    assessment = PreAssessment.objects.filter(session=session).first()
    if not weighed_today(assessment, session):
        raise ValidationError({"weight_kg": ["Weigh the patient today first."]})
    assert assessment is not None  # noqa: S101
    try:
        return dosing.calculate(
            dosing.DoseOrder(
                dose_mg_per_kg=_no_float(dose_mg_per_kg),
                weight_kg=assessment.weight_kg,
                duration_minutes=_no_float(_blank_to_none(duration_minutes)),
                concentration_mg_per_ml=_no_float(_blank_to_none(concentration_mg_per_ml)),
                route=route,
            ),
            dosing.limits_from_settings(),
        )
    except dosing.DoseError as error:
        raise ValidationError({k: [v] for k, v in error.errors.items()}) from None


# --- Administration --------------------------------------------------------------------------


@transaction.atomic
def dose_administer(
    *,
    actor: User,
    order: DoseOrder,
    lot: Lot,
    drawn_mg: Decimal | str | int,
    administered_mg: Decimal | str | int,
    witness: User | None = None,
    witness_password: str = "",
    witness_otp: str = "",
    note: str = "",
    request: HttpRequest | None = None,
) -> DoseAdministration:
    """Record the dose given against ``order``: drawn from ``lot``, given, and the rest
    (drawn - given) wasted in front of ``witness``, who confirms with their password."""
    require(actor, Capability.HANDLE_CONTROLLED_SUBSTANCES)
    locked = _locked(order.session)
    state = State(locked.state)
    if state not in ADMINISTER_STATES:
        raise ValidationError(
            {
                "session": [
                    "Start the infusion first: the dose is recorded once it is running."
                    if state in ORDER_STATES or state == State.SCHEDULED
                    else f"The session is {state.label.lower()}: no dose can be recorded."
                ]
            }
        )
    current = current_order(locked)
    errors: Errors = {}
    if current is None or current.pk != order.pk:
        raise ValidationError(
            {"order": ["That order has been replaced: give the dose of the current order."]}
        )
    if DoseAdministration.objects.filter(order=order).exists():
        raise ValidationError({"order": ["The dose of this order has been recorded already."]})
    if lot.product != LotProduct.KETAMINE:
        errors.setdefault("lot", []).append(
            f"Lot {lot.lot_number} is Spravato (esketamine) nasal spray: draw the ketamine "
            "from a ketamine lot."
        )
    drawn = _amount(drawn_mg, "drawn_mg", "The amount drawn", errors)
    given = _amount(administered_mg, "administered_mg", "The amount given", errors)
    wasted = Decimal(0)
    if drawn is not None and given is not None:
        if given > drawn:
            errors.setdefault("administered_mg", []).append(
                f"You gave more ({given} mg) than you drew ({drawn} mg): check both amounts."
            )
        else:
            wasted = drawn - given
    if given is not None and given > order.total_mg + ROUNDING_TOLERANCE_MG:
        errors.setdefault("administered_mg", []).append(
            f"The order is for {order.total_mg} mg: enter what was given (at most "
            f"{order.total_mg} mg), or ask the physician to review the order."
        )
    if wasted and witness is None:
        errors.setdefault("witness", []).append(
            f"{wasted} mg is left over to waste: choose the second nurse or physician who saw "
            "it destroyed."
        )
    if errors:
        raise ValidationError(errors)
    assert drawn is not None and given is not None  # noqa: S101

    patient = locked.appointment.patient
    # The ledger brings the lot it is given up to date; the caller's copy only on success.
    working = Lot.objects.get(pk=lot.pk)
    try:
        given_entry = ledger.ledger_administer(
            actor=actor,
            lot=working,
            patient=patient,
            amount_mg=given,
            session=locked,
            request=request,
        )
        wasted_entry: LedgerEntry | None = None
        if wasted:
            wasted_entry = ledger.ledger_waste(
                actor=actor,
                lot=working,
                amount_mg=wasted,
                witness=witness,
                witness_password=witness_password,
                witness_otp=witness_otp,
                reason="Left over from the session's dose.",
                patient=patient,
                session=locked,
                request=request,
            )
    except ValidationError as error:
        raise _ledger_errors(error) from None
    lot.balance_mg = working.balance_mg
    administration = DoseAdministration.objects.create(
        order=order,
        lot=lot,
        drawn_mg=drawn,
        administered_mg=given,
        wasted_mg=wasted,
        given_by=actor,
        witness=witness if wasted else None,
        administered_entry=given_entry,
        wasted_entry=wasted_entry,
        note=(note or "").strip(),
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=administration,
        summary="recorded the dose given"
        + (" and witnessed waste" if wasted else "")
        + f" for patient {patient.public_id}",
        request=request,
    )
    return administration


# --- The history -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DoseHistoryEntry:
    """One session's dose, and how much higher it is than the dose before (None: not)."""

    order: DoseOrder
    session: InfusionSession
    escalation: Decimal | None

    @property
    def escalation_percent(self) -> str:
        """0.500 -> "50", 0.333 -> "33.3"."""
        return "" if self.escalation is None else plain(self.escalation * 100)

    @property
    def dose_text(self) -> str:
        return plain(self.order.dose_mg_per_kg)

    @property
    def given(self) -> DoseAdministration | None:
        try:
            return self.order.administration
        except DoseAdministration.DoesNotExist:
            return None

    @property
    def given_mg(self) -> Decimal | None:
        """What the patient received of this dose (``DoseAdministration.given_mg``: after
        an early stop, the corrected figure); None when nothing was given."""
        given = self.given
        return None if given is None else given.given_mg


def dose_history(
    patient: Patient, *, up_to: InfusionSession | None = None, latest: int | None = None
) -> list[DoseHistoryEntry]:
    """The patient's current orders across their sessions, oldest first, each with the
    escalation from the previous one (``dosing.escalation``), each session's date and place
    and what was given. One query. ``up_to``: only the doses of sessions booked no later
    than that one (a session's page shows the history that led to it); ``latest``: only
    the last that many, the first of them without its escalation (the dose before it is
    not read), so a caller that shows escalations asks for one more than it lists."""
    orders = (
        _current_orders(patient)
        # What the dose history shows: each session's date and place, the order and what
        # was given (not the course or the signer: each join more costs planning, and a
        # model per row for a patient with a hundred sessions).
        .select_related("session__appointment__location", "administration__correction")
    )
    if up_to is not None:
        orders = orders.filter(session__appointment__starts_at__lte=up_to.appointment.starts_at)
    if latest is not None:
        orders = list(orders.reverse()[:latest])[::-1]
    return [
        DoseHistoryEntry(order=order, session=order.session, escalation=escalation)
        for order, escalation in _with_escalations(orders)
    ]


def doses_of_sessions(
    patient: Patient, sessions: dict[int, InfusionSession]
) -> dict[int, DoseHistoryEntry]:
    """The current dose of each of ``sessions`` (some of ``patient``'s, by primary key, read
    already with their appointment and place), with its escalation from the dose before it
    in the patient's whole history, by session. One query, reading of each order only what
    the escalation and the chart's list need (not what was given: ``given`` would cost a
    query an entry), so the latest ten of a hundred sessions cost ten entries, not a
    hundred. Every order is read as plain values; models are made for the listed ones."""
    rows = _current_orders(patient).values_list("pk", "session_id", "dose_mg_per_kg", "total_mg")
    entries: dict[int, DoseHistoryEntry] = {}
    previous: Decimal | None = None
    for pk, session_id, dose_mg_per_kg, total_mg in rows:
        escalation = dosing.escalation(previous, dose_mg_per_kg)
        previous = dose_mg_per_kg
        if session_id not in sessions:
            continue
        order = DoseOrder(
            pk=pk, session_id=session_id, dose_mg_per_kg=dose_mg_per_kg, total_mg=total_mg
        )
        order._state.adding = False  # read from the database, as a queryset's would be
        entries[session_id] = DoseHistoryEntry(
            order=order, session=sessions[session_id], escalation=escalation
        )
    return entries


def _current_orders(patient: Patient) -> QuerySet[DoseOrder]:
    """The patient's current (not replaced) orders, in the order they were signed."""
    return DoseOrder.objects.filter(
        # The patient's sessions through the index on their appointment, not a scan of
        # every session (clinic.queries says why).
        equals_any(
            "session__appointment_id", Appointment.objects.filter(patient=patient).values("pk")
        ),
        replaced_by__isnull=True,
    ).order_by("signed_at", "id")


def _with_escalations(orders: Iterable[DoseOrder]) -> Iterator[tuple[DoseOrder, Decimal | None]]:
    previous: Decimal | None = None
    for order in orders:
        yield order, dosing.escalation(previous, order.dose_mg_per_kg)
        previous = order.dose_mg_per_kg


def administration_lots(session: InfusionSession) -> list[Lot]:
    """The lots a dose for ``session`` may be drawn from: its location's, not expired, with
    drug left, soonest expiry first."""
    location = session.appointment.location
    today = timezone.now().astimezone(location.tz).date()
    return list(
        Lot.objects.filter(
            location=location,
            product=LotProduct.KETAMINE,
            expiry_date__gte=today,
            balance_mg__gt=0,
        ).order_by("expiry_date", "received_at")
    )


def plain(value: Decimal | None) -> str:
    """0.500 -> "0.5", 10.000 -> "10" (never "1E+1"); "" for None."""
    return "" if value is None else f"{value.normalize():f}"


# --- Helpers ---------------------------------------------------------------------------------


def _locked(session: InfusionSession) -> InfusionSession:
    return (
        InfusionSession.objects.select_for_update(of=("self",))
        .select_related("appointment__location", "appointment__patient")
        .get(pk=session.pk)
    )


def _order_state_message(state: State) -> str:
    if state == State.SCHEDULED:
        return "Check the patient in first: the dose is ordered at the chair."
    return (
        f"The session is {state.label.lower()}: a dose order can only be signed before the "
        "infusion starts."
    )


def _blank_to_none(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def _no_float(value: Any) -> Any:
    """A float from JSON or a form becomes its shortest decimal text (0.5, not 0.5000000001);
    ``dosing`` then parses it exactly."""
    return str(value) if isinstance(value, float) else value


def _check_places(value: Any, field: str, label: str, places: Decimal, errors: Errors) -> None:
    try:
        number = Decimal(str(_no_float(value)).strip())
    except (InvalidOperation, ValueError):
        return  # dosing says what is wrong with it
    if number.is_finite() and number != number.quantize(places, rounding=ROUND_DOWN):
        digits = -places.as_tuple().exponent
        errors.setdefault(field, []).append(f"{label} can have at most {digits} decimals.")


def _amount(value: Any, field: str, label: str, errors: Errors) -> Decimal | None:
    return ledger.decimal_in(_no_float(value), field, label, "mg", errors)


def _ledger_errors(error: ValidationError) -> ValidationError:
    """The ledger's field names as the administration form's."""
    if not hasattr(error, "error_dict"):
        return error
    renamed: Errors = {}
    for field, messages in error.message_dict.items():
        if field == "amount_mg":
            field = "drawn_mg"
        renamed.setdefault(field, []).extend(messages)
    return ValidationError(renamed)
