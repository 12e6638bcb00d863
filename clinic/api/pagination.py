"""Keyset ("cursor") pagination for the API's long lists.

``PageNumberPagination`` counts every matching row for ``count`` and reads page N with
``OFFSET``: at chain scale (200,000 appointments) the count alone costs more than the
page. A keyset page instead starts right after (or ends right before) one row of the
list, named in the ``cursor`` of the ``next`` and ``previous`` links, and reads at most
one row more than it shows, through the index that matches the list's order.

The cursor names that row by its ``public_id``, never by the values it is sorted on (a
patient's name must not appear in a URL or an access log). The row's sort values are read
back when the next page is asked for: one indexed query more on every page after the
first. The list's order is the queryset's own ``order_by``, which must end with the
primary key so that every row has one place.
"""

from __future__ import annotations

import binascii
import uuid
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

from django.db.models import Model, Q, QuerySet
from rest_framework import exceptions
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

_AFTER = "after"
_BEFORE = "before"

INVALID_CURSOR = (
    "This page link is not valid: it may have been cut short, or the row it starts from "
    "is no longer there. Start again from the first page (leave out cursor)."
)


class KeysetPagination(CursorPagination):
    """Pages of 50 (``PAGE_SIZE``), with ``next`` and ``previous`` links and no count.

    Used by the lists that grow with the clinic (appointments, patients, sessions,
    courses); the short ones keep ``PageNumberPagination``."""

    cursor_query_description = (
        "Where the page starts: copy it from the `next` or `previous` link. Leave it out "
        "for the first page."
    )

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any] | None:
        self.request = request
        self.page_size = self.get_page_size(request)
        self.base_url = request.build_absolute_uri()
        ordering = _ordering_of(queryset)
        direction, anchor = self.decode_cursor(request)
        backwards = direction == _BEFORE
        if backwards:
            ordering = [_reversed(field) for field in ordering]
        rows = queryset.order_by(*ordering)
        if anchor is not None:
            rows = rows.filter(_beyond(ordering, _sort_values(queryset.model, anchor, ordering)))
        found = list(rows[: self.page_size + 1])
        self.page = found[: self.page_size]
        more = len(found) > self.page_size
        if backwards:
            self.page.reverse()
        # Going forwards from a row, there are rows before; going backwards, rows after.
        self.has_previous = more if backwards else anchor is not None
        self.has_next = anchor is not None if backwards else more
        self.is_first_page = not self.has_previous
        self.display_page_controls = self.has_previous or self.has_next
        return self.page

    def decode_cursor(self, request: Request) -> tuple[str | None, uuid.UUID | None]:
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is None:
            return None, None
        try:
            direction, _, public_id = (
                urlsafe_b64decode(encoded.encode("ascii")).decode("ascii").partition(":")
            )
            anchor = uuid.UUID(public_id)
        except (UnicodeError, ValueError, binascii.Error):
            raise _invalid() from None
        if direction not in (_AFTER, _BEFORE):
            raise _invalid()
        return direction, anchor

    def encode_cursor(self, direction: str, row: Model | dict[str, Any]) -> str:
        # A row is a model instance, or a dict for a list read as plain values.
        public_id = row["public_id"] if isinstance(row, dict) else row.public_id
        token = urlsafe_b64encode(f"{direction}:{public_id}".encode("ascii")).decode()
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {
                    **link,
                    "description": "The page after this one; null on the last page.",
                    "example": "https://clinic.example/api/v1/appointments/?cursor=YWZ0ZXI6...",
                },
                "previous": {
                    **link,
                    "description": "The page before this one; null on the first page.",
                    "example": "https://clinic.example/api/v1/appointments/?cursor=YmVmb3Jl...",
                },
                "results": schema,
            },
            "description": f"Up to {self.page_size} rows. Lists this long are not counted: "
            "follow next until it is null.",
        }

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        if not self.page:  # nothing before the row a link named is left: start again
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(_AFTER, self.page[-1])

    def get_previous_link(self) -> str | None:
        if not self.has_previous:
            return None
        if not self.page:  # nothing after the row a link named is left: start again
            return remove_query_param(self.base_url, self.cursor_query_param)
        return self.encode_cursor(_BEFORE, self.page[0])


def page_said(paginator: Any) -> str:
    """Which page a list read was, for its audit summary."""
    if isinstance(paginator, KeysetPagination):
        return "first page" if paginator.is_first_page else "a later page"
    if isinstance(paginator, PageNumberPagination):
        return f"page {paginator.page.number}"
    return "all"


def _invalid() -> exceptions.ValidationError:
    return exceptions.ValidationError({"cursor": [INVALID_CURSOR]})


def _ordering_of(queryset: QuerySet[Any]) -> list[str]:
    ordering = list(queryset.query.order_by or queryset.model._meta.ordering)
    if not ordering or ordering[-1].lstrip("-") not in ("id", "pk"):
        raise ValueError(f"A keyset page needs an order ending with the id, not {ordering}.")
    if not all(isinstance(field, str) for field in ordering):
        raise ValueError("A keyset page is ordered by field names only.")
    return ordering


def _reversed(field: str) -> str:
    return field[1:] if field.startswith("-") else f"-{field}"


def _sort_values(model: type[Model], anchor: uuid.UUID, ordering: list[str]) -> tuple[Any, ...]:
    """The values the row named ``anchor`` sorts on. Any row of the model (not only the
    rows of this list) may anchor a page: a row that has left a filtered list since the
    link was made (an appointment checked in while paging through the booked ones) still
    has its place."""
    names = [field.lstrip("-") for field in ordering]
    values = model._default_manager.filter(public_id=anchor).values_list(*names)[:1]
    if not values:
        raise _invalid()
    return values[0]


def _beyond(ordering: list[str], values: tuple[Any, ...]) -> Q:
    """The rows that come after ``values`` in ``ordering``: a > x, or a = x and b > y, ...;
    led by a >= x, which the index on (a, b, ...) answers, the rest a filter on the way."""
    names = [field.lstrip("-") for field in ordering]
    comparisons = ["lt" if field.startswith("-") else "gt" for field in ordering]
    after = Q()
    for position in range(len(names)):
        step = Q(**{f"{names[position]}__{comparisons[position]}": values[position]})
        for earlier in range(position):
            step &= Q(**{names[earlier]: values[earlier]})
        after |= step
    leading = Q(**{f"{names[0]}__{comparisons[0]}e": values[0]})
    return leading & after
