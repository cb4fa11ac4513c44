"""pixel_stats: GET /{ver}/{pixel_id}/stats per pixel x aggregation, flattened, incremental on start_time."""

from __future__ import annotations

from unittest import TestCase

from airbyte_cdk.models import FailureType, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker
from airbyte_cdk.test.state_builder import StateBuilder

from .config import ACCESS_TOKEN, AD_ACCOUNT_ID, OTHER_PIXEL_ID, PIXEL_ID, PROOF_TIME, ConfigBuilder
from .helpers import all_output_text, graph_error, json_response, read_stream, template
from .proofs import timed_proof
from .request_builder import GraphRequestBuilder

_STREAM = "pixel_stats"
_WINDOW_START = "2026-11-19T09:00:00Z"  # the default start without start_date: first whole hour of the last 7 days
_NOW = "2026-11-26T08:30:15Z"
_DEFAULT_AGGREGATIONS = ("event", "event_source", "event_processing_results", "match_keys")


def _stats(aggregation: str = "event", start: str = _WINDOW_START, pixel_id: str = PIXEL_ID) -> GraphRequestBuilder:
    return GraphRequestBuilder.stats(pixel_id, aggregation, start, _NOW)


def _state(cursor: str, aggregation: str = "event") -> list:
    return (
        StateBuilder()
        .with_stream_state(
            _STREAM,
            {
                "states": [
                    {"partition": {"aggregation": aggregation, "pixel_id": PIXEL_ID}, "cursor": {"start_time": cursor}}
                ]
            },
        )
        .build()
    )


class TestPixelStatsFullRefresh(TestCase):
    sleeps: list[float]  # set by the `sleeps` fixture in conftest

    @HttpMocker()
    def test_given_hourly_buckets_when_read_then_one_record_per_value_with_utc_start_time(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(_stats().build(), json_response(template("pixel_stats")))

        output = read_stream(ConfigBuilder().with_aggregations("event").build(), _STREAM)

        common = {"pixel_id": PIXEL_ID, "ad_account_id": AD_ACCOUNT_ID, "aggregation": "event"}
        assert [r.record.data for r in output.records] == [
            {**common, "start_time": "2026-11-25T10:00:00Z", "value": "PageView", "count": 24},
            {**common, "start_time": "2026-11-25T10:00:00Z", "value": "Purchase", "count": 2},
            {**common, "start_time": "2026-11-25T11:00:00Z", "value": "PageView", "count": 31},
        ]

    @HttpMocker()
    def test_given_event_and_diagnostics_fields_when_read_then_kept(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(_stats("match_keys").build(), json_response(template("pixel_stats_match_keys")))

        output = read_stream(ConfigBuilder().with_aggregations("match_keys").build(), _STREAM)

        records = [r.record.data for r in output.records]
        assert [(r["value"], r["event"]) for r in records] == [("external_id", "Purchase"), ("fr_cookie", "PageView")]
        assert records[1]["diagnostics_hourly_last_timestamp"] == 1795672800

    @HttpMocker()
    def test_given_paging_next_when_read_then_follows_it_with_a_fresh_proof(self, http_mocker: HttpMocker) -> None:
        next_url = f"https://graph.facebook.com/v26.0/{PIXEL_ID}/stats?aggregation=event&limit=168&after=MjQZD"
        first_page = {**template("pixel_stats"), "paging": {"cursors": {"after": "MjQZD"}, "next": next_url}}
        http_mocker.get(_stats().with_proof(timed_proof(), PROOF_TIME).build(), json_response(first_page))
        http_mocker.get(
            GraphRequestBuilder.next_page(next_url).with_proof(timed_proof(), PROOF_TIME).build(),
            json_response(template("pixel_stats_match_keys")),
        )

        output = read_stream(ConfigBuilder().with_app_credentials().with_aggregations("event").build(), _STREAM)

        assert len(output.records) == 5
        sent = http_mocker._mocker.request_history
        assert len(sent) == 2 and all("appsecret_proof=" in request.url for request in sent)

    @HttpMocker()
    def test_given_paging_next_to_another_host_when_read_then_fails_without_following(
        self, http_mocker: HttpMocker
    ) -> None:
        evil = {
            **template("pixel_stats"),
            "paging": {"next": f"https://graph.facebook.com.evil.example/v26.0/x?access_token={ACCESS_TOKEN}"},
        }
        http_mocker.get(_stats().build(), json_response(evil))

        output = read_stream(ConfigBuilder().with_aggregations("event").build(), _STREAM, expect_failure=True)

        error = output.errors[0].trace.error
        assert error.failure_type == FailureType.system_error
        assert "graph.facebook.com.evil.example" in error.message
        assert len(http_mocker._mocker.request_history) == 1
        assert ACCESS_TOKEN not in all_output_text(output)

    @HttpMocker()
    def test_given_default_aggregations_and_two_pixels_when_read_then_one_request_per_pixel_and_aggregation(
        self, http_mocker: HttpMocker
    ) -> None:
        requests = []
        for pixel_id in (PIXEL_ID, OTHER_PIXEL_ID):
            for aggregation in _DEFAULT_AGGREGATIONS:
                request = _stats(aggregation, pixel_id=pixel_id).build()
                requests.append(request)
                http_mocker.get(request, json_response({"data": []}))
        # A start_date inside the last 7 days: one slice, one page per pixel x aggregation.
        config = (
            ConfigBuilder()
            .with_pixels((PIXEL_ID, AD_ACCOUNT_ID), (OTHER_PIXEL_ID, None))
            .with_start_date(_WINDOW_START)
            .build()
        )

        output = read_stream(config, _STREAM)

        assert not output.errors
        assert len(http_mocker._mocker.request_history) == 8
        for request in requests:
            http_mocker.assert_number_of_calls(request, 1)

    @HttpMocker()
    def test_given_start_date_inside_window_when_read_then_starts_at_its_hour(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(_stats(start="2026-11-24T13:00:00Z").build(), json_response({"data": []}))

        output = read_stream(
            ConfigBuilder().with_aggregations("event").with_start_date("2026-11-24T13:47:00Z").build(), _STREAM
        )

        assert not output.errors

    @HttpMocker()
    def test_given_429_with_usage_headers_then_success_when_read_then_records(self, http_mocker: HttpMocker) -> None:
        usage = {"X-App-Usage": '{"call_count": 100, "total_cputime": 40, "total_time": 40}'}
        http_mocker.get(
            _stats().build(),
            [
                json_response(graph_error(4, 1504022, "(#4) Application request limit reached"), 429, usage),
                json_response(template("pixel_stats")),
            ],
        )

        output = read_stream(ConfigBuilder().with_aggregations("event").build(), _STREAM)

        assert len(output.records) == 3
        assert len(self.sleeps) == 1


class TestPixelStatsIncremental(TestCase):
    @HttpMocker()
    def test_given_no_state_when_read_then_state_is_latest_bucket_per_partition(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(_stats().build(), json_response(template("pixel_stats")))

        output = read_stream(ConfigBuilder().with_aggregations("event").build(), _STREAM, SyncMode.incremental)

        state = output.most_recent_state.stream_state.__dict__
        assert state["states"] == [
            {
                "partition": {"aggregation": "event", "pixel_id": PIXEL_ID},
                "cursor": {"start_time": "2026-11-25T11:00:00Z"},
            }
        ]

    @HttpMocker()
    def test_given_state_when_read_then_rereads_lookback_hours_before_cursor(self, http_mocker: HttpMocker) -> None:
        # Default lookback 6 h: Meta restates recent hourly buckets.
        http_mocker.get(_stats(start="2026-11-26T00:00:00Z").build(), json_response(template("pixel_stats_match_keys")))

        output = read_stream(
            ConfigBuilder().with_aggregations("event").build(),
            _STREAM,
            SyncMode.incremental,
            _state("2026-11-26T06:00:00Z"),
        )

        assert len(output.records) == 2

    @HttpMocker()
    def test_given_configured_lookback_when_read_then_uses_it(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(_stats(start="2026-11-26T04:00:00Z").build(), json_response({"data": []}))

        output = read_stream(
            ConfigBuilder().with_aggregations("event").with_lookback_hours(2).build(),
            _STREAM,
            SyncMode.incremental,
            _state("2026-11-26T06:00:00Z"),
        )

        assert not output.errors

    @HttpMocker()
    def test_given_state_older_than_meta_window_when_read_then_starts_at_window(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(_stats().build(), json_response({"data": []}))

        output = read_stream(
            ConfigBuilder().with_aggregations("event").build(),
            _STREAM,
            SyncMode.incremental,
            _state("2026-11-01T06:00:00Z"),
        )

        assert not output.errors

    @HttpMocker()
    def test_given_error_code_1_then_success_when_read_then_retries(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            _stats().build(),
            [
                json_response(graph_error(1, None, "An unknown error occurred"), 500),
                json_response(template("pixel_stats")),
            ],
        )

        output = read_stream(ConfigBuilder().with_aggregations("event").build(), _STREAM, SyncMode.incremental)

        assert len(output.records) == 3
        assert output.most_recent_state is not None
