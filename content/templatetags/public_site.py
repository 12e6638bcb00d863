"""Template tags for the public site's shared frame (public_base.html)."""

from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def crisis_line_text() -> str:
    """How the crisis line is described next to its number (settings.CRISIS_LINE_TEXT)."""
    return settings.CRISIS_LINE_TEXT
