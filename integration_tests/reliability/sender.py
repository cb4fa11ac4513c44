"""A retrying sender: what a well-behaved client of the receiver does.

Transport errors (the receiver was killed mid-request) and 503/409 answers are retried with the
same webhook-id and body, honouring Retry-After; 2xx and 4xx are final.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import requests

from integration_tests.reliability.traffic import Answer, Ledger, PlannedRequest, sign

RETRYABLE = (503, 409)


class SendTimeoutError(AssertionError):
    """A request did not reach a final answer within the test's budget."""


def send_until_final(
    planned: PlannedRequest,
    base_url: Callable[[], str],
    ledger: Ledger,
    *,
    deadline: float,
    session: Optional[requests.Session] = None,
    timeout_s: float = 10.0,
    on_answer: Optional[Callable[[PlannedRequest, Answer], None]] = None,
    max_backoff_s: float = 60.0,
) -> Answer:
    """POST until a final answer (2xx/4xx); raises SendTimeoutError past `deadline` (monotonic)."""
    http = session or requests.Session()
    rng = random.Random(planned.webhook_id)
    while True:
        if time.monotonic() > deadline:
            raise SendTimeoutError(f"{planned.webhook_id}: no final answer before the deadline")
        url = f"{base_url()}/v1/pixels/{planned.pixel_id}/events"
        try:
            response = http.post(
                url, data=planned.body, headers=sign(planned.body, planned.webhook_id), timeout=timeout_s
            )
        except requests.RequestException as error:
            ledger.attempt(f"transport:{type(error).__name__}")
            time.sleep(rng.uniform(0.05, 0.25))
            continue
        ledger.attempt(str(response.status_code))
        answer = Answer(response.status_code, _json(response), {k.lower(): v for k, v in response.headers.items()})
        if on_answer is not None:
            on_answer(planned, answer)
        if response.status_code in RETRYABLE:
            retry_after = response.headers.get("Retry-After")
            assert retry_after is not None and retry_after.isdigit(), (response.status_code, response.headers)
            time.sleep(min(float(retry_after), max_backoff_s) + rng.uniform(0, 0.2))
            continue
        ledger.settle(planned.webhook_id, answer)
        return answer


def send_all(
    planned: Sequence[PlannedRequest],
    base_url: Callable[[], str],
    ledger: Ledger,
    *,
    concurrency: int,
    budget_s: float,
    on_answer: Optional[Callable[[PlannedRequest, Answer], None]] = None,
    max_backoff_s: float = 60.0,
) -> None:
    """Send every request from `concurrency` threads; each retries until final."""
    deadline = time.monotonic() + budget_s

    def worker(chunk: Iterable[PlannedRequest]) -> None:
        with requests.Session() as session:
            for item in chunk:
                send_until_final(
                    item,
                    base_url,
                    ledger,
                    deadline=deadline,
                    session=session,
                    on_answer=on_answer,
                    max_backoff_s=max_backoff_s,
                )

    chunks = [planned[i::concurrency] for i in range(concurrency)]
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(worker, chunk) for chunk in chunks]:
            future.result()


def _json(response: requests.Response) -> object:
    try:
        return response.json()
    except ValueError:
        return {"_raw": response.text[:200]}
