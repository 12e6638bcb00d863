"""The outcomes dashboard kept rendered (outcomes.views.outcomes_dashboard): drawn again
after every write to what it shows, never shown to a reader with other access, overdue
judged at the current minute."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import AuditEvent
from outcomes.facts import outcome_facts_refresh
from outcomes.models import PatientOutcomeFacts
from outcomes.tests.test_outcomes import course, infusion, score
from patients.models import Patient, QuestionnaireResponse
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

DASHBOARD = "/staff/outcomes/"


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()


@pytest.fixture
def riverside(db):
    return LocationFactory(name="Riverside")


@pytest.fixture
def treated(riverside) -> Patient:
    """Depression: PHQ-9 20 -> 9 -> 16 since the first infusion (worsened: a rise of 7,
    and a response lost), in induction at Riverside."""
    now = timezone.now()
    patient = PatientFactory(
        legal_first_name="Jordan",
        legal_last_name="Rivera",
        conditions=["trd"],
        preferred_location=riverside,
    )
    course(patient, riverside, "induction")
    score(patient, "phq9", 20, now - timedelta(days=30))
    infusion(patient, riverside, now - timedelta(days=28))
    score(patient, "phq9", 9, now - timedelta(days=14))
    score(patient, "phq9", 16, now - timedelta(days=2))
    outcome_facts_refresh()
    return patient


def view(client) -> str:
    response = client.get(DASHBOARD)
    assert response.status_code == 200
    return response.content.decode()


def section(page: str, name: str) -> str:
    return page.split(f'data-testid="{name}"')[1].split("</section>")[0]


def kept_part(page: str) -> str:
    """The filters, the table and the lists (the rest of the page holds a CSRF token
    masked anew each time)."""
    return page.split('aria-label="Filter the outcomes"')[1].split('data-testid="overdue"')[1]


def depression_row(page: str) -> str:
    return page.split('data-testid="outcomes-row-depression"')[1].split("</tr>")[0]


def kept_view(client) -> str:
    """View the dashboard twice and check the second view was the kept one: no figures
    read (it costs the session, the user, the version and the audit row)."""
    view(client)
    with CaptureQueriesContext(connection) as queries:
        page = view(client)
    assert len(queries) == 4, [query["sql"][:80] for query in queries]
    return page


def test_a_second_view_is_kept_and_costs_four_queries(client, nina, treated):
    client.force_login(nina)

    first = view(client)
    again = kept_view(client)

    assert kept_part(again) == kept_part(first)
    assert "Jordan Rivera" in section(again, "worsened")


def test_the_kept_page_is_audited_on_every_view(client, nina, treated):
    client.force_login(nina)

    kept_view(client)

    summaries = list(
        AuditEvent.objects.filter(actor=nina, summary__contains="outcomes dashboard")
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert summaries == ["viewed the outcomes dashboard: 1 patients, 1 worsened, 0 overdue"] * 2


def test_a_new_count_shows_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    kept_view(client)
    score(treated, "phq9", 8, timezone.now() - timedelta(days=1))  # a response again

    not_yet_counted = view(client)
    outcome_facts_refresh()
    counted = view(client)

    assert "Jordan Rivera" in section(not_yet_counted, "worsened")
    assert "Jordan Rivera" not in section(counted, "worsened")
    assert "1 of n = 1" in depression_row(counted)


def test_facts_written_by_any_path_show_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    kept_view(client)

    PatientOutcomeFacts.objects.filter(patient=treated).update(worsened=False)

    assert "Jordan Rivera" not in section(view(client), "worsened")


def test_a_new_patient_shows_on_the_next_view(client, nina, riverside, treated):
    client.force_login(nina)
    assert "<td>1</td>" in depression_row(kept_view(client))

    PatientFactory(conditions=["mdd"], preferred_location=riverside)

    assert "<td>2</td>" in depression_row(view(client))


def test_a_renamed_patient_shows_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    kept_view(client)

    Patient.objects.filter(pk=treated.pk).update(legal_first_name="Jordana")

    assert "Jordana Rivera" in section(view(client), "worsened")


def test_a_patient_whose_conditions_change_leaves_the_group_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    kept_view(client)

    Patient.objects.filter(pk=treated.pk).update(conditions=["anxiety"])

    page = view(client)
    assert 'data-testid="outcomes-row-depression"' not in page
    assert 'data-testid="outcomes-row-anxiety"' in page


def test_a_deleted_patient_goes_on_the_next_view(client, nina, riverside, treated):
    newcomer = PatientFactory(conditions=["mdd"], preferred_location=riverside)
    client.force_login(nina)
    assert "<td>2</td>" in depression_row(kept_view(client))

    with connection.cursor() as cursor:  # by hand: no cascade writing other tables
        cursor.execute("DELETE FROM patients_patient WHERE id = %s", [newcomer.pk])

    assert "<td>1</td>" in depression_row(view(client))


def test_a_changed_or_deleted_score_changes_the_reasons_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    page = kept_view(client)
    assert "PHQ-9 rose 7 points, from 9 to 16" in section(page, "worsened")
    latest = QuestionnaireResponse.objects.filter(patient=treated).latest("completed_at")

    QuestionnaireResponse.objects.filter(pk=latest.pk).update(total=17)
    changed = view(client)
    QuestionnaireResponse.objects.filter(pk=latest.pk).delete()
    deleted = view(client)

    assert "PHQ-9 rose 8 points, from 9 to 17" in section(changed, "worsened")
    # Worsened as of the count, with no reason left in the scores.
    assert "PHQ-9 rose" not in section(deleted, "worsened")


def test_a_renamed_location_shows_on_the_next_view(client, nina, riverside, treated):
    client.force_login(nina)
    kept_view(client)

    riverside.name = "Riverbend"
    riverside.save(update_fields=["name"])

    page = view(client)
    assert "Riverbend" in depression_row(page)
    assert "Riverbend" in page.split('name="location"')[1].split("</select>")[0]


def test_a_patient_becomes_overdue_on_time_and_not_before(
    client, nina, riverside, treated, monkeypatch
):
    """The kept page holds until the next patient's latest questionnaire is too old."""
    now = timezone.now()
    due = PatientFactory(legal_first_name="Dana", legal_last_name="Due", conditions=["mdd"])
    course(due, riverside, "induction")
    score(due, "phq9", 12, now - timedelta(days=settings.OUTCOME_OVERDUE_DAYS, minutes=-60))
    outcome_facts_refresh()
    client.force_login(nina)
    assert 'data-testid="overdue-count">0<' in kept_view(client)

    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(minutes=59))
    almost = kept_view(client)
    monkeypatch.setattr(timezone, "now", lambda: now + timedelta(minutes=61))
    overdue = view(client)

    assert 'data-testid="overdue-count">0<' in almost
    assert 'data-testid="overdue-count">1<' in overdue
    assert "Dana Due" in section(overdue, "overdue")


def test_a_page_kept_for_a_clinician_is_not_shown_to_a_clinic_admin(client, nina, alice, treated):
    client.force_login(nina)
    kept_view(client)

    client.force_login(alice)
    page = view(client)

    assert "Jordan Rivera" not in page and str(treated.public_id) not in page
    assert "1 patient whose scores worsened" in section(page, "worsened")


def test_a_page_kept_for_a_clinic_admin_is_not_shown_to_a_clinician(client, nina, alice, treated):
    client.force_login(alice)
    view(client)
    view(client)

    client.force_login(nina)

    assert "Jordan Rivera" in section(view(client), "worsened")


def test_each_filter_is_kept_apart(client, nina, riverside, treated):
    client.force_login(nina)
    kept_view(client)
    elsewhere = LocationFactory(name="Hillside")

    filtered = client.get(DASHBOARD, {"location": str(elsewhere.public_id)}).content.decode()
    bad = client.get(DASHBOARD, {"condition": "nonsense"}).content.decode()

    assert "No patients with this condition at this location." in filtered
    assert "That condition is not in the list." in bad
    assert "Jordan Rivera" in section(bad, "worsened")
