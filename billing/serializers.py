"""The shapes of the billing API's requests and responses. Shapes only: the rules (who may,
how much, in which state) are ``billing.services``', which every write goes through.

Amounts go out as strings with two decimals ("120.50"), never as JSON numbers a client would
read as floats, and come in as a string (or a number) that the service checks.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from billing.models import (
    MANUAL_METHODS,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    Price,
    Refund,
)
from billing.selectors import Balance, settlement
from clinic.api.fields import UtcDateTimeField, id_field
from infusions.api.ledger import StaffRefSerializer
from scheduling.api.common import LocationRefSerializer, PatientRefSerializer
from scheduling.models import AppointmentKind

STATES = ["Draft", "Void", "Unpaid", "Partly paid", "Paid", "Credited", "No charge"]
MANUAL = ", ".join(MANUAL_METHODS)


def money(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=14, decimal_places=2, coerce_to_string=True, read_only=True, **kwargs
    )


def amount_in(what: str) -> serializers.CharField:
    """An amount in a request: the service parses it (and says what to fix)."""
    return serializers.CharField(
        max_length=30,
        help_text=f'The {what} in the clinic\'s currency, as a string, e.g. "120.50".',
        error_messages={
            "required": f'Give the {what}, e.g. "120.50".',
            "blank": f'Give the {what}, e.g. "120.50".',
            "null": f'Give the {what}, e.g. "120.50".',
            "invalid": f'The {what} must be a number, e.g. "120.50".',
        },
    )


def reason_in(what: str) -> serializers.CharField:
    return serializers.CharField(
        allow_blank=True,
        max_length=2000,
        help_text=f"Why {what}: it stays with the books (at most 500 characters).",
        error_messages={"required": f"Write why {what}: it stays with the books."},
    )


def request_id(what: str) -> serializers.UUIDField:
    return serializers.UUIDField(
        required=False,
        help_text=f"An id you choose for the new {what} (a UUID): send the same request again "
        f"with the same id (after a timeout, say) and the {what} already made is returned "
        "(200) instead of a second one.",
        error_messages={"invalid": f"Give the {what}'s id as a UUID, or leave it out."},
    )


# --- Responses ---------------------------------------------------------------------------------


class PriceSerializer(serializers.ModelSerializer):
    type = serializers.ChoiceField(
        source="appointment_type.kind", choices=AppointmentKind.choices, read_only=True
    )
    location = LocationRefSerializer(read_only=True)
    amount = money()
    currency = serializers.SerializerMethodField()

    class Meta:
        model = Price
        fields = ["type", "location", "effective_from", "amount", "currency"]
        read_only_fields = fields

    def get_currency(self, price: Price) -> str:
        return settings.BILLING_CURRENCY


class InvoiceLineSerializer(serializers.ModelSerializer):
    unit_amount = money()
    amount = money()

    class Meta:
        model = InvoiceLine
        fields = ["description", "service_code", "quantity", "unit_amount", "amount"]
        read_only_fields = fields


class InvoiceSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    location = LocationRefSerializer(read_only=True)
    appointment = serializers.UUIDField(
        source="appointment.public_id",
        read_only=True,
        allow_null=True,
        help_text="The visit billed, if the invoice is for one.",
    )
    status = serializers.ChoiceField(
        choices=InvoiceStatus.choices,
        read_only=True,
        help_text="What staff decided: draft, issued or void.",
    )
    state = serializers.SerializerMethodField(
        help_text="What the invoice is as staff read it, from its status and its sums: "
        + ", ".join(STATES)
        + "."
    )
    lines = InvoiceLineSerializer(many=True, read_only=True)
    total = money(help_text="The sum of the lines.")
    credited = money(help_text="Taken off by credit notes.")
    paid = money(help_text="Received in payments.")
    refunded = money(help_text="Given back of those payments.")
    due = money(help_text="Still owed: total - credited - paid + refunded (0 for a draft).")
    created_at = UtcDateTimeField(read_only=True)
    issued_at = UtcDateTimeField(read_only=True, allow_null=True)
    voided_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "patient",
            "location",
            "appointment",
            "currency",
            "status",
            "state",
            "lines",
            "total",
            "credited",
            "paid",
            "refunded",
            "due",
            "created_at",
            "issued_at",
            "voided_at",
            "void_reason",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ChoiceField(choices=STATES))
    def get_state(self, invoice: Invoice) -> str:
        return settlement(invoice)

    def to_representation(self, invoice: Invoice) -> dict[str, Any]:
        data = super().to_representation(invoice)
        if invoice.status == InvoiceStatus.DRAFT:
            data["due"] = "0.00"  # a draft charges nothing yet
        return data


class InvoiceRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    number = serializers.IntegerField(read_only=True, allow_null=True)


class PaymentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    invoice = InvoiceRefSerializer(read_only=True)
    patient = PatientRefSerializer(source="invoice.patient", read_only=True)
    method = serializers.ChoiceField(choices=PaymentMethod.choices, read_only=True)
    amount = money()
    refunded = money(help_text="Given back of this payment so far.")
    taken_by = StaffRefSerializer(read_only=True, allow_null=True)
    taken_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = Payment
        fields = [
            "id",
            "invoice",
            "patient",
            "method",
            "amount",
            "refunded",
            "reference",
            "taken_by",
            "taken_at",
        ]
        read_only_fields = fields


class RefundSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    payment = serializers.UUIDField(source="payment.public_id", read_only=True)
    invoice = InvoiceRefSerializer(source="payment.invoice", read_only=True)
    patient = PatientRefSerializer(source="payment.invoice.patient", read_only=True)
    method = serializers.ChoiceField(
        source="payment.method",
        choices=PaymentMethod.choices,
        read_only=True,
        help_text="How the money goes back: the way it was paid.",
    )
    amount = money()
    refunded_by = StaffRefSerializer(read_only=True, allow_null=True)
    refunded_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "invoice",
            "patient",
            "method",
            "amount",
            "reason",
            "refunded_by",
            "refunded_at",
        ]
        read_only_fields = fields


class BalanceSerializer(serializers.Serializer):
    patient = PatientRefSerializer(read_only=True)
    currency = serializers.CharField(read_only=True)
    owed = money(
        source="balance.amount",
        help_text="charges - payments + refunds - credits: what the patient owes (negative: "
        "what the clinic owes them).",
    )
    charges = money(source="balance.charges", help_text="The lines of issued invoices.")
    payments = money(source="balance.payments")
    refunds = money(source="balance.refunds")
    credits = money(source="balance.credits", help_text="Credit notes, voids included.")


def balance_data(patient: Any, balance: Balance) -> dict[str, Any]:
    return {"patient": patient, "currency": settings.BILLING_CURRENCY, "balance": balance}


# --- Requests ----------------------------------------------------------------------------------


class PriceFilterSerializer(serializers.Serializer):
    location = id_field("location", "/api/v1/locations/", required=False)
    type = serializers.ChoiceField(
        choices=AppointmentKind.choices,
        required=False,
        error_messages={
            "invalid_choice": f"Choose a kind of visit: one of {', '.join(AppointmentKind)}."
        },
    )


class InvoiceFilterSerializer(serializers.Serializer):
    patient = id_field("patient", "/api/v1/patients/", required=False)
    location = id_field("location", "/api/v1/locations/", required=False)
    status = serializers.ChoiceField(
        choices=InvoiceStatus.choices,
        required=False,
        error_messages={
            "invalid_choice": f"Choose a status: one of {', '.join(InvoiceStatus.values)}."
        },
    )


class PaymentFilterSerializer(serializers.Serializer):
    patient = id_field("patient", "/api/v1/patients/", required=False)
    invoice = id_field("invoice", "/api/v1/invoices/", required=False)
    location = id_field("location", "/api/v1/locations/", required=False)


class PaymentTakeSerializer(serializers.Serializer):
    """Money received at the desk for an issued invoice."""

    method = serializers.ChoiceField(
        choices=[(method.value, method.label) for method in MANUAL_METHODS],
        help_text="How the patient paid at the desk. Card payments online go through Stripe "
        "on the invoice's page, never through this call.",
        error_messages={
            "required": f"Say how the patient paid: one of {MANUAL}.",
            "invalid_choice": f"Choose how the patient paid: one of {MANUAL}.",
        },
    )
    amount = amount_in("amount received")
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        default="",
        help_text="The cheque's number or the terminal slip's reference (at most 60 characters).",
    )
    id = request_id("payment")


class RefundMakeSerializer(serializers.Serializer):
    amount = amount_in("amount to give back")
    reason = reason_in("the money goes back")
    id = request_id("refund")


class VoidSerializer(serializers.Serializer):
    reason = reason_in("the invoice is void")
