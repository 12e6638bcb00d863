"""A list's page written from plain rows (``.values()``) as its serializer writes models.

DRF serializes a row by walking every field's ``source`` on a model instance, with checks
on the way, which for a page of 50 costs more than the rest of the request; the instances
cost as much again. ``RowWriter`` reads the same fields of the serializer (so the schema
and the formatting stay the serializer's: each value goes through its field's
``to_representation``) from rows of ``.values(*writer.columns)``. Fields with no column of
their own (nested serializers, method fields) are written by functions of the row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from rest_framework import serializers


class RowWriter:
    def __init__(
        self,
        serializer: serializers.Serializer,
        written: dict[str, Callable[[dict[str, Any]], Any]] | None = None,
        reads: Iterable[str] = (),
    ) -> None:
        """``written``: how to write the fields with no column of their own, from the row;
        ``reads``: the columns those functions read."""
        written = written or {}
        self._reads = list(reads)
        self._fields: list[tuple[str, str | None, Callable[[Any], Any]]] = []
        for field in serializer._readable_fields:
            name = field.field_name
            if name in written:
                self._fields.append((name, None, written[name]))
            elif isinstance(field, serializers.BaseSerializer | serializers.SerializerMethodField):
                raise ValueError(f"{name}: say how to write it from a row")
            else:
                self._fields.append((name, "__".join(field.source_attrs), field.to_representation))

    @property
    def columns(self) -> list[str]:
        """What to read of each row: ``.values(*columns)``."""
        own = [column for _name, column, _write in self._fields if column is not None]
        return own + [column for column in self._reads if column not in own]

    def write(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [self.write_one(row) for row in rows]

    def write_one(self, row: dict[str, Any]) -> dict[str, Any]:
        item = {}
        for name, column, write in self._fields:
            if column is None:
                item[name] = write(row)
            else:
                # As Serializer.to_representation: a missing value is null, unformatted.
                value = row[column]
                item[name] = None if value is None else write(value)
        return item
