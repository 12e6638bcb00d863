"""No-show and late-cancel fees, proposed to the front desk, never charged on their own.

A confirmed no-show, or a cancellation later than the location's window, proposes the
location's fee (``FeeProposal``, one per appointment): the terms the patient agreed to when
booking online if they did (``PolicyAgreement``), else the location's policy now. No
late-cancel fee when the clinic cancelled (``Appointment.cancelled_by_clinic``), nor when the
appointment was booked already inside the window (the patient never had the chance to
cancel in time). The front desk charges it (an invoice of its own, issued; then the card on
file through ``billing.cards.card_charge``, or paid at the desk) or waives it with a reason.
Undoing the no-show or the cancellation (``scheduling.services.undo``) withdraws an open
proposal.

The proposal is made in the transaction of the status change, through
``scheduling.status_hooks`` (registered from ``BillingConfig.ready``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from billing.cards import card_charge, card_on_file, cards_enabled
from billing.models import (
    BookingHold,
    BookingHoldStatus,
    BookingPolicy,
    FeeKind,
    FeeProposal,
    FeeProposalStatus,
    Invoice,
    Payment,
    PolicyAgreement,
)
from billing.money import format_amount
from billing.selectors import visit_date
from billing.services import invoice_add_line, invoice_issue
from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from scheduling.models import Appointment, AppointmentStatus
from scheduling.status_hooks import register

HOW_CARD = "card"
HOW_DESK = "desk"


def _money(amount: Decimal) -> str:
    return format_amount(amount, settings.BILLING_CURRENCY)


# --- Proposing (scheduling.status_hooks) -----------------------------------------------------


def _terms(appointment: Appointment) -> tuple[Decimal, Decimal, int] | None:
    """(no-show fee, late-cancel fee, window in hours): agreed when booking, else now."""
    agreed = PolicyAgreement.objects.filter(appointment=appointment).first()
    if agreed is not None:
        return agreed.no_show_fee, agreed.late_cancel_fee, agreed.late_cancel_hours
    policy = BookingPolicy.objects.filter(location_id=appointment.location_id).first()
    if policy is None or not policy.wording:
        return None
    return policy.no_show_fee, policy.late_cancel_fee, policy.late_cancel_hours


def fee_due(appointment: Appointment, previous: str, now=None) -> tuple[str, Decimal] | None:
    """The fee a move to the appointment's status proposes, as (kind, amount), or None."""
    if previous != AppointmentStatus.BOOKED:
        return None  # e.g. an infusion's session not started: the patient came
    if appointment.status == AppointmentStatus.NO_SHOW:
        terms = _terms(appointment)
        if terms is None or terms[0] <= 0:
            return None
        return FeeKind.NO_SHOW, terms[0]
    if appointment.status == AppointmentStatus.CANCELLED:
        if appointment.cancelled_by_clinic:
            return None  # the clinic cancelled, not the patient
        amount = late_cancel_fee(appointment, now)
        return None if amount is None else (FeeKind.LATE_CANCEL, amount)
    return None


def late_cancel_fee(appointment: Appointment, now=None) -> Decimal | None:
    """The late-cancel fee the patient cancelling ``appointment`` at ``now`` is proposed, or
    None: none when cancelled before the window, when it was booked already inside the
    window (never a chance to cancel in time), or when its time was released for want of a
    card. The patient's online cancel page says it before they confirm."""
    terms = _terms(appointment)
    if terms is None:
        return None
    _, amount, hours = terms
    window = timedelta(hours=hours)
    now = now or timezone.now()
    if appointment.starts_at - now > window:
        return None
    if appointment.starts_at - appointment.created_at <= window:
        return None  # booked inside the window: never a chance to cancel in time
    if BookingHold.objects.filter(
        appointment=appointment, status=BookingHoldStatus.RELEASED
    ).exists():
        return None  # released for want of a card: never a booking to cancel
    return amount if amount > 0 else None


def late_cancel_notice(appointment: Appointment, now=None) -> str:
    """What the patient's online cancel page says before they confirm: the fee cancelling
    now will propose, with its amount ("" when none)."""
    amount = late_cancel_fee(appointment, now)
    if amount is None:
        return ""
    terms = _terms(appointment)
    hours = terms[2] if terms else 0
    return (
        f"Your appointment is less than {hours} hours away, so cancelling now means a "
        f"late-cancellation fee of {_money(amount)}, under the clinic's cancellation policy. "
        "The front desk will be in touch about it."
    )


@register
def fee_on_status_change(
    *, appointment: Appointment, previous: str, actor: User | None, undo: bool
) -> None:
    """Propose the fee of a no-show or late cancellation; withdraw it when that is undone."""
    if undo:
        _withdraw(appointment, actor)
        return
    due = fee_due(appointment, previous)
    if due is None:
        return
    kind, amount = due
    existing = FeeProposal.objects.select_for_update().filter(appointment=appointment).first()
    if existing is not None:
        if existing.status != FeeProposalStatus.WITHDRAWN:
            return
        existing.kind, existing.amount = kind, amount
        existing.status = FeeProposalStatus.OPEN
        existing.proposed_at, existing.decided_at, existing.decided_by = timezone.now(), None, None
        existing.save(
            update_fields=["kind", "amount", "status", "proposed_at", "decided_at", "decided_by"]
        )
        proposal = existing
    else:
        proposal = FeeProposal.objects.create(
            appointment=appointment,
            patient_id=appointment.patient_id,
            location_id=appointment.location_id,
            kind=kind,
            amount=amount,
        )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=proposal,
        summary=f"proposed a {proposal.get_kind_display().lower()} of {_money(amount)} for "
        f"patient {appointment.patient.public_id}",
    )


def _withdraw(appointment: Appointment, actor: User | None) -> None:
    proposal = (
        FeeProposal.objects.select_for_update()
        .filter(appointment=appointment, status=FeeProposalStatus.OPEN)
        .first()
    )
    if proposal is None:
        return
    proposal.status = FeeProposalStatus.WITHDRAWN
    proposal.decided_at, proposal.decided_by = timezone.now(), actor
    proposal.save(update_fields=["status", "decided_at", "decided_by"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=proposal,
        summary=f"withdrew the {proposal.get_kind_display().lower()} proposed for patient "
        f"{appointment.patient.public_id}: the status change was undone",
    )


# --- Reading ---------------------------------------------------------------------------------


def _proposals() -> QuerySet[FeeProposal]:
    return FeeProposal.objects.select_related(
        "patient", "location", "appointment__appointment_type", "invoice"
    )


def open_fee_proposals(user: Any) -> QuerySet[FeeProposal]:
    """The open proposals, oldest first, for the front desk and clinic admins (one query)."""
    if not user_can(user, Capability.VIEW_BILLING):
        raise PermissionDenied
    return _proposals().filter(status=FeeProposalStatus.OPEN).order_by("proposed_at", "id")


def decided_fee_proposals(user: Any) -> QuerySet[FeeProposal]:
    if not user_can(user, Capability.VIEW_BILLING):
        raise PermissionDenied
    return (
        _proposals()
        .exclude(status=FeeProposalStatus.OPEN)
        .select_related("decided_by")
        .order_by("-decided_at", "-id")
    )


def fee_proposal_for(user: Any, public_id: uuid.UUID | str) -> FeeProposal:
    """The one access function for a fee proposal: the front desk and clinic admins."""
    if not user_can(user, Capability.VIEW_BILLING):
        raise PermissionDenied
    proposal = _proposals().filter(public_id=public_id).first()
    if proposal is None:
        raise Http404("No fee proposal has that id.")
    return proposal


# --- Deciding --------------------------------------------------------------------------------


def _locked_open(proposal: FeeProposal) -> FeeProposal:
    locked = (
        FeeProposal.objects.select_for_update()
        .select_related("patient", "appointment__appointment_type", "location")
        .get(pk=proposal.pk)
    )
    if locked.status != FeeProposalStatus.OPEN:
        raise ValidationError(
            {"fee": [f"This fee is {locked.get_status_display().lower()} already: nothing to do."]}
        )
    return locked


def fee_charge(
    *, actor: User, proposal: FeeProposal, how: str, request: HttpRequest | None = None
) -> tuple[Invoice, Payment | None]:
    """Charge an open fee: an invoice of its own, issued now, then ``how``: "card" charges
    the card on file (``billing.cards.card_charge``, the one path for that), "desk" leaves it
    to pay at the desk. A declined card leaves the invoice to pay another way, and says so."""
    require(actor, Capability.TAKE_PAYMENTS)
    if how not in (HOW_CARD, HOW_DESK):
        raise ValidationError({"how": ["Choose the card on file or paying at the desk."]})
    if how == HOW_CARD:
        if not cards_enabled():
            raise ValidationError(
                {"how": ["Card payments are off (no Stripe keys): charge it to pay at the desk."]}
            )
        if card_on_file(proposal.patient) is None:
            raise ValidationError(
                {"how": ["This patient has no card on file: charge it to pay at the desk."]}
            )
    with transaction.atomic():
        locked = _locked_open(proposal)
        appointment = locked.appointment
        invoice = Invoice.objects.create(
            patient=locked.patient,
            location=locked.location,
            currency=settings.BILLING_CURRENCY,
            created_by=actor,
        )
        invoice_add_line(
            actor=actor,
            invoice=invoice,
            description=f"{locked.get_kind_display()}: {appointment.appointment_type.name} "
            f"on {visit_date(appointment):%b %-d, %Y}",
            quantity=1,
            unit_amount=locked.amount,
            request=request,
        )
        invoice = invoice_issue(actor=actor, invoice=invoice, request=request)
        locked.status = FeeProposalStatus.CHARGED
        locked.invoice = invoice
        locked.decided_at, locked.decided_by = timezone.now(), actor
        locked.save(update_fields=["status", "invoice", "decided_at", "decided_by"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=locked,
            summary=f"charged the {locked.get_kind_display().lower()} of {_money(locked.amount)} "
            f"on invoice {invoice.number} for patient {locked.patient.public_id}",
            request=request,
        )
    proposal.status, proposal.invoice = locked.status, invoice
    if how == HOW_DESK:
        return invoice, None
    # After the commit: the card is charged outside the transaction, as at the desk.
    payment = card_charge(actor=actor, invoice=invoice, amount=locked.amount, request=request)
    return invoice, payment


@transaction.atomic
def fee_waive(
    *, actor: User, proposal: FeeProposal, reason: str, request: HttpRequest | None = None
) -> FeeProposal:
    """Waive an open fee, saying why (kept, and in the audit log)."""
    require(actor, Capability.TAKE_PAYMENTS)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the fee is waived, e.g. “called ahead: car broke down”."]}
        )
    if len(reason) > 500:
        raise ValidationError({"reason": ["Keep the reason to 500 characters."]})
    locked = _locked_open(proposal)
    locked.status = FeeProposalStatus.WAIVED
    locked.waive_reason = reason
    locked.decided_at, locked.decided_by = timezone.now(), actor
    locked.save(update_fields=["status", "waive_reason", "decided_at", "decided_by"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"waived the {locked.get_kind_display().lower()} of {_money(locked.amount)} for "
        f"patient {locked.patient.public_id} with a reason",
        request=request,
    )
    proposal.status, proposal.waive_reason = locked.status, reason
    return locked
