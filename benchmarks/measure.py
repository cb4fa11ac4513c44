"""Run a connector command in a subprocess and measure it: wall time, records, peak RSS.

Records are counted from the child's stdout in large chunks (the parent does almost no work per
record, so it does not compete with the child for the CPU), and the child's peak RSS comes from
the kernel (GNU time), not from sampling. When the command starts processes of its own (the
source's record decoder processes), their kernel high-water marks (`VmHWM`, read every 50 ms
while they live) are added to it: an upper bound of the tree's peak, never an underestimate.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Optional, Sequence

_RECORD_MARK = b'"type":"RECORD"'


class BenchmarkRunError(RuntimeError):
    """A measured command failed; the message carries the tail of its output."""


@dataclass
class RunResult:
    """One measured run."""

    seconds: float
    records: int
    peak_rss_mib: float
    messages: list[dict[str, Any]] = field(default_factory=list)
    # Of peak_rss_mib: the high-water marks of the command's own child processes, summed.
    children_rss_mib: float = 0.0

    @property
    def records_per_s(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0

    def final_states(self) -> list[dict[str, Any]]:
        """The last STATE message of each stream, as the platform would persist them."""
        latest: dict[str, dict[str, Any]] = {}
        for message in self.messages:
            if message.get("type") == "STATE":
                stream = message["state"].get("stream", {}).get("stream_descriptor", {}).get("name", "")
                latest[stream] = message["state"]
        return list(latest.values())


def run_counted(
    argv: Sequence[str],
    timeout_s: float,
    env: Optional[dict[str, str]] = None,
    cwd: Optional[Path] = None,
) -> RunResult:
    """Run `argv`, count RECORD messages on stdout, keep every other message; fail on a non-zero
    exit or an ERROR trace."""
    # stderr goes to a file: a pipe nobody reads could fill up and stall the child.
    with tempfile.TemporaryFile() as stderr_file:
        return _run_counted(argv, timeout_s, env, cwd, stderr_file)


def _run_counted(
    argv: Sequence[str],
    timeout_s: float,
    env: Optional[dict[str, str]],
    cwd: Optional[Path],
    stderr_file: IO[bytes],
) -> RunResult:
    # The child's own peak RSS: GNU time reports it for the process it execs. (rusage from wait4
    # would not do: a child forked from this process inherits its RSS until it execs, and the
    # high-water mark keeps that.)
    rss_file = Path(tempfile.mkstemp(prefix="bench-rss-")[1])
    wrapper = ["/usr/bin/time", "-f", "%M", "-o", str(rss_file)] if Path("/usr/bin/time").exists() else []
    started = time.perf_counter()
    process = subprocess.Popen(
        [*wrapper, *argv],
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert process.stdout is not None
    children = _ChildrenHighWater(process.pid, skip_first_level=bool(wrapper))
    records = 0
    others: list[bytes] = []
    tail = b""
    stdout_fd = process.stdout.fileno()
    deadline = started + timeout_s
    try:
        while True:
            if time.perf_counter() > deadline:
                raise BenchmarkRunError(f"{argv[0]} ran past its {timeout_s:.0f}s bound")
            chunk = os.read(stdout_fd, 1 << 20)
            if not chunk:
                break
            data = tail + chunk
            end = data.rfind(b"\n") + 1
            block, tail = data[:end], data[end:]
            in_block = block.count(_RECORD_MARK)
            records += in_block
            # Non-record messages (state, logs, traces) are rare: split only blocks that hold some.
            if block.count(b"\n") > in_block:
                others.extend(line for line in block.split(b"\n") if line and _RECORD_MARK not in line[:40])
        process.wait()
    except BaseException:
        process.kill()
        process.wait()
        raise
    finally:
        children.stop()
    seconds = time.perf_counter() - started
    stderr_file.seek(0)
    stderr = stderr_file.read()
    process.stdout.close()
    if tail and _RECORD_MARK not in tail[:40]:
        others.append(tail)
    messages = []
    for line in others:
        try:
            messages.append(json.loads(line))
        except ValueError:
            continue
    errors = [
        m["trace"]["error"].get("message", "")
        for m in messages
        if m.get("type") == "TRACE" and m.get("trace", {}).get("type") == "ERROR"
    ]
    if process.returncode != 0 or errors:
        raise BenchmarkRunError(
            f"{' '.join(argv[:3])} exited {process.returncode}: {errors[:1]} {stderr[-1500:].decode(errors='replace')}"
        )
    peak_kib = _peak_kib(rss_file)
    children_kib = children.total_kib()
    return RunResult(
        seconds=seconds,
        records=records,
        peak_rss_mib=(peak_kib + children_kib) / 1024,
        messages=messages,
        children_rss_mib=children_kib / 1024,
    )


class _ChildrenHighWater:
    """Samples VmHWM of every descendant of the measured command (not the command itself)."""

    def __init__(self, root_pid: int, skip_first_level: bool) -> None:
        # With GNU time in front, root_pid is `time` and its child is the command.
        self._root = root_pid
        self._skip = 2 if skip_first_level else 1
        self._high: dict[int, int] = {}
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-children", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.05):
            level = [self._root]
            for depth in range(8):
                below = [child for pid in level for child in _children(pid)]
                if depth + 1 >= self._skip:
                    for pid in below:
                        kib = _high_water_kib(pid)
                        if kib:
                            self._high[pid] = max(self._high.get(pid, 0), kib)
                level = below
                if not level:
                    break

    def stop(self) -> None:
        self._done.set()
        self._thread.join()

    def total_kib(self) -> float:
        return float(sum(self._high.values()))


def _children(pid: int) -> list[int]:
    # Per thread: a process started from a worker thread is listed under that thread only.
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                found.extend(int(c) for c in (task / "children").read_text().split())
            except (OSError, ValueError):
                continue
    except OSError:
        return []
    return found


def _high_water_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return 0


def _peak_kib(rss_file: Path) -> float:
    try:
        lines = rss_file.read_text().split()
        return float(lines[-1]) if lines else float("nan")
    except (OSError, ValueError):
        return float("nan")
    finally:
        rss_file.unlink(missing_ok=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
