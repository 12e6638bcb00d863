"""Errors in the API: the error responses each view declares in the schema, and turning a
service's ValidationError into a 400 keyed by the API's field names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions

# Services name a few fields as the models do; the API names them as its requests do.
_API_FIELD_NAMES = {"appointment_type": "type", NON_FIELD_ERRORS: "non_field_errors"}

# --- Errors in the schema ---------------------------------------------------------------------

ERRORS_400 = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Nothing was saved. Messages saying what to fix, keyed by field or "
    'parameter: {"field": ["message"]}.',
)
PARAMETERS_400 = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="A parameter is wrong: messages saying what to fix, keyed by parameter: "
    '{"parameter": ["message"]}.',
)
ERRORS_403 = OpenApiResponse(OpenApiTypes.OBJECT, description="Your role does not allow this.")
ERRORS_404 = OpenApiResponse(OpenApiTypes.OBJECT, description="There is no such record.")
READ_ERRORS = {403: ERRORS_403, 404: ERRORS_404}
LIST_ERRORS = {400: PARAMETERS_400, 403: ERRORS_403}
WRITE_ERRORS = {400: ERRORS_400, 403: ERRORS_403, 404: ERRORS_404}


def api_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A service's ValidationError as a 400 keyed by the API's field names."""
    if not hasattr(exc, "error_dict"):
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    return exceptions.ValidationError(
        {_API_FIELD_NAMES.get(key, key): messages for key, messages in exc.message_dict.items()}
    )


@contextmanager
def field_errors() -> Iterator[None]:
    """Turn a service's ValidationError inside the block into a 400 (see ``api_errors``)."""
    try:
        yield
    except DjangoValidationError as exc:
        raise api_errors(exc) from None


def refused(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})
