"""Launch one receiver process for the reliability tests: `python -m integration_tests.reliability.receiver_main`.

The same app `meta-capi-receiver serve` runs (settings from META_CAPI_* variables, JSON logs on
stderr, uvicorn with uvloop/httptools), on a socket bound here to 127.0.0.1:0 whose port is
printed as the first stdout line (`PORT <n>`), plus test-only faults from RELIABILITY_* variables:

- RELIABILITY_CLOCK_SKEW_S: this "host"'s clock is off by that many seconds (arrival stamps,
  signature and event-time checks all use it);
- RELIABILITY_COMMIT_DELAY_S: each events-object put waits up to that long (uniformly) first;
- RELIABILITY_CRASH: `point=probability,…` or `point@n` (the n-th time only): the process
  SIGKILLs itself there, after appending the point to RELIABILITY_CRASH_LOG. Points:
  `before_letters` / `after_letters` (around a group's dead-letters object: after it, the
  letters are durable and the events object is not written), `before_events` / `after_events`
  (around the events object's put: after it, the events are durable and nobody was answered).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Iterator, Optional

import uvicorn

from source_meta_capi.receiver import json_logging
from source_meta_capi.receiver import runtime as runtime_module
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.settings import load_settings
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import ObjectStore


class FaultyStore:
    """Delegates to a real store, adding commit delays and self-SIGKILLs at chosen points."""

    def __init__(self, inner: ObjectStore, delay_s: float, crash: str, crash_log: Optional[str]) -> None:
        self._inner = inner
        self._delay_s = delay_s
        self._probability: dict[str, float] = {}
        self._nth: dict[str, int] = {}
        for item in filter(None, crash.split(",")):
            if "@" in item:
                point, _, nth = item.partition("@")
                self._nth[point] = int(nth)
            else:
                point, _, probability = item.partition("=")
                self._probability[point] = float(probability)
        self._seen: dict[str, int] = {}
        self._crash_log = crash_log
        self._rng = random.Random()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self._inner.url

    def _maybe_crash(self, point: str) -> None:
        with self._lock:
            self._seen[point] = seen = self._seen.get(point, 0) + 1
        if seen == self._nth.get(point) or self._rng.random() < self._probability.get(point, 0.0):
            if self._crash_log:
                with open(self._crash_log, "a", encoding="utf-8") as handle:
                    handle.write(point + "\n")
            os.kill(os.getpid(), signal.SIGKILL)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        area = {"events/": "events", "dead_letters/": "letters"}.get(key[: key.find("/") + 1])
        if area == "events" and self._delay_s:
            time.sleep(self._rng.uniform(0, self._delay_s))
        if area:
            self._maybe_crash(f"before_{area}")
        written = self._inner.put_if_absent(key, data)
        if area:
            self._maybe_crash(f"after_{area}")
        return written

    def get(self, key: str) -> bytes:
        return self._inner.get(key)

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return self._inner.list_keys(prefix, start_after)

    def list_children(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        return self._inner.list_children(prefix, start_after)

    def check(self) -> None:
        self._inner.check()


def main() -> None:
    env = os.environ
    skew = float(env.get("RELIABILITY_CLOCK_SKEW_S", "0") or 0)
    settings = load_settings(env)
    json_logging.configure(settings.log_level)
    store = open_store(settings.staging_url, settings.s3)
    if isinstance(store, LocalFolderStore):
        store.ensure_exists()
    faulty = FaultyStore(
        store,
        float(env.get("RELIABILITY_COMMIT_DELAY_S", "0") or 0),
        env.get("RELIABILITY_CRASH", ""),
        env.get("RELIABILITY_CRASH_LOG"),
    )
    runtime = runtime_module.build_runtime(
        settings,
        store=faulty,
        wall_clock=lambda: time.time() + skew,
        utc_clock=lambda: datetime.now(timezone.utc) + timedelta(seconds=skew),
    )
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    sys.stdout.write(f"PORT {listener.getsockname()[1]}\n")
    sys.stdout.flush()
    config = uvicorn.Config(
        create_app(runtime=runtime),
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=5,
        backlog=2048,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
