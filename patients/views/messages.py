"""The staff view of a patient's messages: what was sent, when, by which channel, and why
something was not sent.

Everyone who may see the patient's record (``VIEW_PATIENTS``: the front desk too, who
answer "did you text me?") sees each message's kind, channel, status, times and reason, with
the address masked to its last characters. What the message said (subject and body) is shown
only to clinical staff (``VIEW_CLINICAL``): some kinds (a check-in after an infusion, a
questionnaire link) say something about treatment. Times are in the time zone of the
message's location, or the clinic's default when it has none.

Each row says in one sentence exactly what happened (``message_story``): sent (when, how),
being sent, queued until when and why (held by quiet hours or the caps, moved earlier out of
quiet hours, waiting for its time, or a failed attempt to be tried again), or not sent and
why. A message still waiting is never said to be "on its way".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.messaging.registry import SKIP_REASONS, kind_named
from clinic.messaging.rules import HELD_CAP, HELD_QUIET_HOURS
from clinic.models import OutboxChannel, OutboxMessage, OutboxStatus
from clinic.permissions import Capability, capability_required
from patients.selectors import can_see_clinical, contact_consents_current, patient_for
from patients.views.records import audit_patient_view

MESSAGES_PER_PAGE = 25


class MessageFilterForm(forms.Form):
    status = forms.ChoiceField(
        label="Status",
        choices=[("", "Any status"), *OutboxStatus.choices],
        required=False,
        error_messages={"invalid_choice": "That status is not in the list. Pick one from it."},
    )
    channel = forms.ChoiceField(
        label="Channel",
        choices=[("", "Email and texts"), *OutboxChannel.choices],
        required=False,
        error_messages={"invalid_choice": "That channel is not in the list. Pick one from it."},
    )

    def filters(self) -> dict[str, str]:
        """The valid filters; an invalid one is shown with its error and ignored."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {
            name: cleaned[name]
            for name in ("status", "channel")
            if name not in self.errors and cleaned.get(name)
        }


@dataclass(frozen=True)
class MessageRow:
    """One message as the page shows it."""

    message: OutboxMessage
    label: str
    recipient: str
    queued_at: datetime
    due_at: datetime
    sent_at: datetime | None
    reason: str
    detail: str
    zone: str
    story: str


def mask_recipient(channel: str, recipient: str) -> str:
    """Enough of an address to recognise it, not to use it: "•••• 0123", "j•••@example.com"."""
    recipient = recipient.strip()
    if not recipient:
        return ""
    if channel == OutboxChannel.SMS or "@" not in recipient:
        return f"•••• {recipient[-4:]}" if len(recipient) > 4 else "••••"
    local, _, domain = recipient.partition("@")
    return f"{local[:1]}•••@{domain}"


def kind_label(kind: str) -> str:
    registered = kind_named(kind)
    if registered is not None and registered.description:
        return registered.description
    return kind.replace("_", " ").replace("-", " ").capitalize()


def _at(moment: datetime, zone: tzinfo) -> str:
    """20:59 on Mon 7 Dec."""
    local = moment.astimezone(zone)
    return f"{local:%H:%M} on {local:%a} {local.day} {local:%b}"


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _by(channel: str) -> str:
    return "by text" if channel == OutboxChannel.SMS else "by email"


def message_story(message: OutboxMessage, zone: tzinfo, now: datetime) -> str:
    """What happened to ``message``, in one sentence for staff (no query)."""
    status = message.status
    if status == OutboxStatus.SENT and message.sent_at is not None:
        return f"Sent at {_at(message.sent_at, zone)} {_by(message.channel)}."
    if status == OutboxStatus.SENDING:
        return f"Being sent {_by(message.channel)} now."
    if status == OutboxStatus.FAILED:
        return (
            f"Not sent: sending failed {_times(message.attempts)}. Check the patient's "
            "address, and reach them another way if they still need it."
        )
    if status == OutboxStatus.SKIPPED:
        why = SKIP_REASONS.get(message.skip_reason, message.skip_reason or "no reason kept")
        return f"Not sent: {why[:1].lower()}{why[1:]}."
    # Waiting (pending).
    if message.not_before <= now:
        return "Queued, due now: it goes out within a minute."
    until = _at(message.not_before, zone)
    if message.attempts:
        return (
            f"Queued until {until}: sending failed {_times(message.attempts)}, it is tried "
            "again then."
        )
    held = (message.context or {}).get("held") or {}
    start, end = settings.MESSAGE_QUIET_HOURS
    quiet = f"quiet hours (no texts {start:02d}:00–{end:02d}:00)"
    if held.get("why") == HELD_QUIET_HOURS:
        due = _held_due(held)
        if due is not None and message.not_before < due:
            own = _at(due, zone)
            return f"Queued until {until}: moved earlier, as its own time ({own}) is in {quiet}."
        return f"Held until {until}: {quiet}."
    if held.get("why") == HELD_CAP:
        daily, weekly = settings.SMS_DAILY_CAP, settings.SMS_WEEKLY_CAP
        return (
            f"Held until {until}: the patient has had their non-urgent texts ({daily} a day, "
            f"{weekly} a week)."
        )
    return f"Waiting for its time: it goes at {until}."


def _held_due(held: dict[str, str]) -> datetime | None:
    value = held.get("due")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None
    except (AttributeError, ValueError):
        return None


def _row(message: OutboxMessage, default_zone: str, now: datetime) -> MessageRow:
    # The template shows the times in ``zone`` ({% timezone %}).
    zone = message.location.time_zone if message.location is not None else default_zone
    reason = ""
    if message.status == OutboxStatus.SKIPPED:
        reason = SKIP_REASONS.get(message.skip_reason, message.skip_reason or "Not sent")
    elif message.status == OutboxStatus.FAILED or (
        message.status == OutboxStatus.PENDING and message.attempts
    ):
        reason = (
            f"Sending failed ({message.attempts} attempt{'s' if message.attempts != 1 else ''})"
        )
    return MessageRow(
        message=message,
        label=kind_label(message.kind),
        recipient=mask_recipient(message.channel, message.recipient),
        queued_at=message.created_at,
        due_at=message.not_before,
        sent_at=message.sent_at,
        reason=reason,
        detail=message.skip_detail or message.last_error,
        zone=zone,
        story=message_story(message, ZoneInfo(zone), now),
    )


@require_GET
@capability_required(Capability.VIEW_PATIENTS)
def patient_messages(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = patient_for(request.user, patient_id)
    form = MessageFilterForm(request.GET)
    filters = form.filters()
    messages = (
        OutboxMessage.objects.filter(patient=patient, **filters)
        .select_related("location")
        .order_by("-created_at", "-id")
    )
    page = Paginator(messages, MESSAGES_PER_PAGE).get_page(request.GET.get("page"))
    default_zone = timezone.get_default_timezone_name()
    now = timezone.now()
    audit_patient_view(request, patient, f"viewed messages: page {page.number}")
    context = {
        "patient": patient,
        "form": form,
        "page": page,
        "rows": [_row(message, default_zone, now) for message in page.object_list],
        "filtered": bool(filters),
        "show_content": can_see_clinical(request.user),
        "consents": contact_consents_current(patient),
    }
    return render(request, "patients/messages/list.html", context)
