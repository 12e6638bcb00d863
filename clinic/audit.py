"""Writing to the audit log. Reading it is ``clinic.selectors.audit_events_visible_to``."""

from __future__ import annotations

from typing import Any

from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

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
    """Append one event. ``summary`` names what happened, never patient values.

    Nearly every staff page writes one, so it is a single ``INSERT … RETURNING id`` sent
    straight through the cursor (no model save machinery, no query to read anything
    back). Outside a transaction it commits on its own, before the page is rendered, so
    a page that fails afterwards is still in the log; inside one (a service's write) it
    commits or rolls back with the write it describes."""
    if target is not None:
        object_type = target._meta.label_lower
        object_id = str(getattr(target, "public_id", None) or target.pk)
    event = AuditEvent(
        occurred_at=timezone.now(),
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=object_id,
        object_label=str(target)[:200]
        if target is not None and not _is_patient_data(target)
        else "",
        summary=summary[:300],
        ip_address=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else "",
    )
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(
            _INSERT,
            [
                event.occurred_at,
                event.actor_id,
                event.action,
                event.object_type,
                event.object_id,
                event.object_label,
                event.summary,
                connection.ops.adapt_ipaddressfield_value(event.ip_address),
                event.user_agent,
            ],
        )
        event.pk = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias
    return event


# The columns of ``AuditEvent`` (clinic/models.py), written out: one statement, no ORM.
_INSERT = (
    "INSERT INTO clinic_auditevent (occurred_at, actor_id, action, object_type, object_id, "
    "object_label, summary, ip_address, user_agent) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id"
)


def _is_patient_data(target: Any) -> bool:
    # Patient records (and what they owe) are identified by opaque id only: their names stay
    # out of the log.
    return target._meta.app_label in {"patients", "infusions", "billing"}


def changed_fields_summary(changed: list[str]) -> str:
    return "changed " + ", ".join(changed) if changed else "saved without changes"


def created_fields_summary(filled: list[str]) -> str:
    """What a create event says: the fields the record was created with, never their values."""
    return "created with " + ", ".join(filled)
