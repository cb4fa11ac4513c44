"""Regenerate the committed sample bucket (`make sample-bucket`): integration_tests/sample_bucket/.

Written with the project's own staging writer and sample data, with fixed arrival stamps long
past any settle window and fixed ids, so the same code writes the same bytes. Airbyte's
`airbyte-cdk connector test`, the CDK standard tests (integration_tests/test_acceptance.py) and
acceptance-test-config.yml all read it through configs that name it relative to the repo root.
"""

from __future__ import annotations

import argparse
import shutil
from datetime import datetime, timezone
from pathlib import Path

from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.sample_data import SampleSummary, stage_sample
from source_meta_capi.staging.writer import StagingWriter

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUCKET = ROOT / "integration_tests" / "sample_bucket"
PIXELS = ["1234567890123456", "9876543210987654"]
# Arrival of every object: fixed, so regenerating changes nothing, and old enough for any settle window.
ARRIVAL = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)


def write_sample_bucket(target: Path = SAMPLE_BUCKET) -> SampleSummary:
    """Replace `target` with the sample: 2 pixels x 2 batches of 5 events, statuses, dead letters."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    writer = StagingWriter(open_store(str(target)), writer_id="sample", clock=lambda: ARRIVAL)
    return stage_sample(writer, PIXELS, batches_per_pixel=2, events_per_batch=5, seed=13, now=ARRIVAL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", type=Path, default=SAMPLE_BUCKET)
    summary = write_sample_bucket(parser.parse_args().target)
    print(f"{summary.objects} objects ({summary.events} events) in {parser.parse_args().target}")


if __name__ == "__main__":
    main()
