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


@register.filter
def devices_note(mg: Any, lot: Any) -> str:
    """ " (24 devices)" after an amount in mg of a Spravato lot, counted in whole 28 mg
    devices ("" for ketamine): the ledger books mg, people count devices."""
    per_device = getattr(lot, "mg_per_device", None)
    if mg is None or not getattr(lot, "is_devices", False) or not per_device:
        return ""
    devices = int(abs(mg) // per_device)
    sign = "-" if mg < 0 else ""
    return f" ({sign}{devices} device{'s' if devices != 1 else ''})"
