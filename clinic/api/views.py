"""The API's base view for capability-checked endpoints, and the signed-in member's view."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.api.pagination import page_said
from clinic.api.permissions import capability_permission
from clinic.api.serializers import MeSerializer
from clinic.audit import Action, audit_record
from clinic.permissions import Capability


class MeView(APIView):
    """The signed-in staff member: a cheap way for an integration to check its token."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        return Response(MeSerializer(request.user).data)


class CapabilityAPIView(generics.GenericAPIView):
    """Reads need ``read_capability``; writes ``write_capability``."""

    read_capability: Capability
    write_capability: Capability

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in SAFE_METHODS:
            return [capability_permission(self.read_capability)()]
        return [capability_permission(self.write_capability)()]

    def validated(
        self, serializer_class: type[serializers.Serializer], data: Any = None
    ) -> dict[str, Any]:
        """``data`` (the request body unless given) in the shape ``serializer_class``
        describes, or a 400."""
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def audit_read(self, target: Any, summary: str, *, object_type: str = "") -> None:
        audit_record(
            actor=self.request.user,
            action=Action.VIEW,
            target=target,
            object_type=object_type,
            summary=summary,
            request=self.request,
        )

    def audited_page(self, model: type, what: str) -> Response:
        """One page of ``get_queryset()`` through ``get_serializer``, its read audited:
        the GET of a list of patient data."""
        page = self.paginate_queryset(self.get_queryset())
        self.audit_list_read(model, what, len(page))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def audit_list_read(self, model: type, what: str, shown: int) -> None:
        self.audit_read(
            None,
            f"read the {what} through the API: {page_said(self.paginator)}, {shown} shown",
            object_type=model._meta.label_lower,
        )
