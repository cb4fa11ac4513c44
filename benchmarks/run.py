"""`make bench`: every benchmark on loopback, bounded in time, one table, docs/benchmarks.md.

    python -m benchmarks.run [--runs 3] [--events 1000000] [--budget-minutes 14] [--only source,pull,receiver]
                             [--s3-server seaweedfs|moto]

Data is generated at run time with the project's own staging writer into .bench/run/ (git-ignored)
and removed afterwards; servers (the S3 server — SeaweedFS by default, benchmarks/s3_server.py —,
the Graph API stand-in, the receivers) listen on 127.0.0.1 only and are stopped before exit, on
Ctrl-C and timeout(1)'s SIGINT too. Ratios are between contenders measured in this same invocation.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import asdict
from datetime import UTC, datetime

from benchmarks import pull_requests, receiver_bench, source_read
from benchmarks.bench_types import Row
from benchmarks.dataset import DatasetSpec
from benchmarks.machine import describe
from benchmarks.report import table
from benchmarks.s3_server import KINDS, s3_server
from benchmarks.source_read import ROOT, log

WORK = ROOT / ".bench" / "run"
DOC = ROOT / "docs" / "benchmarks.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions per measurement (median reported)")
    parser.add_argument("--events", type=int, default=1_000_000, help="staged events for items 4 and 5")
    parser.add_argument("--budget-minutes", type=float, default=14.0, help="stop repeating past this")
    parser.add_argument("--only", default="source,pull,receiver", help="comma-separated: source, pull, receiver")
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument(
        "--s3-server",
        choices=KINDS,
        default="seaweedfs",
        help="S3 server of the S3 items (moto: to compare with the history; its requests are not counted)",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    started = time.time()
    # Leave room after the source reads for items 5 and 6 (~30 s) and the receiver.
    deadline = started + args.budget_minutes * 60 - 90
    machine = describe()
    log("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    rows: list[Row] = []
    try:
        if "receiver" in only:
            # Its own S3 server, pinned to the load generator's core (receiver_bench.py).
            rows += receiver_bench.measure(WORK / "receiver", args.runs, args.s3_server)
        if "source" in only:
            # Not pinned: the source contenders use both cores, and so did moto in the history.
            with s3_server(args.s3_server, WORK) as s3:
                log(f"S3 server: {s3.label} on {s3.endpoint}")
                bench = source_read.prepare(
                    WORK / "source", DatasetSpec(events=args.events), s3, ROOT / ".bench" / "venv-source-s3"
                )
                reads = source_read.measure_reads(bench, args.runs, deadline)
                first = {name: reads[name][0] for name in ("ours-local", "ours-s3")}
                nothing_new = source_read.measure_nothing_new(bench, first, args.runs)
                rows += source_read.rows(bench, reads, nothing_new)
        if "pull" in only:
            rows += pull_requests.measure(WORK / "pull", min(args.runs, 2))
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
    elapsed = time.time() - started
    result = table(rows)
    print()
    print(result)
    print(f"\n{elapsed / 60:.1f} minutes; machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    (ROOT / ".bench" / "last-results.json").write_text(
        json.dumps({"machine": machine, "elapsed_s": elapsed, "rows": [asdict(r) for r in rows]}, indent=1)
    )
    if not args.no_doc:
        write_doc(result, machine, elapsed, args)


def write_doc(result: str, machine: dict[str, str], elapsed: float, args: argparse.Namespace) -> None:
    """Replace the generated section of docs/benchmarks.md, keeping the hand-written notes after it."""
    begin, end = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
    generated = "\n".join(
        [
            begin,
            f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `make bench` (--runs {args.runs}, --events {args.events:,}, "
            f"--s3-server {args.s3_server}), "
            f"{elapsed / 60:.1f} minutes.",
            "",
            "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()) + ".",
            "",
            result,
            end,
        ]
    )
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\n" + begin + "\n" + end + "\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + generated + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + generated + "\n"
    DOC.write_text(text)
    log(f"wrote {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
