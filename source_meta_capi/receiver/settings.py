"""Receiver configuration from environment variables (12-factor, Lambda-friendly).

`ReceiverSettings` is the one declaration of every setting: each field carries its variable
(the alias), default, meaning and bounds. `load_settings` parses an injected mapping (tests pass a
dict) into a frozen instance; the `meta-capi-receiver env` table is generated from the fields
(env_table.py). A variable that is unset or blank takes its default.

Secret-bearing variables may hold a Secrets Manager reference instead of the secret (see
secret_refs.py); the resolver comes in through the validation context. Errors are SettingsError
naming the variable, and never carry a secret's value.

The seams: this module is the declarations and load_settings, which reads them. How each kind of
value is written and parsed is settings_values.py; how a failure becomes a SettingsError without
a secret in it is settings_errors.py; the table of the variables for operators is env_table.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
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
from pydantic.fields import FieldInfo

from source_meta_capi.capi.events_client import DEFAULT_PARTNER_AGENT
from source_meta_capi.capi.graph_api import DEFAULT_API_VERSION, DEFAULT_GRAPH_BASE_URL
from source_meta_capi.receiver.schema_registry import DEFAULT_REGISTRY as DEFAULT_SCHEMA_REGISTRY
from source_meta_capi.receiver.secret_refs import SecretResolver
from source_meta_capi.receiver.settings_errors import SettingsError as SettingsError
from source_meta_capi.receiver.settings_errors import settings_error
from source_meta_capi.receiver.settings_values import (
    ALL_PIXELS,
    ApiVersion,
    BaseUrl,
    Boolean,
    CountryCode,
    ForwardMode,
    IntakeMode,
    LogLevel,
    PixelBinding,
    PixelIds,
    SchemaVersion,
    TestEventPixels,
    WriterId,
    parse_access_tokens,
    parse_secret,
    parse_secret_list,
    parse_secrets_by_pixel,
    parse_webhook_keys,
    parse_webhook_keys_by_pixel,
)
from source_meta_capi.receiver.signatures import DEFAULT_TOLERANCE_S
from source_meta_capi.staging.store import S3Options

DEFAULT_STAGING_URL = "./meta-capi-staging"
ENV_PREFIX = "META_CAPI_"

# Key of the field metadata marking a variable whose value is secret (and may be a reference).
_SECRET = "secret"


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


# The syntax of each secret-bearing setting: parsers that need the variable's name and the
# resolver of the validation context, so they run as the model's validator, not as a type.
_SECRET_SYNTAXES: dict[str, Callable[[ValidationInfo, str, Any], Any]] = {
    "webhook_keys": parse_webhook_keys,
    "hub_secrets": parse_secret_list,
    "webhook_keys_by_pixel": parse_webhook_keys_by_pixel,
    "hub_secrets_by_pixel": parse_secrets_by_pixel,
    "access_tokens": parse_access_tokens,
    "app_secret": parse_secret,
    "pseudonymize_salt": parse_secret,
}


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
    signature_pixel_binding: PixelBinding = _env(
        "META_CAPI_SIGNATURE_PIXEL_BINDING",
        "off",
        "strict: accept only signatures bound to the path's pixel (a secret of that pixel, or webhook-id '<pixel_id>:…'); off: also accept shared secrets without the pixel (a captured request can be replayed to another pixel). The default becomes strict in the next major version.",
    )
    allow_unsigned: Boolean = _env(
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
    pixel_ids: PixelIds = _env(
        "META_CAPI_PIXEL_IDS", frozenset(), "Comma-separated pixel ids accepted; empty = any pixel id (digits only)."
    )
    test_event_pixels: TestEventPixels = _env(
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
    graph_base_url: BaseUrl = _env(
        "META_CAPI_GRAPH_BASE_URL", DEFAULT_GRAPH_BASE_URL, "Graph API base URL (tests point it at a local stand-in)."
    )
    api_version: ApiVersion = _env(
        "META_CAPI_API_VERSION", DEFAULT_API_VERSION, "Graph API version used for forwarding."
    )
    partner_agent: str = _env(
        "META_CAPI_PARTNER_AGENT", DEFAULT_PARTNER_AGENT, "partner_agent sent to Meta when the caller sent none."
    )
    forward_mode: ForwardMode = _env(
        "META_CAPI_FORWARD_MODE",
        "auto",
        "inline (forward before answering, bounded by META_CAPI_FORWARD_DEADLINE_S; Lambda), background (a worker thread; containers), off (the redrive job forwards), auto = inline on Lambda, background elsewhere.",
        validate_default=True,
    )
    intake_mode: IntakeMode = _env(
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
    default_country: CountryCode = _env(
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
    # 30 ms: senders slowed by a shared GIL (the S3 puts-per-request test) take ~25 ms to all come
    # back after an answer; a fast load generator on SeaweedFS, a few ms. A larger cap costs
    # latency, up to the cap, only where the awaited requests do not come (senders that stopped,
    # open-loop traffic).
    group_commit_rejoin_ms: int = _env(
        "META_CAPI_GROUP_COMMIT_REJOIN_MS",
        30,
        "After a group commit answers n requests, the next group waits up to this long for n more to arrive (senders that wait for their answer come straight back and share one write instead of splitting in two); a lone sender never waits. 0 = off.",
        ge=0,
    )
    io_threads: int = _env("META_CAPI_IO_THREADS", 32, "Threads for store I/O (object commits).", ge=1)
    writer_id: WriterId = _env(
        "META_CAPI_WRITER_ID", None, "Writer id in object names ([a-z0-9], ≤32); empty = host + pid + random."
    )
    redrive_min_age_s: float = _env(
        "META_CAPI_REDRIVE_MIN_AGE_S",
        600.0,
        "redrive: only batches staged at least this long ago (the receiver's own forwarding is over by then).",
        ge=0,
    )
    log_level: LogLevel = _env("META_CAPI_LOG_LEVEL", "INFO", "Log level of the JSON logs.")
    schema_registry: str = _env(
        "META_CAPI_SCHEMA_REGISTRY",
        DEFAULT_SCHEMA_REGISTRY,
        "schemas publish/check: the AWS Glue Schema Registry holding the delivered_events, delivery_statuses and dead_letters schemas.",
    )
    schema_version: SchemaVersion = _env(
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
    keep_alive_s: int = _env(
        "META_CAPI_KEEP_ALIVE_S",
        5,
        "serve: seconds an idle keep-alive connection stays open. Behind a load balancer, set it above the balancer's idle timeout (65 behind an ALB at 60), or the balancer reuses connections serve is closing (502).",
        ge=1,
        le=4000,
    )

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

    @field_validator(*_SECRET_SYNTAXES, mode="before")
    @classmethod
    def _parse_secret(cls, value: Any, info: ValidationInfo) -> Any:
        field = info.field_name or ""
        return _SECRET_SYNTAXES[field](info, _variable(field), value)

    @model_validator(mode="after")
    def _check_queue_intake(self) -> ReceiverSettings:
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


def load_settings(environ: Mapping[str, str], resolver: Optional[SecretResolver] = None) -> ReceiverSettings:
    """Parse and validate the receiver's environment; raises SettingsError naming the variable."""
    given = {name: value.strip() for name, value in environ.items() if name in _VARIABLES and value.strip()}
    try:
        return ReceiverSettings.model_validate(given, context={"resolver": resolver or SecretResolver(environ)})
    except ValidationError as error:
        # `from None`: the ValidationError's own text carries the offending input, maybe a secret.
        raise settings_error(error, given, _variable, _SECRET_NAMES) from None


def variables_of(field: FieldInfo) -> list[str]:
    """The variables a setting is read from: its own first, then any the platform sets instead."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        return [str(choice) for choice in alias.choices]
    return [str(alias)]


def is_secret(field: FieldInfo) -> bool:
    """Whether a setting's value is secret: never shown, and it may be a Secrets Manager reference."""
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return bool(extra.get(_SECRET))


def _variable(field_or_variable: str) -> str:
    """The variable of a field (by field name or by alias)."""
    field = ReceiverSettings.model_fields.get(field_or_variable)
    return variables_of(field)[0] if field is not None else field_or_variable


def _all_variables() -> Iterator[str]:
    for field in ReceiverSettings.model_fields.values():
        yield from variables_of(field)


def _secret_names() -> Iterator[str]:
    for name, field in ReceiverSettings.model_fields.items():
        if is_secret(field):
            yield name
            yield from variables_of(field)


# Field names and variables of the secret settings: errors never quote their values.
_SECRET_NAMES = frozenset(_secret_names())

# Every variable the model reads: load_settings passes only these to validation.
_VARIABLES = frozenset(_all_variables())
