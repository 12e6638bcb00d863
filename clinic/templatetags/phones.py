"""``{{ number|phone }}``: a stored phone number written for staff (``clinic.phones``)."""

from django import template

from clinic.phones import phone_display

register = template.Library()


@register.filter
def phone(number: str | None) -> str:
    return phone_display(number) if number else ""
