"""Items 4 and 5: reading staged events (local store and S3 on loopback), and an incremental
sync that finds nothing new.

Every contender runs as a real subprocess writing the Airbyte protocol to a pipe that the parent
only counts; peak RSS comes from the kernel. Contenders of one repetition run back to back, and
each ratio is taken between medians measured in this same invocation. The S3 server
(benchmarks/s3_server.py, SeaweedFS by default) counts the requests each S3 contender makes.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import orjson

from benchmarks.bench_types import Row
from benchmarks.dataset import PLAIN_PREFIX, DatasetSpec, StagedDataset, mirror_to_s3, stage_local
from benchmarks.measure import RunResult, median, run_counted
from benchmarks.s3_server import RequestCounts, S3Server, cpu_seconds

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SOURCE_S3_VERSION = "4.14.2"
S3_KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
BUCKET = "capi-bench"
S3_PREFIX = "staging"
RUN_TIMEOUT_S = 300.0
S3_CONTENDERS = ("ours-s3", "source-s3", "nothing-new-ours-s3")


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---- airbyte-source-s3 in its own virtualenv -------------------------------------------------
def ensure_source_s3(venv: Path) -> tuple[Optional[Path], str]:
    """Install airbyte-source-s3 into `venv` (once). Returns its entry point, or None and why not.

    Pinned: pip's resolver walks back from the newest release to 4.14.2 on Python 3.11 (the
    releases in between declare dependencies no published version satisfies), which takes
    minutes; the pin makes a fresh install direct.
    """
    entry = venv / "bin" / "source-s3"
    stamp = venv / f".installed-{SOURCE_S3_VERSION}"
    if entry.exists() and stamp.exists():
        return entry, ""
    log(f"installing airbyte-source-s3=={SOURCE_S3_VERSION} into {venv.relative_to(ROOT)} (once; a few minutes)")
    python = (
        "python3.11" if subprocess.run(["which", "python3.11"], capture_output=True).returncode == 0 else sys.executable
    )
    steps = [
        [python, "-m", "venv", str(venv)],
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", f"airbyte-source-s3=={SOURCE_S3_VERSION}"],
    ]
    for step in steps:
        try:
            done = subprocess.run(step, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            return None, f"`{' '.join(step[-3:])}` took more than 15 minutes"
        if done.returncode != 0:
            lines = [line for line in (done.stderr + done.stdout).splitlines() if "is ignored" not in line]
            return None, f"`{' '.join(step[-3:])}` failed: {' / '.join(lines[-3:])}"
    stamp.touch()
    return entry, ""


# ---- the data --------------------------------------------------------------------------------
@dataclass
class SourceBench:
    """Everything the source benchmarks share: the staged data, the S3 endpoint, the configs."""

    work: Path
    dataset: StagedDataset
    s3: S3Server
    source_s3: Optional[Path]
    source_s3_problem: str
    stage_seconds: float
    mirror_seconds: float
    files: dict[str, Path] = field(default_factory=dict)
    # S3 requests of each run of an S3 contender (name -> one RequestCounts per run), with the
    # records that run emitted.
    requests: dict[str, list[tuple[RequestCounts, int]]] = field(default_factory=dict)
    # CPU seconds the S3 server spent during each run of an S3 contender, with its records.
    server_cpu: dict[str, list[tuple[float, int]]] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return self.s3.endpoint

    def run(self, name: str, argv: list[str]) -> RunResult:
        """Run one contender; an S3 contender's requests are counted by the server around it."""
        counting = name in S3_CONTENDERS
        before = self.s3.request_counts(BUCKET) if counting else None
        cpu = cpu_seconds(self.s3.pid)
        result = run_counted(argv, RUN_TIMEOUT_S, cwd=ROOT)
        if counting:
            self.server_cpu.setdefault(name, []).append((cpu_seconds(self.s3.pid) - cpu, result.records))
        after = self.s3.request_counts(BUCKET) if counting else None
        if before is not None and after is not None:
            self.requests.setdefault(name, []).append((after - before, result.records))
        return result


def prepare(work: Path, spec: DatasetSpec, s3: S3Server, source_s3_venv: Path) -> SourceBench:
    """Stage the dataset locally, mirror it to S3, and write every config and catalog."""
    started = time.perf_counter()
    dataset = stage_local(work / "bucket", spec)
    stage_seconds = time.perf_counter() - started
    log(f"staged {dataset.events:,} events in {dataset.objects:,} objects locally in {stage_seconds:.1f}s")
    started = time.perf_counter()
    s3.create_bucket(BUCKET)
    mirror_to_s3(dataset, s3.client(), BUCKET, S3_PREFIX)
    mirror_seconds = time.perf_counter() - started
    log(f"mirrored to S3 on {s3.label} {s3.endpoint} (gzip objects + plain JSON Lines) in {mirror_seconds:.1f}s")
    source_s3, problem = ensure_source_s3(source_s3_venv)
    bench = SourceBench(work, dataset, s3, source_s3, problem, stage_seconds, mirror_seconds)
    _write_files(bench)
    return bench


def _pixels(spec: DatasetSpec) -> list[dict[str, str]]:
    return [{"pixel_id": pixel, "ad_account_id": f"act_{n + 1}"} for n, pixel in enumerate(spec.pixels)]


def _write(path: Path, content: Any) -> Path:
    path.write_text(json.dumps(content, indent=1))
    return path


def _write_files(bench: SourceBench) -> None:
    work, spec, dataset = bench.work, bench.dataset.spec, bench.dataset
    local = {"pixels": _pixels(spec), "staging": {"bucket_url": dataset.root.as_uri()}}
    s3 = {
        "pixels": _pixels(spec),
        "staging": {
            "bucket_url": f"s3://{BUCKET}/{S3_PREFIX}",
            "endpoint_url": bench.endpoint,
            "region": "us-east-1",
            **S3_KEYS,
        },
    }
    files = bench.files
    files["ours-local"] = _write(work / "ours-local.json", local)
    files["ours-s3"] = _write(work / "ours-s3.json", s3)
    for events in (100_000, 300_000):
        files[f"ours-local-{events}"] = _write(
            work / f"ours-local-{events}.json",
            {**local, "start_date": f"{spec.start_date_for(events):%Y-%m-%dT%H:%M:%S.%fZ}"},
        )
    files["catalog"] = _write(
        work / "catalog.json",
        {
            "streams": [
                {
                    "stream": {
                        "name": "delivered_events",
                        "json_schema": {},
                        "supported_sync_modes": ["full_refresh", "incremental"],
                    },
                    "sync_mode": "incremental",
                    "destination_sync_mode": "append_dedup",
                    "cursor_field": ["received_at"],
                    "primary_key": [["pixel_id"], ["event_id"], ["event_time"]],
                }
            ]
        },
    )
    # Baseline (a): the records the source emits (its added fields included), pixel x hour
    # partitions with the same record counts, in the order the source generates them.
    pool: list[bytes] = []
    accounts = {p["pixel_id"]: p["ad_account_id"] for p in _pixels(spec)}
    first_key_of: dict[str, str] = {}
    counts: Counter[tuple[str, str, str]] = Counter()
    for key in dataset.keys:
        _, pixel_part, date_part, hour_part, _ = key.split("/")
        pixel = pixel_part.removeprefix("pixel_id=")
        first_key_of.setdefault(pixel, key)
        counts[(pixel, date_part, hour_part)] += spec.events_per_object
    for pixel, key in first_key_of.items():
        for line in gzip.decompress((dataset.root / key).read_bytes()).splitlines():
            record = orjson.loads(line)
            record["ad_account_id"] = accounts[pixel]
            record["_staged_object"] = key
            pool.append(orjson.dumps(record))
    (work / "pool.jsonl").write_bytes(b"\n".join(pool) + b"\n")
    order = {pixel: n for n, pixel in enumerate(spec.pixels)}
    partitions = [
        [p, c] for (p, d, h), c in sorted(counts.items(), key=lambda kv: (order[kv[0][0]], kv[0][1], kv[0][2]))
    ]
    files["bare"] = _write(work / "bare.json", {"records_file": str(work / "pool.jsonl"), "partitions": partitions})
    # Baseline (b): airbyte-source-s3 over the same events as plain JSON Lines on the same server.
    files["source-s3"] = _write(
        work / "source-s3.json",
        {
            "bucket": BUCKET,
            "endpoint": bench.endpoint,
            "region_name": "us-east-1",
            **S3_KEYS,
            "streams": [
                {
                    "name": "delivered_events",
                    "globs": [f"{PLAIN_PREFIX}/**/*.jsonl"],
                    "format": {"filetype": "jsonl"},
                    "validation_policy": "Emit Record",
                }
            ],
        },
    )
    if bench.source_s3 is not None:
        files["source-s3-catalog"] = _source_s3_catalog(bench)


def _source_s3_catalog(bench: SourceBench) -> Path:
    """The catalog airbyte-source-s3 discovers for the plain JSON Lines (not timed)."""
    assert bench.source_s3 is not None
    done = subprocess.run(
        [str(bench.source_s3), "discover", "--config", str(bench.files["source-s3"])],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    catalog = next(
        (json.loads(line)["catalog"] for line in done.stdout.splitlines() if line.startswith('{"type":"CATALOG"')),
        None,
    )
    if catalog is None:
        raise RuntimeError(f"source-s3 discover failed: {done.stdout[-1500:]} {done.stderr[-1500:]}")
    stream = catalog["streams"][0]
    return _write(
        bench.work / "source-s3-catalog.json",
        {"streams": [{"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "append"}]},
    )


# ---- the measurements ------------------------------------------------------------------------
def commands(bench: SourceBench) -> dict[str, list[str]]:
    files = bench.files
    ours = str(VENV_BIN / "source-meta-capi")
    found = {
        name: [ours, "read", "--config", str(files[name]), "--catalog", str(files["catalog"])]
        for name in ("ours-local", "ours-s3", "ours-local-100000", "ours-local-300000")
    }
    found["bare"] = [
        sys.executable, "-m", "benchmarks.bare_cdk_source", "read",
        "--config", str(files["bare"]), "--catalog", str(files["catalog"]),
    ]  # fmt: skip
    if bench.source_s3 is not None:
        found["source-s3"] = [
            str(bench.source_s3), "read",
            "--config", str(files["source-s3"]), "--catalog", str(files["source-s3-catalog"]),
        ]  # fmt: skip
    return found


def measure_reads(bench: SourceBench, runs: int, deadline: float) -> dict[str, list[RunResult]]:
    """`runs` repetitions of every contender, interleaved; stops early (after at least one
    repetition) when the deadline would be passed."""
    argv = commands(bench)
    order = ["bare", "ours-local", "ours-s3", "source-s3", "ours-local-100000", "ours-local-300000"]
    results: dict[str, list[RunResult]] = {name: [] for name in order if name in argv}
    for repetition in range(runs):
        started = time.perf_counter()
        for name in results:
            result = bench.run(name, argv[name])
            results[name].append(result)
            log(
                f"rep {repetition + 1}/{runs} {name:<18} {result.records:>9,} records {result.seconds:6.1f}s "
                f"{result.records_per_s:>9,.0f}/s peak {result.peak_rss_mib:5.0f} MiB"
            )
        if time.time() + (time.perf_counter() - started) > deadline and repetition + 1 < runs:
            log(f"stopping after {repetition + 1} repetition(s) to stay within the time bound")
            break
    return results


def measure_nothing_new(bench: SourceBench, first_syncs: dict[str, RunResult], runs: int) -> dict[str, list[RunResult]]:
    """Item 5: incremental syncs with the state of a full incremental sync of the whole bucket."""
    argv = commands(bench)
    results: dict[str, list[RunResult]] = {}
    for name in ("ours-local", "ours-s3"):
        state = _write(bench.work / f"state-{name}.json", first_syncs[name].final_states())
        results[name] = []
        for _ in range(runs):
            result = bench.run(f"nothing-new-{name}", [*argv[name], "--state", str(state)])
            results[name].append(result)
            log(f"nothing-new {name:<10} {result.records} records {result.seconds:5.2f}s")
    return results


def rows(bench: SourceBench, reads: dict[str, list[RunResult]], nothing_new: dict[str, list[RunResult]]) -> list[Row]:
    """Items 4 and 5 as table rows."""

    def med(name: str, pick: Callable[[RunResult], float]) -> Optional[float]:
        values = [pick(r) for r in reads.get(name, [])]
        return median(values) if values else None

    def rate(name: str) -> Optional[float]:
        return med(name, lambda r: r.records_per_s)

    def rss(name: str) -> Optional[float]:
        return med(name, lambda r: r.peak_rss_mib)

    def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
        return a / b if a is not None and b else None

    events = bench.dataset.events
    n_runs = len(reads["ours-local"])
    out: list[Row] = []
    bare, local, s3, s3src = rate("bare"), rate("ours-local"), rate("ours-s3"), rate("source-s3")
    label = f"{events / 1e6:g}M events"
    out.append(Row("4", f"(a) bare CDK 7 DefaultStream, same records from memory, {label}", bare, "records/s", n_runs))
    r = ratio(local, bare)
    out.append(
        Row(
            "4",
            f"source read, local store, {label}",
            local,
            "records/s",
            n_runs,
            "(a)",
            r,
            "≥ 0.9× (a)",
            r is not None and r >= 0.9,
        )
    )
    r = ratio(s3, bare)
    out.append(
        Row(
            "4",
            f"source read, S3 ({bench.s3.label}, loopback), {label}",
            s3,
            "records/s",
            n_runs,
            "(a)",
            r,
            "≥ 0.9× (a)",
            r is not None and r >= 0.9,
        )
    )
    if s3src is not None:
        out.append(
            Row(
                "4",
                f"(b) airbyte-source-s3 {SOURCE_S3_VERSION}, same events as plain JSONL, same S3",
                s3src,
                "records/s",
                len(reads["source-s3"]),
            )
        )
        r = ratio(s3, s3src)
        out.append(
            Row(
                "4",
                "source read, S3 vs (b)",
                s3,
                "records/s",
                n_runs,
                "(b)",
                r,
                "≥ 2.5× (b)",
                r is not None and r >= 2.5,
            )
        )
    else:
        out.append(
            Row(
                "4",
                "(b) airbyte-source-s3",
                None,
                "records/s",
                0,
                target="≥ 2.5× (b)",
                note=f"not measured: {bench.source_s3_problem}",
            )
        )
    for name, what in (("ours-local", "local"), ("ours-s3", "S3")):
        value = rss(name)
        children = med(name, lambda r: r.children_rss_mib)
        out.append(
            Row(
                "4",
                f"peak RSS, source read, {what}, {label} (main process + decoder processes)",
                value,
                "MiB",
                n_runs,
                target="≤ 200 MiB",
                met=value is not None and value <= 200,
                note=f"of which child processes (record decoder, multiprocessing's resource tracker): {children or 0:.0f} MiB",
            )
        )
    out.append(Row("4", f"peak RSS, (a) bare CDK, {label}", rss("bare"), "MiB", n_runs))
    out += _request_rows(bench)
    if s3src is not None:
        out.append(
            Row("4", f"peak RSS, (b) airbyte-source-s3, {label}", rss("source-s3"), "MiB", len(reads["source-s3"]))
        )
    curve = [f"ours-local-{n}" for n in (100_000, 300_000)] + ["ours-local"]
    first_rss = rss(curve[0])
    for name in curve:
        value = rss(name)
        records = med(name, lambda r: float(r.records))
        seconds = med(name, lambda r: r.seconds)
        flat = value is not None and first_rss is not None and value <= first_rss * 1.10
        out.append(
            Row(
                "4",
                f"curve, local: {records or 0:,.0f} records in {seconds or 0:.1f}s",
                value,
                "MiB peak",
                len(reads.get(name, [])),
                "100k point",
                ratio(value, first_rss),
                "flat (≤ 1.10× the 100k point)",
                flat,
            )
        )
    for name, what in (("ours-local", "local"), ("ours-s3", "S3")):
        results = nothing_new.get(name, [])
        seconds = median([r.seconds for r in results]) if results else None
        emitted = max((r.records for r in results), default=0)
        counted = bench.requests.get(f"nothing-new-{name}", [])
        requests = (
            f"S3 requests per sync: {_per(counted, lambda counts, _: counts.total):.0f} "
            f"(GET {_per(counted, lambda counts, _: counts['GET']):.0f}, "
            f"LIST {_per(counted, lambda counts, _: counts['LIST']):.0f}, "
            f"PUT {_per(counted, lambda counts, _: counts['PUT']):.0f})"
            if counted
            else ""
        )
        out.append(
            Row(
                "5",
                f"incremental sync finding nothing new, {what}, {label} bucket ({emitted} records)",
                seconds,
                "s",
                len(results),
                target="< 3 s",
                met=seconds is not None and seconds < 3 and emitted == 0,
                note=requests,
            )
        )
    return out


def _per(runs: list[tuple[RequestCounts, int]], pick: Callable[[RequestCounts, int], float]) -> float:
    """Median over runs of `pick(counts, records)`."""
    return median([pick(counts, records) for counts, records in runs])


def _per_k(runs: list[tuple[RequestCounts, int]], kind: str) -> float:
    """Median over runs of `kind` requests per 1,000 records."""
    return median([counts[kind] * 1000 / records for counts, records in runs])


def _request_rows(bench: SourceBench) -> list[Row]:
    """Billable S3 requests (GET, LIST, and any other) per 1,000 records read, as the S3 server
    counted them: ours and airbyte-source-s3 over the same events."""
    contenders = [("ours-s3", "source read")]
    if bench.source_s3 is not None:
        contenders.append(("source-s3", f"(b) airbyte-source-s3 {SOURCE_S3_VERSION}"))
    out: list[Row] = []
    for name, what in contenders:
        runs = [(counts, records) for counts, records in bench.requests.get(name, []) if records]
        others = sorted({kind for counts, _ in runs for kind in counts.by_type if kind not in ("GET", "LIST")})
        detail = ", ".join(f"{kind} {_per_k(runs, kind):,.2f}" for kind in ("GET", "LIST", *others))
        cpu = [seconds * 1000 * 1000 / records for seconds, records in bench.server_cpu.get(name, []) if records]
        server = f"{bench.s3.label} CPU {median(cpu):,.0f} ms per 1,000 records" if cpu else ""
        out.append(
            Row(
                "4",
                f"S3 requests per 1,000 records, {what} (GET + LIST + any other)",
                _per(runs, lambda counts, records: counts.total * 1000 / records) if runs else None,
                "requests/1k records",
                len(runs),
                note=(f"{detail}; counted by {bench.s3.label}" if runs else f"not counted ({bench.s3.label})")
                + (f"; {server}" if server else ""),
            )
        )
    if len(out) == 2 and out[0].value is not None and out[1].value:
        out[0].baseline, out[0].ratio = "(b)", out[0].value / out[1].value
    return out
