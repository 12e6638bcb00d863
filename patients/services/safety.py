"""Safety escalation: a patient reports thoughts of self-harm.

PHQ-9 question 9 answered above 0 (through a link or entered by staff:
``patients.services.questionnaires.questionnaire_record``), a "yes" at the next-day check-in
(``patients.followups.checkin_submit``) or a consultation booked online for a reason that
mentions suicide or self-harm (``safety_alert_for_booking_reason``, called by
``scheduling.booking.submit.booking_submit``) calls ``safety_alert_raise`` in the same
transaction that keeps the answers or the booking. It writes a ``SafetyAlert`` and queues
an urgent email to the location's on-call contact (``Location.on_call_email``, else the
location's email), which names the patient by opaque id only and links to the chart.
Urgent messages are not held by quiet hours or caps.

The alert shows on the patient's chart and on the staff home of nurses and physicians
until a clinician records the follow-up (``safety_alert_resolve``, with a note).

Staff accounts are not tied to a location, but shifts are (``scheduling.models.StaffShift``): a
clinician with shifts sees the alerts of the locations they work at (and those with no
location), one with no shifts sees every alert; both see how many are open elsewhere
(``scheduling.contributions.safety_panel_for``).
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.messaging.outbox import outbox_enqueue
from clinic.models import Location, OutboxChannel, User
from clinic.permissions import Capability, require
from patients.models import CheckIn, Patient, QuestionnaireResponse, SafetyAlert

logger = logging.getLogger(__name__)

SAFETY_ALERT_KIND = "safety_alert"
NOTE_MAX_LENGTH = 2000


_BETWEEN_WORDS = re.compile(r"[\W_]+")


def _words(text: str) -> str:
    """``text`` in lower case with every run of spaces, punctuation and hyphens as one
    space, padded with a space each side: " self harm " for "Self-Harm!"."""
    return " " + " ".join(_BETWEEN_WORDS.split(text.casefold())).strip() + " "


def mentions_self_harm(text: str) -> bool:
    """Whether ``text`` mentions suicide or self-harm: one of
    ``settings.BOOKING_TRIAGE_PHRASES`` as whole words, whatever the case, punctuation,
    hyphens or spacing ("Self-harm", "self  harm", "SUICIDAL!!"), but not inside another
    word ("suitcase", "harmless", "want to diet")."""
    words = _words(text or "")
    return any(
        phrase in words for phrase in map(_words, settings.BOOKING_TRIAGE_PHRASES) if phrase.strip()
    )


def alert_location(patient: Patient, appointment: Any = None) -> Location | None:
    """Whose alert it is: the patient's preferred location, else the appointment's (a
    check-in's infusion), else that of the patient's latest appointment."""
    if patient.preferred_location_id is not None:
        return patient.preferred_location
    if appointment is not None:
        return appointment.location
    latest = patient.appointments.select_related("location").order_by("-starts_at").first()
    return latest.location if latest is not None else None


def on_call_recipient(location: Location | None) -> str:
    if location is None:
        return ""
    return location.on_call_email or location.email


@transaction.atomic
def safety_alert_raise(
    *,
    patient: Patient,
    source: SafetyAlert.Source | str,
    questionnaire: QuestionnaireResponse | None = None,
    check_in: CheckIn | None = None,
    appointment: Any = None,
    reported_text: str = "",
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> SafetyAlert:
    """Record the alert and queue the urgent on-call email, in the caller's transaction.

    The email's key names the alert, so it is queued once. With no on-call or location
    email to send to, the alert still shows on the chart and the staff home pages, and the
    audit summary says no email was queued. ``reported_text`` (what the patient wrote) is
    kept on the alert for the chart only: neither the email nor the audit log copies it.
    The alert keeps ``appointment`` when it was raised by that booking."""
    location = alert_location(patient, appointment)
    alert = SafetyAlert.objects.create(
        patient=patient,
        source=source,
        questionnaire=questionnaire,
        check_in=check_in,
        appointment=appointment if source == SafetyAlert.Source.BOOKING_REASON else None,
        reported_text=reported_text,
        location=location,
    )
    recipient = on_call_recipient(location)
    if recipient:
        outbox_enqueue(
            key=f"safety-alert:{alert.public_id}:email",
            kind=SAFETY_ALERT_KIND,
            channel=OutboxChannel.EMAIL,
            # A message to staff: no patient on the row, so the patient's own consent and
            # opt-outs do not apply to it, and it stays out of the patient's message list.
            patient=None,
            location=location,
            recipient=recipient,
            context={
                "alert": str(alert.public_id),
                "patient": str(patient.public_id),
                "source": alert.source,
            },
            urgent=True,
        )
    else:
        logger.warning("Safety alert %s has no on-call email to send to.", alert.public_id)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=alert,
        summary=f"raised a safety alert ({alert.source}) for patient {patient.public_id}"
        + ("; on-call email queued" if recipient else "; no on-call email set for the location"),
        request=request,
    )
    return alert


@transaction.atomic
def safety_alert_for_booking_reason(
    *,
    patient: Patient,
    appointment: Any,
    reason: str,
    help_with: str = "",
    request: HttpRequest | None = None,
) -> SafetyAlert | None:
    """Triage of a consultation booked online (``scheduling.booking.submit.booking_submit``, in
    its transaction): when what the booker wrote (``reason``) or chose as what they want
    help with (``help_with``, e.g. "Suicidal ideation") mentions suicide or self-harm
    (``mentions_self_harm``), raise the same alert as PHQ-9 question 9, for the clinicians
    of the patient's location, with the urgent on-call email. Returns the alert, or None
    when nothing was mentioned. The words stay on the alert, for the chart only (the
    appointment keeps them as its booking note, which ``scheduling.selectors.booking_note_for``
    then shows to clinicians only)."""
    reason = (reason or "").strip()
    if not mentions_self_harm(f"{help_with}\n{reason}"):
        return None
    lines = [f"Would like help with: {help_with}"] if help_with else []
    if reason:
        lines.append(f"In their words: “{reason}”")
    return safety_alert_raise(
        patient=patient,
        source=SafetyAlert.Source.BOOKING_REASON,
        appointment=appointment,
        reported_text="\n".join(lines),
        request=request,
    )


def booking_reason_alerted(appointment: Any) -> bool:
    """Whether booking ``appointment`` raised a safety alert, so the confirmation shows
    the crisis resources first. One query (none for an unsaved decoy)."""
    if appointment.pk is None:
        return False
    return SafetyAlert.objects.filter(
        appointment=appointment, source=SafetyAlert.Source.BOOKING_REASON
    ).exists()


@transaction.atomic
def safety_alert_resolve(
    *,
    actor: User,
    alert: SafetyAlert,
    follow_up_note: str,
    request: HttpRequest | None = None,
) -> SafetyAlert:
    """Record the clinician's follow-up of an alert, which closes it. The note is required;
    an alert closed already is refused (someone else got there first) and left as it was."""
    require(actor, Capability.RECORD_CLINICAL)
    note = (follow_up_note or "").strip()
    if not note:
        raise ValidationError(
            {
                "follow_up_note": [
                    "Write what was done: who contacted the patient, when, what they said and "
                    "what happens next."
                ]
            }
        )
    if len(note) > NOTE_MAX_LENGTH:
        raise ValidationError(
            {"follow_up_note": [f"Keep the note to {NOTE_MAX_LENGTH} characters or fewer."]}
        )
    current = (
        SafetyAlert.objects.select_for_update(of=("self",))
        .select_related("patient", "resolved_by")
        .get(pk=alert.pk)
    )
    if current.resolved_at is not None:
        raise ValidationError(
            {
                "follow_up_note": [
                    f"{current.resolved_by} already recorded the follow-up of this alert at "
                    f"{timezone.localtime(current.resolved_at):%Y-%m-%d %H:%M}. Read their "
                    "note on the chart."
                ]
            }
        )
    current.resolved_by = actor
    current.resolved_at = timezone.now()
    current.follow_up_note = note
    current.save(update_fields=["resolved_by", "resolved_at", "follow_up_note"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"recorded the follow-up of a safety alert for patient {current.patient.public_id}",
        request=request,
    )
    for name in ("resolved_by", "resolved_at", "follow_up_note"):
        setattr(alert, name, getattr(current, name))
    return current


# --- Reads ----------------------------------------------------------------------------------


def safety_alert_for(user: Any, patient: Patient, public_id: uuid.UUID | str) -> SafetyAlert:
    """One of ``patient``'s alerts, for a clinician (the caller fetched the patient through
    ``patient_for``); 403 without clinical access, 404 if the patient has no such alert."""
    require(user, Capability.VIEW_CLINICAL)
    try:
        return SafetyAlert.objects.select_related("location", "resolved_by", "patient").get(
            patient=patient, public_id=public_id
        )
    except (SafetyAlert.DoesNotExist, ValueError, ValidationError):
        raise Http404("This patient has no such safety alert.") from None
