"""Booking online under a location's policy: the policy itself (what booking asks for, the
no-show and late-cancel fees, the wording), the booker's agreement to it, and the time held
while they save a card or pay a deposit on Stripe's page.

``scheduling`` asks through ``scheduling.booking_terms``; ``BillingTermsKeeper`` below is
registered there from ``BillingConfig.ready``. The order of a booking that asks for a card:

1. the public booking books the time (in its transaction: the agreement, kept with its
   wording, and a ``BookingHold`` that expires in ``HOLD_MINUTES``; no confirmation yet);
2. after commit, Stripe's page is opened (``payment_page``): setup mode for a card, payment
   mode keeping the card for a deposit; if Stripe can't be reached the time is released;
3. the webhook or the return from Stripe completes the card (``billing.cards``, the same
   path as at the desk) and confirms the hold (``booking_hold_settle``): a deposit is
   recorded as an invoice of its own paid by card, and the confirmation is queued;
4. a hold still waiting when it expires is asked about once more, then released: the
   appointment is cancelled (``booking_holds_release_expired``, a beat task).

With no Stripe keys configured, a location's card or deposit requirement is off: booking
works and the policy is still shown and agreed to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Sum
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from billing.cards import card_setup_complete, card_setup_open, cards_enabled
from billing.fees import late_cancel_notice
from billing.invoice_hooks import register as invoice_hook
from billing.messages import RECEIPT, receipt_key
from billing.models import (
    BookingHold,
    BookingHoldStatus,
    BookingPolicy,
    BookingRequirement,
    CardSetup,
    CreditNote,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PolicyAgreement,
)
from billing.money import format_amount, parse_amount
from billing.selectors import invoices_with_sums, visit_date
from billing.services import _NUMBERING_LOCK, credit_note_create, refund_make
from billing.stripe import gateway
from billing.stripe.errors import PaymentError
from clinic.audit import Action, audit_record
from clinic.messaging.outbox import outbox_enqueue
from clinic.models import Location, OutboxChannel, User
from clinic.permissions import Capability, require
from patients.messages import patient_message_channels
from scheduling.booking_terms import BookingTerms, register
from scheduling.message_queue import confirmation_enqueue
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.status_changes import appointment_cancel

# How long a time booked online is held for the card or the deposit. Stripe's own page
# lives longer: a card saved after this still counts if the time is still free (it is kept).
HOLD_MINUTES = 30
AGREEMENT_METHOD = "ticked on the online booking page"
RELEASE_REASON = "Released: the card or deposit asked for when booking online was not given."
MAX_WORDING = 4000


def _money(amount: Decimal) -> str:
    return format_amount(amount, settings.BILLING_CURRENCY)


# --- The policy ------------------------------------------------------------------------------


def booking_policy_of(location: Location) -> BookingPolicy | None:
    return BookingPolicy.objects.filter(location=location).first()


def effective_requirement(policy: BookingPolicy | None) -> str:
    """What booking online asks for now: nothing when card payments are off."""
    if policy is None or not cards_enabled():
        return BookingRequirement.NOTHING
    return policy.requirement


@dataclass(frozen=True)
class PolicyChoice:
    requirement: str
    deposit_amount: Decimal | None
    wording: str
    no_show_fee: Decimal
    late_cancel_fee: Decimal
    late_cancel_hours: int


@transaction.atomic
def booking_policy_set(
    *,
    actor: User,
    location: Location,
    requirement: str,
    deposit_amount: object,
    wording: str,
    no_show_fee: object,
    late_cancel_fee: object,
    late_cancel_hours: object,
    request: HttpRequest | None = None,
) -> BookingPolicy:
    """Set what booking a consultation online at ``location`` asks for, and its fees."""
    require(actor, Capability.MANAGE_PRICES)
    choice = _policy_choice(
        requirement=requirement,
        deposit_amount=deposit_amount,
        wording=wording,
        no_show_fee=no_show_fee,
        late_cancel_fee=late_cancel_fee,
        late_cancel_hours=late_cancel_hours,
    )
    policy, _ = BookingPolicy.objects.select_for_update().get_or_create(location=location)
    policy.requirement = choice.requirement
    policy.deposit_amount = choice.deposit_amount
    policy.wording = choice.wording
    policy.no_show_fee = choice.no_show_fee
    policy.late_cancel_fee = choice.late_cancel_fee
    policy.late_cancel_hours = choice.late_cancel_hours
    policy.updated_by = actor
    policy.updated_at = timezone.now()
    policy.save()
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=policy,
        summary=f"set the online booking policy of {location.name}: asks for "
        f"{policy.get_requirement_display().lower()}, no-show fee {_money(policy.no_show_fee)}, "
        f"late-cancel fee {_money(policy.late_cancel_fee)} within {policy.late_cancel_hours} h",
        request=request,
    )
    return policy


def _policy_choice(
    *,
    requirement: str,
    deposit_amount: object,
    wording: str,
    no_show_fee: object,
    late_cancel_fee: object,
    late_cancel_hours: object,
) -> PolicyChoice:
    errors: dict[str, list[str]] = {}
    if requirement not in BookingRequirement.values:
        errors["requirement"] = ["Choose nothing, a card on file or a deposit."]
    deposit: Decimal | None = None
    if requirement == BookingRequirement.DEPOSIT:
        try:
            deposit = parse_amount(deposit_amount, currency=settings.BILLING_CURRENCY)
        except ValueError as exc:
            errors["deposit_amount"] = [f"{exc} A deposit is needed to ask for one."]
    fees: dict[str, Decimal] = {}
    for field, value in (("no_show_fee", no_show_fee), ("late_cancel_fee", late_cancel_fee)):
        if value in (None, ""):
            fees[field] = Decimal(0)
            continue
        try:
            fees[field] = parse_amount(value, currency=settings.BILLING_CURRENCY, allow_zero=True)
        except ValueError as exc:
            errors[field] = [str(exc)]
    try:
        hours = int(str(late_cancel_hours).strip())
    except ValueError:
        hours = 0
    if not 1 <= hours <= 168:
        errors["late_cancel_hours"] = [
            "Enter how many hours before the visit a cancellation counts as late, 1 to 168 "
            "(a week), e.g. 24."
        ]
    wording = (wording or "").strip()
    if len(wording) > MAX_WORDING:
        errors["wording"] = [f"Shorten the wording to {MAX_WORDING} characters."]
    if not wording and any(fees.get(f, 0) > 0 for f in ("no_show_fee", "late_cancel_fee")):
        errors["wording"] = [
            "Write the policy the patient agrees to: a fee nobody was told about can't be asked."
        ]
    if errors:
        raise ValidationError(errors)
    return PolicyChoice(
        requirement=requirement,
        deposit_amount=deposit,
        wording=wording,
        no_show_fee=fees["no_show_fee"],
        late_cancel_fee=fees["late_cancel_fee"],
        late_cancel_hours=hours,
    )


# --- What booking online asks (registered into scheduling.booking_terms) ---------------------


def _payment_note(policy: BookingPolicy, requirement: str) -> str:
    if requirement == BookingRequirement.CARD:
        return (
            "To book online here we ask you to keep a card on file. Nothing is charged now; "
            "you save the card on Stripe's secure page next."
        )
    if requirement == BookingRequirement.DEPOSIT and policy.deposit_amount:
        return (
            f"To book online here we take a deposit of {_money(policy.deposit_amount)} by card, "
            "on Stripe's secure page next, and keep the card on file."
        )
    return ""


class BillingTermsKeeper:
    def terms_for(self, location: Location) -> BookingTerms | None:
        policy = booking_policy_of(location)
        if policy is None:
            return None
        requirement = effective_requirement(policy)
        payment = "" if requirement == BookingRequirement.NOTHING else str(requirement)
        return BookingTerms(
            policy=policy.wording,
            payment=payment,
            payment_note=_payment_note(policy, requirement),
        )

    def record(
        self, *, appointment: Appointment, terms: BookingTerms, request: HttpRequest | None
    ) -> None:
        policy = booking_policy_of(appointment.location)
        if policy is None:
            return
        if terms.policy:
            agreement = PolicyAgreement.objects.create(
                appointment=appointment,
                patient=appointment.patient,
                wording=terms.policy,
                no_show_fee=policy.no_show_fee,
                late_cancel_fee=policy.late_cancel_fee,
                late_cancel_hours=policy.late_cancel_hours,
                method=AGREEMENT_METHOD,
            )
            audit_record(
                actor=None,
                action=Action.CREATE,
                target=agreement,
                summary=f"patient {appointment.patient.public_id} agreed to the booking policy "
                f"of {appointment.location.name} when booking online",
                request=request,
            )
        if terms.payment:
            hold = BookingHold.objects.create(
                appointment=appointment,
                requirement=terms.payment,
                amount=policy.deposit_amount if terms.payment == "deposit" else None,
                expires_at=timezone.now() + timedelta(minutes=HOLD_MINUTES),
            )
            audit_record(
                actor=None,
                action=Action.CREATE,
                target=hold,
                summary="held a time booked online until a card is saved "
                f"(patient {appointment.patient.public_id})",
                request=request,
            )

    def awaits_payment(self, appointment: Appointment) -> bool:
        return BookingHold.objects.filter(
            appointment=appointment, status=BookingHoldStatus.WAITING
        ).exists()

    def agreed_policy(self, appointment: Appointment) -> str:
        agreed = PolicyAgreement.objects.filter(appointment=appointment).values_list(
            "wording", flat=True
        )
        return agreed.first() or ""

    def cancel_fee_notice(self, appointment: Appointment) -> str:
        return late_cancel_notice(appointment)

    def payment_page(self, *, appointment: Appointment, base_url: str) -> str:
        hold = BookingHold.objects.select_related("appointment__patient").get(
            appointment=appointment
        )
        return booking_hold_checkout(hold=hold, base_url=base_url)


register(BillingTermsKeeper())


# --- The held time ---------------------------------------------------------------------------


def booking_hold_checkout(*, hold: BookingHold, base_url: str) -> str:
    """Open Stripe's page for a held booking; its address. When Stripe can't be reached the
    time is released and ``ValidationError`` says so."""
    patient = hold.appointment.patient
    done = base_url + reverse("billing_public:booking-done", args=[hold.public_id])
    try:
        if hold.requirement == BookingRequirement.CARD:
            setup = card_setup_open(
                patient=patient, requested_by=None, success_url=done, cancel_url=done
            )
            url = setup.checkout_url
        else:
            setup, url = _deposit_checkout(hold, done)
    except (ValidationError, PaymentError):
        booking_hold_release(hold, ask_stripe=False)
        raise ValidationError(
            "We couldn't open the secure card page just now, so this time was not booked. "
            "Please try again in a few minutes, or call us to book."
        ) from None
    BookingHold.objects.filter(pk=hold.pk).update(card_setup=setup)
    return url


def _deposit_checkout(hold: BookingHold, done: str) -> tuple[CardSetup, str]:
    """Stripe's page in payment mode for the deposit, keeping the card (the card policy is
    the setup's wording, as at the desk)."""
    from billing.cards import CARD_ON_FILE_POLICY, _customer_id

    patient = hold.appointment.patient
    setup = CardSetup(patient=patient, consent_wording=CARD_ON_FILE_POLICY)
    setup.customer_id = _customer_id(patient)
    session = gateway.start_checkout_payment(
        customer_id=setup.customer_id,
        amount=hold.amount or Decimal(0),
        currency=settings.BILLING_CURRENCY,
        description="Deposit: consultation",
        success_url=done,
        cancel_url=done,
        reference=str(setup.public_id),
        idempotency_key=str(hold.public_id),
        save_card=True,
    )
    setup.checkout_session_id = session.id
    setup.save()
    return setup, session.url or ""


def booking_hold_settle(hold: BookingHold) -> bool:
    """Confirm a held booking once its card is saved (and its deposit paid), asking Stripe if
    we have not heard; True when it is confirmed. Once: the webhook, the return from Stripe
    and the release task may all ask. A deposit paid after the time was released is still
    recorded (money received is in the books), for the desk to refund."""
    if hold.card_setup_id is None:
        return False
    setup = hold.card_setup
    card = card_setup_complete(setup)
    if card is None:
        return False
    session = None
    if hold.requirement == BookingRequirement.DEPOSIT:
        session = gateway.get_checkout(setup.checkout_session_id or "")
        if session.payment_status != "paid" or not session.payment_intent_id:
            return False
    with transaction.atomic():
        locked = (
            BookingHold.objects.select_for_update()
            .select_related("appointment__patient", "appointment__location")
            .get(pk=hold.pk)
        )
        if session is not None and locked.deposit_payment_id is None:
            locked.deposit_payment = _deposit_record(
                locked, session.payment_intent_id or "", session.amount or locked.amount
            )
            locked.save(update_fields=["deposit_payment"])
        if locked.status != BookingHoldStatus.WAITING:
            return locked.status == BookingHoldStatus.CONFIRMED
        appointment = locked.appointment
        if appointment.status != AppointmentStatus.BOOKED:
            return False
        locked.status = BookingHoldStatus.CONFIRMED
        locked.settled_at = timezone.now()
        locked.save(update_fields=["status", "settled_at"])
        audit_record(
            actor=None,
            action=Action.UPDATE,
            target=locked,
            summary="confirmed a time booked online: the card is saved "
            f"(patient {appointment.patient.public_id})",
        )
        confirmation_enqueue(
            appointment,
            channels=patient_message_channels(appointment.patient),
            base_url=settings.SITE_URL or "",
        )
    hold.status = BookingHoldStatus.CONFIRMED
    return True


def _deposit_record(hold: BookingHold, payment_intent_id: str, amount: Decimal | None) -> Payment:
    """The deposit in the books: an invoice of its own, issued, and its card payment."""
    existing = Payment.objects.filter(stripe_payment_intent=payment_intent_id).first()
    if existing is not None:
        return existing
    appointment = hold.appointment
    value = amount or hold.amount or Decimal(0)
    invoice = Invoice.objects.create(
        patient=appointment.patient,
        location=appointment.location,
        currency=settings.BILLING_CURRENCY,
    )
    InvoiceLine.objects.create(
        invoice=invoice,
        description=f"Deposit for the consultation on {visit_date(appointment):%b %-d, %Y}",
        quantity=1,
        unit_amount=value,
        amount=value,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_NUMBERING_LOCK])
    invoice.number = (Invoice.objects.aggregate(last=Max("number"))["last"] or 0) + 1
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = timezone.now()
    invoice.save(update_fields=["number", "status", "issued_at"])
    try:
        with transaction.atomic():
            payment = Payment.objects.create(
                invoice=invoice,
                method=PaymentMethod.CARD,
                amount=value,
                reference=payment_intent_id[:60],
                stripe_payment_intent=payment_intent_id,
            )
    except IntegrityError:
        return Payment.objects.get(stripe_payment_intent=payment_intent_id)
    audit_record(
        actor=None,
        action=Action.CREATE,
        target=payment,
        summary=f"took a deposit of {_money(value)} by card (Stripe) on invoice "
        f"{invoice.number} for patient {appointment.patient.public_id}",
    )
    outbox_enqueue(
        key=receipt_key(payment),
        kind=RECEIPT,
        channel=OutboxChannel.EMAIL,
        patient=appointment.patient,
        location=appointment.location,
        context={"payment": str(payment.public_id)},
    )
    return payment


@invoice_hook
def deposit_apply(*, invoice: Invoice, actor: User, request: HttpRequest | None = None) -> None:
    """When a visit's invoice is issued (``billing.services.invoice_issue``, in its
    transaction): the deposit paid for the visit when booking online comes off it, as a credit
    note saying so (at most what the invoice charges). The patient then owes the price less
    the deposit: charges (deposit + price) - payments (deposit) - credits (deposit). What the
    invoice did not use (all of it when a package covered the visit) is given back by staff
    (``deposit_unused``, ``deposit_give_back``): the invoice page says so."""
    if invoice.appointment_id is None:
        return
    hold = (
        BookingHold.objects.select_for_update()
        .select_related("deposit_payment__invoice")
        .filter(
            appointment_id=invoice.appointment_id,
            deposit_payment__isnull=False,
            deposit_credit__isnull=True,
        )
        .first()
    )
    if hold is None or hold.deposit_payment is None:
        return
    amount = min(hold.deposit_payment.amount, invoice.total)
    if amount <= 0:
        return
    credit = CreditNote.objects.create(
        invoice=invoice,
        amount=amount,
        reason=f"Deposit paid when booking online (invoice {hold.deposit_payment.invoice.number}).",
        created_by=actor,
    )
    hold.deposit_credit = credit
    hold.save(update_fields=["deposit_credit"])
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=credit,
        summary=f"took the booking deposit of {_money(amount)} off invoice {invoice.number} "
        f"for patient {invoice.patient.public_id}",
        request=request,
    )


@dataclass(frozen=True)
class UnusedDeposit:
    """The part of a booking deposit its visit's issued invoice did not use: all of it when
    a package covered the visit (the invoice charges nothing), the rest when the visit cost
    less than the deposit. The patient paid it and owes nothing for it, so it goes back to
    them (``deposit_give_back``)."""

    hold: BookingHold
    payment: Payment  # the deposit's
    amount: Decimal


def deposit_unused(invoice: Invoice) -> UnusedDeposit | None:
    """What is left to give back of the deposit paid when booking ``invoice``'s visit, once
    that invoice is issued (what it charges is then final); None when nothing is."""
    if invoice.appointment_id is None or invoice.status != InvoiceStatus.ISSUED:
        return None
    hold = (
        BookingHold.objects.select_related("deposit_payment__invoice", "deposit_credit")
        .filter(appointment_id=invoice.appointment_id, deposit_payment__isnull=False)
        .first()
    )
    if hold is None or hold.deposit_payment is None:
        return None
    payment = hold.deposit_payment
    used = hold.deposit_credit.amount if hold.deposit_credit is not None else Decimal(0)
    given_back = payment.refunds.aggregate(total=Sum("amount"))["total"] or Decimal(0)
    amount = payment.amount - used - given_back
    return UnusedDeposit(hold=hold, payment=payment, amount=amount) if amount > 0 else None


def deposit_to_come_off(invoice: Invoice) -> Decimal | None:
    """The deposit paid when booking ``invoice``'s visit, while that invoice is a draft (it
    comes off when the invoice is issued); None when there is none."""
    if invoice.appointment_id is None or invoice.status != InvoiceStatus.DRAFT:
        return None
    return (
        Payment.objects.filter(booking_hold__appointment_id=invoice.appointment_id)
        .values_list("amount", flat=True)
        .first()
    )


@transaction.atomic
def deposit_give_back(
    *, actor: User, invoice: Invoice, request: HttpRequest | None = None
) -> UnusedDeposit:
    """Give back the part of the booking deposit ``invoice`` (the visit's, issued) did not
    use: it is refunded from the deposit's payment (to the card, through Stripe) and the
    deposit's own invoice is credited for it, in one transaction. So the deposit invoice
    ends settled (charged, paid, refunded and credited the same), and the patient's balance
    (charges - payments + refunds - credits) is unchanged, as nothing is owed either way."""
    require(actor, Capability.CORRECT_BILLING)
    # The hold is locked first: two clicks give the deposit back once.
    BookingHold.objects.select_for_update().filter(appointment_id=invoice.appointment_id).first()
    unused = deposit_unused(Invoice.objects.get(pk=invoice.pk))
    if unused is None:
        raise ValidationError(
            {"invoice": ["No booking deposit is left to give back for this visit."]}
        )
    payment = unused.payment
    charged = invoices_with_sums(Invoice.objects.filter(pk=invoice.pk)).get().total
    why = (
        "a package covered the visit"
        if charged == 0
        else f"the visit cost {_money(charged)} (invoice {invoice.number})"
    )
    reason = f"Booking deposit not needed: {why}."
    refund_make(actor=actor, payment=payment, amount=unused.amount, reason=reason, request=request)
    credit_note_create(
        actor=actor, invoice=payment.invoice, amount=unused.amount, reason=reason, request=request
    )
    return unused


def booking_hold_release(hold: BookingHold, *, ask_stripe: bool = True) -> bool:
    """Release a held booking whose card never came: its appointment is cancelled. Asks
    Stripe first (a webhook may have been lost); True when released."""
    if ask_stripe and hold.card_setup_id is not None:
        try:
            if booking_hold_settle(hold):
                return False
        except PaymentError:
            return False  # Stripe out of reach: ask again on the next run
    with transaction.atomic():
        locked = (
            BookingHold.objects.select_for_update().select_related("appointment").get(pk=hold.pk)
        )
        if locked.status != BookingHoldStatus.WAITING:
            return False
        locked.status = BookingHoldStatus.RELEASED
        locked.settled_at = timezone.now()
        locked.save(update_fields=["status", "settled_at"])
        if locked.appointment.status == AppointmentStatus.BOOKED:
            appointment_cancel(actor=None, appointment=locked.appointment, reason=RELEASE_REASON)
    hold.status = BookingHoldStatus.RELEASED
    return True


def booking_holds_release_expired(now=None) -> int:
    """Release every hold past its time (the beat task); how many were released."""
    now = now or timezone.now()
    due = BookingHold.objects.filter(status=BookingHoldStatus.WAITING, expires_at__lte=now)
    return sum(booking_hold_release(hold) for hold in due.select_related("card_setup"))


def booking_hold_for_setup(setup: CardSetup) -> BookingHold | None:
    return BookingHold.objects.filter(card_setup=setup).first()
