"""dataset_quality: GET /{ver}/dataset_quality?dataset_id=..., a daily snapshot per web event."""

from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.state_builder import StateBuilder

from .config import ACCESS_TOKEN, AD_ACCOUNT_ID, PIXEL_ID, ConfigBuilder
from .helpers import all_output_text, graph_error, json_response, read_stream, template
from .request_builder import GraphRequestBuilder

_STREAM = "dataset_quality"
_TODAY = "2026-11-26"


class TestDatasetQuality(TestCase):
    @HttpMocker()
    def test_given_web_events_when_read_then_one_record_per_event_dated_today(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            GraphRequestBuilder.dataset_quality(PIXEL_ID).build(), json_response(template("dataset_quality"))
        )

        output = read_stream(ConfigBuilder().build(), _STREAM)

        records = [r.record.data for r in output.records]
        assert [(r["pixel_id"], r["event_name"], r["snapshot_date"]) for r in records] == [
            (PIXEL_ID, "Purchase", _TODAY),
            (PIXEL_ID, "PageView", _TODAY),
        ]
        assert records[0]["ad_account_id"] == AD_ACCOUNT_ID
        assert records[0]["event_match_quality"]["composite_score"] == 7.2

    @HttpMocker()
    def test_given_empty_object_when_read_then_no_records_and_success(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(GraphRequestBuilder.dataset_quality(PIXEL_ID).build(), json_response({}))

        output = read_stream(ConfigBuilder().build(), _STREAM)

        assert output.records == []
        assert not output.errors

    @HttpMocker()
    def test_given_yesterdays_state_when_read_incrementally_then_one_request_and_state_today(
        self, http_mocker: HttpMocker
    ) -> None:
        request = GraphRequestBuilder.dataset_quality(PIXEL_ID).build()
        http_mocker.get(request, json_response(template("dataset_quality")))
        state = (
            StateBuilder()
            .with_stream_state(
                _STREAM, {"states": [{"partition": {"pixel_id": PIXEL_ID}, "cursor": {"snapshot_date": "2026-11-25"}}]}
            )
            .build()
        )

        output = read_stream(ConfigBuilder().build(), _STREAM, SyncMode.incremental, state)

        http_mocker.assert_number_of_calls(request, 1)
        assert {r.record.data["snapshot_date"] for r in output.records} == {_TODAY}
        assert output.most_recent_state.stream_state.__dict__["states"] == [
            {"partition": {"pixel_id": PIXEL_ID}, "cursor": {"snapshot_date": _TODAY}}
        ]

    @HttpMocker()
    def test_given_no_access_100_33_when_read_then_config_error_naming_pixel(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(GraphRequestBuilder.dataset_quality(PIXEL_ID).build(), json_response(graph_error(100, 33), 400))

        output = read_stream(ConfigBuilder().build(), _STREAM, expect_failure=True)

        error = output.errors[0].trace.error
        assert error.failure_type == FailureType.config_error
        # The pixel is only in the query string (dataset_id) for this node.
        assert f"pixel {PIXEL_ID}" in error.message

    @HttpMocker()
    def test_given_invalid_token_190_when_read_then_config_error_without_token(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            GraphRequestBuilder.dataset_quality(PIXEL_ID).build(),
            json_response(graph_error(190, 467, f"Malformed access token {ACCESS_TOKEN}"), 400),
        )

        output = read_stream(ConfigBuilder().build(), _STREAM, expect_failure=True)

        assert output.errors[0].trace.error.failure_type == FailureType.config_error
        assert ACCESS_TOKEN not in all_output_text(output)
