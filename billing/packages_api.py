"""Packages in the API, included in /api/v1/ (namespace "api"): the package offers with their
prices (/package-offers/), and a patient's packages with what is used and left
(/patients/<id>/packages/). Read-only, for the staff who see the books (the front desk and
clinic admins), as on the pages; selling goes through the billing pages."""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from billing.models import PackageOffer, PackagePrice, PatientPackage
from billing.package_selectors import offers_with_prices, patient_packages
from billing.selectors import billing_patient_for
from clinic.api.permissions import capability_permission
from clinic.audit import Action, audit_record
from clinic.permissions import Capability
from patients.models import Patient
from scheduling.models import AppointmentKind


class PackagePriceSerializer(serializers.ModelSerializer):
    class Meta:
        model = PackagePrice
        fields = ["effective_from", "amount"]
        read_only_fields = fields


class PackageOfferSerializer(serializers.ModelSerializer):
    """A package offer. ``locations`` lists where it is sold (empty: every location);
    ``price`` is today's (null before its first price); ``prices`` are all of them, newest
    first. Amounts are in the clinic's currency, as decimal strings."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    type = serializers.ChoiceField(
        source="appointment_type.kind", choices=AppointmentKind.choices, read_only=True
    )
    type_name = serializers.CharField(source="appointment_type.name", read_only=True)
    locations = serializers.SerializerMethodField()
    price = serializers.DecimalField(
        max_digits=10, decimal_places=2, read_only=True, allow_null=True
    )
    prices = PackagePriceSerializer(source="prices_newest_first", many=True, read_only=True)
    on_sale = serializers.SerializerMethodField()

    class Meta:
        model = PackageOffer
        fields = [
            "id",
            "name",
            "type",
            "type_name",
            "visits",
            "locations",
            "price",
            "prices",
            "on_sale",
            "retired_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.UUIDField()))
    def get_locations(self, offer: PackageOffer) -> list[str]:
        return [str(location.public_id) for location in offer.locations.all()]

    @extend_schema_field(serializers.BooleanField())
    def get_on_sale(self, offer: PackageOffer) -> bool:
        return offer.retired_at is None


class PatientPackageSerializer(serializers.ModelSerializer):
    """A package sold to the patient: ``visits`` bought, ``used`` (visits covered that stand)
    and ``left``; ``status`` is "active" (visits left), "used_up", or "void" (its sale invoice
    was voided: it covers no visit)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    offer = serializers.UUIDField(source="offer.public_id", read_only=True)
    type = serializers.ChoiceField(
        source="offer.appointment_type.kind", choices=AppointmentKind.choices, read_only=True
    )
    location = serializers.UUIDField(source="location.public_id", read_only=True)
    invoice = serializers.UUIDField(source="invoice.public_id", read_only=True)
    invoice_number = serializers.IntegerField(source="invoice.number", read_only=True)
    used = serializers.IntegerField(read_only=True)
    left = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = PatientPackage
        fields = [
            "id",
            "name",
            "offer",
            "type",
            "visits",
            "used",
            "left",
            "status",
            "price",
            "location",
            "invoice",
            "invoice_number",
            "sold_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField())
    def get_left(self, package: PatientPackage) -> int:
        return 0 if package.invoice.status == "void" else package.left

    @extend_schema_field(serializers.ChoiceField(choices=["active", "used_up", "void"]))
    def get_status(self, package: PatientPackage) -> str:
        if package.invoice.status == "void":
            return "void"
        return "active" if package.left > 0 else "used_up"


class _BooksReader(generics.ListAPIView):
    def get_permissions(self) -> list[BasePermission]:
        return [capability_permission(Capability.VIEW_BILLING)()]


class PackageOfferList(_BooksReader):
    """The package offers, on sale first, then by name."""

    serializer_class = PackageOfferSerializer

    def get_queryset(self) -> QuerySet[PackageOffer]:
        newest_first = Prefetch(
            "prices",
            queryset=PackagePrice.objects.order_by("-effective_from"),
            to_attr="prices_newest_first",
        )
        return (
            offers_with_prices(PackageOffer.objects.all(), timezone.localdate())
            .prefetch_related(newest_first)
            .order_by("retired_at", "name", "id")
        )


class PatientPackageList(_BooksReader):
    """The patient's packages, oldest first (the order visits use them)."""

    serializer_class = PatientPackageSerializer

    def patient(self) -> Patient:
        if not hasattr(self, "_patient"):
            self._patient = billing_patient_for(self.request.user, self.kwargs["patient_id"])
        return self._patient

    def get_queryset(self) -> QuerySet[PatientPackage]:
        return patient_packages(self.patient())

    @extend_schema(summary="A patient's packages")
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        audit_record(
            actor=request.user,
            action=Action.VIEW,
            target=self.patient(),
            summary="read the patient's packages through the API",
            request=request,
        )
        return response


urlpatterns = [
    path("package-offers/", PackageOfferList.as_view(), name="package-offer-list"),
    path(
        "patients/<uuid:patient_id>/packages/",
        PatientPackageList.as_view(),
        name="patient-package-list",
    ),
]
