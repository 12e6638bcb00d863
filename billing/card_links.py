"""A link the front desk sends the patient to save a card on file from their own phone.

Staff send it from the patient's billing page (``card_link_send``): a ``CardLink`` row and a
message on each channel the patient agreed to, through the outbox (kind ``card_link``). The
message keeps the link's id, never the link: the URL is signed again when the message is
written, so no usable link sits in the outbox or a log; it says the clinic's name, what the
link is for, until when it works and how to reach us. No diagnosis, no drug, no amount.

The patient opens ``/pay/card/<token>/``, reads the card policy, agrees, and goes on to
Stripe's page in setup mode, opened by ``billing.cards.card_setup_open``, the same path as at
the desk; the webhook or the return (``…/done/``) completes the card there
(``card_setup_complete``), which records the consent with its wording and "from a link".
"""

from __future__ import annotations

from datetime import timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from billing.cards import card_setup_open, cards_enabled
from billing.models import CardLink
from clinic.audit import Action, audit_record
from clinic.messaging.outbox import outbox_enqueue
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import OutboxMessage, User
from clinic.permissions import Capability, require
from patients.messages import link_message, patient_message_channels
from patients.models import Patient

CARD_LINK = "card_link"
LIFETIME = timedelta(days=3)
_SALT = "chairside.billing.card_link"


class CardLinkError(Exception):
    """The link can't be used; ``str(error)`` tells the patient what to do."""

    def __init__(self, message: str, *, status: int = 410) -> None:
        super().__init__(message)
        self.status = status


def card_link_token(link: CardLink) -> str:
    return signing.dumps(str(link.public_id), salt=_SALT, compress=True)


@transaction.atomic
def card_link_send(
    *, actor: User, patient: Patient, base_url: str, request: HttpRequest | None = None
) -> tuple[CardLink, list[str]]:
    """Send ``patient`` a link to save a card on file, on each channel they agreed to and
    have an address for; the link and those channels. Earlier unused links stop working."""
    require(actor, Capability.TAKE_PAYMENTS)
    if not cards_enabled():
        raise ValidationError(
            {"card": ["Card payments are off: no Stripe keys are configured, so no card link."]}
        )
    channels = patient_message_channels(patient)
    if not channels:
        raise ValidationError(
            {
                "card": [
                    "This patient has agreed to no messages by email or text (or we have no "
                    "address): save the card at the desk instead."
                ]
            }
        )
    if not base_url:
        raise ValidationError({"card": ["The site's address (SITE_URL) is not set."]})
    now = timezone.now()
    CardLink.objects.filter(patient=patient, setup__isnull=True, revoked_at__isnull=True).update(
        revoked_at=now
    )
    link = CardLink.objects.create(patient=patient, sent_by=actor, expires_at=now + LIFETIME)
    for channel in channels:
        outbox_enqueue(
            key=f"{CARD_LINK}:{link.public_id}:{channel}",
            kind=CARD_LINK,
            channel=channel,
            patient=patient,
            location=patient.preferred_location,
            context={"card_link": str(link.public_id), "base_url": base_url.rstrip("/")},
        )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=link,
        summary=f"sent patient {patient.public_id} a link to save a card on file",
        request=request,
    )
    return link, channels


def card_link_for_token(token: str) -> CardLink:
    """The usable link a token stands for, or ``CardLinkError`` saying why not."""
    try:
        public_id = signing.loads(token, salt=_SALT)
    except signing.BadSignature:
        raise CardLinkError(
            "This link is not valid. Check that you copied the whole link from the message, "
            "or ask the clinic to send a new one.",
            status=404,
        ) from None
    link = (
        CardLink.objects.select_related("patient__preferred_location", "setup")
        .filter(public_id=public_id)
        .first()
    )
    if link is None or link.revoked_at is not None:
        raise CardLinkError(
            "This link was replaced by a newer one, so it no longer works. Please use the "
            "newest message from the clinic, or ask us for a new link."
        )
    if link.setup is not None and link.setup.completed_at is not None:
        raise CardLinkError("Your card is saved already: there is nothing more to do.")
    if link.expires_at <= timezone.now():
        raise CardLinkError("This link has expired. Contact the clinic and we will send a new one.")
    return link


def card_link_open(*, link: CardLink, base_url: str) -> str:
    """The patient agreed to the card policy: open Stripe's page for them (the desk's path)
    and return its address."""
    if not cards_enabled():
        raise ValidationError(
            "Saving a card online is not available just now. Please call the clinic."
        )
    token = card_link_token(link)
    done = base_url + reverse("billing_public:card-link-done", args=[token])
    back = base_url + reverse("billing_public:card-link", args=[token])
    setup = card_setup_open(
        patient=link.patient, requested_by=link.sent_by, success_url=done, cancel_url=back
    )
    with transaction.atomic():
        # Opened before and not finished: the newer page takes its place.
        current = CardLink.objects.select_for_update().get(pk=link.pk)
        current.setup = setup
        current.save(update_fields=["setup"])
    link.setup = setup
    audit_record(
        actor=None,
        action=Action.CREATE,
        target=setup,
        summary=f"patient {link.patient.public_id} opened Stripe's page from a card link",
    )
    return setup.checkout_url


# --- The message -----------------------------------------------------------------------------


def _link(message: OutboxMessage) -> CardLink | None:
    public_id = (message.context or {}).get("card_link")
    if not public_id:
        return None
    return CardLink.objects.filter(public_id=public_id, patient_id=message.patient_id).first()


def _still_wanted(message: OutboxMessage) -> NotWanted | None:
    link = _link(message)
    if link is None or link.revoked_at is not None:
        return NotWanted("not_wanted", "The link was replaced by a newer one.")
    if link.setup_id is not None and link.setup.completed_at is not None:
        return NotWanted("not_wanted", "The patient has saved the card already.")
    if link.expires_at <= timezone.now():
        return NotWanted("past", "The link had expired.")
    return None


def _render(message: OutboxMessage) -> Rendered:
    link = _link(message)
    if link is None:
        raise ValueError("The link of this message no longer exists.")
    return link_message(
        message,
        what="a card to keep on file with us",
        action="save",
        url=(message.context or {}).get("base_url", "")
        + reverse("billing_public:card-link", args=[card_link_token(link)]),
        until=link.expires_at,
    )


register(
    MessageKind(
        name=CARD_LINK,
        render=_render,
        still_wanted=_still_wanted,
        transactional=True,
        description="The link to save a card on file",
    )
)
