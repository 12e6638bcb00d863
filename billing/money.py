"""Money: amounts are ``Decimal`` with two places in the database, in the clinic's one currency
(``settings.BILLING_CURRENCY``, an ISO 4217 code). Pure Python, so that the settings can check
the currency at start-up.

A currency whose amounts have three or four decimal places (the Kuwaiti dinar, say) is
refused at start-up: the columns hold two. One with none (the yen) is allowed, and amounts
in it must be whole.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# Active ISO 4217 codes and how many decimal places their amounts have (ISO 4217, list one).
_NO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE_OR_FOUR = "BHD IQD JOD KWD LYD OMR TND CLF UYW"
_TWO_DECIMALS = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VES "
    "VED WST XCD XCG YER ZAR ZMW ZWG"
)
MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS.split(), 2),
    **dict.fromkeys(_NO_DECIMALS.split(), 0),
    **dict.fromkeys(_THREE_OR_FOUR.split(), 3),
}
# The most decimal places an amount column holds.
STORED_PLACES = 2
# The largest amount one price, line or payment may have (the columns hold 10 digits).
MAX_AMOUNT = Decimal("99999999.99")


def currency_problem(code: str) -> str:
    """Why ``code`` cannot be the clinic's currency ("" when it can)."""
    if code not in MINOR_UNITS:
        return (
            f"{code!r} is not an ISO 4217 currency code: write the three capital letters, "
            "e.g. USD, EUR, GBP or CAD."
        )
    if MINOR_UNITS[code] > STORED_PLACES:
        return (
            f"{code} amounts have {MINOR_UNITS[code]} decimal places and Chairside keeps "
            f"{STORED_PLACES}: this currency is not supported."
        )
    return ""


def parse_amount(value: object, *, currency: str, allow_zero: bool = False) -> Decimal:
    """``value`` as an amount in ``currency``, or ``ValueError`` with what to fix. Accepts a
    ``Decimal``, an ``int`` or a text such as "120" or "120.50"; never a float."""
    if isinstance(value, float | bool):
        raise ValueError("Enter the amount as a number such as 120.50.")
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        raise ValueError(f"Enter the amount as a number such as 120.50, not {value!r}.") from None
    if not amount.is_finite():
        raise ValueError("Enter the amount as a number such as 120.50.")
    places = MINOR_UNITS.get(currency, 2)
    if amount != amount.quantize(Decimal(1).scaleb(-places)):
        if places == 0:
            raise ValueError(f"{currency} amounts are whole numbers: enter {amount:.0f} or so.")
        raise ValueError(f"Enter the amount with at most {places} decimal places.")
    if amount < 0 or (amount == 0 and not allow_zero):
        least = "0 or more" if allow_zero else "more than 0"
        raise ValueError(f"Enter an amount of {least}.")
    if amount > MAX_AMOUNT:
        raise ValueError(f"That amount is too large: the most is {MAX_AMOUNT:,}.")
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """``amount`` as staff and patients read it: "1,200.00 USD" ("5,000 JPY")."""
    places = MINOR_UNITS.get(currency, 2)
    return f"{amount:,.{places}f} {currency}"
