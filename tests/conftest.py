"""The test database's URL, for processes the cross-app tests start."""

from __future__ import annotations

from urllib.parse import quote, urlencode

import pytest


def database_url(settings_dict: dict) -> str:
    """A DATABASE_URL that reaches the database described by a Django connection's settings.

    The embedded server listens on a Unix socket: its directory travels as ``?host=``,
    which dj-database-url reads back into OPTIONS, as it does any other option.
    """
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or ""
    port = settings_dict.get("PORT") or ""
    netloc = quote(host, safe="") + (f":{port}" if port else "")
    options = {key: str(value) for key, value in (settings_dict.get("OPTIONS") or {}).items()}
    query = f"?{urlencode(options)}" if options else ""
    return f"postgres://{credentials}{netloc}/{quote(settings_dict['NAME'], safe='')}{query}"


@pytest.fixture(scope="session")
def test_database_url(django_db_setup: None) -> str:
    """The URL of the test database (not the real one), for processes the tests start."""
    from django.db import connection

    return database_url(connection.settings_dict)
