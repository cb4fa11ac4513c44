"""Items 1–3: the webhook receiver under load (single-event and batched requests, local and S3).

Every server is a subprocess on 127.0.0.1 (benchmarks/receiver_servers.py), pinned to core 0
with `taskset`; the load generator (benchmarks/receiver_load.py) replays pre-signed raw requests
from its own core (the last one), and moto's S3 server runs in its own process on that core
too. Each repetition measures the baseline and the receiver back to back, each server on a fresh
store, and stops every server before the next one starts. The table reports medians; ratios are
between medians of the same invocation.

1. Single-event signed requests (Standard Webhooks), local store: the real `meta-capi-receiver
   serve` against a bare Starlette endpoint under the same uvicorn settings; requests/s and
   p50/p99 at 64 concurrent connections.
2. Batched requests (500 events each), local store, the server on one core: events/s.
3. Single-event requests, S3 staging on moto: events/s against a naive receiver doing one
   put_object per request on the same moto server.

Diagnostics (no target): the same receiver with one conditional put per claim instead of one
group put per group commit ("claim each") for items 1 and 3, the average number of requests per
group commit (from the receiver's /metrics), and the cost of each store operation a request
makes, measured alone. Before each server starts, the file system is synced (untimed), so the
writeback of the previous run's files does not land in the next run's window; and stores are
deleted only at the end of a repetition, with no local-store run starting within 31 s of a
deletion: on a journal-less ext4 (these machines) inode allocation skips every inode freed in the
last 30 s, reading its on-disk record, which made a run that followed a 30k-request clean-up pay
a third of its CPU for the previous run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import boto3

from benchmarks.bench_types import Row
from benchmarks.receiver_traffic import PIXEL, new_secret, raw_event, signed_requests, write_requests

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "1": ("receiver, single-event signed requests, local staging", "requests/s", "≥ 0.5× bare Starlette"),
    "2": ("receiver, batched requests (500 events), local staging, one core", "events/s", "≥ 20,000 events/s"),
    "3": ("receiver, single-event requests, S3 staging (moto)", "events/s", "≥ 10× one PUT per request"),
}
CONCURRENCY = 64
BATCH_CONCURRENCY = 8
BATCH_EVENTS = 500
# Sizes of the timed phases; each is also bounded in time (the load generator stops issuing).
SINGLE_REQUESTS, SINGLE_SECONDS = 30_000, 6.0
BATCH_REQUESTS, BATCH_SECONDS = 240, 6.0
S3_REQUESTS, S3_SECONDS = 6_000, 6.0
# Claims per group in the store-op timing of a group put (about the group size item 1 reaches).
GROUP_CLAIMS = 32
# The receiver part of `make bench` stops repeating past this (the source items follow it).
BUDGET_S = 330.0
SERVER_START_S = 30.0
BUCKET = "receiver-bench"


# ext4 without a journal skips inodes freed less than 30 s ago when it allocates one (fs/ext4/ialloc.c,
# recently_deleted), reading each one's on-disk record: runs that create files wait this long after
# the benchmark's own deletions.
_INODE_REUSE_DELAY_S = 31.0
_last_deletion = [0.0]


def _delete(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    _last_deletion[0] = time.monotonic()


def _settle_deletions() -> None:
    """Wait until the benchmark's last deletion no longer slows inode allocation (untimed)."""
    wait = _last_deletion[0] + _INODE_REUSE_DELAY_S - time.monotonic()
    if _last_deletion[0] and wait > 0:
        time.sleep(wait)


class ReceiverBenchError(RuntimeError):
    """A server did not start, or a load run failed or got non-2xx answers."""


@dataclass
class _Server:
    kind: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path


@dataclass
class _Samples:
    """Per-repetition figures of one contender."""

    rate: list[float] = field(default_factory=list)
    p50: list[float] = field(default_factory=list)
    p99: list[float] = field(default_factory=list)
    group: list[float] = field(default_factory=list)
    server_cpu_ms: list[float] = field(default_factory=list)
    moto_cpu_ms: list[float] = field(default_factory=list)

    def add(self, result: Mapping[str, Any], per_request: int = 1, group: Optional[float] = None) -> None:
        self.rate.append(float(result["requests_per_s"]) * per_request)
        self.p50.append(float(result["p50_ms"]))
        self.p99.append(float(result["p99_ms"]))
        if group is not None:
            self.group.append(group)
        self.server_cpu_ms.append(float(result["server_cpu_ms"]) / per_request)
        if "moto_cpu_ms" in result:
            self.moto_cpu_ms.append(float(result["moto_cpu_ms"]) / per_request)


def _cores() -> tuple[Optional[int], Optional[int]]:
    """(server core, load/moto core), or (None, None) when pinning is not possible."""
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        return None, None
    cores = sorted(os.sched_getaffinity(0))
    return (cores[0], cores[-1]) if len(cores) >= 2 else (None, None)


def _pinned(core: Optional[int]) -> list[str]:
    return ["taskset", "-c", str(core)] if core is not None else []


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _start(kind: str, env: Mapping[str, str], core: Optional[int], logs: Path) -> _Server:
    port = _free_port()
    log = logs / f"{kind}-{port}.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [*_pinned(core), sys.executable, "-m", "benchmarks.receiver_servers", kind, "--port", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env},
            cwd=ROOT,
        )
    server = _Server(kind, process, port, log)
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ReceiverBenchError(f"{kind} exited {process.returncode}: {_tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            time.sleep(0.05)
    _stop(server)
    raise ReceiverBenchError(f"{kind} did not listen on 127.0.0.1:{port} within {SERVER_START_S:.0f}s")


def _stop(server: _Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(2)  # SIGINT: uvicorn shuts down gracefully
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


def _tail(log: Path, size: int = 1500) -> str:
    try:
        return log.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


def _group_size(port: int) -> Optional[float]:
    """Average requests per events object, from the receiver's Prometheus metrics."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    except OSError:
        return None
    found = {
        name: float(value)
        for name, value in re.findall(r"^meta_capi_receiver_group_commit_requests_(sum|count) (\S+)$", text, re.M)
    }
    return found["sum"] / found["count"] if found.get("count") else None


def _load(
    server: _Server, requests: Sequence[bytes], work: Path, core: Optional[int], concurrency: int, seconds: float
) -> dict[str, Any]:
    path = work / f"requests-{uuid.uuid4().hex[:8]}.bin"
    write_requests(path, requests)
    warmup = max(1, len(requests) // 60)
    argv = [
        *_pinned(core),
        sys.executable,
        "-m",
        "benchmarks.receiver_load",
        "--port",
        str(server.port),
        "--requests",
        str(path),
        "--concurrency",
        str(concurrency),
        "--warmup",
        str(warmup),
        "--max-seconds",
        str(seconds),
    ]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=seconds * 2 + 180, cwd=ROOT, check=False)
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise ReceiverBenchError(f"load generator exited {done.returncode}: {done.stderr[-1500:].decode()}")
    result: dict[str, Any] = json.loads(done.stdout)
    bad = {status: n for status, n in result["statuses"].items() if not status.startswith("2")}
    if bad or result["errors"] or not result["requests"]:
        raise ReceiverBenchError(
            f"{server.kind}: answers {result['statuses']}, errors {result['errors']}; server log: {_tail(server.log)}"
        )
    return result


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure_server(
    kind: str,
    env: Mapping[str, str],
    requests: Sequence[bytes],
    work: Path,
    cores: tuple[Optional[int], Optional[int]],
    concurrency: int,
    seconds: float,
    moto: Optional[_Server] = None,
) -> tuple[dict[str, Any], Optional[float]]:
    """Start a server, run the load against it, stop it. The result also holds the CPU time the
    server (and moto, if given) spent per answered request, warm-up included."""
    if not env.get("META_CAPI_STAGING_URL", "s3://").startswith("s3://"):
        _settle_deletions()
    os.sync()  # the previous run's writeback must not land in this run's window
    server = _start(kind, env, cores[0], work)
    try:
        before = _cpu_seconds(server.process.pid), _cpu_seconds(moto.process.pid) if moto else 0.0
        result = _load(server, requests, work, cores[1], concurrency, seconds)
        answered = result["requests"] + result["warmup"]
        result["server_cpu_ms"] = (_cpu_seconds(server.process.pid) - before[0]) * 1000 / answered
        if moto is not None:
            result["moto_cpu_ms"] = (_cpu_seconds(moto.process.pid) - before[1]) * 1000 / answered
        group = _group_size(server.port) if kind.startswith("receiver") else None
    finally:
        _stop(server)
    return result, group


def _staged_events(store_dir: Path) -> int:
    import gzip

    return sum(gzip.decompress(path.read_bytes()).count(b"\n") for path in (store_dir / "events").rglob("*.jsonl.gz"))


def _receiver_env(secret: str, staging_url: str, **extra: str) -> dict[str, str]:
    return {
        "META_CAPI_STAGING_URL": staging_url,
        "META_CAPI_WEBHOOK_SECRETS": secret,
        "META_CAPI_PIXEL_IDS": PIXEL,
        "META_CAPI_DEFAULT_COUNTRY": "us",
        **extra,
    }


def measure(work: Path, runs: int) -> list[Row]:
    """Measure items 1–3 (`runs` repetitions, fewer if the time budget runs out)."""
    work.mkdir(parents=True, exist_ok=True)
    cores = _cores()
    started = time.monotonic()
    secret = new_secret()
    contenders = (
        "bare",
        "ours-local",
        "ours-local-claim-each",
        "ours-batch",
        "naive-s3",
        "ours-s3",
        "ours-s3-claim-each",
    )
    samples = {name: _Samples() for name in contenders}
    errors: list[str] = []
    moto = _start("moto", {}, cores[1], work)
    endpoint = f"http://127.0.0.1:{moto.port}"
    try:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        s3.create_bucket(Bucket=BUCKET)
        s3_env = {
            "META_CAPI_S3_ENDPOINT_URL": endpoint,
            "META_CAPI_S3_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        for run in range(runs):
            elapsed = time.monotonic() - started
            if run and elapsed + elapsed / run > BUDGET_S:
                break  # another repetition would overrun the budget
            try:
                _one_repetition(work / f"run{run}", run, secret, s3_env, cores, samples, moto)
            except (ReceiverBenchError, subprocess.TimeoutExpired) as error:
                errors.append(str(error)[:600])
                break
        op_costs = _store_op_costs(work / "ops", endpoint)
    finally:
        _stop(moto)
    return _rows(samples, op_costs, errors, cores)


def _one_repetition(
    work: Path,
    run: int,
    secret: str,
    s3_env: Mapping[str, str],
    cores: tuple[Optional[int], Optional[int]],
    samples: dict[str, _Samples],
    moto: _Server,
) -> None:
    work.mkdir(parents=True, exist_ok=True)
    # Item 1: the bare endpoint and the receiver (and its claim-each variant), same requests shape.
    result, _ = _measure_server(
        "bare", {}, signed_requests(secret, SINGLE_REQUESTS, 1), work, cores, CONCURRENCY, SINGLE_SECONDS
    )
    samples["bare"].add(result)
    for name, kind in (("ours-local", "receiver"), ("ours-local-claim-each", "receiver-claim-each")):
        store = work / name
        env = _receiver_env(secret, str(store))
        result, group = _measure_server(
            kind, env, signed_requests(secret, SINGLE_REQUESTS, 1), work, cores, CONCURRENCY, SINGLE_SECONDS
        )
        _check_staged(store, result, 1)
        samples[name].add(result, group=group)
    # Item 2: batches of 500 events, the server alone on its core.
    store = work / "ours-batch"
    result, group = _measure_server(
        "receiver",
        _receiver_env(secret, str(store)),
        signed_requests(secret, BATCH_REQUESTS, BATCH_EVENTS),
        work,
        cores,
        BATCH_CONCURRENCY,
        BATCH_SECONDS,
    )
    _check_staged(store, result, BATCH_EVENTS)
    samples["ours-batch"].add(result, BATCH_EVENTS, group)
    # Item 3: S3 on moto, the naive receiver and ours on the same server, fresh prefixes.
    env = {**s3_env, "NAIVE_S3_ENDPOINT": s3_env["META_CAPI_S3_ENDPOINT_URL"], "NAIVE_S3_BUCKET": BUCKET}
    result, _ = _measure_server(
        "naive", env, signed_requests(secret, S3_REQUESTS, 1), work, cores, CONCURRENCY, S3_SECONDS, moto
    )
    samples["naive-s3"].add(result)
    for name, kind in (("ours-s3", "receiver"), ("ours-s3-claim-each", "receiver-claim-each")):
        env = {**s3_env, **_receiver_env(secret, f"s3://{BUCKET}/run{run}-{name}")}
        result, group = _measure_server(
            kind, env, signed_requests(secret, S3_REQUESTS, 1), work, cores, CONCURRENCY, S3_SECONDS, moto
        )
        samples[name].add(result, group=group)
    _delete(work)


def _check_staged(store: Path, result: Mapping[str, Any], per_request: int) -> None:
    """Every answered request's events are in the store (warm-up included): durability, not a 200 alone."""
    answered = (result["requests"] + result["warmup"]) * per_request
    staged = _staged_events(store)
    if staged != answered:
        raise ReceiverBenchError(f"{store.name}: {answered} events answered 200 but {staged} staged")


def _store_op_costs(work: Path, endpoint: str) -> dict[str, dict[str, float]]:
    """Median ms of each store operation a single-event request makes, one at a time, per store."""
    import random

    from source_meta_capi.receiver.pipeline import RequestContext, parse_body, process

    try:
        from source_meta_capi.staging import idempotency
    except ImportError:  # staging format 2 has no claims: only the object commit is timed
        idempotency = None
    from source_meta_capi.staging.keys import ObjectKind
    from source_meta_capi.staging.local_store import LocalFolderStore
    from source_meta_capi.staging.store import ObjectStore, S3Options
    from source_meta_capi.staging.writer import StagingWriter

    work.mkdir(parents=True, exist_ok=True)
    _settle_deletions()
    local = LocalFolderStore(str(work / "local"))
    local.ensure_exists()
    stores: dict[str, tuple[ObjectStore, int]] = {"local": (local, 300)}
    from source_meta_capi.staging.s3_store import S3Store

    options = S3Options(
        region="us-east-1", endpoint_url=endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    stores["s3"] = (S3Store(BUCKET, "ops", options), 150)
    rng = random.Random(3)
    body = {"data": [raw_event(rng, "ops", 0, int(time.time()))]}
    intake = process(
        parse_body(json.dumps(body).encode(), "application/json"),
        RequestContext(PIXEL, "r", "b", "standard_webhooks"),
        time.time(),
        default_country="us",
        salt=None,
    )
    record = intake.accepted[0].record
    # Absent before claims were grouped (the benchmark also runs against older trees).
    ClaimRequest: Any = getattr(idempotency, "ClaimRequest", None)
    costs: dict[str, dict[str, float]] = {}
    for name, (store, count) in stores.items():
        ledger: Any = idempotency.IdempotencyLedger(store, 30.0) if idempotency is not None else None
        writer = StagingWriter(store, commit_deadline_s=30.0)
        keys = [uuid.uuid4().hex for _ in range(count)]

        def lookup(i: int, ledger: Any = ledger, keys: list[str] = keys) -> object:
            return ledger.lookup(PIXEL, keys[i])

        def claim(i: int, ledger: Any = ledger, keys: list[str] = keys) -> object:
            return ledger.claim(PIXEL, keys[i], 1, "stem", {"status": 200})

        def commit(i: int, writer: StagingWriter = writer) -> object:
            return writer.commit(writer.plan(ObjectKind.EVENTS, PIXEL), [record])

        group_keys = [[uuid.uuid4().hex for _ in range(GROUP_CLAIMS)] for _ in range(count // 10)]

        def claim_group(i: int, ledger: Any = ledger, group_keys: list[list[str]] = group_keys) -> object:
            requests = [ClaimRequest(key, 1, {"status": 200}) for key in group_keys[i % len(group_keys)]]
            return ledger.claim_many(PIXEL, requests, "stem")

        operations: dict[str, Callable[[int], object]] = {"commit": commit}
        if ledger is not None:
            operations.update(lookup=lookup, claim=claim)
        if hasattr(ledger, "claim_many"):
            operations["claim_group"] = claim_group
        costs[name] = {}
        for operation, call in operations.items():
            timings = []
            # A group claim is timed per claim, over fresh keys (one call per 10 single ops).
            calls, per = (count // 10, GROUP_CLAIMS) if operation == "claim_group" else (count, 1)
            for i in range(calls):
                began = time.perf_counter()
                call(i)
                timings.append((time.perf_counter() - began) / per)
            costs[name][operation] = statistics.median(timings) * 1000
    shutil.rmtree(work, ignore_errors=True)
    return costs


def _median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _ratio(value: Optional[float], baseline: Optional[float]) -> Optional[float]:
    return value / baseline if value is not None and baseline else None


def _rows(
    samples: Mapping[str, _Samples],
    op_costs: Mapping[str, Mapping[str, float]],
    errors: Sequence[str],
    cores: tuple[Optional[int], Optional[int]],
) -> list[Row]:
    m = {name: _median(s.rate) for name, s in samples.items()}
    n = {name: len(s.rate) for name, s in samples.items()}
    p50 = {name: _median(s.p50) for name, s in samples.items()}
    p99 = {name: _median(s.p99) for name, s in samples.items()}
    group = {name: _median(s.group) for name, s in samples.items()}
    pinning = f"server on core {cores[0]}, load generator on core {cores[1]}" if cores[0] is not None else "not pinned"
    failed = f"; FAILED: {errors[0]}" if errors else ""

    def met(ratio: Optional[float], threshold: float) -> Optional[bool]:
        return None if ratio is None else ratio >= threshold

    def detail(name: str) -> str:
        """Group size and CPU per event (median of runs): where the time goes."""
        parts = [f"{group[name]:.1f} requests per events object"] if group[name] is not None else []
        server_cpu, moto_cpu = _median(samples[name].server_cpu_ms), _median(samples[name].moto_cpu_ms)
        if server_cpu is not None:
            parts.append(f"server CPU {server_cpu * 1000:,.0f} µs/event")
        if moto_cpu is not None:
            parts.append(f"moto CPU {moto_cpu * 1000:,.0f} µs/event")
        return ", ".join(parts)

    what1, unit1, target1 = TARGETS["1"]
    what2, unit2, target2 = TARGETS["2"]
    what3, unit3, target3 = TARGETS["3"]
    r1 = _ratio(m["ours-local"], m["bare"])
    r3 = _ratio(m["ours-s3"], m["naive-s3"])
    rows = [
        Row(
            "1",
            f"(c) bare Starlette endpoint (reads the body, answers), {CONCURRENCY} connections",
            m["bare"],
            "requests/s",
            n["bare"],
            note=f"p50 {_ms(p50['bare'])}, p99 {_ms(p99['bare'])}; {detail('bare')}; same uvicorn settings as `serve`; {pinning}{failed}",
        ),
        Row(
            "1",
            what1,
            m["ours-local"],
            unit1,
            n["ours-local"],
            "(c)",
            r1,
            target1,
            met(r1, 0.5),
            note=f"p50 {_ms(p50['ours-local'])}, p99 {_ms(p99['ours-local'])} at {CONCURRENCY} connections; "
            f"{detail('ours-local')}; every answered event found staged",
        ),
        Row(
            "1",
            "p50 latency, receiver vs (c)",
            p50["ours-local"],
            "ms",
            n["ours-local"],
            "(c)",
            _ratio(p50["ours-local"], p50["bare"]),
        ),
        Row(
            "1",
            "p99 latency, receiver vs (c)",
            p99["ours-local"],
            "ms",
            n["ours-local"],
            "(c)",
            _ratio(p99["ours-local"], p99["bare"]),
        ),
        Row(
            "1",
            "diagnostic: receiver with one conditional put per claim (no group put), local",
            m["ours-local-claim-each"],
            "requests/s",
            n["ours-local-claim-each"],
            "(c)",
            _ratio(m["ours-local-claim-each"], m["bare"]),
            note=f"{detail('ours-local-claim-each')}",
        ),
        Row(
            "2",
            what2,
            m["ours-batch"],
            unit2,
            n["ours-batch"],
            target=target2,
            met=None if m["ours-batch"] is None else m["ours-batch"] >= 20_000,
            note=f"{BATCH_CONCURRENCY} connections, server pinned to one core (its I/O threads too); "
            f"p50 {_ms(p50['ours-batch'])} per request; {detail('ours-batch')}",
        ),
        Row(
            "3",
            "(d) naive receiver: one put_object per request, nothing validated, moto",
            m["naive-s3"],
            "events/s",
            n["naive-s3"],
            note=f"p50 {_ms(p50['naive-s3'])}, p99 {_ms(p99['naive-s3'])}; {detail('naive-s3')}; puts in a 40-thread pool; "
            "moto and the load generator share the load core",
        ),
        Row(
            "3",
            what3,
            m["ours-s3"],
            unit3,
            n["ours-s3"],
            "(d)",
            r3,
            target3,
            met(r3, 10.0),
            note=f"p50 {_ms(p50['ours-s3'])}, p99 {_ms(p99['ours-s3'])}; {detail('ours-s3')}",
        ),
        Row(
            "3",
            "diagnostic: receiver with one conditional put per claim (no group put), S3",
            m["ours-s3-claim-each"],
            "events/s",
            n["ours-s3-claim-each"],
            "(d)",
            _ratio(m["ours-s3-claim-each"], m["naive-s3"]),
            note=f"{detail('ours-s3-claim-each')}",
        ),
    ]
    for store, label in (("local", "local store (fsync)"), ("s3", "S3 (moto)")):
        costs = op_costs.get(store, {})
        for operation, text in (
            ("lookup", "idempotency lookup (LIST)"),
            ("claim", "idempotency claim (conditional PUT)"),
            ("claim_group", f"idempotency claim in a group of {GROUP_CLAIMS} (group put), per claim"),
            ("commit", "1-event object commit (conditional PUT)"),
        ):
            rows.append(Row("1–3", f"store op alone, {label}: {text}", costs.get(operation), "ms", 1))
    return rows


def _ms(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f} ms"


def available() -> bool:
    return (ROOT / "source_meta_capi" / "receiver" / "app.py").exists()
