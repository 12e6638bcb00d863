import threading
from collections import OrderedDict
from collections.abc import Callable
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


_KEPT_HERE: OrderedDict[str, Any] = OrderedDict()
_KEPT_HERE_LOCK = threading.Lock()
KEPT_HERE_SIZE = 512


def kept_here(key: str, compute: Callable[[], Any]) -> Any:
    """What ``compute()`` returns for ``key`` (a ``clinic.fragments.fragment_key``: a
    version of everything it is drawn from), kept in this process (the last
    ``KEPT_HERE_SIZE``): for small things every admin page asks for, where a round trip
    to the shared cache costs about as much as computing them once per process."""
    with _KEPT_HERE_LOCK:
        if key in _KEPT_HERE:
            _KEPT_HERE.move_to_end(key)
            return _KEPT_HERE[key]
    value = compute()
    with _KEPT_HERE_LOCK:
        _KEPT_HERE[key] = value
        while len(_KEPT_HERE) > KEPT_HERE_SIZE:
            _KEPT_HERE.popitem(last=False)
    return value
