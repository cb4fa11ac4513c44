"""Forwarding to the Graph API stand-in (a real HTTP server on 127.0.0.1), statuses and dead
letters staged, and the redrive / reconcile jobs."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone

from integration_tests.receiver.conftest import PIXEL, event
from integration_tests.support.graph_stand_in import EVENTS
from integration_tests.support.graph_stand_in.responses import rate_limited, server_error
from source_meta_capi.receiver.jobs import reconcile, redrive
from source_meta_capi.staging.keys import ObjectKind


def LATER() -> datetime:
    """An hour from now: past the receiver's own forwarding window, so redrive may act."""
    return datetime.now(timezone.utc) + timedelta(hours=1)


def test_given_429_with_usage_headers_when_forwarding_inline_then_waits_as_guided_and_delivers(
    make_receiver, graph
) -> None:
    receiver = make_receiver(graph=graph, forward_mode="inline", forward_deadline_s=600)
    graph.enqueue(EVENTS, rate_limited(17, status=429, regain_minutes=1))
    response = receiver.send({"data": [event("r1"), event("r2")], "test_event_code": "TEST9"})
    assert response.status_code == 200
    assert response.json()["forwarding"] == {
        "mode": "inline",
        "status": "delivered",
        "delivered": 2,
        "rejected": 0,
        "undelivered": 0,
        "deferred": 0,
        "attempts": 2,
    }
    assert receiver.clock.sleeps and receiver.clock.sleeps[0] >= 60  # estimated_time_to_regain_access is in minutes
    statuses = sorted(receiver.records(ObjectKind.STATUSES), key=lambda s: s["attempt"])
    assert [(s["attempt"], s["outcome"], s["http_status"], s["error_code"]) for s in statuses] == [
        (1, "retrying", 429, 17),
        (2, "delivered", 200, None),
    ]
    assert (
        statuses[0]["next_retry_at"] and statuses[0]["retryable"] is True and statuses[0]["error_class"] == "throttled"
    )
    assert (
        statuses[1]["events_received"] == 2 and statuses[1]["fbtrace_id"] and statuses[1]["event_ids"] == ["r1", "r2"]
    )
    assert all(s["batch_id"] == response.json()["batch_id"] and s["test_event_code"] == "TEST9" for s in statuses)
    assert graph.received_event_ids(PIXEL) == ["r1", "r2"]
    sent = graph.requests_to(EVENTS)[-1].body
    assert sent["test_event_code"] == "TEST9" and sent["partner_agent"]
    assert sent["data"][0]["user_data"]["em"] == ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"]


def test_given_one_bad_event_when_forwarding_then_isolated_dead_lettered_rest_delivered(make_receiver, graph) -> None:
    receiver = make_receiver(graph=graph, forward_mode="inline", forward_deadline_s=600)
    graph.reject_event_ids({"bad"})
    response = receiver.send({"data": [event("a"), event("bad"), event("b"), event("c")]})
    assert response.json()["forwarding"]["delivered"] == 3 and response.json()["forwarding"]["rejected"] == 1
    assert sorted(graph.received_event_ids(PIXEL)) == ["a", "b", "c"]
    (letter,) = receiver.records(ObjectKind.DEAD_LETTERS)
    assert (
        letter["event_id"],
        letter["stage"],
        letter["replayable"],
        letter["error_code"],
        letter["error_subcode"],
    ) == ("bad", "meta_rejected", False, 100, 2804009)
    assert letter["event"]["user_data"]["em"] == ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"]
    outcomes = Counter(s["outcome"] for s in receiver.records(ObjectKind.STATUSES))
    assert outcomes["rejected"] >= 1 and outcomes["delivered"] >= 1


def test_given_5xx_storm_past_budget_when_forwarding_then_dead_lettered_and_redrive_delivers_once(
    make_receiver, graph
) -> None:
    receiver = make_receiver(graph=graph, forward_mode="inline", forward_deadline_s=600, forward_max_attempts=3)
    graph.enqueue(EVENTS, server_error(503), server_error(500), server_error(502))
    response = receiver.send({"data": [event("s1"), event("s2")]})
    assert response.status_code == 200 and response.json()["forwarding"]["status"] == "failed"
    letters = receiver.records(ObjectKind.DEAD_LETTERS)
    assert sorted((dl["event_id"], dl["stage"], dl["replayable"], dl["attempts"]) for dl in letters) == [
        ("s1", "forwarding", True, 3),
        ("s2", "forwarding", True, 3),
    ]
    assert graph.received_event_ids(PIXEL) == []
    report = redrive(receiver.runtime, clock=LATER)
    assert (report.letters_replayed, report.delivered) == (2, 2)
    again = redrive(receiver.runtime, clock=lambda: LATER() + timedelta(hours=1))
    assert again.events_sent == 0
    assert sorted(graph.received_event_ids(PIXEL)) == ["s1", "s2"]
    attempts = sorted(s["attempt"] for s in receiver.records(ObjectKind.STATUSES))
    assert attempts == [1, 2, 3, 4]  # attempt numbers continue across runs: the primary key holds
    (row,) = reconcile(receiver.runtime)
    assert (row.staged, row.forwarded, row.delivered, row.pending) == (2, 2, 2, 0)


def test_given_forwarding_off_when_redrive_runs_twice_concurrently_then_each_event_sent_once(
    make_receiver, graph
) -> None:
    receiver = make_receiver(graph=graph, forward_mode="off")
    for i in range(3):
        assert receiver.send({"data": [event(f"p{i}a"), event(f"p{i}b")]}).status_code == 200
    (before,) = reconcile(receiver.runtime)
    assert (before.staged, before.forwarded, before.pending) == (6, 0, 6)
    assert redrive(receiver.runtime, clock=LATER, dry_run=True).events_sent == 6 and graph.received_event_ids() == []
    # Two redrives racing for the same batches: leases let exactly one send each batch.
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        reports = list(pool.map(lambda _: redrive(receiver.runtime, clock=LATER), range(2)))
    assert sum(r.events_sent for r in reports) == 6
    assert sorted(graph.received_event_ids(PIXEL)) == sorted(f"p{i}{s}" for i in range(3) for s in "ab")
    assert redrive(receiver.runtime, clock=lambda: LATER() + timedelta(hours=2)).events_sent == 0
    (after,) = reconcile(receiver.runtime)
    assert (after.delivered, after.pending, after.events_received_by_meta) == (6, 0, 6)


def test_given_redrive_when_batch_is_young_then_left_to_the_receiver(make_receiver, graph) -> None:
    receiver = make_receiver(graph=graph, forward_mode="off")
    receiver.send({"data": [event("young")]})
    assert redrive(receiver.runtime).events_sent == 0
    assert graph.received_event_ids() == []


def test_given_background_mode_when_accepted_then_answer_first_and_statuses_staged(make_receiver, graph) -> None:
    receiver = make_receiver(graph=graph, forward_mode="background")
    response = receiver.send({"data": [event("bg1")]})
    assert response.json()["forwarding"] == {"mode": "background", "status": "queued"}
    assert receiver.runtime.background is not None and receiver.runtime.background.wait_idle(10)
    assert graph.received_event_ids(PIXEL) == ["bg1"]
    assert [s["outcome"] for s in receiver.records(ObjectKind.STATUSES)] == ["delivered"]


def test_given_invalid_token_when_forwarding_then_halted_dead_lettered_replayable(make_receiver, graph) -> None:
    receiver = make_receiver(graph=graph, forward_mode="inline", access_tokens={PIXEL: "wrong-token"})
    response = receiver.send({"data": [event("t1")]})
    assert response.status_code == 200 and response.json()["forwarding"]["status"] == "failed"
    (status,) = receiver.records(ObjectKind.STATUSES)
    assert (status["outcome"], status["error_code"], status["error_class"]) == ("failed_auth", 190, "auth")
    (letter,) = receiver.records(ObjectKind.DEAD_LETTERS)
    assert letter["replayable"] is True and letter["stage"] == "forwarding"
    assert "wrong-token" not in str(receiver.records(ObjectKind.STATUSES)) + str(letter)


def test_given_a_retried_request_staged_twice_when_forwarded_and_redriven_then_meta_gets_each_event_once(
    make_receiver, graph, tmp_path
) -> None:
    # The original was staged, then its receiver died before forwarding (forward mode off here);
    # the retry is staged again under a new batch id and forwarded inline by another receiver.
    store = tmp_path / "shared"
    from source_meta_capi.staging.local_store import LocalFolderStore

    crashed = make_receiver(store=LocalFolderStore(str(store)), staging_url=str(store))
    body = {"data": [event("twin-1"), event(None, name="Purchase", custom_data={"value": 3, "currency": "EUR"})]}
    original = crashed.send(body, msg_id="msg_twin")
    inline = make_receiver(
        graph=graph, forward_mode="inline", forward_deadline_s=600, store=LocalFolderStore(str(store))
    )
    retry = inline.send(body, msg_id="msg_twin")
    assert original.json()["batch_id"] != retry.json()["batch_id"]
    assert retry.json()["forwarding"]["delivered"] == 2
    delivered = sorted(graph.received_event_ids(PIXEL))
    # Redrive finds the original's copies delivered by the retry's batch: nothing is resent.
    assert redrive(inline.runtime, clock=LATER).events_sent == 0
    assert sorted(graph.received_event_ids(PIXEL)) == delivered
    (row,) = reconcile(inline.runtime, clock=LATER)
    assert (row.batches, row.staged, row.pending) == (2, 4, 0)


def test_given_event_older_than_47_h_when_accepted_then_left_to_redrive_which_sends_it_once(
    make_receiver, graph
) -> None:
    import time

    receiver = make_receiver(graph=graph, forward_mode="inline", forward_deadline_s=600)
    old = event("three-days", event_time=int(time.time()) - 3 * 86400)
    response = receiver.send({"data": [old]}, msg_id="msg_old")
    assert response.json()["forwarding"] == {"mode": "inline", "status": "left_to_redrive"}
    receiver.send({"data": [old]}, msg_id="msg_old")  # its retry: a second staged copy
    assert graph.received_event_ids(PIXEL) == []
    assert redrive(receiver.runtime, clock=LATER).events_sent == 1
    assert graph.received_event_ids(PIXEL) == ["three-days"]
    assert redrive(receiver.runtime, clock=lambda: LATER() + timedelta(hours=1)).events_sent == 0
