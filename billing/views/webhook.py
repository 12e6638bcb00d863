"""The endpoint Stripe posts its events to: ``POST /hooks/stripe/`` (README "Configuration").

No session or CSRF token: Stripe signs the body instead (``Stripe-Signature``), checked by
``billing.stripe.webhooks.parse_event``. A bad signature is 400 and stores nothing; an
event is recorded and acted on in one transaction (``billing.webhooks.receive``) and
answered 200 after the commit, a replay 200 too, doing nothing. Stripe out of reach while an
event is handled is 503, so Stripe delivers it again."""

from __future__ import annotations

import logging

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from billing.stripe.errors import PaymentError
from billing.stripe.webhooks import WebhookRejected, parse_event
from billing.webhooks import receive

logger = logging.getLogger(__name__)


@csrf_exempt  # Stripe signs the body instead
@require_POST
def stripe_webhook(request: HttpRequest) -> JsonResponse:
    try:
        event = parse_event(request.body, request.headers.get("Stripe-Signature"))
    except WebhookRejected as error:
        logger.warning("Stripe webhook refused: %s", error)
        return JsonResponse({"detail": str(error)}, status=400)
    try:
        acted = receive(event)
    except PaymentError as error:
        logger.warning("Stripe event %s not handled yet: %s", event.id, error.message)
        return JsonResponse({"detail": "Stripe could not be reached: send it again."}, status=503)
    return JsonResponse({"received": True, "replay": not acted})
