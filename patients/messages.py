"""Messages with a patient's single-use links that staff send: the intake form, the consent
form, and questionnaires.

Kinds ``intake_link``, ``consent_link`` and ``questionnaire_link``
(``clinic.messaging.registry``), by email and by text, queued by ``patient_link_enqueue``
when staff make a link and choose to send it (``intake_link_create``,
``consent_link_create`` and ``questionnaire_link_create`` with ``send_to_patient=True``).
The scheduled follow-up questionnaires have their own kinds (``patients.followup_messages``).

The row keeps the link's ``public_id`` and the site's address, never the link itself: the
URL is signed again when the message is written (``patients.links.link_token``; any
signature of the row is valid, the row decides whether the link still works). So no usable
link sits in the outbox's context or in any log. A message whose link was used, replaced
by a newer one or has expired is not sent ("not_wanted", "past").

What they say: the clinic's name, what the link is for, the link, until when it works, how
to reach us. No name, no condition, no drug.
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime, tzinfo
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.messaging.outbox import outbox_enqueue
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import Location, OutboxChannel, OutboxMessage
from patients.links import link_token
from patients.models import Channel, Patient, PatientLink
from patients.selectors import contact_consents_current

INTAKE_LINK = "intake_link"
CONSENT_LINK = "consent_link"
QUESTIONNAIRE_LINK = "questionnaire_link"

_KIND_OF_PURPOSE = {
    PatientLink.Purpose.INTAKE: INTAKE_LINK,
    PatientLink.Purpose.CONSENT: CONSENT_LINK,
    PatientLink.Purpose.QUESTIONNAIRE: QUESTIONNAIRE_LINK,
}
_URL_NAME = {
    PatientLink.Purpose.INTAKE: "patient_links:intake",
    PatientLink.Purpose.CONSENT: "patient_links:consent",
    PatientLink.Purpose.QUESTIONNAIRE: "patient_links:questionnaire",
}
_WHAT = {
    PatientLink.Purpose.INTAKE: "your intake form",
    PatientLink.Purpose.CONSENT: "your consent form",
    PatientLink.Purpose.QUESTIONNAIRE: "a short questionnaire from your care team",
}
_ACTION = {
    PatientLink.Purpose.INTAKE: "fill in",
    PatientLink.Purpose.CONSENT: "read and sign",
    PatientLink.Purpose.QUESTIONNAIRE: "answer",
}


def message_base_url(request: HttpRequest | None = None) -> str:
    """Where patients reach the site, for links in messages: ``SITE_URL``, else the address
    of the request that caused the message, else "" (no links can be sent)."""
    if settings.SITE_URL:
        return settings.SITE_URL.rstrip("/")
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return ""


def patient_message_channels(patient: Patient) -> list[str]:
    """The channels ``patient`` agreed to (their latest choice) and has an address for: one
    query. Consent is checked again when each message is sent (``rules.decide``)."""
    addresses = {Channel.EMAIL: patient.email, Channel.SMS: patient.mobile}
    return [
        entry.channel
        for entry in contact_consents_current(patient)
        if entry.granted and addresses.get(entry.channel)
    ]


def link_channels_said(patient: Patient, now: datetime | None = None) -> list[str]:
    """For the page that shows a link staff just sent: how it goes on each channel, e.g.
    "email" or, for a text in quiet hours, "text message (sms), held until 08:00 on Tue 8
    Dec (no texts 21:00 to 08:00)". Never says a held text is on its way (one query)."""
    from clinic.messaging import rules

    now = now or timezone.now()
    zone = rules.time_zone_for(location=patient.preferred_location)
    labels = dict(Channel.choices)
    said = []
    for channel in patient_message_channels(patient):
        label = str(labels[channel]).lower()
        until = rules.quiet_hours_end(now, zone) if channel == Channel.SMS else None
        if until is not None:
            start, end = settings.MESSAGE_QUIET_HOURS
            local = until.astimezone(zone)
            label += (
                f", held until {local:%H:%M} on {local:%a} {local.day} {local:%b} "
                f"(no texts {start:02d}:00–{end:02d}:00)"
            )
        said.append(label)
    return said


def patient_link_enqueue(*, link: PatientLink, base_url: str) -> list[OutboxMessage]:
    """Queue the message carrying ``link`` on every channel the patient agreed to and has an
    address for (none: an empty list, and the staff hand the link over themselves). In the
    caller's transaction."""
    kind = _KIND_OF_PURPOSE.get(PatientLink.Purpose(link.purpose))
    if kind is None or not base_url:
        return []
    patient = link.patient
    context = {
        "link": str(link.public_id),
        "base_url": base_url.rstrip("/"),
        "useful_until": link.expires_at.isoformat(),
    }
    return [
        outbox_enqueue(
            key=f"patient_link:{link.public_id}:{channel}",
            kind=kind,
            channel=channel,
            patient=patient,
            location=patient.preferred_location,
            context=context,
        )
        for channel in patient_message_channels(patient)
    ]


def _link(message: OutboxMessage) -> PatientLink | None:
    public_id = (message.context or {}).get("link")
    if not public_id:
        return None
    return PatientLink.objects.filter(public_id=public_id, patient_id=message.patient_id).first()


def _link_usable(message: OutboxMessage) -> NotWanted | None:
    link = _link(message)
    if link is None or link.revoked_at is not None:
        return NotWanted("not_wanted", "The link was replaced by a newer one.")
    if link.used_at is not None:
        return NotWanted("not_wanted", "The patient has already used the link.")
    if link.expires_at <= timezone.now():
        return NotWanted("past", "The link had expired.")
    return None


def _zone(location: Location | None) -> tzinfo:
    return location.tz if location is not None else zoneinfo.ZoneInfo(settings.TIME_ZONE)


def _moment_text(local: datetime) -> str:
    """Monday, November 2, 2026, 9:00 AM CST."""
    clock = local.strftime("%I:%M %p").lstrip("0")
    return f"{local:%A, %B} {local.day}, {local.year}, {clock} {local.tzname()}"


def link_message(
    message: OutboxMessage, *, what: str, action: str, url: str, until: datetime
) -> Rendered:
    """A message carrying a patient's single-use link ("please <action> <what>: <url>, until
    <until>"), by email or text, in the words every link message shares: the clinic's name,
    the link, until when it works, how to reach the location. No name, condition or drug.
    Billing's card link is written by it too."""
    location = message.location
    context: dict[str, Any] = {
        "clinic_name": settings.CLINIC_NAME,
        "what": what,
        "action": action,
        "url": url,
        "until": _moment_text(until.astimezone(_zone(location))),
        "phone": location.phone if location is not None else "",
        "location_name": location.name if location is not None else "",
    }
    if message.channel == OutboxChannel.SMS:
        body = render_to_string("messages/patient_link_sms.txt", context)
        return Rendered(body=" ".join(body.split()))
    return Rendered(
        subject=f"{settings.CLINIC_NAME}: please {action} {what}",
        body=render_to_string("messages/patient_link_email.txt", context).strip() + "\n",
        html=render_to_string("messages/patient_link_email.html", context),
    )


def _render(message: OutboxMessage) -> Rendered:
    link = _link(message)
    if link is None:
        raise ValueError("The link of this message no longer exists.")
    purpose = PatientLink.Purpose(link.purpose)
    base_url = (message.context or {}).get("base_url", "")
    return link_message(
        message,
        what=_WHAT[purpose],
        action=_ACTION[purpose],
        url=base_url + reverse(_URL_NAME[purpose], args=[link_token(link)]),
        until=link.expires_at,
    )


register(
    MessageKind(
        name=INTAKE_LINK,
        render=_render,
        still_wanted=_link_usable,
        transactional=True,
        description="The link to the intake form",
    )
)
register(
    MessageKind(
        name=CONSENT_LINK,
        render=_render,
        still_wanted=_link_usable,
        transactional=True,
        description="The link to the consent form",
    )
)
register(
    MessageKind(
        name=QUESTIONNAIRE_LINK,
        render=_render,
        still_wanted=_link_usable,
        # Staff sent it for the patient's care (e.g. the PHQ-9 before approval): not a nudge.
        transactional=True,
        description="A questionnaire link staff sent",
    )
)
