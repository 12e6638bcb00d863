"""The ketamine ledger API: /api/v1/ledger/ (read by nurses, physicians and clinic admins;
written by nurses and physicians).

- ``lots/``: the stock (GET, filtered by location; empty and expired lots with
  ``include_empty``) and receiving a delivery (POST);
- ``lots/<id>/``: one lot with its balance; ``lots/<id>/entries/``: its entries in the order
  they were recorded, each with the balance after it;
- ``lots/<id>/waste/``, ``adjustments/``, ``counts/``: new entries (POST). Waste names its
  witness by their staff id, with the witness's own password;
- ``export.csv?start=&end=``: every record of a date range as CSV (audited).

Everything goes through ``infusions.ledger`` (whose refusals answer 400, keyed by field,
with nothing saved) and lots through ``infusions.selectors.lot_for``. There is no DELETE or
PUT anywhere (405): records are kept at least two years and corrected by new entries.
Doses are recorded through the infusion session's administration, not here.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    ERRORS_400,
    ERRORS_403,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    field_errors,
    refused,
)
from clinic.api.fields import (
    UtcDateTimeField,
    date_field,
    id_field,
)
from clinic.api.serializers import cosigner_code_field
from clinic.models import User
from infusions.ledger import (
    LEDGER_CAPABILITY,
    LEDGER_READ_CAPABILITY,
    ledger_adjust,
    ledger_count,
    ledger_waste,
    lot_receive,
)
from infusions.ledger_reports import ledger_csv
from infusions.models import LedgerEntry, Lot
from infusions.models.ledger import MG
from infusions.selectors import lot_for, lots_visible_to
from infusions.views.ledger import csv_download, lots_in_stock
from scheduling.api.common import (
    LocationRefSerializer,
    PatientRefSerializer,
    ScheduleAPIView,
    location_named,
)

ML_PLACES = Decimal("0.01")
EXPORT_DAYS = 30


def _amount(what: str, **kwargs: Any) -> serializers.CharField:
    """An amount as the ledger takes it: a number (or a string of one), never rounded."""
    return serializers.CharField(
        max_length=30,
        help_text=kwargs.pop("help_text", f'The {what}, e.g. "12.5" (at most 3 decimals).'),
        error_messages={
            "required": f"Give the {what}.",
            "blank": f"Give the {what}.",
            "null": f"Give the {what}.",
            "invalid": f'The {what} must be a number, e.g. "12.5".',
        },
        **kwargs,
    )


def decimal_in(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(read_only=True, **MG, **kwargs)


# --- Responses ---------------------------------------------------------------------------


class StaffRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    full_name = serializers.CharField(read_only=True)


class LotSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    location = LocationRefSerializer(read_only=True)
    concentration_mg_per_ml = decimal_in()
    volume_ml = serializers.DecimalField(read_only=True, max_digits=10, decimal_places=2)
    container_volume_ml = serializers.DecimalField(
        read_only=True, max_digits=10, decimal_places=2, allow_null=True
    )
    received_by = StaffRefSerializer(read_only=True)
    received_at = UtcDateTimeField(read_only=True)
    balance_mg = decimal_in(help_text="What the book says is left, in mg.")
    balance_ml = serializers.SerializerMethodField(
        help_text="The balance in mL at the lot's concentration, to 2 decimals."
    )
    expired = serializers.SerializerMethodField(
        help_text="Whether the expiry date has passed at the lot's location."
    )

    class Meta:
        model = Lot
        fields = [
            "id",
            "location",
            "product_name",
            "concentration_mg_per_ml",
            "volume_ml",
            "lot_number",
            "expiry_date",
            "expired",
            "supplier",
            "supplier_address",
            "supplier_dea_number",
            "container_volume_ml",
            "containers_received",
            "invoice_number",
            "received_by",
            "received_at",
            "balance_mg",
            "balance_ml",
        ]
        read_only_fields = fields

    # A string like every other decimal here (COERCE_DECIMAL_TO_STRING), declared as one.
    @extend_schema_field(serializers.DecimalField(max_digits=10, decimal_places=2))
    def get_balance_ml(self, lot: Lot) -> str:
        ml = (lot.balance_mg / lot.concentration_mg_per_ml).quantize(ML_PLACES, ROUND_HALF_UP)
        return str(ml)

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_expired(self, lot: Lot) -> bool:
        return lot.expiry_date < lot.location.local_now().date()


class LedgerEntrySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    occurred_at = UtcDateTimeField(read_only=True)
    recorded_at = UtcDateTimeField(source="created_at", read_only=True)
    amount_mg = decimal_in(help_text="Signed: receipts add, doses and waste take away.")
    balance_after_mg = decimal_in(help_text="The lot's balance once this entry is applied.")
    counted_mg = decimal_in(allow_null=True, help_text="A count: what was counted.")
    discrepancy_mg = decimal_in(
        allow_null=True, help_text="A count: counted minus what the book expected."
    )
    patient = PatientRefSerializer(read_only=True, allow_null=True)
    session = serializers.UUIDField(
        source="session.public_id",
        read_only=True,
        allow_null=True,
        help_text="The infusion session of a dose or waste.",
    )
    recorded_by = StaffRefSerializer(read_only=True)
    witness = StaffRefSerializer(read_only=True, allow_null=True)
    corrects = serializers.UUIDField(
        source="corrects.public_id",
        read_only=True,
        allow_null=True,
        help_text="The entry this one corrects (an adjustment).",
    )

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "occurred_at",
            "recorded_at",
            "amount_mg",
            "balance_after_mg",
            "counted_mg",
            "discrepancy_mg",
            "patient",
            "session",
            "recorded_by",
            "witness",
            "reason",
            "corrects",
        ]
        read_only_fields = fields


# --- Requests: shapes only; the ledger checks the values ---------------------------------


class LotFilterSerializer(serializers.Serializer):
    location = id_field("location", "/api/v1/locations/", required=False)
    include_empty = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Also list lots that are empty or expired (left out unless true).",
    )


class LotReceiveSerializer(serializers.Serializer):
    """A delivery of one lot of one product to one location."""

    location = id_field("location", "/api/v1/locations/")
    product_name = serializers.CharField(
        max_length=120, help_text="As on the label, e.g. Ketamine HCl injection 50 mg/mL."
    )
    concentration_mg_per_ml = _amount("concentration in mg/mL")
    container_volume_ml = _amount(
        "container size in mL", help_text='One vial\'s volume, e.g. "10" (at most 2 decimals).'
    )
    containers_received = serializers.IntegerField(
        min_value=1, max_value=99_999, help_text="How many containers of this lot arrived."
    )
    lot_number = serializers.CharField(max_length=60)
    expiry_date = date_field("expiry date")
    supplier = serializers.CharField(max_length=150, help_text="The supplier's name.")
    supplier_address = serializers.CharField(max_length=300)
    supplier_dea_number = serializers.CharField(
        max_length=20, help_text="The supplier's DEA registration number, e.g. PS1234563."
    )
    invoice_number = serializers.CharField(max_length=60)
    received_at = UtcDateTimeField(
        required=False, help_text="When the delivery arrived; now if left out."
    )


class WasteSerializer(serializers.Serializer):
    amount_mg = _amount("amount wasted in mg")
    witness = id_field(
        "witness",
        "the staff member's account",
        help_text="The staff id of another nurse or physician who saw the drug destroyed.",
    )
    witness_password = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text="The witness's own password: they confirm by typing it. Too many wrong "
        "ones lock the witness out for a while.",
    )
    witness_otp = cosigner_code_field("witness")
    reason = serializers.CharField(required=False, allow_blank=True, default="")
    occurred_at = UtcDateTimeField(required=False, help_text="When; now if left out.")


class AdjustmentSerializer(serializers.Serializer):
    amount_mg = _amount(
        "adjustment in mg",
        help_text='Signed: positive adds to the balance, negative (e.g. "-5") takes away.',
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why the balance changes (required).",
    )
    corrects = id_field(
        "entry",
        "/api/v1/ledger/lots/<id>/entries/",
        required=False,
        allow_null=True,
        help_text="The entry of this lot that this adjustment corrects, if any.",
    )
    occurred_at = UtcDateTimeField(required=False, help_text="When; now if left out.")


class CountSerializer(serializers.Serializer):
    counted_mg = _amount("amount counted in mg", help_text='What is physically there, e.g. "0".')
    explanation = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when the count differs from the book; the difference is then "
        "booked as an adjustment.",
    )
    occurred_at = UtcDateTimeField(required=False, help_text="When; now if left out.")


class ExportQuerySerializer(serializers.Serializer):
    start = date_field(
        "first day", required=False, help_text="YYYY-MM-DD; 30 days before ``end`` if left out."
    )
    end = date_field(
        "last day", required=False, help_text="YYYY-MM-DD, inclusive; today if left out."
    )


# --- Views -------------------------------------------------------------------------------


class JSONErrorsOnly(BaseContentNegotiation):
    """The export answers CSV itself; anything else it says (400, 403) is JSON, whatever
    the client accepts (a CSV client's Accept header must not turn an error into a 406)."""

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0]

    def select_renderer(
        self, request: Request, renderers: list[Any], format_suffix: str | None = None
    ) -> tuple[Any, str]:
        return renderers[0], renderers[0].media_type


class LedgerAPIView(ScheduleAPIView):
    """Reading needs VIEW_LEDGER (clinic admins too), writing HANDLE_CONTROLLED_SUBSTANCES."""

    read_capability = LEDGER_READ_CAPABILITY
    write_capability = LEDGER_CAPABILITY


class _LotScoped(LedgerAPIView):
    """Views under /ledger/lots/<id>/: the lot through the one access function."""

    def lot(self) -> Lot:
        return lot_for(self.request.user, self.kwargs["lot_id"])


class LotList(LedgerAPIView):
    """The lots in stock, by location and expiry; with ``include_empty=true`` also the empty
    and expired ones. POST receives a delivery: a new lot holding concentration x volume."""

    serializer_class = LotSerializer

    def get_queryset(self) -> QuerySet[Lot]:
        query = self.validated(LotFilterSerializer, data=self.request.query_params)
        lots = lots_visible_to(self.request.user)
        if "location" in query:
            lots = lots.filter(location__public_id=query["location"])
        if not query["include_empty"]:
            lots = lots_in_stock(lots)
        return lots.order_by("location__name", "expiry_date", "received_at", "id")

    @extend_schema(
        parameters=[LotFilterSerializer],
        responses={200: LotSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(LotSerializer(page, many=True).data)

    @extend_schema(
        request=LotReceiveSerializer,
        responses={201: LotSerializer, 400: ERRORS_400, 403: ERRORS_403},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(LotReceiveSerializer)
        location = location_named(request.user, data.pop("location"))
        with field_errors():
            lot = lot_receive(actor=request.user, location=location, request=request, **data)
        return Response(LotSerializer(lot).data, status=status.HTTP_201_CREATED)


class LotDetail(_LotScoped):
    serializer_class = LotSerializer

    @extend_schema(responses={200: LotSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One lot with its balance."""
        return Response(LotSerializer(self.lot()).data)


class LotEntries(_LotScoped):
    serializer_class = LedgerEntrySerializer

    @extend_schema(responses={200: LedgerEntrySerializer(many=True), **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The lot's entries in the order they were recorded, each with the balance after
        it. They name patients: the read is in the audit log."""
        lot = self.lot()
        entries = lot.entries.select_related(
            "recorded_by", "witness", "patient", "session", "corrects"
        ).order_by("created_at", "id")
        page = self.paginate_queryset(entries)
        self.audit_read(
            lot,
            f"read the ketamine lot's entries through the API: page "
            f"{self.paginator.page.number}, {len(page)} shown",
        )
        return self.get_paginated_response(LedgerEntrySerializer(page, many=True).data)


class LotWaste(_LotScoped):
    serializer_class = LedgerEntrySerializer

    @extend_schema(
        request=WasteSerializer,
        responses={201: LedgerEntrySerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record drug destroyed from this lot, seen by a witness (another nurse or
        physician) who confirms with their own password."""
        lot = self.lot()
        data = self.validated(WasteSerializer)
        with field_errors():
            entry = ledger_waste(
                actor=request.user,
                lot=lot,
                amount_mg=data["amount_mg"],
                witness=_staff_named(data["witness"]),
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                reason=data["reason"],
                occurred_at=data.get("occurred_at"),
                request=request,
            )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class LotAdjustments(_LotScoped):
    serializer_class = LedgerEntrySerializer

    @extend_schema(
        request=AdjustmentSerializer,
        responses={201: LedgerEntrySerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move the lot's balance up or down for a stated reason; naming ``corrects`` makes
        it the correction of a mistaken entry (which itself stays as it was)."""
        lot = self.lot()
        data = self.validated(AdjustmentSerializer)
        with field_errors():
            entry = ledger_adjust(
                actor=request.user,
                lot=lot,
                amount_mg=data["amount_mg"],
                reason=data["reason"],
                corrects=_entry_named(data.get("corrects")),
                occurred_at=data.get("occurred_at"),
                request=request,
            )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class LotCounts(_LotScoped):
    serializer_class = LedgerEntrySerializer

    @extend_schema(
        request=CountSerializer,
        responses={201: LedgerEntrySerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a count of the lot. A difference from the book must be explained and is
        then booked as an adjustment correcting the count (see the lot's entries)."""
        lot = self.lot()
        data = self.validated(CountSerializer)
        with field_errors():
            entry = ledger_count(
                actor=request.user,
                lot=lot,
                counted_mg=data["counted_mg"],
                explanation=data["explanation"],
                occurred_at=data.get("occurred_at"),
                request=request,
            )
        return Response(LedgerEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class LedgerExport(LedgerAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsOnly
    pagination_class = None

    @extend_schema(
        operation_id="ledger_export_csv",
        parameters=[ExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="Every ledger record from start to end (each location's own "
                "dates), as CSV. It names patients; the export is in the audit log.",
            ),
            **LIST_ERRORS,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """Every ledger record of a date range as CSV, for inspections (audited)."""
        query = self.validated(ExportQuerySerializer, data=request.query_params)
        end = query.get("end") or timezone.localdate()
        start = query.get("start") or end - timedelta(days=EXPORT_DAYS)
        with field_errors():
            content = ledger_csv(start=start, end=end)
        return csv_download(request, content, start, end)


def _staff_named(staff_id: uuid.UUID) -> User:
    witness = User.objects.filter(public_id=staff_id).first()
    if witness is None:
        raise refused(
            "witness",
            "There is no member of staff with that id: give the witness's own staff id "
            "(theirs at /api/v1/me/).",
        )
    return witness


def _entry_named(entry_id: uuid.UUID | None) -> LedgerEntry | None:
    if entry_id is None:
        return None
    entry = LedgerEntry.objects.filter(public_id=entry_id).first()
    if entry is None:
        raise refused(
            "corrects",
            "There is no ledger entry with that id: take it from the lot's entries.",
        )
    return entry


lot_path = "ledger/lots/<uuid:lot_id>/"

urlpatterns = [
    path("ledger/lots/", LotList.as_view(), name="ledger-lot-list"),
    path(lot_path, LotDetail.as_view(), name="ledger-lot-detail"),
    path(f"{lot_path}entries/", LotEntries.as_view(), name="ledger-lot-entries"),
    path(f"{lot_path}waste/", LotWaste.as_view(), name="ledger-lot-waste"),
    path(f"{lot_path}adjustments/", LotAdjustments.as_view(), name="ledger-lot-adjustments"),
    path(f"{lot_path}counts/", LotCounts.as_view(), name="ledger-lot-counts"),
    path("ledger/export.csv", LedgerExport.as_view(), name="ledger-export"),
]
