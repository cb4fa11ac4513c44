"""How the receiver's variables are written: the syntax of each kind of value, and its parser.

settings.py declares each setting once (variable, default, meaning, bounds) and names its value
type from here; this module says what a value of that type may look like: comma lists, booleans,
pixel ids, the forward mode, and the secret-bearing forms (Standard Webhooks secrets, per-pixel
secret maps, per-pixel access tokens) with their Secrets Manager references. The seam is there
because the syntaxes are the part that grows with every operator request (a JSON form, one more
separator) and the part whose error messages must never quote a secret, while the declarations
must stay one readable table.

Plain values are `Annotated` types whose validators run inside pydantic. Secret-bearing values
need the variable's name and the validation context's resolver, so they are functions the
model's validators call with both. A parser raises ValueError with a reason that never quotes a
secret; settings_errors.py turns it into a SettingsError naming the variable.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Optional

from pydantic import AfterValidator, BeforeValidator, ValidationInfo

from source_meta_capi.capi.graph_api import API_VERSION_PATTERN, PIXEL_ID_RULE, is_pixel_id
from source_meta_capi.receiver.secret_refs import SecretReferenceError, SecretResolver
from source_meta_capi.receiver.signatures import PIXEL_BINDING_MODES, SecretConfigError, parse_webhook_secret

FORWARD_MODES = ("inline", "background", "off")
INTAKE_MODES = ("direct", "queue")
# META_CAPI_TEST_EVENT_PIXELS value meaning every pixel; the default, so senders that pass
# test_event_code keep working until an operator lists the test pixels.
ALL_PIXELS = "*"

_WRITER = re.compile(r"[a-z0-9]{1,32}")
_COUNTRY = re.compile(r"[a-z]{2}")
_SCHEMA_VERSION = re.compile(r"[1-9][0-9]{0,5}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _csv(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def _csv_set(value: Any) -> Any:
    return frozenset(_csv(value)) if isinstance(value, str) else value


def _boolean(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("", "0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _pixel_ids(value: frozenset[str]) -> frozenset[str]:
    for pixel in value:
        if not is_pixel_id(pixel):
            raise ValueError(f"{pixel!r} is not a pixel id ({PIXEL_ID_RULE})")
    return value


def _test_event_pixels(value: frozenset[str]) -> frozenset[str]:
    for pixel in value:
        if pixel != ALL_PIXELS and not is_pixel_id(pixel):
            raise ValueError(f"{pixel!r} is neither a pixel id ({PIXEL_ID_RULE}) nor {ALL_PIXELS}")
    return value


def _pixel_binding(value: str) -> str:
    mode = value.lower()
    if mode not in PIXEL_BINDING_MODES:
        raise ValueError(f"must be one of {', '.join(PIXEL_BINDING_MODES)}")
    return mode


def _api_version(value: str) -> str:
    if not API_VERSION_PATTERN.fullmatch(value):
        raise ValueError("must look like v26.0")
    return value


def _without_trailing_slash(value: str) -> str:
    return value.rstrip("/")


def _upper(value: str) -> str:
    return value.upper()


def _forward_mode(value: str, info: ValidationInfo) -> str:
    mode = value.lower()
    # Declared after lambda_function_name, so that one is already in info.data.
    on_lambda = bool(info.data.get("lambda_function_name"))
    if mode == "auto":
        return "inline" if on_lambda else "background"
    if mode not in FORWARD_MODES:
        raise ValueError(f"must be one of auto, {', '.join(FORWARD_MODES)}")
    if mode == "background" and on_lambda:
        raise ValueError("background is not possible on Lambda (nothing runs after the response): use inline or off")
    return mode


def _intake_mode(value: str) -> str:
    mode = value.lower()
    if mode not in INTAKE_MODES:
        raise ValueError(f"must be one of {', '.join(INTAKE_MODES)}")
    return mode


def _country(value: Optional[str]) -> Optional[str]:
    country = value.lower() if value else None
    if country is not None and not _COUNTRY.fullmatch(country):
        raise ValueError("must be an ISO 3166 alpha-2 code like 'us'")
    return country


def _writer_id(value: Optional[str]) -> Optional[str]:
    if value is not None and not _WRITER.fullmatch(value):
        raise ValueError("must be 1-32 characters of [a-z0-9]")
    return value


def _schema_version(value: Optional[str]) -> Optional[str]:
    if value is not None and not _SCHEMA_VERSION.fullmatch(value):
        raise ValueError("must be a Glue schema version id or a version number")
    return value


# `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, in any case.
Boolean = Annotated[bool, BeforeValidator(_boolean)]
# Comma-separated pixel ids.
PixelIds = Annotated[frozenset[str], BeforeValidator(_csv_set), AfterValidator(_pixel_ids)]
# Comma-separated pixel ids, or `*` for every pixel.
TestEventPixels = Annotated[frozenset[str], BeforeValidator(_csv_set), AfterValidator(_test_event_pixels)]
# One of signatures.PIXEL_BINDING_MODES, in any case.
PixelBinding = Annotated[str, AfterValidator(_pixel_binding)]
# A URL; a trailing slash is dropped so paths can be appended.
BaseUrl = Annotated[str, AfterValidator(_without_trailing_slash)]
# `v26.0`.
ApiVersion = Annotated[str, AfterValidator(_api_version)]
# auto, inline, background or off; auto (and only auto) depends on whether this is Lambda.
ForwardMode = Annotated[str, AfterValidator(_forward_mode)]
# direct or queue, in any case.
IntakeMode = Annotated[str, AfterValidator(_intake_mode)]
# ISO 3166 alpha-2, in any case; read as lower case.
CountryCode = Annotated[Optional[str], AfterValidator(_country)]
WriterId = Annotated[Optional[str], AfterValidator(_writer_id)]
# Glue's schema version id (a UUID) or a version number.
SchemaVersion = Annotated[Optional[str], AfterValidator(_schema_version)]
LogLevel = Annotated[str, AfterValidator(_upper)]


def resolve_secret(info: ValidationInfo, setting: str, value: str) -> str:
    """`value`, or the secret it references (through the resolver in the validation context)."""
    if not value:
        return value
    resolver = (info.context or {}).get("resolver") or SecretResolver({})
    try:
        resolved: str = resolver.resolve(setting, value)
    except SecretReferenceError as error:
        raise ValueError(str(error)) from None
    return resolved.strip()


def parse_secret(info: ValidationInfo, variable: str, value: Any) -> Any:
    """A single secret (app secret, salt): resolved; blank is None."""
    if not isinstance(value, str):
        return value
    return resolve_secret(info, variable, value).strip() or None


def parse_secret_list(info: ValidationInfo, variable: str, value: Any) -> Any:
    """Comma-separated secrets (hub secrets), the whole value possibly a reference."""
    return tuple(_csv(resolve_secret(info, variable, value))) if isinstance(value, str) else value


def parse_webhook_keys(info: ValidationInfo, variable: str, value: Any) -> Any:
    """Comma-separated Standard Webhooks secrets (`whsec_…`), decoded to keys."""
    if not isinstance(value, str):
        return value
    keys = []
    for position, secret in enumerate(_csv(resolve_secret(info, variable, value))):
        try:
            keys.append(parse_webhook_secret(secret, position))
        except SecretConfigError as error:
            raise ValueError(str(error)) from None
    return tuple(keys)


def parse_webhook_keys_by_pixel(info: ValidationInfo, variable: str, value: Any) -> Any:
    """Per-pixel Standard Webhooks secrets (see `_secrets_by_pixel`), decoded to keys."""
    if not isinstance(value, str):
        return value
    parsed: dict[str, tuple[bytes, ...]] = {}
    for pixel, secrets in _secrets_by_pixel(info, variable, value).items():
        try:
            parsed[pixel] = tuple(parse_webhook_secret(secret, position) for position, secret in enumerate(secrets))
        except SecretConfigError as error:
            raise ValueError(f"pixel {pixel}: {error}") from None
    return parsed


def parse_secrets_by_pixel(info: ValidationInfo, variable: str, value: Any) -> Any:
    """Per-pixel app secrets (see `_secrets_by_pixel`)."""
    if not isinstance(value, str):
        return value
    return {pixel: tuple(secrets) for pixel, secrets in _secrets_by_pixel(info, variable, value).items()}


def parse_access_tokens(info: ValidationInfo, variable: str, value: Any) -> Any:
    """`pixel=token,…` or a JSON object of pixel id -> token; the whole or each token may be a reference."""
    if not isinstance(value, str):
        return value
    text = resolve_secret(info, variable, value)
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
        tokens[pixel] = resolve_secret(info, f"{variable}[{pixel}]", token)
    return tokens


def _secrets_by_pixel(info: ValidationInfo, name: str, value: str) -> dict[str, list[str]]:
    """`pixel=secret|secret,pixel=secret` or a JSON object of pixel -> secret or list of secrets."""
    text = resolve_secret(info, name, value)
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
