"""The follow-up and safety messages: how each is written and whether it is still wanted.

Registered with ``clinic.messaging.registry`` when the patients app is ready
(``PatientsConfig.ready`` imports this module; ``patients/messages.py`` holds the other
patients kinds).

- ``questionnaire_due``: a link to the questionnaires (``patients.followups``);
- ``next_day_checkin``: a link to the short check-in the day after an infusion;
- ``safety_alert``: the urgent email to the location's on-call contact
  (``patients.services.safety``).

The questionnaire and the check-in are non-urgent nudges (not ``transactional``): their
texts keep to the daily and weekly caps and count towards them (``clinic.messaging.rules``).

Patient messages say as little as a reminder does: the clinic's name, what to do, the link,
how to reach us; no diagnosis, no drug name. The on-call email names the patient by opaque
id only. A message's link is looked up when it is sent and its token made then, so no token
is stored in the outbox.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.urls import reverse
from django.utils import timezone

from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import OutboxChannel, OutboxMessage
from patients.followups import CHECKIN_KIND, QUESTIONNAIRE_KIND
from patients.links import link_token
from patients.models import PatientLink, QuestionnaireResponse, SafetyAlert
from patients.services.safety import SAFETY_ALERT_KIND


def absolute_url(path: str) -> str:
    """``path`` on the address patients use (``SITE_URL``). Without it a link cannot be
    sent, so the send fails loudly (and is retried) rather than send a broken link."""
    base = (settings.SITE_URL or "").rstrip("/")
    if not base:
        raise ImproperlyConfigured(
            "SITE_URL is not set: set it to the address patients and staff use, e.g. "
            "https://clinic.example.org, so messages can carry links."
        )
    return base + path


def _link(message: OutboxMessage) -> PatientLink | None:
    public_id = message.context.get("link")
    if not public_id:
        return None
    return PatientLink.objects.filter(public_id=public_id).first()


def _link_not_wanted(link: PatientLink | None) -> NotWanted | None:
    if link is None:
        return NotWanted("not_wanted", "Its link no longer exists.")
    if link.used_at is not None:
        return NotWanted("not_wanted", "The patient has answered already.")
    if link.revoked_at is not None:
        return NotWanted("not_wanted", "A newer link replaced this one before it was sent.")
    if link.expires_at <= timezone.now():
        return NotWanted("past", "Its link expired before it could be sent.")
    return None


def _call_us(message: OutboxMessage, *, first: bool = False) -> str:
    call = "Call" if first else "call"
    location = message.location
    if location is not None and location.phone:
        return f"{call} {location.name} on {location.phone}"
    return f"{call} the clinic"


def _expiry(link: PatientLink, message: OutboxMessage) -> str:
    tz = message.location.tz if message.location is not None else None
    local = timezone.localtime(link.expires_at, tz)
    return f"{local:%B} {local.day}"


# --- Questionnaires -------------------------------------------------------------------------


def questionnaire_still_wanted(message: OutboxMessage) -> NotWanted | None:
    not_wanted = _link_not_wanted(_link(message))
    if not_wanted is not None:
        return not_wanted
    appointment = message.appointment
    if appointment is None:
        return None
    if appointment.is_cancelled:
        return NotWanted("cancelled", "The infusion it was for was cancelled.")
    starts_at = message.context.get("starts_at")
    if starts_at and appointment.starts_at != datetime.fromisoformat(starts_at):
        return NotWanted("moved", "The infusion it was for was moved.")
    if appointment.starts_at <= timezone.now():
        return NotWanted("past", "The infusion it was for has begun.")
    return None


def render_questionnaire(message: OutboxMessage) -> Rendered:
    link = _link(message)
    if link is None:  # pragma: no cover - still_wanted skips it first
        raise ValueError("The questionnaire link of this message no longer exists.")
    url = absolute_url(reverse("patient_links:questionnaire", args=[link_token(link)]))
    clinic = settings.CLINIC_NAME
    if message.context.get("context") == QuestionnaireResponse.Context.PRE_SESSION:
        ask = (
            "Before your visit tomorrow, please answer a few short questions about how you "
            "have been"
        )
    else:
        ask = "Please answer a few short questions about how you have been lately"
    if message.channel == OutboxChannel.SMS:
        return Rendered(body=f"{clinic}: {ask}: {url} Questions? {_call_us(message, first=True)}.")
    body = (
        f"Hello,\n\n{ask}. It takes about five minutes, on your phone or a computer:\n\n"
        f"{url}\n\nThe link works once, until {_expiry(link, message)}.\n\n"
        f"Questions? {_call_us(message, first=True)}.\n\n"
        f"If you are in crisis now, call or text {settings.CRISIS_LINE}.\n\n{clinic}"
    )
    return Rendered(subject=f"A few questions from {clinic}", body=body)


# --- Next-day check-in ----------------------------------------------------------------------


def checkin_still_wanted(message: OutboxMessage) -> NotWanted | None:
    return _link_not_wanted(_link(message))


def render_checkin(message: OutboxMessage) -> Rendered:
    link = _link(message)
    if link is None:  # pragma: no cover - still_wanted skips it first
        raise ValueError("The check-in link of this message no longer exists.")
    url = absolute_url(reverse("patient_links:check-in", args=[link_token(link)]))
    clinic = settings.CLINIC_NAME
    ask = "How are you feeling today, the day after your visit? Three quick questions"
    if message.channel == OutboxChannel.SMS:
        return Rendered(body=f"{clinic}: {ask}: {url} Questions? {_call_us(message, first=True)}.")
    body = (
        f"Hello,\n\n{ask}, about a minute:\n\n{url}\n\n"
        f"If you feel unwell, do not wait for the form: {_call_us(message)}.\n\n"
        f"If you are in crisis now, call or text {settings.CRISIS_LINE}.\n\n{clinic}"
    )
    return Rendered(subject=f"How are you today? ({clinic})", body=body)


# --- The on-call email ----------------------------------------------------------------------


def safety_alert_still_wanted(message: OutboxMessage) -> NotWanted | None:
    alert = SafetyAlert.objects.filter(public_id=message.context.get("alert")).first()
    if alert is None:
        return NotWanted("not_wanted", "The alert no longer exists.")
    if alert.resolved_at is not None:
        return NotWanted("not_wanted", "A clinician recorded the follow-up before it was sent.")
    return None


def render_safety_alert(message: OutboxMessage) -> Rendered:
    """No name, no answers: the patient's opaque id and a link to the chart, which needs a
    staff sign-in."""
    patient_id = message.context["patient"]
    chart = absolute_url(reverse("patients:chart", args=[patient_id]))
    source = SafetyAlert.Source(message.context["source"]).label
    location = message.location
    raised = timezone.localtime(message.created_at, location.tz if location else None)
    where = f" ({location.name})" if location is not None else ""
    body = (
        f"A patient of {settings.CLINIC_NAME}{where} reported thoughts of self-harm.\n\n"
        f"What: {source}\n"
        f"When: {raised:%Y-%m-%d %H:%M %Z}\n"
        f"Patient id: {patient_id}\n"
        f"Chart (staff sign-in needed): {chart}\n\n"
        "Contact the patient today. Then record the follow-up on the chart: the alert stays "
        "on the chart and on the staff home page until a clinician does.\n\n"
        "This email leaves out the patient's name on purpose: open the chart to see who it is."
    )
    return Rendered(subject="Urgent: a patient reported thoughts of self-harm", body=body)


QUESTIONNAIRE_DUE = register(
    MessageKind(
        name=QUESTIONNAIRE_KIND,
        render=render_questionnaire,
        still_wanted=questionnaire_still_wanted,
        description="A link to symptom questionnaires: before an infusion, or a follow-up.",
    )
)
NEXT_DAY_CHECKIN = register(
    MessageKind(
        name=CHECKIN_KIND,
        render=render_checkin,
        still_wanted=checkin_still_wanted,
        description="The day after an infusion: how are you, any side effects.",
    )
)
SAFETY_ALERT = register(
    MessageKind(
        name=SAFETY_ALERT_KIND,
        render=render_safety_alert,
        still_wanted=safety_alert_still_wanted,
        urgent=True,
        capped=False,
        description="To the on-call clinician: a patient reported thoughts of self-harm.",
    )
)
