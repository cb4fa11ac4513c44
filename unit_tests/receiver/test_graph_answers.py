"""Meta's answer shape for a processed batch on the Graph-compatible intake."""

from __future__ import annotations

import time

from source_meta_capi.receiver.graph_intake import graph_answer
from source_meta_capi.receiver.pipeline import RequestContext, process

CONTEXT = RequestContext("1234", "req-1", "b1", "verified:access_token")


def event(event_id: str, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "event_name": "Lead",
        "event_time": int(time.time()) - 30,
        "event_id": event_id,
        "action_source": "email",
        "user_data": {"em": "joe@example.com"},
    }
    body.update(overrides)
    return body


def test_given_mixed_batch_when_answered_then_accepted_count_and_one_message_per_rejection() -> None:
    too_old = int(time.time()) - 9 * 86400
    intake = process({"data": [event("ok"), event("old", event_time=too_old)]}, CONTEXT, time.time())
    status, body = graph_answer(intake)
    assert status == 200 and set(body) == {"events_received", "messages", "fbtrace_id"}
    assert body["events_received"] == 1 and body["fbtrace_id"] == "req-1"
    [message] = body["messages"]
    assert message.startswith("Event 1 (event_id old) was not accepted and is dead-lettered: event_time:")
    assert "joe@example.com" not in message


def test_given_no_usable_event_when_answered_then_metas_400_code_100_with_every_reason() -> None:
    intake = process({"data": [event("a", action_source="nowhere"), event("b", event_name="")]}, CONTEXT, time.time())
    status, body = graph_answer(intake)
    error = body["error"]
    assert status == 400 and (error["code"], error["type"], error["message"]) == (
        100,
        "OAuthException",
        "Invalid parameter",
    )
    assert "event_id a" in error["error_user_msg"] and "event_id b" in error["error_user_msg"]
    assert error["fbtrace_id"] == "req-1" and error["is_transient"] is False
