"""The loads of one page: Locust as a library, headless, in a process of its own (Locust
patches the standard library for gevent, which ``run.py`` should not be).

``python benchmarks/load.py HOST USERS[,USERS...] SECONDS`` with the page in the
environment (see ``locustfile.py``) runs one load per number of users, one after the
other, and prints a JSON object per load: the requests that completed while all its users
were running, their exact p50/p95/mean in ms, requests per second, failures.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent
from locust import events
from locust.env import Environment

from benchmarks.locustfile import PageUser


def main() -> int:
    host, counts, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    for users in (int(n) for n in counts.split(",")):
        print(json.dumps(one_load(host, users, seconds)), flush=True)
    return 0


def one_load(host: str, users: int, seconds: float) -> dict[str, float]:
    times: list[float] = []
    failures = 0
    window = {"start": float("inf")}

    def on_request(response_time: float, exception: Exception | None, **kwargs: object) -> None:
        nonlocal failures
        if time.monotonic() < window["start"]:
            return
        if exception is not None:
            failures += 1
        else:
            times.append(response_time)

    env = Environment(user_classes=[PageUser], events=events, host=host)
    env.events.request.add_listener(on_request)
    runner = env.create_local_runner()
    runner.start(users, spawn_rate=users)
    gevent.sleep(0.1)
    window["start"] = time.monotonic()
    gevent.sleep(seconds)
    elapsed = time.monotonic() - window["start"]
    window["start"] = float("inf")  # what completes while stopping is not counted
    runner.quit()
    env.events.request.remove_listener(on_request)
    ordered = sorted(times)

    def percentile(share: float) -> float:
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]

    return {
        "requests": len(ordered),
        "failures": failures,
        "p50_ms": percentile(0.5),
        "p95_ms": percentile(0.95),
        "mean_ms": statistics.fmean(ordered) if ordered else 0.0,
        "rps": len(ordered) / elapsed if elapsed else 0.0,
    }


if __name__ == "__main__":
    sys.exit(main())
