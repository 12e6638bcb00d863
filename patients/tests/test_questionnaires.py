"""The standard questionnaires: wording, scoring, outcomes and the form that asks them.

No database needed: the module is pure apart from Django forms.
"""

from __future__ import annotations

from itertools import pairwise

import pytest
from django.template import engines

from clinic.conditions import CONDITION_KEYS, Condition
from patients.questionnaires import (
    DEFINITIONS,
    PCL5_PROBABLE_PTSD_CUTOFF,
    Instrument,
    QuestionnaireError,
    Score,
    definition_for,
    instruments_for_conditions,
    pain_change_is_meaningful,
    questionnaire_form_class,
    remission,
    response,
    score,
)

PHQ9, GAD7, PCL5, PAIN = (
    Instrument.PHQ9,
    Instrument.GAD7,
    Instrument.PCL5,
    Instrument.PAIN_NRS,
)


def answers_totalling(instrument: Instrument, total: int) -> dict[str, int]:
    """Answers that add up to `total`, filling the first items to the top of the scale."""
    definition = DEFINITIONS[instrument]
    answers = {}
    remaining = total
    for item in definition.items:
        answers[item.key] = min(remaining, definition.item_max)
        remaining -= answers[item.key]
    assert remaining == 0, f"{instrument} cannot total {total}"
    return answers


def all_answered(instrument: Instrument, value: int) -> dict[str, int]:
    return {item.key: value for item in DEFINITIONS[instrument].items}


# --- Definitions ------------------------------------------------------------------------


@pytest.mark.parametrize(("instrument", "count"), [(PHQ9, 9), (GAD7, 7), (PCL5, 20), (PAIN, 1)])
def test_it_asks_the_published_number_of_items(instrument, count):
    definition = DEFINITIONS[instrument]

    assert len(definition.items) == count
    assert definition.item_keys == tuple(f"q{n}" for n in range(1, count + 1))
    assert [item.number for item in definition.items] == list(range(1, count + 1))


@pytest.mark.parametrize(
    ("instrument", "labels"),
    [
        (PHQ9, ["Not at all", "Several days", "More than half the days", "Nearly every day"]),
        (GAD7, ["Not at all", "Several days", "More than half the days", "Nearly every day"]),
        (PCL5, ["Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"]),
    ],
)
def test_it_offers_the_published_answer_scale(instrument, labels):
    choices = DEFINITIONS[instrument].choices

    assert [choice.value for choice in choices] == list(range(len(labels)))
    assert [choice.label for choice in choices] == labels


def test_the_pain_scale_runs_from_0_to_10_with_labelled_ends():
    choices = DEFINITIONS[PAIN].choices

    assert [choice.value for choice in choices] == list(range(11))
    assert "No pain" in choices[0].label
    assert "Worst pain imaginable" in choices[10].label
    assert "past week" in DEFINITIONS[PAIN].items[0].text


@pytest.mark.parametrize(
    ("instrument", "min_total", "max_total"),
    [(PHQ9, 0, 27), (GAD7, 0, 21), (PCL5, 0, 80), (PAIN, 0, 10)],
)
def test_its_total_range_matches_items_times_scale(instrument, min_total, max_total):
    definition = DEFINITIONS[instrument]

    assert (definition.min_total, definition.max_total) == (min_total, max_total)
    assert definition.max_total == len(definition.items) * definition.item_max


@pytest.mark.parametrize("instrument", list(Instrument))
def test_its_bands_cover_every_total_without_gaps_or_overlaps(instrument):
    definition = DEFINITIONS[instrument]
    bands = definition.bands

    assert bands[0].low == definition.min_total
    assert bands[-1].high == definition.max_total
    for lower, upper in pairwise(bands):
        assert upper.low == lower.high + 1


def test_it_uses_the_instruments_own_wording():
    assert DEFINITIONS[PHQ9].instructions == (
        "Over the last 2 weeks, how often have you been bothered by any of the following problems?"
    )
    assert DEFINITIONS[PHQ9].items[8].text == (
        "Thoughts that you would be better off dead or of hurting yourself in some way"
    )
    assert DEFINITIONS[GAD7].items[0].text == "Feeling nervous, anxious, or on edge"
    assert DEFINITIONS[PCL5].items[0].text == (
        "Repeated, disturbing, and unwanted memories of the stressful experience?"
    )
    assert DEFINITIONS[PCL5].items[19].text == "Trouble falling or staying asleep?"
    assert "In the past month, how much were you bothered by:" in (DEFINITIONS[PCL5].instructions)


def test_every_definition_has_a_title_a_meaning_and_a_source():
    for definition in DEFINITIONS.values():
        assert definition.title.startswith(definition.short_name)
        assert definition.interpretation
        assert definition.source


def test_it_looks_definitions_up_by_enum_or_value():
    assert definition_for("gad7") is definition_for(GAD7) is DEFINITIONS[GAD7]
    with pytest.raises(ValueError):
        definition_for("beck")


# --- Scoring ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instrument", "total", "band"),
    [
        (PHQ9, 0, "minimal"),
        (PHQ9, 4, "minimal"),
        (PHQ9, 5, "mild"),
        (PHQ9, 9, "mild"),
        (PHQ9, 10, "moderate"),
        (PHQ9, 14, "moderate"),
        (PHQ9, 15, "moderately severe"),
        (PHQ9, 19, "moderately severe"),
        (PHQ9, 20, "severe"),
        (PHQ9, 27, "severe"),
        (GAD7, 0, "minimal"),
        (GAD7, 4, "minimal"),
        (GAD7, 5, "mild"),
        (GAD7, 9, "mild"),
        (GAD7, 10, "moderate"),
        (GAD7, 14, "moderate"),
        (GAD7, 15, "severe"),
        (GAD7, 21, "severe"),
        (PCL5, 0, "below the probable-PTSD cut-off"),
        (PCL5, 32, "below the probable-PTSD cut-off"),
        (PCL5, 33, "probable PTSD"),
        (PCL5, 80, "probable PTSD"),
        (PAIN, 0, "none"),
        (PAIN, 1, "mild"),
        (PAIN, 3, "mild"),
        (PAIN, 4, "moderate"),
        (PAIN, 6, "moderate"),
        (PAIN, 7, "severe"),
        (PAIN, 10, "severe"),
    ],
)
def test_it_bands_the_total_at_each_boundary(instrument, total, band):
    result = score(instrument, answers_totalling(instrument, total))

    assert result.total == total
    assert result.band == band


def test_the_pcl5_cutoff_is_33():
    assert PCL5_PROBABLE_PTSD_CUTOFF == 33


@pytest.mark.parametrize("instrument", list(Instrument))
def test_it_scores_all_lowest_answers_as_the_minimum_total(instrument):
    definition = DEFINITIONS[instrument]

    result = score(instrument, all_answered(instrument, definition.item_min))

    assert result.total == definition.min_total
    assert result.band == definition.bands[0].label


@pytest.mark.parametrize("instrument", list(Instrument))
def test_it_scores_all_highest_answers_as_the_maximum_total(instrument):
    definition = DEFINITIONS[instrument]

    result = score(instrument, all_answered(instrument, definition.item_max))

    assert result.total == definition.max_total
    assert result.band == definition.bands[-1].label


def test_it_returns_the_answers_in_item_order_with_the_instrument():
    answers = {f"q{n}": 1 for n in range(9, 0, -1)}

    result = score("phq9", answers)

    assert result == Score(
        instrument=PHQ9,
        total=9,
        band="mild",
        item9_positive=True,
        answers={f"q{n}": 1 for n in range(1, 10)},
    )
    assert list(result.answers) == [f"q{n}" for n in range(1, 10)]
    assert result.answers is not answers
    assert result.summary == "PHQ-9 9/27 (mild)"


@pytest.mark.parametrize(("item9", "positive"), [(0, False), (1, True), (2, True), (3, True)])
def test_it_flags_any_phq9_item9_answer_above_zero(item9, positive):
    answers = {**all_answered(PHQ9, 0), "q9": item9}

    result = score(PHQ9, answers)

    assert result.item9_positive is positive
    assert result.total == item9
    assert result.band == "minimal"


def test_it_does_not_flag_item9_when_other_items_are_high():
    answers = {**all_answered(PHQ9, 3), "q9": 0}

    assert score(PHQ9, answers).item9_positive is False


@pytest.mark.parametrize("instrument", [GAD7, PCL5])
def test_item9_is_a_phq9_flag_only(instrument):
    definition = DEFINITIONS[instrument]

    result = score(instrument, all_answered(instrument, definition.item_max))

    assert result.item9_positive is False


# --- Validation -------------------------------------------------------------------------


def test_it_names_a_missing_item_and_scores_nothing():
    answers = all_answered(PHQ9, 1)
    del answers["q4"]
    before = dict(answers)

    with pytest.raises(QuestionnaireError) as caught:
        score(PHQ9, answers)

    assert caught.value.errors == {"q4": "Answer question 4."}
    assert caught.value.instrument is PHQ9
    assert answers == before


def test_it_lists_every_missing_item_at_once():
    with pytest.raises(QuestionnaireError) as caught:
        score(GAD7, {"q1": 0, "q2": 0})

    assert caught.value.errors == {f"q{n}": f"Answer question {n}." for n in range(3, 8)}


def test_a_single_item_questionnaire_asks_for_the_answer():
    with pytest.raises(QuestionnaireError) as caught:
        score(PAIN, {})

    assert caught.value.errors == {"q1": "Answer the question."}


def test_a_none_answer_counts_as_missing():
    with pytest.raises(QuestionnaireError) as caught:
        score(GAD7, {**all_answered(GAD7, 0), "q2": None})

    assert caught.value.errors == {"q2": "Answer question 2."}


@pytest.mark.parametrize(
    ("instrument", "bad_value", "message"),
    [
        (PHQ9, 4, "Choose a value from 0 to 3."),
        (PHQ9, -1, "Choose a value from 0 to 3."),
        (GAD7, 4, "Choose a value from 0 to 3."),
        (PCL5, 5, "Choose a value from 0 to 4."),
        (PCL5, -1, "Choose a value from 0 to 4."),
        (PAIN, 11, "Choose a value from 0 to 10."),
        (PAIN, -1, "Choose a value from 0 to 10."),
    ],
)
def test_it_rejects_a_value_off_the_scale(instrument, bad_value, message):
    answers = {**all_answered(instrument, 0), "q1": bad_value}
    before = dict(answers)

    with pytest.raises(QuestionnaireError) as caught:
        score(instrument, answers)

    assert caught.value.errors == {"q1": message}
    assert answers == before


@pytest.mark.parametrize("bad_value", ["2", 2.0, 1.5, True, False, [1]])
def test_it_rejects_a_value_that_is_not_an_int(bad_value):
    answers = {**all_answered(PHQ9, 0), "q3": bad_value}

    with pytest.raises(QuestionnaireError) as caught:
        score(PHQ9, answers)

    assert caught.value.errors == {"q3": "Choose a value from 0 to 3."}


def test_it_rejects_an_answer_to_a_question_the_instrument_does_not_have():
    answers = {**all_answered(GAD7, 0), "q9": 0}

    with pytest.raises(QuestionnaireError) as caught:
        score(GAD7, answers)

    assert caught.value.errors == {"q9": "GAD-7 has no question 'q9'; remove it."}


def test_its_error_is_a_value_error_that_says_what_to_fix():
    with pytest.raises(ValueError, match=r"PHQ-9 cannot be scored: q4: Answer question 4\."):
        score(PHQ9, {**all_answered(PHQ9, 0), "q4": None})


# --- Outcomes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "current", "responded"),
    [
        (10, 5, True),  # exactly 50 %
        (10, 6, False),
        (9, 4, True),
        (9, 5, False),  # 44 %
        (20, 0, True),
        (20, 10, True),
        (20, 11, False),
        (10, 12, False),  # worse
        (1, 0, True),
        (0, 0, False),  # nothing to fall from
    ],
)
def test_response_is_a_fall_of_at_least_half(baseline, current, responded):
    assert response(baseline, current) is responded


def test_response_refuses_negative_totals():
    with pytest.raises(ValueError, match="cannot be negative"):
        response(-1, 0)
    with pytest.raises(ValueError, match="cannot be negative"):
        response(10, -1)


@pytest.mark.parametrize(
    ("instrument", "total", "remitted"),
    [
        (PHQ9, 0, True),
        (PHQ9, 4, True),
        (PHQ9, 5, False),
        (PHQ9, 27, False),
        (GAD7, 4, True),
        (GAD7, 5, False),
        ("gad7", 0, True),
        (PCL5, 0, None),
        (PCL5, 40, None),
        (PAIN, 0, None),
    ],
)
def test_remission_is_below_5_on_phq9_and_gad7_and_undefined_elsewhere(instrument, total, remitted):
    assert remission(instrument, total) is remitted


@pytest.mark.parametrize(
    ("baseline", "current", "meaningful"),
    [
        (5, 3, True),
        (5, 4, False),
        (5, 5, False),
        (3, 5, True),  # worse by 2 matters too
        (3, 4, False),
        (0, 10, True),
        (10, 0, True),
    ],
)
def test_a_pain_change_of_two_points_is_meaningful(baseline, current, meaningful):
    assert pain_change_is_meaningful(baseline, current) is meaningful


@pytest.mark.parametrize(("baseline", "current"), [(-1, 3), (11, 3), (3, 11)])
def test_a_pain_change_refuses_scores_off_the_scale(baseline, current):
    with pytest.raises(ValueError, match="from 0 to 10"):
        pain_change_is_meaningful(baseline, current)


# --- Instruments for conditions ---------------------------------------------------------


def test_it_knows_exactly_the_condition_keys_of_the_patient_record():
    assert {
        "trd",
        "mdd",
        "bipolar_depression",
        "suicidal_ideation",
        "anxiety",
        "ocd",
        "ptsd",
        "sud",
        "eating_disorder",
        "neuropathic_pain",
        "fibromyalgia",
        "crps",
        "migraine",
        "cluster_headache",
        "ms_neuropathic_pain",
    } == CONDITION_KEYS


@pytest.mark.parametrize(
    ("conditions", "instruments"),
    [
        ([], [PHQ9]),
        (["trd"], [PHQ9]),
        (["mdd"], [PHQ9]),
        (["bipolar_depression"], [PHQ9]),
        (["suicidal_ideation"], [PHQ9]),
        (["anxiety"], [PHQ9, GAD7]),
        (["ocd"], [PHQ9, GAD7]),
        (["ptsd"], [PHQ9, PCL5]),
        (["sud"], [PHQ9]),
        (["eating_disorder"], [PHQ9]),
        (["neuropathic_pain"], [PAIN]),
        (["fibromyalgia"], [PAIN]),
        (["crps"], [PAIN]),
        (["migraine"], [PAIN]),
        (["cluster_headache"], [PAIN]),
        (["ms_neuropathic_pain"], [PAIN]),
        (["crps", "migraine"], [PAIN]),
        (["fibromyalgia", "trd"], [PHQ9, PAIN]),
        (["ptsd", "anxiety"], [PHQ9, GAD7, PCL5]),
        (["migraine", "ptsd", "ocd", "mdd"], [PHQ9, GAD7, PCL5, PAIN]),
        (["anxiety", "ocd"], [PHQ9, GAD7]),
        (["astrology"], [PHQ9]),
        (["astrology", "crps"], [PAIN]),
    ],
)
def test_it_picks_the_questionnaires_that_fit_the_conditions(conditions, instruments):
    assert instruments_for_conditions(conditions) == instruments


def test_it_accepts_any_iterable_of_condition_keys():
    assert instruments_for_conditions(iter(("ptsd", "crps"))) == [PHQ9, PCL5, PAIN]
    assert instruments_for_conditions(frozenset({"ocd"})) == [PHQ9, GAD7]


# --- Forms ------------------------------------------------------------------------------


def post_data(instrument: Instrument, value: int) -> dict[str, str]:
    """What a browser sends: strings."""
    return {key: str(number) for key, number in all_answered(instrument, value).items()}


@pytest.mark.parametrize("instrument", list(Instrument))
def test_the_form_asks_every_item_as_a_required_radio_group(instrument):
    definition = DEFINITIONS[instrument]
    form = questionnaire_form_class(instrument)()

    assert list(form.fields) == list(definition.item_keys)
    for item in definition.items:
        form_field = form.fields[item.key]
        assert form_field.label == item.text
        assert form_field.required
        assert form_field.widget.input_type == "radio"
        assert list(form_field.choices) == list(definition.choices)
    assert form.definition is definition


def test_the_form_class_is_built_once_per_instrument():
    assert questionnaire_form_class("phq9") is questionnaire_form_class(PHQ9)
    assert questionnaire_form_class(PHQ9).__name__ == "Phq9Form"
    assert questionnaire_form_class(PAIN).__name__ == "PainNrsForm"
    assert questionnaire_form_class(PHQ9) is not questionnaire_form_class(GAD7)


def test_the_form_validates_and_scores_submitted_answers():
    data = {**post_data(PHQ9, 2), "q9": "1"}
    form = questionnaire_form_class(PHQ9)(data)

    assert form.is_valid(), form.errors
    result = form.score()

    assert result.total == 17
    assert result.band == "moderately severe"
    assert result.item9_positive is True
    assert result.answers["q1"] == 2


@pytest.mark.parametrize("instrument", list(Instrument))
def test_the_form_scores_the_extremes(instrument):
    definition = DEFINITIONS[instrument]

    lowest = questionnaire_form_class(instrument)(post_data(instrument, definition.item_min))
    highest = questionnaire_form_class(instrument)(post_data(instrument, definition.item_max))

    assert lowest.score().total == definition.min_total
    assert highest.score().total == definition.max_total


def test_the_form_names_a_missing_answer_next_to_its_question():
    data = post_data(PHQ9, 0)
    del data["q4"]
    form = questionnaire_form_class(PHQ9)(data)

    assert not form.is_valid()
    assert form.errors == {"q4": ["Answer question 4."]}


@pytest.mark.parametrize("bad_value", ["4", "-1", "abc", "1.5", ""])
def test_the_form_rejects_an_answer_off_the_scale(bad_value):
    data = {**post_data(GAD7, 1), "q7": bad_value}
    form = questionnaire_form_class(GAD7)(data)

    assert not form.is_valid()
    expected = "Answer question 7." if bad_value == "" else "Choose a value from 0 to 3."
    assert form.errors == {"q7": [expected]}


def test_the_pain_form_asks_for_its_single_answer():
    form = questionnaire_form_class(PAIN)({})

    assert not form.is_valid()
    assert form.errors == {"q1": ["Answer the question."]}


def test_the_form_refuses_to_score_invalid_answers():
    form = questionnaire_form_class(PCL5)({**post_data(PCL5, 0), "q20": "9"})

    with pytest.raises(QuestionnaireError) as caught:
        form.score()

    assert caught.value.errors == {"q20": "Choose a value from 0 to 4."}


def test_the_form_ignores_fields_that_are_not_questions():
    data = {**post_data(GAD7, 0), "csrfmiddlewaretoken": "x", "q99": "3"}
    form = questionnaire_form_class(GAD7)(data)

    assert form.score().total == 0


def test_the_form_renders_each_question_as_a_labelled_radio_group():
    data = post_data(PHQ9, 0)
    del data["q2"]
    form = questionnaire_form_class(PHQ9)(data)
    form.is_valid()

    html = form.as_div()

    assert html.count("<fieldset") == 9
    assert "<legend>Feeling down, depressed, or hopeless</legend>" in html
    assert 'aria-describedby="id_q2_error"' in html
    assert 'id="id_q2_error"' in html
    assert "Answer question 2." in html
    assert 'type="radio" name="q1" value="0"' in html
    assert "More than half the days" in html


def test_forms_with_a_prefix_can_share_a_page():
    phq9 = questionnaire_form_class(PHQ9)(
        {f"phq9-{key}": value for key, value in post_data(PHQ9, 1).items()}, prefix="phq9"
    )
    gad7 = questionnaire_form_class(GAD7)(
        {f"gad7-{key}": value for key, value in post_data(GAD7, 2).items()}, prefix="gad7"
    )

    assert phq9.score().total == 9
    assert gad7.score().total == 14


def test_the_form_keeps_its_radio_groups_labelled_under_crispy_forms():
    form = questionnaire_form_class(PCL5)({**post_data(PCL5, 0), "q1": "9"})
    form.is_valid()

    html = (
        engines["django"]
        .from_string("{% load crispy_forms_tags %}{{ form|crispy }}")
        .render({"form": form})
    )

    assert html.count("<fieldset") == 20
    assert html.count("<legend") == 20
    assert 'aria-describedby="id_q1_error"' in html
    assert "Choose a value from 0 to 4." in html


def test_its_condition_keys_match_the_patient_record():
    assert set(Condition.values) == CONDITION_KEYS
