"""A visit's invoice is drafted where the visit ends: registered with ``scheduling.visit_end``
(imported by ``BillingConfig.ready``), so that the end of a consultation (scheduling) and the
discharge of an infusion (infusions) reach billing without importing it. A visit of a kind the
patient has a package for is covered by it on that draft; undoing the visit's end gives the
package visit back (``billing.packages``)."""

from __future__ import annotations

from billing.packages import package_cover_visit, package_visit_give_back
from billing.services import invoice_draft_for_visit
from clinic.models import User
from scheduling.models import Appointment
from scheduling.visit_end import register, register_reopened


@register
def draft_the_visit_invoice(*, appointment: Appointment, actor: User | None) -> None:
    invoice = invoice_draft_for_visit(appointment=appointment, actor=actor)
    package_cover_visit(invoice=invoice, appointment=appointment, actor=actor)


@register_reopened
def give_back_the_package_visit(
    *, appointment: Appointment, actor: User | None, reason: str
) -> None:
    package_visit_give_back(
        appointment=appointment, actor=actor, reason=f"The visit's end was undone: {reason}"
    )
