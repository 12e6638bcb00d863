"""Vital signs: physiological limits, alert thresholds, pre-infusion checks, schedule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from infusions.vitals import (
    CONSCIOUSNESS_CHOICES,
    DEFAULT_ALERT_THRESHOLDS,
    DEFAULT_CAUTION_HOLD,
    AlertKind,
    AlertThresholds,
    CautionHold,
    Consciousness,
    Phase,
    PreInfusionStatus,
    Reading,
    ReadingError,
    VitalsAlert,
    alert_thresholds_from_settings,
    alerts_for,
    caution_hold_from_settings,
    pre_infusion_status,
    readings_due,
    validate_reading,
)

NORMAL = Reading(
    systolic=120,
    diastolic=80,
    heart_rate=75,
    spo2=98,
    respiratory_rate=14,
    consciousness=1,
    pain=None,
)


def reading(**changes: object) -> Reading:
    return dataclasses.replace(NORMAL, **changes)


# --- Validation -----------------------------------------------------------------------


def test_a_normal_reading_is_valid() -> None:
    validate_reading(NORMAL)
    validate_reading(reading(pain=0))


LIMITS = [
    # field, lowest allowed, highest allowed
    ("systolic", 60, 260),
    ("diastolic", 30, 160),
    ("heart_rate", 25, 250),
    ("spo2", 50, 100),
    ("respiratory_rate", 4, 60),
    ("consciousness", 1, 5),
    ("pain", 0, 10),
]


def _with(field: str, value: int) -> Reading:
    # Keep diastolic below systolic so only the limit under test can fail.
    if field == "systolic":
        return reading(systolic=value, diastolic=min(40, value - 1))
    if field == "diastolic":
        return reading(diastolic=value, systolic=max(200, value + 1))
    return reading(**{field: value})


@pytest.mark.parametrize(("field", "low", "high"), LIMITS)
def test_the_physiological_limits_are_inclusive(field: str, low: int, high: int) -> None:
    validate_reading(_with(field, low))
    validate_reading(_with(field, high))


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, low - 1) for field, low, _ in LIMITS]
    + [(field, high + 1) for field, _, high in LIMITS],
)
def test_it_refuses_a_value_outside_physiological_limits(field: str, value: int) -> None:
    with pytest.raises(ReadingError) as caught:
        validate_reading(_with(field, value))

    assert set(caught.value.errors) == {field}
    assert f"of {value}" in caught.value.errors[field]
    assert "check the reading and enter it again" in caught.value.errors[field]


def test_an_out_of_range_message_names_the_measure_the_value_and_the_range() -> None:
    with pytest.raises(ReadingError) as caught:
        validate_reading(reading(spo2=45))

    assert caught.value.errors == {
        "spo2": "Oxygen saturation (SpO2) of 45 % is outside 50–100 %: "
        "check the reading and enter it again."
    }


@pytest.mark.parametrize(("systolic", "diastolic"), [(120, 120), (100, 120), (90, 91)])
def test_it_refuses_a_diastolic_at_or_above_the_systolic(systolic: int, diastolic: int) -> None:
    with pytest.raises(ReadingError) as caught:
        validate_reading(reading(systolic=systolic, diastolic=diastolic))

    assert set(caught.value.errors) == {"diastolic"}
    assert "must be below the systolic" in caught.value.errors["diastolic"]
    assert "swapped" in caught.value.errors["diastolic"]


def test_a_diastolic_one_below_the_systolic_is_fine() -> None:
    validate_reading(reading(systolic=100, diastolic=99))


@pytest.mark.parametrize(
    "field", ["systolic", "diastolic", "heart_rate", "spo2", "respiratory_rate", "consciousness"]
)
def test_every_measure_but_pain_is_required(field: str) -> None:
    with pytest.raises(ReadingError) as caught:
        validate_reading(reading(**{field: None}))

    assert set(caught.value.errors) == {field}
    assert caught.value.errors[field].startswith("Enter the ")


@pytest.mark.parametrize("bad", [98.5, "98", True])
def test_it_refuses_values_that_are_not_whole_numbers(bad: object) -> None:
    with pytest.raises(ReadingError) as caught:
        validate_reading(reading(spo2=bad))

    assert set(caught.value.errors) == {"spo2"}
    assert "as a whole number" in caught.value.errors["spo2"]


def test_it_reports_every_problem_at_once() -> None:
    with pytest.raises(ReadingError) as caught:
        validate_reading(reading(systolic=300, heart_rate=None, pain=11))

    assert set(caught.value.errors) == {"systolic", "heart_rate", "pain"}
    assert isinstance(caught.value, ValueError)


def test_the_consciousness_scale_has_five_labelled_levels() -> None:
    assert [int(level) for level in Consciousness] == [1, 2, 3, 4, 5]
    assert Consciousness(1).label == "Alert and oriented"
    assert Consciousness(5).label == "Unresponsive"
    assert CONSCIOUSNESS_CHOICES[0] == (1, "1 – Alert and oriented")
    assert len(CONSCIOUSNESS_CHOICES) == 5


# --- Alerts ---------------------------------------------------------------------------

ALERT_BOUNDARIES = [
    # field, value, alert raised?  (defaults: SBP ≥ 180, DBP ≥ 110, HR > 120 or < 50,
    # SpO2 < 92, RR < 10)
    ("systolic", 179, False),
    ("systolic", 180, True),
    ("systolic", 181, True),
    ("diastolic", 109, False),
    ("diastolic", 110, True),
    ("diastolic", 111, True),
    ("heart_rate", 119, False),
    ("heart_rate", 120, False),
    ("heart_rate", 121, True),
    ("heart_rate", 51, False),
    ("heart_rate", 50, False),
    ("heart_rate", 49, True),
    ("spo2", 93, False),
    ("spo2", 92, False),
    ("spo2", 91, True),
    ("respiratory_rate", 11, False),
    ("respiratory_rate", 10, False),
    ("respiratory_rate", 9, True),
]


@pytest.mark.parametrize(("field", "value", "raised"), ALERT_BOUNDARIES)
def test_each_alert_threshold_at_and_around_its_boundary(
    field: str, value: int, raised: bool
) -> None:
    if field == "diastolic":
        case = reading(systolic=170, diastolic=value)  # below the systolic alert
    else:
        case = reading(**{field: value})
    validate_reading(case)

    alerts = alerts_for(case)

    assert [alert.parameter for alert in alerts] == ([field] if raised else [])


def test_a_normal_reading_raises_no_alert() -> None:
    assert alerts_for(NORMAL) == []


def test_an_alert_says_the_value_and_the_limit() -> None:
    assert alerts_for(reading(systolic=182, diastolic=100)) == [
        VitalsAlert(
            parameter="systolic",
            value=182,
            threshold=180,
            kind=AlertKind.HIGH,
            message="Systolic pressure of 182 mmHg is at or above the alert limit of 180 mmHg.",
        )
    ]
    assert alerts_for(reading(heart_rate=45))[0].message == (
        "Heart rate of 45/min is below the alert limit of 50/min."
    )
    assert alerts_for(reading(heart_rate=130))[0].kind is AlertKind.HIGH
    assert alerts_for(reading(spo2=88))[0].message == (
        "Oxygen saturation (SpO2) of 88 % is below the alert limit of 92 %."
    )


def test_a_bad_reading_raises_every_alert_in_a_fixed_order() -> None:
    case = reading(systolic=200, diastolic=120, heart_rate=130, spo2=85, respiratory_rate=8)

    assert [(a.parameter, a.kind) for a in alerts_for(case)] == [
        ("systolic", AlertKind.HIGH),
        ("diastolic", AlertKind.HIGH),
        ("heart_rate", AlertKind.HIGH),
        ("spo2", AlertKind.LOW),
        ("respiratory_rate", AlertKind.LOW),
    ]


def test_values_not_entered_raise_no_alert() -> None:
    empty = Reading(None, None, None, None, None, None)

    assert alerts_for(empty) == []


def test_alerts_follow_the_thresholds_given() -> None:
    strict = AlertThresholds(systolic_at_or_above=160, spo2_below=94)

    assert [a.parameter for a in alerts_for(reading(systolic=160, spo2=93), strict)] == [
        "systolic",
        "spo2",
    ]


def test_the_default_alert_thresholds_are_those_of_domain_md() -> None:
    assert dataclasses.asdict(DEFAULT_ALERT_THRESHOLDS) == {
        "systolic_at_or_above": 180,
        "diastolic_at_or_above": 110,
        "heart_rate_above": 120,
        "heart_rate_below": 50,
        "spo2_below": 92,
        "respiratory_rate_below": 10,
    }


# --- Before the infusion --------------------------------------------------------------

PRE_INFUSION = [
    # systolic, diastolic, status (defaults: caution ≥ 160/100, hold ≥ 180/110)
    (120, 80, PreInfusionStatus.OK),
    (159, 99, PreInfusionStatus.OK),
    (160, 80, PreInfusionStatus.CAUTION),
    (150, 100, PreInfusionStatus.CAUTION),
    (160, 100, PreInfusionStatus.CAUTION),
    (179, 109, PreInfusionStatus.CAUTION),
    (180, 90, PreInfusionStatus.HOLD),
    (150, 110, PreInfusionStatus.HOLD),
    (185, 105, PreInfusionStatus.HOLD),
    (170, 115, PreInfusionStatus.HOLD),
]


@pytest.mark.parametrize(("systolic", "diastolic", "status"), PRE_INFUSION)
def test_the_pre_infusion_status_at_and_around_each_limit(
    systolic: int, diastolic: int, status: PreInfusionStatus
) -> None:
    case = reading(systolic=systolic, diastolic=diastolic)

    check = pre_infusion_status(case)

    assert check.status is status
    assert bool(check.reasons) is (status is not PreInfusionStatus.OK)


def test_a_pre_infusion_hold_gives_a_reason_for_each_raised_pressure() -> None:
    check = pre_infusion_status(reading(systolic=185, diastolic=105))

    assert check.status == "hold"
    assert check.reasons == (
        "Systolic pressure of 185 mmHg is at or above the hold limit of 180 mmHg: "
        "no infusion today.",
        "Diastolic pressure of 105 mmHg is at or above the caution limit of 100 mmHg: "
        "a physician must acknowledge it before the infusion starts.",
    )


def test_pre_infusion_status_follows_the_limits_given() -> None:
    limits = CautionHold(caution_systolic=150, caution_diastolic=95)

    assert pre_infusion_status(reading(systolic=150, diastolic=80), limits).status == "caution"
    assert pre_infusion_status(reading(systolic=149, diastolic=94), limits).status == "ok"


def test_pre_infusion_status_needs_both_pressures() -> None:
    with pytest.raises(ReadingError) as caught:
        pre_infusion_status(reading(diastolic=None))

    assert caught.value.errors == {
        "diastolic": "Enter the diastolic pressure before the infusion starts."
    }


def test_the_default_pre_infusion_limits() -> None:
    expected = CautionHold(
        caution_systolic=160, caution_diastolic=100, hold_systolic=180, hold_diastolic=110
    )

    assert expected == DEFAULT_CAUTION_HOLD


# --- Thresholds are clinic settings ---------------------------------------------------


def test_it_uses_the_default_thresholds_when_none_are_configured(settings) -> None:
    settings.VITALS_ALERT_THRESHOLDS = None
    settings.PRE_INFUSION_BP_LIMITS = {}

    assert alert_thresholds_from_settings() == DEFAULT_ALERT_THRESHOLDS
    assert caution_hold_from_settings() == DEFAULT_CAUTION_HOLD


def test_it_reads_threshold_overrides_from_settings(settings) -> None:
    settings.VITALS_ALERT_THRESHOLDS = {"spo2_below": 94, "heart_rate_above": 110}
    settings.PRE_INFUSION_BP_LIMITS = {"caution_systolic": 150}

    assert alert_thresholds_from_settings() == AlertThresholds(spo2_below=94, heart_rate_above=110)
    assert caution_hold_from_settings() == CautionHold(caution_systolic=150)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([("spo2_below", 94)], "must be a dict"),
        ({"spo2": 94}, "Unknown alert threshold(s): spo2"),
        ({"spo2_below": "94"}, "must be a whole number above 0"),
        ({"spo2_below": 94.0}, "must be a whole number above 0"),
        ({"spo2_below": 0}, "must be a whole number above 0"),
        ({"heart_rate_below": 130}, "heart_rate_below (130) must be below heart_rate_above"),
    ],
)
def test_it_refuses_bad_alert_threshold_settings_loudly(
    settings, value: object, message: str
) -> None:
    settings.VITALS_ALERT_THRESHOLDS = value

    with pytest.raises(ImproperlyConfigured) as caught:
        alert_thresholds_from_settings()

    assert "VITALS_ALERT_THRESHOLDS" in str(caught.value)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("160/100", "must be a dict"),
        ({"caution": 160}, "Unknown pre-infusion limit(s): caution"),
        ({"caution_systolic": 190}, "caution_systolic (190) must not be above hold_systolic"),
        ({"hold_diastolic": 95}, "caution_diastolic (100) must not be above hold_diastolic"),
    ],
)
def test_it_refuses_bad_pre_infusion_settings_loudly(settings, value: object, message: str) -> None:
    settings.PRE_INFUSION_BP_LIMITS = value

    with pytest.raises(ImproperlyConfigured) as caught:
        caution_hold_from_settings()

    assert message in str(caught.value)


# --- The schedule of readings ---------------------------------------------------------

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def minutes(n: int) -> datetime:
    return T0 + timedelta(minutes=n)


SCHEDULE = [
    # phase, last reading (min after start or None), now (min), due (min), overdue?
    (Phase.INFUSING, None, 0, 10, False),
    (Phase.INFUSING, None, 10, 10, False),  # at the due time: due, not late
    (Phase.INFUSING, None, 11, 10, True),
    (Phase.INFUSING, 10, 15, 20, False),
    (Phase.INFUSING, 10, 20, 20, False),
    (Phase.INFUSING, 10, 21, 20, True),
    (Phase.INFUSING, 14, 21, 24, False),  # a late reading moves the next one along
    (Phase.INFUSING, -5, 3, 10, False),  # a reading before the phase does not count
    (Phase.RECOVERING, None, 14, 15, False),
    (Phase.RECOVERING, None, 15, 15, False),
    (Phase.RECOVERING, None, 16, 15, True),
    (Phase.RECOVERING, 15, 29, 30, False),
    (Phase.RECOVERING, 15, 31, 30, True),
    (Phase.RECOVERING, 15, 90, 30, True),
]


@pytest.mark.parametrize(("phase", "last", "now", "due", "overdue"), SCHEDULE)
def test_readings_are_due_every_interval_and_overdue_after_it(
    phase: Phase, last: int | None, now: int, due: int, overdue: bool
) -> None:
    result = readings_due(
        started_at=T0,
        now=minutes(now),
        phase=phase,
        last_reading_at=None if last is None else minutes(last),
    )

    assert result == (minutes(due), overdue)


def test_the_intervals_are_parameters() -> None:
    common = {"started_at": T0, "now": minutes(6), "last_reading_at": None}

    assert readings_due(**common, phase="infusing", interval_infusing=5) == (minutes(5), True)
    assert readings_due(**common, phase="recovering", interval_recovering=30) == (
        minutes(30),
        False,
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"phase": "discharged"}, "phase must be one of infusing, recovering"),
        ({"interval_infusing": 0}, "interval_infusing must be a whole number"),
        ({"interval_recovering": 7.5}, "interval_recovering must be a whole number"),
        ({"now": datetime(2026, 3, 2, 10, 5)}, "now must be timezone-aware"),
    ],
)
def test_readings_due_refuses_bad_arguments(changes: dict, message: str) -> None:
    arguments = {"started_at": T0, "now": minutes(5), "phase": "infusing", "last_reading_at": None}

    with pytest.raises(ValueError, match=message):
        readings_due(**(arguments | changes))
