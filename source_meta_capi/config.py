"""The connector configuration, parsed once into frozen pydantic models; spec.yaml supplies every default."""

from __future__ import annotations

import functools
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, Mapping, Optional

import pendulum
import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator, model_validator

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

JsonType = Literal["string", "number", "integer", "boolean", "array", "object"]
_MISSING_PIXELS = 'must list at least one pixel, e.g. [{"pixel_id": "1234567890"}]'


class ConfigError(ValueError):
    """The configuration is invalid; the message says which field and how to fix it."""


@functools.cache
def connection_specification() -> Mapping[str, Any]:
    """spec.yaml's connectionSpecification: the one definition of every field and its default."""
    spec: Mapping[str, Any] = yaml.safe_load(SPEC_PATH.read_text())["connectionSpecification"]
    return spec


def upgraded_config(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """`config` in the spec's current shape: the same object when nothing changes, else a copy.

    Rewrites each pixel's deprecated `custom_data_properties` map (`{"coupon_code": "string"}`)
    into the list the spec declares (`[{"name": "coupon_code", "type": "string"}]`), which the
    Airbyte UI can render and the spec validates. The mapping given is not changed.
    """
    pixels = config.get("pixels")
    if not isinstance(pixels, list) or not any(
        isinstance(pixel, Mapping) and isinstance(pixel.get("custom_data_properties"), Mapping) for pixel in pixels
    ):
        return config
    upgraded = []
    for pixel in pixels:
        properties = pixel.get("custom_data_properties") if isinstance(pixel, Mapping) else None
        if isinstance(properties, Mapping):
            listed = [{"name": name, "type": json_type} for name, json_type in properties.items()]
            pixel = {**pixel, "custom_data_properties": listed}
        upgraded.append(pixel)
    return {**config, "pixels": upgraded}


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


def _spec_maximum(*path: str) -> int:
    """The `maximum` spec.yaml gives a field (`staging`, `decode_processes`)."""
    schema: Mapping[str, Any] = connection_specification()
    for name in path:
        schema = schema["properties"][name]
    maximum: int = schema["maximum"]
    return maximum


class _Frozen(BaseModel):
    # Keys the spec has and these models do not need (S3 credentials, region, …) are ignored.
    model_config = ConfigDict(frozen=True, extra="ignore")


class PixelConfig(_Frozen):
    """One configured pixel (dataset)."""

    pixel_id: str
    ad_account_id: Optional[str] = None
    event_types: frozenset[str] = frozenset()
    custom_data_properties: Mapping[str, JsonType] = {}

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            raise ValueError("must be an object with a pixel_id")
        return value

    @field_validator("pixel_id", mode="before")
    @classmethod
    def _pixel_id(cls, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not is_pixel_id(value.strip()):
            raise ValueError(f"must be the numeric pixel id ({PIXEL_ID_RULE}), got {value!r}")
        return value.strip()

    @field_validator("ad_account_id", mode="before")
    @classmethod
    def _ad_account_id(cls, value: Any) -> Optional[str]:
        if value in (None, ""):
            return None
        account = str(value).strip()
        if not AD_ACCOUNT_ID_PATTERN.fullmatch(account):
            raise ValueError(f"must look like act_1234567890, got {account!r}")
        return account if account.startswith("act_") else f"act_{account}"

    @field_validator("event_types", mode="before")
    @classmethod
    def _event_types(cls, value: Any) -> frozenset[str]:
        names = value or []
        if not isinstance(names, list) or not all(isinstance(name, str) and name for name in names):
            raise ValueError("must be a list of event names")
        return frozenset(names)

    @field_validator("custom_data_properties", mode="before")
    @classmethod
    def _custom_data_properties(cls, value: Any) -> Any:
        properties = value or {}
        if isinstance(properties, list):
            # The spec's form, [{"name": …, "type": …}]: a list the Airbyte UI can render.
            pairs = {}
            for entry in properties:
                name = entry.get("name") if isinstance(entry, Mapping) else None
                if not isinstance(name, str) or not name.strip():
                    raise ValueError('must be a list of {"name": …, "type": …} with a non-empty name')
                pairs[name.strip()] = entry.get("type")
            properties = pairs
        if not isinstance(properties, Mapping):
            # Deprecated but accepted: the first form, a map of field names to JSON types.
            raise ValueError('must be a list of {"name": …, "type": …}')
        return properties


class StagingConfig(_Frozen):
    """Where staged events live and how to read them (defaults: spec.yaml)."""

    bucket_url: str
    s3: S3Options
    settle_seconds: StrictInt = Field(ge=0)
    on_corrupt_object: Literal["fail", "warn"]
    on_schema_drift: Literal["warn", "fail"]
    # Processes that check staged records beside the CDK (0: on the connector's own threads).
    decode_processes: StrictInt = Field(ge=0, le=_spec_maximum("staging", "decode_processes"))

    @model_validator(mode="before")
    @classmethod
    def _s3_options(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and "s3" not in value:
            # bucket_url set (maybe to None) so that its validator says what a missing one should be.
            return {"bucket_url": None, **value, "s3": s3_options_from_mapping(value)}
        return value

    @field_validator("bucket_url", mode="before")
    @classmethod
    def _bucket_url(cls, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("is required: a local folder, file:///path or s3://bucket/prefix")
        return value.strip()


class SourceConfig(_Frozen):
    """The whole source configuration. Push mode is on when `staging` is set, pull mode when
    `has_credentials`; either or both."""

    pixels: tuple[PixelConfig, ...]
    start_date: Optional[datetime]
    staging: Optional[StagingConfig]
    has_credentials: bool

    def pixel(self, pixel_id: str) -> Optional[PixelConfig]:
        return next((p for p in self.pixels if p.pixel_id == pixel_id), None)

    @field_validator("pixels", mode="before")
    @classmethod
    def _pixels(cls, value: Any) -> Any:
        if not isinstance(value, list) or not value:
            raise ValueError(_MISSING_PIXELS)
        return value

    @field_validator("start_date", mode="before")
    @classmethod
    def _start_date(cls, value: Any) -> Optional[datetime]:
        return _parse_start_date(value)

    @field_validator("staging", mode="before")
    @classmethod
    def _staging(cls, value: Any) -> Any:
        if value in (None, {}):
            return None
        if not isinstance(value, Mapping):
            raise ValueError("must be an object with a bucket_url")
        return value

    @staticmethod
    def from_mapping(config: Mapping[str, Any]) -> SourceConfig:
        """Parse and validate (spec.yaml's defaults fill what is missing); raises ConfigError naming
        the offending field."""
        config = with_spec_defaults(config)
        credentials = config.get("credentials")
        has_credentials = isinstance(credentials, Mapping) and bool(credentials.get("access_token"))
        try:
            parsed = SourceConfig.model_validate(
                {
                    "pixels": config.get("pixels"),
                    "start_date": config.get("start_date"),
                    "staging": config.get("staging"),
                    "has_credentials": has_credentials,
                }
            )
        except ValidationError as error:
            raise _config_error(error) from None
        seen: set[str] = set()
        for pixel in parsed.pixels:
            if pixel.pixel_id in seen:
                raise ConfigError(f"pixel {pixel.pixel_id} is listed twice in 'pixels'.")
            seen.add(pixel.pixel_id)
        if parsed.staging is None and not has_credentials:
            raise ConfigError(
                "Nothing to sync: configure 'staging' (push mode: the receiver's bucket) and/or "
                "'credentials' (pull mode: Graph API)."
            )
        version = config["graph_api"].get("api_version")
        if has_credentials and not (isinstance(version, str) and API_VERSION_PATTERN.fullmatch(version)):
            raise ConfigError(f"'graph_api.api_version' must look like {DEFAULT_API_VERSION}, got {version!r}.")
        return parsed


def _config_error(error: ValidationError) -> ConfigError:
    """One sentence per problem, each naming its field the way the config spells it
    (`pixels[0].pixel_id`); pydantic's "Input should …" becomes "must …"."""
    sentences = []
    for problem in error.errors(include_url=False):
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in problem["loc"]).lstrip(".")
        cause = problem.get("ctx", {}).get("error")
        if isinstance(cause, ValueError):
            text = str(cause)
        elif problem["type"] == "missing":
            text = "is required"
        else:
            text = problem["msg"]
            if text.startswith("Input should"):
                text = "must" + text[len("Input should") :]
            # Only scalars are quoted: an object around the field could hold S3 credentials.
            if isinstance(problem["input"], (str, int, float, bool)) or problem["input"] is None:
                text = f"{text}, got {problem['input']!r}"
        sentences.append(f"'{where}' {text}.")
    return ConfigError(" ".join(sentences))


def _parse_start_date(value: Any) -> Optional[datetime]:
    """Accept a date or date-time (Z or offset); naive times are UTC."""
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ValueError(f"must be a string like 2026-11-01T00:00:00Z, got {type(value).__name__}")
    try:
        parsed = pendulum.parse(value.strip(), strict=True, tz="UTC")
    except (pendulum.parsing.exceptions.ParserError, ValueError) as error:
        raise ValueError(f"{value!r} is not an ISO-8601 date or date-time") from error
    if not isinstance(parsed, pendulum.DateTime):
        # pendulum also parses durations and intervals ("P1D"), which are no start date.
        raise ValueError(f"{value!r} is not an ISO-8601 date or date-time")
    utc = parsed.in_timezone("UTC")
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=timezone.utc
    )
