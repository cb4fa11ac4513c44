"""Running the real source over a bucket the tests wrote, and keeping its logs for the audit."""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Optional

from airbyte_cdk.models import AirbyteStateMessage, SyncMode

from integration_tests.reliability import audit
from integration_tests.reliability.traffic import OTHER_PIXEL, PIXEL, Identity
from integration_tests.support.push_harness import final_state, records, sync


def push_config(staging: Mapping[str, Any], settle_seconds: int = 0) -> dict[str, Any]:
    return {
        "pixels": [{"pixel_id": PIXEL}, {"pixel_id": OTHER_PIXEL}],
        "staging": {**staging, "settle_seconds": settle_seconds},
    }


class SyncResult:
    """Records of one sync, by stream, and the state to resume from."""

    def __init__(self, output: Any) -> None:
        self.events = records(output, "delivered_events")
        self.statuses = records(output, "delivery_statuses")
        self.dead_letters = records(output, "dead_letters")
        self.state: list[AirbyteStateMessage] = final_state(output)
        audit.register_text(
            "log of a source sync",
            "\n".join(m.log.message for m in output.logs if m.log is not None),
        )

    def identities(self) -> Counter[Identity]:
        return Counter((r["pixel_id"], r["event_id"], r["event_time"]) for r in self.events)


def run_sync(
    config: Mapping[str, Any],
    state: Optional[list[AirbyteStateMessage]] = None,
    mode: SyncMode = SyncMode.incremental,
) -> SyncResult:
    return SyncResult(sync(config, state=state, mode=mode))


def sync_until_quiet(
    config: Mapping[str, Any], max_syncs: int = 5
) -> tuple[Counter[Identity], list[dict[str, Any]], int]:
    """Incremental syncs, each resuming from the last state, until one emits nothing new.

    Returns the identities emitted over all syncs (with their counts), every dead letter, and
    how many syncs ran.
    """
    emitted: Counter[Identity] = Counter()
    letters: list[dict[str, Any]] = []
    state: Optional[list[AirbyteStateMessage]] = None
    for number in range(1, max_syncs + 1):
        result = run_sync(config, state)
        emitted.update(result.identities())
        letters.extend(result.dead_letters)
        state = result.state
        if not result.events and not result.dead_letters and number > 1:
            return emitted, letters, number
    return emitted, letters, max_syncs
