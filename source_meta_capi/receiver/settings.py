"""Receiver configuration from environment variables (12-factor, Lambda-friendly).

Parsed once, from an injected mapping (tests pass a dict), into a frozen `ReceiverSettings`.
Secret-bearing variables may hold a Secrets Manager reference instead of the secret
(see secret_refs.py). Every variable is listed in `ENV_VARS` with its default and meaning; the
README's table is generated from it (`meta-capi-receiver env`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Optional

from source_meta_capi.capi.events_client import DEFAULT_PARTNER_AGENT
from source_meta_capi.capi.graph_api import (
    API_VERSION_PATTERN,
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_BASE_URL,
    PIXEL_ID_RULE,
    is_pixel_id,
)
from source_meta_capi.receiver.secret_refs import SecretReferenceError, SecretResolver
from source_meta_capi.receiver.signatures import DEFAULT_TOLERANCE_S, SecretConfigError, parse_webhook_secret
from source_meta_capi.staging.store import S3Options

FORWARD_MODES = ("inline", "background", "off")
DEFAULT_STAGING_URL = "./meta-capi-staging"

# name -> (default, meaning). The single list of what the receiver reads from its environment.
ENV_VARS: dict[str, tuple[str, str]] = {
    "META_CAPI_STAGING_URL": (
        DEFAULT_STAGING_URL,
        "Where batches are staged: a local folder, file:///path or s3://bucket/prefix (same forms as the source's bucket_url).",
    ),
    "META_CAPI_S3_ENDPOINT_URL": ("", "S3-compatible endpoint (MinIO, SeaweedFS, moto); empty = AWS."),
    "META_CAPI_S3_REGION": ("", "S3 region; empty = AWS_REGION or the default chain."),
    "META_CAPI_WEBHOOK_SECRETS": (
        "",
        "Comma-separated Standard Webhooks secrets (whsec_…); several at once for rotation. May be a Secrets Manager reference.",
    ),
    "META_CAPI_HUB_SECRETS": (
        "",
        "Comma-separated app secrets for X-Hub-Signature-256. May be a Secrets Manager reference.",
    ),
    "META_CAPI_ALLOW_UNSIGNED": (
        "false",
        "Accept unsigned requests (signature_status 'unsigned'). Local demos only; refused when secrets are set.",
    ),
    "META_CAPI_SIGNATURE_TOLERANCE_S": (
        str(DEFAULT_TOLERANCE_S),
        "Largest accepted distance of webhook-timestamp from now, past and future, in seconds.",
    ),
    "META_CAPI_MAX_BODY_BYTES": (str(4 * 1024 * 1024), "Request body limit; larger bodies get 413 before being read."),
    "META_CAPI_PIXEL_IDS": ("", "Comma-separated pixel ids accepted; empty = any pixel id (digits only)."),
    "META_CAPI_ACCESS_TOKENS": (
        "",
        "Per-pixel Meta access tokens for forwarding: 'pixel=token,…' or a JSON object; the whole value or each token may be a Secrets Manager reference. Pixels without a token are staged, not forwarded.",
    ),
    "META_CAPI_APP_SECRET": (
        "",
        "Optional app secret: adds appsecret_proof to forwarded requests. May be a Secrets Manager reference.",
    ),
    "META_CAPI_GRAPH_BASE_URL": (DEFAULT_GRAPH_BASE_URL, "Graph API base URL (tests point it at a local stand-in)."),
    "META_CAPI_API_VERSION": (DEFAULT_API_VERSION, "Graph API version used for forwarding."),
    "META_CAPI_PARTNER_AGENT": (DEFAULT_PARTNER_AGENT, "partner_agent sent to Meta when the caller sent none."),
    "META_CAPI_FORWARD_MODE": (
        "auto",
        "inline (forward before answering, bounded by META_CAPI_FORWARD_DEADLINE_S; Lambda), background (a worker thread; containers), off (the redrive job forwards), auto = inline on Lambda, background elsewhere.",
    ),
    "META_CAPI_FORWARD_DEADLINE_S": (
        "3",
        "inline mode: time budget for forwarding before the answer; what is not delivered by then is left to redrive.",
    ),
    "META_CAPI_FORWARD_BATCH_DEADLINE_S": (
        "60",
        "background mode and redrive: time budget per batch (retries included).",
    ),
    "META_CAPI_FORWARD_TIMEOUT_S": ("1.5", "HTTP timeout per request to Meta (Meta suggests 1.5 s)."),
    "META_CAPI_FORWARD_MAX_ATTEMPTS": (
        "5",
        "Tries per request to Meta before the events are dead-lettered (replayable).",
    ),
    "META_CAPI_FORWARD_QUEUE_SIZE": (
        "1000",
        "background mode: batches waiting to be forwarded; when full, batches are left to redrive.",
    ),
    "META_CAPI_FORWARD_MAX_START_AGE_S": (
        "120",
        "background mode: a queued batch older than this is left to redrive instead of sent.",
    ),
    "META_CAPI_DEFAULT_COUNTRY": (
        "",
        "ISO alpha-2 country used to normalize phone numbers and ZIPs when an event has no country.",
    ),
    "META_CAPI_PSEUDONYMIZE_SALT": (
        "",
        "Secret salt: staged events carry HMAC(salt, hash) identifiers instead of Meta's hashes. Trade-off: such events cannot be replayed to Meta from the bucket; only their dead letters (kept with Meta's hashes) can. May be a Secrets Manager reference.",
    ),
    "META_CAPI_COMMIT_DEADLINE_S": (
        "30",
        "A staged object must commit within this many seconds of its arrival stamp or is abandoned (503). Keep the source's settle_seconds above it.",
    ),
    "META_CAPI_GROUP_COMMIT_MAX_EVENTS": ("5000", "Most events one group-committed object holds."),
    "META_CAPI_GROUP_COMMIT_LINGER_MS": (
        "0",
        "Extra wait for more requests to join a group commit; 0 = only those arriving while a write is in flight.",
    ),
    "META_CAPI_IO_THREADS": ("32", "Threads for store I/O (claims, commits, lookups)."),
    "META_CAPI_WRITER_ID": ("", "Writer id in object names ([a-z0-9], ≤32); empty = host + pid + random."),
    "META_CAPI_REDRIVE_MIN_AGE_S": (
        "600",
        "redrive: only batches staged at least this long ago (the receiver's own forwarding is over by then).",
    ),
    "META_CAPI_LOG_LEVEL": ("INFO", "Log level of the JSON logs."),
    "META_CAPI_SECRETS_ENDPOINT_URL": ("", "Secrets Manager endpoint override (tests)."),
    "META_CAPI_HOST": ("127.0.0.1", "serve: bind address (0.0.0.0 in a container)."),
    "META_CAPI_PORT": ("8080", "serve: port."),
}

_WRITER = re.compile(r"[a-z0-9]{1,32}")


class SettingsError(ValueError):
    """A variable is missing or invalid; the message names it and never contains a secret."""


@dataclass(frozen=True)
class ReceiverSettings:
    """Everything the receiver is configured with. Secrets are resolved values: never log this."""

    staging_url: str = DEFAULT_STAGING_URL
    s3: S3Options = field(default_factory=S3Options)
    webhook_keys: tuple[bytes, ...] = ()
    hub_secrets: tuple[str, ...] = ()
    allow_unsigned: bool = False
    signature_tolerance_s: int = DEFAULT_TOLERANCE_S
    max_body_bytes: int = 4 * 1024 * 1024
    pixel_ids: frozenset[str] = frozenset()
    access_tokens: Mapping[str, str] = field(default_factory=dict)
    app_secret: Optional[str] = None
    graph_base_url: str = DEFAULT_GRAPH_BASE_URL
    api_version: str = DEFAULT_API_VERSION
    partner_agent: str = DEFAULT_PARTNER_AGENT
    forward_mode: str = "background"
    forward_deadline_s: float = 3.0
    forward_batch_deadline_s: float = 60.0
    forward_timeout_s: float = 1.5
    forward_max_attempts: int = 5
    forward_queue_size: int = 1000
    forward_max_start_age_s: float = 120.0
    default_country: Optional[str] = None
    pseudonymize_salt: Optional[str] = None
    commit_deadline_s: float = 30.0
    group_commit_max_events: int = 5000
    group_commit_linger_ms: int = 0
    io_threads: int = 32
    writer_id: Optional[str] = None
    redrive_min_age_s: float = 600.0
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8080

    def __repr__(self) -> str:
        # Dataclass reprs end up in tracebacks and logs; keep secrets out of them.
        return f"ReceiverSettings(staging_url={self.staging_url!r}, forward_mode={self.forward_mode!r}, pixels={sorted(self.pixel_ids)!r})"

    def allows_pixel(self, pixel_id: str) -> bool:
        """Whether requests for `pixel_id` are accepted (any pixel when no allowlist is set)."""
        return not self.pixel_ids or pixel_id in self.pixel_ids

    def access_token(self, pixel_id: str) -> Optional[str]:
        """The token used to forward `pixel_id`'s events, if forwarding is configured for it."""
        return self.access_tokens.get(pixel_id)


def load_settings(environ: Mapping[str, str], resolver: Optional[SecretResolver] = None) -> ReceiverSettings:
    """Parse and validate the receiver's environment; raises SettingsError naming the variable."""
    env = _Env(environ, resolver or SecretResolver(environ))
    webhook_keys: list[bytes] = []
    for position, secret in enumerate(env.secret_csv("META_CAPI_WEBHOOK_SECRETS")):
        try:
            webhook_keys.append(parse_webhook_secret(secret, position))
        except SecretConfigError as error:
            raise SettingsError(f"META_CAPI_WEBHOOK_SECRETS: {error}") from error
    hub_secrets = tuple(env.secret_csv("META_CAPI_HUB_SECRETS"))
    allow_unsigned = env.boolean("META_CAPI_ALLOW_UNSIGNED")
    if allow_unsigned and (webhook_keys or hub_secrets):
        # Accepting unsigned requests beside secrets would make every signature optional.
        raise SettingsError("META_CAPI_ALLOW_UNSIGNED=true cannot be combined with webhook or hub secrets")
    pixel_ids = frozenset(env.csv("META_CAPI_PIXEL_IDS"))
    for pixel in pixel_ids:
        if not is_pixel_id(pixel):
            raise SettingsError(f"META_CAPI_PIXEL_IDS: {pixel!r} is not a pixel id ({PIXEL_ID_RULE})")
    mode = env.text("META_CAPI_FORWARD_MODE").lower()
    on_lambda = bool(environ.get("AWS_LAMBDA_FUNCTION_NAME"))
    if mode == "auto":
        mode = "inline" if on_lambda else "background"
    if mode not in FORWARD_MODES:
        raise SettingsError(f"META_CAPI_FORWARD_MODE must be one of auto, {', '.join(FORWARD_MODES)}; got {mode!r}")
    if mode == "background" and on_lambda:
        raise SettingsError(
            "META_CAPI_FORWARD_MODE=background is not possible on Lambda (nothing runs after the response): use inline or off"
        )
    country = env.text("META_CAPI_DEFAULT_COUNTRY").lower() or None
    if country is not None and not re.fullmatch(r"[a-z]{2}", country):
        raise SettingsError(f"META_CAPI_DEFAULT_COUNTRY must be an ISO 3166 alpha-2 code like 'us', got {country!r}")
    writer_id = env.text("META_CAPI_WRITER_ID") or None
    if writer_id is not None and not _WRITER.fullmatch(writer_id):
        raise SettingsError("META_CAPI_WRITER_ID must be 1-32 characters of [a-z0-9]")
    api_version = env.text("META_CAPI_API_VERSION")
    if not API_VERSION_PATTERN.fullmatch(api_version):
        raise SettingsError(f"META_CAPI_API_VERSION must look like v26.0, got {api_version!r}")
    commit_deadline = env.number("META_CAPI_COMMIT_DEADLINE_S", minimum=1)
    return ReceiverSettings(
        staging_url=env.text("META_CAPI_STAGING_URL") or DEFAULT_STAGING_URL,
        s3=S3Options(
            region=env.text("META_CAPI_S3_REGION")
            or environ.get("AWS_REGION")
            or environ.get("AWS_DEFAULT_REGION")
            or None,
            endpoint_url=env.text("META_CAPI_S3_ENDPOINT_URL") or None,
            aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY") or None,
            # A PUT that hangs must fail well inside the commit deadline.
            read_timeout_s=min(10.0, commit_deadline / 3),
        ),
        webhook_keys=tuple(webhook_keys),
        hub_secrets=hub_secrets,
        allow_unsigned=allow_unsigned,
        signature_tolerance_s=int(env.number("META_CAPI_SIGNATURE_TOLERANCE_S", minimum=1)),
        max_body_bytes=int(env.number("META_CAPI_MAX_BODY_BYTES", minimum=1024)),
        pixel_ids=pixel_ids,
        access_tokens=_access_tokens(env),
        app_secret=env.secret("META_CAPI_APP_SECRET") or None,
        graph_base_url=env.text("META_CAPI_GRAPH_BASE_URL").rstrip("/"),
        api_version=api_version,
        partner_agent=env.text("META_CAPI_PARTNER_AGENT"),
        forward_mode=mode,
        forward_deadline_s=env.number("META_CAPI_FORWARD_DEADLINE_S", minimum=0.1),
        forward_batch_deadline_s=env.number("META_CAPI_FORWARD_BATCH_DEADLINE_S", minimum=1),
        forward_timeout_s=env.number("META_CAPI_FORWARD_TIMEOUT_S", minimum=0.05),
        forward_max_attempts=int(env.number("META_CAPI_FORWARD_MAX_ATTEMPTS", minimum=1)),
        forward_queue_size=int(env.number("META_CAPI_FORWARD_QUEUE_SIZE", minimum=1)),
        forward_max_start_age_s=env.number("META_CAPI_FORWARD_MAX_START_AGE_S", minimum=1),
        default_country=country,
        pseudonymize_salt=env.secret("META_CAPI_PSEUDONYMIZE_SALT") or None,
        commit_deadline_s=commit_deadline,
        group_commit_max_events=int(env.number("META_CAPI_GROUP_COMMIT_MAX_EVENTS", minimum=1000)),
        group_commit_linger_ms=int(env.number("META_CAPI_GROUP_COMMIT_LINGER_MS", minimum=0)),
        io_threads=int(env.number("META_CAPI_IO_THREADS", minimum=1)),
        writer_id=writer_id,
        redrive_min_age_s=env.number("META_CAPI_REDRIVE_MIN_AGE_S", minimum=0),
        log_level=env.text("META_CAPI_LOG_LEVEL").upper(),
        host=env.text("META_CAPI_HOST"),
        port=int(env.number("META_CAPI_PORT", minimum=0)),
    )


class _Env:
    """Typed access to the variables, with defaults from ENV_VARS and errors naming the variable."""

    def __init__(self, environ: Mapping[str, str], resolver: SecretResolver) -> None:
        self._environ = environ
        self._resolver = resolver

    def text(self, name: str) -> str:
        value = self._environ.get(name)
        return (value if value is not None else ENV_VARS[name][0]).strip()

    def secret(self, name: str) -> str:
        value = self.text(name)
        try:
            return self._resolver.resolve(name, value).strip() if value else ""
        except SecretReferenceError as error:
            raise SettingsError(str(error)) from error

    def csv(self, name: str) -> list[str]:
        return [item.strip() for item in self.text(name).split(",") if item.strip()]

    def secret_csv(self, name: str) -> list[str]:
        # The reference may name one secret holding the whole comma-separated list.
        return [item.strip() for item in self.secret(name).split(",") if item.strip()]

    def boolean(self, name: str) -> bool:
        value = self.text(name).lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("", "0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {value!r}")

    def number(self, name: str, minimum: float) -> float:
        value = self.text(name)
        try:
            number = float(value)
        except ValueError as error:
            raise SettingsError(f"{name} must be a number, got {value!r}") from error
        if not number >= minimum:  # also refuses NaN
            raise SettingsError(f"{name} must be at least {minimum:g}, got {value!r}")
        return number

    def resolve(self, name: str, value: str) -> str:
        try:
            return self._resolver.resolve(name, value)
        except SecretReferenceError as error:
            raise SettingsError(str(error)) from error


def _access_tokens(env: _Env) -> dict[str, str]:
    name = "META_CAPI_ACCESS_TOKENS"
    text = env.secret(name)
    if not text:
        return {}
    pairs: list[tuple[str, str]]
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise SettingsError(f"{name} looks like JSON but does not parse") from error
        if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
            raise SettingsError(f"{name} must be a JSON object of pixel id -> token string")
        pairs = [(str(k).strip(), v.strip()) for k, v in document.items()]
    else:
        pairs = []
        for position, item in enumerate(part for part in text.split(",") if part.strip()):
            pixel, equals, token = item.partition("=")
            if not equals:
                raise SettingsError(f"{name}: entry {position + 1} is not pixel_id=token")
            pairs.append((pixel.strip(), token.strip()))
    tokens: dict[str, str] = {}
    for pixel, token in pairs:
        if not is_pixel_id(pixel):
            raise SettingsError(f"{name}: {pixel!r} is not a pixel id ({PIXEL_ID_RULE})")
        if not token:
            raise SettingsError(f"{name}: the token for pixel {pixel} is empty")
        tokens[pixel] = env.resolve(f"{name}[{pixel}]", token)
    return tokens
