"""The zero-setup database: a PostgreSQL server from the ``pgserver`` wheel.

When ``DATABASE_URL`` is not set, ``clinic.settings`` calls :func:`database_url`,
which starts (or joins) a server whose data lives under ``.data/postgres``. It is
the same PostgreSQL, reached through the same Django backend, as in production;
only who starts it differs.

Every process that uses the server registers its pid in a file in the data
directory; the server stops when the last of them exits. A process killed with
SIGKILL never unregisters, so stale pids are pruned before joining, or the server
would never stop again.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

logger = logging.getLogger(__name__)

_PIDS_FILE = ".handle_pids.json"


def _pid_is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _prune_dead_handles(pgdata: Path) -> None:
    import json

    pids_file = pgdata / _PIDS_FILE
    if not pids_file.exists():
        return
    try:
        pids = json.loads(pids_file.read_text())
    except (OSError, ValueError):
        pids = []
    alive = [pid for pid in pids if isinstance(pid, int) and _pid_is_alive(pid)]
    if alive != pids:
        pids_file.write_text(json.dumps(alive))


def database_url(data_dir: Path) -> str:
    """Start or join the embedded server and return a URL that reaches it over its socket."""
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime dir at import; its fallback is fine here.
        warnings.simplefilter("ignore")
        import pgserver
        from pgserver.postgres_server import PostgresServer

    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = (data_dir / "postgres").resolve()
    if pgdata.exists():
        with PostgresServer._lock:
            _prune_dead_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = server.get_uri()
    logger.debug("embedded PostgreSQL at %s", pgdata)
    return url
