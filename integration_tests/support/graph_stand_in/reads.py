"""The read-side answers of the Graph stand-in: pixel node, ``/stats`` pages, dataset quality.

Pure functions over stored fixtures, shaped as in fact sheet §8.1-§8.3 and §8.5 (cursor
paging with absolute ``next`` URLs; an absent ``next`` means the last page).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from integration_tests.support.graph_stand_in.responses import FieldSpec, parse_fields, project
from integration_tests.support.graph_stand_in.validation import StandInError, parse_time

__all__ = ["check_aggregation", "dataset_quality_answer", "project_pixel", "stats_page"]

AGGREGATIONS = frozenset(
    {
        "event",
        "custom_data_field",
        "host",
        "url",
        "url_by_rule",
        "pixel_fire",
        "event_total_counts",
        "event_value_count",
        "browser_type",
        "device_os",
        "device_type",
        "match_keys",
        "had_pii",
        "event_detection_method",
        "event_source",
        "event_processing_results",
    }
)
# §8.1: the AdsPixel fields the SDK knows; anything else is a "nonexisting field" error.
PIXEL_FIELDS = frozenset(
    {
        "id",
        "name",
        "code",
        "creation_time",
        "last_fired_time",
        "is_unavailable",
        "data_use_setting",
        "first_party_cookie_status",
        "enable_automatic_matching",
        "automatic_matching_fields",
        "owner_business",
        "owner_ad_account",
        "is_created_by_business",
        "is_consolidated_container",
        "is_crm",
        "is_mta_use",
        "is_restricted_use",
        "event_stats",
        "event_time_min",
        "event_time_max",
        "match_rate_approx",
        "valid_entries",
        "matched_entries",
        "duplicate_entries",
        "last_upload_app",
        "last_upload_app_changed_time",
        "usage",
        "user_access_expire_time",
        "can_proxy",
        "config",
        "description",
        "has_1p_pixel_event",
        "enable_auto_assign_to_accounts",
        "creator",
    }
)


def fields_spec(text: str) -> FieldSpec:
    """Parse ``fields=`` or raise the Graph syntax error."""
    try:
        return parse_fields(text)
    except ValueError as exc:
        raise StandInError(400, 100, f"(#100) Syntax error in fields: {text}") from exc


def project_pixel(pixel: Mapping[str, Any], fields_text: str) -> dict[str, Any]:
    """The pixel node projected to ``fields`` (``id`` always included)."""
    spec = fields_spec(fields_text)
    for name in spec:
        if name not in PIXEL_FIELDS:
            raise StandInError(400, 100, f"(#100) Tried accessing nonexisting field ({name}) on node type (AdsPixel)")
    projected: dict[str, Any] = project(pixel, spec)
    return {"id": pixel["id"], **projected}


def check_aggregation(params: Mapping[str, Any]) -> str:
    """The ``aggregation`` parameter (default ``event``) or the Graph error for a bad one."""
    aggregation = str(params.get("aggregation", "event"))
    if aggregation not in AGGREGATIONS:
        allowed = ", ".join(sorted(AGGREGATIONS))
        raise StandInError(400, 100, f"(#100) param aggregation must be one of {{{allowed}}}")
    if aggregation == "custom_data_field" and not params.get("event"):
        raise StandInError(400, 100, "(#100) event is required for aggregation custom_data_field")
    return aggregation


def stats_page(
    rows: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    query: Sequence[tuple[str, str]],
    url: str,
    page_size: int,
) -> dict[str, Any]:
    """One page of hourly buckets with ``start_time`` in ``[start_time, end_time)``."""
    start = parse_time(params.get("start_time"), "start_time")
    end = parse_time(params.get("end_time"), "end_time")
    selected = []
    for row in rows:
        at = parse_time(row.get("start_time"), "start_time")
        if at is not None and (start is None or at >= start) and (end is None or at < end):
            selected.append(dict(row))
    offset = _decode_cursor(str(params.get("after", "")))
    try:
        limit = int(params.get("limit", page_size))
    except ValueError as exc:
        raise StandInError(400, 100, "(#100) param limit must be an integer") from exc
    page = selected[offset : offset + max(limit, 1)]
    result: dict[str, Any] = {"data": page}
    if selected:
        paging: dict[str, Any] = {
            "cursors": {"before": _encode_cursor(offset), "after": _encode_cursor(offset + len(page))}
        }
        if offset + len(page) < len(selected):
            kept = [(k, v) for k, v in query if k not in ("after", "before")]
            paging["next"] = f"{url}?{urlencode([*kept, ('after', _encode_cursor(offset + len(page)))])}"
        result["paging"] = paging
    return result


def dataset_quality_answer(web: Sequence[Mapping[str, Any]] | None, fields_text: str) -> dict[str, Any]:
    """``{"web": [...]}`` projected to ``fields``, or ``{}`` when there is no data (§8.3)."""
    spec = fields_spec(fields_text)
    if web is None or "web" not in spec:
        return {}
    return {"web": project(list(web), spec["web"])}


def _encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("offset:"))
    except ValueError as exc:
        raise StandInError(400, 100, "(#100) Invalid cursor") from exc
