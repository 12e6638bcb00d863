"""The Locust user of ``benchmarks/run.py``: one page, again and again, with no pause.

``run.py`` starts ``locust --headless`` with this file once per page and number of
connections, and says what to load through the environment: ``BENCH_PATH``,
``BENCH_COOKIE`` (a signed-in session's cookie header, second factor passed; empty for a
public page) and ``BENCH_HEADERS`` (JSON, e.g. the htmx header of a fragment). Requests go
as if through the TLS-terminating proxy of production (``X-Forwarded-Proto: https``).
"""

from __future__ import annotations

import json
import os

from locust import FastHttpUser, constant, task

PATH = os.environ.get("BENCH_PATH", "/")
HEADERS = {"X-Forwarded-Proto": "https", **json.loads(os.environ.get("BENCH_HEADERS") or "{}")}
if os.environ.get("BENCH_COOKIE"):
    HEADERS["Cookie"] = os.environ["BENCH_COOKIE"]


class PageUser(FastHttpUser):
    wait_time = constant(0)
    network_timeout = 120.0
    connection_timeout = 120.0

    @task
    def page(self) -> None:
        with self.client.get(PATH, headers=HEADERS, name=PATH, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
