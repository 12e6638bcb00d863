"""How fast each key page is at clinic-chain scale: seed, serve as in production, load, tell.

``make bench`` (or ``.venv/bin/python benchmarks/run.py``) does, in order:

1. seeds the chain's data into a database of its own (``benchmarks/seed.py``), or reuses
   one seeded earlier today with the same ``--scale`` and ``--seed``;
2. collects the static files and starts gunicorn as production does (3 sync workers,
   ``DEBUG=0``) with ``benchmarks.settings``: production's settings plus one bare view
   behind the same middleware and sign-in, and a header saying how many queries each
   request ran;
3. signs in the benchmark's staff (second factor passed) and loads each page with Locust,
   headless: first one connection (latency: p50, p95), then ``--users`` connections
   (throughput: requests per second), ``--duration`` seconds each;
4. prints the table and writes it as JSON (``benchmarks/results/<time>.json`` or
   ``--json``).

Needs only Python and the project's virtualenv: without ``DATABASE_URL`` the embedded
PostgreSQL under ``.data/`` is used; without ``REDIS_URL`` the cache is the file cache under
``.data/`` that every worker shares, as with ``make run``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks import database  # noqa: E402

BIN = Path(sys.executable).parent
WORKERS = 3
QUERIES_HEADER = "X-Bench-Queries"


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1 = a chain; 0.01 = smoke")
    parser.add_argument("--seed", type=int, default=1, help="random seed of the data")
    parser.add_argument("--duration", type=float, default=20, help="seconds per page and load")
    parser.add_argument("--users", type=int, default=20, help="connections for the throughput")
    parser.add_argument("--pages", default="", help="comma-separated page keys (default: all)")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="reuse the seeded database of this scale and seed even if seeded on another day",
    )
    parser.add_argument("--reseed", action="store_true", help="seed again even if one exists")
    parser.add_argument("--database", default="", help="database name (default from --scale)")
    parser.add_argument(
        "--template",
        default="",
        help="copy this seeded database (same scale and seed) instead of seeding, e.g. "
        "chairside_bench_template",
    )
    parser.add_argument("--json", default="", help="where to write the results")
    parser.add_argument("--port", type=int, default=0, help="gunicorn's port (default: free)")
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {text}", flush=True)


def database_name(options: argparse.Namespace) -> str:
    if options.database:
        return options.database
    scale = f"{options.scale:g}".replace(".", "_")
    return f"chairside_bench_s{scale}_seed{options.seed}"


def ensure_seeded(server: str, name: str, options: argparse.Namespace) -> dict[str, Any]:
    """The seeded database's marker, seeding it first if there is none to reuse."""
    found = database.marker(server, name)
    today = datetime.now(UTC).date().isoformat()
    if (
        found
        and not options.reseed
        and found.get("scale") == options.scale
        and found.get("seed") == options.seed
        and (options.reuse_db or str(found.get("seeded_at", "")).startswith(today))
    ):
        say(f"reusing {name} (seeded {found['seeded_at']} in {found.get('seconds')} s)")
        return found
    if options.template:
        source = database.marker(server, options.template)
        if source is None:
            # CREATE DATABASE ... TEMPLATE does not copy the comment: the seeder's own template
            # says what it holds in the file next to it, or the caller vouches with --reuse-db.
            source = {"scale": options.scale, "seed": options.seed, "seeded_at": "unknown"}
        if source.get("scale") != options.scale or source.get("seed") != options.seed:
            raise SystemExit(
                f"{options.template} holds scale {source.get('scale')}, seed "
                f"{source.get('seed')}: not what was asked."
            )
        say(f"copying {options.template} into {name} ...")
        if database.exists(server, name):
            database.drop(server, name)
        database.create(server, name, template=options.template)
        facts = {k: v for k, v in source.items() if k != "chairside_bench"}
        database.mark(server, name, **facts)
        return database.marker(server, name) or {}
    say(f"seeding {name} at scale {options.scale}, seed {options.seed} ...")
    command = [
        sys.executable,
        str(BASE_DIR / "benchmarks" / "seed.py"),
        "--database",
        name,
        "--scale",
        str(options.scale),
        "--seed",
        str(options.seed),
        "--replace",
    ]
    subprocess.run(command, check=True, env={**os.environ, "DATABASE_URL": server})
    return database.marker(server, name) or {}


def server_environment(url: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("BENCH_SECRET_KEY") or secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(BASE_DIR),
    }
    return env


def static_files_stale() -> bool:
    """Whether ``collectstatic`` must run: no manifest yet, or a static file or the installed
    packages (the virtualenv's stamp) are newer than it."""
    data_dir = Path(os.environ.get("CHAIRSIDE_DATA_DIR", str(BASE_DIR / ".data")))
    manifest = data_dir / "bench-static" / "staticfiles.json"  # benchmarks.settings
    if not manifest.exists():
        return True
    collected = manifest.stat().st_mtime
    sources = [path for path in (BASE_DIR / "static").rglob("*") if path.is_file()]
    sources += [BASE_DIR / ".venv" / ".installed", BASE_DIR / ".venv" / ".bench-installed"]
    return any(path.exists() and path.stat().st_mtime > collected for path in sources)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fetch(url: str, headers: dict[str, str], timeout: float = 120) -> tuple[int, bytes, Any]:
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 (our own server)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


class Gunicorn:
    def __init__(self, env: dict[str, str], port: int, log: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "clinic.wsgi",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "300",
                "--forwarded-allow-ips",
                "127.0.0.1",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"gunicorn exited ({self.process.returncode}); see {self.log.name}"
                )
            try:
                fetch(self.url + "/bench/bare/", {}, timeout=5)
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer in {seconds:.0f} s; see {self.log.name}")

    def wait_idle(self, seconds: float = 180) -> None:
        """Until requests left queued by the last load are done: a cheap one answers fast
        several times in a row."""
        deadline = time.monotonic() + seconds
        quick = 0
        while time.monotonic() < deadline and quick < 3 * WORKERS:
            started = time.monotonic()
            with contextlib.suppress(OSError):
                fetch(self.url + "/bench/bare/", {}, timeout=seconds)
            quick = quick + 1 if time.monotonic() - started < 0.05 else 0
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def load(
    host: str, path: str, cookie: str, headers: dict[str, str], users: list[int], seconds: float
) -> list[dict[str, float]]:
    """Locust on one page, ``seconds`` with each number of ``users`` in turn
    (``benchmarks/load.py``)."""
    env = {
        **os.environ,
        "BENCH_PATH": path,
        "BENCH_COOKIE": cookie,
        "BENCH_HEADERS": json.dumps(headers),
    }
    command = [sys.executable, str(BASE_DIR / "benchmarks" / "load.py"), host]
    command += [",".join(map(str, users)), str(seconds)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    started = time.monotonic()
    server = database.server_url()
    name = database_name(options)
    if name in database.PROTECTED:
        raise SystemExit(f"{name} is shared; name another database.")
    seeded = ensure_seeded(server, name, options)
    url = database.with_database(server, name)
    env = server_environment(url)
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DEBUG")})
    os.environ.update({k: env[k] for k in ("SECRET_KEY", "ALLOWED_HOSTS")})

    if static_files_stale():
        say("collecting static files ...")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
            cwd=BASE_DIR,
            env=env,
            check=True,
        )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from outcomes.facts import outcome_facts_refresh

    # A reused or copied database may be older than the code: bring it to the code's schema.
    say("migrating ...")
    call_command("migrate", verbosity=0)
    # The worker's beat keeps the outcomes figures counted; count them once as it would.
    say("counting the outcomes figures ...")
    outcome_facts_refresh(unless_counted=True)

    from benchmarks.auth import session_cookie
    from benchmarks.pages import key_pages

    pages = key_pages()
    wanted = {key.strip() for key in options.pages.split(",") if key.strip()}
    if wanted:
        unknown = wanted - {page.key for page in pages}
        if unknown:
            known = ", ".join(page.key for page in pages)
            raise SystemExit(f"Unknown pages: {', '.join(sorted(unknown))}. Known: {known}")
        pages = [page for page in pages if page.key in wanted or page.key == "bare"]
    cookies = {
        role: f"{settings.SESSION_COOKIE_NAME}={session_cookie(role)}"
        for role in sorted({page.role for page in pages if page.role})
    }
    counts = {}
    with connection.cursor() as cursor:
        for name_of_table in (
            "patients_patient",
            "scheduling_appointment",
            "infusions_infusionsession",
            "infusions_vitalsreading",
            "patients_questionnaireresponse",
            "clinic_outboxmessage",
        ):
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE relname = %s", [name_of_table]
            )
            counts[name_of_table] = cursor.fetchone()[0]
    connection.close()

    load_start = list(os.getloadavg())
    port = options.port or free_port()
    work = Path(tempfile.mkdtemp(prefix="chairside-bench-"))
    gunicorn = Gunicorn(env, port, work / "gunicorn.log")
    results: list[dict[str, Any]] = []
    try:
        gunicorn.wait_ready()
        say(f"gunicorn ({WORKERS} workers) on {gunicorn.url}; {len(pages)} pages")
        # The bare view first and last: the yardstick, and a check that the machine did not
        # change under the run.
        order = [p for p in pages if p.key == "bare"] + [p for p in pages if p.key != "bare"]
        for page in order:
            headers = {"X-Forwarded-Proto": "https", **page.headers}
            cookie = cookies.get(page.role, "")
            if cookie:
                headers["Cookie"] = cookie
            status, body, response_headers = fetch(gunicorn.url + page.path, headers)
            if status != 200:
                raise SystemExit(f"{page.path} answered {status} (see {work / 'gunicorn.log'})")
            # Every worker renders the page once before it is measured (sync workers take
            # one request each, so a burst reaches them all). Queries: the fewest any of
            # these requests ran (the session's activity is written at most once a minute,
            # two more queries then); size: the last one's.
            url = gunicorn.url + page.path
            with ThreadPoolExecutor(2 * WORKERS) as pool:
                warm = list(pool.map(fetch, [url] * (2 * WORKERS), [headers] * (2 * WORKERS)))
            status, body, response_headers = fetch(url, headers)
            query_counts = [
                int(h.get(QUERIES_HEADER) or 0) for _, _, h in [*warm, (0, b"", response_headers)]
            ]
            queries = min(query_counts)
            one, many = load(
                gunicorn.url, page.path, cookie, page.headers, [1, options.users], options.duration
            )
            gunicorn.wait_idle()
            result = {
                "page": page.key,
                "label": page.label,
                "path": page.path,
                "role": page.role,
                "p50_ms": one["p50_ms"],
                "p95_ms": one["p95_ms"],
                "rps_1": one["rps"],
                "requests_1": one["requests"],
                "rps_many": many["rps"],
                "p50_ms_many": many["p50_ms"],
                "requests_many": many["requests"],
                "failures": one["failures"] + many["failures"],
                "queries": queries,
                "bytes": len(body),
            }
            results.append(result)
            say(
                f"{page.key:20} p50 {one['p50_ms']:7.0f} ms  p95 {one['p95_ms']:7.0f} ms  "
                f"{many['rps']:7.1f} req/s at {options.users}  {queries:3d} queries  "
                f"{len(body) / 1024:7.1f} KB"
            )
    finally:
        gunicorn.stop()
    bare = next((r for r in results if r["page"] == "bare"), None)
    for result in results:
        result["share_of_bare"] = (
            result["rps_many"] / bare["rps_many"] if bare and bare["rps_many"] else None
        )
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": {"start": load_start, "end": list(os.getloadavg())},
        "cores": os.cpu_count(),
        "scale": options.scale,
        "seed": options.seed,
        "seeded": {k: v for k, v in seeded.items() if k != "counts"},
        "rows": counts,
        "duration_s": options.duration,
        "users": options.users,
        "workers": WORKERS,
        "commit": _commit(),
        "seconds": round(time.monotonic() - started),
        "pages": results,
    }
    print()
    print(table(report))
    path = Path(options.json) if options.json else _default_json_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nWritten to {path} ({report['seconds']} s in all; logs in {work})")
    failed = [r["page"] for r in results if r["failures"]]
    if failed:
        print(f"Some requests failed on: {', '.join(failed)} (see {work / 'gunicorn.log'})")
        return 1
    return 0


def table(report: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    users = report["users"]
    lines = [
        f"Scale {report['scale']} (seed {report['seed']}), {report['cores']} cores, "
        f"gunicorn {report['workers']} workers, {report['duration_s']:g} s per page and load, "
        f"commit {report['commit']}; load average {report['load_average']['start'][0]:.1f} "
        f"at the start, {report['load_average']['end'][0]:.1f} at the end",
        "",
        f"| page | p50 (1 conn) | p95 (1 conn) | req/s at {users} | share of bare | "
        "queries | size |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["pages"]:
        share = r.get("share_of_bare")
        lines.append(
            f"| {r['label']} | {_ms(r['p50_ms'])} | {_ms(r['p95_ms'])} | "
            f"{r['rps_many']:.1f} | {'' if share is None else f'{share:.1%}'} | "
            f"{r['queries']} | {_size(r['bytes'])} |"
        )
    return "\n".join(lines)


def _ms(value: float) -> str:
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _default_json_path() -> Path:
    return BASE_DIR / "benchmarks" / "results" / f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"


if __name__ == "__main__":
    sys.exit(main())
