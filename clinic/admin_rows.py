"""The rows of a view-only admin list, written as Django's admin writes them, faster.

Django's ``items_for_result`` works out each cell of each row afresh: which kind of field
the column is, its empty value, its CSS classes, the change page's URL (``reverse``), the
choices' labels, and builds the cell through ``format_html``. For a page of 100
appointments that is most of the request. ``result_rows`` works each column out once and
writes each row as one string of the same cells; ``clinic/tests/test_admin_rows.py`` holds
the HTML equal to Django's. Lists it does not write (editable lists, popups, a column that
is not a plain model field) are left to Django: ``result_rows`` answers None.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.contrib.admin.templatetags.admin_list import ResultList
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.utils import display_for_field
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils.html import conditional_escape, escape
from django.utils.safestring import mark_safe

_PK = "__clinic_admin_rows_pk__"  # stands for each row's key in its change page's URL

Cell = Callable[[models.Model], str]


def result_rows(cl: Any) -> list[ResultList] | None:
    """``cl``'s rows as ``admin_list.results`` writes them, each row's cells one string;
    None for a list it does not write."""
    if cl.formset or cl.is_popup or cl.to_field:
        return None
    # An integer key is its own part of the change page's URL (admin's quote() and
    # reverse() leave its digits alone).
    if not isinstance(cl.lookup_opts.pk, models.IntegerField):
        return None
    links = list(cl.list_display_links or ())
    if links != list(cl.list_display)[:1]:
        return None
    empty = cl.model_admin.get_empty_value_display()
    cells = []
    for index, name in enumerate(cl.list_display):
        cell = _cell(cl, name, empty, link=index == 0)
        if cell is None:
            return None
        cells.append(cell)
    return [
        ResultList(None, [mark_safe("".join(cell(row) for cell in cells))])  # noqa: S308 (escaped)
        for row in cl.result_list
    ]


def _cell(cl: Any, name: Any, empty: str, *, link: bool) -> Cell | None:
    if not isinstance(name, str):
        return None
    try:
        field = cl.lookup_opts.get_field(name)
    except FieldDoesNotExist:
        return None
    if field.auto_created or not field.concrete or (field.is_relation and not field.many_to_one):
        return None
    nowrap = isinstance(field, models.DateField | models.TimeField | models.ForeignKey)
    opening = f'class="field-{name}{" nowrap" if nowrap else ""}"'
    if field.many_to_one:
        shown = _foreign_shown(field, empty)
    else:
        shown = _value_shown(field, empty, link=link)
    if not link:
        return lambda row: f"<td {opening}>{shown(row)}</td>"
    change_url = _change_url(cl)
    if change_url is None:
        return lambda row: f"<th {opening}>{shown(row)}</th>"
    before, after = (escape(part) for part in change_url.split(_PK))
    return lambda row: f'<th {opening}><a href="{before}{row.pk}{after}">{shown(row)}</a></th>'


def _foreign_shown(field: models.Field, empty: str) -> Callable[[models.Model], str]:
    """The related row as ``str()`` gives it, escaped; each one once a page."""
    shown: dict[Any, str] = {}

    def show(row: models.Model) -> str:
        key = getattr(row, field.attname)
        if key not in shown:
            try:
                related = getattr(row, field.name)
            except ObjectDoesNotExist:  # as items_for_result
                related = None
            shown[key] = empty if related is None else conditional_escape(related)
        return shown[key]

    return show


def _value_shown(field: models.Field, empty: str, *, link: bool) -> Callable[[models.Model], str]:
    """The value as ``display_for_field`` gives it, escaped. Several rows often show the
    same value (a status; appointments starting at the same time at different locations):
    each is worked out (a choice's label, a date: ~30 µs) once a page."""
    shown: dict[Any, str] = {}

    def show(row: models.Model) -> str:
        value = getattr(row, field.attname)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        try:
            if value not in shown:
                shown[value] = conditional_escape(
                    display_for_field(value, field, empty, avoid_link=link)
                )
            return shown[value]
        except TypeError:  # an unhashable value
            return conditional_escape(display_for_field(value, field, empty, avoid_link=link))

    return show


def _change_url(cl: Any) -> str | None:
    """The change page's URL with ``_PK`` for the row's key, and the list's filters kept."""
    try:
        url = reverse(
            f"admin:{cl.opts.app_label}_{cl.opts.model_name}_change",
            args=(_PK,),
            current_app=cl.model_admin.admin_site.name,
        )
    except NoReverseMatch:
        return None
    return add_preserved_filters({"preserved_filters": cl.preserved_filters, "opts": cl.opts}, url)


class KeptPage:
    """A page of a list's rows, for a list whose rows' markup is kept (``cl.kept_rows_version``,
    see ``clinic.templatetags.admin_rows``): how many rows it has is known from its version,
    and the rows are read only when they are drawn, not when the kept markup is served
    (Django's ``changelist_view`` asks every page for ``len(cl.result_list)``)."""

    def __init__(self, rows: Any, count: int) -> None:
        self._rows = rows
        self._count = count
        self._read: list[Any] | None = None

    def _all(self) -> list[Any]:
        if self._read is None:
            self._read = list(self._rows)
        return self._read

    def __len__(self) -> int:
        return self._count if self._read is None else len(self._read)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]
