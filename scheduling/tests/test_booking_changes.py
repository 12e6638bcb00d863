"""Changing a booking: cancel, reschedule, and move an appointment through its statuses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from infusions.models import InfusionSession
from patients.models import Patient
from patients.services.consent import consent_document_create_draft, consent_document_publish
from patients.tests.factories import PatientFactory
from scheduling.models import BLOCKING, Appointment, AppointmentStatus
from scheduling.services.book_and_reschedule import appointment_reschedule
from scheduling.services.free_time import SlotTaken
from scheduling.services.online_changes import appointment_patient_may_change
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.services.status_rules import appointment_next_statuses
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, book, cleared_for_infusions, next_week, riverside_for
from tests.clock import travel_to

S = AppointmentStatus


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil)


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory()


def update_events() -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=Action.UPDATE, object_type="scheduling.appointment")
    )


# --- Cancelling --------------------------------------------------------------------------------


def test_it_cancels_with_a_reason_and_records_it_without_the_reason(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)

    appointment_cancel(actor=fran, appointment=appointment, reason="  Patient   unwell ")

    appointment.refresh_from_db()
    assert appointment.status == S.CANCELLED
    assert appointment.cancel_reason == "Patient unwell"
    [event] = update_events()
    assert event.actor == fran
    assert event.object_id == str(appointment.public_id)
    assert "unwell" not in event.summary
    assert str(jordan.public_id) in event.summary


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_cancellation_needs_a_reason(fran, riverside, jordan, reason):
    appointment = book(fran, jordan, riverside)

    with pytest.raises(ValidationError) as caught:
        appointment_cancel(actor=fran, appointment=appointment, reason=reason)

    assert caught.value.message_dict["reason"] == [
        "Say why the appointment is cancelled, for example “patient unwell”."
    ]
    appointment.refresh_from_db()
    assert appointment.status == S.BOOKED
    assert update_events() == []


def test_a_reason_longer_than_the_field_is_refused(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)

    with pytest.raises(ValidationError) as caught:
        appointment_cancel(actor=fran, appointment=appointment, reason="x" * 201)

    assert caught.value.message_dict["reason"] == [
        "Keep the reason to 200 characters (it has 201)."
    ]


def test_it_refuses_to_cancel_twice(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    appointment_cancel(actor=fran, appointment=appointment, reason="Patient unwell")

    with pytest.raises(ValidationError) as caught:
        appointment_cancel(actor=fran, appointment=appointment, reason="Again")

    assert caught.value.message_dict["status"] == ["This appointment is cancelled already."]
    appointment.refresh_from_db()
    assert appointment.cancel_reason == "Patient unwell"


def test_content_editors_cannot_cancel(fran, edie, riverside, jordan):
    appointment = book(fran, jordan, riverside)

    with pytest.raises(PermissionDenied):
        appointment_cancel(actor=edie, appointment=appointment, reason="No")


def test_cancelling_frees_the_chair_for_another_booking(nina, phil, riverside, cleared):
    appointment = book(nina, cleared, riverside, "infusion", hour=10)
    other = cleared_for_infusions(phil)
    with pytest.raises(SlotTaken):
        book(nina, other, riverside, "infusion", hour=10)

    appointment_cancel(actor=nina, appointment=appointment, reason="Patient unwell")

    assert book(nina, other, riverside, "infusion", hour=10).chair == appointment.chair


# --- Rescheduling ------------------------------------------------------------------------------


def test_it_moves_an_appointment_and_frees_the_old_time(nina, phil, riverside, cleared):
    day = next_week(riverside)
    appointment = book(nina, cleared, riverside, "infusion", hour=10, day=day)
    public_id = appointment.public_id

    moved = appointment_reschedule(
        actor=nina, appointment=appointment, starts_at=at(riverside, day + timedelta(days=1), 14)
    )

    assert moved.public_id == public_id
    assert appointment.starts_at == at(riverside, day + timedelta(days=1), 14)
    moved.refresh_from_db()
    assert moved.starts_at == at(riverside, day + timedelta(days=1), 14)
    assert moved.blocks_until == moved.starts_at + timedelta(minutes=85)
    assert moved.status == S.BOOKED
    # Somebody else may now have the old time.
    assert book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=10, day=day)
    [event] = update_events()
    assert event.summary.startswith(f"rescheduled for patient {cleared.public_id}: changed ")
    assert "starts_at" in event.summary


def test_it_moves_an_appointment_to_a_time_overlapping_its_own(nina, riverside, cleared):
    """The only chair is the appointment's own: moving by half an hour must not clash with
    itself."""
    day = next_week(riverside)
    appointment = book(nina, cleared, riverside, "infusion", hour=10, day=day)

    appointment_reschedule(
        actor=nina, appointment=appointment, starts_at=at(riverside, day, 10, 30)
    )

    appointment.refresh_from_db()
    assert appointment.starts_at == at(riverside, day, 10, 30)
    assert appointment.chair == riverside.chairs.get()


def test_a_failed_reschedule_changes_nothing(nina, phil, riverside, cleared):
    day = next_week(riverside)
    appointment = book(nina, cleared, riverside, "infusion", hour=9, day=day)
    book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=14, day=day)

    with pytest.raises(SlotTaken) as caught:
        appointment_reschedule(
            actor=nina, appointment=appointment, starts_at=at(riverside, day, 14)
        )

    assert caught.value.alternatives
    assert at(riverside, day, 14) not in [slot.starts_at for slot in caught.value.alternatives]
    appointment.refresh_from_db()
    assert appointment.starts_at == at(riverside, day, 9)
    assert appointment.status == S.BOOKED
    # The old time is still held.
    with pytest.raises(SlotTaken):
        book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=9, day=day)
    assert update_events() == []


def test_a_reschedule_into_the_past_or_after_closing_is_refused(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    yesterday = riverside.local_now().date() - timedelta(days=1)

    with pytest.raises(ValidationError) as caught:
        appointment_reschedule(
            actor=fran, appointment=appointment, starts_at=at(riverside, yesterday, 10)
        )
    assert caught.value.message_dict["starts_at"] == ["That time has passed: choose a later one."]

    with pytest.raises(ValidationError) as caught:
        appointment_reschedule(
            actor=fran, appointment=appointment, starts_at=at(riverside, next_week(riverside), 20)
        )
    assert "outside Riverside's opening hours" in caught.value.message_dict["starts_at"][0]


def test_only_a_booked_appointment_can_be_moved(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    appointment_set_status(actor=fran, appointment=appointment, status=S.CHECKED_IN)

    with pytest.raises(ValidationError) as caught:
        appointment_reschedule(
            actor=fran,
            appointment=appointment,
            starts_at=at(riverside, next_week(riverside), 15),
        )

    assert caught.value.message_dict["status"] == [
        "Only a booked appointment can be moved; this one is checked in. Book a new "
        "appointment instead."
    ]


def test_moving_to_the_same_time_is_refused(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)

    with pytest.raises(ValidationError) as caught:
        appointment_reschedule(actor=fran, appointment=appointment, starts_at=appointment.starts_at)

    assert caught.value.message_dict["starts_at"] == [
        "The appointment is already at that time: choose another one."
    ]


# --- Statuses ----------------------------------------------------------------------------------

# (kind, from, to, None when allowed or a phrase of the refusal). An infusion's clinical
# moves go through its session (tests/test_one_clinical_day.py, test_board_actions.py); here
# are the appointment's own moves and the refusals either layer gives.
TRANSITIONS = [
    ("infusion", S.BOOKED, S.NO_SHOW, None),
    ("consultation", S.BOOKED, S.CHECKED_IN, None),
    ("consultation", S.CHECKED_IN, S.DISCHARGED, None),
    ("follow_up", S.BOOKED, S.NO_SHOW, None),
    ("infusion", S.BOOKED, S.INFUSING, "The patient hasn't checked in yet: check them in first."),
    ("infusion", S.BOOKED, S.DISCHARGED, "hasn't checked in yet"),
    ("infusion", S.CHECKED_IN, S.DISCHARGED, "can't become discharged"),
    ("infusion", S.CHECKED_IN, S.RECOVERING, "can't become recovering"),
    ("infusion", S.INFUSING, S.DISCHARGED, "can't become discharged"),
    ("infusion", S.CHECKED_IN, S.NO_SHOW, "so they came: they can't be a no-show"),
    ("infusion", S.RECOVERING, S.CHECKED_IN, "can't become checked in"),
    ("infusion", S.RECOVERING, S.BOOKED, "can't go back to booked"),
    ("consultation", S.CHECKED_IN, S.INFUSING, "A consultation has no infusion"),
    ("infusion", S.BOOKED, S.BOOKED, "This appointment is booked already."),
    ("infusion", S.DISCHARGED, S.CHECKED_IN, "discharged, which is final"),
    ("infusion", S.NO_SHOW, S.CHECKED_IN, "no-show"),
    ("infusion", S.CANCELLED, S.BOOKED, "cancelled, which is final"),
]


@pytest.mark.parametrize(("kind", "current", "status", "refusal"), TRANSITIONS)
def test_status_transitions(nina, phil, riverside, kind, current, status, refusal):
    patient = cleared_for_infusions(phil)
    appointment = AppointmentFactory(
        patient=patient,
        location=riverside,
        appointment_type=appointment_type(kind),
        status=current,
        cancel_reason="Unwell" if current == S.CANCELLED else "",
    )
    travel_to(appointment.starts_at + timedelta(minutes=20))  # late, so a no-show may be marked

    if refusal is None:
        appointment_set_status(actor=nina, appointment=appointment, status=status)
        appointment.refresh_from_db()
        assert appointment.status == status
        [event] = update_events()
        assert event.summary == (
            f"changed status from {current} to {status} for patient {patient.public_id}"
        )
    else:
        with pytest.raises(ValidationError) as caught:
            appointment_set_status(actor=nina, appointment=appointment, status=status)
        [message] = caught.value.message_dict["status"]
        assert refusal in message
        appointment.refresh_from_db()
        assert appointment.status == current
        assert update_events() == []


@pytest.mark.parametrize(
    ("kind", "current", "expected"),
    [
        ("infusion", S.BOOKED, [S.CHECKED_IN, S.NO_SHOW, S.CANCELLED]),
        ("infusion", S.CHECKED_IN, [S.INFUSING]),
        ("infusion", S.RECOVERING, [S.DISCHARGED]),
        ("consultation", S.CHECKED_IN, [S.DISCHARGED, S.CANCELLED]),
        ("consultation", S.DISCHARGED, []),
    ],
)
def test_it_lists_the_next_statuses_for_the_day_board(riverside, kind, current, expected):
    appointment = AppointmentFactory(
        location=riverside, appointment_type=appointment_type(kind), status=current
    )

    assert appointment_next_statuses(appointment) == expected


def test_a_visit_may_be_cancelled_through_a_status_change(nina, riverside, cleared):
    appointment = AppointmentFactory(
        patient=cleared,
        location=riverside,
        appointment_type=appointment_type("consultation"),
        status=S.CHECKED_IN,
    )

    appointment_set_status(
        actor=nina, appointment=appointment, status=S.CANCELLED, reason="Vomiting"
    )

    appointment.refresh_from_db()
    assert (appointment.status, appointment.cancel_reason) == (S.CANCELLED, "Vomiting")


def test_an_infusion_under_way_is_not_cancelled_its_session_decides(nina, riverside, cleared):
    appointment = AppointmentFactory(patient=cleared, location=riverside, status=S.INFUSING)

    with pytest.raises(ValidationError) as caught:
        appointment_set_status(
            actor=nina, appointment=appointment, status=S.CANCELLED, reason="Vomiting"
        )

    assert "the infusion session decides" in caught.value.message_dict["status"][0]
    appointment.refresh_from_db()
    assert appointment.status == S.INFUSING


def test_a_status_change_to_cancelled_still_needs_a_reason(nina, riverside, cleared):
    appointment = AppointmentFactory(patient=cleared, location=riverside)

    with pytest.raises(ValidationError) as caught:
        appointment_set_status(actor=nina, appointment=appointment, status=S.CANCELLED)

    assert "reason" in caught.value.message_dict


def test_an_unknown_status_is_refused_with_the_choices(nina, riverside, cleared):
    appointment = AppointmentFactory(patient=cleared, location=riverside)

    with pytest.raises(ValidationError) as caught:
        appointment_set_status(actor=nina, appointment=appointment, status="teleported")

    assert caught.value.message_dict["status"] == [
        "“teleported” is not an appointment status: use one of booked, checked in, infusing, "
        "recovering, discharged, no-show, cancelled."
    ]


def test_an_infusion_cannot_start_once_the_consent_signed_is_replaced(
    alice, nina, riverside, cleared
):
    appointment = AppointmentFactory(patient=cleared, location=riverside, status=S.CHECKED_IN)
    # Checks passed (the session's state, written as a test shortcut): only consent is left.
    InfusionSession.objects.filter(appointment=appointment).update(state="pre_assessment_passed")
    draft = consent_document_create_draft(
        actor=alice,
        title="Consent to treatment",
        introduction="Please read.",
        sections=[{"heading": "New risks", "text": "Something new to know."}],
    )
    consent_document_publish(actor=alice, document=draft)

    with pytest.raises(ValidationError) as caught:
        appointment_set_status(actor=nina, appointment=appointment, status=S.INFUSING)

    [message] = caught.value.message_dict["status"]
    assert "Consent: The patient signed version 1, which" in message
    appointment.refresh_from_db()
    assert appointment.status == S.CHECKED_IN


def test_the_front_desk_checks_in_but_does_not_start_infusions(fran, riverside, cleared):
    # At 10:00 on the location's clock: ten minutes before is the same local day, whatever
    # the hour the test runs at.
    appointment = AppointmentFactory(
        patient=cleared, location=riverside, starts_at=at(riverside, next_week(riverside), 10)
    )
    travel_to(appointment.starts_at - timedelta(minutes=10))
    appointment_set_status(actor=fran, appointment=appointment, status=S.CHECKED_IN)

    with pytest.raises(PermissionDenied):
        appointment_set_status(actor=fran, appointment=appointment, status=S.INFUSING)

    appointment.refresh_from_db()
    assert appointment.status == S.CHECKED_IN


def test_the_front_desk_ends_a_consultation(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    appointment_set_status(actor=fran, appointment=appointment, status=S.CHECKED_IN)
    with pytest.raises(ValidationError, match="too early to mark the visit done"):
        appointment_set_status(actor=fran, appointment=appointment, status=S.DISCHARGED)
    travel_to(appointment.starts_at)
    appointment_set_status(actor=fran, appointment=appointment, status=S.DISCHARGED)

    assert Appointment.objects.get().status == S.DISCHARGED


def test_a_no_show_blocks_nothing(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside, hour=10)
    travel_to(appointment.starts_at + timedelta(minutes=20))  # the patient has not come
    appointment_set_status(actor=fran, appointment=appointment, status=S.NO_SHOW)

    assert not Appointment.objects.filter(BLOCKING, pk=appointment.pk).exists()
    same_time = AppointmentFactory(  # the database's exclusion constraints let it through
        patient=jordan, location=riverside, starts_at=appointment.starts_at
    )
    assert same_time.pk


def test_a_stale_copy_cannot_undo_a_newer_status(fran, nina, riverside, cleared):
    """Two people act on the same appointment from pages loaded earlier: the row is re-read
    under a lock, so the second action is judged against what the first one did."""
    appointment = AppointmentFactory(
        patient=cleared, location=riverside, starts_at=timezone.now() + timedelta(hours=1)
    )
    stale = Appointment.objects.get(pk=appointment.pk)
    appointment_cancel(actor=fran, appointment=appointment, reason="Called in sick")

    with pytest.raises(ValidationError):
        appointment_set_status(actor=nina, appointment=stale, status=S.CHECKED_IN)

    assert Appointment.objects.get().status == S.CANCELLED


# --- What a patient may change through a manage link ------------------------------------------


def test_a_patient_may_change_a_booking_until_the_notice_period(riverside, jordan):
    later = AppointmentFactory(
        patient=jordan, location=riverside, starts_at=timezone.now() + timedelta(hours=25)
    )
    soon = AppointmentFactory(
        patient=PatientFactory(),
        location=riverside,
        starts_at=timezone.now() + timedelta(hours=23),
    )

    assert appointment_patient_may_change(later) == (True, "")
    assert appointment_patient_may_change(soon) == (
        False,
        "Appointments can be changed online up to 24 hours before they start. Call Riverside "
        "on +13125550100 to change this one.",
    )


def test_a_patient_cannot_change_a_cancelled_booking(riverside, jordan):
    cancelled = AppointmentFactory(
        patient=jordan,
        location=riverside,
        starts_at=timezone.now() + timedelta(days=3),
        status=S.CANCELLED,
        cancel_reason="Unwell",
    )

    allowed, reason = appointment_patient_may_change(cancelled)

    assert not allowed
    assert reason.startswith("This appointment is cancelled, so it can't be changed online.")


def test_a_patient_moving_online_stays_inside_the_booking_horizon(riverside, jordan):
    appointment = book(None, jordan, riverside, source=Appointment.Source.ONLINE)
    far = riverside.local_now().date() + timedelta(days=45)

    with pytest.raises(ValidationError) as caught:
        appointment_reschedule(
            actor=None, appointment=appointment, starts_at=at(riverside, far, 10)
        )

    assert caught.value.message_dict["starts_at"][0].startswith(
        "Online booking is open for the next 30 days"
    )


def test_staff_may_move_an_online_booking_beyond_the_horizon(fran, riverside, jordan):
    appointment = book(None, jordan, riverside, source=Appointment.Source.ONLINE)
    far = riverside.local_now().date() + timedelta(days=45)

    appointment_reschedule(actor=fran, appointment=appointment, starts_at=at(riverside, far, 10))

    assert appointment.starts_at == at(riverside, far, 10)
