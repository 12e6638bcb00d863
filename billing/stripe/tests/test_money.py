from decimal import Decimal

import pytest

from billing.stripe.money import from_minor_units, to_minor_units


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("12.34", "usd", 1234),
        ("0.50", "USD", 50),
        ("150", "eur", 15000),
        ("99.9", "eur", 9990),
        ("5000", "jpy", 5000),
        ("1.230", "kwd", 1230),
    ],
)
def test_it_converts_to_minor_units_and_back(amount, currency, minor):
    assert to_minor_units(Decimal(amount), currency) == minor
    assert from_minor_units(minor, currency) == Decimal(amount)


@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("10.005", "usd", "10.005 USD has more than 2 decimal places"),
        ("12.5", "jpy", "12.5 JPY has more than 0 decimal places"),
        ("1.234", "kwd", "Stripe takes KWD amounts in steps of 0.010"),
        ("-1.00", "usd", "is not an amount that can be charged or refunded"),
        ("NaN", "usd", "is not an amount that can be charged or refunded"),
    ],
)
def test_it_refuses_what_would_need_rounding_or_makes_no_sense(amount, currency, message):
    with pytest.raises(ValueError, match=message):
        to_minor_units(Decimal(amount), currency)


def test_it_refuses_floats():
    with pytest.raises(TypeError, match="Amounts are Decimal, not float"):
        to_minor_units(12.34, "usd")
    with pytest.raises(TypeError):
        from_minor_units(12.5, "usd")
