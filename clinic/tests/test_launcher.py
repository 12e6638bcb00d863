"""The `make run` supervisor, with small stand-in processes instead of the real servers.

The real thing (PostgreSQL, migrate, seed, web, worker, beat, Ctrl-C) is exercised
end to end by `.ci/zero-setup-check`.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import sys
import time

import pytest

from clinic import launcher
from clinic.launcher import Supervisor, banner, port_in_use
from clinic.management.commands.seed_demo import DEMO_ACCOUNTS

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]
STUBBORN = [
    sys.executable,
    "-c",
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(60)",
]
# A parent that leaves its own child behind when it is stopped.
ABANDONER = [
    sys.executable,
    "-c",
    "import subprocess, sys, time; "
    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
    "print('ready', flush=True); time.sleep(60)",
]


@pytest.fixture
def supervisor():
    supervisor = Supervisor(output=io.BytesIO(), stop_timeout=5)
    yield supervisor
    for child in supervisor.children:  # never leave a stray process behind a failed test
        child.signal_group(signal.SIGKILL)


def wait_for_output(supervisor: Supervisor, text: bytes, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while text not in supervisor.output.getvalue():
        assert time.monotonic() < deadline, supervisor.output.getvalue()
        time.sleep(0.05)


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_it_sees_a_port_that_is_taken(listening_port):
    assert port_in_use(listening_port)


def test_it_sees_a_port_that_is_free():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert not port_in_use(port)


def test_it_refuses_a_busy_port_and_says_how_to_pick_another(monkeypatch, capsys, listening_port):
    monkeypatch.setenv("PORT", str(listening_port))

    assert launcher.main() == 2

    error = capsys.readouterr().err
    assert f"port {listening_port} on 127.0.0.1 is already in use" in error
    assert f"PORT={listening_port + 1} make run" in error


def test_it_refuses_a_port_that_is_not_a_number(monkeypatch, capsys):
    monkeypatch.setenv("PORT", "eighty")

    assert launcher.main() == 2

    assert "PORT='eighty' is not a whole number" in capsys.readouterr().err


def test_it_stops_everything_when_one_child_dies(supervisor):
    env = dict(os.environ)
    web = supervisor.start("web", SLEEPER, env)
    supervisor.start("beat", [sys.executable, "-c", "raise SystemExit(3)"], env)

    supervisor.watch()
    supervisor.stop_all()

    assert supervisor.failed == ["beat"]
    assert web.group_is_gone()
    assert b"beat stopped unexpectedly (exit code 3)" in supervisor.output.getvalue()


def test_a_stop_request_stops_every_child_without_calling_it_a_failure(supervisor):
    env = dict(os.environ)
    children = [supervisor.start(name, SLEEPER, env) for name in ("web", "worker")]

    supervisor._on_signal(signal.SIGINT, None)
    supervisor.watch()
    supervisor.stop_all()

    assert supervisor.failed == []
    assert all(child.group_is_gone() for child in children)


def test_it_kills_a_child_that_ignores_sigterm(supervisor):
    supervisor.stop_timeout = 1
    stubborn = supervisor.start("stubborn", STUBBORN, dict(os.environ))
    wait_for_output(supervisor, b"ready")

    started = time.monotonic()
    supervisor.stop_all()

    assert stubborn.group_is_gone()
    assert stubborn.returncode() == -signal.SIGKILL
    assert time.monotonic() - started < 5
    assert b"stubborn did not stop in time; killing it." in supervisor.output.getvalue()


def test_it_stops_what_a_child_left_behind_in_its_process_group(supervisor):
    parent = supervisor.start("worker", ABANDONER, dict(os.environ))
    wait_for_output(supervisor, b"ready")

    supervisor.stop_all()

    assert parent.group_is_gone()


def test_it_prefixes_each_line_of_output_with_the_process_name(supervisor):
    child = supervisor.start(
        "seed", [sys.executable, "-c", "print('one'); print('two')"], dict(os.environ)
    )
    child.process.wait()
    child.finish_output()

    assert supervisor.output.getvalue() == b"     seed | one\n     seed | two\n"


def test_a_failed_step_is_reported_and_stops_the_start(supervisor):
    ok = supervisor.run_step(
        "migrate", [sys.executable, "-c", "raise SystemExit(1)"], dict(os.environ)
    )

    assert not ok
    assert supervisor.failed == ["migrate"]
    assert b"migrate failed (exit code 1)" in supervisor.output.getvalue()


def test_the_banner_lists_every_demo_login_that_seed_demo_creates(settings):
    text = banner(
        port=8000, debug=True, demo_password="chairside-demo", database="db", broker="queue"
    )

    assert launcher.DEMO_EMAIL_DOMAIN == settings.DEMO_EMAIL_DOMAIN
    assert [mailbox for mailbox, _ in launcher.DEMO_LOGINS] == [
        account.mailbox for account in DEMO_ACCOUNTS
    ]
    for account in DEMO_ACCOUNTS:
        assert f"{account.mailbox}@demo.chairside.test" in text
    assert "http://127.0.0.1:8000/staff/login/" in text
    assert "password: chairside-demo" in text


def test_the_banner_says_there_are_no_demo_logins_without_debug():
    text = banner(port=8001, debug=False, demo_password="x", database="db", broker="queue")

    assert "@demo.chairside.test" not in text
    assert "DEBUG is off, so there are no demo logins" in text
