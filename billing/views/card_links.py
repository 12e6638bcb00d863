"""Sending the patient a link to save a card on file (staff), from their billing page."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from billing.card_links import card_link_send
from billing.selectors import billing_patient_for
from clinic.permissions import Capability, capability_required
from patients.messages import link_channels_said, message_base_url


@require_POST
@capability_required(Capability.TAKE_PAYMENTS)
def card_link_send_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = billing_patient_for(request.user, patient_id)
    back = reverse("billing:patient", args=[patient.public_id])
    try:
        card_link_send(
            actor=request.user,
            patient=patient,
            base_url=message_base_url(request),
            request=request,
        )
    except ValidationError as exc:
        for problems in exc.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
        return redirect(back)
    said = " and ".join(link_channels_said(patient))
    messages.success(
        request,
        f"A link to save a card is on its way to the patient by {said}. It works for 3 days; "
        "the card shows here once they have saved it.",
    )
    return redirect(back)
