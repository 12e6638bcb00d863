"""Parts of Django's admin pages kept rendered (``clinic.fragments``) instead of drawn on
each page."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import get_language

from clinic.fragments import cached_fragment

register = template.Library()


@register.simple_tag(takes_context=True)
def kept_nav_sidebar(context: template.Context) -> SafeString:
    """Django's navigation sidebar (``admin/nav_sidebar.html``), the same markup, kept.

    It lists every model the reader may see (from the registered model admins, that is
    the code: ``release()`` is in every key), marking the one at this path. What a reader
    may see in the admin follows from whether they are active and their roles
    (``clinic.models.User.has_perm``), so those are in the key with the path."""
    request = context["request"]
    user = request.user
    parts = (
        request.path,
        bool(user.is_active and user.is_staff),
        tuple(sorted(getattr(user, "roles", None) or ())),
        get_language(),
    )

    def draw() -> Any:
        return context.template.engine.get_template("admin/nav_sidebar.html").render(context)

    return cached_fragment("admin-nav-sidebar", "1", parts, draw)
