"""``{% view_only_result_list cl %}``: Django's ``{% result_list cl %}`` with the rows
written by ``clinic.admin_rows`` (the same HTML, at a fraction of the cost), and kept
(``clinic.fragments``) for a list that gives a version of what its page shows
(``cl.kept_rows_version``)."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import (
    result_headers,
    result_hidden_fields,
    result_list,
)
from django.contrib.admin.templatetags.base import InclusionAdminNode
from django.utils import timezone

from clinic.admin_rows import result_rows
from clinic.fragments import cached_fragment
from clinic.templatetags.admin_kept import reader_facts

register = template.Library()


def view_only_result_list(cl: Any) -> dict[str, Any]:
    rows = result_rows(cl)
    if rows is None:
        return result_list(cl)
    # result_list's context (admin_list.result_list), with the rows written by result_rows.
    headers = list(result_headers(cl))
    sorted_fields = sum(1 for header in headers if header["sortable"] and header["sorted"])
    return {
        "cl": cl,
        "result_hidden_fields": list(result_hidden_fields(cl)),
        "result_headers": headers,
        "num_sorted_fields": sorted_fields,
        "results": rows,
    }


class KeptResultListNode(InclusionAdminNode):
    """The list's table, kept when the list gives ``kept_rows_version``: a version of every
    row the table draws (the page's rows, and those whose names it shows), that every write
    to any of them changes. The rest of what it draws comes from the query string (the
    order, the filters each row's link keeps) and path, the time zone and language the
    times and labels are written in, and the code (``release()``, in every key)."""

    def render(self, context: template.Context) -> str:
        cl = self.args[0].resolve(context)
        version = getattr(cl, "kept_rows_version", None)
        if version is None or cl.formset or cl.is_popup:
            return super().render(context)
        request = context["request"]
        parts = (
            version,
            request.path,
            tuple(sorted((key, tuple(values)) for key, values in request.GET.lists())),
            timezone.get_current_timezone_name(),
            *reader_facts(request),
        )
        return cached_fragment(
            f"admin-rows:{cl.opts.label_lower}",
            "1",
            parts,
            lambda: InclusionAdminNode.render(self, context),
        )


@register.tag(name="view_only_result_list")
def view_only_result_list_tag(parser: template.base.Parser, token: template.base.Token) -> Any:
    return KeptResultListNode(
        parser,
        token,
        func=view_only_result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )
