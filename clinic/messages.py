"""Messages the clinic itself sends (``clinic.messaging.registry`` discovers this module)."""

from __future__ import annotations

from django.conf import settings

from clinic.messaging.registry import MessageKind, Rendered, register
from clinic.messaging.unsubscribe import STOP_CONFIRMATION_KIND
from clinic.models import OutboxMessage


def _stop_confirmation(message: OutboxMessage) -> Rendered:
    return Rendered(
        body=(
            f"{settings.CLINIC_NAME}: you have been unsubscribed and will get no more texts "
            "from us. To get texts again, ask the clinic when you next call or visit."
        )
    )


# Sent after consent was withdrawn, so ``rules.CONSENT_EXEMPT_KINDS`` names it; it answers
# the patient's own text, so it is not counted towards the daily and weekly caps.
register(
    MessageKind(
        name=STOP_CONFIRMATION_KIND,
        render=_stop_confirmation,
        capped=False,
        # Carriers expect the confirmation at once, quiet hours or not; it is the last text.
        urgent=True,
        description="Confirmation of a STOP text: no more texts",
    )
)
