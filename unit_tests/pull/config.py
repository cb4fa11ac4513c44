"""ConfigBuilder: connector configs for the pull-mode tests, shaped by spec.yaml."""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any, Optional

GRAPH_BASE_URL = "https://graph.facebook.com"
API_VERSION = "v26.0"
PIXEL_ID = "1234567890"
OTHER_PIXEL_ID = "2345678901"
AD_ACCOUNT_ID = "act_555"
ACCESS_TOKEN = "EAAB-test-token-never-logged-0123456789"
APP_ID = "4242"
APP_SECRET = "app-secret-never-logged"
# The frozen sync time (see conftest) and the unix time the proofs sign.
NOW = datetime(2026, 11, 26, 8, 30, 15, tzinfo=timezone.utc)
PROOF_TIME = 1_700_000_000


class ConfigBuilder:
    """Builds a config with one pixel and a plain access token; chain the with_… methods."""

    def __init__(self) -> None:
        self._config: dict[str, Any] = {
            "pixels": [{"pixel_id": PIXEL_ID, "ad_account_id": AD_ACCOUNT_ID}],
            "credentials": {"auth_type": "access_token", "access_token": ACCESS_TOKEN},
            "graph_api": {"base_url": GRAPH_BASE_URL, "api_version": API_VERSION},
        }

    def with_pixels(self, *pixels: tuple[str, Optional[str]]) -> ConfigBuilder:
        self._config["pixels"] = [
            {"pixel_id": pixel_id, **({"ad_account_id": account} if account else {})} for pixel_id, account in pixels
        ]
        return self

    def with_start_date(self, start_date: str) -> ConfigBuilder:
        self._config["start_date"] = start_date
        return self

    def with_app_credentials(self, use_appsecret_time: Optional[bool] = None) -> ConfigBuilder:
        credentials: dict[str, Any] = {
            "auth_type": "app_credentials",
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "access_token": ACCESS_TOKEN,
        }
        if use_appsecret_time is not None:
            credentials["use_appsecret_time"] = use_appsecret_time
        self._config["credentials"] = credentials
        return self

    def with_aggregations(self, *aggregations: str) -> ConfigBuilder:
        self._config["graph_api"]["stats_aggregations"] = list(aggregations)
        return self

    def with_lookback_hours(self, hours: int) -> ConfigBuilder:
        self._config["graph_api"]["stats_lookback_hours"] = hours
        return self

    def with_base_url(self, base_url: str) -> ConfigBuilder:
        self._config["graph_api"]["base_url"] = base_url
        return self

    def build(self) -> dict[str, Any]:
        return copy.deepcopy(self._config)
