"""Items 1–3: the webhook receiver (single-event and batched requests, local and S3 staging).

Placeholder until the receiver benchmarks land: `available()` says whether the receiver exists
(`source_meta_capi/receiver/app.py` and the `meta-capi-receiver serve` CLI), and `measure()`
returns the three rows, marked TODO when they are not measured yet. The table keeps its shape
either way.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.bench_types import Row

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    "1": ("receiver, single-event signed requests, local staging", "requests/s", "≥ 0.5× bare Starlette"),
    "2": ("receiver, batched requests (500 events), local staging, one core", "events/s", "≥ 20,000 events/s"),
    "3": ("receiver, single-event requests, S3 staging (moto)", "events/s", "≥ 10× one PUT per request"),
}


def available() -> bool:
    return (ROOT / "source_meta_capi" / "receiver" / "app.py").exists() and (
        ROOT / "source_meta_capi" / "receiver" / "cli.py"
    ).exists()


def measure(work: Path, runs: int, endpoint: str) -> list[Row]:
    """The receiver rows (TODO until measured)."""
    note = "TODO: receiver benchmark not written yet" if available() else "TODO: the receiver has not landed yet"
    return [Row(item, what, None, unit, 0, target=target, note=note) for item, (what, unit, target) in TARGETS.items()]
