"""The picture of the session: what the SVG holds for given data (pure), and the selector that
builds the data from a session's records."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.template import Context, Template
from django.utils import timezone

from infusions.chart import ChartMark, ChartPoint, chart_for_session, session_chart
from infusions.models import SessionEvent
from infusions.models.readings import VitalsPhase
from infusions.tests.factories import vitals_reading
from infusions.vitals import DEFAULT_ALERT_THRESHOLDS, AlertThresholds

CHICAGO = ZoneInfo("America/Chicago")
# 15:00 UTC is 09:00 in Chicago in winter (UTC-6).
T0 = datetime(2026, 1, 14, 15, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


POINTS = [
    ChartPoint(at(0), systolic=122, diastolic=78, heart_rate=70, spo2=99),
    ChartPoint(at(10), systolic=150, diastolic=92, heart_rate=88, spo2=97),
    ChartPoint(at(20), systolic=184, diastolic=101, heart_rate=95, spo2=96),
    ChartPoint(at(35), systolic=None, diastolic=None, heart_rate=None, spo2=90),
]
MARKS = [
    ChartMark(at(2), "Started", "start"),
    ChartMark(at(42), "Infusion ended", "end"),
    ChartMark(at(18), "Nausea (mild)", "event"),
]


def chart(points=POINTS, thresholds=DEFAULT_ALERT_THRESHOLDS, marks=MARKS, tz=CHICAGO):
    return session_chart(points, thresholds, marks, tz)


def titles(svg: str) -> list[str]:
    return re.findall(r"<title>([^<]*)</title>", svg)


def test_it_draws_the_alert_thresholds_as_labelled_dashed_lines():
    svg = chart().svg
    assert svg.count('class="threshold"') == 5
    assert svg.count('stroke-dasharray="6 4"') >= 5
    for label in ("SBP ≥ 180", "DBP ≥ 110", "HR &gt; 120", "HR &lt; 50", "SpO2 &lt; 92"):
        assert label in svg


def test_it_draws_the_clinics_own_thresholds():
    thresholds = AlertThresholds(systolic_at_or_above=170, spo2_below=90)
    svg = chart(thresholds=thresholds).svg
    assert "SBP ≥ 170" in svg and "SpO2 &lt; 90" in svg
    assert "SBP ≥ 180" not in svg


def test_it_draws_one_marker_per_value_measured_in_local_time():
    svg = chart().svg
    # 3 systolic, 3 diastolic, 3 heart rates, 4 SpO2: the missing values are skipped.
    assert svg.count('<g class="point">') == 13
    assert "09:00 Systolic BP (mmHg): 122" in titles(svg)
    assert "09:35 SpO2 (%): 90" in titles(svg)
    # One line per series with more than one value.
    assert svg.count("<polyline") == 4


def test_it_marks_the_infusion_and_the_events_on_the_time_axis():
    svg = chart().svg
    assert 'class="mark mark-start"' in svg and ">Started</text>" in svg
    assert 'class="mark mark-end"' in svg
    assert 'class="mark mark-event"' in svg
    assert "09:18 Nausea (mild)" in titles(svg)
    # Ticks every 10 minutes on the local clock.
    assert re.findall(r'class="time-label"[^>]*>([^<]*)<', svg)[:3] == ["09:00", "09:10", "09:20"]


def test_its_ticks_follow_the_local_clock_on_the_day_clocks_go_forward():
    # 2026-03-08 02:00 Chicago: clocks jump to 03:00. 07:50 UTC is 01:50 CST.
    start = datetime(2026, 3, 8, 7, 50, tzinfo=UTC)
    points = [ChartPoint(start + timedelta(minutes=m), systolic=120, diastolic=80) for m in (0, 40)]
    svg = session_chart(points, DEFAULT_ALERT_THRESHOLDS, [], CHICAGO).svg
    labels = re.findall(r'class="time-label"[^>]*>([^<]*)<', svg)
    assert labels == ["01:50", "03:00", "03:10", "03:20", "03:30"]


def test_it_escapes_every_piece_of_text():
    marks = [ChartMark(at(5), '<script>alert("x")</script> & more', "event")]
    svg = chart(marks=marks).svg
    assert "<script>" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in svg


def test_it_says_what_it_shows_in_words():
    result = chart()
    assert result.svg.startswith("<svg")
    assert 'role="img"' in result.svg
    assert 'aria-labelledby="session-chart-title session-chart-desc"' in result.svg
    assert "4 readings from 09:00 to 09:35." in result.description
    assert "Systolic BP (mmHg): 122 to 184." in result.description
    assert "Started at 09:02" in result.description
    assert f'<desc id="session-chart-desc">{result.description}</desc>' in result.svg


def test_it_prints_as_markup_in_a_template():
    result = chart()
    rendered = Template("{{ chart }}").render(Context({"chart": result}))
    assert rendered == result.svg


def test_with_no_readings_there_is_nothing_to_draw():
    result = chart(points=[])
    assert result.empty and result.svg == ""


# --- From the models ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_it_builds_the_chart_from_the_sessions_records(nina, phil, django_assert_max_num_queries):
    from infusions.tests.test_discharge import session_in

    session = session_in(nina, phil)
    vitals_reading(session, nina, phase=VitalsPhase.INFUSING, systolic=171, diastolic=99)
    wrong = vitals_reading(session, nina, phase=VitalsPhase.INFUSING, systolic=250, diastolic=90)
    wrong.entered_in_error_at = timezone.now()
    wrong.entered_in_error_by = nina
    wrong.entered_in_error_reason = "Typo."
    wrong.save(
        update_fields=["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason"]
    )
    SessionEvent.objects.create(
        session=session,
        occurred_at=timezone.now(),
        side_effect="nausea",
        severity="mild",
        medication_name="Ondansetron",
        medication_dose="4 mg",
        medication_route="oral",
        recorded_by=nina,
    )
    session = type(session).objects.select_related("appointment__location").get(pk=session.pk)

    with django_assert_max_num_queries(3):
        result = chart_for_session(session)

    # The pre-infusion reading and the one at 171; not the one entered in error.
    assert [point.systolic for point in result.points] == [120, 171]
    assert [mark.label for mark in result.marks] == [
        "Started",
        "Infusion ended",
        "Nausea (mild), Ondansetron 4 mg",
    ]
    assert ": 250" not in result.svg
