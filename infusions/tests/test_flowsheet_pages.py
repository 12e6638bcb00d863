"""The flowsheet and events sections of the session screen: what they show, entering a
reading or an event in a few taps (HTMX and plain posts), acknowledging alerts, marking
records in error, and who may do what."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import AuditEvent
from infusions.models import SessionAlert, SessionEvent, VitalsReading
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.tests.test_flowsheet import record, session_in

S = InfusionSessionState
HTMX = {"HTTP_HX_REQUEST": "true"}
READING = {
    "systolic": "128",
    "diastolic": "84",
    "heart_rate": "76",
    "spo2": "97",
    "respiratory_rate": "14",
    "consciousness": "2",
}


@pytest.fixture
def infusing(nina, phil):
    return session_in(nina, phil, S.INFUSING)


def url(session, tail: str = "") -> str:
    return f"/staff/sessions/{session.public_id}/{tail}"


def page(client, user, session, **extra):
    client.force_login(user)
    return client.get(url(session), **extra)


def section(html: str, section_id: str) -> str:
    match = re.search(rf'<section id="{section_id}".*?</section>', html, re.S)
    assert match, f"no #{section_id} section"
    return match.group(0)


# --- What the flowsheet shows --------------------------------------------------------------------


def test_the_flowsheet_shows_readings_flags_and_when_the_next_is_due(client, nina, infusing):
    taken = timezone.now() - timedelta(minutes=2)
    record(nina, infusing, taken_at=taken, systolic=186, diastolic=95)

    response = page(client, nina, infusing)

    html = section(response.content.decode(), "flowsheet")
    tz = infusing.appointment.location.tz
    assert f"{taken.astimezone(tz):%H:%M}" in html
    assert "186/95" in html
    assert "▲</span> high" in html  # out of range in words, not colour alone
    due = taken + timedelta(minutes=10)
    assert f'Next reading due <strong><time datetime="{due.isoformat()}">' in html
    assert f"{due.astimezone(tz):%H:%M}" in html
    assert 'data-testid="overdue"' not in html
    table = re.search(r'<table[^>]*data-testid="readings".*?</table>', html, re.S).group(0)
    assert '1 <span class="small">Alert and oriented</span>' in table
    assert "Relaxed or mildly dissociated" not in table


def test_an_overdue_reading_is_announced(client, nina, infusing):
    # The infusion started 40 minutes ago and nobody has taken a reading since.
    response = page(client, nina, infusing)

    html = section(response.content.decode(), "flowsheet")
    assert re.search(r'role="alert" data-testid="overdue">.*OVERDUE', html)


def test_open_alerts_come_first_with_their_actions(client, nina, infusing):
    alert = record(nina, infusing, spo2=89).alerts.get()

    html = section(page(client, nina, infusing).content.decode(), "flowsheet")

    assert html.index('data-testid="open-alerts"') < html.index('data-testid="readings"')
    assert 'role="alert" data-testid="open-alerts"' in html
    assert alert.message in html
    assert url(infusing, f"alerts/{alert.public_id}/acknowledge/") in html
    for action in AlertAction.values:
        assert f'name="action" value="{action}"' in html


def test_a_spravato_alert_offers_no_infusion_to_slow_pause_or_stop(client, nina, phil):
    from infusions.readings import ReadingInput, reading_record
    from infusions.tests.rems_factories import dosed

    session, _ = dosed(nina, phil)
    high = ReadingInput(
        systolic=190, diastolic=112, heart_rate=76, spo2=98, respiratory_rate=14, consciousness=1
    )
    reading_record(actor=nina, session=session, values=high)

    html = section(page(client, nina, session).content.decode(), "flowsheet")

    assert 'data-testid="acknowledge-form"' in html
    offered = re.findall(r'name="action" value="(\w+)"', html)
    assert offered == [AlertAction.CONTINUE, AlertAction.MEDICATION]
    form = html.split('data-testid="acknowledge-form"')[1].split("</form>")[0]
    assert "infusion" not in form


def test_the_entry_form_is_made_for_a_tablet(client, nina, infusing):
    html = section(page(client, nina, infusing).content.decode(), "flowsheet")

    for name in ["systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate", "pain"]:
        tag = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert 'inputmode="numeric"' in tag
        assert "form-control-lg" in tag
    radios = re.findall(r'<input[^>]*type="radio"[^>]*name="consciousness"[^>]*>', html)
    assert len(radios) == 5
    time_input = re.search(r'<input[^>]*name="taken_at"[^>]*>', html).group(0)
    assert 'type="time"' in time_input
    assert "Leave it empty for the time you save" in html
    assert f'hx-post="{url(infusing, "readings/")}"' in html


def test_the_live_part_refreshes_itself_every_minute(client, nina, infusing):
    client.force_login(nina)

    response = client.get(url(infusing, "flowsheet/"), {"part": "live"}, **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="flowsheet-live"')
    # Not while the nurse types in it: static/js/chairside.js holds the poll back then.
    assert 'hx-trigger="every 60s" data-poll-unless-focused' in html
    assert "OVERDUE" in html


def test_a_discharged_session_does_not_poll_or_take_readings(client, nina, phil):
    session = session_in(nina, phil, S.DISCHARGED)

    html = section(page(client, nina, session).content.decode(), "flowsheet")

    assert "hx-trigger" not in html
    assert 'data-testid="reading-form"' not in html


def test_the_flowsheet_costs_the_same_queries_however_many_readings(
    client, django_assert_max_num_queries, nina, infusing
):
    record(nina, infusing, heart_rate=130)
    client.force_login(nina)
    with CaptureQueriesContext(connection) as with_one:
        client.get(url(infusing, "flowsheet/"), **HTMX)
    for minutes in range(1, 8):
        record(nina, infusing, spo2=85, taken_at=timezone.now() - timedelta(minutes=minutes))

    with django_assert_max_num_queries(len(with_one)):
        response = client.get(url(infusing, "flowsheet/"), **HTMX)

    assert response.content.decode().count('data-testid="reading"') == 8


# --- Entering a reading --------------------------------------------------------------------------


def test_a_reading_entered_with_htmx_rerenders_the_section(client, nina, infusing):
    client.force_login(nina)

    response = client.post(url(infusing, "readings/"), READING, **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html
    assert html.count('<section id="flowsheet"') == 1
    reading = VitalsReading.objects.get()
    assert (reading.systolic, reading.diastolic, reading.consciousness) == (128, 84, 2)
    assert reading.recorded_by == nina
    assert "saved" in html
    assert "128/84" in html
    assert response["HX-Trigger"] == "session-records-changed"


def test_the_chart_redraws_itself_when_the_flowsheet_says_the_records_changed(
    client, nina, infusing
):
    """The flowsheet's answer triggers session-records-changed; the chart listens for it and
    asks for itself again, now with the new reading."""
    client.force_login(nina)
    chart = section(page(client, nina, infusing).content.decode(), "chart")
    asks = re.search(r'hx-get="([^"]+)"', chart).group(1).replace("&amp;", "&")
    assert 'hx-trigger="session-records-changed from:body"' in chart
    assert 'data-testid="chart-empty"' in chart

    saved = client.post(url(infusing, "readings/"), READING, **HTMX)
    redrawn = client.get(asks, **HTMX).content.decode()

    assert saved["HX-Trigger"] == "session-records-changed"
    assert '<section id="chart"' in redrawn
    assert 'data-testid="chart-empty"' not in redrawn
    assert 'data-testid="session-chart"' in redrawn
    assert "<html" not in redrawn


def test_a_reading_posted_without_javascript_redirects_back(client, nina, infusing):
    client.force_login(nina)
    now = infusing.appointment.location.local_now()

    response = client.post(url(infusing, "readings/"), READING | {"taken_at": f"{now:%H:%M}"})

    assert response.status_code == 302
    assert response["Location"] == url(infusing) + "#flowsheet"
    reading = VitalsReading.objects.get()
    # The current minute (the form's default) means now, to the second, so the reading
    # sorts after one saved earlier in the same minute.
    assert now.replace(second=0, microsecond=0) <= reading.taken_at <= timezone.now()


def test_the_time_is_not_filled_in_so_it_cannot_go_stale_on_an_open_screen(client, nina, infusing):
    """A tablet keeps the session screen open for hours (the poll redraws the table, not the
    form): a time filled in when the page was drawn would be saved minutes late. Empty means
    the moment the reading is saved."""
    client.force_login(nina)
    html = page(client, nina, infusing).content.decode()
    time_inputs = re.findall(r'<input[^>]*name="(?:taken_at|occurred_at)"[^>]*>', html)

    saved_from_it = client.post(url(infusing, "readings/"), READING | {"taken_at": ""})

    assert len(time_inputs) == 2
    assert not any("value=" in tag for tag in time_inputs)
    assert saved_from_it.status_code == 302
    reading = VitalsReading.objects.get()
    assert timezone.now() - timedelta(seconds=30) <= reading.taken_at <= timezone.now()


def test_an_earlier_time_is_kept_as_entered(client, nina, infusing):
    client.force_login(nina)
    earlier = infusing.appointment.location.local_now() - timedelta(minutes=5)

    client.post(url(infusing, "readings/"), READING | {"taken_at": f"{earlier:%H:%M}"})

    reading = VitalsReading.objects.get()
    assert reading.taken_at == earlier.replace(second=0, microsecond=0)


def test_a_reading_that_raises_an_alert_says_so(client, nina, infusing):
    client.force_login(nina)

    response = client.post(url(infusing, "readings/"), READING | {"spo2": "88"}, **HTMX)

    html = response.content.decode()
    assert "Out of range: SpO2 88 % low. Acknowledge the alert" in html
    assert 'data-testid="open-alert"' in html


def test_a_high_reading_shows_one_alert_listing_every_value_with_one_form(client, nina, infusing):
    client.force_login(nina)
    high = {"systolic": "186", "diastolic": "112", "heart_rate": "124"}

    response = client.post(url(infusing, "readings/"), READING | high, **HTMX)

    html = response.content.decode()
    assert html.count('data-testid="open-alert"') == 1
    assert html.count('data-testid="acknowledge-form"') == 1
    assert "Open alert: say what was done" in html
    assert "3 values out of range" in html
    for words in ("186 mmHg", "112 mmHg", "124/min"):
        assert words in section(html, "flowsheet")
    alert = SessionAlert.objects.get()

    response = client.post(
        url(infusing, f"alerts/{alert.public_id}/acknowledge/"), {"action": "slow"}, **HTMX
    )

    assert 'data-testid="open-alert"' not in response.content.decode()
    assert not SessionAlert.objects.filter(acknowledged_at__isnull=True).exists()


@pytest.mark.parametrize("htmx", [True, False])
def test_a_bad_reading_shows_the_message_by_the_field_and_saves_nothing(
    client, nina, infusing, htmx
):
    client.force_login(nina)
    data = READING | {"systolic": "90", "diastolic": "95"}

    response = client.post(url(infusing, "readings/"), data, **(HTMX if htmx else {}))

    assert response.status_code == 200
    html = response.content.decode()
    assert ("<html" in html) is not htmx
    flowsheet = section(html, "flowsheet")
    assert "must be below the systolic" in flowsheet
    tag = re.search(r'<input[^>]*name="diastolic"[^>]*>', flowsheet).group(0)
    assert 'aria-invalid="true"' in tag
    assert 'aria-describedby="id_diastolic-error"' in tag
    assert 'id="id_diastolic-error"' in flowsheet
    assert 'value="95"' in tag  # what was typed stays
    assert VitalsReading.objects.count() == 0
    assert SessionAlert.objects.count() == 0


def test_a_reading_missing_values_says_which(client, nina, infusing):
    client.force_login(nina)

    response = client.post(url(infusing, "readings/"), {"systolic": "120"}, **HTMX)

    html = response.content.decode()
    assert "Enter the diastolic pressure" in html
    assert "Enter the level of consciousness" in html
    assert VitalsReading.objects.count() == 0


def test_a_reading_time_that_is_not_a_time_is_refused(client, nina, infusing):
    client.force_login(nina)

    response = client.post(url(infusing, "readings/"), READING | {"taken_at": "25:99"}, **HTMX)

    assert "Enter a time like 10:15." in response.content.decode()
    assert VitalsReading.objects.count() == 0


def test_a_reading_can_be_marked_in_error_from_the_page(client, nina, infusing):
    reading = record(nina, infusing, systolic=199)
    client.force_login(nina)

    response = client.post(
        url(infusing, f"readings/{reading.public_id}/error/"), {"reason": "Cuff slipped"}, **HTMX
    )

    html = response.content.decode()
    reading.refresh_from_db()
    assert reading.entered_in_error_reason == "Cuff slipped"
    assert 'data-in-error="true"' in html
    assert 'data-testid="open-alerts"' not in html


def test_each_reading_links_to_its_in_error_form_instead_of_carrying_one(client, nina, infusing):
    readings = [
        record(nina, infusing, taken_at=timezone.now() - timedelta(minutes=minutes))
        for minutes in (3, 2, 1)
    ]

    html = section(page(client, nina, infusing).content.decode(), "flowsheet")

    live = re.search(r'<div id="flowsheet-live".*?</table>', html, re.S).group(0)
    assert 'name="reason"' not in live  # no form (nor CSRF token) per row
    for reading in readings:
        error_url = url(infusing, f"readings/{reading.public_id}/error/")
        assert f'href="{error_url}" hx-get="{error_url}"' in live
    assert live.count("Mark in error…") == 3


def test_the_in_error_form_opens_on_demand_with_htmx(client, nina, infusing):
    reading = record(nina, infusing)
    client.force_login(nina)

    response = client.get(url(infusing, f"readings/{reading.public_id}/error/"), **HTMX)

    html = response.content.decode()
    error_url = url(infusing, f"readings/{reading.public_id}/error/")
    assert f'<form method="post" action="{error_url}" hx-post="{error_url}"' in html
    label = f'<label class="form-label small" for="reading-{reading.public_id.hex}-reason">'
    assert label in html
    assert "autofocus" in html  # the nurse types the reason straight away
    assert "csrfmiddlewaretoken" in html
    assert AuditEvent.objects.filter(actor=nina, summary="infusion session vital signs").exists()


def test_without_javascript_the_link_opens_the_screen_with_that_form(client, nina, infusing):
    reading, other = record(nina, infusing), record(nina, infusing)
    client.force_login(nina)

    response = client.get(url(infusing, f"readings/{reading.public_id}/error/"))

    html = section(response.content.decode(), "flowsheet")
    assert html.count('data-testid="in-error-form"') == 1
    assert f'id="reading-{reading.public_id.hex}-reason"' in html
    assert f"readings/{other.public_id}/error/" in html  # the other row keeps its link
    response = client.post(
        url(infusing, f"readings/{reading.public_id}/error/"), {"reason": "Cuff slipped"}
    )
    assert response.status_code == 302
    assert response["Location"].endswith("#flowsheet")


def test_the_front_desk_cannot_open_the_in_error_form(client, fran, nina, infusing):
    reading = record(nina, infusing)
    client.force_login(fran)

    response = client.get(url(infusing, f"readings/{reading.public_id}/error/"), **HTMX)

    assert response.status_code == 403


def test_marking_in_error_needs_a_reason(client, nina, infusing):
    reading = record(nina, infusing)
    client.force_login(nina)

    response = client.post(url(infusing, f"readings/{reading.public_id}/error/"), {}, **HTMX)

    assert "Say why it is wrong" in response.content.decode()
    reading.refresh_from_db()
    assert reading.entered_in_error_at is None


# --- Acknowledging alerts ------------------------------------------------------------------------


def test_an_alert_is_acknowledged_from_the_page(client, phil, nina, infusing):
    alert = record(nina, infusing, heart_rate=135).alerts.get()
    client.force_login(phil)

    response = client.post(
        url(infusing, f"alerts/{alert.public_id}/acknowledge/"),
        {"action": "continue", "note": "Anxious, settling"},
        **HTMX,
    )

    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.action) == (phil, AlertAction.CONTINUE)
    html = response.content.decode()
    assert "Alert acknowledged by Phil Physician" in html
    assert 'data-testid="open-alerts"' not in html
    assert "Continue and watch — Phil Physician" in html


def test_medication_given_needs_the_medication_and_keeps_the_alert_open(client, nina, infusing):
    alert = record(nina, infusing, systolic=190).alerts.get()
    client.force_login(nina)

    response = client.post(
        url(infusing, f"alerts/{alert.public_id}/acknowledge/"),
        {"action": "medication", "medication_name": "Labetalol"},
        **HTMX,
    )

    html = response.content.decode()
    assert "Enter the dose given" in html
    assert re.search(r"<details[^>]*open>\s*<summary[^>]*>Medication given", html)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert SessionEvent.objects.count() == 0


def test_medication_given_also_updates_the_events_section(client, nina, infusing):
    alert = record(nina, infusing, systolic=190).alerts.get()
    client.force_login(nina)

    response = client.post(
        url(infusing, f"alerts/{alert.public_id}/acknowledge/"),
        {
            "action": "medication",
            "medication_name": "Labetalol",
            "medication_dose": "10 mg",
            "medication_route": "iv",
        },
        **HTMX,
    )

    html = response.content.decode()
    events = section(html, "events")
    assert 'hx-swap-oob="true"' in events
    assert "Labetalol 10 mg" in events
    assert SessionEvent.objects.get().alert == alert


def test_pausing_for_an_alert_reloads_the_page(client, nina, infusing):
    alert = record(nina, infusing, spo2=85).alerts.get()
    client.force_login(nina)

    response = client.post(
        url(infusing, f"alerts/{alert.public_id}/acknowledge/"), {"action": "pause"}, **HTMX
    )

    assert response["HX-Refresh"] == "true"
    infusing.refresh_from_db()
    assert infusing.state == S.PAUSED
    follow = client.get(url(infusing))
    assert "The infusion is paused." in follow.content.decode()


def test_acknowledging_twice_is_refused_on_the_page(client, nina, phil, infusing):
    alert = record(nina, infusing, spo2=85).alerts.get()
    client.force_login(nina)
    ack = url(infusing, f"alerts/{alert.public_id}/acknowledge/")
    client.post(ack, {"action": "continue"})

    response = client.post(ack, {"action": "stop"})

    assert response.status_code == 200
    assert "acknowledged this alert already" in response.content.decode()
    alert.refresh_from_db()
    assert alert.action == AlertAction.CONTINUE


def test_an_alert_of_another_session_is_not_found(client, nina, phil, infusing):
    other = session_in(nina, phil, S.INFUSING, location=infusing.appointment.location, hour=13)
    alert = record(nina, other, spo2=85).alerts.get()
    client.force_login(nina)

    response = client.post(
        url(infusing, f"alerts/{alert.public_id}/acknowledge/"), {"action": "continue"}
    )

    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# --- Events --------------------------------------------------------------------------------------


def test_an_event_is_recorded_from_the_page(client, nina, infusing):
    client.force_login(nina)

    response = client.post(
        url(infusing, "events/"),
        {
            "side_effect": "nausea",
            "severity": "moderate",
            "medication_name": "Ondansetron",
            "medication_dose": "4 mg",
            "medication_route": "sublingual",
        },
        **HTMX,
    )

    html = response.content.decode()
    assert html.count('<section id="events"') == 1
    assert "Nausea" in html
    assert "Ondansetron 4 mg, under the tongue" in html
    event = SessionEvent.objects.get()
    assert (event.side_effect, event.severity, event.recorded_by) == ("nausea", "moderate", nina)


def test_a_bad_event_shows_its_message_and_saves_nothing(client, nina, infusing):
    client.force_login(nina)

    response = client.post(url(infusing, "events/"), {"side_effect": "other"})

    html = section(response.content.decode(), "events")
    assert "Describe the side effect" in html
    assert "Choose how severe it is" in html
    assert SessionEvent.objects.count() == 0


def test_an_event_can_be_marked_in_error(client, nina, infusing):
    client.force_login(nina)
    client.post(url(infusing, "events/"), {"side_effect": "headache", "severity": "mild"})
    event = SessionEvent.objects.get()

    response = client.post(url(infusing, f"events/{event.public_id}/error/"), {"reason": "Dup"})

    assert response.status_code == 302
    assert response["Location"].endswith("#events")
    event.refresh_from_db()
    assert event.entered_in_error_reason == "Dup"


def test_an_event_links_to_its_in_error_form(client, nina, infusing):
    client.force_login(nina)
    client.post(url(infusing, "events/"), {"side_effect": "headache", "severity": "mild"})
    event = SessionEvent.objects.get()
    error_url = url(infusing, f"events/{event.public_id}/error/")

    html = section(page(client, nina, infusing).content.decode(), "events")
    form = client.get(error_url, **HTMX).content.decode()

    assert f'href="{error_url}" hx-get="{error_url}"' in html
    assert 'name="reason"' not in html
    assert f'action="{error_url}" hx-post="{error_url}" hx-target="#events"' in form


# --- Who may -------------------------------------------------------------------------------------


def test_the_front_desk_cannot_see_or_record_vitals(client, fran, nina, infusing):
    reading = record(nina, infusing, spo2=85)
    alert = reading.alerts.get()
    client.force_login(fran)

    assert client.get(url(infusing)).status_code == 403
    assert client.get(url(infusing, "flowsheet/"), **HTMX).status_code == 403
    assert client.post(url(infusing, "readings/"), READING).status_code == 403
    assert client.post(url(infusing, "events/"), {"side_effect": "nausea"}).status_code == 403
    ack = url(infusing, f"alerts/{alert.public_id}/acknowledge/")
    assert client.post(ack, {"action": "continue"}).status_code == 403
    error = url(infusing, f"readings/{reading.public_id}/error/")
    assert client.post(error, {"reason": "x"}).status_code == 403
    assert VitalsReading.objects.count() == 1
    assert SessionEvent.objects.count() == 0
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_signed_out_visitors_are_sent_to_sign_in(client, infusing):
    response = client.post(url(infusing, "readings/"), READING)
    assert response.status_code == 302
    assert "login" in response["Location"]
    assert VitalsReading.objects.count() == 0


def test_an_unknown_session_or_reading_is_not_found(client, nina, infusing):
    client.force_login(nina)
    assert client.get(f"/staff/sessions/{uuid.uuid4()}/flowsheet/").status_code == 404
    missing = url(infusing, f"readings/{uuid.uuid4()}/error/")
    assert client.post(missing, {"reason": "x"}).status_code == 404


def test_reading_pages_are_post_only(client, nina, infusing):
    client.force_login(nina)
    assert client.get(url(infusing, "readings/")).status_code == 405
