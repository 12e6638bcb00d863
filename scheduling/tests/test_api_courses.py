"""Treatment courses through the API: /api/v1/courses/.

Planning proposes times and saves nothing; creating books every infusion or none, with a
409 and alternatives when a time is taken; progress, boosters, completing and
discontinuing; who may do what; every read and write audited.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from itertools import pairwise

import pytest

from clinic.models import AuditEvent, Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus, TreatmentCourse
from scheduling.tests.factories import AppointmentFactory, write_status
from scheduling.tests.test_api import post, utc
from scheduling.tests.test_booking import at, cleared_for_infusions, next_week, riverside_for

State = TreatmentCourse.State
# The session and the user; the page of courses (patient, location and progress in the
# same query; never counted: clinic.api.pagination) and all their appointments; the audit
# event; the session's last-activity update (savepoint, update, release). The same
# however many.
LIST_QUERIES = 8


@pytest.fixture
def riverside(nina, phil) -> Location:
    """One chair, Nina on shift every day 08:00 to 18:00."""
    return riverside_for(nina, phil)


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


def ids(patient: Patient, location: Location) -> dict:
    return {"patient": str(patient.public_id), "location": str(location.public_id)}


def plan(client, patient: Patient, location: Location, **fields):
    return post(client, "/api/v1/courses/plan/", ids(patient, location) | fields)


def create(client, patient: Patient, location: Location, starts: list[str], **fields):
    return post(client, "/api/v1/courses/", ids(patient, location) | {"starts": starts} | fields)


def planned_starts(client, patient: Patient, location: Location) -> list[str]:
    response = plan(client, patient, location)
    assert response.status_code == 200, response.json()
    assert response.json()["complete"], response.json()
    return [slot["starts_at"] for slot in response.json()["slots"]]


def a_course(client, patient: Patient, location: Location) -> dict:
    """A course planned and booked through the API (by whoever is signed in)."""
    response = create(client, patient, location, planned_starts(client, patient, location))
    assert response.status_code == 201, response.json()
    return response.json()


def finish_induction(course: dict) -> None:
    """Every induction infusion discharged (the day board's work, done directly here)."""
    write_status(
        Appointment.objects.filter(course__public_id=course["id"]), AppointmentStatus.DISCHARGED
    )


def events(action: str, object_type: str = "scheduling.treatmentcourse"):
    return AuditEvent.objects.filter(action=action, object_type=object_type)


# --- Who may call what ------------------------------------------------------------------------


def test_it_refuses_anonymous_callers(client, riverside, cleared):
    assert client.get("/api/v1/courses/").status_code == 401
    assert client.get(f"/api/v1/courses/{uuid.uuid4()}/").status_code == 401
    assert plan(client, cleared, riverside).status_code == 401
    assert create(client, cleared, riverside, []).status_code == 401
    assert not TreatmentCourse.objects.exists()


@pytest.mark.parametrize("persona", ["edie", "olga"])
def test_it_refuses_content_editors_and_former_staff(request, client, riverside, cleared, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/api/v1/courses/").status_code in (401, 403)
    assert plan(client, cleared, riverside).status_code in (401, 403)
    assert create(client, cleared, riverside, []).status_code in (401, 403)


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_the_front_desk_and_admins_read_courses_but_do_not_plan_or_create_them(
    request, client, nina, phil, riverside, cleared, persona
):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    starts = planned_starts(client, PatientFactory(), riverside)
    client.force_login(request.getfixturevalue(persona))

    listed = client.get("/api/v1/courses/")
    shown = client.get(f"/api/v1/courses/{course['id']}/")
    planned = plan(client, cleared, riverside)
    created = create(client, cleared_for_infusions(phil), riverside, starts)
    discontinued = post(client, f"/api/v1/courses/{course['id']}/discontinue/", {"reason": "x"})

    assert listed.status_code == 200
    assert shown.status_code == 200
    assert planned.status_code == 403
    assert created.status_code == 403
    assert discontinued.status_code == 403
    assert TreatmentCourse.objects.count() == 1


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_nurses_and_physicians_plan_and_create_courses(
    request, client, riverside, cleared, persona
):
    client.force_login(request.getfixturevalue(persona))

    course = a_course(client, cleared, riverside)

    assert course["state"] == "induction"


# --- Planning -----------------------------------------------------------------------------------


def test_it_proposes_six_infusions_and_saves_nothing(client, nina, riverside, cleared):
    client.force_login(nina)
    tomorrow = riverside.local_now().date() + timedelta(days=1)

    response = plan(client, cleared, riverside)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["complete"] is True
    assert body["shortfall"] == ""
    assert body["refusals"] == []
    assert (body["planned_infusions"], body["window_days"], body["min_gap_hours"]) == (6, 21, 24)
    assert body["start_date"] == tomorrow.isoformat()
    starts = [datetime.fromisoformat(slot["starts_at"]) for slot in body["slots"]]
    assert len(starts) == 6
    assert all(later - earlier >= timedelta(hours=24) for earlier, later in pairwise(starts))
    assert (starts[-1] - starts[0]).days < 21
    first = body["slots"][0]
    assert first["chair"]["name"] == "Chair 1"
    assert first["clinician"]["full_name"] == "Nina Nurse"
    assert first["fits_preferences"] is True
    assert not TreatmentCourse.objects.exists()
    assert not Appointment.objects.exists()


def test_it_plans_inside_the_patients_preferred_times(client, nina, riverside, cleared):
    client.force_login(nina)

    body = plan(
        client, cleared, riverside, preferred_after="13:00", preferred_before="15:00"
    ).json()

    hours = {datetime.fromisoformat(slot["local_start"]).hour for slot in body["slots"]}
    assert hours <= {13, 14}
    assert body["notice"] == ""


def test_the_plan_says_why_a_course_cannot_be_created_yet(client, nina, riverside):
    client.force_login(nina)

    body = plan(client, PatientFactory(), riverside).json()

    assert body["slots"]
    assert any(refusal.startswith("Screening:") for refusal in body["refusals"])
    assert any(refusal.startswith("Consent:") for refusal in body["refusals"])


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"planned_infusions": 12}, "planned_infusions", "4 to 10 infusions"),
        ({"planned_infusions": "six"}, "planned_infusions", "whole number"),
        ({"window_days": 7}, "window_days", "14 to 28 days"),
        ({"min_gap_hours": 2}, "min_gap_hours", "at least 24 hours"),
        ({"preferred_weekdays": [8]}, "preferred_weekdays", "0 (Monday) to 6 (Sunday)"),
        ({"start_date": "2020-01-01"}, "start_date", "That date has passed"),
        ({"patient": str(uuid.uuid4())}, "patient", "no patient with that id"),
    ],
)
def test_a_bad_plan_request_is_a_400_that_says_what_to_fix(
    client, nina, riverside, cleared, fields, field, says
):
    client.force_login(nina)

    response = post(client, "/api/v1/courses/plan/", ids(cleared, riverside) | fields)

    assert response.status_code == 400
    assert says in str(response.json()[field])


# --- Creating -----------------------------------------------------------------------------------


def test_it_creates_the_course_and_books_every_infusion(client, nina, riverside, cleared):
    client.force_login(nina)
    starts = planned_starts(client, cleared, riverside)

    response = create(client, cleared, riverside, starts)

    assert response.status_code == 201, response.json()
    body = response.json()
    course = TreatmentCourse.objects.get()
    assert body["id"] == str(course.public_id)
    assert body["state"] == "induction"
    assert body["progress"] == {"done": 0, "planned": 6, "text": "0 of 6"}
    assert body["patient"]["id"] == str(cleared.public_id)
    assert [row["starts_at"] for row in body["appointments"]] == starts
    assert {row["type"] for row in body["appointments"]} == {"infusion"}
    assert {row["course"] for row in body["appointments"]} == {body["id"]}
    assert course.appointments.count() == 6
    assert events(AuditEvent.Action.CREATE).get().actor == nina
    assert events(AuditEvent.Action.CREATE, "scheduling.appointment").count() == 6


def test_a_course_for_a_patient_without_approval_or_consent_is_refused(client, nina, riverside):
    jordan = PatientFactory()
    client.force_login(nina)
    starts = planned_starts(client, jordan, riverside)

    response = create(client, jordan, riverside, starts)

    assert response.status_code == 400
    messages = " ".join(response.json()["patient"])
    assert "Screening:" in messages
    assert "Consent:" in messages
    assert not TreatmentCourse.objects.exists()
    assert not Appointment.objects.exists()


def test_the_number_of_times_must_match_the_infusions(client, nina, riverside, cleared):
    client.force_login(nina)
    starts = planned_starts(client, cleared, riverside)

    response = create(client, cleared, riverside, starts[:5])

    assert response.status_code == 400
    assert "6 infusions but 5 times" in response.json()["starts"][0]
    assert not TreatmentCourse.objects.exists()


@pytest.mark.parametrize(
    ("starts", "says"),
    [
        (["2026-03-27T10:00:00"], "UTC offset"),
        ("tomorrow", "as a list"),
    ],
)
def test_badly_written_times_are_a_400(client, nina, riverside, cleared, starts, says):
    client.force_login(nina)

    response = create(client, cleared, riverside, starts)

    assert response.status_code == 400
    assert says in str(response.json()["starts"])


def test_a_time_in_the_past_is_named_by_its_infusion(client, nina, riverside, cleared):
    client.force_login(nina)
    starts = planned_starts(client, cleared, riverside)
    starts[0] = utc(at(riverside, riverside.local_now().date() - timedelta(days=1), 10))

    response = create(client, cleared, riverside, starts)

    assert response.status_code == 400
    assert "that time has passed" in response.json()["infusion_1"][0]
    assert not TreatmentCourse.objects.exists()


def test_a_taken_time_answers_409_names_the_infusion_and_books_nothing(
    client, nina, phil, riverside, cleared
):
    client.force_login(nina)
    starts = planned_starts(client, cleared, riverside)
    # Someone else takes the only chair at the third infusion's time.
    AppointmentFactory(
        location=riverside,
        patient=cleared_for_infusions(phil),
        chair=riverside.chairs.get(),
        clinician=nina,
        starts_at=datetime.fromisoformat(starts[2]),
    )

    response = create(client, cleared, riverside, starts)

    assert response.status_code == 409, response.json()
    body = response.json()
    assert "Nothing was booked" in body["detail"]
    assert list(body["infusions"]) == ["infusion_3"]
    assert "Infusion 3" in body["infusions"]["infusion_3"][0]
    alternatives = body["alternatives"]["infusion_3"]
    assert alternatives
    assert all(slot["starts_at"] != starts[2] for slot in alternatives)
    assert not TreatmentCourse.objects.exists()
    assert Appointment.objects.count() == 1


# --- Reading ------------------------------------------------------------------------------------


def test_it_shows_a_course_with_its_progress_and_audits_the_read(
    client, nina, fran, riverside, cleared
):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    write_status(Appointment.objects.order_by("starts_at")[:2], AppointmentStatus.DISCHARGED)
    client.force_login(fran)

    response = client.get(f"/api/v1/courses/{course['id']}/")

    assert response.status_code == 200
    body = response.json()
    assert body["progress"]["text"] == "2 of 6"
    assert [row["status"] for row in body["appointments"]] == ["discharged"] * 2 + ["booked"] * 4
    event = events(AuditEvent.Action.VIEW).get(actor=fran)
    assert event.object_id == course["id"]
    assert str(cleared.public_id) in event.summary


def test_it_lists_courses_with_filters(client, nina, phil, riverside, cleared):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    other = TreatmentCourse.objects.create(
        patient=PatientFactory(),
        location=riverside,
        state=State.DISCONTINUED,
        discontinued_reason="Moved away",
        planned_infusions=6,
        window_days=21,
    )

    def listed(**params) -> list[str]:
        response = client.get("/api/v1/courses/", params)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert listed() == [str(other.public_id), course["id"]]
    assert listed(patient=str(cleared.public_id)) == [course["id"]]
    assert listed(state="discontinued") == [str(other.public_id)]
    assert listed(location=str(uuid.uuid4())) == []
    assert client.get("/api/v1/courses/", {"state": "paused"}).status_code == 400


@pytest.mark.parametrize("count", [1, 4])
def test_it_lists_courses_in_a_fixed_number_of_queries(
    client, nina, fran, riverside, django_assert_num_queries, count
):
    day = next_week(riverside)
    for number in range(count):
        course = TreatmentCourse.objects.create(
            patient=PatientFactory(), location=riverside, planned_infusions=6, window_days=21
        )
        for offset in range(2):
            AppointmentFactory(
                location=riverside,
                patient=course.patient,
                course=course,
                chair=riverside.chairs.get(),
                clinician=nina,
                starts_at=at(riverside, day + timedelta(days=offset), 8 + 2 * number),
            )
    client.force_login(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/api/v1/courses/")

    results = response.json()["results"]
    assert len(results) == count
    assert all(len(row["appointments"]) == 2 for row in results)


def test_it_answers_404_for_an_unknown_course(client, nina):
    client.force_login(nina)
    unknown = f"/api/v1/courses/{uuid.uuid4()}/"

    assert client.get(unknown).status_code == 404
    assert client.get(f"{unknown}booster/").status_code == 404
    assert post(client, f"{unknown}discontinue/", {"reason": "x"}).status_code == 404
    assert post(client, f"{unknown}complete/").status_code == 404


# --- Boosters, completing, discontinuing ----------------------------------------------------------


def test_a_booster_waits_for_the_end_of_the_induction_series(client, nina, riverside, cleared):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    last = datetime.fromisoformat(course["appointments"][-1]["starts_at"])
    starts_at = (last + timedelta(days=7)).isoformat()

    response = post(client, f"/api/v1/courses/{course['id']}/booster/", {"starts_at": starts_at})

    assert response.status_code == 400
    assert "induction series is not over" in response.json()["course"][0]


def test_it_suggests_and_books_a_booster_once_the_induction_is_over(
    client, nina, riverside, cleared
):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    finish_induction(course)
    url = f"/api/v1/courses/{course['id']}/booster/"

    suggestion = client.get(url)
    slot = suggestion.json()["slots"][0]
    booked = post(client, url, {"starts_at": slot["starts_at"]})

    assert suggestion.status_code == 200
    assert suggestion.json()["interval_days"] == 28
    assert suggestion.json()["suggested_date"] == slot["local_start"][:10]
    assert booked.status_code == 201, booked.json()
    assert booked.json()["type"] == "booster"
    assert booked.json()["course"] == course["id"]
    assert TreatmentCourse.objects.get().state == State.MAINTENANCE


def test_a_booster_at_a_taken_time_answers_409(client, nina, phil, riverside, cleared):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    finish_induction(course)
    url = f"/api/v1/courses/{course['id']}/booster/"
    slot = client.get(url).json()["slots"][0]
    AppointmentFactory(
        location=riverside,
        patient=cleared_for_infusions(phil),
        chair=riverside.chairs.get(),
        clinician=nina,
        starts_at=datetime.fromisoformat(slot["starts_at"]),
    )

    response = post(client, url, {"starts_at": slot["starts_at"]})

    assert response.status_code == 409
    assert response.json()["alternatives"]
    assert TreatmentCourse.objects.get().state == State.INDUCTION


def test_it_discontinues_a_course_with_a_reason_and_cancels_what_is_to_come(
    client, nina, riverside, cleared
):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    url = f"/api/v1/courses/{course['id']}/discontinue/"

    refused = post(client, url, {})
    stopped = post(client, url, {"reason": "Patient moved away"})

    assert refused.status_code == 400
    assert "Say why the course stops" in refused.json()["reason"][0]
    assert stopped.status_code == 200
    assert stopped.json()["state"] == "discontinued"
    assert stopped.json()["discontinued_reason"] == "Patient moved away"
    assert {row["status"] for row in stopped.json()["appointments"]} == {"cancelled"}
    event = events(AuditEvent.Action.UPDATE).filter(actor=nina).latest("id")
    assert "discontinued" in event.summary
    assert "moved away" not in event.summary


def test_it_completes_a_course_only_when_nothing_is_still_to_come(client, nina, riverside, cleared):
    client.force_login(nina)
    course = a_course(client, cleared, riverside)
    url = f"/api/v1/courses/{course['id']}/complete/"

    early = post(client, url)
    finish_induction(course)
    done = post(client, url)

    assert early.status_code == 400
    assert "still has" in early.json()["course"][0]
    assert done.status_code == 200
    assert done.json()["state"] == "completed"
    assert done.json()["progress"]["text"] == "6 of 6"


# --- The schema ---------------------------------------------------------------------------------


def test_every_course_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    base = "/api/v1/courses/{course_id}/"
    assert set(paths["/api/v1/courses/"]) == {"get", "post"}
    assert set(paths["/api/v1/courses/plan/"]) == {"post"}
    assert set(paths[base]) == {"get"}
    assert set(paths[f"{base}booster/"]) == {"get", "post"}
    assert set(paths[f"{base}complete/"]) == {"post"}
    assert set(paths[f"{base}discontinue/"]) == {"post"}
    create_op = paths["/api/v1/courses/"]["post"]
    assert {"201", "400", "403", "409"} <= set(create_op["responses"])
    assert create_op["responses"]["409"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CourseNotBooked"
    }
