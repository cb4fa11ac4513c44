"""`check`: is the staging bucket usable (push mode), does the Graph API answer for each pixel (pull mode).

Every problem comes back as a sentence a user can act on; an empty list means the connection works.
"""

from __future__ import annotations

import time
from typing import Any, Mapping, Optional

import requests

from source_meta_capi.capi.appsecret_proof import proof_params
from source_meta_capi.capi.graph_errors import (
    ErrorClass,
    classify,
    describe_for_user,
    parse_graph_error,
    redact_secrets,
    transport_error,
)
from source_meta_capi.config import SourceConfig, StagingConfig, with_spec_defaults
from source_meta_capi.staging.keys import IDEMPOTENCY_AREA, ObjectKind
from source_meta_capi.staging.open_store import open_store
from source_meta_capi.staging.store import StoreError

# The areas the receiver writes under the bucket prefix; the source reads the ObjectKind ones.
_READ_AREAS = tuple(f"{kind.value}/" for kind in ObjectKind)
_OUR_AREAS = frozenset({*_READ_AREAS, f"{IDEMPOTENCY_AREA}/"})

# Meta suggests ~1.5 s for CAPI; reads of a pixel node are slower on a cold cache.
_GRAPH_TIMEOUT_S = 10.0


def check_connection(config: Mapping[str, Any], parsed: SourceConfig) -> list[str]:
    """Problems with every configured mode, staging first; empty when all of them work."""
    problems: list[str] = []
    if parsed.staging is not None:
        problems.extend(check_staging(parsed.staging))
    if parsed.has_credentials:
        problems.extend(check_graph_access(config, parsed))
    return problems


def check_staging(staging: StagingConfig) -> list[str]:
    """Problems a user can act on; empty when the bucket is reachable, listable and laid out as
    the receiver writes it."""
    try:
        store = open_store(staging.bucket_url, staging.s3)
        store.check()
        children = list(store.list_children(""))
    except StoreError as error:
        return [f"Staging bucket: {error}"]
    foreign = sorted(child for child in children if child not in _OUR_AREAS)
    if foreign and not any(child in _OUR_AREAS for child in children):
        shown = ", ".join(foreign[:5])
        return [
            f"Staging bucket {store.url} does not look like a source-meta-capi staging area: it holds {shown} "
            f"but none of {', '.join(_READ_AREAS)}. Point bucket_url at the prefix the receiver writes to "
            "(META_CAPI_STAGING_URL)."
        ]
    for area in _READ_AREAS:
        if area not in children:
            continue
        try:
            for pixel_folder in store.list_children(area):
                name = pixel_folder[len(area) :].rstrip("/")
                if not name.startswith("pixel_id="):
                    return [
                        f"Staging bucket {store.url}: unexpected folder {pixel_folder}; expected {area}pixel_id=<id>/."
                    ]
        except StoreError as error:
            return [f"Staging bucket: {error}"]
    return []


def check_graph_access(
    config: Mapping[str, Any], parsed: SourceConfig, session: Optional[requests.Session] = None
) -> list[str]:
    """Problems reaching each configured pixel (`GET /{pixel_id}?fields=id,name`); empty if all answer.

    A transient failure is retried once. Messages name the pixel and the cause; the token and the
    app secret never appear in them.
    """
    config = with_spec_defaults(config)
    credentials: Mapping[str, Any] = config.get("credentials") or {}
    base_url = str(config["graph_api"]["base_url"]).rstrip("/")
    version = str(config["graph_api"]["api_version"])
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
                    timeout=_GRAPH_TIMEOUT_S,
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
    timed = credentials.get("use_appsecret_time")
    return proof_params(str(credentials["app_secret"]), token, int(time.time()) if timed else None)
