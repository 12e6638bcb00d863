"""The scheduling API: /api/v1/slots/ and /api/v1/appointments/.

Who may call what; bookings through the same service as the staff pages, answered 409
with the nearest free times when the time is taken; bad input answered with a field error
and nothing saved; status changes; every read and write in the audit log; every endpoint
in the OpenAPI schema.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import override_settings

from clinic.models import AuditEvent, Location
from patients.models import Patient
from patients.tests.factories import PatientFactory, ScreeningDecisionFactory
from scheduling.models import Appointment, AppointmentStatus, WaitlistEntry
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, cleared_for_infusions, next_week, riverside_for
from tests.api_tokens import api_key_for
from tests.clock import travel_to

# The session and the signed-in user; the page of appointments with what each shows joined
# in (never counted: clinic.api.pagination); the audit event; the session's last-activity
# update (savepoint, update, release). The same however many appointments.
LIST_QUERIES = 7
# The session and the user; the location, the appointment type and the patient named; the
# opening hours, closures, shifts and appointments of the whole range (a consultation needs
# no chair); the session's last-activity update. The same however many appointments.
SLOT_QUERIES = 12

STAFF = ["fran", "nina", "phil", "alice"]


def post(client, url: str, data: dict | None = None, **extra):
    return client.post(url, data or {}, content_type="application/json", **extra)


def utc(moment: datetime) -> str:
    """How the API writes an instant: ISO 8601 in UTC."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def local(moment: datetime, location: Location) -> str:
    return moment.astimezone(location.tz).isoformat()


def booking(patient: Patient, location: Location, kind: str = "consultation", **fields) -> dict:
    """A booking request for ``kind`` at 10:00 a week from now, local time."""
    starts_at = fields.pop("starts_at", None) or at(location, next_week(location), 10)
    return {
        "patient": str(patient.public_id),
        "location": str(location.public_id),
        "type": kind,
        "starts_at": starts_at.isoformat() if isinstance(starts_at, datetime) else starts_at,
    } | fields


def book(client, patient: Patient, location: Location, kind: str = "consultation", **fields):
    return post(client, "/api/v1/appointments/", booking(patient, location, kind, **fields))


def slot_times(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [slot["starts_at"] for slot in response.json()]


def events(action: str, object_type: str = "scheduling.appointment"):
    return AuditEvent.objects.filter(action=action, object_type=object_type)


@pytest.fixture
def riverside(nina, phil) -> Location:
    """Open 08:00 to 18:00 every day, one chair, Nina and Phil on shift all day."""
    return riverside_for(nina, phil)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


@pytest.fixture
def appointment(riverside, jordan) -> Appointment:
    """A consultation at 09:00 a week from now."""
    return AppointmentFactory(
        location=riverside,
        patient=jordan,
        appointment_type=appointment_type("consultation"),
        starts_at=at(riverside, next_week(riverside), 9),
    )


@pytest.fixture
def infusion(riverside, cleared, nina) -> Appointment:
    """An infusion at 11:00 a week from now, in Riverside's chair, with Nina."""
    return AppointmentFactory(
        location=riverside,
        patient=cleared,
        chair=riverside.chairs.get(),
        clinician=nina,
        starts_at=at(riverside, next_week(riverside), 11),
    )


# --- Who may call what ------------------------------------------------------------------------


def reads(riverside: Location, appointment: Appointment) -> list[str]:
    slots = f"/api/v1/slots/?location={riverside.public_id}&type=consultation"
    return [slots, "/api/v1/appointments/", f"/api/v1/appointments/{appointment.public_id}/"]


def writes(riverside: Location, jordan: Patient, appointment: Appointment) -> list[tuple]:
    base = f"/api/v1/appointments/{appointment.public_id}/"
    return [
        (
            "/api/v1/appointments/",
            booking(jordan, riverside, starts_at=at(riverside, next_week(riverside), 14)),
        ),
        (f"{base}status/", {"status": "checked_in"}),
        (f"{base}cancel/", {"reason": "Patient unwell"}),
        (f"{base}reschedule/", {"starts_at": at(riverside, next_week(riverside), 15).isoformat()}),
    ]


def unchanged(appointment: Appointment) -> bool:
    before = (appointment.status, appointment.starts_at)
    appointment.refresh_from_db()
    return (
        Appointment.objects.count() == 1 and (appointment.status, appointment.starts_at) == before
    )


def test_it_refuses_anonymous_callers_and_changes_nothing(client, riverside, jordan, appointment):
    for url in reads(riverside, appointment):
        assert client.get(url).status_code == 401, url
    for url, data in writes(riverside, jordan, appointment):
        assert post(client, url, data).status_code == 401, url
    assert unchanged(appointment)
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("persona", ["edie", "olga"])
def test_it_refuses_content_editors_and_former_staff_everything(
    request, client, riverside, jordan, appointment, persona
):
    client.force_login(request.getfixturevalue(persona))

    for url in reads(riverside, appointment):
        assert client.get(url).status_code in (401, 403), url
    for url, data in writes(riverside, jordan, appointment):
        assert post(client, url, data).status_code in (401, 403), url
    assert unchanged(appointment)
    assert not AuditEvent.objects.filter(object_type__startswith="scheduling.").exists()


@pytest.mark.parametrize("persona", STAFF)
def test_staff_who_view_the_schedule_read_slots_and_appointments(
    request, client, riverside, appointment, persona
):
    client.force_login(request.getfixturevalue(persona))

    for url in reads(riverside, appointment):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("persona", STAFF)
def test_staff_who_book_may_book_move_and_cancel(
    request, client, riverside, jordan, appointment, persona
):
    client.force_login(request.getfixturevalue(persona))
    base = f"/api/v1/appointments/{appointment.public_id}/"
    later = at(riverside, next_week(riverside), 15).isoformat()

    booked = book(
        client, PatientFactory(), riverside, starts_at=at(riverside, next_week(riverside), 13)
    )
    moved = post(client, f"{base}reschedule/", {"starts_at": later})
    cancelled = post(client, f"{base}cancel/", {"reason": "Patient unwell"})

    assert booked.status_code == 201, booked.json()
    assert moved.status_code == 200, moved.json()
    assert cancelled.status_code == 200, cancelled.json()


def test_the_front_desk_checks_in_but_may_not_start_an_infusion(client, fran, infusion):
    travel_to(infusion.starts_at - timedelta(minutes=10))
    client.force_login(fran)
    url = f"/api/v1/appointments/{infusion.public_id}/status/"

    checked_in = post(client, url, {"status": "checked_in"})
    started = post(client, url, {"status": "infusing"})

    assert checked_in.status_code == 200
    assert started.status_code == 403
    assert "nurses and physicians" in started.json()["detail"]
    infusion.refresh_from_db()
    assert infusion.status == AppointmentStatus.CHECKED_IN


def test_it_works_with_a_token_and_no_session(client, fran, riverside, jordan):
    key = api_key_for(fran)

    response = post(
        client,
        "/api/v1/appointments/",
        booking(jordan, riverside),
        HTTP_AUTHORIZATION=f"Token {key}",
    )

    assert response.status_code == 201, response.json()
    assert Appointment.objects.get().created_by == fran


# --- Free slots ---------------------------------------------------------------------------------


def slots(client, location: Location, kind: str = "consultation", **params):
    return client.get(
        "/api/v1/slots/", {"location": str(location.public_id), "type": kind} | params
    )


def test_it_lists_a_days_free_consultations_in_utc_with_the_local_start(
    client, fran, phil, riverside
):
    client.force_login(fran)
    day = next_week(riverside)

    response = slots(client, riverside, **{"from": day, "to": day})

    assert response.status_code == 200
    found = response.json()
    # 08:00, 08:15, … 17:15: the last one ends at closing time.
    assert len(found) == 38
    first = found[0]
    assert first["starts_at"] == utc(at(riverside, day, 8))
    assert first["local_start"] == local(at(riverside, day, 8), riverside)
    assert first["local_start"].startswith(f"{day.isoformat()}T08:00:00-0")
    assert first["ends_at"] == utc(at(riverside, day, 8, 45))
    assert first["blocks_until"] == first["ends_at"]
    assert first["clinician"] == {"id": str(phil.public_id), "full_name": "Phil Physician"}
    assert first["chair"] is None
    assert first["location"] == {
        "id": str(riverside.public_id),
        "name": "Riverside",
        "time_zone": "America/Chicago",
    }
    assert found[-1]["starts_at"] == utc(at(riverside, day, 17, 15))


def test_infusion_slots_name_the_chair_and_the_nurse_and_include_recovery(client, nina, riverside):
    client.force_login(nina)
    day = next_week(riverside)

    found = slots(client, riverside, "infusion", **{"from": day, "to": day}).json()

    assert found[0]["chair"] == {"id": str(riverside.chairs.get().public_id), "name": "Chair 1"}
    assert found[0]["clinician"]["full_name"] == "Nina Nurse"
    assert found[0]["blocks_until"] == utc(at(riverside, day, 9, 25))
    # 40 minutes in the chair and 45 of recovery must end by 18:00.
    assert found[-1]["starts_at"] == utc(at(riverside, day, 16, 30))


def test_slots_leave_out_the_times_taken(client, fran, riverside, infusion):
    client.force_login(fran)
    day = next_week(riverside)

    times = slot_times(slots(client, riverside, "infusion", **{"from": day, "to": day}))

    # The only chair is taken 11:00 to 12:25.
    assert utc(at(riverside, day, 9, 30)) in times
    assert utc(at(riverside, day, 9, 45)) not in times
    assert utc(at(riverside, day, 12, 15)) not in times
    assert utc(at(riverside, day, 12, 30)) in times


def test_with_a_patient_it_lists_only_times_they_are_free(client, fran, nina, riverside, jordan):
    lakeside = riverside_for(nina, name="Lakeside")
    AppointmentFactory(
        location=lakeside,
        patient=jordan,
        appointment_type=appointment_type("consultation"),
        starts_at=at(lakeside, next_week(lakeside), 10),
    )
    client.force_login(fran)
    day = next_week(riverside)
    ten = utc(at(riverside, day, 10))

    anyone = slot_times(slots(client, riverside, **{"from": day, "to": day}))
    theirs = slot_times(
        slots(client, riverside, **{"from": day, "to": day, "patient": str(jordan.public_id)})
    )

    assert ten in anyone
    assert ten not in theirs
    assert utc(at(riverside, day, 10, 45)) in theirs


def test_without_dates_it_lists_the_coming_week(client, fran, riverside):
    client.force_login(fran)
    today = riverside.local_now().date()

    found = slots(client, riverside).json()

    days = {datetime.fromisoformat(slot["local_start"]).date() for slot in found}
    assert max(days) == today + timedelta(days=6)
    assert min(days) in (today, today + timedelta(days=1))


@pytest.mark.parametrize(
    ("params", "parameter", "says"),
    [
        ({"location": None}, "location", "Say which location"),
        ({"location": "riverside"}, "location", "not an id"),
        ({"location": str(uuid.uuid4())}, "location", "no location with that id"),
        ({"type": None}, "type", "Say which kind"),
        ({"type": "massage"}, "type", "consultation, infusion, booster, follow_up"),
        ({"from": "next tuesday"}, "from", "YYYY-MM-DD"),
        ({"to": "2026-02-30"}, "to", "YYYY-MM-DD"),
        ({"from": "9999-12-31"}, "from", "Enter a date between"),
        ({"patient": str(uuid.uuid4())}, "patient", "no patient with that id"),
    ],
)
def test_a_bad_slot_query_is_a_400_naming_the_parameter(
    client, fran, riverside, params, parameter, says
):
    client.force_login(fran)
    query = {"location": str(riverside.public_id), "type": "consultation"} | params

    response = client.get(
        "/api/v1/slots/", {key: value for key, value in query.items() if value is not None}
    )

    assert response.status_code == 400
    assert says in response.json()[parameter][0]


def test_the_last_day_must_not_come_before_the_first(client, fran, riverside):
    client.force_login(fran)
    day = next_week(riverside)

    response = slots(client, riverside, **{"from": day, "to": day - timedelta(days=1)})

    assert response.status_code == 400
    assert "swap them" in response.json()["to"][0]


@override_settings(BOOKING_HORIZON_DAYS=30)
def test_it_answers_at_most_the_booking_horizon_at_a_time(client, fran, riverside):
    client.force_login(fran)
    day = next_week(riverside)

    month = slots(client, riverside, **{"from": day, "to": day + timedelta(days=29)})
    longer = slots(client, riverside, **{"from": day, "to": day + timedelta(days=30)})

    assert month.status_code == 200
    assert longer.status_code == 400
    message = longer.json()["to"][0]
    assert "at most 30 days" in message
    assert (day + timedelta(days=29)).isoformat() in message


@pytest.mark.parametrize("count", [1, 6])
def test_it_lists_slots_in_a_fixed_number_of_queries(
    client, fran, riverside, jordan, django_assert_num_queries, count
):
    day = next_week(riverside)
    for hour in range(count):
        AppointmentFactory(
            location=riverside,
            appointment_type=appointment_type("consultation"),
            starts_at=at(riverside, day, 8 + hour),
        )
    client.force_login(fran)
    params = {"from": day, "to": day + timedelta(days=2), "patient": str(jordan.public_id)}

    with django_assert_num_queries(SLOT_QUERIES):
        response = slots(client, riverside, **params)

    assert response.status_code == 200
    assert 0 < len(response.json()) < 3 * 38


# --- Listing and reading appointments -----------------------------------------------------------


def listed(client, **params) -> list[str]:
    response = client.get("/api/v1/appointments/", params)
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()["results"]]


def test_it_lists_appointments_in_time_order_with_filters(client, fran, riverside, jordan):
    day = next_week(riverside)
    lakeside = riverside_for(name="Lakeside")
    later = AppointmentFactory(location=riverside, starts_at=at(riverside, day, 14))
    first = AppointmentFactory(location=riverside, patient=jordan, starts_at=at(riverside, day, 9))
    next_day = AppointmentFactory(
        location=lakeside, patient=jordan, starts_at=at(lakeside, day + timedelta(days=1), 9)
    )
    cancelled = AppointmentFactory(
        location=riverside,
        starts_at=at(riverside, day, 11),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Unwell",
    )
    client.force_login(fran)
    ids = lambda *appointments: [str(a.public_id) for a in appointments]  # noqa: E731

    assert listed(client) == ids(first, cancelled, later, next_day)
    assert listed(client, location=str(riverside.public_id)) == ids(first, cancelled, later)
    assert listed(client, patient=str(jordan.public_id)) == ids(first, next_day)
    assert listed(client, date=day.isoformat()) == ids(first, cancelled, later)
    assert listed(client, status="cancelled") == ids(cancelled)
    assert listed(client, location=str(uuid.uuid4())) == []


def test_the_day_is_read_on_each_locations_own_clock(client, fran, riverside):
    day = next_week(riverside)
    tokyo = riverside_for(name="Tokyo", time_zone="Asia/Tokyo")
    # 19:30 in Chicago is the next day in UTC; 08:00 in Tokyo the day before.
    evening = AppointmentFactory(location=riverside, starts_at=at(riverside, day, 19, 30))
    morning = AppointmentFactory(location=tokyo, starts_at=at(tokyo, day, 8))
    client.force_login(fran)

    assert listed(client, date=day.isoformat()) == [str(morning.public_id), str(evening.public_id)]
    assert listed(client, date=(day + timedelta(days=1)).isoformat()) == []
    assert listed(client, date=(day - timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize(
    ("params", "parameter", "says"),
    [
        ({"date": "27/03/2026"}, "date", "YYYY-MM-DD"),
        ({"status": "late"}, "status", "Choose a status"),
        ({"patient": "jordan"}, "patient", "not an id"),
        ({"location": "12"}, "location", "not an id"),
    ],
)
def test_a_bad_appointment_filter_is_a_400_naming_it(client, fran, params, parameter, says):
    client.force_login(fran)

    response = client.get("/api/v1/appointments/", params)

    assert response.status_code == 400
    assert says in response.json()[parameter][0]


@pytest.mark.parametrize("count", [1, 5])
def test_it_lists_appointments_in_a_fixed_number_of_queries(
    client, fran, nina, riverside, django_assert_num_queries, count
):
    day = next_week(riverside)
    for hour in range(count):
        AppointmentFactory(
            location=riverside,
            chair=riverside.chairs.get(),
            clinician=nina,
            starts_at=at(riverside, day, 8) + timedelta(hours=2 * hour),
        )
    client.force_login(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/api/v1/appointments/", {"date": day.isoformat()})

    assert len(response.json()["results"]) == count
    assert {row["chair"]["name"] for row in response.json()["results"]} == {"Chair 1"}


def test_reading_the_list_is_audited_without_names(client, fran, appointment):
    client.force_login(fran)

    client.get("/api/v1/appointments/")

    event = events(AuditEvent.Action.VIEW).get(actor=fran)
    assert "1 shown" in event.summary
    assert "Rivera" not in event.summary + event.object_label


def test_it_shows_one_appointment_and_audits_the_read(client, phil, riverside, jordan, appointment):
    client.force_login(phil)

    response = client.get(f"/api/v1/appointments/{appointment.public_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(appointment.public_id)
    assert body["patient"] == {"id": str(jordan.public_id), "name": "Jordan Rivera"}
    assert body["location"]["id"] == str(riverside.public_id)
    assert body["type"] == "consultation"
    assert body["type_name"] == "Consultation"
    assert body["starts_at"] == utc(appointment.starts_at)
    assert body["local_start"] == local(appointment.starts_at, riverside)
    assert body["status"] == "booked"
    assert body["next_statuses"] == ["checked_in", "no_show", "cancelled"]
    assert body["course"] is None
    assert "pk" not in body
    event = events(AuditEvent.Action.VIEW).get(actor=phil)
    assert event.object_id == str(appointment.public_id)
    assert str(jordan.public_id) in event.summary


@pytest.mark.parametrize("part", ["", "status/", "cancel/", "reschedule/"])
def test_it_answers_404_for_an_unknown_appointment(client, nina, part):
    client.force_login(nina)
    url = f"/api/v1/appointments/{uuid.uuid4()}/{part}"

    response = client.get(url) if not part else post(client, url, {"status": "no_show"})

    assert response.status_code == 404


# --- Booking ------------------------------------------------------------------------------------


def test_the_front_desk_books_a_consultation_and_it_is_recorded(
    client, fran, phil, riverside, jordan
):
    client.force_login(fran)
    # The location's own clock, with its offset: 10:00 in Chicago.
    starts_at = at(riverside, next_week(riverside), 10)

    response = book(client, jordan, riverside, starts_at=starts_at.astimezone(riverside.tz))

    assert response.status_code == 201, response.json()
    created = Appointment.objects.get()
    body = response.json()
    assert body["id"] == str(created.public_id)
    assert body["starts_at"] == utc(starts_at)
    assert body["local_start"] == local(starts_at, riverside)
    assert body["clinician"]["id"] == str(phil.public_id)
    assert body["status"] == "booked"
    assert body["source"] == "staff"
    assert created.starts_at == starts_at
    assert created.created_by == fran
    event = events(AuditEvent.Action.CREATE).get()
    assert event.actor == fran
    assert event.object_id == str(created.public_id)


def test_it_books_an_infusion_in_the_chair_and_with_the_nurse_asked_for(
    client, nina, phil, cleared
):
    lakeside = riverside_for(nina, phil, name="Lakeside", chairs=2)
    chair = lakeside.chairs.get(name="Chair 2")
    client.force_login(phil)

    response = book(
        client,
        cleared,
        lakeside,
        "infusion",
        chair=str(chair.public_id),
        clinician=str(nina.public_id),
    )

    assert response.status_code == 201, response.json()
    assert response.json()["chair"] == {"id": str(chair.public_id), "name": "Chair 2"}
    assert response.json()["clinician"]["full_name"] == "Nina Nurse"
    assert response.json()["blocks_until"] == utc(at(lakeside, next_week(lakeside), 11, 25))


def test_a_taken_chair_time_answers_409_with_the_nearest_free_times(client, nina, phil, riverside):
    first, second = cleared_for_infusions(phil), cleared_for_infusions(phil)
    day = next_week(riverside)
    client.force_login(nina)

    booked = book(client, first, riverside, "infusion")
    refused = book(client, second, riverside, "infusion")

    assert booked.status_code == 201
    assert refused.status_code == 409
    body = refused.json()
    assert "is not free at Riverside" in body["detail"]
    assert "choose one of the nearest free times" in body["detail"]
    # The only chair is taken 10:00 to 11:25: 08:30 and 11:30 are 90 minutes either side.
    assert [slot["starts_at"] for slot in body["alternatives"]] == [
        utc(at(riverside, day, 8, 30)),
        utc(at(riverside, day, 11, 30)),
        utc(at(riverside, day, 8, 15)),
    ]
    assert body["alternatives"][0]["local_start"] == local(at(riverside, day, 8, 30), riverside)
    assert body["alternatives"][0]["chair"]["name"] == "Chair 1"
    assert body["existing"] is None
    assert Appointment.objects.get().patient == first
    assert events(AuditEvent.Action.CREATE).count() == 1


def test_the_same_chair_asked_for_twice_answers_409(client, nina, phil, cleared):
    lakeside = riverside_for(nina, phil, name="Lakeside", chairs=2)
    chair = str(lakeside.chairs.get(name="Chair 1").public_id)
    client.force_login(nina)

    booked = book(client, cleared, lakeside, "infusion", chair=chair)
    refused = book(client, cleared_for_infusions(phil), lakeside, "infusion", chair=chair)

    assert booked.status_code == 201
    assert refused.status_code == 409
    assert "with Chair 1" in refused.json()["detail"]
    assert refused.json()["alternatives"]
    assert Appointment.objects.count() == 1


def test_booking_the_same_thing_twice_answers_409_with_the_existing_appointment(
    client, fran, riverside, jordan
):
    client.force_login(fran)

    booked = book(client, jordan, riverside)
    again = book(client, jordan, riverside)

    assert again.status_code == 409
    assert again.json()["existing"] == booked.json()["id"]
    assert "nothing was booked twice" in again.json()["detail"]
    assert Appointment.objects.count() == 1


def yesterday(location: Location) -> datetime:
    return at(location, location.local_now().date() - timedelta(days=1), 10)


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"starts_at": yesterday}, "starts_at", "That time has passed"),
        ({"starts_at": lambda loc: at(loc, next_week(loc), 17, 30)}, "starts_at", "outside"),
        ({"starts_at": lambda loc: at(loc, next_week(loc), 6)}, "starts_at", "opening hours"),
        ({"starts_at": "2026-03-27T10:00:00"}, "starts_at", "UTC offset"),
        ({"starts_at": "tomorrow at ten"}, "starts_at", "ISO 8601"),
        ({"starts_at": "9999-12-31T23:00:00-12:00"}, "starts_at", "Enter a time between"),
        ({"type": "massage"}, "type", "Choose a kind of appointment"),
        ({"patient": str(uuid.uuid4())}, "patient", "no patient with that id"),
        ({"location": str(uuid.uuid4())}, "location", "no location with that id"),
        ({"chair": str(uuid.uuid4())}, "chair", "no chair with that id"),
        ({"clinician": str(uuid.uuid4())}, "clinician", "no member of staff"),
    ],
)
def test_a_bad_booking_is_a_400_that_says_what_to_fix(
    client, fran, riverside, jordan, fields, field, says
):
    client.force_login(fran)
    fields = {key: value(riverside) if callable(value) else value for key, value in fields.items()}

    response = post(client, "/api/v1/appointments/", booking(jordan, riverside) | fields)

    assert response.status_code == 400
    assert says in " ".join(response.json()[field])
    assert not Appointment.objects.exists()
    assert not events(AuditEvent.Action.CREATE).exists()


def test_a_booking_without_the_essentials_names_each_missing_field(client, fran):
    client.force_login(fran)

    response = post(client, "/api/v1/appointments/", {})

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"patient", "location", "type", "starts_at"}
    assert "Say which patient" in errors["patient"][0]
    assert "Say when" in errors["starts_at"][0]


def test_a_consultation_needs_no_chair(client, fran, riverside, jordan):
    client.force_login(fran)

    response = book(client, jordan, riverside, chair=str(riverside.chairs.get().public_id))

    assert response.status_code == 400
    assert "needs no chair" in response.json()["chair"][0]


def test_an_infusion_without_approval_or_consent_names_what_is_missing(
    client, nina, riverside, jordan
):
    client.force_login(nina)

    response = book(client, jordan, riverside, "infusion")

    assert response.status_code == 400
    messages = " ".join(response.json()["patient"])
    assert "no approved, current screening decision" in messages
    assert "no signed consent on file" in messages
    assert not Appointment.objects.exists()


def test_an_approved_infusion_still_needs_consent(client, nina, phil, riverside, jordan):
    ScreeningDecisionFactory(patient=jordan, decided_by=phil)
    client.force_login(nina)

    response = book(client, jordan, riverside, "infusion")

    assert response.status_code == 400
    assert len(response.json()["patient"]) == 1
    assert "no signed consent on file" in response.json()["patient"][0]


# --- Status changes, cancelling, moving ---------------------------------------------------------


def set_status(client, appointment: Appointment, status: str, **extra):
    return post(
        client,
        f"/api/v1/appointments/{appointment.public_id}/status/",
        {"status": status, **extra},
    )


def test_an_infusion_moves_through_its_session_not_around_it(client, nina, infusion):
    travel_to(infusion.starts_at - timedelta(minutes=10))
    client.force_login(nina)

    checked_in = set_status(client, infusion, "checked_in")
    start = set_status(client, infusion, "infusing")

    assert checked_in.status_code == 200, checked_in.json()
    assert checked_in.json()["next_statuses"] == ["infusing"]
    assert start.status_code == 400
    assert "can't become infusing" in str(start.json())
    infusion.refresh_from_db()
    assert infusion.status == AppointmentStatus.CHECKED_IN
    assert infusion.infusion_session.state == "checked_in"
    # The session's move and the appointment following it, each audited once.
    assert events(AuditEvent.Action.UPDATE).filter(actor=nina).count() == 1
    assert events(AuditEvent.Action.UPDATE, "infusions.infusionsession").count() == 1


@pytest.mark.parametrize(
    ("status", "says"),
    [
        ("infusing", "check them in first"),
        ("discharged", "check them in first"),
        ("booked", "not a status an appointment can move to"),
        ("lunch", "not a status an appointment can move to"),
    ],
)
def test_an_illegal_status_change_is_a_400_with_the_reason(client, nina, infusion, status, says):
    client.force_login(nina)

    response = set_status(client, infusion, status)

    assert response.status_code == 400
    assert says in response.json()["status"][0]
    infusion.refresh_from_db()
    assert infusion.status == AppointmentStatus.BOOKED
    assert not events(AuditEvent.Action.UPDATE).exists()


def test_a_status_change_to_cancelled_needs_a_reason(client, fran, appointment):
    client.force_login(fran)

    refused = set_status(client, appointment, "cancelled")
    cancelled = set_status(client, appointment, "cancelled", reason="Patient unwell")

    assert refused.status_code == 400
    assert "Say why" in refused.json()["reason"][0]
    assert cancelled.status_code == 200
    assert cancelled.json()["cancel_reason"] == "Patient unwell"


def test_it_cancels_with_a_reason_and_offers_the_time_to_the_waitlist(
    client, fran, riverside, appointment
):
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        location=riverside,
        appointment_type=appointment_type("consultation"),
    )
    client.force_login(fran)

    response = post(
        client, f"/api/v1/appointments/{appointment.public_id}/cancel/", {"reason": "Moved away"}
    )

    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert response.json()["next_statuses"] == []
    waiting.refresh_from_db()
    assert waiting.state == WaitlistEntry.State.OFFERED
    assert waiting.offered_appointment == appointment
    event = events(AuditEvent.Action.UPDATE).get(object_id=str(appointment.public_id))
    assert event.actor == fran
    assert "Moved away" not in event.summary


@pytest.mark.parametrize("body", [{}, {"reason": "   "}])
def test_a_cancel_without_a_reason_changes_nothing(client, fran, appointment, body):
    client.force_login(fran)

    response = post(client, f"/api/v1/appointments/{appointment.public_id}/cancel/", body)

    assert response.status_code == 400
    assert "Say why the appointment is cancelled" in response.json()["reason"][0]
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


def test_it_moves_a_booking_and_records_it(client, fran, riverside, appointment):
    client.force_login(fran)
    later = at(riverside, next_week(riverside) + timedelta(days=1), 15)

    response = post(
        client,
        f"/api/v1/appointments/{appointment.public_id}/reschedule/",
        {"starts_at": later.isoformat()},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["starts_at"] == utc(later)
    appointment.refresh_from_db()
    assert appointment.starts_at == later
    event = events(AuditEvent.Action.UPDATE).get()
    assert "rescheduled" in event.summary


def test_moving_to_a_taken_time_answers_409_and_changes_nothing(
    client, nina, phil, riverside, infusion
):
    other = AppointmentFactory(
        location=riverside,
        patient=cleared_for_infusions(phil),
        chair=riverside.chairs.get(),
        clinician=nina,
        starts_at=at(riverside, next_week(riverside), 14),
    )
    client.force_login(nina)

    response = post(
        client,
        f"/api/v1/appointments/{infusion.public_id}/reschedule/",
        {"starts_at": other.starts_at.isoformat()},
    )

    assert response.status_code == 409
    assert response.json()["alternatives"]
    infusion.refresh_from_db()
    assert infusion.starts_at == at(riverside, next_week(riverside), 11)
    assert not events(AuditEvent.Action.UPDATE).exists()


def test_moving_into_the_past_is_a_400(client, fran, riverside, appointment):
    client.force_login(fran)

    response = post(
        client,
        f"/api/v1/appointments/{appointment.public_id}/reschedule/",
        {"starts_at": yesterday(riverside).isoformat()},
    )

    assert response.status_code == 400
    assert "That time has passed" in response.json()["starts_at"][0]


# --- The schema ---------------------------------------------------------------------------------


def test_every_scheduling_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    base = "/api/v1/appointments/{appointment_id}/"
    assert set(paths["/api/v1/slots/"]) == {"get"}
    assert set(paths["/api/v1/appointments/"]) == {"get", "post"}
    assert set(paths[base]) == {"get"}
    for action in ["status", "cancel", "reschedule"]:
        assert set(paths[f"{base}{action}/"]) == {"post"}, action
    assert set(paths["/api/v1/waitlist/"]) == {"get", "post"}
    assert set(paths["/api/v1/waitlist/{entry_id}/"]) == {"get", "delete"}
    book_op = paths["/api/v1/appointments/"]["post"]
    assert {"201", "400", "403", "409"} <= set(book_op["responses"])
    assert book_op["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SlotTaken"
    }
    assert "409" in paths[f"{base}reschedule/"]["post"]["responses"]
    slot_parameters = {p["name"] for p in paths["/api/v1/slots/"]["get"]["parameters"]}
    assert slot_parameters == {"location", "type", "from", "to", "patient"}


def test_the_schema_validates_without_warnings(db, tmp_path):
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )


def test_dates_in_the_query_are_local_days(client, fran, riverside):
    # A day is a calendar day at the location, never an instant.
    client.force_login(fran)
    day: date = next_week(riverside)

    found = slots(client, riverside, **{"from": day, "to": day}).json()

    assert {datetime.fromisoformat(slot["local_start"]).date() for slot in found} == {day}


# --- Nonsense ----------------------------------------------------------------------------------

NONSENSE = {
    "page": "-1'; DROP TABLE",
    "location": "\u202e<script>",  # NUL: tests/test_bad_requests.py
    "patient": "%%%",
    "type": "astronaut",
    "from": "yesterday-ish",
    "to": "31/31/2026",
    "date": "\u202e",
    "status": "maybe",
    "state": "asleep",
}


@pytest.mark.parametrize(
    "url", ["/api/v1/slots/", "/api/v1/appointments/", "/api/v1/waitlist/", "/api/v1/courses/"]
)
def test_nonsense_parameters_get_a_400_never_a_server_error(client, fran, url):
    client.force_login(fran)

    response = client.get(url, NONSENSE)

    assert response.status_code == 400
    assert "location" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        ["not", "an", "object"],
        {"patient": "\x00", "starts_at": "\x00", "chair": 7, "clinician": ["x"]},
        {"reason": "\x00", "status": {"nested": True}, "starts_at": 12},
    ],
)
def test_nonsense_bodies_get_a_400_never_a_server_error(client, nina, appointment, body):
    client.force_login(nina)
    base = f"/api/v1/appointments/{appointment.public_id}/"
    urls = [f"{base}{action}/" for action in ["status", "cancel", "reschedule"]] + [
        "/api/v1/appointments/",
        "/api/v1/waitlist/",
        "/api/v1/courses/",
        "/api/v1/courses/plan/",
    ]

    for url in urls:
        response = post(client, url, body)
        assert response.status_code == 400, (url, response.json())
    assert unchanged(appointment)
