"""The terms of booking online at a location, which a layer above decides.

A location may ask whoever books a consultation online to agree to its cancellation and
no-show policy, and to keep a card on file or pay a deposit first. ``scheduling`` does not
know the money side: ``billing`` registers the keeper of those terms from
``BillingConfig.ready`` (as it registers into ``scheduling.visit_end``), and the public
booking (``scheduling.booking.submit``, ``scheduling.views.booking``) asks through here.

With no keeper registered, booking online has no terms: nothing to agree to, nothing to pay.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from django.http import HttpRequest

    from clinic.models import Location
    from scheduling.models import Appointment


@dataclass(frozen=True)
class BookingTerms:
    """What booking online at a location asks of the booker.

    ``policy``: the wording they must agree to ("" asks nothing). ``payment``: "" (none),
    "card" (save a card on file first) or "deposit" (pay a deposit first), in which case the
    booked time is held while they do, and released if they don't. ``payment_note``: what
    the booking page says about the payment, in the patient's words."""

    policy: str = ""
    payment: str = ""
    payment_note: str = ""

    @property
    def holds_the_time(self) -> bool:
        return bool(self.payment)

    @property
    def digest(self) -> str:
        """A fingerprint of the wording, carried by the booking form: the agreement is kept
        only for the words the booker was shown."""
        return hashlib.sha256(self.policy.encode()).hexdigest()[:32]


class TermsKeeper(Protocol):
    def terms_for(self, location: Location) -> BookingTerms | None: ...

    def record(
        self, *, appointment: Appointment, terms: BookingTerms, request: HttpRequest | None
    ) -> None:
        """In the booking's transaction: keep the agreement, and hold the time when the
        terms ask for a payment."""

    def awaits_payment(self, appointment: Appointment) -> bool:
        """Whether the appointment's time is still held for the card or the deposit."""

    def agreed_policy(self, appointment: Appointment) -> str:
        """The policy wording the booker agreed to when booking ``appointment`` ("" none)."""

    def cancel_fee_notice(self, appointment: Appointment) -> str:
        """What the patient's online cancel page says before they confirm about the fee
        cancelling now will propose, with its amount ("" when none)."""

    def payment_page(self, *, appointment: Appointment, base_url: str) -> str:
        """After the booking committed: the address of the page where the booker saves the
        card or pays the deposit. Raises ``ValidationError`` (and releases the held time)
        when that page cannot be opened."""


_keeper: list[TermsKeeper] = []


def register(keeper: TermsKeeper) -> TermsKeeper:
    """Make ``keeper`` the one that decides booking terms (registering again replaces it)."""
    _keeper[:] = [keeper]
    return keeper


def booking_terms(location: Location) -> BookingTerms | None:
    """The terms of booking online at ``location``, or None when it asks nothing."""
    if not _keeper:
        return None
    terms = _keeper[0].terms_for(location)
    if terms is None or not (terms.policy or terms.payment):
        return None
    return terms


def booking_terms_record(
    *, appointment: Appointment, terms: BookingTerms, request: HttpRequest | None
) -> None:
    if _keeper:
        _keeper[0].record(appointment=appointment, terms=terms, request=request)


def booking_awaits_payment(appointment: Appointment) -> bool:
    return bool(_keeper) and _keeper[0].awaits_payment(appointment)


def booking_agreed_policy(appointment: Appointment) -> str:
    """The cancellation and no-show policy the booker agreed to, word for word, for the
    booking's confirmation ("" when none, or no keeper)."""
    return _keeper[0].agreed_policy(appointment) if _keeper else ""


def booking_cancel_fee_notice(appointment: Appointment) -> str:
    """The fee cancelling ``appointment`` online now will propose, in the patient's words
    ("" when none, or no keeper)."""
    return _keeper[0].cancel_fee_notice(appointment) if _keeper else ""


def booking_payment_page(*, appointment: Appointment, base_url: str) -> str:
    if not _keeper:
        raise RuntimeError("No keeper of booking terms is registered.")
    return _keeper[0].payment_page(appointment=appointment, base_url=base_url)
