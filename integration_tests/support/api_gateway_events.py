"""Real-shaped API Gateway events for the receiver's Lambda handler: REST (v1) and HTTP API (v2)."""

from __future__ import annotations

import base64
from typing import Any


def v1_event(body: str, headers: dict[str, str], *, pixel_id: str, b64: bool = False) -> dict[str, Any]:
    """A REST API (v1) event posting `body` to the signed events route of `pixel_id`."""
    path = f"/v1/pixels/{pixel_id}/events"
    return {
        "resource": "/v1/pixels/{pixel_id}/events",
        "path": path,
        "httpMethod": "POST",
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"pixel_id": pixel_id},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "abc123",
            "resourcePath": "/v1/pixels/{pixel_id}/events",
            "httpMethod": "POST",
            "extendedRequestId": "Xyz=",
            "requestTime": "26/Nov/2026:08:00:00 +0000",
            "path": f"/prod{path}",
            "accountId": "123456789012",
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": "api",
            "requestTimeEpoch": 1795680000000,
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "sender/1.0"},
            "domainName": "api.example.com",
            "apiId": "1234567890",
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }


def v2_event(
    body: str,
    headers: dict[str, str],
    *,
    pixel_id: str = "",
    b64: bool = False,
    method: str = "POST",
    path: str = "",
) -> dict[str, Any]:
    """An HTTP API (v2) event: `method` on `path` (default: the signed events route of `pixel_id`)."""
    path = path or f"/v1/pixels/{pixel_id}/events"
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {name.lower(): value for name, value in headers.items()},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api-id",
            "domainName": "id.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "id",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "sender/1.0",
            },
            "requestId": "id",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "26/Nov/2026:08:00:00 +0000",
            "timeEpoch": 1795680000000,
        },
        "body": base64.b64encode(body.encode()).decode() if b64 else body,
        "isBase64Encoded": b64,
    }
