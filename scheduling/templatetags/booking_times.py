"""``{% time_buttons times %}``: a day's free times on the public booking pages, one button
each (``times`` as ``scheduling.views.booking._slot_links`` makes them). A tag rather than a
loop in the template: a week shows a few hundred times, and a refused booking in a crowd
renders the week again, so each button's template variables cost more than the button."""

from __future__ import annotations

from django import template
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

register = template.Library()


@register.simple_tag
def time_buttons(times: list[dict[str, str]]) -> SafeString:
    return format_html_join(
        "",
        '<li><a class="btn btn-outline-primary" href="{}" aria-label="{}">{}</a></li>',
        ((time["url"], time["full"], time["label"]) for time in times),
    )
