"""Which PostgreSQL the benchmarks use, and their own databases on it.

With ``DATABASE_URL`` set, its server (any database name in it is replaced); without it, the
embedded PostgreSQL under ``.data/`` that ``make run`` uses (``clinic.embedded_postgres``),
started or joined by this process and stopped when the last process lets go of it.

A seeded database says what it holds in its comment (``COMMENT ON DATABASE``): the seed,
the scale and the day it was seeded for, so a later run can reuse it instead of seeding
again. Nothing here ever drops a database that the caller did not name.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

BASE_DIR = Path(__file__).resolve().parent.parent
# Databases no benchmark may drop or reseed: others clone the template.
PROTECTED = frozenset({"chairside_bench_template", "postgres", "template0", "template1"})


def server_url() -> str:
    """A URL of the server, naming no particular database (``DATABASE_URL``'s, or the
    embedded one's)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url:
        sys.path.insert(0, str(BASE_DIR))
        from clinic import embedded_postgres

        data_dir = Path(os.environ.get("CHAIRSIDE_DATA_DIR", str(BASE_DIR / ".data")))
        url = embedded_postgres.database_url(data_dir.resolve())
    return url


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` (query string, e.g. a socket host, kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _admin(url: str) -> psycopg.Connection:
    return psycopg.connect(with_database(url, "postgres"), autocommit=True)


def exists(url: str, name: str) -> bool:
    with _admin(url) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return row is not None


def create(url: str, name: str, template: str | None = None) -> None:
    with _admin(url) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)


def drop(url: str, name: str) -> None:
    if name in PROTECTED:
        raise SystemExit(f"Refusing to drop {name}: other benchmarks rely on it.")
    with _admin(url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def marker(url: str, name: str) -> dict | None:
    """What ``mark`` wrote on database ``name``, or None."""
    with _admin(url) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
    if not row or not row[0]:
        return None
    try:
        found = json.loads(row[0])
    except ValueError:
        return None
    return found if isinstance(found, dict) and found.get("chairside_bench") else None


def mark(url: str, name: str, **facts: object) -> None:
    comment = json.dumps({"chairside_bench": 1, **facts}, sort_keys=True)
    with _admin(url) as conn:
        conn.execute(
            sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(comment)
            )
        )
