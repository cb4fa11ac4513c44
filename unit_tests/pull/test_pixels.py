"""pixels: GET /{ver}/{pixel_id}?fields=..., one record per configured pixel, full refresh.

The error policy is exercised here on the simplest request; pixel_stats and dataset_quality
share the same error handler.
"""

from __future__ import annotations

import json
import re
from unittest import TestCase

from airbyte_cdk.models import FailureType
from airbyte_cdk.test.mock_http import HttpMocker, HttpResponse

from source_meta_capi.capi.rate_limits import BUSINESS_USE_CASE_USAGE_HEADER

from .config import ACCESS_TOKEN, AD_ACCOUNT_ID, APP_SECRET, OTHER_PIXEL_ID, PIXEL_ID, PROOF_TIME, ConfigBuilder
from .helpers import all_output_text, graph_error, json_response, read_stream, template
from .proofs import classic_proof, timed_proof
from .request_builder import GraphRequestBuilder

_STREAM = "pixels"


def _usage(pct: float, regain_minutes: float = 0) -> dict[str, str]:
    entry = {
        "type": "ads_management",
        "call_count": pct,
        "total_cputime": pct,
        "total_time": pct,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {BUSINESS_USE_CASE_USAGE_HEADER: json.dumps({"987654321": [entry]})}


class TestPixelsFullRefresh(TestCase):
    @HttpMocker()
    def test_given_one_pixel_when_read_then_one_record_with_pixel_and_ad_account(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(GraphRequestBuilder.pixel(PIXEL_ID).build(), json_response(template("pixel")))

        output = read_stream(ConfigBuilder().build(), _STREAM)

        assert [r.record.data["id"] for r in output.records] == [PIXEL_ID]
        record = output.records[0].record.data
        assert record["pixel_id"] == PIXEL_ID
        assert record["ad_account_id"] == AD_ACCOUNT_ID
        assert record["last_fired_time"] == "2026-11-26T05:59:12Z"
        assert record["creation_time"] == "2024-03-01T10:00:00Z"
        assert record["owner_business"] == {"id": "987654321", "name": "Shop Inc."}

    @HttpMocker()
    def test_given_two_pixels_one_without_ad_account_when_read_then_one_record_each(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(GraphRequestBuilder.pixel(PIXEL_ID).build(), json_response(template("pixel")))
        http_mocker.get(
            GraphRequestBuilder.pixel(OTHER_PIXEL_ID).build(),
            json_response({"id": OTHER_PIXEL_ID, "name": "Second pixel"}),
        )
        config = ConfigBuilder().with_pixels((PIXEL_ID, AD_ACCOUNT_ID), (OTHER_PIXEL_ID, None)).build()

        output = read_stream(config, _STREAM)

        by_id = {r.record.data["id"]: r.record.data for r in output.records}
        assert set(by_id) == {PIXEL_ID, OTHER_PIXEL_ID}
        assert by_id[OTHER_PIXEL_ID].get("ad_account_id") is None
        assert by_id[OTHER_PIXEL_ID].get("last_fired_time") is None  # null fields are omitted on the wire
        assert by_id[OTHER_PIXEL_ID]["pixel_id"] == OTHER_PIXEL_ID


class TestPixelsAuthentication(TestCase):
    @HttpMocker()
    def test_given_app_credentials_when_read_then_timed_proof_and_time_on_request(
        self, http_mocker: HttpMocker
    ) -> None:
        # The request only matches with the bearer header and the exact proof: HMAC(secret, token|time).
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).with_proof(timed_proof(), PROOF_TIME).build(),
            json_response(template("pixel")),
        )

        output = read_stream(ConfigBuilder().with_app_credentials().build(), _STREAM)

        assert len(output.records) == 1

    @HttpMocker()
    def test_given_classic_proof_configured_when_read_then_proof_without_time(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).with_proof(classic_proof()).build(),
            json_response(template("pixel")),
        )

        output = read_stream(ConfigBuilder().with_app_credentials(use_appsecret_time=False).build(), _STREAM)

        assert len(output.records) == 1

    @HttpMocker()
    def test_given_token_only_when_read_then_token_in_header_not_url(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(GraphRequestBuilder.pixel(PIXEL_ID).build(), json_response(template("pixel")))

        read_stream(ConfigBuilder().build(), _STREAM)

        sent = http_mocker._mocker.request_history  # requests_mock's log of what was sent
        assert all(ACCESS_TOKEN not in request.url for request in sent)
        assert all("appsecret_proof" not in request.url for request in sent)


class TestPixelsErrors(TestCase):
    sleeps: list[float]  # set by the `sleeps` fixture in conftest

    @HttpMocker()
    def test_given_expired_token_190_when_read_then_config_error_naming_pixel_without_token(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).with_proof(timed_proof(), PROOF_TIME).build(),
            # Meta's message can echo the token; it must not reach any output.
            json_response(graph_error(190, 463, f"Error validating access token: {ACCESS_TOKEN} has expired"), 400),
        )

        output = read_stream(ConfigBuilder().with_app_credentials().build(), _STREAM, expect_failure=True)

        errors = [m.trace.error for m in output.errors]
        assert errors and all(e.failure_type == FailureType.config_error for e in errors)
        assert f"pixel {PIXEL_ID}" in errors[0].message
        assert "190/463" in errors[0].message
        text = all_output_text(output)
        assert ACCESS_TOKEN not in text and APP_SECRET not in text

    @HttpMocker()
    def test_given_no_access_to_pixel_100_33_when_read_then_config_error_naming_pixel(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(),
            json_response(
                graph_error(100, 33, "Unsupported get request. Object with ID '1234567890' does not exist"), 400
            ),
        )

        output = read_stream(ConfigBuilder().build(), _STREAM, expect_failure=True)

        error = output.errors[0].trace.error
        assert error.failure_type == FailureType.config_error
        assert f"pixel {PIXEL_ID}" in error.message
        assert ACCESS_TOKEN not in all_output_text(output)

    @HttpMocker()
    def test_given_permission_error_200_when_read_then_config_error(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(),
            json_response(graph_error(200, None, "(#200) Missing permissions"), 403),
        )

        output = read_stream(ConfigBuilder().build(), _STREAM, expect_failure=True)

        assert output.errors[0].trace.error.failure_type == FailureType.config_error

    @HttpMocker()
    def test_given_5xx_then_success_when_read_then_retried_with_jittered_backoff(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(),
            [
                json_response(graph_error(2, None, "Service temporarily unavailable", is_transient=True), 503),
                HttpResponse("<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", 502),
                json_response(template("pixel")),
            ],
        )

        output = read_stream(ConfigBuilder().build(), _STREAM)

        assert len(output.records) == 1
        assert not output.errors
        # Two retries; the CDK adds one second to each wait. First wait in [0.5, 1] s, second in [1, 2] s.
        waits = [s - 1 for s in self.sleeps]
        assert len(waits) == 2
        assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0

    @HttpMocker()
    def test_given_code_17_then_success_when_read_then_backs_off_and_succeeds(self, http_mocker: HttpMocker) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(),
            [
                json_response(graph_error(17, 2446079, "(#17) User request limit reached"), 400),
                json_response(template("pixel")),
            ],
        )

        output = read_stream(ConfigBuilder().build(), _STREAM)

        assert len(output.records) == 1
        # No usage header: jittered exponential from the throttled base (5 s): [2.5, 5] s + 1.
        assert len(self.sleeps) == 1 and 3.5 <= self.sleeps[0] <= 6.0

    @HttpMocker()
    def test_given_429_with_regain_time_then_success_when_read_then_waits_as_meta_says(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(),
            [
                json_response(
                    graph_error(80004, None, "(#80004) Too many calls to this ad-account"),
                    429,
                    _usage(100, regain_minutes=2),
                ),
                json_response(template("pixel"), headers=_usage(20)),
            ],
        )

        output = read_stream(ConfigBuilder().build(), _STREAM)

        assert len(output.records) == 1
        assert self.sleeps == [121.0]  # estimated_time_to_regain_access is in minutes

    @HttpMocker()
    def test_given_lockout_longer_than_retry_budget_when_read_then_transient_error_saying_when(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(),
            json_response(
                graph_error(17, None, "(#17) User request limit reached"), 400, _usage(100, regain_minutes=45)
            ),
        )

        output = read_stream(ConfigBuilder().build(), _STREAM, expect_failure=True)

        error = output.errors[0].trace.error
        assert error.failure_type == FailureType.transient_error
        assert "about 45 minutes" in error.message and f"pixel {PIXEL_ID}" in error.message
        assert re.search(r"around \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", error.message)
        assert self.sleeps == []  # failed at once instead of sleeping into a retry the CDK would not make

    @HttpMocker()
    def test_given_high_usage_on_success_when_read_then_paces_before_next_request(
        self, http_mocker: HttpMocker
    ) -> None:
        http_mocker.get(
            GraphRequestBuilder.pixel(PIXEL_ID).build(), json_response(template("pixel"), headers=_usage(85))
        )

        output = read_stream(ConfigBuilder().build(), _STREAM)

        assert len(output.records) == 1
        assert self.sleeps == [2.5]  # pacing curve: 10 s * ((85 - 75) / 20) ** 2
