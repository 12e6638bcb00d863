"""Our own exceptions for what can go wrong with a card payment, each with a message staff
can act on. The gateway turns every error of the ``stripe`` package into one of these, so
nothing upstream sees a Stripe exception (or answers a 500 because of one).

    PaymentError                     base: ``message``, ``retryable``
    ├── PaymentsOff                  no Stripe keys configured: card payments are off
    ├── PaymentsMisconfigured        Stripe refused our key (wrong, revoked, restricted)
    ├── PaymentProviderUnavailable   Stripe unreachable, timing out or failing: retry
    ├── PaymentRefused               Stripe refused the request as made (fix, don't retry)
    │   └── IdempotencyConflict      a key reused for a different request (a bug of ours)
    └── CardDeclined                 the card's bank said no: another card or method
        └── CardNeedsAuthentication  the bank wants the patient present to confirm

``retryable`` is True only where sending the *same* request again (with the same
idempotency key) may succeed; it never charges twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import stripe

logger = logging.getLogger(__name__)


class PaymentError(Exception):
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        decline_code: str | None = None,
        payment_intent_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.decline_code = decline_code
        self.payment_intent_id = payment_intent_id
        self.request_id = request_id

    def __str__(self) -> str:
        return self.message


class PaymentsOff(PaymentError):
    pass


class PaymentsMisconfigured(PaymentError):
    pass


class PaymentProviderUnavailable(PaymentError):
    retryable = True


class PaymentRefused(PaymentError):
    pass


class IdempotencyConflict(PaymentRefused):
    pass


class CardDeclined(PaymentError):
    pass


class CardNeedsAuthentication(CardDeclined):
    pass


# --- Stripe's errors, in our words ---------------------------------------------------------

_DECLINE_REASONS = {
    "insufficient_funds": "insufficient funds",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the security code is wrong",
    "incorrect_number": "the card number is wrong",
    "card_velocity_exceeded": "the card's limit has been reached",
    "withdrawal_count_limit_exceeded": "the card's limit has been reached",
    "processing_error": "the bank could not process it; trying again may work",
    "card_not_supported": "the card does not support this kind of payment",
    "currency_not_supported": "the card does not support this currency",
}
_NEXT_STEP = "Ask the patient for another card or another way to pay."


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn the ``stripe`` package's errors into ours (see billing.stripe.errors)."""
    try:
        yield
    except PaymentError:
        raise
    except stripe.CardError as exc:
        raise _card_error(exc) from exc
    except stripe.IdempotencyError as exc:
        _log(exc)
        raise IdempotencyConflict(
            "This request was already sent to Stripe with different details, so it was not "
            "sent again. Nothing was charged by this attempt; report it to support.",
            request_id=exc.request_id,
        ) from exc
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        _log(exc)
        raise PaymentsMisconfigured(
            "Stripe refused the clinic's secret key. An admin should check STRIPE_SECRET_KEY "
            "in the settings; until then take the payment another way.",
            request_id=exc.request_id,
        ) from exc
    except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
        _log(exc)
        raise _unavailable(exc) from exc
    except stripe.InvalidRequestError as exc:
        _log(exc)
        raise PaymentRefused(
            f"Stripe refused the request: {exc.user_message or 'no reason given'}",
            code=exc.code,
            request_id=exc.request_id,
        ) from exc
    except stripe.StripeError as exc:
        _log(exc)
        if exc.http_status is None or exc.http_status >= 500:
            raise _unavailable(exc) from exc
        raise PaymentRefused(
            f"Stripe refused the request: {exc.user_message or 'no reason given'}",
            code=exc.code,
            request_id=exc.request_id,
        ) from exc


def _unavailable(exc: stripe.StripeError) -> PaymentProviderUnavailable:
    return PaymentProviderUnavailable(
        "Stripe could not be reached or did not answer in time, so it is not known yet "
        "whether this went through. Try again in a few minutes: trying again never charges "
        "twice.",
        request_id=exc.request_id,
    )


def _card_error(exc: stripe.CardError) -> CardDeclined:
    _log(exc)
    error = (exc.json_body or {}).get("error") or {}
    decline_code = error.get("decline_code") or exc.code
    intent = error.get("payment_intent")
    intent_id = intent.get("id") if isinstance(intent, dict) else intent
    if exc.code == "authentication_required" or decline_code == "authentication_required":
        return CardNeedsAuthentication(
            "The card's bank wants the patient to confirm this payment themselves, so it was "
            "not charged. Send them a payment link or take the payment at the desk.",
            code=exc.code,
            decline_code=decline_code,
            payment_intent_id=intent_id,
            request_id=exc.request_id,
        )
    reason = _DECLINE_REASONS.get(decline_code or "", "the bank gave no reason")
    return CardDeclined(
        f"The card was declined: {reason}. {_NEXT_STEP}",
        code=exc.code,
        decline_code=decline_code,
        payment_intent_id=intent_id,
        request_id=exc.request_id,
    )


def _log(exc: stripe.StripeError) -> None:
    # Ids and codes only: Stripe's messages may quote what was sent.
    logger.warning(
        "Stripe error %s (HTTP %s, code %s, request %s)",
        type(exc).__name__,
        exc.http_status,
        exc.code,
        exc.request_id,
    )
