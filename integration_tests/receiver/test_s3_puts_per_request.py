"""Storage writes per request: a real receiver process staging on moto's S3 server,
single-event signed requests from 32 concurrent senders (closed loop, each waits for its answer).

The first design wrote an idempotency claim per request (1.06 PUTs per request measured on a real
S3 server). Now nothing is written per request: a group commit writes one events object for all
the requests that arrived while the previous group was being written, so with 32 senders a
group holds up to 32 requests, with the production defaults (no linger): the rejoin wait lets
the answered members of a group come back before the next group is taken, so the senders do not
split into two alternating halves. This is a functional property (what is written), not a timing
test: the bucket is listed and its objects counted.
"""

from __future__ import annotations

from pathlib import Path

from integration_tests.reliability.processes import ReceiverProcess, receiver_env
from integration_tests.reliability.sender import send_all
from integration_tests.reliability.traffic import PIXEL, Ledger, plan_requests, staged_identities
from integration_tests.support.s3 import receiver_s3_env, s3_client
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import S3Options

SENDERS = 32
REQUESTS = 640
MAX_OBJECTS_PER_REQUEST = 0.05


def test_given_32_concurrent_senders_of_single_event_requests_when_staged_on_s3_then_at_most_005_objects_per_request(
    tmp_path: Path, s3_bucket: str, moto_endpoint: str
) -> None:
    receiver = ReceiverProcess(
        receiver_env(
            s3_bucket,
            **receiver_s3_env(moto_endpoint),
            META_CAPI_COMMIT_DEADLINE_S="10",
        ),
        tmp_path / "receiver.log",
    ).start()
    planned = plan_requests(REQUESTS, 1, run="puts", pixels=(PIXEL,))
    ledger = Ledger(planned)
    try:
        send_all(planned, lambda: receiver.url, ledger, concurrency=SENDERS, budget_s=240)
    finally:
        receiver.stop()
    ledger.check_answers()
    assert ledger.attempts == {"200": REQUESTS}, ledger.attempts

    bucket, _, prefix = s3_bucket.removeprefix("s3://").partition("/")
    client = s3_client(moto_endpoint)
    written = [
        item["Key"]
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/")
        for item in page.get("Contents", [])
    ]
    per_request = len(written) / REQUESTS
    print(f"\n[puts per request] {len(written)} objects for {REQUESTS} requests: {per_request:.4f} per request")
    assert all(key.startswith(f"{prefix}/events/") for key in written), written[:5]
    store = open_store(
        s3_bucket,
        S3Options(
            region="us-east-1", endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing"
        ),
    )
    assert set(staged_identities(store, (PIXEL,))) == ledger.expected_identities()
    assert per_request <= MAX_OBJECTS_PER_REQUEST, f"{len(written)} objects for {REQUESTS} requests"
