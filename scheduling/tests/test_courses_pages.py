"""Course pages: planning and booking a course in one step, the course, boosters and
discontinuing; who may do what."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus, TreatmentCourse
from scheduling.tests.factories import AppointmentFactory, clinic_location
from scheduling.tests.test_booking import at, cleared_for_infusions
from scheduling.tests.test_courses_services import COURSE_DAYS, create, set_status, starts

NOW = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)  # Sunday 12:00 in Chicago
State = TreatmentCourse.State


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def riverside(nina) -> Location:
    return clinic_location(name="Riverside", chairs=1, staff=[nina])


@pytest.fixture
def cleared(phil, riverside) -> Patient:
    patient = cleared_for_infusions(phil)
    patient.preferred_location = riverside
    patient.save(update_fields=["preferred_location"])
    return patient


def login(client, user) -> None:
    client.force_login(user)


def new_url(patient: Patient) -> str:
    return f"/staff/schedule/courses/new/?patient={patient.public_id}"


def plan_query(patient: Patient, location: Location, **extra: str) -> dict[str, str]:
    """The query string of the settings form (a GET)."""
    return {"patient": str(patient.public_id), **settings_query(location, **extra)}


def settings_query(location: Location, **extra: str) -> dict[str, str]:
    return {
        "location": str(location.public_id),
        "planned_infusions": "6",
        "window_days": "21",
        "min_gap_hours": "24",
        "start_date": "2026-11-30",
        **extra,
    }


def confirm_data(location: Location, times: list[tuple[str, str]], **extra: str) -> dict:
    data = settings_query(location, **extra)
    for number, (day, hh_mm) in enumerate(times, start=1):
        data[f"infusion_{number}_0"] = day
        data[f"infusion_{number}_1"] = hh_mm
    return data


PLAN_URL = "/staff/schedule/courses/new/"
TIMES = [(day.isoformat(), "10:00") for day in COURSE_DAYS]


def infusion_block(html: str, number: int) -> str:
    match = re.search(rf'data-testid="infusion-{number}">(.*?)</li>', html, re.S)
    assert match, f"no infusion {number} on the page"
    return match.group(1)


# --- Planning ---------------------------------------------------------------------------------


def test_it_shows_the_settings_with_the_defaults(client, nina, riverside, cleared):
    login(client, nina)

    response = client.get(new_url(cleared))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="course-settings"' in html
    assert 'name="planned_infusions" value="6"' in html
    assert 'name="window_days" value="21"' in html
    assert 'name="start_date" value="2026-11-30"' in html
    assert 'data-testid="no-proposal"' in html
    assert AuditEvent.objects.filter(
        action=Action.VIEW, object_id=str(cleared.public_id), summary="opened course planning"
    ).exists()


def test_it_shows_the_proposal_as_an_editable_list(client, nina, riverside, cleared):
    login(client, nina)

    response = client.get(PLAN_URL, plan_query(cleared, riverside))

    html = response.content.decode()
    assert 'data-testid="proposal"' in html
    for number, day in enumerate(COURSE_DAYS, start=1):
        block = infusion_block(html, number)
        assert f'name="infusion_{number}_0" value="{day.isoformat()}"' in block
        assert f'name="infusion_{number}_1" value="08:00"' in block
        assert f'aria-label="Infusion {number}: date"' in block
    assert "Confirm and book all 6 infusions" in html
    assert not Appointment.objects.exists()


def test_it_shows_the_shortfall_and_leaves_the_missing_times_to_fill_in(
    client, nina, riverside, cleared
):
    login(client, nina)

    response = client.get(
        PLAN_URL, plan_query(cleared, riverside, preferred_weekdays="0", strict_preferences="on")
    )

    html = response.content.decode()
    assert "Only 3 of 6 infusions fit within 21 days with these preferences" in html
    assert 'name="infusion_4_0"' in infusion_block(html, 4)
    assert "no free time found: enter one" in infusion_block(html, 4)


def test_it_shows_settings_errors_next_to_the_fields(client, nina, riverside, cleared):
    login(client, nina)

    response = client.get(PLAN_URL, plan_query(cleared, riverside, planned_infusions="12"))

    assert response.status_code == 200
    assert "Ensure this value is less than or equal to 10." in response.content.decode()
    assert 'data-testid="proposal"' not in response.content.decode()


def test_it_explains_why_a_course_cannot_be_planned_yet(client, nina, riverside):
    login(client, nina)
    patient = PatientFactory()

    response = client.get(new_url(patient))

    html = response.content.decode()
    assert 'data-testid="course-refusals"' in html
    assert "Screening: No screening decision yet" in html
    assert "Consent: " in html
    assert 'data-testid="course-settings"' not in html


def test_it_answers_404_for_a_missing_or_malformed_patient(client, nina):
    login(client, nina)

    assert client.get("/staff/schedule/courses/new/").status_code == 404
    assert client.get("/staff/schedule/courses/new/?patient=nonsense").status_code == 404
    assert (
        client.get(
            "/staff/schedule/courses/new/?patient=6f1c1a0e-0000-4000-8000-000000000000"
        ).status_code
        == 404
    )


# --- Booking ----------------------------------------------------------------------------------


def test_it_books_the_whole_course_in_one_post(client, nina, riverside, cleared):
    login(client, nina)

    response = client.post(new_url(cleared), confirm_data(riverside, TIMES))

    course = TreatmentCourse.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/schedule/courses/{course.public_id}/"
    assert course.state == State.INDUCTION
    assert [a.starts_at for a in course.appointments.order_by("starts_at")] == starts(riverside)


def test_staff_may_change_a_proposed_time_before_booking(client, nina, riverside, cleared):
    login(client, nina)
    times = [*TIMES[:3], ("2026-12-07", "15:30"), *TIMES[4:]]

    client.post(new_url(cleared), confirm_data(riverside, times))

    course = TreatmentCourse.objects.get()
    fourth = course.appointments.order_by("starts_at")[3]
    assert fourth.starts_at == at(riverside, date(2026, 12, 7), 15, 30)


def test_it_books_nothing_and_marks_the_infusion_that_is_not_free(client, nina, riverside, cleared):
    AppointmentFactory(
        location=riverside,
        chair=riverside.chairs.get(),
        starts_at=at(riverside, COURSE_DAYS[3], 10),
    )
    login(client, nina)

    response = client.post(new_url(cleared), confirm_data(riverside, TIMES))

    assert response.status_code == 200
    html = response.content.decode()
    fourth = infusion_block(html, 4)
    assert "Infusion 4: 10:00 on Mon 7 Dec 2026 is not free at Riverside" in fourth
    assert 'aria-invalid="true"' in fourth
    assert 'aria-describedby="id_infusion_4-errors"' in fourth
    assert 'id="id_infusion_4-errors"' in fourth
    assert 'name="use" value="4|2026-12-07|' in fourth
    assert "Infusion 4" not in infusion_block(html, 3).replace("Infusion 3", "")
    assert "Nothing was booked: 1 of the 6 infusions could not be booked." in html
    assert not TreatmentCourse.objects.exists()
    assert Appointment.objects.count() == 1


def test_using_an_alternative_fills_it_in_without_booking(client, nina, riverside, cleared):
    login(client, nina)
    data = confirm_data(riverside, TIMES)
    data["use"] = "4|2026-12-07|14:15"

    response = client.post(new_url(cleared), data)

    assert response.status_code == 200
    assert 'name="infusion_4_1" value="14:15"' in infusion_block(response.content.decode(), 4)
    assert not TreatmentCourse.objects.exists()


def test_a_time_skipped_by_the_clock_change_is_refused_on_its_field(
    client, nina, riverside, cleared, monkeypatch
):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 3, 1, 18, 0, tzinfo=UTC))
    login(client, nina)
    days = ["2026-03-02", "2026-03-04", "2026-03-06", "2026-03-08", "2026-03-10", "2026-03-12"]
    times = [(day, "10:00") for day in days]
    times[3] = ("2026-03-08", "02:30")

    response = client.post(
        new_url(cleared), confirm_data(riverside, times, start_date="2026-03-02")
    )

    assert "02:30 does not exist on Sun 8 Mar at Riverside" in infusion_block(
        response.content.decode(), 4
    )
    assert not TreatmentCourse.objects.exists()


def test_a_double_submit_books_one_course(client, nina, riverside, cleared):
    login(client, nina)

    client.post(new_url(cleared), confirm_data(riverside, TIMES))
    response = client.post(new_url(cleared), confirm_data(riverside, TIMES))

    assert response.status_code == 200
    assert "already has a course" in response.content.decode()
    assert TreatmentCourse.objects.count() == 1
    assert Appointment.objects.count() == 6


def test_a_tampered_post_changes_nothing(client, nina, riverside, cleared):
    login(client, nina)
    data = confirm_data(riverside, TIMES)
    data["location"] = "not-a-location"
    data["infusion_2_0"] = "2026-13-45"

    response = client.post(new_url(cleared), data)

    assert response.status_code == 200
    assert not TreatmentCourse.objects.exists()


# --- Who may plan -----------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_only_clinicians_may_plan_a_course(client, request, persona, riverside, cleared):
    """The front desk books appointments but does not plan treatment; a clinic admin has no
    MANAGE_COURSES in clinic/permissions.py; a content editor has nothing here."""
    login(client, request.getfixturevalue(persona))

    assert client.get(new_url(cleared)).status_code == 403
    assert client.post(new_url(cleared), confirm_data(riverside, TIMES)).status_code == 403
    assert not TreatmentCourse.objects.exists()


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_nurses_and_physicians_may_plan_a_course(client, request, persona, riverside, cleared):
    login(client, request.getfixturevalue(persona))

    assert client.get(PLAN_URL, plan_query(cleared, riverside)).status_code == 200
    assert client.post(new_url(cleared), confirm_data(riverside, TIMES)).status_code == 302


def test_planning_needs_a_login(client, cleared):
    response = client.get(new_url(cleared))

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


# --- The course -------------------------------------------------------------------------------


def test_it_shows_the_course_with_its_progress_and_appointments(client, nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 3)
    login(client, nina)

    response = client.get(f"/staff/schedule/courses/{course.public_id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert '<strong data-testid="progress">3 of 6</strong>' in html
    assert html.count('data-testid="course-appointment"') == 6
    assert "Mon 7 Dec 2026, 10:00" in html
    assert html.count("Discharged") == 3
    assert "Discontinue…" in html


def test_the_course_page_runs_the_same_queries_however_many_appointments(
    client, nina, riverside, cleared, django_assert_num_queries
):
    course = create(nina, cleared, riverside)
    login(client, nina)
    client.get(f"/staff/schedule/courses/{course.public_id}/")  # warm the session

    with django_assert_num_queries(6) as first:
        client.get(f"/staff/schedule/courses/{course.public_id}/")
    course_book_six_more(course)
    with django_assert_num_queries(len(first.captured_queries)):
        client.get(f"/staff/schedule/courses/{course.public_id}/")


def course_book_six_more(course: TreatmentCourse) -> None:
    for day in range(6):
        AppointmentFactory(
            location=course.location,
            patient=course.patient,
            course=course,
            status=AppointmentStatus.CANCELLED,
            cancel_reason="Moved",
            starts_at=at(course.location, date(2026, 12, 14 + day), 10),
        )


def test_the_front_desk_sees_the_course_but_cannot_change_it(
    client, fran, nina, riverside, cleared
):
    course = create(nina, cleared, riverside)
    course.state = State.DISCONTINUED
    course.discontinued_reason = "Adverse reaction"
    course.save(update_fields=["state", "discontinued_reason"])
    login(client, fran)

    response = client.get(f"/staff/schedule/courses/{course.public_id}/")

    html = response.content.decode()
    assert response.status_code == 200
    assert "Adverse reaction" not in html
    assert "Discontinue…" not in html
    assert client.get(f"/staff/schedule/courses/{course.public_id}/booster/").status_code == 403
    assert client.get(f"/staff/schedule/courses/{course.public_id}/discontinue/").status_code == 403


def test_a_content_editor_cannot_see_a_course(client, edie, nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    login(client, edie)

    assert client.get(f"/staff/schedule/courses/{course.public_id}/").status_code == 403


def test_an_unknown_course_is_404(client, nina):
    login(client, nina)

    response = client.get("/staff/schedule/courses/6f1c1a0e-0000-4000-8000-000000000000/")

    assert response.status_code == 404


# --- Boosters ---------------------------------------------------------------------------------


def test_it_suggests_a_booster_date_and_books_one(client, nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 6)
    login(client, nina)

    detail = client.get(f"/staff/schedule/courses/{course.public_id}/").content.decode()
    page = client.get(f"/staff/schedule/courses/{course.public_id}/booster/")

    assert "Suggested next booster: around <strong>Sat 9 Jan 2027</strong>" in detail
    html = page.content.decode()
    assert '<strong data-testid="suggested-date">Sat 9 Jan 2027</strong>' in html
    assert "Book Sat 9 Jan, 10:00" in html
    response = client.post(
        f"/staff/schedule/courses/{course.public_id}/booster/",
        {"when_0": "2027-01-09", "when_1": "10:00"},
    )
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.state == State.MAINTENANCE
    booster = course.appointments.get(appointment_type__kind="booster")
    assert booster.starts_at == at(riverside, date(2027, 1, 9), 10)


def test_a_booster_refusal_is_shown_on_the_form(client, nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    login(client, nina)

    response = client.post(
        f"/staff/schedule/courses/{course.public_id}/booster/",
        {"when_0": "2027-01-09", "when_1": "10:00"},
    )

    assert response.status_code == 200
    assert "The induction series is not over" in response.content.decode()
    assert not course.appointments.filter(appointment_type__kind="booster").exists()


# --- Discontinuing ----------------------------------------------------------------------------


def test_it_asks_for_confirmation_and_a_reason_before_discontinuing(
    client, nina, riverside, cleared
):
    course = create(nina, cleared, riverside)
    login(client, nina)
    url = f"/staff/schedule/courses/{course.public_id}/discontinue/"

    page = client.get(url).content.decode()
    assert page.count("<li>Infusion on ") == 6
    assert "Discontinue the course and cancel 6 appointments" in page

    response = client.post(url, {"reason": ""})
    assert "Say why the course stops" in response.content.decode()
    course.refresh_from_db()
    assert course.state == State.INDUCTION

    response = client.post(url, {"reason": "Patient moved away"})
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.state == State.DISCONTINUED
    assert set(course.appointments.values_list("status", flat=True)) == {"cancelled"}


def test_it_marks_a_course_completed(client, nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 6)
    login(client, nina)

    response = client.post(f"/staff/schedule/courses/{course.public_id}/complete/")

    assert response.status_code == 302
    course.refresh_from_db()
    assert course.state == State.COMPLETED


def test_completing_too_early_says_why(client, nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    login(client, nina)

    response = client.post(f"/staff/schedule/courses/{course.public_id}/complete/", follow=True)

    assert "The course still has infusion on Mon 30 Nov 10:00" in response.content.decode()
    course.refresh_from_db()
    assert course.state == State.INDUCTION
