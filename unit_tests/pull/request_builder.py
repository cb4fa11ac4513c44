"""GraphRequestBuilder: the Graph API requests the pull streams are expected to send."""

from __future__ import annotations

from typing import Any, Optional
from urllib.parse import urlencode

from airbyte_cdk.test.mock_http import HttpRequest
from airbyte_cdk.test.mock_http.request import ANY_QUERY_PARAMS

from .config import ACCESS_TOKEN, API_VERSION, GRAPH_BASE_URL

PIXEL_FIELDS = (
    "id,name,creation_time,last_fired_time,is_unavailable,data_use_setting,first_party_cookie_status,"
    "enable_automatic_matching,automatic_matching_fields,owner_business,owner_ad_account,"
    "is_created_by_business,is_consolidated_container,is_restricted_use,description"
)
QUALITY_FIELDS = (
    "web{event_name,event_match_quality{composite_score,match_key_feedback,diagnostics},"
    "event_potential_aly_acr_increase,acr,event_coverage,dedupe_key_feedback,data_freshness}"
)


class GraphRequestBuilder:
    """One Graph API request: path under /{version}, query parameters, the bearer header."""

    @classmethod
    def pixel(cls, pixel_id: str) -> GraphRequestBuilder:
        return cls(f"/{pixel_id}").with_query(fields=PIXEL_FIELDS)

    @classmethod
    def stats(cls, pixel_id: str, aggregation: str, start_time: str, end_time: str) -> GraphRequestBuilder:
        return cls(f"/{pixel_id}/stats").with_query(
            aggregation=aggregation, start_time=start_time, end_time=end_time, limit="168"
        )

    @classmethod
    def next_page(cls, url: str) -> GraphRequestBuilder:
        """A `paging.next` link, requested as-is."""
        builder = cls("")
        builder._absolute_url = url
        return builder

    @classmethod
    def dataset_quality(cls, pixel_id: str) -> GraphRequestBuilder:
        return cls("/dataset_quality").with_query(dataset_id=pixel_id, fields=QUALITY_FIELDS)

    def __init__(self, path: str) -> None:
        self._path = path
        self._absolute_url: Optional[str] = None
        self._query: Any = {}
        self._base_url = GRAPH_BASE_URL

    def with_query(self, **params: str) -> GraphRequestBuilder:
        self._query = {**self._query, **params}
        return self

    def with_proof(self, proof: str, appsecret_time: Optional[int] = None) -> GraphRequestBuilder:
        params = {"appsecret_proof": proof}
        if appsecret_time is not None:
            params["appsecret_time"] = str(appsecret_time)
        return self.with_query(**params)

    def with_any_query(self) -> GraphRequestBuilder:
        self._query = ANY_QUERY_PARAMS
        return self

    def with_base_url(self, base_url: str) -> GraphRequestBuilder:
        self._base_url = base_url
        return self

    def build(self) -> HttpRequest:
        headers = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
        if self._absolute_url is not None:
            extra = f"&{urlencode(self._query)}" if isinstance(self._query, dict) and self._query else ""
            return HttpRequest(self._absolute_url + extra, headers=headers)
        url = f"{self._base_url}/{API_VERSION}{self._path}"
        return HttpRequest(url, query_params=self._query or None, headers=headers)
