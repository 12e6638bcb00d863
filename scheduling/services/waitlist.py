"""The waitlist: patients waiting for an earlier time of one appointment type at one location.
Adding and removing them; who fits a freed time (``waitlist_matches``); offering it to the
first who does (queued to the patient in the same transaction) and taking an unanswered
offer back when the time is taken back (an undo)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, time

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability
from patients.models import Patient
from scheduling.message_queue import waitlist_offer_enqueue
from scheduling.models import BLOCKING, Appointment, AppointmentType, WaitlistEntry
from scheduling.services.booking_rules import eligibility_errors
from scheduling.services.checks import Errors, add_error, day_label, require_if_staff


@transaction.atomic
def waitlist_add(
    *,
    actor: User | None,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    earliest_date: date | None = None,
    latest_date: date | None = None,
    preferred_weekdays: Sequence[int] = (),
    preferred_after: time | None = None,
    preferred_before: time | None = None,
    request: HttpRequest | None = None,
) -> WaitlistEntry:
    """Put a patient on the waitlist for an earlier slot of ``appointment_type`` at
    ``location``: between the (local) dates given, on the weekdays given (0 = Monday; none
    means any), starting at or after ``preferred_after`` and before ``preferred_before``."""
    require_if_staff(actor, Capability.BOOK_APPOINTMENTS)
    errors: Errors = {}
    if not location.is_active:
        add_error(
            errors, "location", f"{location.name} is not taking bookings: choose another one."
        )
    today = location.local_now().date()
    if latest_date is not None and latest_date < today:
        add_error(
            errors, "latest_date", "That date has passed: choose a later one or leave it empty."
        )
    if earliest_date and latest_date and latest_date < earliest_date:
        add_error(errors, "latest_date", "The latest date is before the earliest: swap them.")
    weekdays = list(preferred_weekdays)
    if all(isinstance(day, int) and 0 <= day <= 6 for day in weekdays):
        weekdays = sorted(set(weekdays))
    else:
        add_error(errors, "preferred_weekdays", "Weekdays go from 0 (Monday) to 6 (Sunday).")
    if preferred_after and preferred_before and preferred_before <= preferred_after:
        add_error(
            errors,
            "preferred_before",
            f"“Before {preferred_before:%H:%M}” must be later than “after "
            f"{preferred_after:%H:%M}”: widen the window.",
        )
    for field, messages in eligibility_errors(patient, appointment_type).items():
        errors.setdefault(field, []).extend(messages)
    existing = (
        WaitlistEntry.objects.filter(
            patient=patient,
            location=location,
            appointment_type=appointment_type,
            state__in=[WaitlistEntry.State.WAITING, WaitlistEntry.State.OFFERED],
        )
        .order_by("created_at")
        .first()
    )
    if existing is not None:
        add_error(
            errors,
            "patient",
            f"The patient is already on the waitlist for {appointment_type.name.lower()} at "
            f"{location.name} (since "
            f"{day_label(existing.created_at.astimezone(location.tz).date())})"
            ": change or remove that entry instead.",
        )
    if errors:
        raise ValidationError(errors)
    entry = WaitlistEntry.objects.create(
        patient=patient,
        location=location,
        appointment_type=appointment_type,
        earliest_date=earliest_date,
        latest_date=latest_date,
        preferred_weekdays=weekdays,
        preferred_after=preferred_after,
        preferred_before=preferred_before,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=entry,
        summary=f"added patient {patient.public_id} to the waitlist for {appointment_type.kind}",
        request=request,
    )
    return entry


@transaction.atomic
def waitlist_remove(
    *, actor: User | None, entry: WaitlistEntry, request: HttpRequest | None = None
) -> WaitlistEntry:
    """Take a waiting (or offered) patient off the waitlist."""
    require_if_staff(actor, Capability.BOOK_APPOINTMENTS)
    current = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if current.state not in (WaitlistEntry.State.WAITING, WaitlistEntry.State.OFFERED):
        raise ValidationError(
            {"state": [f"This entry is {current.get_state_display().lower()} already."]}
        )
    current.state = WaitlistEntry.State.REMOVED
    current.save(update_fields=["state"])
    entry.state = current.state
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"removed patient {current.patient.public_id} from the waitlist: changed state",
        request=request,
    )
    return current


def waitlist_matches(appointment: Appointment) -> list[WaitlistEntry]:
    """Who on the waitlist fits ``appointment``'s time, first come first: waiting entries of
    other patients for the same location and appointment type whose date window, weekdays
    and preferred start times (after ≤ start < before, local) include it, and who are free
    then. A read (one query); ``appointment_cancel`` and no-shows make the offer."""
    location = appointment.location
    start = appointment.starts_at.astimezone(location.tz)
    day, at = start.date(), start.time()
    busy = Appointment.objects.filter(
        BLOCKING,
        patient=OuterRef("patient"),
        starts_at__lt=appointment.blocks_until,
        blocks_until__gt=appointment.starts_at,
    ).exclude(pk=appointment.pk)
    entries = (
        WaitlistEntry.objects.filter(
            state=WaitlistEntry.State.WAITING,
            location_id=appointment.location_id,
            appointment_type_id=appointment.appointment_type_id,
        )
        .exclude(patient_id=appointment.patient_id)
        .filter(Q(earliest_date__isnull=True) | Q(earliest_date__lte=day))
        .filter(Q(latest_date__isnull=True) | Q(latest_date__gte=day))
        .filter(Q(preferred_weekdays=[]) | Q(preferred_weekdays__contains=[day.weekday()]))
        .filter(Q(preferred_after__isnull=True) | Q(preferred_after__lte=at))
        .filter(Q(preferred_before__isnull=True) | Q(preferred_before__gt=at))
        .exclude(Exists(busy))
        .select_related("patient", "location", "appointment_type")
        .order_by("created_at", "id")
    )
    return list(entries)


def offer_freed_time(
    appointment: Appointment, *, actor: User | None, request: HttpRequest | None
) -> WaitlistEntry | None:
    """Offer a freed time still to come to the first waitlisted patient who fits.

    The entry becomes OFFERED with ``offered_appointment`` set, and the offer is queued to
    the patient in this transaction (``scheduling.message_queue.waitlist_offer_enqueue``)."""
    if appointment.starts_at <= timezone.now():
        return None
    for entry in waitlist_matches(appointment):
        # Conditional update: two freed times never offer the same entry twice.
        offered = WaitlistEntry.objects.filter(
            pk=entry.pk, state=WaitlistEntry.State.WAITING
        ).update(state=WaitlistEntry.State.OFFERED, offered_appointment=appointment)
        if not offered:
            continue
        entry.state = WaitlistEntry.State.OFFERED
        entry.offered_appointment = appointment
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=entry,
            summary=f"offered a freed time to patient {entry.patient.public_id}: changed "
            "state, offered_appointment",
            request=request,
        )
        waitlist_offer_enqueue(entry, appointment)
        return entry
    return None


def withdraw_offers(appointment: Appointment, *, actor: User, request: HttpRequest | None) -> None:
    """Put waitlisted patients offered ``appointment``'s freed time back on the waitlist."""
    for entry in WaitlistEntry.objects.select_for_update().filter(
        offered_appointment=appointment, state=WaitlistEntry.State.OFFERED
    ):
        entry.state = WaitlistEntry.State.WAITING
        entry.offered_appointment = None
        entry.save(update_fields=["state", "offered_appointment"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=entry,
            summary=f"withdrew the offer of a freed time from patient {entry.patient.public_id}:"
            " changed state, offered_appointment",
            request=request,
        )
