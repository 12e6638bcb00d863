"""Amounts as staff type them: Decimal in the currency's places, never a float."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.money import currency_problem, format_amount, parse_amount


def test_it_reads_amounts_as_decimals():
    assert parse_amount("120", currency="USD") == Decimal("120.00")
    assert parse_amount("1,250.5", currency="USD") == Decimal("1250.50")
    assert parse_amount(Decimal("0"), currency="USD", allow_zero=True) == Decimal("0.00")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("12.345", "at most 2 decimal places"),
        ("-5", "more than 0"),
        ("0", "more than 0"),
        ("ten", "not 'ten'"),
        ("NaN", "as a number"),
        (12.5, "as a number"),
        ("100000000", "too large"),
    ],
)
def test_it_refuses_what_is_not_an_amount(value, message):
    with pytest.raises(ValueError, match=message):
        parse_amount(value, currency="USD")


def test_a_currency_without_decimals_takes_whole_amounts():
    assert parse_amount("5000", currency="JPY") == Decimal("5000")
    with pytest.raises(ValueError, match="whole numbers"):
        parse_amount("5000.50", currency="JPY")
    assert format_amount(Decimal("5000"), "JPY") == "5,000 JPY"
    assert format_amount(Decimal("1200"), "USD") == "1,200.00 USD"


def test_it_knows_which_currencies_it_can_keep():
    assert currency_problem("USD") == ""
    assert currency_problem("EUR") == ""
    assert "not an ISO 4217" in currency_problem("usd")
    assert "not supported" in currency_problem("BHD")
