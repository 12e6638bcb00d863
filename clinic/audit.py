"""Writing to the audit log. Reading it is ``clinic.selectors.audit_events_visible_to``."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from clinic.client_address import client_ip
from clinic.models import AuditEvent, User

Action = AuditEvent.Action


def audit_record(
    *,
    actor: User | None,
    action: AuditEvent.Action,
    target: models.Model | None = None,
    summary: str = "",
    request: HttpRequest | None = None,
    object_type: str = "",
    object_id: str = "",
) -> AuditEvent:
    """Append one event. ``summary`` names what happened, never patient values."""
    if target is not None:
        object_type = target._meta.label_lower
        object_id = str(getattr(target, "public_id", None) or target.pk)
    label = str(target)[:200] if target is not None and not _is_patient_data(target) else ""
    user_agent = request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=label,
        summary=summary[:300],
        ip_address=client_ip(request),
        user_agent=user_agent,
    )


def _is_patient_data(target: Any) -> bool:
    # Patient records are identified by opaque id only: their names stay out of the log.
    return target._meta.app_label in {"patients", "infusions"}


def changed_fields_summary(changed: list[str]) -> str:
    return "changed " + ", ".join(changed) if changed else "saved without changes"


def created_fields_summary(filled: list[str]) -> str:
    """What a create event says: the fields the record was created with, never their values."""
    return "created with " + ", ".join(filled)
