"""What an ``OPTIONS`` request to the API answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import reverse
from rest_framework.metadata import BaseMetadata
from rest_framework.request import Request

if TYPE_CHECKING:  # rest_framework.views imports this module while it loads
    from rest_framework.views import APIView


class ApiMetadata(BaseMetadata):
    """The view's name, its methods and formats, and where the schema is.

    DRF's ``SimpleMetadata`` also describes the fields each ``PUT``/``POST`` takes, by
    fetching the object (``get_object``) and building the serializer without the view's own
    arguments: our views load their objects through access-checked, audited selectors, so
    that answered 500 on several of them, and would read a patient's record unaudited on the
    rest. The OpenAPI schema describes every field, for every operation, already.
    """

    def determine_metadata(self, request: Request, view: APIView) -> dict[str, Any]:
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "allowed_methods": view.allowed_methods,
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
            "schema": reverse("api-schema"),
        }
