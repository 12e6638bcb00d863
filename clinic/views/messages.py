"""Pages and endpoints patients and the SMS provider reach about messages, under /m/.

The unsubscribe page is public: its signed token is the only key. Opening it changes
nothing (mail scanners open links); its button, or a mail client's RFC 8058 one-click POST
(``List-Unsubscribe=One-Click``, without a CSRF token), withdraws consent. The inbound SMS
webhook is for the provider only and checks the body's signature before reading it.
"""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from clinic.messaging.inbound import (
    SIGNATURE_HEADER,
    TWILIO_SIGNATURE_HEADER,
    InboundError,
    inbound_parse,
    signature_valid,
    sms_inbound_receive,
    twilio_inbound_parse,
    twilio_request_url,
    twilio_signature_valid,
)
from clinic.messaging.opt_out import consent_withdraw
from clinic.messaging.unsubscribe import UnsubscribeError, unsubscribe_for_token
from clinic.models import OutboxChannel

UNSUBSCRIBE_METHOD = "unsubscribe link"

logger = logging.getLogger(__name__)


@never_cache
@csrf_exempt  # RFC 8058: the mail client posts without our cookies; the token is the key.
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    try:
        found = unsubscribe_for_token(token)
    except UnsubscribeError as error:
        return render(
            request,
            "clinic/messages/unsubscribe_problem.html",
            {"message": str(error)},
            status=400,
        )
    context = {"channel_label": _channel_label(found.channel), "channel": found.channel}
    if request.method != "POST":
        return render(request, "clinic/messages/unsubscribe.html", context)
    consent_withdraw(
        patient=found.patient, channel=found.channel, method=UNSUBSCRIBE_METHOD, request=request
    )
    return render(request, "clinic/messages/unsubscribe_done.html", context)


def _channel_label(channel: str) -> str:
    return "emails" if channel == OutboxChannel.EMAIL else "text messages"


@csrf_exempt  # the provider signs the body instead
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    body = request.body
    if not signature_valid(body, request.headers.get(SIGNATURE_HEADER, "")):
        logger.warning("Inbound text refused: missing or wrong %s.", SIGNATURE_HEADER)
        return JsonResponse(
            {
                "detail": f"Missing or wrong {SIGNATURE_HEADER}: sign the raw body with "
                "HMAC-SHA256 and the shared secret, in hex."
            },
            status=403,
        )
    try:
        text = inbound_parse(body)
    except InboundError as error:
        logger.warning("Inbound text refused: %s", error)
        return JsonResponse({"detail": str(error)}, status=400)
    sms_inbound_receive(text=text, request=request)
    return JsonResponse({"received": True})


# An empty TwiML answer: Twilio sends nothing back itself (our confirmation goes through the
# outbox, once).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


@csrf_exempt  # Twilio signs the request instead
@require_POST
def sms_inbound_twilio(request: HttpRequest) -> HttpResponse:
    params = [(name, value) for name, values in request.POST.lists() for value in values]
    signature = request.headers.get(TWILIO_SIGNATURE_HEADER, "")
    if not twilio_signature_valid(twilio_request_url(request), params, signature):
        logger.warning("Inbound Twilio text refused: missing or wrong %s.", TWILIO_SIGNATURE_HEADER)
        return JsonResponse(
            {
                "detail": f"Missing or wrong {TWILIO_SIGNATURE_HEADER}: Twilio signs the URL "
                "under SITE_URL and the form fields with the auth token in SMS_API_TOKEN."
            },
            status=403,
        )
    try:
        text = twilio_inbound_parse(params)
    except InboundError as error:
        logger.warning("Inbound Twilio text refused: %s", error)
        return JsonResponse({"detail": str(error)}, status=400)
    sms_inbound_receive(text=text, request=request)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
