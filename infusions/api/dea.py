"""The DEA records' API: /api/v1/dea/ (read by nurses, physicians and clinic admins, as the
ledger is; written by nurses and physicians, who handle the drug).

- ``registrations/``: each location's DEA registrations, latest first;
- ``receipts/``: the deliveries received (each lot's receipt, with what 21 CFR 1304.22(c)
  asks), by location and dates; a delivery is recorded at ``/api/v1/ledger/lots/`` (POST);
- ``inventories/``: the inventories taken, each with its lots' counts; POST takes one (every
  lot at the location counted, a witness confirming with their own password);
- ``destructions/``: stock destroyed (DEA Form 41); POST records one, with two witnesses;
- ``loss-incidents/``: thefts and significant losses with the DEA notice's due time and the
  reports made; POST records one, which starts the one-business-day clock; ``<id>/steps/``
  records the field-office notice and then Form 106 (the registrant or a clinic admin);
- ``inspection.csv``: the inspection report of a location and period as CSV (the registrant
  physician and clinic admins; audited as an EXPORT).

Every write goes through the service the staff pages use (``infusions.inventories``,
``destruction``, ``losses``), whose refusals answer 400, keyed by field, with nothing saved.
Nothing here is edited or deleted (no PUT, PATCH or DELETE: 405).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    ERRORS_400,
    ERRORS_403,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    api_errors,
    field_errors,
    refused,
)
from clinic.api.fields import UtcDateTimeField, date_field, id_field
from clinic.api.serializers import cosigner_code_field
from clinic.models import User
from clinic.permissions import Capability
from clinic.selectors import locations_visible_to
from infusions.api.ledger import (
    EXPORT_DAYS,
    JSONErrorsOnly,
    LedgerAPIView,
    LotSerializer,
    StaffRefSerializer,
    _amount,
    _staff_named,
    decimal_in,
)
from infusions.dea import registrations_visible_to
from infusions.destruction import lot_destroy
from infusions.inventories import inventory_take
from infusions.ledger_reports import inspection_report
from infusions.losses import loss_incident_report, loss_incident_step, notice_due_by
from infusions.models import (
    Destruction,
    Inventory,
    LedgerEntry,
    LossIncident,
    LossIncidentStep,
)
from infusions.models.dea import DestructionMethod, InventoryTime, LossKind, LossStep
from infusions.selectors import lot_for, lots_visible_to
from infusions.views.inspection import (
    INSPECTION_CAPABILITY,
    audit_inspection,
    inspection_download,
)
from scheduling.api.common import LocationRefSerializer, location_named

LOCATIONS = "/api/v1/locations/"
LOTS = "/api/v1/ledger/lots/"
STAFF = "the staff member's account (their id at /api/v1/me/)"


def _password(who: str) -> serializers.CharField:
    return serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        default="",
        trim_whitespace=False,
        style={"input_type": "password"},
        help_text=f"The {who}'s own password: they confirm by typing it. Too many wrong ones "
        "lock them out for a while.",
    )


# --- Responses -------------------------------------------------------------------------------


class LotRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    lot_number = serializers.CharField(read_only=True)
    product_name = serializers.CharField(read_only=True)


class DeaRegistrationSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    location = LocationRefSerializer(read_only=True)
    number = serializers.CharField(read_only=True, help_text="The DEA registration number.")
    registrant = StaffRefSerializer(read_only=True, help_text="The physician who holds it.")
    expires_on = serializers.DateField(read_only=True)
    recorded_by = StaffRefSerializer(read_only=True)
    recorded_at = UtcDateTimeField(read_only=True)


class InventoryCountSerializer(serializers.Serializer):
    lot = LotRefSerializer(read_only=True)
    counted_mg = decimal_in(help_text="What was counted in the lot.")
    discrepancy_mg = decimal_in(
        help_text="Counted minus the book; a difference is booked as an adjustment."
    )
    explanation = serializers.CharField(source="reason", read_only=True)


class InventorySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    location = LocationRefSerializer(read_only=True)
    is_initial = serializers.BooleanField(read_only=True)
    taken_at = UtcDateTimeField(read_only=True)
    time_of_day = serializers.ChoiceField(choices=InventoryTime.choices, read_only=True)
    counted_by = StaffRefSerializer(read_only=True)
    witness = StaffRefSerializer(read_only=True)
    recorded_at = UtcDateTimeField(read_only=True)
    counts = InventoryCountSerializer(many=True, read_only=True)


class DestructionSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    lot = LotRefSerializer(source="entry.lot", read_only=True)
    entry = serializers.UUIDField(
        source="entry.public_id", read_only=True, help_text="Its entry in the lot's ledger."
    )
    occurred_at = UtcDateTimeField(source="entry.occurred_at", read_only=True)
    amount_mg = serializers.SerializerMethodField(help_text="The amount destroyed, in mg.")
    containers = serializers.IntegerField(read_only=True)
    method = serializers.ChoiceField(choices=DestructionMethod.choices, read_only=True)
    reason = serializers.CharField(read_only=True)
    reverse_distributor = serializers.CharField(read_only=True)
    reverse_distributor_address = serializers.CharField(read_only=True)
    reverse_distributor_dea_number = serializers.CharField(read_only=True)
    on_site_method = serializers.CharField(read_only=True)
    recorded_by = StaffRefSerializer(source="entry.recorded_by", read_only=True)
    witness = StaffRefSerializer(source="entry.witness", read_only=True)
    second_witness = StaffRefSerializer(read_only=True)

    @extend_schema_field(serializers.DecimalField(max_digits=12, decimal_places=3))
    def get_amount_mg(self, destruction: Destruction) -> str:
        return str(-destruction.entry.amount_mg)


class LossStepSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=LossStep.choices, read_only=True)
    done_at = UtcDateTimeField(read_only=True)
    reference = serializers.CharField(read_only=True)
    recorded_by = StaffRefSerializer(read_only=True)


class LossIncidentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    location = LocationRefSerializer(read_only=True)
    kind = serializers.ChoiceField(choices=LossKind.choices, read_only=True)
    discovered_at = UtcDateTimeField(read_only=True)
    description = serializers.CharField(read_only=True)
    lot = LotRefSerializer(read_only=True, allow_null=True)
    amount_mg = decimal_in(allow_null=True, help_text="The amount missing, when known.")
    reported_by = StaffRefSerializer(read_only=True)
    recorded_at = UtcDateTimeField(read_only=True)
    notice_due_by = serializers.SerializerMethodField(
        help_text="When the written notice to the DEA field office is due: the end of the "
        "business day after the discovery, on the location's clock."
    )
    open = serializers.SerializerMethodField(help_text="True until DEA Form 106 is filed.")
    steps = LossStepSerializer(many=True, read_only=True)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_notice_due_by(self, incident: LossIncident) -> str:
        return UtcDateTimeField().to_representation(notice_due_by(incident))

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_open(self, incident: LossIncident) -> bool:
        return not any(step.step == LossStep.FORM_106_FILED for step in incident.steps.all())


# --- Requests ----------------------------------------------------------------------------------


class LocationFilterSerializer(serializers.Serializer):
    location = id_field("location", LOCATIONS, required=False)


class ReceiptFilterSerializer(LocationFilterSerializer):
    start = date_field("first day", required=False, help_text="Received on or after (UTC).")
    end = date_field("last day", required=False, help_text="Received on or before (UTC).")


class LotCountSerializer(serializers.Serializer):
    lot = id_field("lot", LOTS)
    counted_mg = _amount("amount counted in mg", help_text='What is physically there, e.g. "0".')
    explanation = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Required when the count differs from the book.",
    )


class InventoryTakeSerializer(serializers.Serializer):
    """An inventory of every lot at a location with drug left (expired or not)."""

    location = id_field("location", LOCATIONS)
    time_of_day = serializers.ChoiceField(
        choices=InventoryTime.choices,
        error_messages={
            "invalid_choice": "Say whether the count is as of the opening "
            '("opening") or the close of business ("close_of_business").'
        },
    )
    counts = LotCountSerializer(
        many=True,
        help_text="One count for every lot at the location with drug left "
        f"({LOTS}?location=…&include_empty=true lists them); an empty list when there is none.",
    )
    witness = id_field("witness", STAFF, help_text="Another nurse or physician who counted.")
    witness_password = _password("witness")
    witness_otp = cosigner_code_field("witness")
    taken_at = UtcDateTimeField(required=False, help_text="When it was counted; now if left out.")


class DestructionRequestSerializer(serializers.Serializer):
    lot = id_field("lot", LOTS)
    amount_mg = _amount("amount destroyed in mg")
    containers = serializers.IntegerField(
        min_value=1, max_value=99_999, help_text="Containers (vials), whole or partial."
    )
    reason = serializers.CharField(max_length=300, help_text="Why, e.g. expired or vial broken.")
    method = serializers.ChoiceField(
        choices=DestructionMethod.choices,
        error_messages={
            "invalid_choice": 'Choose "reverse_distributor" or "on_site".',
        },
    )
    reverse_distributor = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=150
    )
    reverse_distributor_address = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=300
    )
    reverse_distributor_dea_number = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=20
    )
    on_site_method = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=300,
        help_text="On site: how it was made non-retrievable.",
    )
    witness = id_field("witness", STAFF)
    witness_password = _password("witness")
    witness_otp = cosigner_code_field("witness")
    second_witness = id_field("second witness", STAFF)
    second_witness_password = _password("second witness")
    second_witness_otp = cosigner_code_field("second witness")
    occurred_at = UtcDateTimeField(required=False, help_text="When; now if left out.")


class LossIncidentRequestSerializer(serializers.Serializer):
    location = id_field("location", LOCATIONS)
    kind = serializers.ChoiceField(
        choices=LossKind.choices,
        error_messages={
            "invalid_choice": 'Choose "theft", "significant_loss" or "in_transit".',
        },
    )
    discovered_at = UtcDateTimeField(required=False, help_text="When; now if left out.")
    description = serializers.CharField(help_text="What is missing and how it was found.")
    lot = id_field("lot", LOTS, required=False, allow_null=True)
    amount_mg = _amount("amount missing in mg", required=False, allow_null=True)


class LossStepRequestSerializer(serializers.Serializer):
    step = serializers.ChoiceField(
        choices=LossStep.choices,
        error_messages={
            "invalid_choice": 'Choose "field_office_notified" or "form_106_filed".',
        },
    )
    reference = serializers.CharField(
        max_length=200,
        help_text="To whom and how the notice was sent, or Form 106's confirmation number.",
    )
    done_at = UtcDateTimeField(required=False, help_text="When; now if left out.")


class InspectionQuerySerializer(serializers.Serializer):
    location = id_field("location", LOCATIONS)
    start = date_field(
        "first day", required=False, help_text="YYYY-MM-DD; 30 days before ``end`` if left out."
    )
    end = date_field(
        "last day", required=False, help_text="YYYY-MM-DD, inclusive; today if left out."
    )


# --- Views -------------------------------------------------------------------------------------


class _Located(LedgerAPIView):
    """Lists filtered by ``?location=`` (a location the user may see)."""

    def located(self, records: QuerySet, field: str = "location") -> QuerySet:
        query = self.validated(LocationFilterSerializer, data=self.request.query_params)
        if "location" in query:
            location = location_named(self.request.user, query["location"])
            records = records.filter(**{field: location})
        return records


class RegistrationList(_Located):
    serializer_class = DeaRegistrationSerializer

    @extend_schema(
        parameters=[LocationFilterSerializer],
        responses={200: DeaRegistrationSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Each location's DEA registrations, latest first: the latest recorded is the one
        that counts (a renewal is a new registration)."""
        registrations = self.located(registrations_visible_to(request.user)).order_by(
            "location__name", "-recorded_at", "-id"
        )
        page = self.paginate_queryset(registrations)
        return self.get_paginated_response(DeaRegistrationSerializer(page, many=True).data)


class ReceiptList(_Located):
    serializer_class = LotSerializer

    @extend_schema(
        parameters=[ReceiptFilterSerializer],
        responses={200: LotSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Deliveries received, newest first: each lot's supplier (name, address, DEA
        number), product, strength, containers and the date received."""
        query = self.validated(ReceiptFilterSerializer, data=request.query_params)
        lots = self.located(lots_visible_to(request.user))
        if "start" in query:
            lots = lots.filter(received_at__date__gte=query["start"])
        if "end" in query:
            lots = lots.filter(received_at__date__lte=query["end"])
        page = self.paginate_queryset(lots.order_by("-received_at", "-id"))
        return self.get_paginated_response(LotSerializer(page, many=True).data)


class InventoryList(_Located):
    serializer_class = InventorySerializer

    @extend_schema(
        parameters=[LocationFilterSerializer],
        responses={200: InventorySerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """The inventories taken, newest first, each with every lot's count."""
        inventories = self.located(_inventories(request.user)).order_by("-taken_at", "-id")
        page = self.paginate_queryset(inventories)
        return self.get_paginated_response(InventorySerializer(page, many=True).data)

    @extend_schema(
        request=InventoryTakeSerializer,
        responses={201: InventorySerializer, 400: ERRORS_400, 403: ERRORS_403},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take an inventory: a count of every lot at the location with drug left, signed by
        a witness with their own password. A difference from the book must be explained and
        is booked as an adjustment. All of it is saved, or nothing."""
        data = self.validated(InventoryTakeSerializer)
        location = location_named(request.user, data["location"])
        counts, explanations = {}, {}
        for count in data["counts"]:
            lot = _lot_at(request.user, count["lot"], location, "counts")
            counts[lot] = count["counted_mg"]
            explanations[lot] = count["explanation"]
        try:
            inventory = inventory_take(
                actor=request.user,
                location=location,
                time_of_day=data["time_of_day"],
                counts=counts,
                explanations=explanations,
                witness=_staff_named(data["witness"]),
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                taken_at=data.get("taken_at"),
                devices_counted=False,  # counted_mg, whatever the lot
                request=request,
            )
        except ValidationError as error:
            raise api_errors(_lot_errors_as_counts(error)) from None
        inventory = _inventories(request.user).get(pk=inventory.pk)
        return Response(InventorySerializer(inventory).data, status=status.HTTP_201_CREATED)


def _inventories(user: Any) -> QuerySet[Inventory]:
    counts = LedgerEntry.objects.select_related("lot").order_by(
        "lot__expiry_date", "lot__received_at", "lot_id"
    )
    return (
        Inventory.objects.filter(location__in=locations_visible_to(user))
        .select_related("location", "counted_by", "witness")
        .prefetch_related(Prefetch("counts", queryset=counts))
    )


def _lot_errors_as_counts(error: ValidationError) -> ValidationError:
    """The service keys each lot's problem by a field of the staff page's form
    (``count_<lot>``, ``explain_<lot>``); here they are all under ``counts`` (each message
    names its lot)."""
    errors: dict[str, list[str]] = {}
    for field, messages in error.message_dict.items():
        key = "counts" if field.startswith(("count_", "explain_")) else field
        errors.setdefault(key, []).extend(messages)
    return ValidationError(errors)


class InventoryDetail(LedgerAPIView):
    serializer_class = InventorySerializer

    @extend_schema(responses={200: InventorySerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One inventory with every lot's count."""
        inventory = _inventories(request.user).filter(public_id=kwargs["inventory_id"]).first()
        if inventory is None:
            raise Http404("No such inventory.")
        return Response(InventorySerializer(inventory).data)


def _lot_at(user: Any, lot_id: uuid.UUID, location: Any, field: str) -> Any:
    """The lot ``user`` may see, which must be stock of ``location``; else a 400 on ``field``."""
    lot = lots_visible_to(user).filter(public_id=lot_id).first()
    if lot is None:
        raise refused(field, f"There is no lot with the id {lot_id}: take it from {LOTS}.")
    if lot.location_id != location.pk:
        raise refused(
            field, f"Lot {lot.lot_number} is stock of another location: name lots of this one."
        )
    return lot


class DestructionList(_Located):
    serializer_class = DestructionSerializer

    def destructions(self) -> QuerySet[Destruction]:
        return Destruction.objects.filter(
            entry__lot__location__in=locations_visible_to(self.request.user)
        ).select_related("entry__lot", "entry__recorded_by", "entry__witness", "second_witness")

    @extend_schema(
        parameters=[LocationFilterSerializer],
        responses={200: DestructionSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stock destroyed or handed to a reverse distributor, newest first, with what DEA
        Form 41 asks and both witnesses."""
        destructions = self.located(self.destructions(), "entry__lot__location").order_by(
            "-entry__occurred_at", "-id"
        )
        page = self.paginate_queryset(destructions)
        return self.get_paginated_response(DestructionSerializer(page, many=True).data)

    @extend_schema(
        request=DestructionRequestSerializer,
        responses={201: DestructionSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Destroy stock of a lot (expired, damaged, contaminated): the amount leaves the lot
        as a ``destroyed`` entry, seen by two witnesses, each confirming with their own
        password. By a reverse distributor (its name, address and DEA number) or on site
        (how it was made non-retrievable)."""
        data = self.validated(DestructionRequestSerializer)
        lot = lot_for(request.user, data.pop("lot"))
        data["witness"] = _staff_named(data["witness"])
        second = User.objects.filter(public_id=data["second_witness"]).first()
        if second is None:
            raise refused(
                "second_witness",
                "There is no member of staff with that id: give the second witness's own "
                "staff id (theirs at /api/v1/me/).",
            )
        data["second_witness"] = second
        with field_errors():
            destruction = lot_destroy(actor=request.user, lot=lot, request=request, **data)
        destruction = self.destructions().get(pk=destruction.pk)
        return Response(DestructionSerializer(destruction).data, status=status.HTTP_201_CREATED)


def _incidents(user: Any) -> QuerySet[LossIncident]:
    steps = LossIncidentStep.objects.select_related("recorded_by").order_by("done_at", "id")
    return (
        LossIncident.objects.filter(location__in=locations_visible_to(user))
        .select_related("location", "lot", "reported_by")
        .prefetch_related(Prefetch("steps", queryset=steps))
    )


class LossIncidentList(_Located):
    serializer_class = LossIncidentSerializer

    @extend_schema(
        parameters=[LocationFilterSerializer],
        responses={200: LossIncidentSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Thefts and significant losses, newest first, with when the DEA field office's
        written notice is due and the reports made (open until Form 106 is filed)."""
        incidents = self.located(_incidents(request.user)).order_by("-discovered_at", "-id")
        page = self.paginate_queryset(incidents)
        return self.get_paginated_response(LossIncidentSerializer(page, many=True).data)

    @extend_schema(
        request=LossIncidentRequestSerializer,
        responses={201: LossIncidentSerializer, 400: ERRORS_400, 403: ERRORS_403},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Report a theft or significant loss. This starts the clock: the registrant must
        notify the DEA field office in writing by ``notice_due_by``, then file DEA Form 106.
        The missing drug itself is booked in the ledger by a count or an adjustment."""
        data = self.validated(LossIncidentRequestSerializer)
        location = location_named(request.user, data["location"])
        lot = None
        if data.get("lot"):
            lot = _lot_at(request.user, data["lot"], location, "lot")
        with field_errors():
            incident = loss_incident_report(
                actor=request.user,
                location=location,
                kind=data["kind"],
                discovered_at=data.get("discovered_at"),
                description=data["description"],
                lot=lot,
                amount_mg=data.get("amount_mg"),
                request=request,
            )
        incident = _incidents(request.user).get(pk=incident.pk)
        return Response(LossIncidentSerializer(incident).data, status=status.HTTP_201_CREATED)


class LossIncidentDetail(LedgerAPIView):
    serializer_class = LossIncidentSerializer

    @extend_schema(responses={200: LossIncidentSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One theft or loss with the reports made."""
        incident = _incidents(request.user).filter(public_id=kwargs["incident_id"]).first()
        if incident is None:
            raise Http404("No such incident.")
        return Response(LossIncidentSerializer(incident).data)


class LossIncidentSteps(LedgerAPIView):
    """Recording a report made about an incident: the location's registrant (a physician)
    or a clinic admin. Anyone who reads the ledger reaches the incident; the service refuses
    the others (403) once it has it."""

    write_capability = Capability.VIEW_LEDGER
    serializer_class = LossIncidentSerializer

    @extend_schema(
        request=LossStepRequestSerializer,
        responses={201: LossIncidentSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the written notice to the DEA field office, then the filing of DEA Form
        106, which closes the incident."""
        incident = _incidents(request.user).filter(public_id=kwargs["incident_id"]).first()
        if incident is None:
            raise Http404("No such incident.")
        data = self.validated(LossStepRequestSerializer)
        with field_errors():
            loss_incident_step(
                actor=request.user,
                incident=incident,
                step=data["step"],
                reference=data["reference"],
                done_at=data.get("done_at"),
                request=request,
            )
        incident = _incidents(request.user).get(pk=incident.pk)
        return Response(LossIncidentSerializer(incident).data, status=status.HTTP_201_CREATED)


class InspectionExport(LedgerAPIView):
    """The inspection report names patients and their addresses: for the registrant
    physician and clinic admins only."""

    read_capability = INSPECTION_CAPABILITY
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONErrorsOnly
    pagination_class = None

    @extend_schema(
        operation_id="dea_inspection_csv",
        parameters=[InspectionQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR,
                description="The location's DEA inspection report from start to end (its own "
                "dates) as CSV: receipts, doses with the patient's name and address, waste, "
                "destruction, adjustments, inventories, thefts or losses, and each lot's "
                "running balance. The export is in the audit log.",
            ),
            **LIST_ERRORS,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """A location's DEA inspection report as CSV (audited as an export)."""
        query = self.validated(InspectionQuerySerializer, data=request.query_params)
        location = location_named(request.user, query["location"])
        end = query.get("end") or location.local_now().date()
        start = query.get("start") or end - timedelta(days=EXPORT_DAYS)
        with field_errors():
            report = inspection_report(location=location, start=start, end=end)
        audit_inspection(request, report, "CSV, API")
        return inspection_download(report)


urlpatterns = [
    path("dea/registrations/", RegistrationList.as_view(), name="dea-registration-list"),
    path("dea/receipts/", ReceiptList.as_view(), name="dea-receipt-list"),
    path("dea/inventories/", InventoryList.as_view(), name="dea-inventory-list"),
    path(
        "dea/inventories/<uuid:inventory_id>/",
        InventoryDetail.as_view(),
        name="dea-inventory-detail",
    ),
    path("dea/destructions/", DestructionList.as_view(), name="dea-destruction-list"),
    path("dea/loss-incidents/", LossIncidentList.as_view(), name="dea-loss-incident-list"),
    path(
        "dea/loss-incidents/<uuid:incident_id>/",
        LossIncidentDetail.as_view(),
        name="dea-loss-incident-detail",
    ),
    path(
        "dea/loss-incidents/<uuid:incident_id>/steps/",
        LossIncidentSteps.as_view(),
        name="dea-loss-incident-steps",
    ),
    path("dea/inspection.csv", InspectionExport.as_view(), name="dea-inspection-csv"),
]
