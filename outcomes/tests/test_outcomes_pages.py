"""The outcomes section of the chart and the clinic's outcomes dashboard (/staff/outcomes/)."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from outcomes.facts import outcome_facts_refresh
from outcomes.tests.test_outcomes import course, infusion, score, seed_patients
from patients.models import Patient, QuestionnaireResponse
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

DASHBOARD = "/staff/outcomes/"


def chart_url(patient: Patient) -> str:
    return f"/staff/patients/{patient.public_id}/"


@pytest.fixture
def riverside(db):
    return LocationFactory(name="Riverside", time_zone="America/New_York")


@pytest.fixture
def treated(riverside) -> Patient:
    """Depression and anxiety: PHQ-9 20 -> 9 -> 16 since the first infusion (a response
    lost, and a rise of 7), GAD-7 12 -> 4 (response and remission)."""
    now = timezone.now()
    patient = PatientFactory(
        legal_first_name="Jordan",
        legal_last_name="Rivera",
        conditions=["trd", "anxiety"],
        preferred_location=riverside,
    )
    course(patient, riverside, "induction")
    score(patient, "phq9", 20, now - timedelta(days=30))
    score(patient, "gad7", 12, now - timedelta(days=30))
    infusion(patient, riverside, now - timedelta(days=28))
    infusion(patient, riverside, now - timedelta(days=21))
    score(patient, "phq9", 9, now - timedelta(days=14))
    score(patient, "gad7", 4, now - timedelta(days=14))
    score(patient, "phq9", 16, now - timedelta(days=2))
    return patient


# --- The chart section ------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_clinicians_see_each_questionnaires_outcome_in_words_and_a_picture(
    client, request, treated, persona
):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(chart_url(treated))

    page = response.content.decode()
    assert 'data-testid="outcomes"' in page
    phq9 = page.split('data-testid="outcome-phq9"')[1].split("</li>")[0]
    assert "baseline 20/27" in phq9
    assert "latest 16/27" in phq9
    assert "No response yet: less than 50 % lower" in phq9
    assert "Not in remission" in phq9
    assert "Worsened: consider offering a booster" in phq9
    assert "PHQ-9 rose 7 points, from 9 to 16" in phq9
    gad7 = page.split('data-testid="outcome-gad7"')[1].split("</li>")[0]
    assert "Response: at least 50 % lower" in gad7
    assert "In remission" in gad7
    assert "Worsened" not in gad7
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page
    assert page.count('<g class="infusion">') == 2 * 2  # two infusions on two panels
    assert "The scores as a table" in page


def test_a_baseline_alone_says_there_is_no_questionnaire_after_it_yet(client, nina, riverside):
    patient = PatientFactory(conditions=["trd"], preferred_location=riverside)
    score(patient, "phq9", 18, timezone.now() - timedelta(days=1))
    client.force_login(nina)

    page = client.get(chart_url(patient)).content.decode()

    outcome = page.split('data-testid="outcome-phq9"')[1].split("</li>")[0]
    assert "baseline 18/27" in outcome
    assert "No questionnaire after the baseline yet." in outcome
    assert "No infusion has started yet." in page


def test_a_patient_without_questionnaires_gets_the_empty_state(client, nina, riverside):
    patient = PatientFactory(preferred_location=riverside)
    client.force_login(nina)

    page = client.get(chart_url(patient)).content.decode()

    assert 'data-testid="outcomes-empty"' in page
    assert "<svg" not in page.split('id="outcomes"')[1].split("</section>")[0]


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_the_front_desk_and_admins_get_no_outcomes_on_the_chart(client, request, treated, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(chart_url(treated))

    assert response.status_code == 200
    assert "outcomes_chart" not in response.context
    page = response.content.decode()
    assert 'id="outcomes"' not in page
    assert "baseline 20/27" not in page


def test_a_score_after_the_section_was_kept_shows_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    before = client.get(chart_url(treated)).content.decode()

    score(treated, "phq9", 8, timezone.now() - timedelta(days=1))
    after = client.get(chart_url(treated)).content.decode()

    assert "latest 16/27" in before
    assert "latest 8/27" in after
    assert "latest 16/27" not in after
    assert after.count('<g class="point">') == before.count('<g class="point">') + 1


def test_a_new_infusion_after_the_section_was_kept_shows_on_the_next_view(
    client, nina, riverside, treated
):
    client.force_login(nina)
    before = client.get(chart_url(treated)).content.decode()

    infusion(treated, riverside, timezone.now() - timedelta(days=1))
    after = client.get(chart_url(treated)).content.decode()

    assert before.count('<g class="infusion">') == 2 * 2
    assert after.count('<g class="infusion">') == 3 * 2


def test_a_changed_worsening_threshold_shows_on_the_next_view(client, nina, treated, settings):
    client.force_login(nina)
    before = client.get(chart_url(treated)).content.decode()

    settings.OUTCOME_WORSENING_POINTS = {"phq9": 10}  # a rise of 7 is no longer meaningful
    after = client.get(chart_url(treated)).content.decode()

    assert "PHQ-9 rose 7 points, from 9 to 16" in before
    assert "PHQ-9 rose 7 points" not in after
    assert "had responded" in after  # still worse: the response was lost


def test_a_section_kept_for_a_clinician_is_not_shown_to_the_front_desk(client, nina, fran, treated):
    client.force_login(nina)
    client.get(chart_url(treated))

    client.force_login(fran)
    page = client.get(chart_url(treated)).content.decode()

    assert 'id="outcomes"' not in page
    assert "baseline 20/27" not in page


def outcomes_section(page: str) -> str:
    return page.split('data-testid="outcomes"')[1].split("</section>")[0]


def test_a_score_changed_and_one_removed_by_sql_show_on_the_next_view(client, nina, treated):
    client.force_login(nina)
    latest = (
        QuestionnaireResponse.objects.filter(patient=treated, instrument="phq9")
        .order_by("-completed_at")
        .first()
    )
    before = outcomes_section(client.get(chart_url(treated)).content.decode())

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE patients_questionnaireresponse SET total = 5 WHERE id = %s", [latest.pk]
        )
    changed = outcomes_section(client.get(chart_url(treated)).content.decode())
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM patients_questionnaireresponse WHERE id = %s", [latest.pk])
    removed = outcomes_section(client.get(chart_url(treated)).content.decode())

    assert "latest 16/27" in before
    assert "latest 5/27" in changed
    assert "latest 9/27" in removed


def test_an_infusion_start_moved_by_sql_shows_on_the_next_view(client, nina, riverside, treated):
    client.force_login(nina)
    first = treated.appointments.order_by("starts_at").first().infusion_session
    before = outcomes_section(client.get(chart_url(treated)).content.decode())

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE infusions_infusionsession SET started_at = started_at - interval '3 days' "
            "WHERE id = %s",
            [first.pk],
        )
    after = outcomes_section(client.get(chart_url(treated)).content.decode())

    day = "%Y-%m-%d"
    started = timezone.localtime(first.started_at, zoneinfo.ZoneInfo(riverside.time_zone))
    assert f"Infusions started: {started.strftime(day)}" in before
    moved = started - timedelta(days=3)
    assert f"Infusions started: {moved.strftime(day)}" in after


def test_a_new_time_zone_of_the_patients_place_shows_on_the_next_view(client, nina, riverside):
    patient = PatientFactory(conditions=["trd"], preferred_location=riverside)
    # 20:00 UTC: the afternoon in New York, the next morning at UTC+14.
    at = (timezone.now() - timedelta(days=10)).replace(hour=20, minute=0, second=0, microsecond=0)
    score(patient, "phq9", 18, at - timedelta(days=2))
    infusion(patient, riverside, at)
    client.force_login(nina)
    before = outcomes_section(client.get(chart_url(patient)).content.decode())

    Location.objects.filter(pk=riverside.pk).update(time_zone="Pacific/Kiritimati")
    after = outcomes_section(client.get(chart_url(patient)).content.decode())

    assert f"Infusions started: {at.date():%Y-%m-%d}." in before
    assert f"Infusions started: {at.date() + timedelta(days=1):%Y-%m-%d}." in after


# --- The dashboard ----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_clinicians_see_the_figures_and_the_patients_who_worsened(
    client, request, treated, persona
):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    page = response.content.decode()
    depression = page.split('data-testid="outcomes-row-depression"')[1].split("</tr>")[0]
    assert "Riverside" in depression
    assert "0 % <span" in depression and "0 of n = 1" in depression
    anxiety = page.split('data-testid="outcomes-row-anxiety"')[1].split("</tr>")[0]
    assert "100 % <span" in anxiety and "1 of n = 1" in anxiety
    worsened = page.split('data-testid="worsened"')[1].split("</section>")[0]
    assert f'href="/staff/patients/{treated.public_id}/#outcomes"' in worsened
    assert "Jordan Rivera" in worsened
    assert 'data-testid="overdue-count">0<' in page
    assert "No questionnaires are overdue." in page


def test_a_clinic_admin_sees_the_figures_and_how_many_but_not_who(client, alice, treated):
    client.force_login(alice)

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    page = response.content.decode()
    anxiety = page.split('data-testid="outcomes-row-anxiety"')[1].split("</tr>")[0]
    assert "100 % <span" in anxiety and "1 of n = 1" in anxiety
    worsened = page.split('data-testid="worsened"')[1].split("</section>")[0]
    assert "1 patient whose scores worsened. Nurses and physicians see who" in worsened
    assert "Jordan Rivera" not in page and str(treated.public_id) not in page
    assert 'data-testid="overdue-count">0<' in page
    event = AuditEvent.objects.get(action=Action.VIEW, summary__contains="outcomes dashboard")
    assert event.summary.endswith("(counts only, no names shown)")


@pytest.mark.parametrize("persona", ["fran", "edie"])
def test_staff_without_clinical_or_admin_access_are_refused_the_dashboard(
    client, request, treated, persona
):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(DASHBOARD).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client, treated):
    response = client.get(DASHBOARD)

    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/staff/outcomes/"


def test_viewing_the_dashboard_is_audited_without_patient_data(client, nina, treated):
    client.force_login(nina)

    client.get(DASHBOARD)

    event = AuditEvent.objects.get(action=Action.VIEW, summary__contains="outcomes dashboard")
    assert event.actor == nina
    assert event.object_type == "patients.patient"
    assert event.summary == "viewed the outcomes dashboard: 1 patients, 1 worsened, 0 overdue"
    assert "Rivera" not in event.summary and "Jordan" not in event.summary
    assert event.object_label == ""


def test_a_filter_narrows_the_table(client, nina, treated):
    client.force_login(nina)

    page = client.get(f"{DASHBOARD}?condition=anxiety").content.decode()

    assert 'data-testid="outcomes-row-anxiety"' in page
    assert 'data-testid="outcomes-row-depression"' not in page


def test_a_location_with_nobody_shows_the_filtered_empty_state(client, nina, treated):
    elsewhere = LocationFactory(name="Lakeside")
    client.force_login(nina)

    page = client.get(f"{DASHBOARD}?location={elsewhere.public_id}").content.decode()

    assert "No patients with this condition at this location." in page
    assert "No patient's scores have worsened." in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("location=not-a-uuid", "That location is not in the list. Pick one from it."),
        (
            "location=00000000-0000-0000-0000-000000000000",
            "That location is not in the list. Pick one from it.",
        ),
        ("condition=insomnia", "That condition is not in the list. Pick one from it."),
    ],
)
def test_a_bad_filter_is_explained_and_ignored(client, nina, treated, query, message):
    client.force_login(nina)

    response = client.get(f"{DASHBOARD}?{query}")

    assert response.status_code == 200
    page = response.content.decode()
    assert message in page
    assert 'data-testid="outcomes-row-depression"' in page  # shown unfiltered


def test_an_empty_clinic_says_who_will_appear(client, nina):
    client.force_login(nina)

    page = client.get(DASHBOARD).content.decode()

    assert "No patients treated for depression, anxiety, PTSD or pain yet." in page
    assert 'data-testid="overdue-count">0<' in page


def test_the_menu_entry_marks_the_dashboard_as_the_current_page(client, nina):
    client.force_login(nina)

    page = client.get(DASHBOARD).content.decode()

    assert 'href="/staff/outcomes/" aria-current="page">Outcomes</a>' in page
    assert 'href="/staff/patients/" aria-current="page"' not in page


# --- The full lists ---------------------------------------------------------------------


def test_the_dashboard_lists_the_first_few_and_links_to_everyone_with_the_filters(
    client, nina, riverside, monkeypatch
):
    monkeypatch.setattr("outcomes.dashboard.LISTED", 2)
    seed_patients(9, riverside)  # three overdue, three worsened
    client.force_login(nina)

    page = client.get(f"{DASHBOARD}?location={riverside.public_id}&condition=anxiety")

    html = page.content.decode()
    worsened = html.split('data-testid="worsened"')[1].split("</section>")[0]
    assert worsened.count('class="list-group-item"') == 2
    more = worsened.split('data-testid="worsened-more"')[1].split("</p>")[0]
    assert "1 more: see all 3 patients whose scores worsened" in more
    query = f"location={riverside.public_id}&amp;condition=anxiety"
    assert f'href="/staff/outcomes/worsened/?{query}"' in more
    overdue = html.split('data-testid="overdue"')[1].split("</section>")[0]
    assert f'href="/staff/outcomes/overdue/?{query}"' in overdue


def test_a_short_list_has_no_link_to_more(client, nina, treated):
    client.force_login(nina)

    html = client.get(DASHBOARD).content.decode()

    assert 'data-testid="worsened-more"' not in html
    assert 'data-testid="overdue-more"' not in html


def test_a_clinic_admin_gets_no_link_to_the_lists(client, alice, riverside, monkeypatch):
    monkeypatch.setattr("outcomes.dashboard.LISTED", 1)
    seed_patients(6, riverside)
    client.force_login(alice)

    html = client.get(DASHBOARD).content.decode()

    assert "/staff/outcomes/worsened/" not in html and "/staff/outcomes/overdue/" not in html
    assert "2 patients whose scores worsened. Nurses and physicians see who" in html


@pytest.mark.parametrize("flag", ["worsened", "overdue"])
def test_the_full_list_shows_everyone_a_page_at_a_time(client, nina, riverside, monkeypatch, flag):
    monkeypatch.setattr("outcomes.dashboard.PER_PAGE", 2)
    seed_patients(9, riverside)  # three overdue, three worsened
    client.force_login(nina)

    first = client.get(f"/staff/outcomes/{flag}/")
    last = client.get(f"/staff/outcomes/{flag}/?page=2")

    assert first.status_code == last.status_code == 200
    shown = [*first.context["page"].object_list, *last.context["page"].object_list]
    assert len(shown) == 3 and len({flagged.patient.pk for flagged in shown}) == 3
    html = first.content.decode()
    assert 'data-testid="flagged-count">3<' in html
    assert "Patients 1–2 of 3, by surname." in html
    assert 'href="?page=2" rel="next"' in html
    assert f"/staff/patients/{shown[0].patient.public_id}/" in html
    if flag == "worsened":
        assert "GAD-7 rose 5 points, from 15 to 20" in html


def test_a_page_past_the_end_shows_the_last_page(client, nina, riverside, monkeypatch):
    monkeypatch.setattr("outcomes.dashboard.PER_PAGE", 2)
    seed_patients(9, riverside)
    client.force_login(nina)

    response = client.get("/staff/outcomes/overdue/?page=99")

    assert response.status_code == 200
    assert response.context["page"].number == 2


def test_the_full_list_keeps_the_filters(client, nina, riverside, treated):
    lakeside = LocationFactory(name="Lakeside")
    seed_patients(3, lakeside)  # one worsened at Lakeside
    client.force_login(nina)

    here = client.get(f"/staff/outcomes/worsened/?location={riverside.public_id}")
    there = client.get(f"/staff/outcomes/worsened/?location={lakeside.public_id}&condition=ptsd")
    nowhere = client.get(f"/staff/outcomes/worsened/?location={LocationFactory().public_id}")

    assert [f.patient for f in here.context["page"].object_list] == [treated]
    assert there.context["page"].paginator.count == 1
    assert treated not in [f.patient for f in there.context["page"].object_list]
    assert nowhere.context["page"].paginator.count == 0
    html = nowhere.content.decode()
    assert "No patient with this condition at this location has scores that worsened." in html
    assert 'href="/staff/outcomes/worsened/">Clear the filters</a>' in html


def test_an_empty_list_says_who_would_be_on_it(client, nina):
    client.force_login(nina)

    html = client.get("/staff/outcomes/overdue/").content.decode()

    assert "No questionnaires are overdue." in html
    assert 'data-testid="flagged-count">0<' in html


def test_viewing_a_full_list_is_audited_without_patient_data(client, nina, treated):
    client.force_login(nina)

    client.get("/staff/outcomes/worsened/")

    event = AuditEvent.objects.get(action=Action.VIEW, summary__contains="outcomes list")
    assert event.object_type == "patients.patient"
    assert event.summary == (
        "viewed the outcomes list of patients who worsened: page 1 of 1, 1 of 1 patients"
    )


@pytest.mark.parametrize("flag", ["worsened", "overdue"])
def test_a_full_list_costs_the_same_for_3_and_30_patients(client, nina, riverside, flag):
    seed_patients(3, riverside)
    client.force_login(nina)
    client.get("/staff/outcomes/")  # the session's first-request writes, the first count

    with CaptureQueriesContext(connection) as few:
        client.get(f"/staff/outcomes/{flag}/?location={riverside.public_id}")
    seed_patients(27, riverside)
    outcome_facts_refresh()  # as the worker does every few minutes
    with CaptureQueriesContext(connection) as many:
        response = client.get(f"/staff/outcomes/{flag}/?location={riverside.public_id}")

    assert len(many) == len(few)
    assert response.context["page"].paginator.count == 10
