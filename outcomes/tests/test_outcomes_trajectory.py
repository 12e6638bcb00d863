"""The picture of a patient's scores over time: what it draws, and that its text is escaped."""

from __future__ import annotations

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

from outcomes.trajectory import PANEL_HEIGHT, PLOT_BOTTOM, PLOT_TOP, trajectory_svg
from patients.questionnaires import Instrument

SVG = "{http://www.w3.org/2000/svg}"
CHICAGO = zoneinfo.ZoneInfo("America/Chicago")
DAY0 = datetime(2025, 3, 3, 15, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def parse(svg: str) -> ElementTree.Element:
    return ElementTree.fromstring(svg)  # noqa: S314 (our own output, in a test)


def drawing() -> str:
    return trajectory_svg(
        {
            Instrument.GAD7: [(day(10), 6), (day(0), 12)],  # any order
            "phq9": [(day(0), 27), (day(10), 0), (day(20), 9)],
        },
        [day(1), day(4), day(8)],
        CHICAGO,
    )


def test_it_draws_one_panel_per_questionnaire_in_the_instruments_order():
    root = parse(drawing())

    panels = root.findall(f"{SVG}g[@class]")
    assert [panel.get("class") for panel in panels if "panel" in panel.get("class")] == [
        "panel panel-phq9",
        "panel panel-gad7",
    ]
    assert root.get("viewBox") == f"0 0 640 {2 * PANEL_HEIGHT + 22}"


def test_each_panel_has_its_scale_its_joined_points_and_the_infusion_ticks():
    root = parse(drawing())
    phq9 = root.find(f"{SVG}g[@class='panel panel-phq9']")

    assert "PHQ-9 (0 to 27, higher is worse)" in "".join(phq9.itertext())
    scale = [text.text for text in phq9.iter(f"{SVG}text") if text.get("class") == "scale-label"]
    assert scale == ["0", "13", "27"]
    circles = list(phq9.iter(f"{SVG}circle"))
    assert len(circles) == 3
    # 27 (the maximum) at the top of the plot, 0 at the bottom.
    assert float(circles[0].get("cy")) == PLOT_TOP
    assert float(circles[1].get("cy")) == PLOT_BOTTOM
    assert len(phq9.find(f"{SVG}polyline").get("points").split()) == 3
    infusions = phq9.findall(f"{SVG}g[@class='infusion']")
    assert len(infusions) == 3
    assert infusions[0].find(f"{SVG}title").text == "Infusion on 2025-03-04"
    assert phq9.find(f"{SVG}line[@class='remission']") is not None


def test_points_are_labelled_with_their_score_and_local_date():
    svg = drawing()

    # 2025-03-03 15:00 UTC is 09:00 in Chicago, the same day.
    assert "<title>PHQ-9 27 of 27 on 2025-03-03</title>" in svg
    assert "<title>GAD-7 6 of 21 on 2025-03-13</title>" in svg


def test_dates_are_those_of_the_time_zone_given():
    late_evening = datetime(2025, 3, 4, 3, 30, tzinfo=UTC)  # 21:30 on the 3rd in Chicago

    svg = trajectory_svg({"phq9": [(late_evening, 10)]}, [], CHICAGO)

    assert "PHQ-9 10 of 27 on 2025-03-03" in svg
    assert "2025-03-04" not in svg.split("</desc>")[0]


def test_it_has_a_title_and_a_description_in_words():
    root = parse(drawing())

    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "trajectory-title trajectory-desc"
    assert root.find(f"{SVG}title").text == "Questionnaire scores over time"
    assert root.find(f"{SVG}desc").text == (
        "PHQ-9 (0 to 27): 3 scores, from 27 on 2025-03-03 to 9 on 2025-03-23. "
        "GAD-7 (0 to 21): 2 scores, from 12 on 2025-03-03 to 6 on 2025-03-13. "
        "3 infusions, from 2025-03-04 to 2025-03-11, marked as ticks on the time axis."
    )


def test_a_panel_without_scores_is_left_out_and_no_scores_draw_nothing():
    assert trajectory_svg({"phq9": [], "gad7": []}, [day(1)], CHICAGO) == ""
    svg = trajectory_svg({"phq9": [(day(0), 3)], "pcl5": []}, [], CHICAGO)

    assert "panel-pcl5" not in svg
    assert "No infusion yet." in svg


def test_the_remission_threshold_is_drawn_only_where_there_is_one():
    pcl5_only = trajectory_svg({"pcl5": [(day(0), 40)]}, [], CHICAGO)

    assert 'class="remission"' not in pcl5_only
    assert "Remission threshold" not in pcl5_only
    assert "Remission threshold" in drawing()


def test_its_text_is_escaped():
    svg = trajectory_svg(
        {"phq9": [(day(0), 3)]},
        [],
        CHICAGO,
        title='<script>alert("x")</script> & more',
        id_prefix='a"b',
    )

    assert "<script" not in svg
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in svg
    assert 'aria-labelledby="a&quot;b-title a&quot;b-desc"' in svg
    parse(svg)  # still well-formed


def test_it_needs_no_script_and_no_outside_resource():
    svg = drawing()

    assert "<script" not in svg
    assert re.findall(r"https?://[^\"]+", svg) == ["http://www.w3.org/2000/svg"]
    assert "href" not in svg
