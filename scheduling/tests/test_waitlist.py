"""The waitlist: who is added, who fits a freed time, and who is offered it."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import AppointmentStatus, WaitlistEntry
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.services.waitlist import waitlist_add, waitlist_matches, waitlist_remove
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, book, cleared_for_infusions, next_week, riverside_for

State = WaitlistEntry.State


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory()


def wait(patient, location, kind="consultation", **fields) -> WaitlistEntry:
    """A waitlist entry written directly (the scene, not the subject)."""
    return WaitlistEntry.objects.create(
        patient=patient, location=location, appointment_type=appointment_type(kind), **fields
    )


# --- Adding --------------------------------------------------------------------------------------


def test_it_adds_a_patient_with_their_preferences_and_records_it(fran, riverside, jordan):
    day = next_week(riverside)

    entry = waitlist_add(
        actor=fran,
        patient=jordan,
        location=riverside,
        appointment_type=appointment_type("consultation"),
        earliest_date=day,
        latest_date=day + timedelta(days=14),
        preferred_weekdays=[4, 0, 0],
        preferred_after=time(9),
        preferred_before=time(12),
    )

    entry.refresh_from_db()
    assert entry.state == State.WAITING
    assert entry.preferred_weekdays == [0, 4]
    assert entry.created_by == fran
    event = AuditEvent.objects.get(action=Action.CREATE, object_type="scheduling.waitlistentry")
    assert event.object_id == str(entry.public_id)
    assert str(jordan.public_id) in event.summary


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (
            {"latest_date": -1},
            "latest_date",
            "That date has passed: choose a later one or leave it empty.",
        ),
        (
            {"earliest_date": 10, "latest_date": 5},
            "latest_date",
            "The latest date is before the earliest: swap them.",
        ),
        (
            {"preferred_weekdays": [7]},
            "preferred_weekdays",
            "Weekdays go from 0 (Monday) to 6 (Sunday).",
        ),
        (
            {"preferred_after": time(12), "preferred_before": time(9)},
            "preferred_before",
            "“Before 09:00” must be later than “after 12:00”: widen the window.",
        ),
    ],
)
def test_it_refuses_a_window_that_cannot_match(fran, riverside, jordan, fields, field, message):
    today = riverside.local_now().date()
    for name in ("earliest_date", "latest_date"):
        if name in fields:
            fields[name] = today + timedelta(days=fields[name])

    with pytest.raises(ValidationError) as caught:
        waitlist_add(
            actor=fran,
            patient=jordan,
            location=riverside,
            appointment_type=appointment_type("consultation"),
            **fields,
        )

    assert caught.value.message_dict[field] == [message]
    assert not WaitlistEntry.objects.exists()


def test_a_patient_is_on_the_waitlist_once_per_location_and_type(fran, riverside, jordan):
    consultation = appointment_type("consultation")
    waitlist_add(actor=fran, patient=jordan, location=riverside, appointment_type=consultation)

    with pytest.raises(ValidationError) as caught:
        waitlist_add(actor=fran, patient=jordan, location=riverside, appointment_type=consultation)

    [message] = caught.value.message_dict["patient"]
    assert message.startswith(
        "The patient is already on the waitlist for consultation at Riverside (since "
    )
    assert message.endswith("): change or remove that entry instead.")
    assert WaitlistEntry.objects.count() == 1


def test_an_infusion_waitlist_needs_what_an_infusion_booking_needs(fran, riverside, jordan):
    with pytest.raises(ValidationError) as caught:
        waitlist_add(
            actor=fran,
            patient=jordan,
            location=riverside,
            appointment_type=appointment_type("infusion"),
        )

    assert len(caught.value.message_dict["patient"]) == 2


def test_content_editors_cannot_add_to_the_waitlist(edie, riverside, jordan):
    with pytest.raises(PermissionDenied):
        waitlist_add(
            actor=edie,
            patient=jordan,
            location=riverside,
            appointment_type=appointment_type("consultation"),
        )


def test_it_removes_an_entry_once(fran, riverside, jordan):
    entry = wait(jordan, riverside)

    waitlist_remove(actor=fran, entry=entry)

    assert entry.state == State.REMOVED
    with pytest.raises(ValidationError):
        waitlist_remove(actor=fran, entry=entry)


# --- Who fits a freed time -------------------------------------------------------------------

# A consultation at 10:00 next week is freed; (entry fields, does it fit?). Dates are days
# from that day, weekdays days from its weekday.
MATCHES = [
    ({}, True),
    ({"earliest_date": 0, "latest_date": 0}, True),
    ({"earliest_date": 1}, False),
    ({"latest_date": -1}, False),
    ({"preferred_weekdays": [0]}, True),
    ({"preferred_weekdays": [0, 1, 2]}, True),
    ({"preferred_weekdays": [1, 2]}, False),
    ({"preferred_after": time(10)}, True),
    ({"preferred_after": time(10, 15)}, False),
    ({"preferred_before": time(10, 15)}, True),
    ({"preferred_before": time(10)}, False),
    ({"preferred_after": time(9), "preferred_before": time(11)}, True),
    ({"state": State.OFFERED}, False),
    ({"state": State.REMOVED}, False),
    ({"kind": "follow_up"}, False),
    ({"elsewhere": True}, False),
]


@pytest.mark.parametrize(("fields", "fits"), MATCHES)
def test_who_fits_a_freed_time(nina, phil, riverside, jordan, fields, fits):
    day = next_week(riverside)
    freed = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        starts_at=at(riverside, day, 10),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Unwell",
    )
    fields = dict(fields)
    kind = fields.pop("kind", "consultation")
    location = (
        riverside_for(nina, phil, name="Mesa") if fields.pop("elsewhere", False) else riverside
    )
    for name in ("earliest_date", "latest_date"):
        if name in fields:
            fields[name] = day + timedelta(days=fields[name])
    if "preferred_weekdays" in fields:
        fields["preferred_weekdays"] = [
            (day.weekday() + n) % 7 for n in fields["preferred_weekdays"]
        ]
    entry = wait(jordan, location, kind, **fields)

    assert waitlist_matches(freed) == ([entry] if fits else [])


def test_the_patient_who_cancelled_is_not_offered_their_own_time(riverside, jordan):
    freed = AppointmentFactory(
        patient=jordan,
        location=riverside,
        appointment_type=appointment_type("consultation"),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Unwell",
    )
    wait(jordan, riverside)

    assert waitlist_matches(freed) == []


def test_a_patient_busy_at_that_time_does_not_fit(riverside, jordan):
    freed = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Unwell",
    )
    AppointmentFactory(
        patient=jordan,
        location=riverside,
        appointment_type=appointment_type("follow_up"),
        starts_at=freed.starts_at + timedelta(minutes=15),
    )
    wait(jordan, riverside)

    assert waitlist_matches(freed) == []


def test_matches_come_first_come_first_served_in_one_query(riverside, django_assert_num_queries):
    freed = AppointmentFactory(
        location=riverside, appointment_type=appointment_type("consultation")
    )
    entries = [wait(PatientFactory(), riverside) for _ in range(4)]

    with django_assert_num_queries(1):
        matches = waitlist_matches(freed)
        [entry.patient.legal_last_name for entry in matches]

    assert matches == entries


# --- Offers ---------------------------------------------------------------------------------


def test_cancelling_offers_the_freed_time_to_the_first_who_fits(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside, hour=10)
    wait(PatientFactory(), riverside, preferred_after=time(15))  # does not fit
    first = wait(PatientFactory(), riverside)
    second = wait(PatientFactory(), riverside)

    appointment_cancel(actor=fran, appointment=appointment, reason="Patient unwell")

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.offered_appointment) == (State.OFFERED, appointment)
    assert second.state == State.WAITING
    event = AuditEvent.objects.get(object_type="scheduling.waitlistentry")
    assert event.object_id == str(first.public_id)
    assert event.actor == fran


def test_two_freed_times_go_to_two_patients(fran, riverside, jordan):
    one = book(fran, jordan, riverside, hour=10)
    two = book(fran, PatientFactory(), riverside, hour=11)
    first = wait(PatientFactory(), riverside)
    second = wait(PatientFactory(), riverside)

    appointment_cancel(actor=fran, appointment=one, reason="Unwell")
    appointment_cancel(actor=fran, appointment=two, reason="Unwell")

    assert WaitlistEntry.objects.get(pk=first.pk).offered_appointment == one
    assert WaitlistEntry.objects.get(pk=second.pk).offered_appointment == two


def test_a_time_already_past_is_offered_to_nobody(fran, riverside, jordan):
    appointment = AppointmentFactory(
        patient=jordan,
        location=riverside,
        appointment_type=appointment_type("consultation"),
        starts_at=timezone.now() - timedelta(hours=1),
    )
    entry = wait(PatientFactory(), riverside)

    appointment_set_status(actor=fran, appointment=appointment, status=AppointmentStatus.NO_SHOW)

    entry.refresh_from_db()
    assert entry.state == State.WAITING
    assert entry.offered_appointment is None


def test_an_infusion_time_is_offered_to_a_cleared_patient_waiting_for_one(nina, phil, riverside):
    appointment = book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=9)
    waiting = cleared_for_infusions(phil)
    entry = waitlist_add(
        actor=nina,
        patient=waiting,
        location=riverside,
        appointment_type=appointment_type("infusion"),
    )

    appointment_cancel(actor=nina, appointment=appointment, reason="Unwell")

    entry.refresh_from_db()
    assert entry.state == State.OFFERED
