"""Pieces of staff pages kept rendered in the cache (Django's cache framework: Redis in
production, the file cache under ``.data/`` without ``REDIS_URL``), so that a page drawing
the same thing again does not draw it again.

A fragment is stored under a key made of everything it is drawn from, so a stale copy can
never be read: when what it shows changes, so does its key, and the old copy is simply never
asked for again (it expires on its own, ``FRAGMENT_SECONDS``). The key's ``parts`` are one of:

- the data itself (a drawing's points, say), already read for the page: the key is a digest
  of it, and the cache saves the drawing, not the reading;
- a version of the rows it shows that every write to them changes (``rows_version``: each
  row's id and the PostgreSQL version of the row, in one cheap query), so an insert, update
  or delete by any path (a service, the admin, a migration, SQL by hand) makes a new key:
  the cache saves the reading too.

And, for what differs by reader, the facts that decide what they may see or do (their
permissions): a fragment is shown only to readers with the same facts as the one it was
drawn for. A fragment may carry nothing tied to one reader but forms' CSRF tokens: drawn with
``KEPT_CSRF`` in the context (``{"csrf_token": ...}``), it holds a placeholder that
``cached_fragment(..., request=request)`` replaces with the reader's own token each time it is
served. A fragment showing times relative to now keeps ``this_minute()`` among its parts.

Each caller names its fragment (``kind``) and a ``version`` of its own markup; every key also
holds a digest of the project's code and templates (``release()``), so a new release never
shows copies drawn by the old one, even where a version was not changed. The cache failing
(Redis down) costs the drawing, never the page.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import django
from django.apps import apps
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from clinic.queries import prepared_plans

logger = logging.getLogger(__name__)

# A day: a fragment nobody asks for again goes; one that is asked for is drawn again daily.
FRAGMENT_SECONDS = 24 * 3600

# What a kept fragment holds where a form's CSRF token goes: drawn with ``KEPT_CSRF`` in its
# context, replaced by the reader's own token when served. Letters and dashes only, so
# escaping leaves it as it is; no reader's text is ever replaced (it is searched for only in
# markup drawn from the templates, where a reader's text is escaped: a patient's name holding
# it would be replaced by a token, never the other way round).
CSRF_PLACEHOLDER = "chairside-kept-csrf-token-3c41d9"
KEPT_CSRF = {"csrf_token": CSRF_PLACEHOLDER}


def this_minute() -> Any:
    """The current minute, for the parts of a fragment that shows times relative to now
    ("in 5 min", a "now" line): it is drawn again at most once a minute."""
    return timezone.now().replace(second=0, microsecond=0)


@dataclass(frozen=True)
class RowsOf:
    """The rows of ``model`` whose ``field`` is one of ``values`` (every row when ``values``
    is None), for ``rows_version``: one array parameter where a queryset would be compiled
    with a parameter per id."""

    model: type[Model]
    field: str = "pk"
    values: Sequence[Any] | ValuesOf | None = None


@dataclass(frozen=True)
class RowsMatching:
    """The rows ``queryset`` reads, for ``rows_version``: read by the queryset's own plan
    (its indexes), where a queryset given as is is matched by id against the whole table,
    which PostgreSQL may read through for a few hundred ids. Each row counts once per row
    the queryset gives (a join may give one several times)."""

    queryset: QuerySet


def writes_of(*models: type[Model]) -> RowsOf:
    """For ``rows_version``: the notes of writes to the whole tables of ``models``
    (``clinic.models.TableWrite``), for a fragment drawn from every row of a large table,
    where a version of each row would cost reading them all. Each table needs the trigger
    that notes its writes (``clinic_note_table_write``, see
    ``outcomes/migrations/0002_note_writes_for_the_dashboard.py``): without it the version
    would never change."""
    from clinic.models import TableWrite

    return RowsOf(TableWrite, "table_name", [model._meta.db_table for model in models])


@dataclass(frozen=True)
class ValuesOf:
    """The values of ``column`` of the rows of ``model`` whose ``field`` is one of
    ``values``, as the ``values`` of ``RowsOf``, ``RowsReferencedBy`` or another
    ``ValuesOf``: a plain subquery, so the ids need not be read first (a patient's sessions:
    ``ValuesOf(InfusionSession, "pk", "appointment", ValuesOf(Appointment, "pk", "patient",
    [patient.pk]))``)."""

    model: type[Model]
    column: str
    field: str
    values: Sequence[Any] | ValuesOf


@dataclass(frozen=True)
class RowsReferencedBy:
    """The rows of ``model`` that the foreign keys ``columns`` of the rows of ``by`` whose
    ``field`` is one of ``values`` point to (the staff who recorded a session's readings,
    say), for ``rows_version``: a subquery, so the ids need not be read first."""

    model: type[Model]
    by: type[Model]
    columns: tuple[str, ...]
    field: str
    values: Sequence[Any] | ValuesOf


@functools.cache
def _column(model: type[Model], name: str) -> str:
    meta = model._meta
    return connection.ops.quote_name((meta.pk if name == "pk" else meta.get_field(name)).column)


def _one_of(column: str, values: Sequence[Any] | ValuesOf, depth: int = 0) -> tuple[str, list[Any]]:
    """``column`` is one of ``values``, in SQL, and its parameters."""
    if not isinstance(values, ValuesOf):
        return f"{column} = ANY(%s)", [list(values)]
    table = connection.ops.quote_name(values.model._meta.db_table)
    alias = f"s{depth}"
    field = f"{alias}.{_column(values.model, values.field)}"
    inner, params = _one_of(field, values.values, depth + 1)
    # Names from the models, quoted; every value a parameter. ANY(ARRAY(...)) rather than
    # IN (...): the values are read first, then the outer rows off their index by them,
    # whatever the plan, which a generic plan (``_first_row``) would not do for a semi-join.
    select = f"SELECT {alias}.{_column(values.model, values.column)} FROM {table} {alias}"  # noqa: S608
    return f"{column} = ANY(ARRAY({select} WHERE {inner}))", params


Source = QuerySet | RowsOf | RowsMatching | RowsReferencedBy


def rows_version(*sources: Source) -> str:
    """A version of the rows of ``sources`` that changes with every write to any of them,
    in one query: for each, how many rows and a digest of each row's id, ``xmin`` (the
    transaction that wrote this version of the row) and ``ctid`` (where this version lies:
    a second update in the same transaction writes a new one elsewhere, and a place is only
    reused after the transaction that left it has ended, with a new ``xmin``). Deleting a
    row takes its id out; inserting one puts its id in."""
    return version_of(*rows_version_query(*sources), prepared=_plannable(sources))


def rows_versions(*sources: Source) -> list[str]:
    """The version of each of ``sources`` (as ``rows_version``), in one query: for a page
    keeping several fragments, each drawn from some of them."""
    parts, params = _version_parts(sources)
    return list(_first_row("SELECT " + ", ".join(parts), params, prepared=_plannable(sources)))


def grouped_versions(groups: Mapping[str, Sequence[Source]]) -> dict[str, str]:
    """The version of each group of ``groups`` (what ``rows_version(*group)`` would return),
    in one query: for a page whose kept fragments are declared by several apps, each with
    its own sources. A source in several groups (the staff, the places) is read once."""
    unique: dict[Any, int] = {}
    sources: list[Source] = []
    positions: dict[str, list[int]] = {}
    for name, group in groups.items():
        positions[name] = []
        for source in group:
            # The dataclasses say all they hold in their repr; a queryset is never compared.
            same = repr(source) if isinstance(source, RowsOf | RowsReferencedBy) else id(source)
            if same not in unique:
                unique[same] = len(sources)
                sources.append(source)
            positions[name].append(unique[same])
    if not sources:
        return dict.fromkeys(groups, "")
    versions = rows_versions(*sources)
    return {
        name: "/".join(versions[index] for index in indexes) for name, indexes in positions.items()
    }


def _plannable(sources: Sequence[Source]) -> bool:
    """Whether a version query of ``sources`` runs well prepared (``_first_row``)."""
    return not any(isinstance(source, RowsMatching) for source in sources)


def rows_version_query(*sources: Source) -> tuple[str, list[Any]]:
    """The SQL and parameters of ``rows_version(*sources)``, for a caller that runs the same
    query often with other values (compiling a dozen querysets can cost more than running
    them): it keeps them and runs them with ``version_of``."""
    parts, params = _version_parts(sources)
    return "SELECT " + " || '/' || ".join(parts), params


def _version_parts(sources: Sequence[Source]) -> tuple[list[str], list[Any]]:
    """Each source's part of a version query (its count and digest), and the parameters."""
    parts, params = [], []
    quote = connection.ops.quote_name
    for source in sources:
        if isinstance(source, RowsMatching):
            part, part_params = _rows_matching(source.queryset)
            parts.append(part)
            params.extend(part_params)
            continue
        meta = source.model._meta
        table, pk = quote(meta.db_table), quote(meta.pk.column)
        if isinstance(source, RowsReferencedBy):
            pointers = ", ".join(f"r.{_column(source.by, name)}" for name in source.columns)
            inner, where_params = _one_of(f"r.{_column(source.by, source.field)}", source.values)
            where = (  # names from the models, quoted; the values parameters (ANY: _one_of)
                f"v.{pk} = ANY(ARRAY(SELECT unnest(ARRAY[{pointers}]) "  # noqa: S608
                f"FROM {quote(source.by._meta.db_table)} r WHERE {inner}))"
            )
        elif isinstance(source, RowsOf):
            if source.values is None:
                where, where_params = "true", []
            else:
                where, where_params = _one_of(
                    f"v.{_column(source.model, source.field)}", source.values
                )
        else:
            ids, where_params = source.order_by().values("pk").query.sql_with_params()
            where = f"v.{pk} = ANY(ARRAY({ids}))"  # as _one_of
        # Names from the model, quoted; every value a parameter.
        parts.append(
            f"(SELECT count(*)::text || '.' || coalesce(md5(string_agg("  # noqa: S608
            f"v.{pk}::text || ':' || v.xmin::text || ':' || v.ctid::text, ',' "
            f"ORDER BY v.{pk})), '') FROM {table} v WHERE {where})"
        )
        params.extend(where_params)
    return parts, params


def version_of(sql: str, params: Sequence[Any], *, prepared: bool = True) -> str:
    """Run a ``rows_version_query`` (``prepared``: see ``_first_row``)."""
    return _first_row(sql, params, prepared=prepared)[0]


def _first_row(sql: str, params: Sequence[Any], *, prepared: bool) -> tuple[Any, ...]:
    """The first row of a version query; ``prepared`` (``clinic.queries.prepared_plans``):
    a page's version query is a few dozen subqueries on ids, which PostgreSQL took longer to
    plan (2-8 ms) than to run, and which a generic plan runs as fast, each subquery off its
    index. Not for a ``RowsMatching`` source: a range read by the queryset's own plan, which
    only a plan for the values at hand reads off the right index."""
    with prepared_plans() if prepared else contextlib.nullcontext(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


class DrawnForOneReader(str):
    """What a ``draw`` returns for markup to serve but not keep: it holds something of this
    reader's alone (a form that lists the other staff, say), so no other reader may get it."""


def rows_counts(version: str) -> list[int]:
    """How many rows each source of ``rows_version`` had, in order: a version starts each
    source's part with its count (a page that shows how many rows it drew can say so without
    reading them when it serves a kept fragment)."""
    return [int(part.split(".", 1)[0]) for part in version.split("/")]


def _rows_matching(queryset: QuerySet) -> tuple[str, Sequence[Any]]:
    """``rows_version``'s part for ``RowsMatching``: the same digest, of the rows as the
    queryset reads them (the base table keeps its own name as its alias in Django's SQL)."""
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    stamp = RawSQL(f"{table}.xmin::text || ':' || {table}.ctid::text", [])  # noqa: S611
    rows = queryset.order_by().annotate(_row_stamp=stamp).values_list("pk", "_row_stamp")
    sql, params = rows.query.sql_with_params()
    return (
        "(SELECT count(*)::text || '.' || coalesce(md5(string_agg("  # noqa: S608
        "v.id::text || ':' || v.stamp, ',' ORDER BY v.id, v.stamp)), '') "
        f"FROM ({sql}) v (id, stamp))",
        params,
    )


def fragment_key(kind: str, version: str, parts: Hashable) -> str:
    """The cache key of fragment ``kind`` (markup ``version``) drawn from ``parts``: a digest
    of their ``repr``, which for the values used here (numbers, strings, dates and times,
    tuples of them) says everything they hold."""
    # The database's name keeps installs and test runs that share a cache apart; the
    # release keeps copies drawn by other code apart (a version a caller forgot to change).
    database = str(connection.settings_dict.get("NAME", ""))
    digest = hashlib.sha256(repr((database, release(), parts)).encode()).hexdigest()
    return f"fragment:{kind}:{version}:{digest}"


@functools.cache
def release() -> str:
    """A digest of the code and templates that draw fragments: this project's apps (their
    Python and templates), the project's templates and Django's version, read once a
    process. A release that changes any of them draws every fragment anew."""
    base = Path(settings.BASE_DIR).resolve()
    roots = [base / "templates"]
    for app in apps.get_app_configs():
        path = Path(app.path).resolve()
        if path.is_relative_to(base) and ".venv" not in path.parts:
            roots.append(path)
    digest = hashlib.sha256(django.get_version().encode())
    for path in sorted({file for root in roots for file in root.rglob("*.*")}):
        if path.suffix in {".py", ".html", ".txt", ".svg"} and "tests" not in path.parts:
            digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Fragment:
    """One fragment for ``cached_fragments``: as the arguments of ``cached_fragment``."""

    kind: str
    version: str
    parts: Hashable
    draw: Callable[[], str]


def cached_fragment(
    kind: str,
    version: str,
    parts: Hashable,
    draw: Callable[[], str],
    *,
    request: HttpRequest | None = None,
) -> SafeString:
    """The markup ``draw()`` returns for ``parts``, from the cache when it was drawn before.
    ``draw`` must return safe markup (every text in it escaped); wrapped in
    ``DrawnForOneReader``, it is served but not kept. With ``request``, the
    fragment's forms were drawn with ``KEPT_CSRF`` and get the reader's CSRF token."""
    return cached_fragments([Fragment(kind, version, parts, draw)], request=request)[0]


def cached_fragments(
    fragments: Sequence[Fragment], *, request: HttpRequest | None = None
) -> list[SafeString]:
    """Each of ``fragments`` as ``cached_fragment`` gives it, read from the cache in one
    round trip: for a page that shows several."""
    keys = [fragment_key(each.kind, each.version, each.parts) for each in fragments]
    try:
        stored = cache.get_many(keys)
    except Exception:  # the cache is a saving, not a dependency
        logger.warning("Could not read the fragment cache; drawing %s instead.", fragments[0].kind)
        stored, keeping = {}, False
    else:
        keeping = True
    markups, drawn_now = [], {}
    for key, fragment in zip(keys, fragments, strict=True):
        markup = stored.get(key)
        if markup is None:
            drawn = fragment.draw()
            markup = str(drawn)
            if keeping and not isinstance(drawn, DrawnForOneReader):
                drawn_now[key] = markup
        markups.append(markup)
    if drawn_now:
        try:
            cache.set_many(drawn_now, FRAGMENT_SECONDS)
        except Exception:
            logger.warning("Could not keep %s in the fragment cache.", fragments[0].kind)
    if request is not None and any(CSRF_PLACEHOLDER in markup for markup in markups):
        token = get_token(request)
        markups = [markup.replace(CSRF_PLACEHOLDER, token) for markup in markups]
    return [mark_safe(markup) for markup in markups]  # noqa: S308 (draw returns safe markup)


def kept_value(
    kind: str,
    version: str,
    parts: Hashable,
    compute: Callable[[], Any],
    *,
    still_good: Callable[[Any], bool] | None = None,
) -> Any:
    """What ``compute()`` returns for ``parts``, from the cache when it was computed before:
    ``cached_fragment`` for a drawing that comes with plain values the page needs too (a
    tuple of markup and counts, say). Keyed and kept by the same rules; the value must be
    plain data (strings, numbers, tuples), and any markup in it is the caller's to mark
    safe. ``still_good(value)``: whether a kept value may be shown now (for a value that
    says itself until when it holds, where a minute in the key would draw it too often);
    when not, it is computed again and kept in its place."""
    key = fragment_key(kind, version, parts)
    try:
        stored = cache.get(key)
    except Exception:  # the cache is a saving, not a dependency
        logger.warning("Could not read the fragment cache; computing %s instead.", kind)
        return compute()
    if stored is not None and (still_good is None or still_good(stored)):
        return stored
    value = compute()
    try:
        cache.set(key, value, FRAGMENT_SECONDS)
    except Exception:
        logger.warning("Could not keep %s in the fragment cache.", kind)
    return value
