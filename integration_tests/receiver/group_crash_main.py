"""A receiver process for the group-claim crash test: `python -m integration_tests.receiver.group_crash_main`.

The real app and the real local store with its group puts (the reliability suite's fault
injector wraps the store without them, so its crashes exercise one claim per request), plus a
self-SIGKILL at `GROUP_CRASH=point@n` (the n-th time the point is reached), the point appended to
`GROUP_CRASH_LOG` first:
- `before_group_sync`: a group's claims are linked (visible) but not yet synced;
- `after_group_sync`: the claims are durable, the events object is not written;
- `after_events`: the events object is durable, nobody was answered.
Prints `PORT <n>` once listening on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from typing import Any, Sequence

import uvicorn

from source_meta_capi.receiver import json_logging
from source_meta_capi.receiver import runtime as runtime_module
from source_meta_capi.receiver.app import create_app
from source_meta_capi.receiver.settings import load_settings
from source_meta_capi.staging import local_store
from source_meta_capi.staging.store import StoreError


class CrashingStore(local_store.LocalFolderStore):
    """The local store, SIGKILLing its own process at the armed point."""

    def __init__(self, root: str, crash: str, crash_log: str) -> None:
        super().__init__(root)
        point, _, nth = crash.partition("@")
        self._point, self._nth = point, int(nth or 0)
        self._seen = 0
        self._log = crash_log
        self._lock = threading.Lock()

    def maybe_crash(self, point: str) -> None:
        if point != self._point:
            return
        with self._lock:
            self._seen += 1
            fire = self._seen == self._nth
        if fire:
            with open(self._log, "a", encoding="utf-8") as handle:
                handle.write(point + "\n")
            os.kill(os.getpid(), signal.SIGKILL)

    def put_many_if_absent(self, items: Sequence[tuple[str, bytes]]) -> list[bool | StoreError]:
        results = super().put_many_if_absent(items)
        self.maybe_crash("after_group_sync")
        return results

    def put_if_absent(self, key: str, data: bytes) -> bool:
        written = super().put_if_absent(key, data)
        if key.startswith("events/"):
            self.maybe_crash("after_events")
        return written


def main() -> None:
    env = os.environ
    runtime_module.CLOCK_SKEW_MARGIN_S = float(env.get("RELIABILITY_SKEW_MARGIN_S", "30"))
    settings = load_settings(env)
    json_logging.configure(settings.log_level)
    store = CrashingStore(settings.staging_url, env.get("GROUP_CRASH", ""), env["GROUP_CRASH_LOG"])
    store.ensure_exists()
    sync_group = local_store._sync_group

    def crashing_sync(*args: Any) -> None:
        store.maybe_crash("before_group_sync")
        sync_group(*args)

    local_store._sync_group = crashing_sync
    runtime = runtime_module.build_runtime(settings, store=store)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    sys.stdout.write(f"PORT {listener.getsockname()[1]}\n")
    sys.stdout.flush()
    config = uvicorn.Config(create_app(runtime=runtime), log_config=None, access_log=False, lifespan="on")
    uvicorn.Server(config).run(sockets=[listener])


if __name__ == "__main__":
    main()
