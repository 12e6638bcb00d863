"""The staff home's panel of fees to decide (``clinic.contributions.staff_home_page``), for
those who take payments: the oldest few open fees and how many more (two queries)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from billing.fees import open_fee_proposals
from clinic.contributions import staff_home_page
from clinic.permissions import Capability, user_can

SHOWN = 5


@staff_home_page.register
def fee_proposals(user: Any, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    if not user_can(user, Capability.TAKE_PAYMENTS):
        return {}
    proposals = open_fee_proposals(user)
    first = list(proposals[: SHOWN + 1])
    more = proposals.count() - SHOWN if len(first) > SHOWN else 0
    return {"fee_proposals": {"shown": first[:SHOWN], "more": more}}
