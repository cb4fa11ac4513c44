"""`check`: the staging bucket (push mode) and the Graph API (pull mode), each problem actionable."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import requests
import requests_mock

from source_meta_capi.check import check_connection, check_graph_access, check_staging
from source_meta_capi.config import SourceConfig
from source_meta_capi.staging.keys import ObjectKind
from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.writer import StagingWriter

PIXEL = "1234567890"


def _parsed(bucket: str, **extra: object) -> SourceConfig:
    return SourceConfig.from_mapping({"pixels": [{"pixel_id": PIXEL}], "staging": {"bucket_url": bucket}, **extra})


def test_given_a_bucket_the_receiver_wrote_when_checked_then_no_problem(tmp_path):
    writer = StagingWriter(
        LocalFolderStore(str(tmp_path)), clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1)
    )
    writer.stage(ObjectKind.EVENTS, PIXEL, [{"pixel_id": PIXEL, "event_id": "e"}])
    staging = _parsed(str(tmp_path)).staging
    assert staging is not None and check_staging(staging) == []


def test_given_an_empty_bucket_when_checked_then_no_problem(tmp_path):
    staging = _parsed(str(tmp_path)).staging
    assert staging is not None and check_staging(staging) == []


def test_given_a_missing_folder_when_checked_then_the_problem_names_the_bucket(tmp_path):
    staging = _parsed(str(tmp_path / "missing")).staging
    assert staging is not None
    (problem,) = check_staging(staging)
    assert problem.startswith("Staging bucket:") and "missing" in problem


def test_given_a_foreign_folder_when_checked_then_the_problem_says_where_to_point(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    staging = _parsed(str(tmp_path)).staging
    assert staging is not None
    (problem,) = check_staging(staging)
    assert "does not look like a source-meta-capi staging area" in problem
    assert "events/, statuses/, dead_letters/" in problem and "photos/" in problem


def test_given_an_unexpected_pixel_folder_when_checked_then_the_problem_names_it(tmp_path):
    (tmp_path / "events" / "date=2026-11-26").mkdir(parents=True)
    (tmp_path / "events" / "date=2026-11-26" / "x").write_bytes(b"x")
    staging = _parsed(str(tmp_path)).staging
    assert staging is not None
    (problem,) = check_staging(staging)
    assert "unexpected folder events/date=2026-11-26/" in problem and "events/pixel_id=<id>/" in problem


def test_given_push_mode_only_when_checked_then_the_graph_api_is_not_called(tmp_path):
    with requests_mock.Mocker() as mocker:
        assert check_connection({"pixels": [{"pixel_id": PIXEL}]}, _parsed(str(tmp_path))) == []
        assert not mocker.called


def test_given_a_sparse_config_when_graph_is_checked_then_the_spec_defaults_name_the_url():
    config = {"pixels": [{"pixel_id": PIXEL}], "credentials": {"auth_type": "access_token", "access_token": "tok"}}
    with requests_mock.Mocker() as mocker:
        mocker.get(f"https://graph.facebook.com/v26.0/{PIXEL}", json={"id": PIXEL, "name": "p"})
        assert check_graph_access(config, SourceConfig.from_mapping(config), requests.Session()) == []
        assert mocker.last_request.headers["Authorization"] == "Bearer tok"
        assert "appsecret_proof" not in mocker.last_request.qs


def test_given_app_credentials_without_use_appsecret_time_then_the_timed_proof_is_sent():
    credentials = {"auth_type": "app_credentials", "app_id": "1", "app_secret": "sec", "access_token": "tok"}
    config = {"pixels": [{"pixel_id": PIXEL}], "credentials": credentials}
    with requests_mock.Mocker() as mocker:
        mocker.get(f"https://graph.facebook.com/v26.0/{PIXEL}", json={"id": PIXEL})
        assert check_graph_access(config, SourceConfig.from_mapping(config), requests.Session()) == []
        assert set(mocker.last_request.qs) >= {"appsecret_proof", "appsecret_time"}


def test_given_a_rejected_token_when_checked_then_the_problem_names_the_pixel_and_hides_the_token():
    config = {"pixels": [{"pixel_id": PIXEL}], "credentials": {"auth_type": "access_token", "access_token": "tok-123"}}
    body = {"error": {"message": "Invalid OAuth access token tok-123", "type": "OAuthException", "code": 190}}
    with requests_mock.Mocker() as mocker:
        mocker.get(f"https://graph.facebook.com/v26.0/{PIXEL}", status_code=400, json=body)
        (problem,) = check_graph_access(config, SourceConfig.from_mapping(config), requests.Session())
    assert PIXEL in problem and "tok-123" not in problem
