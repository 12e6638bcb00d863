"""Corrections drf-spectacular cannot make on its own, applied to the whole OpenAPI schema."""

from __future__ import annotations

from typing import Any

# DRF answers every refusal but a validation error with {"detail": "..."}
# (clinic.api.exceptions keeps that shape for the services' ValidationError too).
ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string", "description": "What went wrong."}},
    "required": ["detail"],
}
VALIDATION_ERRORS = {
    "type": "object",
    "additionalProperties": {},
    "description": (
        "Messages saying what to fix, keyed by field or parameter: "
        '{"field": ["message", …]}; {"detail": "…"} when the request as a whole is wrong '
        "(e.g. malformed JSON, or a NUL character in the address)."
    ),
}
ERROR_RESPONSES = {
    "400": ("ValidationErrors", "The request is not valid: nothing was changed."),
    "401": ("Error", "No credentials, or a token that is not (or no longer) valid."),
    "403": ("Error", "Your role does not allow this, or the session's CSRF token is missing."),
    "404": ("Error", "There is no such record, or it is not visible to you."),
}
# A wall-clock time on a location's clock, as DRF's TimeField writes it ("08:00:00") and
# reads it ("08:00", "08:00:00"). It has no UTC offset, so it is not an RFC 3339 `time`.
LOCAL_TIME = {
    "type": "string",
    "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?$",
    "example": "09:30:00",
}


def declare_errors_and_local_times(
    result: dict[str, Any], generator: Any, request: Any, public: bool
) -> dict[str, Any]:
    """drf-spectacular postprocessing hook: every operation may answer 400, 401, 403 and
    404 (a token can be revoked, any address can hold a NUL, any id can be unknown), so
    each declares them, with the body it gets; times of day are declared as what the
    API sends and accepts."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Error", ERROR)
    schemas.setdefault("ValidationErrors", VALIDATION_ERRORS)
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            for status, (component, description) in ERROR_RESPONSES.items():
                responses.setdefault(
                    status,
                    {
                        "content": {
                            "application/json": {
                                "schema": {"$ref": f"#/components/schemas/{component}"}
                            }
                        },
                        "description": description,
                    },
                )
    _replace_time_formats(result)
    return result


def _replace_time_formats(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            del node["format"]
            node.update({key: value for key, value in LOCAL_TIME.items() if key not in node})
        for value in node.values():
            _replace_time_formats(value)
    elif isinstance(node, list):
        for value in node:
            _replace_time_formats(value)
