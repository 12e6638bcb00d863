"""``{% view_only_result_list cl %}``: Django's ``{% result_list cl %}`` with the rows
written by ``clinic.admin_rows`` (the same HTML, at a fraction of the cost)."""

from __future__ import annotations

from typing import Any

from django import template
from django.contrib.admin.templatetags.admin_list import (
    result_headers,
    result_hidden_fields,
    result_list,
)
from django.contrib.admin.templatetags.base import InclusionAdminNode

from clinic.admin_rows import result_rows

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


@register.tag(name="view_only_result_list")
def view_only_result_list_tag(parser: template.base.Parser, token: template.base.Token) -> Any:
    return InclusionAdminNode(
        parser,
        token,
        func=view_only_result_list,
        template_name="change_list_results.html",
        takes_context=False,
    )
