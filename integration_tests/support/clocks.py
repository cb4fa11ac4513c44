"""Clocks for tests: time that moves only when the code under test waits."""

from __future__ import annotations

import threading


class FakeClock:
    """Monotonic time that advances only when someone sleeps: backoff is recorded, not waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        with self._lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds
