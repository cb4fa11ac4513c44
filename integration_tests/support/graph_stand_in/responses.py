"""Scripted answers for :class:`~integration_tests.support.graph_stand_in.GraphStandIn`.

Each helper returns a :class:`ScriptedResponse` shaped like what Meta sends (fact sheet §6.1,
§6.3); queue them with ``stand_in.enqueue(route, ...)``. Also home to the Graph field
projection the stand-in applies to ``fields=`` parameters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ScriptedResponse",
    "delayed",
    "graph_error",
    "html_error",
    "parse_fields",
    "project",
    "rate_limited",
    "server_error",
    "usage_headers",
]


@dataclass(frozen=True)
class ScriptedResponse:
    """One scripted answer. With ``passthrough`` the stand-in waits ``delay_seconds`` and then
    answers normally (use it to provoke client timeouts without losing the request)."""

    status: int = 200
    body: bytes | str | Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    passthrough: bool = False

    def encoded_body(self) -> bytes:
        """The body as bytes; mappings are serialized as JSON."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body).encode("utf-8")

    def content_type(self) -> str:
        """``application/json`` for mappings, else a guess from the first byte."""
        raw = self.encoded_body().lstrip()
        if isinstance(self.body, Mapping) or raw.startswith((b"{", b"[")):
            return "application/json; charset=UTF-8"
        return "text/html; charset=utf-8" if raw.startswith(b"<") else "text/plain; charset=utf-8"


def error_envelope(
    code: int,
    message: str,
    *,
    subcode: int | None = None,
    type: str = "OAuthException",
    is_transient: bool = False,
    user_title: str | None = None,
    user_msg: str | None = None,
    error_data: Mapping[str, Any] | str | None = None,
    fbtrace_id: str = "StandInTrace",
) -> dict[str, Any]:
    """The Graph error body of §6.1."""
    error: dict[str, Any] = {"message": message, "type": type, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["is_transient"] = is_transient
    if user_title is not None:
        error["error_user_title"] = user_title
    if user_msg is not None:
        error["error_user_msg"] = user_msg
    if error_data is not None:
        error["error_data"] = error_data
    error["fbtrace_id"] = fbtrace_id
    return {"error": error}


def graph_error(
    code: int,
    subcode: int | None = None,
    *,
    status: int = 400,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
    **envelope: Any,
) -> ScriptedResponse:
    """A Graph error response, e.g. ``graph_error(190, 463)`` or ``graph_error(100, 33)``."""
    text = message or f"(#{code}) Stand-in error {code}" + (f"/{subcode}" if subcode else "")
    body = error_envelope(code, text, subcode=subcode, **envelope)
    return ScriptedResponse(status, body, dict(headers or {}))


def usage_headers(
    *,
    app_pct: float | None = None,
    ad_account_pct: float | None = None,
    buc_pct: float | None = None,
    regain_minutes: float = 0,
    business_id: str = "1234567890",
    buc_type: str = "ads_management",
) -> dict[str, str]:
    """``X-App-Usage`` / ``X-Ad-Account-Usage`` / ``X-Business-Use-Case-Usage`` (§6.3)."""
    headers: dict[str, str] = {}
    if app_pct is not None:
        headers["X-App-Usage"] = json.dumps({"call_count": app_pct, "total_cputime": app_pct, "total_time": app_pct})
    if ad_account_pct is not None:
        headers["X-Ad-Account-Usage"] = json.dumps(
            {"acc_id_util_pct": ad_account_pct, "reset_time_duration": 0, "ads_api_access_tier": "standard_access"}
        )
    if buc_pct is not None or regain_minutes:
        pct = buc_pct if buc_pct is not None else 100
        entry = {
            "type": buc_type,
            "call_count": pct,
            "total_cputime": pct,
            "total_time": pct,
            "estimated_time_to_regain_access": regain_minutes,
        }
        headers["X-Business-Use-Case-Usage"] = json.dumps({business_id: [entry]})
    return headers


def rate_limited(
    code: int = 17,
    subcode: int | None = None,
    *,
    status: int = 400,
    regain_minutes: float = 0,
    usage_pct: float = 100,
) -> ScriptedResponse:
    """A throttling error (codes 4, 17, 32, 613, 80000-80014) with usage headers at ``usage_pct``."""
    headers = usage_headers(app_pct=usage_pct, buc_pct=usage_pct, regain_minutes=regain_minutes)
    messages = {
        4: "(#4) Application request limit reached",
        17: "(#17) User request limit reached",
        613: "(#613) Calls to this api have exceeded the rate limit.",
    }
    return graph_error(
        code,
        subcode,
        status=status,
        message=messages.get(code, f"(#{code}) Rate limit reached"),
        headers=headers,
        is_transient=True,
    )


def server_error(status: int = 500, code: int = 2) -> ScriptedResponse:
    """A 5xx Graph error (code 2 = service temporarily unavailable)."""
    return graph_error(
        code,
        status=status,
        message="An unexpected error has occurred. Please retry your request later.",
        is_transient=True,
    )


def html_error(status: int = 502) -> ScriptedResponse:
    """An HTML error page, as a load balancer in front of Graph sends."""
    page = f"<!DOCTYPE html><html><head><title>Error</title></head><body>{status}</body></html>"
    return ScriptedResponse(status, page)


def delayed(seconds: float) -> ScriptedResponse:
    """Wait ``seconds``, then answer normally (the request is still processed)."""
    return ScriptedResponse(delay_seconds=seconds, passthrough=True)


FieldSpec = dict[str, "FieldSpec | None"]


def parse_fields(text: str) -> FieldSpec:
    """Parse Graph's ``fields`` syntax, e.g. ``web{event_name,acr{percentage}}``.

    Raises :class:`ValueError` on unbalanced braces.
    """
    spec: FieldSpec = {}
    stack: list[FieldSpec] = [spec]
    name = ""
    for char in text + ",":
        if char in ",{}":
            name = name.strip()
            if char == "{":
                child: FieldSpec = {}
                stack[-1][name] = child
                stack.append(child)
            elif name:
                stack[-1][name] = None
            if char == "}":
                if len(stack) == 1:
                    raise ValueError(f"unbalanced braces in fields={text!r}")
                stack.pop()
            name = ""
        else:
            name += char
    if len(stack) != 1:
        raise ValueError(f"unbalanced braces in fields={text!r}")
    return spec


def project(value: Any, spec: FieldSpec | None) -> Any:
    """Keep only the requested fields of ``value`` (recursing into lists and objects)."""
    if spec is None:
        return value
    if isinstance(value, list):
        return [project(item, spec) for item in value]
    if isinstance(value, Mapping):
        return {key: project(value[key], sub) for key, sub in spec.items() if key in value}
    return value
