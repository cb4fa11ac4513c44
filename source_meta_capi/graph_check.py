"""`check` for pull mode: one Graph API call per configured pixel, each failure named and explained."""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional

import requests

from source_meta_capi.capi.appsecret_proof import proof_params
from source_meta_capi.capi.graph_api import DEFAULT_API_VERSION, DEFAULT_GRAPH_BASE_URL
from source_meta_capi.capi.graph_errors import (
    ErrorClass,
    classify,
    describe_for_user,
    parse_graph_error,
    redact_secrets,
    transport_error,
)
from source_meta_capi.config import SourceConfig

# Meta suggests ~1.5 s for CAPI; reads of a pixel node are slower on a cold cache.
_TIMEOUT_S = 10.0


def check_graph_access(
    config: Mapping[str, Any], parsed: SourceConfig, session: Optional[requests.Session] = None
) -> list[str]:
    """Problems reaching each configured pixel (`GET /{pixel_id}?fields=id,name`); empty if all answer.

    A transient failure is retried once. Messages name the pixel and the cause; the token and the
    app secret never appear in them.
    """
    credentials: Mapping[str, Any] = config.get("credentials") or {}
    graph: Mapping[str, Any] = config.get("graph_api") or {}
    base_url = str(graph.get("base_url") or DEFAULT_GRAPH_BASE_URL).rstrip("/")
    version = str(graph.get("api_version") or DEFAULT_API_VERSION)
    token = str(credentials.get("access_token") or "")
    secrets = [token, str(credentials.get("app_secret") or "")]
    http = session or requests.Session()
    problems: list[str] = []
    for pixel in parsed.pixels:
        for attempt in (1, 2):
            params: dict[str, str] = {"fields": "id,name"}
            params.update(_proof_params(credentials, token))
            try:
                response = http.get(
                    f"{base_url}/{version}/{pixel.pixel_id}",
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=_TIMEOUT_S,
                )
            except requests.RequestException as error:
                failure = transport_error(redact_secrets(f"{type(error).__name__}: {error}", secrets))
            else:
                if response.ok:
                    break
                failure = parse_graph_error(response.status_code, dict(response.headers), response.content)
            if attempt == 1 and classify(failure) is ErrorClass.TRANSIENT:
                continue
            problems.append(redact_secrets(describe_for_user(failure, pixel.pixel_id), secrets))
            break
    return problems


def _proof_params(credentials: Mapping[str, Any], token: str) -> dict[str, str]:
    if credentials.get("auth_type") != "app_credentials" or not credentials.get("app_secret"):
        return {}
    timed = credentials.get("use_appsecret_time", True)
    return proof_params(str(credentials["app_secret"]), token, int(time.time()) if timed else None)
