"""The billing API, under /api/v1/: prices, invoices (with their lines, state and sums),
payments, refunds and a patient's balance to read; and what the desk does, through the same
services as the staff pages: issue a draft, take a cash, cheque or card-terminal payment,
void an invoice with a reason, refund a payment.

Who may do what is ``clinic.permissions``: reading invoices, payments and refunds needs
VIEW_BILLING (the front desk, clinic admins); issuing and taking a payment TAKE_PAYMENTS;
voiding and refunding CORRECT_BILLING (clinic admins); the price list MANAGE_PRICES (as on the
price page); a patient's balance VIEW_BALANCE (everyone who works with patients, as on the
chart). An invoice is fetched through ``billing.selectors.invoice_for``, a payment through
``payment_for``, a patient through ``patients.selectors.patient_for``.

Reads of invoices, payments and refunds are audited; every write is audited by its service.
A payment or a refund may carry an ``id`` chosen by the caller: sending the same request
again returns the one already made (200) instead of making a second.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import path
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import Invoice, InvoiceLine, Payment, Price, Refund
from billing.selectors import (
    balance_for,
    invoice_for,
    invoices_visible_to,
    payment_for,
    payments_visible_to,
    prices_for,
    refunds_visible_to,
)
from billing.serializers import (
    BalanceSerializer,
    InvoiceFilterSerializer,
    InvoiceSerializer,
    PaymentFilterSerializer,
    PaymentSerializer,
    PaymentTakeSerializer,
    PriceFilterSerializer,
    PriceSerializer,
    RefundMakeSerializer,
    RefundSerializer,
    VoidSerializer,
    balance_data,
)
from billing.services import invoice_issue, invoice_void, payment_take, refund_make
from clinic.api.errors import LIST_ERRORS, READ_ERRORS, WRITE_ERRORS, field_errors
from clinic.api.pagination import KeysetPagination
from clinic.api.views import CapabilityAPIView
from clinic.permissions import Capability, require
from patients.selectors import patient_for

_LINES = Prefetch("lines", queryset=InvoiceLine.objects.order_by("id"))
REPEATED = OpenApiResponse(
    description="The same request was sent before with this id: the one already made, as it is."
)


class BillingAPIView(CapabilityAPIView):
    read_capability = Capability.VIEW_BILLING
    write_capability = Capability.TAKE_PAYMENTS


# --- Prices ------------------------------------------------------------------------------------


class PriceList(BillingAPIView, generics.ListAPIView):
    """The price list: what each kind of visit costs at each location from a day on, newest
    first within each kind and location. For clinic admins, as the price page is."""

    serializer_class = PriceSerializer
    read_capability = Capability.MANAGE_PRICES

    def get_queryset(self) -> QuerySet[Price]:
        query = self.validated(PriceFilterSerializer, data=self.request.query_params)
        prices = prices_for(self.request.user)
        if "location" in query:
            prices = prices.filter(location__public_id=query["location"])
        if "type" in query:
            prices = prices.filter(appointment_type__kind=query["type"])
        return prices

    @extend_schema(
        parameters=[PriceFilterSerializer],
        responses={200: PriceSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


# --- Invoices ----------------------------------------------------------------------------------


def _invoice(user: Any, invoice: Invoice) -> Invoice:
    """``invoice`` read again through the access function, with its sums as they are now."""
    return invoice_for(user, invoice.public_id)


class InvoiceList(BillingAPIView, generics.ListAPIView):
    """Invoices, newest first, with their lines, state and sums; filtered by patient,
    location and status."""

    serializer_class = InvoiceSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Invoice]:
        query = self.validated(InvoiceFilterSerializer, data=self.request.query_params)
        invoices = invoices_visible_to(self.request.user).prefetch_related(_LINES)
        if "patient" in query:
            invoices = invoices.filter(patient__public_id=query["patient"])
        if "location" in query:
            invoices = invoices.filter(location__public_id=query["location"])
        if "status" in query:
            invoices = invoices.filter(status=query["status"])
        return invoices

    @extend_schema(
        parameters=[InvoiceFilterSerializer],
        responses={200: InvoiceSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_page(Invoice, "invoices")


class _InvoiceScoped(BillingAPIView):
    """Views under /invoices/<id>/: the invoice through the one access function."""

    serializer_class = InvoiceSerializer

    def invoice(self, **purpose: bool) -> Invoice:
        return invoice_for(self.request.user, self.kwargs["invoice_id"], **purpose)


class InvoiceDetail(_InvoiceScoped):
    @extend_schema(responses={200: InvoiceSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One invoice, with its lines, state and sums."""
        invoice = self.invoice()
        self.audit_read(
            invoice, f"read the invoice through the API (patient {invoice.patient.public_id})"
        )
        return Response(InvoiceSerializer(invoice).data)


class InvoiceIssue(_InvoiceScoped):
    @extend_schema(request=None, responses={200: InvoiceSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Issue a draft: it gets the next invoice number, charges the patient, and its lines
        never change again (a correction is a credit note)."""
        invoice = self.invoice(to_take_payment=True)
        with field_errors():
            invoice_issue(actor=request.user, invoice=invoice, request=request)
        return Response(InvoiceSerializer(_invoice(request.user, invoice)).data)


class InvoiceVoid(_InvoiceScoped):
    write_capability = Capability.CORRECT_BILLING

    @extend_schema(request=VoidSerializer, responses={200: InvoiceSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Void an invoice, saying why. An issued one is credited for what it still charges;
        money taken for it must be refunded first. Cannot be undone."""
        invoice = self.invoice(to_correct=True)
        data = self.validated(VoidSerializer)
        with field_errors():
            invoice_void(
                actor=request.user, invoice=invoice, reason=data["reason"], request=request
            )
        return Response(InvoiceSerializer(_invoice(request.user, invoice)).data)


class InvoicePaymentTake(_InvoiceScoped):
    serializer_class = PaymentSerializer

    @extend_schema(
        request=PaymentTakeSerializer,
        responses={201: PaymentSerializer, 200: REPEATED, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record money received at the desk for an issued invoice (card terminal, cash or
        cheque), never more than it still owes. The patient's receipt is emailed."""
        invoice = self.invoice(to_take_payment=True)
        data = self.validated(PaymentTakeSerializer)
        repeated = "id" in data and Payment.objects.filter(public_id=data["id"]).exists()
        with field_errors():
            payment = payment_take(
                actor=request.user,
                invoice=invoice,
                method=data["method"],
                amount=data["amount"],
                reference=data["reference"],
                public_id=data.get("id"),
                request=request,
            )
        shown = payments_visible_to(request.user).get(pk=payment.pk)
        answer = status.HTTP_200_OK if repeated else status.HTTP_201_CREATED
        return Response(PaymentSerializer(shown).data, status=answer)


class PaymentRefundMake(_InvoiceScoped):
    serializer_class = RefundSerializer
    write_capability = Capability.CORRECT_BILLING

    @extend_schema(
        request=RefundMakeSerializer,
        responses={201: RefundSerializer, 200: REPEATED, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Give back part or all of a payment of this invoice, saying why; never more than
        is left of it. A card payment is refunded through Stripe; cash, a cheque or the
        terminal is given back at the desk the same way."""
        invoice = self.invoice(to_correct=True)
        payment = payment_for(request.user, invoice, self.kwargs["payment_id"])
        data = self.validated(RefundMakeSerializer)
        repeated = "id" in data and Refund.objects.filter(public_id=data["id"]).exists()
        with field_errors():
            refund = refund_make(
                actor=request.user,
                payment=payment,
                amount=data["amount"],
                reason=data["reason"],
                public_id=data.get("id"),
                request=request,
            )
        shown = refunds_visible_to(request.user).get(pk=refund.pk)
        answer = status.HTTP_200_OK if repeated else status.HTTP_201_CREATED
        return Response(RefundSerializer(shown).data, status=answer)


# --- Payments and refunds ----------------------------------------------------------------------


def _money_filters(rows: QuerySet[Any], query: dict[str, Any], invoice: str) -> QuerySet[Any]:
    if "patient" in query:
        rows = rows.filter(**{f"{invoice}__patient__public_id": query["patient"]})
    if "invoice" in query:
        rows = rows.filter(**{f"{invoice}__public_id": query["invoice"]})
    if "location" in query:
        rows = rows.filter(**{f"{invoice}__location__public_id": query["location"]})
    return rows


class PaymentList(BillingAPIView, generics.ListAPIView):
    """Payments, newest first, with what was refunded of each; filtered by patient, invoice
    and location. A payment is taken on its invoice: POST /api/v1/invoices/{id}/payments/."""

    serializer_class = PaymentSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Payment]:
        query = self.validated(PaymentFilterSerializer, data=self.request.query_params)
        return _money_filters(payments_visible_to(self.request.user), query, "invoice")

    @extend_schema(
        parameters=[PaymentFilterSerializer],
        responses={200: PaymentSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_page(Payment, "payments")


class RefundList(BillingAPIView, generics.ListAPIView):
    """Refunds, newest first; filtered by patient, invoice and location."""

    serializer_class = RefundSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Refund]:
        query = self.validated(PaymentFilterSerializer, data=self.request.query_params)
        return _money_filters(refunds_visible_to(self.request.user), query, "payment__invoice")

    @extend_schema(
        parameters=[PaymentFilterSerializer],
        responses={200: RefundSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_page(Refund, "refunds")


# --- A patient's balance -----------------------------------------------------------------------


class PatientBalance(BillingAPIView):
    serializer_class = BalanceSerializer
    read_capability = Capability.VIEW_BALANCE

    @extend_schema(responses={200: BalanceSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """What a patient owes: charges - payments + refunds - credits. Clinicians see it as
        they do on the chart; the invoices behind it need billing access."""
        require(request.user, Capability.VIEW_BALANCE)
        patient = patient_for(request.user, self.kwargs["patient_id"])
        balance = balance_for(request.user, patient)
        self.audit_read(patient, "read the patient's balance through the API")
        return Response(BalanceSerializer(balance_data(patient, balance)).data)


urlpatterns = [
    path("prices/", PriceList.as_view(), name="price-list"),
    path("invoices/", InvoiceList.as_view(), name="invoice-list"),
    path("invoices/<uuid:invoice_id>/", InvoiceDetail.as_view(), name="invoice-detail"),
    path("invoices/<uuid:invoice_id>/issue/", InvoiceIssue.as_view(), name="invoice-issue"),
    path("invoices/<uuid:invoice_id>/void/", InvoiceVoid.as_view(), name="invoice-void"),
    path(
        "invoices/<uuid:invoice_id>/payments/",
        InvoicePaymentTake.as_view(),
        name="invoice-payment-take",
    ),
    path(
        "invoices/<uuid:invoice_id>/payments/<uuid:payment_id>/refunds/",
        PaymentRefundMake.as_view(),
        name="payment-refund-make",
    ),
    path("payments/", PaymentList.as_view(), name="payment-list"),
    path("refunds/", RefundList.as_view(), name="refund-list"),
    path("patients/<uuid:patient_id>/balance/", PatientBalance.as_view(), name="patient-balance"),
]
