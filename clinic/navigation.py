"""The staff navigation: each entry shows only to roles holding its capability."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from clinic.permissions import Capability, capabilities_of


@dataclass(frozen=True)
class NavItem:
    label: str
    url_name: str
    capability: Capability
    # Running the clinic rather than treating in it: under one "Admin" menu, so a clinic
    # admin's bar fits one line on a laptop.
    admin: bool = False


STAFF_NAVIGATION: list[NavItem] = [
    NavItem("Home", "staff:home", Capability.USE_STAFF_AREA),
    NavItem("Schedule", "scheduling:board", Capability.VIEW_SCHEDULE),
    NavItem("Patients", "patients:list", Capability.VIEW_PATIENTS),
    NavItem("Locations", "staff:location-list", Capability.VIEW_LOCATIONS),
    NavItem("Ledger", "ledger:lot-list", Capability.VIEW_LEDGER),
    NavItem("Outcomes", "outcomes:dashboard", Capability.VIEW_OUTCOMES),
    NavItem("Billing", "billing:index", Capability.VIEW_BILLING),
    NavItem("Content", "content_staff:index", Capability.EDIT_CONTENT),
    NavItem("Staff accounts", "staff:account-list", Capability.MANAGE_STAFF, admin=True),
    NavItem(
        "Consent forms",
        "patients:consent-documents",
        Capability.MANAGE_CONSENT_DOCUMENTS,
        admin=True,
    ),
    NavItem("Data export", "interop:export", Capability.EXPORT_CLINIC_DATA, admin=True),
    NavItem("Audit log", "staff:audit-log", Capability.VIEW_AUDIT_LOG, admin=True),
    NavItem("Django admin", "admin:index", Capability.USE_DJANGO_ADMIN, admin=True),
]


def navigation_for(user: Any, current_path: str = "") -> list[dict[str, Any]]:
    granted = capabilities_of(user)
    # One's own account page belongs to no menu entry.
    own_account = current_path.startswith(reverse("staff:my-account"))
    items = []
    for item in STAFF_NAVIGATION:
        if item.capability not in granted:
            continue
        url = reverse(item.url_name)
        home = item.url_name == "staff:home"
        active = current_path == url if home else current_path.startswith(url)
        if own_account:
            active = False
        items.append({"label": item.label, "url": url, "active": active, "admin": item.admin})
    return items
