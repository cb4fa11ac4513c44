"""Receiver processes for the reliability tests: started on 127.0.0.1, SIGKILLed or stopped,
their JSON logs appended to a file and their metrics kept for the privacy audit."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Optional

import requests

from integration_tests.reliability import audit
from integration_tests.reliability.traffic import SECRET

REPO = Path(__file__).resolve().parents[2]


def receiver_env(staging_url: str, **overrides: str) -> dict[str, str]:
    """A receiver environment: signed requests only, forwarding off, short commit deadline."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("META_CAPI_", "RELIABILITY_"))}
    env.update(
        {
            "META_CAPI_STAGING_URL": staging_url,
            "META_CAPI_WEBHOOK_SECRETS": SECRET,
            "META_CAPI_FORWARD_MODE": "off",
            "META_CAPI_COMMIT_DEADLINE_S": "2",
            "META_CAPI_LOG_LEVEL": "INFO",
            "PYTHONPATH": str(REPO),
        }
    )
    env.update(overrides)
    return env


class ReceiverProcess:
    """One `receiver_main` process; `url` changes when it is restarted."""

    # The module run with `python -m`; subclasses launch their own variant of the receiver.
    launcher = "integration_tests.reliability.receiver_main"

    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.url = ""
        self.starts = 0
        self.kills = 0
        audit.register_log(log_path)

    def start_env(self) -> dict[str, str]:
        """The environment of the next start (a subclass may vary it per start)."""
        return self.env

    def start(self, timeout_s: float = 20.0) -> ReceiverProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", self.launcher],
                env=self.start_env(),
                cwd=REPO,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout_s)
        line = self.process.stdout.readline().decode() if ready else ""
        if not line.startswith("PORT "):
            self.kill()
            raise RuntimeError(f"receiver did not start (see {self.log_path})")
        # Published only once healthy, so senders never reach a process that is still starting.
        url = f"http://127.0.0.1:{int(line.split()[1])}"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.kill()
                raise RuntimeError(f"receiver did not answer /healthz (see {self.log_path})")
            time.sleep(0.02)
        self.url = url
        self.starts += 1
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL (no graceful shutdown, nothing flushed)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.kills += 1
        self._reap()

    def save_metrics(self) -> str:
        """Fetch /metrics (kept for the privacy audit)."""
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        audit.register_text(f"metrics of {self.url}", text)
        return text

    def stop(self) -> None:
        """Keep the metrics, then SIGTERM (graceful), SIGKILL if it hangs."""
        if self.alive():
            try:
                self.save_metrics()
            except requests.RequestException:
                pass
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._reap()

    def rss_kb(self) -> int:
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _reap(self) -> None:
        if self.process is not None:
            try:
                self.process.wait(timeout=15)
            finally:
                if self.process.stdout is not None:
                    self.process.stdout.close()
