"""Launch one receiver process for the reliability tests: `python -m integration_tests.reliability.receiver_main`.

The same app `meta-capi-receiver serve` runs (settings from META_CAPI_* variables, JSON logs on
stderr, uvicorn with uvloop/httptools), on a socket bound here to 127.0.0.1:0 whose port is
printed as the first stdout line (`PORT <n>`), plus test-only faults from RELIABILITY_* variables:

- RELIABILITY_CLOCK_SKEW_S: this "host"'s clock is off by that many seconds (arrival stamps,
  claims, signature and event-time checks all use it);
- RELIABILITY_COMMIT_DELAY_S: each events-object put waits up to that long (uniformly) first;
- RELIABILITY_CRASH: `point=probability,…` or `point@n` (the n-th time only): the process
  SIGKILLs itself there, after appending the point to RELIABILITY_CRASH_LOG. Points:
  `before_claims` (a group commit's claims are about to be put, as one group put),
  `after_claims` (the group put returned: the claims are durable, the events object is not
  written, so the retries meet abandoned attempts), `before_events` / `after_events` (around the
  events object's put: after it, the events are durable and nobody was answered), `after_claim`
  (a single claim put: a request whose events were all rejected claims alone);
- RELIABILITY_SKEW_MARGIN_S: the ledger's in-flight margin (30 s in production) shortened so
  retries of crashed requests do not wait half a minute in tests.
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
from typing import Iterator, Optional, Sequence

import uvicorn

from source_meta_capi.receiver import json_logging
from source_meta_capi.receiver import runtime as runtime_module
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.settings import load_settings
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import GroupPutStore, StoreError


class FaultyStore:
    """Delegates to a real store, adding commit delays and self-SIGKILLs at chosen points.

    It has the store's group put, so the receiver claims as in production (one group put per
    group commit); the one-put-per-claim fallback of stores without it is left to the unit tests.
    """

    def __init__(self, inner: GroupPutStore, delay_s: float, crash: str, crash_log: Optional[str]) -> None:
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
        events = key.startswith("events/")
        if events:
            if self._delay_s:
                time.sleep(self._rng.uniform(0, self._delay_s))
            self._maybe_crash("before_events")
        written = self._inner.put_if_absent(key, data)
        if events:
            self._maybe_crash("after_events")
        elif key.startswith("idempotency/"):
            self._maybe_crash("after_claim")
        return written

    def put_many_if_absent(self, items: Sequence[tuple[str, bytes]]) -> list[bool | StoreError]:
        # Only a group commit's claims are put as a group; like claim puts, they are not delayed.
        self._maybe_crash("before_claims")
        results = self._inner.put_many_if_absent(items)
        self._maybe_crash("after_claims")
        return results

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
    margin = env.get("RELIABILITY_SKEW_MARGIN_S")
    if margin:
        runtime_module.CLOCK_SKEW_MARGIN_S = float(margin)
    skew = float(env.get("RELIABILITY_CLOCK_SKEW_S", "0") or 0)
    settings = load_settings(env)
    json_logging.configure(settings.log_level)
    store = open_store(settings.staging_url, settings.s3)
    if isinstance(store, LocalFolderStore):
        store.ensure_exists()
    if not isinstance(store, GroupPutStore):
        raise SystemExit(f"{type(store).__name__} has no group put: the suite would test the fallback claim path")
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
    # The scenarios' claims must take the production path (group puts), not the fallback.
    if not runtime.ledger.claims_in_groups:
        raise SystemExit("the receiver's ledger does not claim in groups through FaultyStore")
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
