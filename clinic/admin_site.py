from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject


class ChairsideAdminSite(admin.AdminSite):
    site_header = "Chairside administration"
    site_title = "Chairside admin"
    index_title = "Clinic data"

    def has_permission(self, request: HttpRequest) -> bool:
        from clinic.permissions import Capability, user_can

        return user_can(request.user, Capability.USE_DJANGO_ADMIN)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        """Django's, with the navigation sidebar's list of every model this admin may see
        read only when the sidebar is drawn: it is mostly served kept
        (``{% kept_nav_sidebar %}`` in templates/admin/base_site.html), and working it out
        asks every registered model admin for its permissions (~1.5 ms a page)."""
        script_name = request.META["SCRIPT_NAME"]
        site_url = script_name if self.site_url == "/" and script_name else self.site_url
        return {
            "site_title": self.site_title,
            "site_header": self.site_header,
            "site_url": site_url,
            "has_permission": self.has_permission(request),
            "available_apps": SimpleLazyObject(lambda: self.get_app_list(request)),
            "is_popup": False,
            "is_nav_sidebar_enabled": self.enable_nav_sidebar,
            "log_entries": self.get_log_entries(request),
        }
