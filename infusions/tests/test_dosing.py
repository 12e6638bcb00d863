"""The dose arithmetic: a table worked out by hand, every limit at its boundary."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from django.core.exceptions import ImproperlyConfigured

from infusions.dosing import (
    DEFAULT_LIMITS,
    DoseCalculation,
    DoseError,
    DoseLimits,
    DoseOrder,
    Route,
    calculate,
    escalation,
    limits_from_settings,
)


def iv(dose: object, weight: object, duration: object = 40, concentration: object = None):
    return DoseOrder(
        dose_mg_per_kg=dose,  # type: ignore[arg-type]
        weight_kg=weight,  # type: ignore[arg-type]
        duration_minutes=duration,  # type: ignore[arg-type]
        concentration_mg_per_ml=concentration,  # type: ignore[arg-type]
        route=Route.IV_INFUSION,
    )


# --- The table ------------------------------------------------------------------------
# weight kg, dose mg/kg, minutes, mg/mL -> total mg, mg/h, mL/h, mL.
# Worked by hand: total = dose x weight; mg/h = total x 60 / minutes;
# mL/h = mg/h / concentration; mL = total / concentration. Only the outputs are
# rounded, ROUND_HALF_UP (0.1 mg, 0.1 mg/h, 0.1 mL/h, 0.01 mL).
DOSE_TABLE = [
    # The standard: 70 x 0.5 = 35; 35 x 60 / 40 = 52.5; at 1 mg/mL (50 mg in 50 mL) 52.5.
    ("70", "0.5", 40, "1", "35.0", "52.5", "52.5", "35.00"),
    # 83.4 x 0.75 = 62.55 → 62.6; rate from the unrounded 62.55 x 1.5 = 93.825 → 93.8
    # (from the rounded total it would be 93.9).
    ("83.4", "0.75", 40, "1", "62.6", "93.8", "93.8", "62.55"),
    # 55.5 x 0.5 = 27.75 → 27.8 (half up); 27.75 x 1.5 = 41.625 → 41.6.
    ("55.5", "0.5", 40, "1", "27.8", "41.6", "41.6", "27.75"),
    # 45.3 x 0.5 = 22.65 → 22.7 (half-even would give 22.6); 22.65 x 1.5 = 33.975 → 34.0.
    ("45.3", "0.5", 40, "1", "22.7", "34.0", "34.0", "22.65"),
    # 71 x 0.5 = 35.5; 35.5 x 1.5 = 53.25 → 53.3 (a rate exactly at .x5).
    ("71", "0.5", 40, "1", "35.5", "53.3", "53.3", "35.50"),
    # 70 x 0.5 = 35; 52.5 / 2 = 26.25 → 26.3 mL/h (mL/h exactly at .x5); 35 / 2 = 17.5.
    ("70", "0.5", 40, "2", "35.0", "52.5", "26.3", "17.50"),
    # 64.9 x 0.5 = 32.45 → 32.5; 32.45 x 60 / 45 = 43.2666… → 43.3.
    ("64.9", "0.5", 45, "1", "32.5", "43.3", "43.3", "32.45"),
    # 77.7 x 0.35 = 27.195 → 27.2; x 1.2 = 32.634 → 32.6; / 3 = 10.878 → 10.9;
    # 27.195 / 3 = 9.065 → 9.07 (volume exactly at .xx5; half-even would give 9.06).
    ("77.7", "0.35", 50, "3", "27.2", "32.6", "10.9", "9.07"),
    # 62 x 0.5 = 31; 31 x 1.5 = 46.5; / 1.5 = 31.0; 31 / 1.5 = 20.666… → 20.67.
    ("62", "0.5", 40, "1.5", "31.0", "46.5", "31.0", "20.67"),
    # 72 x 0.5 = 36; 36 x 60 / 60 = 36; / 0.5 = 72; 36 / 0.5 = 72.
    ("72", "0.5", 60, "0.5", "36.0", "36.0", "72.0", "72.00"),
    # 80 x 0.6 = 48; 48 x 1.5 = 72; / 3 = 24; 48 / 3 = 16.
    ("80", "0.6", 40, "3", "48.0", "72.0", "24.0", "16.00"),
    # 90 x 0.5 = 45; 67.5 / 0.75 = 90; 45 / 0.75 = 60.
    ("90", "0.5", 40, "0.75", "45.0", "67.5", "90.0", "60.00"),
    # 99.99 x 0.75 = 74.9925 → 75.0; x 1.5 = 112.48875 → 112.5; 74.9925 → 74.99.
    ("99.99", "0.75", 40, "1", "75.0", "112.5", "112.5", "74.99"),
    # Every limit at once, smallest: 30 x 0.1 = 3; 3 x 60 / 100 = 1.8; / 10 = 0.18 → 0.2;
    # 3 / 10 = 0.3.
    ("30", "0.1", 100, "10", "3.0", "1.8", "0.2", "0.30"),
    # Smallest dose over the shortest time: 30 x 0.1 = 3; 3 x 60 / 30 = 6.
    ("30", "0.1", 30, "1", "3.0", "6.0", "6.0", "3.00"),
    # Largest: 300 x 1.0 = 300; 300 x 60 / 30 = 600; / 10 = 60; 300 / 10 = 30.
    ("300", "1.0", 30, "10", "300.0", "600.0", "60.0", "30.00"),
    # 100 x 1.0 = 100; 100 x 60 / 100 = 60; / 2 = 30; 100 / 2 = 50.
    ("100", "1.0", 100, "2", "100.0", "60.0", "30.0", "50.00"),
    # 58.3 x 0.45 = 26.235 → 26.2; x 60 / 55 = 28.62 → 28.6; / 0.4 = 71.55 → 71.6;
    # 26.235 / 0.4 = 65.5875 → 65.59.
    ("58.3", "0.45", 55, "0.4", "26.2", "28.6", "71.6", "65.59"),
    # No bag concentration: no mL/h, no volume.
    ("70", "0.5", 40, None, "35.0", "52.5", None, None),
]


@pytest.mark.parametrize(
    ("weight", "dose", "minutes", "concentration", "total", "mg_h", "ml_h", "volume"),
    DOSE_TABLE,
)
def test_it_works_out_the_dose_exactly(
    weight, dose, minutes, concentration, total, mg_h, ml_h, volume
) -> None:
    result = calculate(iv(D(dose), D(weight), minutes, concentration and D(concentration)))

    assert (result.total_mg, result.rate_mg_per_h) == (D(total), D(mg_h))
    assert result.rate_ml_per_h == (D(ml_h) if ml_h else None)
    assert result.volume_ml == (D(volume) if volume else None)
    # The rounding is to the documented places, so "35.0" is shown, never "35".
    assert str(result.total_mg) == total
    assert str(result.volume_ml) == str(volume)


def test_it_returns_the_validated_inputs_with_the_results() -> None:
    result = calculate(iv(D("0.5"), D("70"), 40, D("1")))

    assert result == DoseCalculation(
        route=Route.IV_INFUSION,
        dose_mg_per_kg=D("0.5"),
        weight_kg=D("70"),
        duration_minutes=40,
        concentration_mg_per_ml=D("1"),
        total_mg=D("35.0"),
        rate_mg_per_h=D("52.5"),
        rate_ml_per_h=D("52.5"),
        volume_ml=D("35.00"),
    )


def test_it_accepts_ints_and_numeric_strings_as_well_as_decimals() -> None:
    from_text = calculate(
        DoseOrder(
            dose_mg_per_kg=" 0.5 ",
            weight_kg="70",
            duration_minutes="40",
            concentration_mg_per_ml="1",
            route="iv_infusion",
        )
    )
    from_ints = calculate(iv(D("0.5"), 70, 40, 1))

    assert from_text == from_ints == calculate(iv(D("0.5"), D("70"), 40, D("1")))
    assert from_text.route is Route.IV_INFUSION


def test_it_serialises_to_strings_without_losing_precision() -> None:
    assert calculate(iv(D("0.75"), D("83.4"), 40, D("1"))).to_dict() == {
        "route": "iv_infusion",
        "dose_mg_per_kg": "0.75",
        "weight_kg": "83.4",
        "duration_minutes": 40,
        "concentration_mg_per_ml": "1",
        "total_mg": "62.6",
        "rate_mg_per_h": "93.8",
        "rate_ml_per_h": "93.8",
        "volume_ml": "62.55",
    }


# --- Routes other than IV infusion ----------------------------------------------------


def test_an_im_injection_has_a_volume_but_no_rate() -> None:
    # 70 x 0.5 = 35 mg from a 50 mg/mL vial: 0.7 mL.
    result = calculate(DoseOrder(D("0.5"), D("70"), None, D("50"), Route.IM))

    assert result.total_mg == D("35.0")
    assert result.volume_ml == D("0.70")
    assert result.rate_mg_per_h is None
    assert result.rate_ml_per_h is None


@pytest.mark.parametrize("route", [Route.IM, Route.OTHER])
def test_the_infusion_duration_range_applies_to_iv_infusions_only(route: Route) -> None:
    # 35 mg x 60 / 5 = 420 mg/h; never a mL/h outside an IV infusion.
    result = calculate(DoseOrder(D("0.5"), D("70"), 5, D("50"), route))

    assert result.rate_mg_per_h == D("420.0")
    assert result.rate_ml_per_h is None


@pytest.mark.parametrize("minutes", [0, -5])
def test_a_duration_given_for_another_route_must_still_be_above_zero(minutes: int) -> None:
    with pytest.raises(DoseError) as caught:
        calculate(DoseOrder(D("0.5"), D("70"), minutes, None, Route.IM))

    assert set(caught.value.errors) == {"duration_minutes"}
    assert "more than 0 minutes" in caught.value.errors["duration_minutes"]


def test_an_iv_infusion_needs_a_duration() -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv(D("0.5"), D("70"), None))

    assert caught.value.errors == {"duration_minutes": "Enter the infusion's duration in minutes."}


def test_it_refuses_an_unknown_route_and_lists_the_choices() -> None:
    with pytest.raises(DoseError) as caught:
        calculate(DoseOrder(D("0.5"), D("70"), 40, None, "intranasal"))

    message = caught.value.errors["route"]
    assert "iv_infusion (IV infusion)" in message
    assert "im (Intramuscular injection)" in message
    assert "'intranasal'" in message


# --- Every limit at, below and above its boundary -------------------------------------

BOUNDARIES = [
    # field, order, allowed?
    ("dose_mg_per_kg", iv("0.1", "70"), True),
    ("dose_mg_per_kg", iv("0.09", "70"), False),
    ("dose_mg_per_kg", iv("0.0999", "70"), False),
    ("dose_mg_per_kg", iv("1.0", "70"), True),
    ("dose_mg_per_kg", iv("1", "70"), True),
    ("dose_mg_per_kg", iv("1.01", "70"), False),
    ("dose_mg_per_kg", iv("0", "70"), False),
    ("dose_mg_per_kg", iv("-0.5", "70"), False),
    ("weight_kg", iv("0.5", "30"), True),
    ("weight_kg", iv("0.5", "29.9"), False),
    ("weight_kg", iv("0.5", "300"), True),
    ("weight_kg", iv("0.5", "300.1"), False),
    ("weight_kg", iv("0.5", "0"), False),
    ("duration_minutes", iv("0.5", "70", 30), True),
    ("duration_minutes", iv("0.5", "70", 29), False),
    ("duration_minutes", iv("0.5", "70", 100), True),
    ("duration_minutes", iv("0.5", "70", 101), False),
    ("duration_minutes", iv("0.5", "70", 0), False),
    ("concentration_mg_per_ml", iv("0.5", "70", 40, "0.01"), True),
    ("concentration_mg_per_ml", iv("0.5", "70", 40, "0"), False),
    ("concentration_mg_per_ml", iv("0.5", "70", 40, "-1"), False),
]


@pytest.mark.parametrize(("field", "order", "allowed"), BOUNDARIES)
def test_each_limit_is_inclusive(field: str, order: DoseOrder, allowed: bool) -> None:
    if allowed:
        calculate(order)
    else:
        with pytest.raises(DoseError) as caught:
            calculate(order)
        assert set(caught.value.errors) == {field}


def test_a_dose_out_of_range_says_the_allowed_range() -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv("1.2", "70"))

    assert caught.value.errors["dose_mg_per_kg"] == (
        "A dose of 1.2 mg/kg is outside the clinic's allowed range: "
        "enter a dose from 0.1 to 1 mg/kg."
    )


def test_a_weight_out_of_range_suggests_a_unit_mistake() -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv("0.5", "350"))

    assert "350 kg is outside 30–300 kg" in caught.value.errors["weight_kg"]
    assert "not pounds" in caught.value.errors["weight_kg"]


def test_a_duration_out_of_range_says_the_allowed_range() -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv("0.5", "70", 120))

    assert caught.value.errors["duration_minutes"] == (
        "An infusion over 120 minutes is outside the allowed range: "
        "enter a duration from 30 to 100 minutes."
    )


def test_it_reports_every_problem_at_once() -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv("2", "10", 5, "0"))

    assert set(caught.value.errors) == {
        "dose_mg_per_kg",
        "weight_kg",
        "duration_minutes",
        "concentration_mg_per_ml",
    }
    assert isinstance(caught.value, ValueError)
    assert "dose_mg_per_kg:" in str(caught.value)


# --- Only exact numbers ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "order"),
    [
        ("dose_mg_per_kg", iv(0.5, "70")),
        ("weight_kg", iv("0.5", 70.0)),
        ("duration_minutes", iv("0.5", "70", 40.0)),
        ("concentration_mg_per_ml", iv("0.5", "70", 40, 1.0)),
    ],
)
def test_it_refuses_floats(field: str, order: DoseOrder) -> None:
    with pytest.raises(DoseError) as caught:
        calculate(order)

    assert set(caught.value.errors) == {field}
    assert "not the float" in caught.value.errors[field]
    assert "Decimal(" in caught.value.errors[field]


@pytest.mark.parametrize("bad", ["abc", "", "NaN", "Infinity", True, None, [1], object()])
def test_it_refuses_things_that_are_not_numbers(bad: object) -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv(bad, "70"))

    assert set(caught.value.errors) == {"dose_mg_per_kg"}
    assert caught.value.errors["dose_mg_per_kg"].startswith("Enter the dose in mg/kg: ")


@pytest.mark.parametrize("minutes", ["40.5", D("40.5")])
def test_the_duration_is_in_whole_minutes(minutes: object) -> None:
    with pytest.raises(DoseError) as caught:
        calculate(iv("0.5", "70", minutes))

    assert "whole number" in caught.value.errors["duration_minutes"]


def test_a_whole_decimal_duration_is_fine() -> None:
    assert calculate(iv("0.5", "70", D("40.0"))).duration_minutes == 40


# --- Escalations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "new", "expected"),
    [
        (None, "0.5", None),  # the first dose is not an escalation
        ("0.5", "0.5", None),  # the same dose
        ("0.75", "0.5", None),  # a lower dose
        ("0.5", "0.75", "0.500"),  # +50 %
        ("0.5", "1.0", "1.000"),  # doubled
        ("0.5", "0.55", "0.100"),
        ("0.6", "0.7", "0.167"),  # 1/6 = 0.1666… → 0.167
        ("0.3", "0.35", "0.167"),
        ("0.8", "0.81", "0.013"),  # 0.0125 → 0.013 (half up)
        (D("0.5"), 1, "1.000"),
    ],
)
def test_escalation_is_the_relative_increase(previous, new, expected) -> None:
    result = escalation(previous, new)

    assert result == (D(expected) if expected else None)
    if expected:
        assert str(result) == expected


@pytest.mark.parametrize(
    ("previous", "new", "field"),
    [
        (0.5, "0.75", "previous_mg_per_kg"),
        ("0.5", 0.75, "new_mg_per_kg"),
        ("0", "0.5", "previous_mg_per_kg"),
        ("0.5", "0", "new_mg_per_kg"),
        ("abc", "0.5", "previous_mg_per_kg"),
    ],
)
def test_escalation_refuses_bad_doses(previous, new, field) -> None:
    with pytest.raises(DoseError) as caught:
        escalation(previous, new)

    assert set(caught.value.errors) == {field}


# --- The limits are clinic settings ---------------------------------------------------


def test_the_default_limits_are_those_of_domain_md() -> None:
    expected = DoseLimits(
        default_mg_per_kg=D("0.5"),
        min_mg_per_kg=D("0.1"),
        max_mg_per_kg=D("1.0"),
        default_duration_minutes=40,
        min_duration_minutes=30,
        max_duration_minutes=100,
        min_weight_kg=D("30"),
        max_weight_kg=D("300"),
    )

    assert expected == DEFAULT_LIMITS


def test_it_uses_the_defaults_when_no_limits_are_configured(settings) -> None:
    settings.DOSE_LIMITS = None

    assert limits_from_settings() == DEFAULT_LIMITS


def test_it_reads_overrides_from_settings(settings) -> None:
    settings.DOSE_LIMITS = {"max_mg_per_kg": "1.5", "max_duration_minutes": "120"}

    limits = limits_from_settings()

    assert limits.max_mg_per_kg == D("1.5")
    assert limits.max_duration_minutes == 120
    assert limits.min_mg_per_kg == D("0.1")
    # 70 x 1.2 = 84; 84 x 60 / 120 = 42.
    result = calculate(iv("1.2", "70", 120), limits)
    assert (result.total_mg, result.rate_mg_per_h) == (D("84.0"), D("42.0"))
    with pytest.raises(DoseError, match=r"from 0\.1 to 1\.5 mg/kg"):
        calculate(iv("1.6", "70"), limits)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([("max_mg_per_kg", "1.5")], "must be a dict"),
        ({"maximum": "1.5"}, "Unknown dose limit(s): maximum"),
        ({"max_mg_per_kg": 1.5}, "not the float"),
        ({"max_mg_per_kg": "lots"}, "must be a number"),
        ({"min_mg_per_kg": "0"}, "must be above 0"),
        ({"min_mg_per_kg": "0.6"}, "default_mg_per_kg (0.5) must be between"),
        ({"min_weight_kg": "400"}, "min_weight_kg (400) must not be above max_weight_kg"),
        ({"min_duration_minutes": "45"}, "default_duration_minutes (40) must be between"),
        ({"max_duration_minutes": "60.5"}, "must be a whole number"),
    ],
)
def test_it_refuses_bad_limit_settings_loudly(settings, value: object, message: str) -> None:
    settings.DOSE_LIMITS = value

    with pytest.raises(ImproperlyConfigured) as caught:
        limits_from_settings()

    assert message in str(caught.value)


def test_importing_the_module_does_not_need_django_models() -> None:
    import infusions.dosing as module

    assert "models" not in vars(module)
    assert "settings" not in vars(module)
