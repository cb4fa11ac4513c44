"""Scenario 3: the S3 endpoint fails for a while (a fault-injecting proxy in front of moto's real
S3 server: 503 SlowDown, 500, connection resets, slow answers, and answers lost after the write
landed). The receiver answers 503 + Retry-After, never 2xx without a durable write, and recovers;
afterwards every event is staged exactly once and emitted by the source exactly once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from integration_tests.reliability import audit
from integration_tests.reliability.conftest import variants
from integration_tests.reliability.fault_proxy import FaultProxy
from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.sender import send_all
from integration_tests.reliability.source_runs import push_config, sync_until_quiet
from integration_tests.reliability.traffic import (
    OTHER_PIXEL,
    PIXEL,
    Answer,
    Ledger,
    PlannedRequest,
    assert_all_and_only,
    assert_exactly_once,
    plan_requests,
)
from integration_tests.reliability.traffic import staged_identities as staged_in
from integration_tests.support.s3 import s3_staging_config
from source_meta_capi.staging.open_store import open_store, s3_options_from_mapping
from source_meta_capi.staging.reader import StagingReader
from source_meta_capi.staging.store import ObjectStore

FAULTS = (("error_503", 0.0), ("error_500", 0.0), ("reset", 0.0), ("slow", 0.3), ("blackhole", 1.0))


@dataclass(frozen=True)
class Scale:
    requests: int
    events_per_request: int
    phase_s: float
    cycles: int
    concurrency: int


class DurabilityCheck:
    """On every 2xx, the batch must already be in the store (read directly, not via the proxy)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self.reader = StagingReader(store)
        self.batches: set[str] = set()
        self.read_keys: set[str] = set()
        self.checked = 0
        self.violations: list[str] = []
        self.unavailable: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, planned: PlannedRequest, answer: Answer) -> None:
        if answer.status == 503:
            error = answer.body["error"]  # type: ignore[index]
            with self._lock:
                self.unavailable[error["code"]] += 1
            assert answer.headers.get("retry-after", "").isdigit()
            return
        if answer.status != 200:
            return
        batch_id = answer.body["batch_id"]  # type: ignore[index]
        with self._lock:
            self.checked += 1
            if batch_id not in self.batches:
                self._refresh(planned.pixel_id)
            if batch_id not in self.batches:
                self.violations.append(batch_id)

    def _refresh(self, pixel: str) -> None:
        for key in self.store.list_keys(f"events/pixel_id={pixel}/"):
            if key not in self.read_keys:
                self.read_keys.add(key)
                self.batches.update(line.record["batch_id"] for line in self.reader.read(key) if line.record)


@pytest.mark.parametrize(
    "scale",
    variants(fast=Scale(200, 2, 1.3, 1, 6), full=Scale(900, 10, 2.5, 5, 8)),
)
def test_given_store_faults_when_receiving_then_503_with_retry_after_never_2xx_without_write_and_recovers(
    tmp_path: Path, scale: Scale, figures, moto_endpoint: str, s3_bucket: str
) -> None:
    staging: dict[str, Any] = s3_staging_config(s3_bucket, moto_endpoint)
    direct = open_store(staging["bucket_url"], s3_options_from_mapping(staging))
    audit.register_store(direct)
    proxy = FaultProxy(moto_endpoint).start()
    receiver = ReceiverProcess(
        receiver_env(
            s3_bucket,
            META_CAPI_S3_ENDPOINT_URL=proxy.url,
            META_CAPI_S3_REGION="us-east-1",
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            META_CAPI_COMMIT_DEADLINE_S="2",
        ),
        tmp_path / "receiver.log",
    ).start()
    planned = plan_requests(
        scale.requests, scale.events_per_request, run="storefault", invalid_every=9, pixels=(PIXEL, OTHER_PIXEL)
    )
    ledger = Ledger(planned)
    check = DurabilityCheck(direct)
    readiness: Counter[str] = Counter()
    sender = threading.Thread(
        target=send_all,
        args=(planned, lambda: receiver.url, ledger),
        kwargs={"concurrency": scale.concurrency, "budget_s": 900, "on_answer": check},
        daemon=True,
    )
    started = time.monotonic()
    try:
        sender.start()
        time.sleep(scale.phase_s)
        for _ in range(scale.cycles):
            for mode, delay in FAULTS:
                proxy.delay_s, proxy.mode = delay, mode
                time.sleep(scale.phase_s)
                status = requests.get(f"{receiver.url}/readyz", timeout=10).status_code
                readiness[f"{mode}:{status}"] += 1
            proxy.mode = "pass"
            time.sleep(scale.phase_s)
        sender.join(timeout=900)
        assert not sender.is_alive()
        readiness[f"recovered:{requests.get(f'{receiver.url}/readyz', timeout=10).status_code}"] += 1
    finally:
        proxy.mode = "pass"
        receiver.stop()
        proxy.stop()
    seconds = time.monotonic() - started

    assert not check.violations, f"2xx answered before the batch was durable: {check.violations[:5]}"
    assert readiness["recovered:200"] == 1
    answers = ledger.check_answers()
    expected = ledger.expected_identities()
    assert_all_and_only(staged_in(direct), expected, "staged")
    emitted, _, syncs = sync_until_quiet(push_config(staging))
    assert_exactly_once(emitted, expected, "emitted by the source")
    assert ledger.attempts["503"] > 0, "the faults never reached a caller: the scenario proved nothing"
    figures(
        "3_store_faults",
        {
            "requests": len(planned),
            **answers,
            "fault_phases": [m for m, _ in FAULTS],
            "phase_seconds": scale.phase_s,
            "cycles": scale.cycles,
            "proxied_s3_requests_by_mode": dict(sorted(proxy.counts.items())),
            "attempts_by_outcome": dict(sorted(ledger.attempts.items())),
            "answers_503_by_code": dict(check.unavailable),
            "readyz_by_phase": dict(sorted(readiness.items())),
            "answers_2xx_checked_durable": check.checked,
            "answers_2xx_without_durable_write": len(check.violations),
            "source_syncs": syncs,
            "events_emitted": sum(emitted.values()),
            "seconds": round(seconds, 1),
        },
    )
