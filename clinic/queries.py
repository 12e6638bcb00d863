"""Query shapes that keep PostgreSQL on an index where its cost model would not.

``equals_any(column, ids)`` is ``column = ANY(ARRAY(ids))``: the subquery runs once, first, and its
ids are looked up through the column's index. Written as ``IN (subquery)`` (or a join) the
planner estimates the ids' rows from statistics and, with ``random_page_cost`` at its
default of 4, finds hashing the whole table cheaper than a hundred index lookups: at chain
scale a busy patient's ~150 appointments made it read all 25,000 infusion sessions. It
cannot see how many ids an ``ARRAY(subquery)`` holds, so it looks them up.

``prepared_plans()`` runs the queries made within it as prepared statements with a generic
plan: for the few a page runs on every view whose planning costs PostgreSQL more than their
running (a lookup joining half a dozen tables by a unique key, a version query of a few
dozen subqueries on ids).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import F, Lookup, QuerySet
from psycopg import ClientCursor


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


class _PreparingCursor(ServerBindingCursor):
    """A cursor that binds its parameters on the server and prepares what it runs, once per
    connection (psycopg keeps the statements, ``prepared_max`` of them)."""

    def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
        result = super().execute(query, params, **(options | {"prepare": True}))
        # What Django logs of a query (connection.queries, assertNumQueries' list) is the
        # cursor's own record of it, which psycopg keeps only for a query it did not
        # prepare: the query as run, with its values, written out when asked for.
        self._query = _AsRun(self.connection, query, params)
        return result


class _AsRun:
    def __init__(self, database: Any, query: Any, params: Any) -> None:
        self._database, self._query, self._params = database, query, params

    @property
    def query(self) -> bytes:
        return ClientCursor(self._database).mogrify(self._query, self._params).encode()

    @property
    def params(self) -> Any:
        return self._params


@contextmanager
def prepared_plans() -> Iterator[None]:
    """Within it, the queries this thread runs on the default database are prepared once per
    connection and run by a generic plan (``plan_cache_mode``, ``clinic.settings``): parsed
    and planned once, not on every request. Only for queries whose best plan does not depend
    on their values (a lookup by a unique key, ids by ``= ANY``); a range (dates, say) is
    better planned for the values at hand. Django binds every other query on the client,
    which never prepares. Off with ``DATABASE_PREPARED_STATEMENTS=0``."""
    if not settings.DATABASE_PREPARED_STATEMENTS:
        yield
        return
    connection.ensure_connection()
    database = connection.connection
    client_binding = database.cursor_factory
    database.cursor_factory = _PreparingCursor
    try:
        yield
    finally:
        database.cursor_factory = client_binding
