"""Writing messages to the outbox, and (``dispatch``/``send``) sending them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from clinic.models import Location, OutboxChannel, OutboxMessage


def outbox_enqueue(
    *,
    key: str,
    kind: str,
    channel: str,
    patient: Any = None,
    appointment: Any = None,
    location: Location | None = None,
    recipient: str = "",
    context: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    urgent: bool = False,
) -> OutboxMessage:
    """The message named ``key``: created, due at ``not_before`` (now by default), in the
    caller's transaction; or the existing one, unchanged, if the key is taken (enqueueing
    twice sends once). ``location`` defaults to the appointment's, for quiet hours."""
    if channel not in OutboxChannel.values:
        raise ValueError(f"channel must be one of {OutboxChannel.values}, not {channel!r}.")
    if location is None and appointment is not None:
        location = appointment.location
    with transaction.atomic():
        message, _ = OutboxMessage.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "kind": kind,
                "channel": channel,
                "patient": patient,
                "appointment": appointment,
                "location": location,
                "recipient": recipient,
                "context": context or {},
                "not_before": not_before or timezone.now(),
                "urgent": urgent,
            },
        )
    return message
