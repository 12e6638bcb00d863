from typing import Any

from django.conf import settings
from django.http import HttpRequest

from clinic.navigation import navigation_for


def chairside(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    return {
        "clinic_name": settings.CLINIC_NAME,
        "staff_navigation": navigation_for(user, request.path) if user is not None else [],
        "crisis_line": settings.CRISIS_LINE,
    }
