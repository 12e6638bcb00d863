"""What the ledger's tabs offer a member of staff: the one rule, ``clinic.permissions``."""

from __future__ import annotations

from typing import Any

from django import template

from clinic.permissions import Capability, user_can

register = template.Library()


@register.filter
def may_inspect(user: Any) -> bool:
    """Whether ``user`` may open the DEA inspection report (registrant physicians and
    clinic admins)."""
    return user_can(user, Capability.INSPECT_DEA_RECORDS)
