"""How a burst of online bookings of one time is answered: 100 people, one slot, at once.

Serves Chairside with gunicorn as in production (``clinic.settings``, ``DEBUG=0``) on a
throwaway database with one location, one physician on shift and the online consultation
type. Each simulated booker opens the booking form for the same time (its own CSRF cookie
and form nonce), then all post it at the same instant, each on its own connection, from its
own client address (``X-Forwarded-For`` behind ``TRUSTED_PROXY_COUNT=1``, as behind the
production proxy) and with its own email and mobile, so the rate limits count each booker
once and refuse nobody. Prints how many were booked, refused as taken, or answered
otherwise, and the answer times (p50, p95, slowest). See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

BASE_DIR = Path(__file__).resolve().parent.parent
BENCHMARK_DATABASE = "chairside_booking_burst"
TAKEN = "Sorry, that time was just taken. Please choose another time."
_CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
_NONCE_INPUT = re.compile(r'name="nonce" value="([^"]*)"')


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookers", type=int, default=100, help="simultaneous bookings")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=1, help="threads per gunicorn worker (1: sync workers)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="bursts, each at its own time")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    parser.add_argument("--timeout", type=float, default=120, help="per request (seconds)")
    return parser.parse_args()


@dataclass
class Answer:
    status: int
    seconds: float
    outcome: str  # "booked", "taken" or "other"
    detail: str = ""


def main() -> int:
    options = arguments()
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = BENCHMARK_DATABASE
    say = (lambda *_: None) if options.json else (lambda text: print(text, flush=True))
    say(f"Creating the database {BENCHMARK_DATABASE} (migrations) ...")
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        return run(options, connection, say)
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


def run(options: argparse.Namespace, connection, say) -> int:
    from tests.conftest import database_url

    location, slots = seed(options.rounds)
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = serve(
            options,
            port=port,
            database_url=database_url(connection.settings_dict),
            data_dir=data_dir,
        )
        try:
            wait_until_serving(port, server)
            say(
                f"gunicorn: {options.workers} workers x {options.threads} threads on port "
                f"{port}; {options.bookers} bookers, {options.rounds} round(s)"
            )
            rounds = []
            for number, starts_at in enumerate(slots):
                cpu = ServerCpu(server.pid, connection)
                answers = burst(
                    options, port, location, starts_at, round_number=number, started=cpu.start
                )
                rounds.append(summary(answers, starts_at, location, cpu.seconds()))
                say(describe(rounds[-1], number))
        except BaseException:
            print((Path(data_dir) / "gunicorn.log").read_text()[-3000:], file=sys.stderr)
            raise
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
            wait_for_the_server_to_disconnect(connection)
    result = {
        "bookers": options.bookers,
        "gunicorn_workers": options.workers,
        "gunicorn_threads": options.threads,
        "cpu_count": os.cpu_count(),
        "rounds": rounds,
    }
    if options.json:
        print(json.dumps(result, indent=2))
    ok = all(r["booked"] == 1 and r["taken"] == options.bookers - 1 for r in rounds)
    return 0 if ok else 1


def seed(rounds: int):
    """A location open 08:00-18:00 every day with one physician on shift, and the times
    to race for, one per round: 10:00 local a week from now, then the days after."""
    from django.contrib.auth import get_user_model

    from clinic.roles import Role
    from scheduling.models import AppointmentKind, AppointmentType
    from scheduling.tests.factories import clinic_location

    physician = get_user_model().objects.create_user(
        "physician@clinic.test",
        "not-used-" + "x" * 20,
        full_name="Pat Physician",
        roles=[Role.PHYSICIAN],
    )
    AppointmentType.objects.filter(kind=AppointmentKind.CONSULTATION).update(bookable_online=True)
    location = clinic_location(name="Burst Street", staff=[physician], phone="+13125550100")
    first_day = location.local_now().date() + timedelta(days=7)
    slots = [
        datetime.combine(
            first_day + timedelta(days=number), wall_time(10), tzinfo=location.tz
        ).astimezone(UTC)
        for number in range(rounds)
    ]
    return location, slots


def wait_for_the_server_to_disconnect(connection) -> None:
    """The database can be dropped once the workers' sessions have ended (up to 10 s)."""
    for _attempt in range(100):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            if not cursor.fetchone()[0]:
                return
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(options, *, port: int, database_url: str, data_dir: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "clinic.settings",
        "DATABASE_URL": database_url,
        "DEBUG": "0",
        "SECRET_KEY": "booking-burst-benchmark-only-" + "b" * 40,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "SECURE_COOKIES": "0",
        # The bookers arrive "through" one proxy of ours, which names each one's address.
        "TRUSTED_PROXY_COUNT": "1",
        "CHAIRSIDE_DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
    }
    command = [
        str(Path(sys.executable).parent / "gunicorn"),
        "clinic.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(options.workers),
        "--threads",
        str(options.threads),
        "--log-level",
        "warning",
        "--backlog",
        "2048",
        "--timeout",
        str(int(options.timeout) + 30),
    ]
    # As the production image does at build time (Dockerfile): pages name hashed files.
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=BASE_DIR,
        env=env,
        check=True,
    )
    log = open(Path(data_dir) / "gunicorn.log", "wb")  # noqa: SIM115 (closed with the directory)
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_until_serving(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn stopped (exit code {server.returncode})")
        try:
            status, _headers, _body = request(port, "GET", "/book/")
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer within 60 s")


def request(
    port: int,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> tuple[int, http.client.HTTPMessage, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read().decode()
    finally:
        conn.close()


def burst(
    options, port: int, location, starts_at: datetime, *, round_number: int, started
) -> list[Answer]:
    """Every booker opens the form, then all post it at once (calling ``started`` just
    before); their answers."""
    from django.db import connection as db_connection

    from scheduling.booking.offer import slot_value

    run_id = secrets.token_hex(4)
    path = f"/book/{location.public_id}/details/"
    bookers = options.bookers
    answers: list[Answer | None] = [None] * bookers
    barrier = threading.Barrier(bookers, action=started)

    def booker(index: int) -> None:
        # An address of its own for every booker of every run (10.x.y.z), so the hourly
        # limit per address never refuses a booker of this benchmark.
        address = f"10.{(int(run_id, 16) + round_number) % 256}.{index // 250}.{index % 250 + 1}"
        forwarded = {"X-Forwarded-For": address}
        try:
            status, headers, page = request(
                port,
                "GET",
                f"{path}?start={slot_value(starts_at)}",
                headers=forwarded,
                timeout=options.timeout,
            )
            cookie = SimpleCookie()
            for value in headers.get_all("Set-Cookie") or []:
                cookie.load(value)
            csrf = _CSRF_INPUT.search(page)
            nonce = _NONCE_INPUT.search(page)
            if status != 200 or csrf is None or nonce is None or "csrftoken" not in cookie:
                answers[index] = Answer(status, 0.0, "other", "the form did not open")
                return
            data = {
                "csrfmiddlewaretoken": csrf.group(1),
                "starts_at": slot_value(starts_at),
                "nonce": nonce.group(1),
                "legal_first_name": "Sam",
                "legal_last_name": f"Burst{run_id}{round_number}x{index}",
                "date_of_birth": "1984-03-27",
                "sex_at_birth": "female",
                "email": f"burst-{run_id}-{round_number}-{index}@example.com",
                "mobile": f"+1312{2 + secrets.randbelow(8)}{secrets.randbelow(10**6):06d}",
                "condition": "trd",
                "consent_email": "on",
                "website": "",
            }
            body = urlencode(data).encode()
            post_headers = {
                **forwarded,
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={cookie['csrftoken'].value}",
                "Referer": f"http://127.0.0.1:{port}{path}",
            }
        except Exception as error:  # the form never opened: counted as "other"
            answers[index] = Answer(0, 0.0, "other", repr(error))
            barrier.abort()
            return
        try:
            barrier.wait(timeout=120)
        except threading.BrokenBarrierError:
            answers[index] = answers[index] or Answer(0, 0.0, "other", "the burst never started")
            return
        started = time.perf_counter()
        try:
            status, headers, page = request(
                port, "POST", path, body=body, headers=post_headers, timeout=options.timeout
            )
        except Exception as error:
            answers[index] = Answer(0, time.perf_counter() - started, "other", repr(error))
            return
        seconds = time.perf_counter() - started
        if status == 302 and "/book/confirmed/" in (headers.get("Location") or ""):
            answers[index] = Answer(status, seconds, "booked")
        elif status == 409 and TAKEN in page:
            answers[index] = Answer(status, seconds, "taken")
        else:
            answers[index] = Answer(status, seconds, "other", page[:300])

    def booker_thread(index: int) -> None:
        try:
            booker(index)
        finally:
            # ``started`` runs in whichever booker arrives last, on a connection of its own.
            db_connection.close()

    threads = [threading.Thread(target=booker_thread, args=(index,)) for index in range(bookers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [answer for answer in answers if answer is not None]


class ServerCpu:
    """The CPU time the server spends from ``start()`` on: gunicorn's processes and the
    PostgreSQL backends connected to the benchmark's database (from /proc, so Linux only;
    0 elsewhere). Unlike answer times, it hardly depends on what else the machine runs."""

    def __init__(self, master_pid: int, connection) -> None:
        self.master_pid = master_pid
        self.connection = connection
        self.before: dict[int, float] = {}

    def start(self) -> None:
        self.before = self._now()

    def seconds(self) -> float:
        now = self._now()
        return sum(cpu - self.before.get(pid, 0.0) for pid, cpu in now.items())

    def _now(self) -> dict[int, float]:
        pids = {self.master_pid, *self._children()}
        with self.connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()"
            )
            pids.update(pid for (pid,) in cursor.fetchall())
        return {pid: cpu for pid in pids if (cpu := _cpu_seconds(pid)) is not None}

    def _children(self) -> list[int]:
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.master_pid:
                children.append(int(stat.parent.name))
        return children


def _cpu_seconds(pid: int) -> float | None:
    """User and system CPU seconds of process ``pid`` so far, or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(answers: list[Answer], starts_at: datetime, location, cpu_seconds: float) -> dict:
    from scheduling.models import Appointment

    times = sorted(answer.seconds for answer in answers if answer.status)
    others = [answer for answer in answers if answer.outcome == "other"]
    return {
        "slot": starts_at.isoformat(),
        "booked": sum(1 for answer in answers if answer.outcome == "booked"),
        "taken": sum(1 for answer in answers if answer.outcome == "taken"),
        "other": len(others),
        "other_examples": sorted({f"{a.status}: {a.detail[:200]}" for a in others})[:3],
        "appointments_in_database": Appointment.objects.filter(
            location=location, starts_at=starts_at
        ).count(),
        "p50_seconds": round(statistics.median(times), 3) if times else None,
        "p95_seconds": round(percentile(times, 95), 3) if times else None,
        "slowest_seconds": round(times[-1], 3) if times else None,
        "server_cpu_seconds": round(cpu_seconds, 2),
        "server_cpu_ms_per_booking": round(cpu_seconds * 1000 / len(answers), 1)
        if answers
        else None,
    }


def percentile(ordered: list[float], pct: float) -> float:
    """The nearest-rank percentile of an ordered list."""
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def describe(result: dict, number: int) -> str:
    lines = [
        f"round {number + 1} ({result['slot']}): {result['booked']} booked, "
        f"{result['taken']} refused as taken, {result['other']} other "
        f"({result['appointments_in_database']} in the database); answers p50 "
        f"{result['p50_seconds']} s, p95 {result['p95_seconds']} s, slowest "
        f"{result['slowest_seconds']} s; server CPU {result['server_cpu_seconds']} s "
        f"({result['server_cpu_ms_per_booking']} ms a booking)"
    ]
    lines += [f"  other: {example}" for example in result["other_examples"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
