"""`meta-capi-receiver schemas publish|check` against moto's Glue Schema Registry (server mode),
and the schema-drift log line naming the registered version.

moto registers versions without any compatibility check (BACKWARD or other), so what these tests
show refused is refused by our own attribution check, before any call to the registry.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import uuid
from typing import Any

import boto3
import pytest

from integration_tests.receiver.conftest import PIXEL, event
from source_meta_capi.receiver import cli, schema_registry
from source_meta_capi.receiver.schema_registry import (
    EXIT_DIFFERS,
    EXIT_OK,
    EXIT_REFUSED,
    REGISTERED_STREAMS,
    PackageSchema,
    package_schemas,
)


@pytest.fixture
def aws_env(monkeypatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("META_CAPI_SCHEMA_REGISTRY", raising=False)


@pytest.fixture
def registry() -> str:
    return f"capi-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def glue(moto_endpoint: str, aws_env) -> Any:
    return boto3.client("glue", endpoint_url=moto_endpoint, region_name="us-east-1")


def schemas_cli(capsys, *args: str) -> tuple[int, str, str]:
    status = cli.main(["schemas", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run(action: str, registry: str, endpoint: str, schemas: list[PackageSchema]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = schema_registry.run(action, registry=registry, endpoint_url=endpoint, out=out, err=err, schemas=schemas)
    return status, out.getvalue(), err.getvalue()


def with_change(stream: str, change) -> list[PackageSchema]:
    changed = []
    for schema in package_schemas():
        document = copy.deepcopy(dict(schema.document))
        if schema.name == stream:
            change(document)
        changed.append(PackageSchema(schema.name, document))
    return changed


def versions(glue: Any, registry: str, stream: str) -> list[int]:
    # moto has no ListSchemaVersions: walk the numbers up to the latest.
    schema_id = {"RegistryName": registry, "SchemaName": stream}
    latest = glue.get_schema(SchemaId=schema_id)["LatestSchemaVersion"]
    return [
        glue.get_schema_version(SchemaId=schema_id, SchemaVersionNumber={"VersionNumber": n})["VersionNumber"]
        for n in range(1, latest + 1)
    ]


def test_given_empty_registry_when_publishing_twice_then_three_schemas_at_version_1_and_the_second_run_is_a_no_op(
    capsys, moto_endpoint, glue, registry
) -> None:
    args = ("--registry", registry, "--endpoint-url", moto_endpoint, "--json")
    status, out, _ = schemas_cli(capsys, "check", *args)
    assert status == EXIT_DIFFERS
    assert {row["schema"]: row["differences"] for row in json.loads(out)["schemas"]} == {
        stream: ["not registered"] for stream in REGISTERED_STREAMS
    }

    status, out, err = schemas_cli(capsys, "publish", *args)
    assert status == EXIT_OK, err
    assert json.loads(out) == {
        "registry": registry,
        "schemas": [{"schema": stream, "version": 1, "status": "created"} for stream in REGISTERED_STREAMS],
    }
    for stream in REGISTERED_STREAMS:
        schema = glue.get_schema(SchemaId={"RegistryName": registry, "SchemaName": stream})
        assert (schema["DataFormat"], schema["Compatibility"]) == ("JSON", "BACKWARD")

    status, out, _ = schemas_cli(capsys, "publish", *args)
    assert status == EXIT_OK
    assert [row["status"] for row in json.loads(out)["schemas"]] == ["unchanged"] * 3
    assert all(versions(glue, registry, stream) == [1] for stream in REGISTERED_STREAMS)

    status, out, _ = schemas_cli(capsys, "check", "--registry", registry, "--endpoint-url", moto_endpoint)
    assert status == EXIT_OK
    assert out.splitlines() == [f"{stream}: version 1 (in sync)" for stream in REGISTERED_STREAMS]


def test_given_registry_from_the_environment_when_publishing_then_it_is_used(
    capsys, monkeypatch, moto_endpoint, glue, registry
) -> None:
    monkeypatch.setenv("META_CAPI_SCHEMA_REGISTRY", registry)
    status, out, err = schemas_cli(capsys, "publish", "--endpoint-url", moto_endpoint)
    assert status == EXIT_OK, err
    assert "delivered_events: version 1 (created)" in out
    assert glue.get_registry(RegistryId={"RegistryName": registry})["RegistryName"] == registry


def test_given_a_new_optional_field_when_checked_then_named_and_publish_registers_version_2(
    moto_endpoint, glue, registry
) -> None:
    assert run("publish", registry, moto_endpoint, package_schemas())[0] == EXIT_OK
    changed = with_change(
        "delivered_events", lambda d: d["properties"].update(coupon_code={"type": ["null", "string"]})
    )

    status, out, err = run("check", registry, moto_endpoint, changed)
    assert status == EXIT_DIFFERS
    assert "delivered_events: differs from version 1: field coupon_code added" in out
    assert "out of sync with registry" in err and "delivered_events" in err

    status, out, _ = run("publish", registry, moto_endpoint, changed)
    assert status == EXIT_OK
    assert out.splitlines()[0] == "delivered_events: version 2 (registered)"
    assert versions(glue, registry, "delivered_events") == [1, 2]
    assert versions(glue, registry, "dead_letters") == [1]
    assert run("check", registry, moto_endpoint, changed)[0] == EXIT_OK


@pytest.mark.parametrize(
    ("stream", "path", "drop"),
    [
        ("delivered_events", "event_id", lambda d: d["properties"].pop("event_id")),
        ("delivered_events", "user_data.ph", lambda d: d["properties"]["user_data"]["properties"].pop("ph")),
        ("delivery_statuses", "attempt", lambda d: d["properties"].pop("attempt")),
    ],
)
def test_given_a_dropped_attribution_field_when_checked_or_published_then_refused_and_nothing_registered(
    moto_endpoint, glue, registry, stream, path, drop
) -> None:
    assert run("publish", registry, moto_endpoint, package_schemas())[0] == EXIT_OK
    dropped = with_change(stream, drop)
    for action in ("check", "publish"):
        status, out, err = run(action, registry, moto_endpoint, dropped)
        assert status == EXIT_REFUSED, action
        assert f"refused: {stream}: the schema drops {path}, which attribution needs" in err
        assert out == ""
    assert all(versions(glue, registry, name) == [1] for name in REGISTERED_STREAMS)


def test_given_no_registry_when_a_refused_schema_is_published_then_not_even_the_registry_is_created(
    moto_endpoint, glue, registry
) -> None:
    dropped = with_change("dead_letters", lambda d: d["properties"].pop("stage"))
    status, _, err = run("publish", registry, moto_endpoint, dropped)
    assert status == EXIT_REFUSED and "dead_letters: the schema drops stage" in err
    assert registry not in {r["RegistryName"] for r in glue.list_registries()["Registries"]}


def test_given_schema_version_setting_when_an_event_drifts_then_the_drift_line_names_the_version(
    make_receiver, caplog
) -> None:
    receiver = make_receiver(schema_version="3")
    drifted = event("drift-v")
    del drifted["event_name"]
    with caplog.at_level(logging.ERROR, logger="meta_capi_receiver"):
        response = receiver.send({"data": [event("fine-v"), drifted]})
    assert response.status_code == 200, response.text
    (line,) = [r for r in caplog.records if r.getMessage() == "schema drift"]
    context = line.__dict__["ctx"]
    assert (context["pixel_id"], context["field"], context["schema_version"]) == (PIXEL, "event_name", "3")
