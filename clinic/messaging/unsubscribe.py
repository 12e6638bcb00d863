"""Patients opting out of messages: the one-click email unsubscribe link.

Every email to a patient carries ``unsubscribe_url(message)`` (in the body and in the
``List-Unsubscribe`` header, with ``List-Unsubscribe-Post`` for RFC 8058 one-click). The
URL holds a signature of the patient's ``public_id`` and the channel, salted for this use
only, with no expiry: an unsubscribe link in a years-old email must still work, and all it
can ever do is stop messages. Opening it changes nothing (mail scanners fetch links); the
page's button, or the mail client's one-click POST, withdraws consent.

The button withdraws consent with ``clinic.messaging.opt_out.consent_withdraw``, as the
inbound STOP texts do (``clinic.messaging.inbound``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from clinic.messaging.recipients import PatientRecord, patient_directory
from clinic.models import OutboxChannel, OutboxMessage

SALT = "chairside.messaging.unsubscribe"

# The confirmation of a STOP text (registered in clinic/messages.py); ``rules`` lets it
# through without consent, and withdrawing consent does not skip it.
STOP_CONFIRMATION_KIND = "sms_stop_confirmation"


class UnsubscribeError(Exception):
    """The link cannot be used; ``str(error)`` says why and what to do instead."""


@dataclass(frozen=True)
class Unsubscribe:
    """What a valid link stands for."""

    patient: PatientRecord
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
        patient_public_id = uuid.UUID(str(public_id))
    except ValueError:
        raise UnsubscribeError("This unsubscribe link is not valid.") from None
    patient = patient_directory().patient_with_public_id(patient_public_id)
    if patient is None:
        raise UnsubscribeError(
            "We have no record that matches this link any more, so we will not contact you."
        )
    return Unsubscribe(patient=patient, channel=channel)
