"""The outcome facts the worker counts (outcomes.facts) and the dashboard reads: as of the
last count, counted again on schedule, two counts at once taking turns."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection, connections
from django.utils import timezone

from clinic.celery import app
from outcomes.dashboard import clinic_outcomes
from outcomes.facts import outcome_facts_refresh
from outcomes.models import OutcomeFactsCount, PatientOutcomeFacts
from outcomes.tasks import refresh_outcome_facts
from outcomes.tests.test_outcomes import course, infusion, score
from patients.models import QuestionnaireResponse
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

DASHBOARD = "/staff/outcomes/"


@pytest.fixture
def riverside(db):
    return LocationFactory(name="Riverside")


@pytest.fixture
def responding(riverside):
    """Depression, in induction at Riverside: PHQ-9 20 before the first infusion, 8 after
    (a response)."""
    now = timezone.now()
    patient = PatientFactory(conditions=["trd"])
    course(patient, riverside, "induction")
    score(patient, "phq9", 20, now - timedelta(days=20))
    infusion(patient, riverside, now - timedelta(days=18))
    score(patient, "phq9", 8, now - timedelta(days=5))
    return patient


def depression(dashboard) -> tuple[int, int, int]:
    (row,) = [row for row in dashboard.rows if row.group.key == "depression"]
    return row.patients, row.response.count, row.response.n


def test_the_figures_are_those_of_the_last_count(nina, responding):
    outcome_facts_refresh()
    counted = clinic_outcomes(nina)
    score(responding, "phq9", 15, timezone.now() - timedelta(days=1))  # no longer a response

    before_the_next_count = clinic_outcomes(nina)
    outcome_facts_refresh()
    after_it = clinic_outcomes(nina)

    assert depression(counted) == depression(before_the_next_count) == (1, 1, 1)
    assert before_the_next_count.worsened_count == 0
    assert depression(after_it) == (1, 0, 1)
    assert after_it.worsened_count == 1  # 20 -> 8 met response, 15 does not
    assert after_it.as_of > counted.as_of


def test_overdue_is_judged_when_the_dashboard_is_read(nina, responding):
    outcome_facts_refresh()

    today = clinic_outcomes(nina)
    in_a_month = clinic_outcomes(nina, now=timezone.now() + timedelta(days=30))

    assert today.overdue_count == 0
    assert [flagged.patient for flagged in in_a_month.overdue] == [responding]


def test_a_database_never_counted_is_counted_on_the_first_read(nina, responding):
    assert not OutcomeFactsCount.objects.exists()

    dashboard = clinic_outcomes(nina)

    assert depression(dashboard) == (1, 1, 1)
    assert dashboard.as_of is not None
    assert PatientOutcomeFacts.objects.get().judged == ["phq9"]


def row_version(patient) -> str:
    """Where the patient's facts row lies: an UPDATE writes a new version elsewhere."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ctid::text FROM outcomes_patientoutcomefacts WHERE patient_id = %s",
            [patient.pk],
        )
        return cursor.fetchone()[0]


def test_a_count_writes_only_what_changed_and_drops_what_is_gone(riverside, responding):
    other = PatientFactory(conditions=["mdd"])
    score(other, "phq9", 12, timezone.now() - timedelta(days=2))
    outcome_facts_refresh()
    unchanged = row_version(responding)
    QuestionnaireResponse.objects.filter(patient=other).delete()

    patients = outcome_facts_refresh()

    assert patients == 1
    assert list(PatientOutcomeFacts.objects.values_list("patient", flat=True)) == [responding.pk]
    assert row_version(responding) == unchanged


def test_a_first_reader_does_not_count_again_what_another_just_counted(responding):
    outcome_facts_refresh(now=timezone.now() - timedelta(minutes=1))
    counted = OutcomeFactsCount.objects.get()

    patients = outcome_facts_refresh(unless_counted=True)

    assert patients == 1
    assert OutcomeFactsCount.objects.get().counted_at == counted.counted_at


def test_a_patient_with_nothing_to_count_has_no_facts_but_is_on_the_dashboard(
    nina, riverside, responding
):
    newcomer = PatientFactory(conditions=["mdd"], preferred_location=riverside)

    outcome_facts_refresh()

    assert list(PatientOutcomeFacts.objects.values_list("patient", flat=True)) == [responding.pk]
    assert depression(clinic_outcomes(nina)) == (2, 1, 1)
    assert newcomer.pk not in PatientOutcomeFacts.objects.values_list("patient", flat=True)


def test_the_worker_counts_again_on_schedule(responding):
    entry = app.conf.beat_schedule["refresh-outcome-facts"]

    counted = refresh_outcome_facts()

    assert counted == 1
    assert entry["task"] == "outcomes.tasks.refresh_outcome_facts"
    assert entry["schedule"] == timedelta(minutes=settings.OUTCOME_FACTS_REFRESH_MINUTES)
    assert PatientOutcomeFacts.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_counts_at_once_take_turns(transactional_db):
    location = LocationFactory()
    now = timezone.now()
    for n in range(5):
        patient = PatientFactory(conditions=["trd"])
        course(patient, location, "induction")
        score(patient, "phq9", 10 + n, now - timedelta(days=3))
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def count() -> None:
        try:
            start.wait(timeout=10)
            outcome_facts_refresh()
        except BaseException as failure:  # reported below
            failures.append(failure)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=count) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert failures == []
    assert PatientOutcomeFacts.objects.count() == OutcomeFactsCount.objects.get().patients == 5
    connection.close()


def test_the_page_says_when_the_figures_were_counted(client, nina, responding):
    client.force_login(nina)

    html = client.get(DASHBOARD).content.decode()

    as_of = html.split('data-testid="as-of"')[1].split("</p>")[0]
    assert "Figures as counted now" in as_of or "second" in as_of  # counted on this read
    assert f"counted again every {settings.OUTCOME_FACTS_REFRESH_MINUTES} minutes" in as_of


@pytest.mark.parametrize("url", [DASHBOARD, "/staff/outcomes/overdue/"])
def test_the_pages_warn_when_the_count_is_late(client, nina, responding, url):
    outcome_facts_refresh()
    OutcomeFactsCount.objects.update(counted_at=timezone.now() - timedelta(hours=2))
    client.force_login(nina)

    html = client.get(url).content.decode()

    as_of = html.split('data-testid="as-of"')[1].split("</p>")[0]
    assert "alert-warning" in html.split('data-testid="as-of"')[0].rsplit("<p", 1)[1]
    assert "counted 2\xa0hours ago" in as_of
    assert "the background worker may have stopped" in as_of
