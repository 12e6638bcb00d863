"""Writes to a patient's consent to be contacted, by email or by text: each change appends
a row, so the history is kept.

As for every record service: input is checked first (``ValidationError`` keyed by field,
nothing saved), and each change is in the audit log.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from patients.models import Channel, CommunicationConsent, Patient
from patients.services.details import CLOCK_SKEW, Errors


@transaction.atomic
def contact_consent_record(
    *,
    actor: User | None,
    patient: Patient,
    channel: Channel | str,
    granted: bool,
    method: str,
    wording: str = "",
    recorded_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> CommunicationConsent:
    """Record that the patient gave or withdrew consent to be contacted on ``channel``.

    History is kept: this appends a row, and the latest row per channel is the current
    state. Recording the state the channel is already in is refused, so the history only
    holds real changes. A first "not given" is recorded, as it says the patient was asked.
    """
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    errors: Errors = {}
    method = (method or "").strip()
    if channel not in Channel.values:
        errors["channel"] = ["Choose email or text message (SMS)."]
    if not isinstance(granted, bool):
        errors["granted"] = ["Choose whether consent is given or withdrawn."]
    if not method:
        errors["method"] = ["Say how the patient gave or withdrew it, e.g. 'by phone'."]
    elif len(method) > CommunicationConsent._meta.get_field("method").max_length:
        errors["method"] = ["Keep it short (120 characters at most), e.g. 'by phone'."]
    if recorded_at is not None and recorded_at > timezone.now() + CLOCK_SKEW:
        errors["recorded_at"] = ["That time is in the future. Enter when it happened."]
    if errors:
        raise ValidationError(errors)
    label = Channel(channel).label
    if granted and channel == Channel.EMAIL and not locked.email:
        raise ValidationError(
            {"granted": "Add the patient's email address first, then record consent to email."}
        )
    if granted and channel == Channel.SMS and not locked.mobile:
        raise ValidationError(
            {"granted": "Add the patient's mobile number first, then record consent to texts."}
        )
    current = _contact_consent_current(locked, channel)
    if current is not None and current.granted == granted:
        state = "given" if granted else "withdrawn"
        raise ValidationError(
            {
                "granted": (
                    f"Consent to {label.lower()} is already {state} (recorded "
                    f"{timezone.localtime(current.recorded_at):%Y-%m-%d}). Nothing to change."
                )
            }
        )
    consent = CommunicationConsent.objects.create(
        patient=locked,
        channel=channel,
        granted=granted,
        method=method,
        wording=(wording or "").strip(),
        recorded_at=recorded_at or timezone.now(),
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
    )
    if not granted:
        # Withdrawn: what is still waiting on that channel is not sent (the worker's rules
        # would refuse it too, but staff see it as not sent straight away).
        from clinic.messaging.outbox import outbox_skip_without_consent

        outbox_skip_without_consent(patient=locked, channel=channel)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"changed contact consent: {channel}",
        request=request,
    )
    return consent


def _contact_consent_current(
    patient: Patient, channel: Channel | str
) -> CommunicationConsent | None:
    """The latest consent row for one channel (one query), or None if never recorded."""
    return patient.contact_consents.filter(channel=channel).order_by("-recorded_at", "-id").first()
