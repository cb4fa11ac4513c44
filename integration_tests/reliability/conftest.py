"""Fixtures of the reliability suite (issue 5): figures, fast/full variants, the privacy audit.

Every scenario is parametrized with a `fast` variant (small counts; unmarked, so `make test`
and CI run it) and a `full` variant marked `reliability` (`make reliability`). Figures measured
by each run are merged into build/reliability/figures.json, which docs/reliability.md quotes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from integration_tests.reliability import audit
from integration_tests.reliability.traffic import ACCESS_TOKEN, APP_SECRET, HUB_SECRET, SALT, SECRET, SENSITIVE
from source_meta_capi.receiver.json_logging import LOGGER_NAME, JsonFormatter

REPO = Path(__file__).resolve().parents[2]
FIGURES = REPO / "build" / "reliability" / "figures.json"
SECRETS = (SECRET, SECRET.removeprefix("whsec_"), HUB_SECRET, ACCESS_TOKEN, APP_SECRET, SALT)
_figures_lock = threading.Lock()


def variants(fast: Any, full: Any) -> list[Any]:
    """Parameters for a scenario: `fast` runs by default, `full` only with -m reliability."""
    return [pytest.param(fast, id="fast"), pytest.param(full, id="full", marks=pytest.mark.reliability)]


def record_figures(scenario: str, variant: str, figures: dict[str, Any]) -> None:
    """Merge one run's figures into build/reliability/figures.json (and print them)."""
    with _figures_lock:
        FIGURES.parent.mkdir(parents=True, exist_ok=True)
        document: dict[str, Any] = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
        document.setdefault(scenario, {})[variant] = figures
        FIGURES.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    print(f"\n[reliability] {scenario} ({variant}): {json.dumps(figures, sort_keys=True)}")


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[[str, dict[str, Any]], None]:
    """`figures(scenario, {...})` records the figures of this test's variant."""
    callspec = getattr(request.node, "callspec", None)
    variant = callspec.id.split("-")[0] if callspec is not None else "default"

    def record(scenario: str, values: dict[str, Any]) -> None:
        record_figures(scenario, variant, values)

    return record


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="session", autouse=True)
def privacy_audit(session_dir: Path, moto_endpoint: str) -> Iterator[None]:
    """Capture the in-process receivers' JSON logs; at the end, scan everything the suite wrote
    (it holds moto open until then: S3 buckets are scanned too)."""
    log_path = session_dir / "in-process-receiver.log"
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    receiver_logger = logging.getLogger(LOGGER_NAME)
    previous_level = receiver_logger.level
    receiver_logger.addHandler(handler)
    receiver_logger.setLevel(logging.DEBUG)
    audit.register_log(log_path)
    try:
        yield
    finally:
        receiver_logger.removeHandler(handler)
        receiver_logger.setLevel(previous_level)
        handler.close()
    report = audit.scan(SENSITIVE.snapshot(), SECRETS)
    variant = "full" if os.environ.get("RELIABILITY_FULL") else "session"
    record_figures(
        "8_privacy_session_audit",
        variant,
        {**report.as_figures(), "sensitive_values_registered": len(SENSITIVE.snapshot())},
    )
    assert not report.findings, f"raw personal data or secrets found: {report.findings[:10]}"
