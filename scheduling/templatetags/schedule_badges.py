"""``{% status_badge appointment %}``: an appointment's status as a coloured badge; the
colour repeats the word, never replaces it. A tag rather than an included template: the
week board shows hundreds of them, and an include costs far more than the badge."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from scheduling.board import html
from scheduling.models import Appointment

register = template.Library()


@register.simple_tag
def status_badge(appointment: Appointment) -> SafeString:
    return html.status_badge(appointment)
