"""The privacy audit (scenario 8): every staged object, dead letter, idempotency claim, log line
and metrics page the suite produced is scanned for the raw personal data and secrets it sent.

Tests register what they produce (stores, log files, texts); the session fixture in conftest.py
scans all of it at the end of the run, and scenario 8's own test scans its artefacts at once.
"""

from __future__ import annotations

import gzip
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from source_meta_capi.staging.store import ObjectStore

_lock = threading.Lock()
_stores: list[ObjectStore] = []
_logs: list[Path] = []
_texts: list[tuple[str, str]] = []

# The raw values traffic.py generates have recognisable shapes; a candidate token is looked up in
# the registered set (hashes are 64 contiguous hex digits, so the boundaries keep them out).
_CANDIDATES = re.compile(
    r"(?<![0-9a-z])(?:rel\.[a-z0-9_.-]+@example\.org|(?:qz|vx|cty)[0-9a-f]{4,8}|\+?1?[ (]*415[) ]*[0-9]{3}-?[0-9]{4})(?![0-9a-z])"
)


def register_store(store: ObjectStore) -> None:
    with _lock:
        _stores.append(store)


def register_log(path: Path) -> None:
    with _lock:
        _logs.append(path)


def register_text(name: str, text: str) -> None:
    with _lock:
        _texts.append((name, text))


@dataclass
class AuditReport:
    objects: int = 0
    object_bytes: int = 0
    log_lines: int = 0
    texts: int = 0
    findings: list[tuple[str, str]] = field(default_factory=list)

    def as_figures(self) -> dict[str, int]:
        return {
            "objects_scanned": self.objects,
            "object_bytes_scanned": self.object_bytes,
            "log_lines_scanned": self.log_lines,
            "texts_scanned": self.texts,
            "sensitive_values_found": len(self.findings),
        }


def scan_text(text: str, where: str, sensitive: frozenset[str], secrets: Iterable[str], report: AuditReport) -> None:
    lowered = text.lower()
    for match in _CANDIDATES.finditer(lowered):
        token = match.group(0)
        if token in sensitive or token.strip() in sensitive:
            report.findings.append((where, token))
    for secret in secrets:
        if secret in text:
            report.findings.append((where, "a secret"))


def scan(
    sensitive: frozenset[str],
    secrets: Iterable[str],
    stores: Iterable[ObjectStore] | None = None,
    logs: Iterable[Path] | None = None,
    texts: Iterable[tuple[str, str]] | None = None,
) -> AuditReport:
    """Scan the given artefacts (default: everything registered so far)."""
    lowered = frozenset(value.lower() for value in sensitive)
    secret_list = list(secrets)
    with _lock:
        stores = list(_stores if stores is None else stores)
        logs = list(_logs if logs is None else logs)
        texts = list(_texts if texts is None else texts)
    report = AuditReport()
    for store in stores:
        for key in store.list_keys(""):
            data = store.get(key)
            if key.endswith(".gz"):
                data = gzip.decompress(data)
            report.objects += 1
            report.object_bytes += len(data)
            scan_text(data.decode("utf-8", "replace"), f"{store.url}/{key}", lowered, secret_list, report)
    for path in dict.fromkeys(logs):
        if path.exists():
            text = path.read_text("utf-8", "replace")
            report.log_lines += text.count("\n")
            scan_text(text, str(path), lowered, secret_list, report)
    for name, text in texts:
        report.texts += 1
        report.log_lines += text.count("\n") if name.startswith("log") else 0
        scan_text(text, name, lowered, secret_list, report)
    return report
