"""Redis and PostgreSQL servers of a test's own, to kill and start again mid-run.

The machine's shared servers (``REDIS_URL``, ``DATABASE_URL``) serve other tests at the same
time and are never restarted by a test. A restart test starts its own instead:

- ``PrivateRedis``: a ``redis-server`` process on a free port of 127.0.0.1, keeping nothing
  on disk, so a restart loses every queued task, the worst a Redis restart can do. Needs
  the ``redis-server`` binary (tests marked ``redis_server``; tests/services.py).
- ``PrivatePostgres``: a PostgreSQL server from the ``pgserver`` wheel (the one the
  zero-setup path runs, clinic/embedded_postgres.py) on a data directory of its own,
  reached over its Unix socket. ``crash()`` is an immediate shutdown (SIGQUIT to the
  postmaster: every connection dropped, open transactions lost, crash recovery on the next
  start), as a crash or a failover looks to the application.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import warnings
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(condition, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} within {seconds:g} s")
        time.sleep(0.1)


class PrivateRedis:
    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.log = log_dir / "redis-server.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (tests marked redis_server skip then)"
        with self.log.open("ab") as log:
            # Nothing saved to disk: a restart starts empty.
            options = ["--save", "", "--appendonly", "no", "--protected-mode", "no"]
            self.process = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1", *options],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_for(self._answers, seconds=10, what="redis-server did not start")
        return self

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: whatever was queued is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        self.kill()


class PrivatePostgres:
    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pgserver asks platformdirs for a runtime dir
            import pgserver

        data_dir.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(data_dir.resolve(), cleanup_mode="delete")

    def url(self, database: str = "postgres") -> str:
        return self.server.get_uri(database)

    def pid(self) -> int | None:
        from pgserver.utils import PostmasterInfo

        info = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        return info.pid if info is not None and info.is_running() else None

    def crash(self) -> None:
        """Immediate shutdown: connections dropped, open transactions lost."""
        pid = self.pid()
        assert pid is not None, "the private PostgreSQL is not running"
        os.kill(pid, signal.SIGQUIT)
        _wait_for(lambda: not _alive(pid), seconds=30, what="PostgreSQL did not stop")

    def start(self) -> None:
        from pgserver.postgres_server import PostgresServer

        with PostgresServer._lock:
            self.server.ensure_postgres_running()

    def stop(self) -> None:
        """Stop the server and delete its data directory."""
        self.server.cleanup()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie until its parent (pg_ctl's shell, long gone: init) reaps it.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
