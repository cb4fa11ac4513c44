"""The receiver's record schemas in AWS Glue Schema Registry: `schemas publish` and `schemas check`.

The three streams the receiver writes (`delivered_events`, `delivery_statuses`, `dead_letters`)
are registered as JSON Schema with BACKWARD compatibility, one Glue schema per stream, named
like the stream, in one registry (META_CAPI_SCHEMA_REGISTRY). `source_meta_capi/schemas/*.json`
stays the single source of truth; the registry keeps their history, numbered.

Before any AWS call both commands refuse a package schema that no longer declares a field
attribution needs (`ATTRIBUTION_FIELDS`). That check is ours, not Glue's: moto does not implement
compatibility checks at all, and Glue's BACKWARD rule for JSON lets a reader drop an optional
property, which is exactly the change that silently breaks attribution downstream.

Pure functions (`attribution_refusals`, `differences`, `canonical_definition`) are separate from
`GlueSchemaRegistry`, the only code that talks to AWS.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Optional, TextIO

from source_meta_capi.capi.event_fields import MATCH_KEYS

REGISTERED_STREAMS = ("delivered_events", "delivery_statuses", "dead_letters")
DEFAULT_REGISTRY = "meta-capi"
DATA_FORMAT = "JSON"
COMPATIBILITY = "BACKWARD"

# The fields without which a record can no longer be attributed (or a delivery reconciled):
# dotted paths through `properties`. user_data's match keys are listed one by one, since losing
# any of them lowers match quality for every event that carried it.
ATTRIBUTION_FIELDS: Mapping[str, tuple[str, ...]] = {
    "delivered_events": (
        "event_id",
        "event_time",
        "event_name",
        "action_source",
        "user_data",
        *(f"user_data.{key}" for key in sorted(MATCH_KEYS)),
    ),
    "delivery_statuses": ("pixel_id", "batch_id", "attempt", "outcome", "event_ids"),
    "dead_letters": ("dead_letter_id", "pixel_id", "event_id", "stage", "reason"),
}

# Exit statuses of `meta-capi-receiver schemas …` (2 is the CLI's configuration error).
EXIT_OK = 0
EXIT_DIFFERS = 1
EXIT_REFUSED = 3
EXIT_AWS_ERROR = 4

# Glue answers PENDING while it checks compatibility; how long `publish` waits for the verdict.
_PENDING_WAIT_S = 60.0
_PENDING_POLL_S = 1.0


class SchemaRefusedError(Exception):
    """A package schema must not be registered; `reasons` name each schema and field.

    `by_glue` is false for our own attribution check (raised before any AWS call, so nothing was
    registered) and true for Glue's compatibility verdict, after `published` went through."""

    def __init__(self, reasons: Sequence[str], *, by_glue: bool = False, published: Sequence[Published] = ()) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = tuple(reasons)
        self.by_glue = by_glue
        self.published = tuple(published)


class SchemaRegistryError(Exception):
    """The registry could not be read or written (access, network, throttling)."""


@dataclass(frozen=True)
class PackageSchema:
    """One stream's JSON Schema as this package ships it."""

    name: str
    document: Mapping[str, Any]

    @property
    def definition(self) -> str:
        """What is registered: the canonical text of `document`."""
        return canonical_definition(self.document)


@dataclass(frozen=True)
class Published:
    """What `publish` did for one schema."""

    name: str
    version: int
    status: str  # "created" (new schema, version 1), "registered" (new version), "unchanged"


@dataclass(frozen=True)
class Checked:
    """How one package schema compares with the registry's latest version."""

    name: str
    registered_version: Optional[int]  # None: not registered yet
    differences: tuple[str, ...] = field(default=())


def package_schemas(streams: Iterable[str] = REGISTERED_STREAMS) -> list[PackageSchema]:
    """The package's schemas of `streams` (source_meta_capi/schemas/<stream>.json)."""
    folder = resources.files("source_meta_capi").joinpath("schemas")
    return [
        PackageSchema(name, json.loads(folder.joinpath(f"{name}.json").read_text(encoding="utf-8"))) for name in streams
    ]


def canonical_definition(document: Mapping[str, Any]) -> str:
    """Sorted keys, no whitespace: the same schema always registers as the same text, so
    GetSchemaByDefinition finds it whatever the file's formatting."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def field_types(document: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Every declared property as a dotted path → its `type` (objects are walked into)."""
    found: dict[str, Any] = {}
    properties = document.get("properties")
    if not isinstance(properties, Mapping):
        return found
    for name, member in properties.items():
        path = f"{prefix}{name}"
        found[path] = member.get("type") if isinstance(member, Mapping) else None
        if isinstance(member, Mapping):
            found.update(field_types(member, f"{path}."))
    return found


def attribution_refusals(schemas: Iterable[PackageSchema]) -> list[str]:
    """One message per attribution field a schema no longer declares (empty: nothing refused)."""
    reasons = []
    for schema in schemas:
        declared = field_types(schema.document)
        for path in ATTRIBUTION_FIELDS.get(schema.name, ()):
            if path not in declared:
                reasons.append(
                    f"{schema.name}: the schema drops {path}, which attribution needs; "
                    f"restore it in source_meta_capi/schemas/{schema.name}.json"
                )
    return reasons


def differences(registered: Mapping[str, Any], package: Mapping[str, Any]) -> list[str]:
    """What changed from the registered schema to the package's, field by field."""
    if canonical_definition(registered) == canonical_definition(package):
        return []
    before, after = field_types(registered), field_types(package)
    found = [f"field {path} removed" for path in sorted(before.keys() - after.keys())]
    found += [f"field {path} added" for path in sorted(after.keys() - before.keys())]
    found += [
        f"field {path} type {json.dumps(before[path])} -> {json.dumps(after[path])}"
        for path in sorted(before.keys() & after.keys())
        if before[path] != after[path]
    ]
    return found or ["definition changed (descriptions, formats or constraints; no field added, removed or retyped)"]


class GlueSchemaRegistry:
    """One registry in AWS Glue Schema Registry, through a boto3 `glue` client."""

    def __init__(
        self,
        glue: Any,
        registry: str,
        *,
        sleep: Optional[Callable[[float], None]] = None,
        pending_wait_s: float = _PENDING_WAIT_S,
    ) -> None:
        self.glue = glue
        self.registry = registry
        self._sleep = sleep or (lambda seconds: time.sleep(seconds))
        self._pending_wait_s = pending_wait_s

    def ensure_registry(self) -> None:
        """Create the registry unless it exists (the stack's AWS::Glue::Registry, or an earlier run)."""
        try:
            self.glue.get_registry(RegistryId={"RegistryName": self.registry})
        except Exception as error:
            if _code(error) != "EntityNotFoundException":
                raise self._failure("reading the registry", error) from None
            try:
                self.glue.create_registry(
                    RegistryName=self.registry, Description="source-meta-capi: the receiver's record schemas"
                )
            except Exception as create_error:
                raise self._failure("creating the registry", create_error) from None

    def latest(self, name: str) -> Optional[tuple[int, Mapping[str, Any]]]:
        """The latest version's number and document, or None when the schema has no version yet."""
        try:
            schema = self.glue.get_schema(SchemaId=self._schema_id(name))
            number = schema.get("LatestSchemaVersion")
            if not number:
                return None
            version = self.glue.get_schema_version(
                SchemaId=self._schema_id(name), SchemaVersionNumber={"VersionNumber": number}
            )
        except Exception as error:
            if _code(error) == "EntityNotFoundException":
                return None
            raise self._failure(f"reading schema {name}", error) from None
        return int(version["VersionNumber"]), json.loads(version["SchemaDefinition"])

    def version_of(self, name: str, definition: str) -> Optional[int]:
        """The number of the version registered with exactly `definition`, if any."""
        try:
            found = self.glue.get_schema_by_definition(SchemaId=self._schema_id(name), SchemaDefinition=definition)
            if found.get("Status") == "FAILURE":
                return None
            version = self.glue.get_schema_version(SchemaVersionId=found["SchemaVersionId"])
        except Exception as error:
            if _code(error) == "EntityNotFoundException":
                return None
            raise self._failure(f"looking up schema {name} by definition", error) from None
        return int(version["VersionNumber"])

    def publish(self, schema: PackageSchema) -> Published:
        """Register `schema` unless its definition is already a version; create it if missing."""
        existing = self._exists(schema.name)
        if not existing:
            try:
                created = self.glue.create_schema(
                    RegistryId={"RegistryName": self.registry},
                    SchemaName=schema.name,
                    DataFormat=DATA_FORMAT,
                    Compatibility=COMPATIBILITY,
                    Description=str(schema.document.get("description", ""))[:1000],
                    SchemaDefinition=schema.definition,
                )
            except Exception as error:
                raise self._failure(f"creating schema {schema.name}", error) from None
            self._await_available(schema.name, created["SchemaVersionId"])
            return Published(schema.name, 1, "created")
        known = self.version_of(schema.name, schema.definition)
        if known is not None:
            return Published(schema.name, known, "unchanged")
        try:
            registered = self.glue.register_schema_version(
                SchemaId=self._schema_id(schema.name), SchemaDefinition=schema.definition
            )
        except Exception as error:
            if _code(error) in ("InvalidInputException", "ValidationException"):
                raise SchemaRefusedError(
                    [f"{schema.name}: Glue refused the new version: {_message(error)}"], by_glue=True
                ) from None
            raise self._failure(f"registering a version of schema {schema.name}", error) from None
        self._await_available(schema.name, registered["SchemaVersionId"])
        return Published(schema.name, int(registered["VersionNumber"]), "registered")

    def _exists(self, name: str) -> bool:
        try:
            self.glue.get_schema(SchemaId=self._schema_id(name))
        except Exception as error:
            if _code(error) == "EntityNotFoundException":
                return False
            raise self._failure(f"reading schema {name}", error) from None
        return True

    def _await_available(self, name: str, version_id: str) -> None:
        # Glue checks compatibility after answering: the verdict is the version's status.
        deadline = time.monotonic() + self._pending_wait_s
        while True:
            try:
                status = self.glue.get_schema_version(SchemaVersionId=version_id).get("Status", "AVAILABLE")
            except Exception as error:
                raise self._failure(f"reading the new version of schema {name}", error) from None
            if status == "AVAILABLE":
                return
            if status == "FAILURE":
                raise SchemaRefusedError(
                    [f"{name}: Glue refused the new version as not {COMPATIBILITY} compatible with the latest one"],
                    by_glue=True,
                )
            if time.monotonic() >= deadline:
                raise SchemaRegistryError(
                    f"schema {name} in registry {self.registry}: the new version is still {status} after {self._pending_wait_s:g} s"
                )
            self._sleep(_PENDING_POLL_S)

    def _schema_id(self, name: str) -> dict[str, str]:
        return {"RegistryName": self.registry, "SchemaName": name}

    def _failure(self, doing: str, error: Exception) -> SchemaRegistryError:
        return SchemaRegistryError(
            f"registry {self.registry}: {doing} failed: {_code(error) or type(error).__name__}: {_message(error)}"
        )


def publish(registry: GlueSchemaRegistry, schemas: Sequence[PackageSchema]) -> list[Published]:
    """Register every schema that changed; refuses (registering nothing) a dropped attribution field."""
    reasons = attribution_refusals(schemas)
    if reasons:
        raise SchemaRefusedError(reasons)
    registry.ensure_registry()
    published: list[Published] = []
    for schema in schemas:
        try:
            published.append(registry.publish(schema))
        except SchemaRefusedError as refused:
            raise SchemaRefusedError(refused.reasons, by_glue=True, published=published) from None
    return published


def check(registry: GlueSchemaRegistry, schemas: Sequence[PackageSchema]) -> list[Checked]:
    """Compare each schema with the registry's latest version; refuses a dropped attribution field
    before reading the registry."""
    reasons = attribution_refusals(schemas)
    if reasons:
        raise SchemaRefusedError(reasons)
    results = []
    for schema in schemas:
        latest = registry.latest(schema.name)
        if latest is None:
            results.append(Checked(schema.name, None, ("not registered",)))
            continue
        number, document = latest
        results.append(Checked(schema.name, number, tuple(differences(document, schema.document))))
    return results


def glue_client(endpoint_url: Optional[str] = None, region: Optional[str] = None) -> Any:
    """A boto3 Glue client (endpoint override for tests; region from the default chain)."""
    import boto3

    return boto3.client("glue", endpoint_url=endpoint_url, region_name=region)


def run(
    action: str,
    *,
    registry: str,
    out: TextIO,
    err: TextIO,
    endpoint_url: Optional[str] = None,
    region: Optional[str] = None,
    as_json: bool = False,
    schemas: Optional[Sequence[PackageSchema]] = None,
    glue: Any = None,
) -> int:
    """`meta-capi-receiver schemas publish|check`: a line per schema on `out` (or one JSON document),
    what went wrong on `err`; returns the exit status (EXIT_*). `glue` replaces the boto3 client."""
    chosen = list(schemas) if schemas is not None else package_schemas()
    try:
        target = GlueSchemaRegistry(glue if glue is not None else glue_client(endpoint_url, region), registry)
    except Exception as error:  # no region, a malformed endpoint URL: botocore's own exception types
        err.write(f"error: cannot create a Glue client: {type(error).__name__}: {error}\n")
        return EXIT_AWS_ERROR
    try:
        if action == "publish":
            return _report_published(publish(target, chosen), out, as_json, registry)
        return _report_checked(check(target, chosen), out, err, as_json, registry)
    except SchemaRefusedError as refused:
        for reason in refused.reasons:
            err.write(f"refused: {reason}\n")
        if action == "publish" and not refused.by_glue:
            err.write(f"nothing was registered in registry {registry}\n")
        for done in refused.published:
            err.write(f"before the refusal: {done.name}: version {done.version} ({done.status})\n")
        return EXIT_REFUSED
    except SchemaRegistryError as error:
        err.write(f"error: {error}\n")
        return EXIT_AWS_ERROR


def _report_published(published: Sequence[Published], out: TextIO, as_json: bool, registry: str) -> int:
    rows = [{"schema": p.name, "version": p.version, "status": p.status} for p in published]
    _write(out, as_json, rows, [f"{p.name}: version {p.version} ({p.status})" for p in published], registry)
    return EXIT_OK


def _report_checked(checked: Sequence[Checked], out: TextIO, err: TextIO, as_json: bool, registry: str) -> int:
    rows = [{"schema": c.name, "version": c.registered_version, "differences": list(c.differences)} for c in checked]
    lines = []
    for c in checked:
        if c.registered_version is None:
            lines.append(f"{c.name}: not registered")
        elif c.differences:
            lines.append(f"{c.name}: differs from version {c.registered_version}: " + "; ".join(c.differences))
        else:
            lines.append(f"{c.name}: version {c.registered_version} (in sync)")
    _write(out, as_json, rows, lines, registry)
    differing = [c.name for c in checked if c.differences]
    if differing:
        err.write(
            f"out of sync with registry {registry}: {', '.join(differing)}; run meta-capi-receiver schemas publish\n"
        )
        return EXIT_DIFFERS
    return EXIT_OK


def _write(out: TextIO, as_json: bool, rows: list[dict[str, Any]], lines: list[str], registry: str) -> None:
    if as_json:
        out.write(json.dumps({"registry": registry, "schemas": rows}) + "\n")
    else:
        out.write("".join(f"{line}\n" for line in lines))


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _message(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        return str(response.get("Error", {}).get("Message", ""))
    return str(error)
