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

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> Any:
        """Django's list of every model this admin may see, worked out when first used:
        every admin page puts it in its context for the navigation sidebar, which is
        mostly served kept (``{% kept_nav_sidebar %}`` in templates/admin/base_site.html),
        and working it out asks every registered model admin for its permissions (~1.5 ms
        a page)."""
        app_list = super().get_app_list
        return SimpleLazyObject(lambda: app_list(request, app_label))


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
