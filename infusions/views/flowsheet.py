"""The flowsheet part of the session screen."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from infusions.models import InfusionSession


def section_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """What this part of the session screen shows."""
    return {}
