"""A patient withdrawing their consent to messages themselves: the button of the unsubscribe
page (``clinic.views.messages``) or a STOP text (``clinic.messaging.inbound``).

The withdrawal is recorded by the patients app, which keeps the consent history
(``recipients.PatientDirectory.consent_withdrawn``); the messages waiting on the channel
are skipped here.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from clinic.messaging.outbox import outbox_skip_without_consent
from clinic.messaging.recipients import PatientRecord, patient_directory


@transaction.atomic
def consent_withdraw(
    *, patient: PatientRecord, channel: str, method: str, request: HttpRequest | None = None
) -> bool:
    """Withdraw the patient's consent to ``channel`` (by the patient themselves: no staff
    actor) and skip the messages waiting on it. Doing it again changes nothing; returns
    whether consent was withdrawn now (False: it already was)."""
    # Recorded under the patient's lock, which holds until this transaction ends.
    withdrawn_now = patient_directory().consent_withdrawn(patient, channel, method, request)
    outbox_skip_without_consent(patient=patient, channel=channel)
    return withdrawn_now
