"""What each key page costs in CPU, in process: Python and the PostgreSQL backend.

``make bench`` measures answer times and throughput through gunicorn, which depend on what
else the machine runs. This measures what a request *costs*, which hardly does: each page is
asked for ``--repeat`` times with Django's test client against a seeded database (the
benchmark's settings, ``DEBUG=0``), and for each request it reads this process's CPU time and
that of the PostgreSQL backend serving it (from ``/proc``, so PostgreSQL must run on this
machine). It prints the median of each, and the queries a request ran.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/chairside_bench_copy \\
        REDIS_URL=redis://127.0.0.1:6379/3 .venv/bin/python benchmarks/cpu.py --pages chart,session

``--profile KEY`` prints the functions one page spends its Python time in (cProfile).

At 20 connections on a 2-core machine, a page reaches 20 % of the bare view's requests per
second when a request costs about five times the bare view's CPU: compare the ``total``
column with the bare view's.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def backend_cpu(pid: int) -> float:
    """CPU seconds (user + system) the PostgreSQL backend ``pid`` has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", default="", help="page keys, comma-separated (all)")
    parser.add_argument("--repeat", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--profile", default="", help="a page key to profile with cProfile")
    parser.add_argument("--gc", default="", choices=["", "freeze", "off"])
    options = parser.parse_args(argv)

    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")
    os.environ.setdefault("DEBUG", "0")
    os.environ.setdefault("SECRET_KEY", "benchmarks-cpu-not-a-secret-" + "x" * 30)
    os.environ.setdefault("ALLOWED_HOSTS", "testserver")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.run import static_files_stale

    if static_files_stale():  # {% static %} needs the manifest, as in production
        call_command("collectstatic", interactive=False, verbosity=0)

    import gc

    from benchmarks.auth import authenticated_client
    from benchmarks.middleware import QUERIES_HEADER
    from benchmarks.pages import key_pages

    if options.gc == "freeze":
        gc.freeze()
    elif options.gc == "off":
        gc.disable()
    wanted = {key for key in options.pages.split(",") if key}
    pages = [page for page in key_pages() if not wanted or page.key in wanted or page.key == "bare"]
    clients = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]

    columns = ("python", "postgres", "total", "wall", "queries", "size")
    print(f"{'page':<22}" + "".join(f" {name:>8}" for name in columns))
    for page in pages:
        if page.role not in clients:
            from django.test import Client

            clients[page.role] = authenticated_client(page.role) if page.role else Client()
        client = clients[page.role]
        headers = {
            "HTTP_" + name.upper().replace("-", "_"): value for name, value in page.headers.items()
        }

        def ask(page=page, client=client, headers=headers):
            response = client.get(page.path, secure=True, **headers)
            if response.status_code != 200:
                raise SystemExit(f"{page.key}: {response.status_code} for {page.path}")
            return response

        for _ in range(options.warmup):
            ask()
        python, postgres, wall = [], [], []
        for _ in range(options.repeat):
            cpu0, pg0, wall0 = time.process_time(), backend_cpu(backend), time.perf_counter()
            response = ask()
            wall.append(time.perf_counter() - wall0)
            python.append(time.process_time() - cpu0)
            postgres.append(backend_cpu(backend) - pg0)
        py, pg = statistics.median(python), statistics.mean(postgres)
        print(
            f"{page.key:<22} {py * 1000:>6.1f}ms {pg * 1000:>7.1f}ms {(py + pg) * 1000:>6.1f}ms "
            f"{statistics.median(wall) * 1000:>6.1f}ms {response.get(QUERIES_HEADER, '?'):>8} "
            f"{len(response.content) // 1024:>6}KB",
            flush=True,
        )
        if page.key == options.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(10):
                ask()
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(
                int(os.environ.get("PROFILE_ROWS", "45"))
            )
            pstats.Stats(profiler).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
