"""Signed, expiring, single-use links through which patients act without an account.

The URL holds a signature of the link row's ``public_id`` (salted by purpose), so a
link cannot be guessed, altered or used for another purpose; the row says when it
expires, whether it was used, and keeps a patient's unsubmitted progress.
``link_for_token`` is the one access function for everything a patient does by link.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import OutboxMessage, OutboxStatus, User
from patients.models import ConsentDocument, Patient, PatientLink

DEFAULT_LIFETIME = timedelta(days=7)
CHANNEL_WORDS = {"email": "email", "sms": "text message"}


class LinkError(Exception):
    """The link cannot be used; ``str(error)`` tells the patient what to do.

    ``status`` is the HTTP status for a page saying so: 404 for a link that never was
    valid (altered, or for another purpose), 410 for one that no longer works.
    """

    def __init__(self, message: str, *, status: int = 410) -> None:
        super().__init__(message)
        self.status = status


def _salt(purpose: str) -> str:
    return f"chairside.patients.link.{purpose}"


def link_token(link: PatientLink) -> str:
    return signing.dumps(str(link.public_id), salt=_salt(link.purpose), compress=True)


@transaction.atomic
def link_create(
    *,
    patient: Patient,
    purpose: PatientLink.Purpose,
    created_by: User | None,
    lifetime: timedelta = DEFAULT_LIFETIME,
    consent_document: ConsentDocument | None = None,
    instrument: str = "",
) -> tuple[PatientLink, str]:
    """Make a link and return it with its token. Earlier unused links for the same purpose
    stop working, so only the newest message a patient received is live."""
    now = timezone.now()
    PatientLink.objects.filter(
        patient=patient, purpose=purpose, used_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=now)
    link = PatientLink.objects.create(
        patient=patient,
        purpose=purpose,
        created_by=created_by,
        expires_at=now + lifetime,
        consent_document=consent_document,
        instrument=instrument,
    )
    audit_record(
        actor=created_by,
        action=Action.CREATE,
        target=link,
        summary=f"made a {link.get_purpose_display().lower()} link for patient {patient.public_id}",
    )
    return link, link_token(link)


def link_for_token(
    token: str, purpose: PatientLink.Purpose, *, for_update: bool = False
) -> PatientLink:
    """The usable link a token stands for, or LinkError saying why it cannot be used."""
    try:
        public_id = signing.loads(token, salt=_salt(purpose))
    except signing.BadSignature:
        raise LinkError(
            "This link is not valid. Check that you copied the whole link from the message, "
            "or ask the clinic to send a new one.",
            status=404,
        ) from None
    links = PatientLink.objects.select_related("patient", "consent_document")
    if for_update:
        links = links.select_for_update(of=("self",))
    link = links.filter(public_id=public_id, purpose=purpose).first()
    if link is None:
        raise LinkError(
            "This link no longer works. Please contact the clinic and we will send you a new one."
        )
    if link.revoked_at is not None:
        # Staff may have made the newer link to hand over, not in a message: say whom to ask,
        # never "use the most recent message", which may not exist.
        location = link.patient.preferred_location
        phone = f" on {location.phone}" if location is not None and location.phone else ""
        raise LinkError(
            "This link was replaced by a newer one the clinic made, so it no longer works. "
            f"Please contact the clinic{phone} and we will give you the link that works."
        )
    if link.used_at is not None:
        raise LinkError(
            "This link has already been used, so it no longer works. If you need to change "
            "something, contact the clinic."
        )
    if link.expires_at <= timezone.now():
        raise LinkError("This link has expired. Contact the clinic and we will send you a new one.")
    return link


@dataclass(frozen=True)
class LiveLink:
    """A link of a purpose the patient can still use, and the messages that carried it
    (``sent``: when and by which channel, sent or still waiting in the outbox)."""

    link: PatientLink
    sent: list[tuple[datetime, str]]

    def sentence(self, tz) -> str:
        """ "… the link sent at 09:14 on 7 Dec by email." or the one made to copy."""
        if not self.sent:
            made = self.link.created_at.astimezone(tz)
            return f"the link made at {made:%H:%M on %-d %b} to copy (not sent in a message)"
        when, _ = self.sent[-1]
        channels = " and ".join(dict.fromkeys(channel for _, channel in self.sent))
        return f"the link sent at {when.astimezone(tz):%H:%M on %-d %b} by {channels}"


def live_link(patient: Patient, purpose: PatientLink.Purpose) -> LiveLink | None:
    """The patient's newest link of ``purpose`` that still works, with the messages carrying
    it, or None (two queries)."""
    link = (
        PatientLink.objects.filter(
            patient=patient,
            purpose=purpose,
            used_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at")
        .first()
    )
    if link is None:
        return None
    messages = OutboxMessage.objects.filter(
        patient=patient,
        context__link=str(link.public_id),
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT],
    ).order_by("created_at")
    sent = [
        (message.sent_at or message.created_at, CHANNEL_WORDS.get(message.channel, "message"))
        for message in messages
    ]
    return LiveLink(link=link, sent=sent)


def refuse_silent_replacement(patient: Patient, purpose: PatientLink.Purpose) -> None:
    """Refuse (ValidationError keyed ``replace_live``) a link only to copy while the patient
    still holds a working link of ``purpose``, saying when and how that one was sent.

    A new link revokes the old one (``link_create``), and a link to copy reaches the patient
    in no message: staff confirm first that the link in the patient's inbox may stop working.
    Sending the new link by message needs no confirmation: the message carries it."""
    live = live_link(patient, purpose)
    if live is None:
        return
    location = patient.preferred_location
    tz = location.tz if location is not None else timezone.get_default_timezone()
    raise ValidationError(
        {
            "replace_live": [
                f"A new link replaces {live.sentence(tz)}: that link will stop working, and "
                "the patient will need the new one from you."
            ]
        }
    )


def link_mark_used(link: PatientLink) -> None:
    link.used_at = timezone.now()
    link.draft = {}
    link.save(update_fields=["used_at", "draft"])
