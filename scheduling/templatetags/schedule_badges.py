"""``{% status_badge appointment %}``: an appointment's status as a coloured badge; the
colour repeats the word, never replaces it. A tag rather than an included template: the
week board shows hundreds of them, and an include costs far more than the badge."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from scheduling.models import Appointment, AppointmentStatus

register = template.Library()

Status = AppointmentStatus
BADGE_CLASS = {
    Status.BOOKED: "text-bg-secondary",
    Status.CHECKED_IN: "text-bg-info",
    Status.INFUSING: "text-bg-primary",
    Status.RECOVERING: "text-bg-warning",
    Status.DISCHARGED: "text-bg-success",
    Status.NO_SHOW: "text-bg-danger",
}


@register.simple_tag
def status_badge(appointment: Appointment) -> SafeString:
    return format_html(
        '<span class="badge {}" data-testid="status">{}</span>',
        BADGE_CLASS.get(appointment.status, "text-bg-dark"),
        appointment.get_status_display(),
    )
