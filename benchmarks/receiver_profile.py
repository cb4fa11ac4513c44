"""Profile the receiver under the load of items 1–3 with py-spy (not part of `make bench`).

    python -m benchmarks.receiver_profile single|batch|s3 [--s3-server seaweedfs|moto] [--top 30]

Starts the same servers and load as receiver_bench.py (server pinned to core 0, load on the
other core), samples the server with `py-spy record --gil` (only samples holding the GIL: on one
core that is where the time goes) and prints the functions with the largest inclusive and self
shares, plus the collapsed stacks under .bench/profile-<case>.txt.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

from benchmarks import receiver_bench as rb
from benchmarks.receiver_traffic import new_secret, signed_requests
from benchmarks.s3_server import KINDS, s3_server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("case", choices=("single", "batch", "s3"))
    parser.add_argument("--s3-server", choices=KINDS, default="seaweedfs", help="the S3 server of the s3 case")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument(
        "--all-threads", action="store_true", help="sample every running thread, not only the GIL holder"
    )
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    work = rb.ROOT / ".bench" / "profile-run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out = rb.ROOT / ".bench" / f"profile-{args.case}.txt"
    cores = rb._cores()
    secret = new_secret()
    with ExitStack() as stack:
        env = rb._receiver_env(secret, str(work / "store"))
        if args.case == "s3":
            s3 = stack.enter_context(s3_server(args.s3_server, work, cores[1]))
            s3.create_bucket(rb.BUCKET)
            env = {**s3.env(), **rb._receiver_env(secret, f"s3://{rb.BUCKET}/profile")}
        count, events, concurrency = {
            "single": (rb.SINGLE_REQUESTS, 1, rb.CONCURRENCY),
            "batch": (rb.BATCH_REQUESTS, rb.BATCH_EVENTS, rb.BATCH_CONCURRENCY),
            "s3": (rb.S3_REQUESTS, 1, rb.S3_CONCURRENCY),
        }[args.case]
        requests = signed_requests(secret, count, events)
        server = rb._start("receiver", env, cores[0], work)
        try:
            spy = subprocess.Popen(
                [
                    *(
                        py_spy,
                        "record",
                        *(["--gil"] if not args.all_threads else []),
                        "--threads",
                        "-r",
                        "200",
                        "-f",
                        "raw",
                        "-o",
                        str(out),
                    ),
                    *("-d", str(int(args.seconds) + 2), "--pid", str(server.process.pid)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(0.5)
            result = rb._load(server, requests, work, cores[1], concurrency, args.seconds)
            spy.wait(timeout=60)
        finally:
            rb._stop(server)
    shutil.rmtree(work, ignore_errors=True)
    print({k: result[k] for k in ("requests", "requests_per_s", "p50_ms", "p99_ms")})
    _summarize(out, args.top)


def _summarize(collapsed: Path, top: int) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f.split(" (")[0] + " " + f.split("/")[-1].rstrip(")") for f in stack.split(";")[1:]]
        for frame in set(frames):
            inclusive[frame] += count
        if frames:
            own[frames[-1]] += count
    print(f"{total} GIL samples ({collapsed})")
    print("inclusive:")
    for frame, count in inclusive.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame}")
    print("self:")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame}")


if __name__ == "__main__":
    main()
