"""Query shapes that keep PostgreSQL on an index where its cost model would not.

``equals_any(column, ids)`` is ``column = ANY(ARRAY(ids))``: the subquery runs once, first, and its
ids are looked up through the column's index. Written as ``IN (subquery)`` (or a join) the
planner estimates the ids' rows from statistics and, with ``random_page_cost`` at its
default of 4, finds hashing the whole table cheaper than a hundred index lookups: at chain
scale a busy patient's ~150 appointments made it read all 25,000 infusion sessions. It
cannot see how many ids an ``ARRAY(subquery)`` holds, so it looks them up.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db.models import F, Lookup, QuerySet


class _EqualsAny(Lookup):
    lookup_name = "equals_any"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


def equals_any(column: str, ids: QuerySet) -> Lookup:
    """A condition for ``filter()``: ``column`` equals one of the ids ``ids`` (a queryset
    of one column) returns, as ``column = ANY(ARRAY(ids))``."""
    return _EqualsAny(F(column), ArraySubquery(ids.order_by()))
