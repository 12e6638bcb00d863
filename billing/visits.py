"""A visit's invoice is drafted where the visit ends: registered with ``scheduling.visit_end``
(imported by ``BillingConfig.ready``), so that the end of a consultation (scheduling) and the
discharge of an infusion (infusions) reach billing without importing it."""

from __future__ import annotations

from billing.services import invoice_draft_for_visit
from clinic.models import User
from scheduling.models import Appointment
from scheduling.visit_end import register


@register
def draft_the_visit_invoice(*, appointment: Appointment, actor: User | None) -> None:
    invoice_draft_for_visit(appointment=appointment, actor=actor)
