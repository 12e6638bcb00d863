"""Patients opting out of messages: the one-click email unsubscribe link.

Every email to a patient carries ``unsubscribe_url(message)`` (in the body and in the
``List-Unsubscribe`` header, with ``List-Unsubscribe-Post`` for RFC 8058 one-click). The
URL holds a signature of the patient's ``public_id`` and the channel, salted for this use
only, with no expiry: an unsubscribe link in a years-old email must still work, and all it
can ever do is stop messages. Opening it changes nothing (mail scanners fetch links); the
page's button, or the mail client's one-click POST, withdraws consent.

``consent_withdraw`` is shared with the inbound STOP texts (``clinic.messaging.inbound``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse

from clinic.messaging.outbox import outbox_skip_without_consent
from clinic.models import OutboxChannel, OutboxMessage
from patients.models import Patient
from patients.services.contact_consent import contact_consent_record

SALT = "chairside.messaging.unsubscribe"

# The confirmation of a STOP text (registered in clinic/messages.py); ``rules`` lets it
# through without consent, and withdrawing consent does not skip it.
STOP_CONFIRMATION_KIND = "sms_stop_confirmation"


class UnsubscribeError(Exception):
    """The link cannot be used; ``str(error)`` says why and what to do instead."""


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid link stands for."""

    patient: Patient
    channel: str


def unsubscribe_token(patient_public_id: uuid.UUID | str, channel: str) -> str:
    return signing.dumps({"p": str(patient_public_id), "c": channel}, salt=SALT, compress=True)


def unsubscribe_url(message: OutboxMessage) -> str | None:
    """The absolute one-click unsubscribe URL for a patient's email, or None when there is
    none to offer (a staff message, a text, or no ``SITE_URL`` to build it from).

    Reads ``message.patient`` (a query unless it was selected with the message)."""
    if message.channel != OutboxChannel.EMAIL or message.patient_id is None:
        return None
    base = (settings.SITE_URL or "").rstrip("/")
    if not base:
        return None
    token = unsubscribe_token(message.patient.public_id, OutboxChannel.EMAIL)
    return base + reverse("messages:unsubscribe", args=[token])


def unsubscribe_for_token(token: str) -> Unsubscribe:
    """The patient and channel a token names, or UnsubscribeError."""
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise UnsubscribeError(
            "This unsubscribe link is not valid: it may have been cut short or changed. "
            "Open the link from the email again, or call the clinic and ask us to stop "
            "emailing you."
        ) from None
    channel = data.get("c") if isinstance(data, dict) else None
    public_id = data.get("p") if isinstance(data, dict) else None
    if channel not in OutboxChannel.values or not public_id:
        raise UnsubscribeError("This unsubscribe link is not valid.")
    try:
        patient = Patient.objects.filter(public_id=uuid.UUID(str(public_id))).first()
    except ValueError:
        raise UnsubscribeError("This unsubscribe link is not valid.") from None
    if patient is None:
        raise UnsubscribeError(
            "We have no record that matches this link any more, so we will not contact you."
        )
    return Unsubscribe(patient=patient, channel=channel)


@transaction.atomic
def consent_withdraw(
    *, patient: Patient, channel: str, method: str, request: HttpRequest | None = None
) -> bool:
    """Withdraw the patient's consent to ``channel`` (by the patient themselves: no staff
    actor) and skip the messages waiting on it. Doing it again changes nothing; returns
    whether consent was withdrawn now (False: it already was)."""
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    current = (
        locked.contact_consents.filter(channel=channel).order_by("-recorded_at", "-id").first()
    )
    # Checked under the patient's lock, so two clicks at once record one withdrawal (the
    # consent service refuses to record the state the channel is already in).
    withdrawn_now = current is None or current.granted
    if withdrawn_now:
        contact_consent_record(
            actor=None,
            patient=locked,
            channel=channel,
            granted=False,
            method=method,
            request=request,
        )
    outbox_skip_without_consent(patient=locked, channel=channel)
    return withdrawn_now
