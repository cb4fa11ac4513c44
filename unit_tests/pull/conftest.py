"""Fixtures for the pull-mode tests: a frozen clock, a fixed proof time, recorded sleeps.

freezegun is not a dependency, so the clock is frozen where the CDK reads it: the `now_utc` /
`today_utc` interpolation macros and the concurrent cursor's end provider.
"""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Iterator

import pytest
from airbyte_cdk.sources.declarative.interpolation import jinja
from airbyte_cdk.sources.streams.concurrent.state_converters import datetime_stream_state_converter
from airbyte_cdk.sources.streams.http import rate_limiting
from airbyte_cdk.utils.datetime_helpers import AirbyteDateTime

from source_meta_capi import components

from .config import NOW, PROOF_TIME


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    monkeypatch.setitem(jinja._ENVIRONMENT.globals, "now_utc", lambda: NOW)
    monkeypatch.setitem(jinja._ENVIRONMENT.globals, "today_utc", lambda: NOW.date())
    monkeypatch.setattr(datetime_stream_state_converter, "ab_datetime_now", lambda: AirbyteDateTime.from_datetime(NOW))
    return NOW


@pytest.fixture(autouse=True)
def proof_time(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(components, "_unix_time", lambda: PROOF_TIME)
    return PROOF_TIME


@pytest.fixture(autouse=True)
def sleeps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """Every retry wait (the CDK's) and pacing pause (ours), recorded instead of slept.

    Also set as `self.sleeps` on unittest-style test classes (the HttpMocker decorator
    convention), which cannot take fixtures as arguments.
    """
    recorded: list[float] = []
    monkeypatch.setattr(rate_limiting, "time", SimpleNamespace(sleep=recorded.append))
    monkeypatch.setattr(components, "_sleep", recorded.append)
    if request.instance is not None:
        request.instance.sleeps = recorded
    yield recorded
