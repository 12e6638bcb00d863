"""Phone numbers: reading what people type, and showing stored numbers to staff.

Numbers are stored in E.164 (``+12125550142``). The ``phonenumbers`` package (Python's
port of Google's libphonenumber) holds every country's numbering plan: it says whether a
number can exist (its length, its area code) and writes it the way people there do.

What we keep of our own: the strict shape of what may be typed (digits, a leading + or 00,
and the usual punctuation; no letters, no extension), which the library would read past.
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult

# The country the clinic's own numbers are in: numbers typed without a country code on
# the booking form are read as its numbers, and staff pages show its numbers the way
# people there write them, "(212) 555-0142"; other countries' numbers in international form.
HOME_REGION = "US"
E164 = re.compile(r"\+[1-9]\d{6,14}")
# A stored number of the North American plan (+1, area codes from 2 to 9).
_NANP_E164 = re.compile(r"\+1[2-9]\d{9}")
# What people type around the digits of a phone number: "+1 (212) 555-0142".
PHONE_PUNCTUATION = re.compile(r"[\s().\-/]")
_NATIONAL_DIGITS = re.compile(r"\d{1,17}")
NO_SUCH_COUNTRY = (
    "No country has the code at the start of this number: check the digits after the +, "
    "e.g. +1 for the US and Canada, +44 for the UK."
)


def phone_e164(text: str, *, how_to_write: str, national: bool = False) -> str:
    """``text`` as an E.164 number, or "" when it is empty.

    Only international numbers (+ or 00 and the country code) are read, or with
    ``national`` also numbers of ``HOME_REGION`` written without the country code. Raises
    ``ValidationError`` with ``how_to_write`` when ``text`` is not written as a phone
    number, or with what to check when no such number exists in its country's plan."""
    text = (text or "").strip()
    if not text:
        return ""
    number = PHONE_PUNCTUATION.sub("", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    written_national = national and _NATIONAL_DIGITS.fullmatch(number) is not None
    if not (E164.fullmatch(number) or written_national):
        raise ValidationError(how_to_write)
    try:
        parsed = phonenumbers.parse(number, HOME_REGION if written_national else None)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE and not written_national:
            raise ValidationError(NO_SUCH_COUNTRY) from None
        raise ValidationError(how_to_write) from None
    possible = phonenumbers.is_possible_number_with_reason(parsed)
    if written_national and possible != ValidationResult.IS_POSSIBLE:
        # Digits missing or too many, without a country code: most often the area code.
        raise ValidationError(how_to_write)
    problem = _numbering_plan_problem(parsed, possible)
    if problem:
        raise ValidationError(problem)
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def _numbering_plan_problem(number: PhoneNumber, possible: int) -> str:
    code = f"+{number.country_code}"
    if possible == ValidationResult.INVALID_COUNTRY_CODE:
        return NO_SUCH_COUNTRY
    if possible in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return (
            f"This number has too few digits for country code {code}: check that none is "
            "missing, area code included."
        )
    if possible == ValidationResult.TOO_LONG:
        return f"This number has too many digits for country code {code}: check for an extra one."
    if possible != ValidationResult.IS_POSSIBLE:
        return f"This number has the wrong number of digits for country code {code}: check it."
    if not phonenumbers.is_valid_number(number):
        return (
            f"This is not a valid number for country code {code}: check the area code and "
            "the rest of the number."
        )
    return ""


def phone_display(number: str) -> str:
    """A stored number as staff read it: "(212) 555-0199" for a number of ``HOME_REGION``,
    "+44 20 7946 0958" for another country's; as stored when it is not a valid number."""
    if _NANP_E164.fullmatch(number):
        # What parsing a stored +1 number gives, without parsing it (a list of patients
        # shows 25 of them): a national number with no leading zero.
        parsed = PhoneNumber(country_code=1, national_number=int(number[2:]))
    else:
        try:
            parsed = phonenumbers.parse(number, None)
        except NumberParseException:
            return number
    # Valid for the home region is valid, of that region (it is the first region of its
    # country code the library tries): one check, not two, for nearly every number shown.
    if phonenumbers.is_valid_number_for_region(parsed, HOME_REGION):
        return phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL)
    if not phonenumbers.is_valid_number(parsed):
        return number
    return phonenumbers.format_number(parsed, PhoneNumberFormat.INTERNATIONAL)
