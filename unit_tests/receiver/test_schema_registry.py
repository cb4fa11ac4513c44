"""The registry's pure logic: attribution refusals and field differences (no AWS)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from source_meta_capi.capi.event_fields import MATCH_KEYS
from source_meta_capi.receiver.schema_registry import (
    ATTRIBUTION_FIELDS,
    EXIT_AWS_ERROR,
    EXIT_REFUSED,
    REGISTERED_STREAMS,
    PackageSchema,
    attribution_refusals,
    canonical_definition,
    differences,
    field_types,
    package_schemas,
    run,
)


def schemas() -> dict[str, dict[str, Any]]:
    return {schema.name: copy.deepcopy(dict(schema.document)) for schema in package_schemas()}


def test_given_package_schemas_when_checked_then_every_attribution_field_is_declared() -> None:
    found = package_schemas()
    assert [schema.name for schema in found] == list(REGISTERED_STREAMS)
    assert attribution_refusals(found) == []
    assert {f"user_data.{key}" for key in MATCH_KEYS} <= set(ATTRIBUTION_FIELDS["delivered_events"])


@pytest.mark.parametrize(
    ("stream", "path"),
    [
        ("delivered_events", "event_id"),
        ("delivered_events", "action_source"),
        ("delivered_events", "user_data.em"),
        ("delivered_events", "user_data.fbp"),
        ("delivery_statuses", "outcome"),
        ("delivery_statuses", "event_ids"),
        ("dead_letters", "dead_letter_id"),
        ("dead_letters", "reason"),
    ],
)
def test_given_schema_dropping_an_attribution_field_when_checked_then_refused_naming_schema_and_field(
    stream: str, path: str
) -> None:
    documents = schemas()
    parent = documents[stream]
    *outer, leaf = path.split(".")
    for name in outer:
        parent = parent["properties"][name]
    del parent["properties"][leaf]
    (reason,) = attribution_refusals([PackageSchema(n, d) for n, d in documents.items()])
    assert reason.startswith(f"{stream}: the schema drops {path}, which attribution needs")


def test_given_user_data_dropped_when_checked_then_it_and_every_match_key_are_named() -> None:
    documents = schemas()
    del documents["delivered_events"]["properties"]["user_data"]
    reasons = attribution_refusals([PackageSchema("delivered_events", documents["delivered_events"])])
    assert len(reasons) == 1 + len(MATCH_KEYS)
    assert "drops user_data," in reasons[0]


def test_given_registered_and_package_schemas_when_compared_then_each_field_change_is_named() -> None:
    before = schemas()["delivered_events"]
    after = copy.deepcopy(before)
    after["properties"]["new_field"] = {"type": ["null", "string"]}
    del after["properties"]["referrer_url"]
    after["properties"]["event_time"]["type"] = ["null", "string"]
    assert differences(before, after) == [
        "field referrer_url removed",
        "field new_field added",
        'field event_time type "integer" -> ["null", "string"]',
    ]
    assert differences(before, copy.deepcopy(before)) == []
    described = copy.deepcopy(before)
    described["description"] = "changed"
    assert differences(before, described) == [
        "definition changed (descriptions, formats or constraints; no field added, removed or retyped)"
    ]


def test_given_a_schema_when_canonicalized_then_key_order_and_whitespace_do_not_matter() -> None:
    document = schemas()["dead_letters"]
    shuffled = json.loads(json.dumps(document, indent=4))
    assert canonical_definition(shuffled) == canonical_definition(dict(reversed(list(document.items()))))
    assert "user_data.em" in field_types(schemas()["delivered_events"])


class _StubGlue:
    """Just enough of the Glue client: one registry with every schema at version 1, a new
    version answered with `verdicts` in turn (what GetSchemaVersion reports), or `failure`."""

    def __init__(self, verdicts: list[str], failure: Exception | None = None) -> None:
        self.verdicts = verdicts
        self.failure = failure
        self.registered: list[str] = []

    def get_registry(self, **_: Any) -> dict[str, Any]:
        if self.failure is not None:
            raise self.failure
        return {}

    def get_schema(self, **_: Any) -> dict[str, Any]:
        return {"LatestSchemaVersion": 1}

    def get_schema_by_definition(self, **_: Any) -> dict[str, Any]:
        raise _client_error("EntityNotFoundException")

    def register_schema_version(self, SchemaId: dict[str, str], **_: Any) -> dict[str, Any]:
        self.registered.append(SchemaId["SchemaName"])
        return {"SchemaVersionId": "v2", "VersionNumber": 2, "Status": "PENDING"}

    def get_schema_version(self, **_: Any) -> dict[str, Any]:
        return {"Status": self.verdicts.pop(0), "VersionNumber": 2}


def _client_error(code: str) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": f"{code} message"}}, "Operation")


def _run(glue: Any, action: str = "publish") -> tuple[int, str, str]:
    import io

    out, err = io.StringIO(), io.StringIO()
    status = run(action, registry="meta-capi", out=out, err=err, glue=glue, schemas=package_schemas())
    return status, out.getvalue(), err.getvalue()


def test_given_glue_finds_a_version_incompatible_when_publishing_then_refused_naming_it_and_what_went_before(
    monkeypatch,
) -> None:
    monkeypatch.setattr(time, "sleep", lambda _: None)
    glue = _StubGlue(["PENDING", "AVAILABLE", "FAILURE"])
    status, out, err = _run(glue)
    assert status == EXIT_REFUSED and out == ""
    assert glue.registered == ["delivered_events", "delivery_statuses"]
    assert "refused: delivery_statuses: Glue refused the new version as not BACKWARD compatible" in err
    assert "before the refusal: delivered_events: version 2 (registered)" in err
    assert "nothing was registered" not in err


def test_given_registry_access_denied_when_checking_or_publishing_then_exit_status_names_an_aws_error() -> None:
    for action in ("publish", "check"):
        glue = _StubGlue([], failure=_client_error("AccessDeniedException"))
        glue.get_schema = glue.get_registry  # type: ignore[method-assign]
        status, _, err = _run(glue, action)
        assert status == EXIT_AWS_ERROR, action
        assert "registry meta-capi" in err and "AccessDeniedException" in err
