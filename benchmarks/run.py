"""`make bench`: every benchmark on loopback, bounded in time, one table, docs/benchmarks.md.

    python -m benchmarks.run [--runs 3] [--events 1000000] [--budget-minutes 14] [--only source,pull,receiver]

Data is generated at run time with the project's own staging writer into .bench/run/ (git-ignored)
and removed afterwards; servers (moto's S3, the Graph API stand-in) listen on 127.0.0.1 only and
are stopped before exit. Ratios are between contenders measured in this same invocation.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import time
from dataclasses import asdict
from datetime import UTC, datetime

import boto3
from moto.server import ThreadedMotoServer

from benchmarks import pull_requests, receiver_bench, source_read
from benchmarks.bench_types import Row
from benchmarks.dataset import DatasetSpec
from benchmarks.machine import describe
from benchmarks.report import table
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
    args = parser.parse_args()
    only = set(args.only.split(","))
    started = time.time()
    # Leave room after the source reads for items 5 and 6 (~30 s) and the receiver.
    deadline = started + args.budget_minutes * 60 - 90
    # moto's server logs every request through werkzeug; the table is what matters here.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    machine = describe()
    log("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()))
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    rows: list[Row] = []
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        if "receiver" in only:
            rows += receiver_bench.measure(WORK / "receiver", args.runs)
        if "source" in only:
            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
            bench = source_read.prepare(
                WORK / "source",
                DatasetSpec(events=args.events),
                endpoint,
                client,
                ROOT / ".bench" / "venv-source-s3",
            )
            reads = source_read.measure_reads(bench, args.runs, deadline)
            first = {name: reads[name][0] for name in ("ours-local", "ours-s3")}
            nothing_new = source_read.measure_nothing_new(bench, first, args.runs)
            rows += source_read.rows(bench, reads, nothing_new)
        if "pull" in only:
            rows += pull_requests.measure(WORK / "pull", min(args.runs, 2))
    finally:
        server.stop()
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
            f"Last run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `make bench` (--runs {args.runs}, --events {args.events:,}), "
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
