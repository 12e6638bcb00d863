"""Read-only API for locations: details, weekly opening hours, upcoming closures and the
chairs in use. Ids are the public UUIDs the staff pages use too."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import generics, serializers

from clinic.api.permissions import capability_permission
from clinic.models import Chair, Closure, Location, OpeningHours
from clinic.permissions import Capability
from clinic.selectors import (
    location_upcoming_closures,
    locations_visible_to,
    with_hours_closures_and_chairs,
)


class OpeningHoursSerializer(serializers.ModelSerializer):
    weekday_name = serializers.CharField(source="get_weekday_display", read_only=True)

    class Meta:
        model = OpeningHours
        fields = ["weekday", "weekday_name", "opens_at", "closes_at"]
        read_only_fields = fields


class ClosureSerializer(serializers.ModelSerializer):
    class Meta:
        model = Closure
        fields = ["starts_on", "ends_on", "reason"]
        read_only_fields = fields


class ChairSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = Chair
        fields = ["id", "name"]
        read_only_fields = fields


class LocationSerializer(serializers.ModelSerializer):
    """A location. Opening hours are local times in ``time_zone``; weekday 0 is Monday and
    a weekday missing from ``opening_hours`` is closed all day."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    opening_hours = OpeningHoursSerializer(many=True, read_only=True)
    upcoming_closures = serializers.SerializerMethodField()
    chairs = ChairSerializer(source="active_chairs", many=True, read_only=True)
    # Not declared `format: email`: a location without one on file answers "".
    email = serializers.CharField(read_only=True, help_text="Email address, or empty if none.")

    class Meta:
        model = Location
        fields = [
            "id",
            "name",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "phone",
            "email",
            "time_zone",
            "is_active",
            "opening_hours",
            "upcoming_closures",
            "chairs",
        ]
        read_only_fields = fields

    @extend_schema_field(ClosureSerializer(many=True))
    def get_upcoming_closures(self, location: Location) -> list[dict[str, Any]]:
        # Closures ending today or later in the location's own time zone.
        return ClosureSerializer(location_upcoming_closures(location), many=True).data


class _LocationAPIView(generics.GenericAPIView):
    permission_classes = [capability_permission(Capability.VIEW_LOCATIONS)]
    serializer_class = LocationSerializer
    lookup_field = "public_id"
    lookup_url_kwarg = "location_id"

    def get_queryset(self) -> QuerySet[Location]:
        # The same access rule as the staff pages: clinic.selectors.locations_visible_to.
        locations = locations_visible_to(self.request.user)
        return with_hours_closures_and_chairs(locations).order_by("name")


class LocationList(_LocationAPIView, generics.ListAPIView):
    """Locations you may see, by name: the active ones, and deactivated ones for clinic admins.

    Each comes with its weekly opening hours, upcoming closures and the chairs in use."""


class LocationDetail(_LocationAPIView, generics.RetrieveAPIView):
    """One location by its id, with its weekly opening hours, upcoming closures and chairs."""
