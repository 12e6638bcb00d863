"""Money to and from Stripe's integer minor units, in this one place.

Stripe takes amounts as whole numbers of the currency's smallest unit: cents for USD and
EUR, yen for JPY (which has no minor unit). An amount with more decimal places than the
currency has is refused rather than rounded: a price of 10.005 dollars is a mistake to fix,
not a half cent to lose.
"""

from __future__ import annotations

from decimal import Decimal

# Stripe's zero-decimal currencies (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    {
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga",
        "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf",
    }
)  # fmt: skip
# Three-decimal currencies: Stripe takes them in thousandths, the last digit being 0.
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def decimal_places(currency: str) -> int:
    code = currency.lower()
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_minor_units(amount: Decimal, currency: str) -> int:
    """``Decimal("12.34")`` USD -> ``1234``; ``Decimal("1200")`` JPY -> ``1200``.

    Refuses floats (they cannot hold most prices exactly), negative amounts, and amounts
    with more decimal places than ``currency`` has.
    """
    if not isinstance(amount, Decimal):
        raise TypeError(f"Amounts are Decimal, not {type(amount).__name__}.")
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{amount} is not an amount that can be charged or refunded.")
    places = decimal_places(currency)
    minor = amount.scaleb(places)
    if minor != minor.to_integral_value():
        raise ValueError(
            f"{amount} {currency.upper()} has more than {places} decimal places; "
            f"{currency.upper()} amounts are counted to {places} places."
        )
    if places == 3 and int(minor) % 10:
        raise ValueError(
            f"{amount} {currency.upper()}: Stripe takes {currency.upper()} amounts in steps "
            "of 0.010."
        )
    return int(minor)


def from_minor_units(minor: int, currency: str) -> Decimal:
    """``1234`` USD -> ``Decimal("12.34")``; ``1200`` JPY -> ``Decimal("1200")``."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise TypeError(f"Minor units are whole numbers, not {type(minor).__name__}.")
    return Decimal(minor).scaleb(-decimal_places(currency))
