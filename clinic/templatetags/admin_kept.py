"""Parts of Django's admin pages kept rendered (``clinic.fragments``) instead of drawn on
each page."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from clinic.admin_site import kept_here
from clinic.fragments import KEPT_CSRF, cached_fragment, fragment_key

register = template.Library()


def reader_facts(request: HttpRequest) -> tuple[Any, ...]:
    """What decides what a reader may see in the admin (``clinic.models.User.has_perm``:
    whether they are an active clinic admin), with their roles, and the language."""
    user = request.user
    return (
        bool(user.is_active and user.is_staff),
        tuple(sorted(getattr(user, "roles", None) or ())),
        get_language(),
    )


@register.simple_tag(takes_context=True)
def kept_nav_sidebar(context: template.Context) -> SafeString:
    """Django's navigation sidebar (``admin/nav_sidebar.html``), the same markup, kept in
    the process (``kept_here``: it is drawn from the code alone).

    It lists every model the reader may see (from the registered model admins, that is
    the code: ``release()`` is in every key), marking the one at this path. What a reader
    may see in the admin follows from whether they are active and their roles
    (``clinic.models.User.has_perm``), so those are in the key with the path."""
    request = context["request"]
    parts = (request.path, *reader_facts(request))

    def draw() -> str:
        markup = context.template.engine.get_template("admin/nav_sidebar.html").render(context)
        return str(markup)

    return mark_safe(kept_here(fragment_key("admin-nav-sidebar", "1", parts), draw))  # noqa: S308


class KeptChangeListNode(template.Node):
    """``{% kept_change_list %}…{% end_kept_change_list %}``: a change list's content (the
    table, pages, search, filters), kept for a list that gives ``kept_rows_version`` (a
    version of every row its table draws, see ``clinic.templatetags.admin_rows``). The
    rest comes from the rows its filters offer (read for the page anyway, and put in the
    key as they are), the path and query string, the count, today's date (the date
    filter's links), the time zone and language, and the reader's roles. Counts per filter
    choice (``_facets``) are read from every row: such a list is drawn, not kept."""

    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist

    def render(self, context: template.Context) -> str:
        cl = context.get("cl")
        version = getattr(cl, "kept_rows_version", None)
        if version is None or cl.formset or cl.is_popup or cl.add_facets:
            return self.nodelist.render(context)
        request = context["request"]
        parts = (
            version,
            request.path,
            tuple(sorted((key, tuple(values)) for key, values in request.GET.lists())),
            tuple(tuple(getattr(spec, "lookup_choices", None) or ()) for spec in cl.filter_specs),
            cl.result_count,
            cl.full_result_count,
            timezone.localdate(),
            timezone.get_current_timezone_name(),
            *reader_facts(request),
        )

        def draw() -> str:
            with context.push(KEPT_CSRF):
                return self.nodelist.render(context)

        return cached_fragment(
            f"admin-change-list:{cl.opts.label_lower}", "1", parts, draw, request=request
        )


@register.tag(name="kept_change_list")
def kept_change_list(parser: template.base.Parser, token: template.base.Token) -> template.Node:
    nodelist = parser.parse(("end_kept_change_list",))
    parser.delete_first_token()
    return KeptChangeListNode(nodelist)
