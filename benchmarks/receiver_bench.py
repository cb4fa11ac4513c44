"""Items 1–3: the webhook receiver under load (single-event and batched requests, local and S3).

Every server is a subprocess on 127.0.0.1 (benchmarks/receiver_servers.py), pinned to core 0
with `taskset`; the load generator (benchmarks/receiver_load.py) replays pre-signed raw requests
from its own core (the last one), and the S3 server (benchmarks/s3_server.py: SeaweedFS, or moto
with `--s3-server moto`) runs in its own process on that core too. Each repetition measures the
contenders back to back, each server on a fresh store, and stops every server before the next
one starts. The table reports medians; ratios are between medians of the same invocation.

1. Single-event signed requests (Standard Webhooks), local store: the real `meta-capi-receiver
   serve` against a bare Starlette endpoint under the same uvicorn settings; requests/s and
   p50/p99 at 64 concurrent connections.
2. Batched requests (500 events each), local store, the server on one core: events/s.
3. Single-event requests at 32 concurrent senders: the S3 PUTs the receiver makes per request
   (counted by the S3 server), and its requests/s and p99 staging on S3 against the same
   receiver on the local store; a naive receiver doing one put_object per request is the
   reference for both (1 PUT per request by construction, counted too). Diagnostics: the same
   without the group commit's rejoin wait, and open-loop traffic (requests sent on a fixed
   schedule whatever the answers, as independent senders do) on S3 with and without the wait:
   its latency cost where the senders it waits for do not come back.

Diagnostics (no target): the average number of requests per group commit (from the receiver's
/metrics), CPU per request of the server and of the S3 server, and the cost of a 1-event object
commit, measured alone. Before each server starts, the file system is synced (untimed), so the
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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from benchmarks.bench_types import Row
from benchmarks.receiver_traffic import PIXEL, new_secret, raw_event, signed_requests, write_requests
from benchmarks.s3_server import RequestCounts, S3Server, cpu_seconds, s3_server

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "1": ("receiver, single-event signed requests, local staging", "requests/s", "≥ 0.5× bare Starlette"),
    "2": ("receiver, batched requests (500 events), local staging, one core", "events/s", "≥ 20,000 events/s"),
}
CONCURRENCY = 64
# Item 3: issue 16's figure is the PUTs per request with 32 concurrent single-event senders.
S3_CONCURRENCY = 32
MAX_PUTS_PER_REQUEST = 0.05
MIN_S3_VS_LOCAL = 0.9
# The diagnostic run turns the group commit's rejoin wait off. Without it, closed-loop senders
# split into two halves that alternate: the requests answered by one commit come back while the
# next group is already being written, so a group holds ~32 / 2 and a commit costs 1/16 PUT per
# request; the diagnostic shows what the wait buys.
# Open-loop diagnostic: a steady rate a quarter of item 3's closed-loop throughput, over enough
# connections that a request never waits for a free one.
OPEN_LOOP_RATE = 1000.0
OPEN_LOOP_CONNECTIONS = 64
BATCH_CONCURRENCY = 8
BATCH_EVENTS = 500
# Sizes of the timed phases; each is also bounded in time (the load generator stops issuing).
SINGLE_REQUESTS, SINGLE_SECONDS = 30_000, 6.0
BATCH_REQUESTS, BATCH_SECONDS = 240, 6.0
S3_REQUESTS, S3_SECONDS = 6_000, 6.0
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
    s3_cpu_ms: list[float] = field(default_factory=list)
    # S3 requests by type over every answered request (warm-up included), one per repetition.
    s3_requests: list[tuple[RequestCounts, int]] = field(default_factory=list)

    def add(self, result: Mapping[str, Any], per_request: int = 1, group: Optional[float] = None) -> None:
        self.rate.append(float(result["requests_per_s"]) * per_request)
        self.p50.append(float(result["p50_ms"]))
        self.p99.append(float(result["p99_ms"]))
        if group is not None:
            self.group.append(group)
        self.server_cpu_ms.append(float(result["server_cpu_ms"]) / per_request)
        if "s3_cpu_ms" in result:
            self.s3_cpu_ms.append(float(result["s3_cpu_ms"]) / per_request)
        if result.get("s3_requests") is not None:
            self.s3_requests.append((result["s3_requests"], result["requests"] + result["warmup"]))

    def per_request(self, kind: str) -> Optional[float]:
        """Median over repetitions of `kind` S3 requests (PUT, GET, LIST) per answered request."""
        values = [counts[kind] / answered for counts, answered in self.s3_requests if answered]
        return statistics.median(values) if values else None


def _cores() -> tuple[Optional[int], Optional[int]]:
    """(server core, load/S3 server core), or (None, None) when pinning is not possible."""
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
    server: _Server,
    requests: Sequence[bytes],
    work: Path,
    core: Optional[int],
    concurrency: int,
    seconds: float,
    rate: float = 0.0,
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
        "--rate",
        str(rate),
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


def _measure_server(
    kind: str,
    env: Mapping[str, str],
    requests: Sequence[bytes],
    work: Path,
    cores: tuple[Optional[int], Optional[int]],
    concurrency: int,
    seconds: float,
    s3: Optional[S3Server] = None,
    rate: float = 0.0,
) -> tuple[dict[str, Any], Optional[float]]:
    """Start a server, run the load against it, stop it. The result also holds the CPU time the
    server (and the S3 server, if given) spent per answered request, warm-up included, and the S3
    requests it made in that time (None where the S3 server cannot count them)."""
    if not env.get("META_CAPI_STAGING_URL", "s3://").startswith("s3://"):
        _settle_deletions()
    os.sync()  # the previous run's writeback must not land in this run's window
    server = _start(kind, env, cores[0], work)
    try:
        before = cpu_seconds(server.process.pid), cpu_seconds(s3.pid) if s3 else 0.0
        counted = s3.request_counts(BUCKET) if s3 else None
        result = _load(server, requests, work, cores[1], concurrency, seconds, rate)
        answered = result["requests"] + result["warmup"]
        result["server_cpu_ms"] = (cpu_seconds(server.process.pid) - before[0]) * 1000 / answered
        if s3 is not None:
            result["s3_cpu_ms"] = (cpu_seconds(s3.pid) - before[1]) * 1000 / answered
            after = s3.request_counts(BUCKET)
            result["s3_requests"] = after - counted if after is not None and counted is not None else None
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


def measure(work: Path, runs: int, s3_kind: str = "seaweedfs") -> list[Row]:
    """Measure items 1–3 (`runs` repetitions, fewer if the time budget runs out)."""
    work.mkdir(parents=True, exist_ok=True)
    cores = _cores()
    started = time.monotonic()
    secret = new_secret()
    contenders = (
        "bare",
        "ours-local",
        "ours-batch",
        "ours-local-32",
        "naive-s3",
        "ours-s3",
        "ours-s3-no-rejoin",
        "ours-s3-open",
        "ours-s3-open-no-rejoin",
    )
    samples = {name: _Samples() for name in contenders}
    errors: list[str] = []
    with s3_server(s3_kind, work, cores[1]) as s3:
        s3.create_bucket(BUCKET)
        for run in range(runs):
            elapsed = time.monotonic() - started
            if run and elapsed + elapsed / run > BUDGET_S:
                break  # another repetition would overrun the budget
            try:
                _one_repetition(work / f"run{run}", run, secret, s3, cores, samples)
            except (ReceiverBenchError, subprocess.TimeoutExpired) as error:
                errors.append(str(error)[:600])
                break
        op_costs = _store_op_costs(work / "ops", s3)
    return _rows(samples, op_costs, errors, cores, s3.label)


def _one_repetition(
    work: Path,
    run: int,
    secret: str,
    s3: S3Server,
    cores: tuple[Optional[int], Optional[int]],
    samples: dict[str, _Samples],
) -> None:
    work.mkdir(parents=True, exist_ok=True)
    # Item 1: the bare endpoint and the receiver, same requests shape.
    result, _ = _measure_server(
        "bare", {}, signed_requests(secret, SINGLE_REQUESTS, 1), work, cores, CONCURRENCY, SINGLE_SECONDS
    )
    samples["bare"].add(result)
    store = work / "ours-local"
    result, group = _measure_server(
        "receiver",
        _receiver_env(secret, str(store)),
        signed_requests(secret, SINGLE_REQUESTS, 1),
        work,
        cores,
        CONCURRENCY,
        SINGLE_SECONDS,
    )
    _check_staged(store, result, 1)
    samples["ours-local"].add(result, group=group)
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
    # Item 3: 32 senders; the receiver on the local store, then the naive receiver and ours on
    # the same S3 server (fresh prefixes), the S3 server counting their requests.
    store = work / "ours-local-32"
    result, group = _measure_server(
        "receiver",
        _receiver_env(secret, str(store)),
        signed_requests(secret, S3_REQUESTS, 1),
        work,
        cores,
        S3_CONCURRENCY,
        S3_SECONDS,
    )
    _check_staged(store, result, 1)
    samples["ours-local-32"].add(result, group=group)
    env = {
        **s3.env(),
        "NAIVE_S3_ENDPOINT": s3.endpoint,
        "NAIVE_S3_BUCKET": BUCKET,
        "NAIVE_S3_PREFIX": f"run{run}-naive",
    }
    result, _ = _measure_server(
        "naive", env, signed_requests(secret, S3_REQUESTS, 1), work, cores, S3_CONCURRENCY, S3_SECONDS, s3
    )
    samples["naive-s3"].add(result)
    # Ours on S3: closed loop with the defaults and with the rejoin wait off, then open loop with
    # and without it (each on its own prefix, every answered event read back).
    open_requests = int(OPEN_LOOP_RATE * S3_SECONDS * 1.1)
    no_rejoin = {"META_CAPI_GROUP_COMMIT_REJOIN_MS": "0"}
    s3_runs: tuple[tuple[str, dict[str, str], int, int, float], ...] = (
        ("ours-s3", {}, S3_REQUESTS, S3_CONCURRENCY, 0.0),
        ("ours-s3-no-rejoin", no_rejoin, S3_REQUESTS, S3_CONCURRENCY, 0.0),
        ("ours-s3-open", {}, open_requests, OPEN_LOOP_CONNECTIONS, OPEN_LOOP_RATE),
        ("ours-s3-open-no-rejoin", no_rejoin, open_requests, OPEN_LOOP_CONNECTIONS, OPEN_LOOP_RATE),
    )
    for name, extra, count, connections, rate in s3_runs:
        prefix = f"run{run}-{name}"
        env = {**s3.env(), **_receiver_env(secret, f"s3://{BUCKET}/{prefix}", **extra)}
        result, group = _measure_server(
            "receiver", env, signed_requests(secret, count, 1), work, cores, connections, S3_SECONDS, s3, rate=rate
        )
        _check_staged_s3(s3, prefix, result)
        samples[name].add(result, group=group)
    _delete(work)


def _check_staged(store: Path, result: Mapping[str, Any], per_request: int) -> None:
    """Every answered request's events are in the store (warm-up included): durability, not a 200 alone."""
    answered = (result["requests"] + result["warmup"]) * per_request
    staged = _staged_events(store)
    if staged != answered:
        raise ReceiverBenchError(f"{store.name}: {answered} events answered 200 but {staged} staged")


def _check_staged_s3(s3: S3Server, prefix: str, result: Mapping[str, Any]) -> None:
    """The same durability check on S3 (after the request counts were read: it makes its own)."""
    import gzip

    client = s3.client()
    staged = 0
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{prefix}/events/"):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            staged += gzip.decompress(body).count(b"\n")
    answered = result["requests"] + result["warmup"]
    if staged != answered:
        raise ReceiverBenchError(f"{prefix} on S3: {answered} events answered 200 but {staged} staged")


def _store_op_costs(work: Path, s3: S3Server) -> dict[str, float]:
    """Median ms of a 1-event object commit (the one write of a group commit), one at a time, per store."""
    import random

    from source_meta_capi.receiver.pipeline import RequestContext, parse_body, process
    from source_meta_capi.staging.keys import ObjectKind
    from source_meta_capi.staging.local_store import LocalFolderStore
    from source_meta_capi.staging.s3_store import S3Store
    from source_meta_capi.staging.store import ObjectStore, S3Options
    from source_meta_capi.staging.writer import StagingWriter

    work.mkdir(parents=True, exist_ok=True)
    _settle_deletions()
    local = LocalFolderStore(str(work / "local"))
    local.ensure_exists()
    options = S3Options(
        region="us-east-1",
        endpoint_url=s3.endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stores: dict[str, tuple[ObjectStore, int]] = {"local": (local, 300), "s3": (S3Store(BUCKET, "ops", options), 150)}
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
    costs: dict[str, float] = {}
    for name, (store, count) in stores.items():
        writer = StagingWriter(store, commit_deadline_s=30.0)
        timings = []
        for _ in range(count):
            began = time.perf_counter()
            writer.commit(writer.plan(ObjectKind.EVENTS, PIXEL), [record])
            timings.append(time.perf_counter() - began)
        costs[name] = statistics.median(timings) * 1000
    shutil.rmtree(work, ignore_errors=True)
    return costs


def _median(values: Sequence[float]) -> Optional[float]:
    return statistics.median(values) if values else None


def _ratio(value: Optional[float], baseline: Optional[float]) -> Optional[float]:
    return value / baseline if value is not None and baseline else None


def _rows(
    samples: Mapping[str, _Samples],
    op_costs: Mapping[str, float],
    errors: Sequence[str],
    cores: tuple[Optional[int], Optional[int]],
    s3_label: str,
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
        server_cpu, s3_cpu = _median(samples[name].server_cpu_ms), _median(samples[name].s3_cpu_ms)
        if server_cpu is not None:
            parts.append(f"server CPU {server_cpu * 1000:,.0f} µs/event")
        if s3_cpu is not None:
            parts.append(f"{s3_label} CPU {s3_cpu * 1000:,.0f} µs/event")
        return ", ".join(parts)

    def billable(name: str) -> str:
        """Every S3 request type the contender made, per request (= per event here)."""
        kinds = sorted({k for counts, _ in samples[name].s3_requests for k in counts.by_type} | {"PUT", "GET", "LIST"})
        per = {kind: samples[name].per_request(kind) for kind in kinds}
        if all(value is None for value in per.values()):
            return f"S3 requests not counted ({s3_label} has no request counter)"
        return "S3 requests per request (= per event): " + ", ".join(
            f"{kind} {value:.3f}" for kind, value in per.items() if value is not None
        )

    what1, unit1, target1 = TARGETS["1"]
    what2, unit2, target2 = TARGETS["2"]
    r1 = _ratio(m["ours-local"], m["bare"])
    r3 = _ratio(m["ours-s3"], m["ours-local-32"])
    puts = {name: samples[name].per_request("PUT") for name in ("ours-s3", "naive-s3", "ours-s3-no-rejoin")}
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
            f"(e) receiver, single-event requests, local store, {S3_CONCURRENCY} connections",
            m["ours-local-32"],
            "requests/s",
            n["ours-local-32"],
            note=f"p50 {_ms(p50['ours-local-32'])}, p99 {_ms(p99['ours-local-32'])}; {detail('ours-local-32')}; "
            "every answered event found staged",
        ),
        Row(
            "3",
            f"receiver, single-event requests, S3 staging ({s3_label}), {S3_CONCURRENCY} connections",
            m["ours-s3"],
            "requests/s",
            n["ours-s3"],
            "(e)",
            r3,
            f"≥ {MIN_S3_VS_LOCAL}× (e)",
            met(r3, MIN_S3_VS_LOCAL),
            note=f"p50 {_ms(p50['ours-s3'])}, p99 {_ms(p99['ours-s3'])}; {detail('ours-s3')}; "
            f"every answered event found staged; the {s3_label} server and the load generator share the load core",
        ),
        Row(
            "3",
            "p99 latency, receiver on S3 vs (e)",
            p99["ours-s3"],
            "ms",
            n["ours-s3"],
            "(e)",
            _ratio(p99["ours-s3"], p99["ours-local-32"]),
        ),
        Row(
            "3",
            f"S3 PUTs per single-event request, receiver, {S3_CONCURRENCY} concurrent senders",
            puts["ours-s3"],
            "PUTs/request",
            len(samples["ours-s3"].s3_requests),
            "(d)",
            _ratio(puts["ours-s3"], puts["naive-s3"]),
            f"≤ {MAX_PUTS_PER_REQUEST}",
            None if puts["ours-s3"] is None else puts["ours-s3"] <= MAX_PUTS_PER_REQUEST,
            note=f"{billable('ours-s3')}; counted by the S3 server, warm-up included",
        ),
        Row(
            "3",
            "diagnostic: the same on S3 without the rejoin wait (META_CAPI_GROUP_COMMIT_REJOIN_MS=0)",
            puts["ours-s3-no-rejoin"],
            "PUTs/request",
            len(samples["ours-s3-no-rejoin"].s3_requests),
            "(d)",
            _ratio(puts["ours-s3-no-rejoin"], puts["naive-s3"]),
            note=f"{m['ours-s3-no-rejoin'] or 0:,.0f} requests/s ({_ratio(m['ours-s3-no-rejoin'], m['ours-local-32']) or 0:.2f}× (e)), "
            f"p50 {_ms(p50['ours-s3-no-rejoin'])}, p99 {_ms(p99['ours-s3-no-rejoin'])}; {detail('ours-s3-no-rejoin')}; "
            f"{billable('ours-s3-no-rejoin')}",
        ),
        *(
            Row(
                "3",
                f"diagnostic: open loop, {OPEN_LOOP_RATE:,.0f} single-event requests/s on S3, {what}: p99 latency",
                p99[name],
                "ms",
                n[name],
                note=f"p50 {_ms(p50[name])}, p99 {_ms(p99[name])} (from when each request was due); "
                f"{m[name] or 0:,.0f} requests/s answered; {detail(name)}; {billable(name)}",
            )
            for name, what in (
                ("ours-s3-open", "rejoin wait on (default)"),
                ("ours-s3-open-no-rejoin", "rejoin wait off"),
            )
        ),
        Row(
            "3",
            f"(d) naive receiver (one put_object per request, nothing validated), {S3_CONCURRENCY} connections",
            m["naive-s3"],
            "requests/s",
            n["naive-s3"],
            note=f"p50 {_ms(p50['naive-s3'])}, p99 {_ms(p99['naive-s3'])}; {detail('naive-s3')}; "
            f"{billable('naive-s3')}; puts in a 40-thread pool",
        ),
    ]
    for store, label in (("local", "local store (fsync)"), ("s3", f"S3 ({s3_label})")):
        rows.append(
            Row(
                "1–3", f"store op alone, {label}: 1-event object commit (conditional PUT)", op_costs.get(store), "ms", 1
            )
        )
    return rows


def _ms(value: Optional[float]) -> str:
    return "—" if value is None else f"{value:.2f} ms"


def available() -> bool:
    return (ROOT / "source_meta_capi" / "receiver" / "app.py").exists()
