from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from clinic.navigation import navigation_for


def chairside(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    # Set by SecondFactorMiddleware while a signed-in session still owes its second factor:
    # no menu then, as every page but that one is closed.
    pending = bool(getattr(request, "second_factor_step", ""))
    # The menu is worked out (a dozen reverse() and permission checks, ~1 ms) only on pages
    # that draw it (staff_base.html), not on the others (the Django admin's, say).
    navigation = SimpleLazyObject(
        lambda: navigation_for(user, request.path) if user is not None and not pending else []
    )
    admin_navigation = SimpleLazyObject(lambda: [item for item in navigation if item["admin"]])
    return {
        "clinic_name": settings.CLINIC_NAME,
        "second_factor_pending": pending,
        "staff_navigation": SimpleLazyObject(
            lambda: [item for item in navigation if not item["admin"]]
        ),
        "staff_admin_navigation": admin_navigation,
        "staff_admin_active": SimpleLazyObject(
            lambda: any(item["active"] for item in admin_navigation)
        ),
        "crisis_line": settings.CRISIS_LINE,
    }
