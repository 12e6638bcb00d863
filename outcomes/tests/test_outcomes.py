"""Outcomes: the rules per patient (baseline, response, remission, worsened) and the
clinic's figures per condition and location."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import Location
from infusions.models import InfusionSession
from outcomes.dashboard import LISTED, clinic_outcomes
from outcomes.facts import outcome_facts_refresh
from outcomes.scores import Point, instrument_outcome, patient_outcomes, worsening_points
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import definition_for
from patients.tests.factories import PatientFactory
from scheduling.models import AppointmentStatus, TreatmentCourse
from scheduling.tests.factories import AppointmentFactory, LocationFactory

DAY0 = datetime(2025, 1, 6, 15, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def points(*pairs: tuple[float, int]) -> list[Point]:
    return [Point(day(n), total) for n, total in pairs]


# --- Response and remission -------------------------------------------------------------


def test_a_fall_of_exactly_half_from_the_baseline_is_a_response():
    outcome = instrument_outcome("phq9", points((0, 20), (10, 10)), [day(1)])

    assert outcome.baseline == Point(day(0), 20)
    assert outcome.latest == Point(day(10), 10)
    assert outcome.response is True


def test_a_fall_just_short_of_half_is_no_response():
    outcome = instrument_outcome("phq9", points((0, 20), (10, 11)), [day(1)])

    assert outcome.response is False
    assert outcome.change == -9


@pytest.mark.parametrize("instrument", ["phq9", "gad7"])
def test_remission_is_a_latest_score_below_5(instrument):
    four = instrument_outcome(instrument, points((0, 15), (10, 4)), [day(1)])
    five = instrument_outcome(instrument, points((0, 15), (10, 5)), [day(1)])

    assert four.remission is True
    assert five.remission is False


@pytest.mark.parametrize("instrument", ["pcl5", "pain_nrs"])
def test_remission_is_not_defined_for_pcl5_or_pain(instrument):
    outcome = instrument_outcome(instrument, points((0, 8), (10, 0)), [day(1)])

    assert outcome.response is True
    assert outcome.remission is None


# --- The baseline -----------------------------------------------------------------------


def test_the_baseline_is_the_latest_score_before_the_first_infusion_started():
    outcome = instrument_outcome(
        "phq9", points((0, 12), (5, 18), (6.5, 14), (12, 8)), [day(9), day(6)]
    )

    assert outcome.baseline == Point(day(5), 18)  # not day 0's, nor day 6.5's (after)
    assert outcome.latest == Point(day(12), 8)
    assert outcome.infusions == (day(6), day(9))


def test_before_any_infusion_the_latest_score_is_the_baseline_and_nothing_is_judged():
    outcome = instrument_outcome("phq9", points((0, 10), (5, 20)))

    assert outcome.baseline == Point(day(5), 20)
    assert outcome.latest is None
    assert outcome.response is None
    assert outcome.remission is None
    assert not outcome.worsened  # a rise before treatment is no reason for a booster
    assert not outcome.has_follow_up


def test_with_no_score_before_the_first_infusion_there_is_no_baseline():
    outcome = instrument_outcome("phq9", points((3, 20), (10, 4)), [day(1)])

    assert outcome.baseline is None
    assert outcome.latest == Point(day(10), 4)
    assert outcome.response is None  # cannot be judged
    assert outcome.remission is True  # the latest score is what it is


# --- Worsened ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "points_needed"), [("phq9", 5), ("gad7", 4), ("pcl5", 10), ("pain_nrs", 2)]
)
def test_a_rise_by_the_meaningful_change_is_worsened_and_one_less_is_not(instrument, points_needed):
    assert worsening_points(instrument) == points_needed
    at_threshold = instrument_outcome(
        instrument, points((0, 6), (5, 6), (10, 6 + points_needed)), [day(1)]
    )
    one_below = instrument_outcome(
        instrument, points((0, 6), (5, 6), (10, 5 + points_needed)), [day(1)]
    )

    assert at_threshold.worsened
    name = definition_for(instrument).short_name
    assert at_threshold.worsened_reasons[0].startswith(f"{name} rose {points_needed} points")
    assert not one_below.worsened


def test_a_rise_from_the_baseline_to_the_first_score_after_treatment_counts():
    outcome = instrument_outcome("phq9", points((0, 10), (10, 15)), [day(1)])

    assert outcome.worsened


def test_a_patient_who_no_longer_meets_response_has_worsened():
    # 20 -> 8 is a response; 8 -> 12 rises only 4 (under 5) but is no response any more.
    outcome = instrument_outcome("phq9", points((0, 20), (10, 8), (20, 12)), [day(1)])

    assert outcome.response is False
    assert outcome.worsened_reasons == (
        "PHQ-9 had responded (at least 50 % below the baseline of 20) but is 12 now.",
    )


def test_a_patient_still_meeting_response_has_not_worsened():
    outcome = instrument_outcome("phq9", points((0, 20), (10, 4), (20, 8)), [day(1)])

    assert outcome.response is True
    assert not outcome.worsened


def test_the_worsening_threshold_comes_from_the_settings(settings):
    settings.OUTCOME_WORSENING_POINTS = {"phq9": 3}

    outcome = instrument_outcome("phq9", points((0, 10), (10, 13)), [day(1)])

    assert outcome.worsened
    assert worsening_points("gad7") == 4  # left out of the setting: the default


# --- One patient, from the database -----------------------------------------------------


def score(patient: Patient, instrument: str, total: int, at: datetime) -> QuestionnaireResponse:
    """A questionnaire whose answers add up to ``total``."""
    definition = definition_for(instrument)
    answers, left = {}, total
    for key in definition.item_keys:
        answers[key] = min(left, definition.item_max)
        left -= answers[key]
    assert left == 0, "total too high for the instrument"
    return QuestionnaireResponse.objects.create(
        patient=patient,
        instrument=instrument,
        context=QuestionnaireResponse.Context.FOLLOW_UP,
        answers=answers,
        total=total,
        band=definition.band_for(total),
        completed_at=at,
    )


def infusion(
    patient: Patient, location: Location, at: datetime, *, started: bool = True
) -> InfusionSession:
    """An infusion appointment at ``at`` whose session was given and discharged (the
    appointment discharged with it: the database refuses the two disagreeing), or, unless
    ``started``, booked with its session still scheduled."""
    if not started:
        appointment = AppointmentFactory(patient=patient, location=location, starts_at=at)
        return InfusionSession.objects.create(appointment=appointment)
    appointment = AppointmentFactory(
        patient=patient, location=location, starts_at=at, status=AppointmentStatus.DISCHARGED
    )
    session = InfusionSession.objects.get(appointment=appointment)  # the factory's
    session.started_at = at
    session.ended_at = at + timedelta(hours=2)
    session.save(update_fields=["started_at", "ended_at"])
    return session


def course(patient: Patient, location: Location, state: str) -> TreatmentCourse:
    extra = {"discontinued_reason": "Moved away."} if state == "discontinued" else {}
    return TreatmentCourse.objects.create(
        patient=patient,
        location=location,
        state=state,
        planned_infusions=6,
        window_days=21,
        **extra,
    )


def test_patient_outcomes_reads_scores_and_infusions_in_two_queries(db, django_assert_num_queries):
    location = LocationFactory()
    patient = PatientFactory(conditions=["trd", "anxiety"])
    score(patient, "gad7", 14, day(0))
    score(patient, "phq9", 20, day(0))
    infusion(patient, location, day(2))
    infusion(patient, location, day(30), started=False)  # booked, not given: not an infusion
    score(patient, "phq9", 9, day(10))

    with django_assert_num_queries(2):
        outcomes = patient_outcomes(patient)

    assert [outcome.instrument for outcome in outcomes] == ["phq9", "gad7"]
    phq9, gad7 = outcomes
    assert (phq9.baseline.total, phq9.latest.total, phq9.response) == (20, 9, True)
    assert phq9.infusions == (day(2),)
    assert [point.total for point in phq9.series] == [20, 9]
    assert gad7.baseline.total == 14
    assert gad7.latest is None  # no GAD-7 since treatment began


def test_patient_outcomes_takes_the_start_times_the_chart_has_in_one_query(
    db, django_assert_num_queries
):
    patient = PatientFactory()
    score(patient, "phq9", 20, day(0))
    score(patient, "phq9", 4, day(10))

    with django_assert_num_queries(1):
        (phq9,) = patient_outcomes(patient, infusion_starts=[None, day(1)])

    assert phq9.remission is True


def test_a_patient_without_questionnaires_has_no_outcomes(db):
    assert patient_outcomes(PatientFactory()) == []


# --- The clinic -------------------------------------------------------------------------


@pytest.fixture
def clinic(db):
    """Two locations and six patients, each making one point of the dashboard."""
    now = timezone.now()
    riverside = LocationFactory(name="Riverside")
    lakeside = LocationFactory(name="Lakeside")

    def ago(days: float) -> datetime:
        return now - timedelta(days=days)

    # Depression, induction at Riverside: 20 -> 8, a response but no remission.
    ana = PatientFactory(legal_first_name="Ana", conditions=["trd"])
    course(ana, riverside, "induction")
    score(ana, "phq9", 20, ago(20))
    infusion(ana, riverside, ago(18))
    score(ana, "phq9", 8, ago(5))

    # Depression and anxiety, maintenance at Riverside; last questionnaire 40 days ago:
    # overdue. PHQ-9 16 -> 4 (response, remission), GAD-7 10 -> 9 (neither).
    ben = PatientFactory(legal_first_name="Ben", conditions=["mdd", "anxiety"])
    course(ben, riverside, "maintenance")
    score(ben, "phq9", 16, ago(90))
    score(ben, "gad7", 10, ago(90))
    infusion(ben, riverside, ago(85))
    score(ben, "phq9", 4, ago(40))
    score(ben, "gad7", 9, ago(40))

    # Depression, no course, prefers Lakeside, a baseline only: not in any rate.
    cy = PatientFactory(legal_first_name="Cy", conditions=["mdd"], preferred_location=lakeside)
    score(cy, "phq9", 15, ago(3))

    # PTSD, induction at Lakeside: PCL-5 50 -> 60 since treatment began, worsened.
    dee = PatientFactory(legal_first_name="Dee", conditions=["ptsd"])
    course(dee, lakeside, "induction")
    score(dee, "pcl5", 50, ago(10))
    infusion(dee, lakeside, ago(8))
    score(dee, "pcl5", 60, ago(1))

    # Substance use only: in no condition group, so not on the dashboard.
    eve = PatientFactory(legal_first_name="Eve", conditions=["sud"])
    course(eve, riverside, "induction")

    # Fibromyalgia, a discontinued course at Riverside: pain 8 -> 7, no response.
    fay = PatientFactory(legal_first_name="Fay", conditions=["fibromyalgia"])
    course(fay, riverside, "discontinued")
    score(fay, "pain_nrs", 8, ago(30))
    infusion(fay, riverside, ago(29))
    score(fay, "pain_nrs", 7, ago(2))

    return {"riverside": riverside, "lakeside": lakeside, "ben": ben, "dee": dee, "now": now}


def table(dashboard) -> dict[tuple[str, str | None], tuple]:
    return {
        (row.group.key, row.location.name if row.location else None): (
            row.patients,
            row.in_induction,
            row.in_maintenance,
            (row.response.count, row.response.n),
            (row.remission.count, row.remission.n) if row.remission is not None else None,
            row.overdue,
        )
        for row in dashboard.rows
    }


def test_the_dashboard_counts_each_condition_at_each_location(clinic, nina):
    dashboard = clinic_outcomes(nina, now=clinic["now"])

    assert table(dashboard) == {
        # patients, induction, maintenance, response, remission, overdue
        ("depression", "Riverside"): (2, 1, 1, (2, 2), (1, 2), 1),
        ("depression", "Lakeside"): (1, 0, 0, (0, 0), (0, 0), 0),
        ("anxiety", "Riverside"): (1, 0, 1, (0, 1), (0, 1), 1),
        ("ptsd", "Lakeside"): (1, 1, 0, (0, 1), None, 0),
        ("pain", "Riverside"): (1, 0, 0, (0, 1), None, 0),
    }
    # In the groups' order, then by location name.
    assert [(row.group.key, row.location.name) for row in dashboard.rows] == [
        ("depression", "Lakeside"),
        ("depression", "Riverside"),
        ("anxiety", "Riverside"),
        ("ptsd", "Lakeside"),
        ("pain", "Riverside"),
    ]
    assert dashboard.rows[1].response.percent == 100
    assert dashboard.rows[1].remission.percent == 50
    assert [flagged.patient for flagged in dashboard.worsened] == [clinic["dee"]]
    assert [o.instrument for o in dashboard.worsened[0].outcomes] == ["pcl5"]
    assert [flagged.patient for flagged in dashboard.overdue] == [clinic["ben"]]
    assert dashboard.patient_count == 5  # Eve (substance use only) is in no group


def test_the_dashboard_filters_by_location_and_by_condition(clinic, phil):
    at_lakeside = clinic_outcomes(phil, location=clinic["lakeside"], now=clinic["now"])
    anxiety = clinic_outcomes(phil, condition="anxiety", now=clinic["now"])

    assert set(table(at_lakeside)) == {("depression", "Lakeside"), ("ptsd", "Lakeside")}
    assert [flagged.patient for flagged in at_lakeside.overdue] == []
    assert set(table(anxiety)) == {("anxiety", "Riverside")}
    assert anxiety.worsened == []  # Dee (PTSD) is not in the anxiety group


def test_the_overdue_period_comes_from_the_settings(clinic, nina, settings):
    settings.OUTCOME_OVERDUE_DAYS = 50

    dashboard = clinic_outcomes(nina, now=clinic["now"])

    assert dashboard.overdue == []
    assert dashboard.overdue_days == 50


def test_the_dashboard_is_for_clinical_staff_and_clinic_admins(clinic, fran, edie):
    for user in (fran, edie):
        with pytest.raises(PermissionDenied):
            clinic_outcomes(user)


def test_a_clinic_admin_gets_the_figures_and_counts_but_no_names(clinic, nina, alice):
    clinical = clinic_outcomes(nina, now=clinic["now"])

    admin = clinic_outcomes(alice, now=clinic["now"])

    assert admin.rows == clinical.rows
    assert admin.patient_count == clinical.patient_count
    assert admin.worsened == [] and admin.overdue == []
    assert admin.worsened_count == len(clinical.worsened) > 0
    assert admin.overdue_count == len(clinical.overdue)
    assert not admin.names_patients and clinical.names_patients


def test_an_unknown_condition_group_is_refused_with_the_choices(clinic, nina):
    with pytest.raises(ValidationError) as refused:
        clinic_outcomes(nina, condition="insomnia")

    assert refused.value.message_dict == {
        "condition": ["Choose a condition group: one of depression, anxiety, ptsd, pain."]
    }


def seed_patients(count: int, location: Location) -> None:
    """``count`` patients in every group and in treatment at ``location``: every third
    overdue a questionnaire (the latest 35 days ago), every third from the second on with
    a GAD-7 that worsened (15 to 20)."""
    now = timezone.now()
    for n in range(count):
        patient = PatientFactory(conditions=["trd", "anxiety", "ptsd", "crps"])
        course(patient, location, "induction" if n % 2 else "maintenance")
        for instrument, total in (("phq9", 20), ("gad7", 15), ("pcl5", 50), ("pain_nrs", 8)):
            score(patient, instrument, total, now - timedelta(days=40))
        infusion(patient, location, now - timedelta(days=30 - n % 30))
        score(patient, "phq9", 5 + n % 10, now - timedelta(days=35 if n % 3 == 0 else 3))
        if n % 3 == 1:
            score(patient, "gad7", 20, now - timedelta(days=2))


@pytest.mark.parametrize("count", [3, 30])
def test_the_dashboard_takes_four_queries_however_many_patients(
    db, nina, django_assert_num_queries, count
):
    seed_patients(count, LocationFactory())
    outcome_facts_refresh()  # as the worker does every few minutes

    # The figures; the patients listed, the scores of those who worsened, the locations.
    with django_assert_num_queries(4):
        dashboard = clinic_outcomes(nina)

    assert sum(row.patients for row in dashboard.rows if row.group.key == "depression") == count
    assert dashboard.worsened_count == dashboard.overdue_count == count // 3
    assert len(dashboard.worsened) == len(dashboard.overdue) == min(count // 3, LISTED)


def test_the_dashboard_page_costs_the_same_for_3_and_30_patients(db, client, nina):
    location = LocationFactory()
    seed_patients(3, location)
    client.force_login(nina)
    client.get("/staff/outcomes/")  # the session's first-request writes, the first count

    with CaptureQueriesContext(connection) as few:
        client.get(f"/staff/outcomes/?location={location.public_id}")
    seed_patients(27, location)
    outcome_facts_refresh()  # as the worker does every few minutes
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/staff/outcomes/?location={location.public_id}")

    assert len(many) == len(few)
    dashboard = response.context["dashboard"]
    assert dashboard.patient_count == 30
    assert dashboard.worsened_count == dashboard.overdue_count == 10
