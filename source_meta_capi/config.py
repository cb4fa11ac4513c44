"""The connector configuration, parsed once into a frozen typed object."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Optional

import pendulum
import yaml

from source_meta_capi.capi.graph_api import (
    AD_ACCOUNT_ID_PATTERN,
    API_VERSION_PATTERN,
    DEFAULT_API_VERSION,
    PIXEL_ID_RULE,
    is_pixel_id,
)
from source_meta_capi.staging.open_store import s3_options_from_mapping
from source_meta_capi.staging.store import S3Options

SPEC_PATH = Path(__file__).parent / "spec.yaml"
# Values a config UI sends for a field left empty: the spec's default applies to them too.
_UNSET: tuple[Any, ...] = (None, "", [])

_JSON_TYPES = {"string", "number", "integer", "boolean", "array", "object"}


class ConfigError(ValueError):
    """The configuration is invalid; the message says which field and how to fix it."""


@dataclass(frozen=True)
class PixelConfig:
    """One configured pixel (dataset)."""

    pixel_id: str
    ad_account_id: Optional[str] = None
    event_types: frozenset[str] = frozenset()
    custom_data_properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StagingConfig:
    """Where staged events live and how to read them (defaults: spec.yaml)."""

    bucket_url: str
    s3: S3Options
    settle_seconds: int
    on_corrupt_object: str
    on_schema_drift: str
    # Processes that check staged records beside the CDK (0: on the connector's own threads).
    decode_processes: int


@dataclass(frozen=True)
class SourceConfig:
    """The whole source configuration. Push mode is on when `staging` is set, pull mode when
    `has_credentials`; either or both."""

    pixels: tuple[PixelConfig, ...]
    start_date: Optional[datetime]
    staging: Optional[StagingConfig]
    has_credentials: bool

    def pixel(self, pixel_id: str) -> Optional[PixelConfig]:
        return next((p for p in self.pixels if p.pixel_id == pixel_id), None)

    @staticmethod
    def from_mapping(config: Mapping[str, Any]) -> SourceConfig:
        """Parse and validate (spec.yaml's defaults fill what is missing); raises ConfigError naming
        the offending field."""
        config = with_spec_defaults(config)
        raw_pixels = config.get("pixels")
        if not isinstance(raw_pixels, list) or not raw_pixels:
            raise ConfigError('\'pixels\' must list at least one pixel, e.g. [{"pixel_id": "1234567890"}].')
        pixels = tuple(_parse_pixel(index, item) for index, item in enumerate(raw_pixels))
        seen: set[str] = set()
        for pixel in pixels:
            if pixel.pixel_id in seen:
                raise ConfigError(f"pixel {pixel.pixel_id} is listed twice in 'pixels'.")
            seen.add(pixel.pixel_id)
        staging = _parse_staging(config.get("staging"))
        credentials = config.get("credentials")
        has_credentials = isinstance(credentials, Mapping) and bool(credentials.get("access_token"))
        if staging is None and not has_credentials:
            raise ConfigError(
                "Nothing to sync: configure 'staging' (push mode: the receiver's bucket) and/or "
                "'credentials' (pull mode: Graph API)."
            )
        version = config["graph_api"].get("api_version")
        if has_credentials and not (isinstance(version, str) and API_VERSION_PATTERN.fullmatch(version)):
            raise ConfigError(f"'graph_api.api_version' must look like {DEFAULT_API_VERSION}, got {version!r}.")
        return SourceConfig(
            pixels=pixels,
            start_date=parse_start_date(config.get("start_date")),
            staging=staging,
            has_credentials=has_credentials,
        )


def parse_start_date(value: Any) -> Optional[datetime]:
    """Accept a date or date-time (Z or offset); naive times are UTC."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"'start_date' must be a string like 2026-11-01T00:00:00Z, got {type(value).__name__}.")
    try:
        parsed = pendulum.parse(value.strip(), strict=True, tz="UTC")
    except (pendulum.parsing.exceptions.ParserError, ValueError) as error:
        raise ConfigError(f"'start_date' {value!r} is not an ISO-8601 date or date-time.") from error
    if not isinstance(parsed, pendulum.DateTime):
        # pendulum also parses durations and intervals ("P1D"), which are no start date.
        raise ConfigError(f"'start_date' {value!r} is not an ISO-8601 date or date-time.")
    utc = parsed.in_timezone("UTC")
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=timezone.utc
    )


@functools.cache
def connection_specification() -> Mapping[str, Any]:
    """spec.yaml's connectionSpecification: the one definition of every field and its default."""
    spec: Mapping[str, Any] = yaml.safe_load(SPEC_PATH.read_text())["connectionSpecification"]
    return spec


def with_spec_defaults(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of `config` with spec.yaml's defaults filled in (the mapping given is not changed).

    Fields left empty get their default too. An absent object is created only when it requires
    nothing (`graph_api`), so configuring no staging still means no push mode. Within a `oneOf`
    (credentials), the branch whose `auth_type` the config names gives the defaults.
    """
    return _with_defaults(connection_specification(), config)


def _with_defaults(schema: Mapping[str, Any], value: Mapping[str, Any]) -> dict[str, Any]:
    filled = dict(value)
    for name, prop in (schema.get("properties") or {}).items():
        current = filled.get(name)
        if current in _UNSET and "default" in prop:
            filled[name] = prop["default"]
        elif isinstance(current, Mapping):
            filled[name] = _with_defaults(_branch(prop, current), current)
        elif current is None and prop.get("type") == "object" and not prop.get("required") and "oneOf" not in prop:
            filled[name] = _with_defaults(prop, {})
    return filled


def _branch(schema: Mapping[str, Any], value: Mapping[str, Any]) -> Mapping[str, Any]:
    for option in schema.get("oneOf") or ():
        auth_type = (option.get("properties") or {}).get("auth_type", {})
        if auth_type.get("const") == value.get("auth_type"):
            return dict(option)
    return schema


def _parse_pixel(index: int, item: Any) -> PixelConfig:
    where = f"pixels[{index}]"
    if not isinstance(item, Mapping):
        raise ConfigError(f"{where} must be an object with a pixel_id.")
    pixel_id = item.get("pixel_id")
    if isinstance(pixel_id, int) and not isinstance(pixel_id, bool):
        pixel_id = str(pixel_id)
    if not isinstance(pixel_id, str) or not is_pixel_id(pixel_id.strip()):
        raise ConfigError(f"{where}.pixel_id must be the numeric pixel id ({PIXEL_ID_RULE}), got {pixel_id!r}.")
    ad_account = item.get("ad_account_id")
    if ad_account not in (None, ""):
        ad_account = str(ad_account).strip()
        if not AD_ACCOUNT_ID_PATTERN.fullmatch(ad_account):
            raise ConfigError(f"{where}.ad_account_id must look like act_1234567890, got {ad_account!r}.")
        if not ad_account.startswith("act_"):
            ad_account = f"act_{ad_account}"
    else:
        ad_account = None
    event_types = item.get("event_types") or []
    if not isinstance(event_types, list) or not all(isinstance(e, str) and e for e in event_types):
        raise ConfigError(f"{where}.event_types must be a list of event names.")
    custom = item.get("custom_data_properties") or {}
    if isinstance(custom, list):
        # Also accept [{"name": …, "type": …}], the shape some UIs produce for maps.
        custom = {str(entry.get("name")): entry.get("type") for entry in custom if isinstance(entry, Mapping)}
    if not isinstance(custom, Mapping):
        raise ConfigError(f"{where}.custom_data_properties must map field names to JSON types.")
    for name, json_type in custom.items():
        if json_type not in _JSON_TYPES:
            raise ConfigError(
                f"{where}.custom_data_properties.{name} has type {json_type!r}; use one of {sorted(_JSON_TYPES)}."
            )
    return PixelConfig(
        pixel_id=pixel_id.strip(),
        ad_account_id=ad_account,
        event_types=frozenset(event_types),
        custom_data_properties=dict(custom),
    )


def _parse_staging(raw: Any) -> Optional[StagingConfig]:
    if raw in (None, {}):
        return None
    if not isinstance(raw, Mapping):
        raise ConfigError("'staging' must be an object with a bucket_url.")
    bucket_url = raw.get("bucket_url")
    if not isinstance(bucket_url, str) or not bucket_url.strip():
        raise ConfigError("'staging.bucket_url' is required: a local folder, file:///path or s3://bucket/prefix.")
    settle = raw.get("settle_seconds")
    if not isinstance(settle, int) or isinstance(settle, bool) or settle < 0:
        raise ConfigError(f"'staging.settle_seconds' must be a non-negative integer, got {settle!r}.")
    on_corrupt = raw.get("on_corrupt_object")
    if on_corrupt not in ("fail", "warn"):
        raise ConfigError(f"'staging.on_corrupt_object' must be 'fail' or 'warn', got {on_corrupt!r}.")
    on_drift = raw.get("on_schema_drift")
    if on_drift not in ("fail", "warn"):
        raise ConfigError(f"'staging.on_schema_drift' must be 'warn' or 'fail', got {on_drift!r}.")
    processes = raw.get("decode_processes")
    most = connection_specification()["properties"]["staging"]["properties"]["decode_processes"]["maximum"]
    if not isinstance(processes, int) or isinstance(processes, bool) or not 0 <= processes <= most:
        raise ConfigError(f"'staging.decode_processes' must be an integer from 0 to {most}, got {processes!r}.")
    return StagingConfig(
        bucket_url=bucket_url.strip(),
        s3=s3_options_from_mapping(raw),
        settle_seconds=settle,
        on_corrupt_object=on_corrupt,
        on_schema_drift=on_drift,
        decode_processes=processes,
    )
