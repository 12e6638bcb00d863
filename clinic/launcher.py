"""``make run``: the whole clinic on one machine, started and stopped as one.

``python -m clinic.launcher`` migrates the database, loads the demo clinic, and runs
the web server, a Celery worker and Celery beat side by side, each in its own process
group, with their output prefixed by name. Ctrl-C (SIGINT), SIGTERM, or any one of
them dying stops all of them: SIGTERM to each of them and then to whatever is left in
its process group, SIGKILL to what is still there after ``STOP_TIMEOUT`` seconds.

With no ``DATABASE_URL``, the launcher starts (or joins) the embedded PostgreSQL
itself and hands its URL to the children, so the server lives exactly as long as the
launcher and stops when it exits. With no ``DEBUG`` the children run with
``DEBUG=1``: this is a development run. The launcher reads the environment with
``clinic.env`` but never loads Django settings: each child does that itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import BinaryIO

from django.core.exceptions import ImproperlyConfigured

from clinic.env import Env

BASE_DIR = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0
READY_TIMEOUT = 60.0

# Kept in step with clinic.management.commands.seed_demo.DEMO_ACCOUNTS (a test checks);
# repeated here because the launcher does not load Django.
DEMO_EMAIL_DOMAIN = "demo.chairside.test"
DEMO_LOGINS = [
    ("frontdesk", "Front desk"),
    ("nurse", "Nurse"),
    ("physician", "Physician"),
    ("admin", "Clinic admin (also /admin/)"),
    ("editor", "Content editor"),
    ("director", "Medical director: physician and clinic admin (grants clinical roles)"),
]


def port_in_use(port: int, host: str = HOST) -> bool:
    """True when something already listens on ``host:port`` (a TIME_WAIT socket does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def port_accepts_connections(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Child:
    """One supervised process, started at once as the leader of its own process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        output: BinaryIO,
        lock: threading.Lock,
    ) -> None:
        self.name = name
        # A new session makes the child the leader of its own process group, out of reach
        # of the terminal's Ctrl-C: only the launcher stops it, and stops all of its group.
        self.process = subprocess.Popen(  # noqa: S603 - argv is built by this module
            list(argv),
            cwd=BASE_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.pid = self.process.pid
        self._reader = threading.Thread(
            target=_copy_lines,
            args=(self.process.stdout, output, f"{name:>9} | ".encode(), lock),
            daemon=True,
        )
        self._reader.start()

    def returncode(self) -> int | None:
        return self.process.poll()

    def signal_leader(self, signum: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def group_is_gone(self) -> bool:
        """True once the leader has exited and no process is left in its group."""
        if self.process.poll() is None:
            return False
        try:
            os.killpg(self.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def finish_output(self) -> None:
        self._reader.join(timeout=2)


def _copy_lines(source: BinaryIO, output: BinaryIO, prefix: bytes, lock: threading.Lock) -> None:
    for line in iter(source.readline, b""):
        with lock:
            output.write(prefix + line if line.endswith(b"\n") else prefix + line + b"\n")
            output.flush()
    source.close()


class Supervisor:
    """Starts children, watches them, and stops them all together."""

    def __init__(self, output: BinaryIO | None = None, stop_timeout: float = STOP_TIMEOUT) -> None:
        self.output = output if output is not None else sys.stdout.buffer
        self.stop_timeout = stop_timeout
        self.lock = threading.Lock()
        self.children: list[Child] = []
        self.stop_requested: str | None = None
        self.hurry = False
        self.failed: list[str] = []

    def say(self, message: str) -> None:
        with self.lock:
            self.output.write(f"{'chairside':>9} | {message}\n".encode())
            self.output.flush()

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.stop_requested is not None:
            self.hurry = True  # a second Ctrl-C: do not wait for a graceful stop
        self.stop_requested = signal.Signals(signum).name

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> Child:
        child = Child(name, argv, env, self.output, self.lock)
        self.children.append(child)
        return child

    def run_step(self, name: str, argv: Sequence[str], env: dict[str, str]) -> bool:
        """Run a command to completion (or until a stop is requested); True if it succeeded."""
        if self.stop_requested is not None:
            return False
        child = self.start(name, argv, env)
        while child.returncode() is None and self.stop_requested is None:
            time.sleep(0.1)
        if self.stop_requested is not None:
            return False
        child.finish_output()
        self.children.remove(child)
        if child.returncode() != 0:
            self.failed.append(name)
            self.say(f"{name} failed (exit code {child.returncode()}); see its output above.")
            return False
        return True

    def watch(self, on_tick: Callable[[], None] | None = None) -> None:
        """Return when a stop is requested or any running child exits by itself."""
        while self.stop_requested is None:
            for child in self.children:
                code = child.returncode()
                if code is not None:
                    self.failed.append(child.name)
                    self.say(
                        f"{child.name} stopped unexpectedly (exit code {code}), "
                        "so everything else is being stopped too."
                    )
                    return
            if on_tick is not None:
                on_tick()
            time.sleep(0.2)

    def stop_all(self) -> None:
        """Stop every child and everything in its process group.

        SIGTERM goes to each leader first, so it can shut down in order (a Celery worker
        stops its own pool; the autoreloader of runserver stops the server it runs). What
        is left in a group after its leader exited gets SIGTERM too, and whatever is still
        there after the timeout, or at a second Ctrl-C, gets SIGKILL.
        """
        running = [child for child in self.children if not child.group_is_gone()]
        if running:
            self.say("Stopping " + ", ".join(child.name for child in running) + " ...")
        for child in running:
            child.signal_leader(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout
        while time.monotonic() < deadline and not self.hurry:
            if all(child.group_is_gone() for child in running):
                break
            for child in running:
                if child.returncode() is not None:
                    child.signal_group(signal.SIGTERM)  # the leader left some behind
            time.sleep(0.1)
        stubborn = [child for child in running if not child.group_is_gone()]
        for child in stubborn:
            self.say(f"{child.name} did not stop in time; killing it.")
            child.signal_group(signal.SIGKILL)
        for child in stubborn:
            child.process.wait()
        for child in self.children:
            child.finish_output()


def banner(*, port: int, debug: bool, demo_password: str, database: str, broker: str) -> str:
    url = f"http://{HOST}:{port}/"
    lines = [
        "",
        "=" * 72,
        f"  Chairside is running at {url}",
        f"  Staff sign-in: {url}staff/login/",
        "",
    ]
    if debug:
        lines.append(f"  Demo logins, all with the password: {demo_password}")
        width = max(len(f"{mailbox}@{DEMO_EMAIL_DOMAIN}") for mailbox, _ in DEMO_LOGINS)
        for mailbox, role in DEMO_LOGINS:
            lines.append(f"    {f'{mailbox}@{DEMO_EMAIL_DOMAIN}':<{width}}  {role}")
    else:
        lines.append("  DEBUG is off, so there are no demo logins (they are for development only).")
    lines += [
        "",
        f"  Database:        {database}",
        f"  Background jobs: Celery worker and beat, {broker}",
        "  Press Ctrl-C to stop everything.",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


def start_embedded_postgres(data_dir: Path) -> str:
    """Start or join the embedded server; it stops when this process lets go of it."""
    from clinic import embedded_postgres

    return embedded_postgres.database_url(data_dir)


def stop_embedded_postgres(data_dir: Path) -> None:
    """Let go of the embedded server now, rather than at exit, so it is down when we say so.

    It stops only if no other process (a test run, say) still uses it.
    """
    import pgserver

    pgserver.get_server(data_dir / "postgres").cleanup()


def main() -> int:
    env = Env()
    try:
        port = env.int("PORT", 8000, min_value=1, max_value=65535)
        debug = env.bool("DEBUG", True)
        data_dir = Path(env.str("CHAIRSIDE_DATA_DIR", str(BASE_DIR / ".data"))).resolve()
        database_url = env.secret("DATABASE_URL")
        redis_url = env.secret("REDIS_URL")
        demo_password = env.secret("DEMO_PASSWORD", "chairside-demo")
    except ImproperlyConfigured as exc:
        print(f"make run cannot start: {exc}", file=sys.stderr)
        return 2
    if port_in_use(port):
        other = port + 1 if port < 65535 else 8001
        print(
            f"make run cannot start: port {port} on {HOST} is already in use, perhaps by "
            f"another `make run`. Stop that program, or pick another port: PORT={other} make run",
            file=sys.stderr,
        )
        return 2

    supervisor = Supervisor()
    supervisor.install_signal_handlers()
    child_env = dict(os.environ)
    child_env.update(PYTHONUNBUFFERED="1", CHAIRSIDE_DATA_DIR=str(data_dir), PORT=str(port))
    if not os.environ.get("DEBUG", "").strip():
        child_env["DEBUG"] = "1"
    embedded = not database_url
    if embedded:
        supervisor.say(f"Starting the embedded PostgreSQL in {data_dir / 'postgres'} ...")
        try:
            child_env["DATABASE_URL"] = start_embedded_postgres(data_dir)
        except Exception as exc:
            supervisor.say(
                f"The embedded PostgreSQL did not start ({exc}). Its log is "
                f"{data_dir / 'postgres' / 'log'}. Or set DATABASE_URL to use another server."
            )
            return 1
        database = f"embedded PostgreSQL in {data_dir / 'postgres'} (no DATABASE_URL)"
    else:
        database = "PostgreSQL at DATABASE_URL"
    if redis_url:
        broker = "broker at REDIS_URL"
    else:
        broker = f"queue on disk in {data_dir / 'celery-broker'} (no REDIS_URL)"
    text = banner(
        port=port, debug=debug, demo_password=demo_password, database=database, broker=broker
    )

    try:
        run_clinic(supervisor, child_env, port, text)
    finally:
        supervisor.stop_all()
        if embedded:
            supervisor.say("Stopping the embedded PostgreSQL (unless tests still use it) ...")
            stop_embedded_postgres(data_dir)
    if supervisor.failed:
        return 1
    supervisor.say("Everything stopped.")
    return 0


def run_clinic(supervisor: Supervisor, env: dict[str, str], port: int, text: str) -> None:
    """Migrate, seed, start web, worker and beat, and watch them until told to stop."""
    python = sys.executable
    manage = [python, "manage.py"]
    celery = [python, "-m", "celery", "-A", "clinic"]
    if not supervisor.run_step("migrate", [*manage, "migrate", "--noinput"], env):
        return
    if not supervisor.run_step("seed", [*manage, "seed_demo"], env):
        return
    if supervisor.stop_requested is not None:
        return
    supervisor.start("web", [*manage, "runserver", f"{HOST}:{port}"], env)
    supervisor.start("worker", [*celery, "worker", "-l", "info", "--concurrency", "2"], env)
    supervisor.start("beat", [*celery, "beat", "-l", "info"], env)

    started = time.monotonic()
    announced = False

    def announce_when_ready() -> None:
        nonlocal announced
        if announced:
            return
        if port_accepts_connections(port):
            announced = True
            with supervisor.lock:
                supervisor.output.write(text.encode() + b"\n")
                supervisor.output.flush()
        elif time.monotonic() - started > READY_TIMEOUT:
            announced = True
            supervisor.say(f"The web server is not answering on port {port} yet; see above.")

    supervisor.watch(on_tick=announce_when_ready)


if __name__ == "__main__":
    sys.exit(main())
