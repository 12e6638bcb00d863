"""What the booking policy and the fees add to staff pages: the staff home's panel of fees to
decide (``clinic.contributions.staff_home_page``), for those who take payments: the oldest
few open fees and how many more (two queries); and, on the appointment page
(``scheduling.views.appointments.appointment_page``), the policy agreed to, the held time and
the fee proposed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing.fees import open_fee_proposals
from billing.models import BookingHold, FeeKind, FeeProposal, PolicyAgreement
from billing.selectors import can_see_billing
from clinic.contributions import staff_home_page
from clinic.permissions import Capability, user_can
from scheduling.models import Appointment
from scheduling.views.appointments import appointment_page

SHOWN = 5
_KINDS = dict(FeeKind.choices)


@staff_home_page.register
def fee_proposals(user: Any, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    if not user_can(user, Capability.TAKE_PAYMENTS):
        return {}
    proposals = open_fee_proposals(user)
    # Plain rows of what the panel shows, not four models a fee.
    first = [
        {
            "patient_name": f"{row['patient__preferred_name'] or row['patient__legal_first_name']}"
            f" {row['patient__legal_last_name']}",
            "kind": _KINDS.get(row["kind"], row["kind"]),
            "amount": row["amount"],
            "location_name": row["location__name"],
            "starts_at": row["appointment__starts_at"],
        }
        for row in proposals.values(
            "patient__preferred_name",
            "patient__legal_first_name",
            "patient__legal_last_name",
            "kind",
            "amount",
            "location__name",
            "appointment__starts_at",
        )[: SHOWN + 1]
    ]
    more = proposals.count() - SHOWN if len(first) > SHOWN else 0
    return {"fee_proposals": {"shown": first[:SHOWN], "more": more}}


@appointment_page.register
def visit_booking_terms(user: Any, appointment: Appointment, *, shown: Mapping[str, Any]) -> dict:
    """On the appointment page, for those who see the books: the policy the patient agreed
    to when booking online, whether the time is still held for a card, and the fee proposed
    (three queries)."""
    if not can_see_billing(user):
        return {}
    return {
        "visit_agreement": PolicyAgreement.objects.filter(appointment=appointment).first(),
        "visit_hold": BookingHold.objects.filter(appointment=appointment).first(),
        "visit_fee": FeeProposal.objects.filter(appointment=appointment).first(),
    }
