"""The load generator of the receiver benchmarks: replays pre-built raw HTTP requests.

    python -m benchmarks.receiver_load --port P --requests FILE --concurrency 64 \
        [--warmup 500] [--max-seconds 8] [--rate R]

Run pinned to its own core (`taskset`). It opens `concurrency` keep-alive connections; each sends
its next request as soon as the previous answer is complete (a closed loop, so the concurrency is
fixed), reading answers with a minimal parser (status line + Content-Length). With `--rate R` the
timed phase is an open loop instead: request i is due at start + i/R whatever the answers, an idle
connection sends it when it is due, and its latency counts from when it was due (so a request
that waited for a free connection is not timed as if it had been sent on time). The first `warmup`
requests are sent and answered before the timed phase, on their own connections. The timed phase
stops at the end of the file or after `max-seconds` (requests in flight are completed and counted).
Prints one JSON object: requests, seconds, requests/s, p50/p99 latency in ms, statuses.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any, Optional, Sequence, cast

from benchmarks.receiver_traffic import read_requests


class _Phase:
    """One closed-loop phase over a slice of the requests."""

    def __init__(self, requests: Sequence[bytes], deadline: float, rate: float = 0.0) -> None:
        self.requests = requests
        self.deadline = deadline
        self.rate = rate
        self.started = time.perf_counter()
        self.next_index = 0
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.active = 0
        self.done: Optional[asyncio.Future[None]] = None

    def take(self) -> Optional[tuple[bytes, float]]:
        """The next request and when it is due (now, in a closed loop); None when the phase is over."""
        now = time.perf_counter()
        if self.next_index >= len(self.requests) or now > self.deadline or self.errors:
            return None
        due = self.started + self.next_index / self.rate if self.rate else now
        if due > self.deadline:
            return None
        request = self.requests[self.next_index]
        self.next_index += 1
        return request, due

    def finished(self) -> None:
        self.active -= 1
        if self.active == 0 and self.done is not None and not self.done.done():
            self.done.set_result(None)


class _Connection(asyncio.Protocol):
    def __init__(self, phase: _Phase) -> None:
        self.phase = phase
        self.transport: Optional[asyncio.Transport] = None
        self.buffer = bytearray()
        self.started = 0.0
        self.waiting = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        self.phase.active += 1
        self._send_next()

    def _send_next(self) -> None:
        assert self.transport is not None
        taken = self.phase.take()
        if taken is None:
            self.waiting = False
            self.transport.close()
            return
        request, due = taken
        self.waiting = True
        delay = due - time.perf_counter()
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, request, due)
        else:
            self._write(request, due)

    def _write(self, request: bytes, due: float) -> None:
        assert self.transport is not None
        self.started = due
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buffer[:end]).lower()
        length = _content_length(head)
        if length is None:
            self.phase.errors.append("answer without Content-Length: " + head[:200].decode(errors="replace"))
            assert self.transport is not None
            self.transport.close()
            return
        if len(self.buffer) < end + 4 + length:
            return
        self.phase.latencies.append(time.perf_counter() - self.started)
        self.phase.statuses[int(head[9:12])] += 1
        del self.buffer[: end + 4 + length]
        self._send_next()

    def connection_lost(self, exc: Optional[Exception]) -> None:
        if self.waiting:
            self.phase.errors.append(f"connection lost mid-request: {exc!r}")
        self.phase.finished()


def _content_length(head: bytes) -> Optional[int]:
    index = head.find(b"\r\ncontent-length:")
    if index < 0:
        return None
    start = index + len(b"\r\ncontent-length:")
    stop = head.find(b"\r\n", start)
    return int(head[start : stop if stop >= 0 else len(head)].strip())


async def _run_phase(
    port: int, requests: Sequence[bytes], concurrency: int, max_seconds: float, rate: float = 0.0
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    phase = _Phase(requests, started + max_seconds, rate)
    phase.done = loop.create_future()
    for _ in range(min(concurrency, len(requests))):
        await loop.create_connection(lambda: _Connection(phase), "127.0.0.1", port)
    await asyncio.wait_for(phase.done, timeout=max_seconds + 120)
    seconds = time.perf_counter() - started
    latencies = sorted(phase.latencies)
    count = len(latencies)
    return {
        "requests": count,
        "seconds": seconds,
        "requests_per_s": count / seconds if seconds else 0.0,
        "p50_ms": _percentile(latencies, 0.50) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "statuses": {str(k): v for k, v in sorted(phase.statuses.items())},
        "stopped_by": "count" if phase.next_index >= len(requests) else "time",
        "errors": phase.errors[:3],
    }


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    requests = read_requests(Path(args.requests))
    warmup = min(args.warmup, len(requests) // 10)
    if warmup:
        await _run_phase(args.port, requests[:warmup], args.concurrency, args.max_seconds)
    result = await _run_phase(args.port, requests[warmup:], args.concurrency, args.max_seconds, args.rate)
    result["warmup"] = warmup
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", required=True, help="file written by receiver_traffic.write_requests")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--max-seconds", type=float, default=8.0)
    parser.add_argument(
        "--rate", type=float, default=0.0, help="requests/s of an open-loop timed phase (0: closed loop)"
    )
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    print(json.dumps(asyncio.run(_main(args))))


if __name__ == "__main__":
    main()
