"""Receiver configuration from environment variables (12-factor, Lambda-friendly).

`ReceiverSettings` is the one declaration of every setting: each field carries its variable
(the alias), default, meaning and bounds. `load_settings` parses an injected mapping (tests pass a
dict) into a frozen instance; the `meta-capi-receiver env` table is generated from the fields
(`env_table_markdown`). A variable that is unset or blank takes its default.

Secret-bearing variables may hold a Secrets Manager reference instead of the secret (see
secret_refs.py); the resolver comes in through the validation context. Errors are SettingsError
naming the variable, and never carry a secret's value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from source_meta_capi.capi.events_client import DEFAULT_PARTNER_AGENT
from source_meta_capi.capi.graph_api import (
    API_VERSION_PATTERN,
    DEFAULT_API_VERSION,
    DEFAULT_GRAPH_BASE_URL,
    PIXEL_ID_RULE,
    is_pixel_id,
)
from source_meta_capi.receiver.schema_registry import DEFAULT_REGISTRY as DEFAULT_SCHEMA_REGISTRY
from source_meta_capi.receiver.secret_refs import SecretReferenceError, SecretResolver, is_secret_reference
from source_meta_capi.receiver.signatures import (
    DEFAULT_TOLERANCE_S,
    PIXEL_BINDING_MODES,
    SecretConfigError,
    parse_webhook_secret,
)
from source_meta_capi.staging.store import S3Options

FORWARD_MODES = ("inline", "background", "off")
INTAKE_MODES = ("direct", "queue")
DEFAULT_STAGING_URL = "./meta-capi-staging"
# META_CAPI_TEST_EVENT_PIXELS value meaning every pixel; the default, so senders that pass
# test_event_code keep working until an operator lists the test pixels.
ALL_PIXELS = "*"
ENV_PREFIX = "META_CAPI_"

_WRITER = re.compile(r"[a-z0-9]{1,32}")
_COUNTRY = re.compile(r"[a-z]{2}")
_SCHEMA_VERSION = re.compile(r"[1-9][0-9]{0,5}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Key of the field metadata marking a variable whose value is secret (and may be a reference).
_SECRET = "secret"


class SettingsError(ValueError):
    """A variable is missing or invalid; the message names it and never contains a secret."""


def _env(
    name: str | AliasChoices,
    default: Any,
    description: str,
    *,
    secret: bool = False,
    ge: Optional[float] = None,
    le: Optional[float] = None,
    validate_default: Optional[bool] = None,
) -> Any:
    """A field read from variable `name` (or the first set of several names)."""
    return Field(
        default,
        validation_alias=name,
        description=description,
        ge=ge,
        le=le,
        repr=not secret,
        validate_default=validate_default,
        json_schema_extra={_SECRET: True} if secret else None,
    )


class ReceiverSettings(BaseModel):
    """Everything the receiver is configured with. Secrets are resolved values: never log this.

    Built by `load_settings` from variables, or directly by field name (tests), where a secret
    field also accepts its parsed form (`webhook_keys=(key,)`, `access_tokens={pixel: token}`).
    """

    model_config = ConfigDict(
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        allow_inf_nan=False,
        str_strip_whitespace=True,
    )

    staging_url: str = _env(
        "META_CAPI_STAGING_URL",
        DEFAULT_STAGING_URL,
        "Where batches are staged: a local folder, file:///path or s3://bucket/prefix (same forms as the source's bucket_url).",
    )
    s3_endpoint_url: Optional[str] = _env(
        "META_CAPI_S3_ENDPOINT_URL", None, "S3-compatible endpoint (MinIO, SeaweedFS, moto); empty = AWS."
    )
    s3_region: Optional[str] = _env(
        AliasChoices("META_CAPI_S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
        None,
        "S3 region; empty = AWS_REGION or the default chain.",
    )
    # The platform's own credential variables, copied so that an injected environment (not only
    # os.environ) reaches the S3 client.
    aws_access_key_id: Optional[str] = _env("AWS_ACCESS_KEY_ID", None, "AWS access key id.", secret=True)
    aws_secret_access_key: Optional[str] = _env("AWS_SECRET_ACCESS_KEY", None, "AWS secret key.", secret=True)
    lambda_function_name: Optional[str] = _env(
        "AWS_LAMBDA_FUNCTION_NAME", None, "Set by Lambda: forwarding auto becomes inline."
    )
    webhook_keys: tuple[bytes, ...] = _env(
        "META_CAPI_WEBHOOK_SECRETS",
        (),
        "Comma-separated Standard Webhooks secrets (whsec_…); several at once for rotation. May be a Secrets Manager reference.",
        secret=True,
    )
    hub_secrets: tuple[str, ...] = _env(
        "META_CAPI_HUB_SECRETS",
        (),
        "Comma-separated app secrets for X-Hub-Signature-256. May be a Secrets Manager reference.",
        secret=True,
    )
    webhook_keys_by_pixel: Mapping[str, tuple[bytes, ...]] = _env(
        "META_CAPI_WEBHOOK_SECRETS_BY_PIXEL",
        {},
        "Standard Webhooks secrets of single pixels: pixel_id=whsec_…|whsec_…,pixel_id=… (or a JSON object of pixel id -> secret or list). A listed pixel is verified with its own secrets only, which binds signatures to it. May be a Secrets Manager reference.",
        secret=True,
    )
    hub_secrets_by_pixel: Mapping[str, tuple[str, ...]] = _env(
        "META_CAPI_HUB_SECRETS_BY_PIXEL",
        {},
        "X-Hub-Signature-256 app secrets of single pixels, same form as META_CAPI_WEBHOOK_SECRETS_BY_PIXEL. May be a Secrets Manager reference.",
        secret=True,
    )
    signature_pixel_binding: str = _env(
        "META_CAPI_SIGNATURE_PIXEL_BINDING",
        "off",
        "strict: accept only signatures bound to the path's pixel (a secret of that pixel, or webhook-id '<pixel_id>:…'); off: also accept shared secrets without the pixel (a captured request can be replayed to another pixel). The default becomes strict in the next major version.",
    )
    allow_unsigned: bool = _env(
        "META_CAPI_ALLOW_UNSIGNED",
        False,
        "Accept unsigned requests (signature_status 'unsigned'). Local demos only; refused when secrets are set.",
    )
    signature_tolerance_s: int = _env(
        "META_CAPI_SIGNATURE_TOLERANCE_S",
        DEFAULT_TOLERANCE_S,
        "Largest accepted distance of webhook-timestamp from now, past and future, in seconds.",
        ge=1,
    )
    max_body_bytes: int = _env(
        "META_CAPI_MAX_BODY_BYTES",
        4 * 1024 * 1024,
        "Request body limit; larger bodies get 413 before being read.",
        ge=1024,
    )
    body_timeout_s: float = _env(
        "META_CAPI_BODY_TIMEOUT_S",
        30.0,
        "Longest wait for a request's whole body once its headers arrived; slower bodies get 408.",
        ge=0.1,
    )
    pixel_ids: frozenset[str] = _env(
        "META_CAPI_PIXEL_IDS", frozenset(), "Comma-separated pixel ids accepted; empty = any pixel id (digits only)."
    )
    test_event_pixels: frozenset[str] = _env(
        "META_CAPI_TEST_EVENT_PIXELS",
        ALL_PIXELS,
        "Pixels allowed to receive test events (requests with test_event_code): comma-separated pixel ids, or * for every pixel. Production deployments should list only their test pixels: a test_event_code for any other pixel is refused per event (422 when nothing is left) and dead-lettered.",
        validate_default=True,
    )
    access_tokens: Mapping[str, str] = _env(
        "META_CAPI_ACCESS_TOKENS",
        {},
        "Per-pixel Meta access tokens for forwarding, also the token the Graph-compatible intake accepts for the pixel: 'pixel=token,…' or a JSON object; the whole value or each token may be a Secrets Manager reference. Pixels without a token are staged, not forwarded.",
        secret=True,
    )
    app_secret: Optional[str] = _env(
        "META_CAPI_APP_SECRET",
        None,
        "Optional app secret: adds appsecret_proof to forwarded requests, and the Graph-compatible intake then requires a valid one. May be a Secrets Manager reference.",
        secret=True,
    )
    graph_base_url: str = _env(
        "META_CAPI_GRAPH_BASE_URL", DEFAULT_GRAPH_BASE_URL, "Graph API base URL (tests point it at a local stand-in)."
    )
    api_version: str = _env("META_CAPI_API_VERSION", DEFAULT_API_VERSION, "Graph API version used for forwarding.")
    partner_agent: str = _env(
        "META_CAPI_PARTNER_AGENT", DEFAULT_PARTNER_AGENT, "partner_agent sent to Meta when the caller sent none."
    )
    forward_mode: str = _env(
        "META_CAPI_FORWARD_MODE",
        "auto",
        "inline (forward before answering, bounded by META_CAPI_FORWARD_DEADLINE_S; Lambda), background (a worker thread; containers), off (the redrive job forwards), auto = inline on Lambda, background elsewhere.",
        validate_default=True,
    )
    intake_mode: str = _env(
        "META_CAPI_INTAKE_MODE",
        "direct",
        "direct (each request, or group of concurrent requests, writes its own staging object) or queue (Lambda at scale: each request is one SQS message, staged and forwarded in batches by the batch Lambda; docs/deploy.md).",
    )
    queue_url: Optional[str] = _env(
        "META_CAPI_QUEUE_URL", None, "queue intake mode: the SQS queue URL the API Lambda sends each request to."
    )
    sqs_endpoint_url: Optional[str] = _env(
        "META_CAPI_SQS_ENDPOINT_URL", None, "SQS-compatible endpoint (moto in tests); empty = AWS."
    )
    queue_max_message_bytes: int = _env(
        "META_CAPI_QUEUE_MAX_MESSAGE_BYTES",
        256 * 1024,
        "queue intake mode: largest message sent; a larger request is staged directly (one S3 write), as in direct mode.",
        ge=1024,
        le=1024 * 1024,
    )
    forward_deadline_s: float = _env(
        "META_CAPI_FORWARD_DEADLINE_S",
        3.0,
        "inline mode: time budget for forwarding before the answer; what is not delivered by then is left to redrive.",
        ge=0.1,
    )
    forward_batch_deadline_s: float = _env(
        "META_CAPI_FORWARD_BATCH_DEADLINE_S",
        60.0,
        "background mode and redrive: time budget per batch (retries included).",
        ge=1,
    )
    forward_timeout_s: float = _env(
        "META_CAPI_FORWARD_TIMEOUT_S", 1.5, "HTTP timeout per request to Meta (Meta suggests 1.5 s).", ge=0.05
    )
    forward_max_attempts: int = _env(
        "META_CAPI_FORWARD_MAX_ATTEMPTS",
        5,
        "Tries per request to Meta before the events are dead-lettered (replayable).",
        ge=1,
    )
    forward_queue_size: int = _env(
        "META_CAPI_FORWARD_QUEUE_SIZE",
        1000,
        "background mode: batches waiting to be forwarded; when full, batches are left to redrive.",
        ge=1,
    )
    forward_max_start_age_s: float = _env(
        "META_CAPI_FORWARD_MAX_START_AGE_S",
        120.0,
        "background mode: a queued batch older than this is left to redrive instead of sent.",
        ge=1,
    )
    default_country: Optional[str] = _env(
        "META_CAPI_DEFAULT_COUNTRY",
        None,
        "ISO alpha-2 country used to normalize phone numbers and ZIPs when an event has no country.",
    )
    pseudonymize_salt: Optional[str] = _env(
        "META_CAPI_PSEUDONYMIZE_SALT",
        None,
        "Secret salt: staged events carry HMAC(salt, hash) identifiers instead of Meta's hashes. Trade-off: such events cannot be replayed to Meta from the bucket; only their dead letters (kept with Meta's hashes) can. May be a Secrets Manager reference.",
        secret=True,
    )
    commit_deadline_s: float = _env(
        "META_CAPI_COMMIT_DEADLINE_S",
        30.0,
        "A staged object must commit within this many seconds of its arrival stamp or is abandoned (503). Keep the source's settle_seconds above it.",
        ge=1,
    )
    group_commit_max_events: int = _env(
        "META_CAPI_GROUP_COMMIT_MAX_EVENTS", 5000, "Most events one group-committed object holds.", ge=1000
    )
    group_commit_linger_ms: int = _env(
        "META_CAPI_GROUP_COMMIT_LINGER_MS",
        0,
        "Extra wait for more requests to join a group commit; 0 = only those arriving while a write is in flight.",
        ge=0,
    )
    io_threads: int = _env("META_CAPI_IO_THREADS", 32, "Threads for store I/O (object commits).", ge=1)
    writer_id: Optional[str] = _env(
        "META_CAPI_WRITER_ID", None, "Writer id in object names ([a-z0-9], ≤32); empty = host + pid + random."
    )
    redrive_min_age_s: float = _env(
        "META_CAPI_REDRIVE_MIN_AGE_S",
        600.0,
        "redrive: only batches staged at least this long ago (the receiver's own forwarding is over by then).",
        ge=0,
    )
    log_level: str = _env("META_CAPI_LOG_LEVEL", "INFO", "Log level of the JSON logs.")
    schema_registry: str = _env(
        "META_CAPI_SCHEMA_REGISTRY",
        DEFAULT_SCHEMA_REGISTRY,
        "schemas publish/check: the AWS Glue Schema Registry holding the delivered_events, delivery_statuses and dead_letters schemas.",
    )
    schema_version: Optional[str] = _env(
        "META_CAPI_SCHEMA_VERSION",
        None,
        "The registered version of delivered_events this deployment writes: Glue's schema version id (the stack sets it) or a version number. Named in the schema-drift log line.",
    )
    # Read by SecretResolver from the same environment, before the other settings are parsed.
    secrets_endpoint_url: Optional[str] = _env(
        "META_CAPI_SECRETS_ENDPOINT_URL", None, "Secrets Manager endpoint override (tests)."
    )
    host: str = _env("META_CAPI_HOST", "127.0.0.1", "serve: bind address (0.0.0.0 in a container).")
    port: int = _env("META_CAPI_PORT", 8080, "serve: port.", ge=0, le=65535)

    def __repr__(self) -> str:
        # Reprs end up in tracebacks and logs; keep secrets out of them.
        return f"ReceiverSettings(staging_url={self.staging_url!r}, forward_mode={self.forward_mode!r}, pixels={sorted(self.pixel_ids)!r})"

    __str__ = __repr__

    @property
    def s3(self) -> S3Options:
        """The S3 options of the staging store."""
        return S3Options(
            region=self.s3_region,
            endpoint_url=self.s3_endpoint_url,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            # A PUT that hangs must fail well inside the commit deadline.
            read_timeout_s=min(10.0, self.commit_deadline_s / 3),
        )

    def allows_pixel(self, pixel_id: str) -> bool:
        """Whether requests for `pixel_id` are accepted (any pixel when no allowlist is set)."""
        return not self.pixel_ids or pixel_id in self.pixel_ids

    def allows_test_events(self, pixel_id: str) -> bool:
        """Whether requests with a test_event_code are accepted for `pixel_id`."""
        return ALL_PIXELS in self.test_event_pixels or pixel_id in self.test_event_pixels

    def access_token(self, pixel_id: str) -> Optional[str]:
        """The token used to forward `pixel_id`'s events, if forwarding is configured for it."""
        return self.access_tokens.get(pixel_id)

    @field_validator("webhook_keys", mode="before")
    @classmethod
    def _parse_webhook_secrets(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        keys = []
        for position, secret in enumerate(_csv(_resolve(info, "META_CAPI_WEBHOOK_SECRETS", value))):
            try:
                keys.append(parse_webhook_secret(secret, position))
            except SecretConfigError as error:
                raise ValueError(str(error)) from None
        return tuple(keys)

    @field_validator("webhook_keys_by_pixel", mode="before")
    @classmethod
    def _parse_webhook_secrets_by_pixel(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        parsed: dict[str, tuple[bytes, ...]] = {}
        for pixel, secrets in _secrets_by_pixel(info, "META_CAPI_WEBHOOK_SECRETS_BY_PIXEL", value).items():
            try:
                parsed[pixel] = tuple(parse_webhook_secret(secret, position) for position, secret in enumerate(secrets))
            except SecretConfigError as error:
                raise ValueError(f"pixel {pixel}: {error}") from None
        return parsed

    @field_validator("hub_secrets_by_pixel", mode="before")
    @classmethod
    def _parse_hub_secrets_by_pixel(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return {
            pixel: tuple(secrets)
            for pixel, secrets in _secrets_by_pixel(info, "META_CAPI_HUB_SECRETS_BY_PIXEL", value).items()
        }

    @field_validator("signature_pixel_binding")
    @classmethod
    def _check_pixel_binding(cls, value: str) -> str:
        mode = value.lower()
        if mode not in PIXEL_BINDING_MODES:
            raise ValueError(f"must be one of {', '.join(PIXEL_BINDING_MODES)}")
        return mode

    @field_validator("hub_secrets", mode="before")
    @classmethod
    def _parse_hub_secrets(cls, value: Any, info: ValidationInfo) -> Any:
        return tuple(_csv(_resolve(info, "META_CAPI_HUB_SECRETS", value))) if isinstance(value, str) else value

    @field_validator("app_secret", "pseudonymize_salt", mode="before")
    @classmethod
    def _resolve_secret(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, str):
            return value
        return _resolve(info, _variable(info.field_name or ""), value).strip() or None

    @field_validator("allow_unsigned", mode="before")
    @classmethod
    def _parse_boolean(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("", "0", "false", "no", "off"):
            return False
        raise ValueError("must be true or false")

    @field_validator("pixel_ids", mode="before")
    @classmethod
    def _parse_pixel_ids(cls, value: Any) -> Any:
        return frozenset(_csv(value)) if isinstance(value, str) else value

    @field_validator("pixel_ids")
    @classmethod
    def _check_pixel_ids(cls, value: frozenset[str]) -> frozenset[str]:
        for pixel in value:
            if not is_pixel_id(pixel):
                raise ValueError(f"{pixel!r} is not a pixel id ({PIXEL_ID_RULE})")
        return value

    @field_validator("test_event_pixels", mode="before")
    @classmethod
    def _parse_test_event_pixels(cls, value: Any) -> Any:
        return frozenset(_csv(value)) if isinstance(value, str) else value

    @field_validator("test_event_pixels")
    @classmethod
    def _check_test_event_pixels(cls, value: frozenset[str]) -> frozenset[str]:
        for pixel in value:
            if pixel != ALL_PIXELS and not is_pixel_id(pixel):
                raise ValueError(f"{pixel!r} is neither a pixel id ({PIXEL_ID_RULE}) nor {ALL_PIXELS}")
        return value

    @field_validator("access_tokens", mode="before")
    @classmethod
    def _parse_access_tokens(cls, value: Any, info: ValidationInfo) -> Any:
        return _access_tokens(info, value) if isinstance(value, str) else value

    @field_validator("graph_base_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("api_version")
    @classmethod
    def _check_api_version(cls, value: str) -> str:
        if not API_VERSION_PATTERN.fullmatch(value):
            raise ValueError("must look like v26.0")
        return value

    @field_validator("forward_mode")
    @classmethod
    def _resolve_forward_mode(cls, value: str, info: ValidationInfo) -> str:
        mode = value.lower()
        on_lambda = bool(info.data.get("lambda_function_name"))
        if mode == "auto":
            return "inline" if on_lambda else "background"
        if mode not in FORWARD_MODES:
            raise ValueError(f"must be one of auto, {', '.join(FORWARD_MODES)}")
        if mode == "background" and on_lambda:
            raise ValueError(
                "background is not possible on Lambda (nothing runs after the response): use inline or off"
            )
        return mode

    @field_validator("intake_mode")
    @classmethod
    def _check_intake_mode(cls, value: str) -> str:
        mode = value.lower()
        if mode not in INTAKE_MODES:
            raise ValueError(f"must be one of {', '.join(INTAKE_MODES)}")
        return mode

    @field_validator("default_country")
    @classmethod
    def _check_country(cls, value: Optional[str]) -> Optional[str]:
        country = value.lower() if value else None
        if country is not None and not _COUNTRY.fullmatch(country):
            raise ValueError("must be an ISO 3166 alpha-2 code like 'us'")
        return country

    @field_validator("writer_id")
    @classmethod
    def _check_writer_id(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _WRITER.fullmatch(value):
            raise ValueError("must be 1-32 characters of [a-z0-9]")
        return value

    @field_validator("schema_version")
    @classmethod
    def _check_schema_version(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _SCHEMA_VERSION.fullmatch(value):
            raise ValueError("must be a Glue schema version id or a version number")
        return value

    @field_validator("log_level")
    @classmethod
    def _upper_log_level(cls, value: str) -> str:
        return value.upper()

    @model_validator(mode="after")
    def _check_queue_url(self) -> ReceiverSettings:
        if self.intake_mode == "queue" and not self.queue_url:
            raise ValueError("META_CAPI_INTAKE_MODE=queue needs META_CAPI_QUEUE_URL")
        if self.intake_mode == "queue" and not self.lambda_function_name:
            # Off Lambda, group commit already shares one write between concurrent requests.
            raise ValueError(
                "META_CAPI_INTAKE_MODE=queue is for Lambda; the container batches with group commit (direct)"
            )
        return self

    @model_validator(mode="after")
    def _check_unsigned_alone(self) -> ReceiverSettings:
        if self.allow_unsigned and (
            self.webhook_keys or self.hub_secrets or self.webhook_keys_by_pixel or self.hub_secrets_by_pixel
        ):
            # Accepting unsigned requests beside secrets would make every signature optional.
            raise ValueError("META_CAPI_ALLOW_UNSIGNED=true cannot be combined with webhook or hub secrets")
        return self


@dataclass(frozen=True)
class EnvVariable:
    """One variable of the receiver's environment, as `meta-capi-receiver env` lists it."""

    name: str
    default: str  # as it would be written in the environment; "" when there is none
    description: str
    secret: bool


def environment_variables() -> tuple[EnvVariable, ...]:
    """The receiver's own variables (META_CAPI_*), in declaration order."""
    found = []
    for field in ReceiverSettings.model_fields.values():
        name = _names(field.validation_alias)[0]
        if not name.startswith(ENV_PREFIX):
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        found.append(EnvVariable(name, _env_text(field.default), field.description or "", bool(extra.get(_SECRET))))
    return tuple(found)


def env_table_markdown() -> str:
    """The Markdown table of the variables (`meta-capi-receiver env`, the README's table)."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for variable in environment_variables():
        default = f"`{variable.default}`" if variable.default else "—"
        lines.append(f"| `{variable.name}` | {default} | {variable.description} |")
    return "\n".join(lines) + "\n"


def load_settings(environ: Mapping[str, str], resolver: Optional[SecretResolver] = None) -> ReceiverSettings:
    """Parse and validate the receiver's environment; raises SettingsError naming the variable."""
    given = {name: value.strip() for name, value in environ.items() if name in _VARIABLES and value.strip()}
    try:
        return ReceiverSettings.model_validate(given, context={"resolver": resolver or SecretResolver(environ)})
    except ValidationError as error:
        # `from None`: the ValidationError's own text carries the offending input, maybe a secret.
        raise SettingsError(_redact(_describe(error), given)) from None


# Shorter pieces of a secret variable (a pixel id, "v1") are not worth hiding and too common to.
_MIN_REDACTED = 6


def _redact(message: str, given: Mapping[str, str]) -> str:
    """`message` with every piece of every secret variable's value replaced (issue 14, finding 6).

    The validators never quote a secret variable; this is the second line, for a message that
    would (a token pasted where the pixel id goes, quoted as the "pixel id")."""
    pieces: set[str] = set()
    for variable in _SECRET_VARIABLES:
        value = given.get(variable)
        if not value:
            continue
        if is_secret_reference(value):
            continue  # a Secrets Manager reference names a secret, it is none: errors quote it
        pieces.add(value)
        for item in value.split(","):
            # `pixel=secretsmanager:…` entries are references too.
            if is_secret_reference(item.partition("=")[2].strip()):
                continue
            pieces.update(piece.strip(" \t\"'{}[]:") for piece in re.split(r"[,=:#|\s]+", item))
    for piece in sorted((p for p in pieces if len(p) >= _MIN_REDACTED), key=len, reverse=True):
        message = message.replace(piece, "[redacted]")
    return message


def _describe(error: ValidationError) -> str:
    fields = ReceiverSettings.model_fields
    messages = []
    for problem in error.errors(include_url=False, include_input=True):
        location = problem["loc"]
        context = problem.get("ctx") or {}
        reason = str(context["error"]) if problem["type"] == "value_error" and "error" in context else problem["msg"]
        if not location:
            messages.append(reason)
            continue
        name = str(location[0])
        field = fields.get(name) or next((f for f in fields.values() if name in _names(f.validation_alias)), None)
        extra = field.json_schema_extra if field is not None and isinstance(field.json_schema_extra, dict) else {}
        if not extra.get(_SECRET) and isinstance(problem.get("input"), str):
            reason += f", got {problem['input']!r}"
        variable = _variable(name)
        # Secret reference errors already start with the setting they name.
        messages.append(reason if reason.startswith(variable) else f"{variable}: {reason}")
    return "; ".join(messages)


def _names(alias: Any) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [str(alias)]


def _variable(field_or_variable: str) -> str:
    """The variable of a field (by field name or by alias)."""
    field = ReceiverSettings.model_fields.get(field_or_variable)
    return _names(field.validation_alias)[0] if field is not None else field_or_variable


def _env_text(default: Any) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):
        return f"{default:g}"
    if default is None or (isinstance(default, (tuple, frozenset, dict)) and not default):
        return ""
    return str(default)


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _resolve(info: ValidationInfo, setting: str, value: str) -> str:
    """`value`, or the secret it references (through the resolver in the validation context)."""
    if not value:
        return value
    resolver = (info.context or {}).get("resolver") or SecretResolver({})
    try:
        resolved: str = resolver.resolve(setting, value)
    except SecretReferenceError as error:
        raise ValueError(str(error)) from None
    return resolved.strip()


def _access_tokens(info: ValidationInfo, value: str) -> dict[str, str]:
    name = "META_CAPI_ACCESS_TOKENS"
    text = _resolve(info, name, value)
    if not text:
        return {}
    pairs: list[tuple[str, str]]
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("looks like JSON but does not parse") from None
        if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
            raise ValueError("must be a JSON object of pixel id -> token string")
        pairs = [(str(k).strip(), v.strip()) for k, v in document.items()]
        where = "key"
    else:
        pairs = []
        where = "part before '='"
        for position, item in enumerate(part for part in text.split(",") if part.strip()):
            pixel, equals, token = item.partition("=")
            if not equals:
                raise ValueError(f"entry {position + 1} is not pixel_id=token")
            pairs.append((pixel.strip(), token.strip()))
    tokens: dict[str, str] = {}
    for position, (pixel, token) in enumerate(pairs, start=1):
        if not is_pixel_id(pixel):
            # Never quoted: with pixel and token swapped, this "pixel id" is the token.
            raise ValueError(f"entry {position}: the {where} is not a pixel id ({PIXEL_ID_RULE}); write pixel_id=token")
        if not token:
            raise ValueError(f"the token for pixel {pixel} is empty")
        tokens[pixel] = _resolve(info, f"{name}[{pixel}]", token)
    return tokens


def _all_variables() -> Iterator[str]:
    for field in ReceiverSettings.model_fields.values():
        yield from _names(field.validation_alias)


def _secrets_by_pixel(info: ValidationInfo, name: str, value: str) -> dict[str, list[str]]:
    """`pixel=secret|secret,pixel=secret` or a JSON object of pixel -> secret or list of secrets."""
    text = _resolve(info, name, value)
    if not text:
        return {}
    found: dict[str, list[str]] = {}
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError:
            raise ValueError("looks like JSON but does not parse") from None
        if not isinstance(document, dict):
            raise ValueError("must be a JSON object of pixel id -> secret or list of secrets")
        entries: list[tuple[str, list[Any]]] = [
            (str(k).strip(), v if isinstance(v, list) else [v]) for k, v in document.items()
        ]
        where = "key"
    else:
        entries = []
        where = "part before '='"
        for position, item in enumerate((part for part in text.split(",") if part.strip()), start=1):
            pixel, equals, listed = item.partition("=")
            if not equals:
                raise ValueError(f"entry {position} is not pixel_id=secret")
            entries.append((pixel.strip(), listed.split("|")))
    for position, (pixel, secrets) in enumerate(entries, start=1):
        if not is_pixel_id(pixel):
            # Never quoted: it may be a secret written in the pixel's place.
            raise ValueError(f"entry {position}: the {where} is not a pixel id ({PIXEL_ID_RULE})")
        if not all(isinstance(secret, str) for secret in secrets):
            raise ValueError(f"pixel {pixel}: every secret must be a string")
        cleaned = [secret.strip() for secret in secrets if secret.strip()]
        if not cleaned:
            raise ValueError(f"pixel {pixel}: no secret given")
        found[pixel] = cleaned
    return found


def _secret_variables() -> Iterator[str]:
    for field in ReceiverSettings.model_fields.values():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        if extra.get(_SECRET):
            yield from _names(field.validation_alias)


_SECRET_VARIABLES = frozenset(_secret_variables())

# Every variable the model reads: load_settings passes only these to validation.
_VARIABLES = frozenset(_all_variables())
