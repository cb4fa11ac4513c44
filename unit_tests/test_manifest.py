"""manifest.yaml says what; spec.yaml holds the defaults; one Graph requester serves every stream."""

from __future__ import annotations

from typing import Any

import yaml

from source_meta_capi.config import connection_specification
from source_meta_capi.source import MANIFEST_PATH

MANIFEST: dict[str, Any] = yaml.safe_load(MANIFEST_PATH.read_text())


def test_every_stream_uses_the_shared_graph_requester():
    for stream in MANIFEST["streams"]:
        requester = stream["retriever"]["requester"]
        assert requester["$ref"] == "#/definitions/graph_requester", stream["name"]
        assert set(requester) <= {"$ref", "url", "request_parameters"}, stream["name"]


def test_the_manifest_holds_no_copy_of_a_spec_default():
    text = MANIFEST_PATH.read_text()
    graph = connection_specification()["properties"]["graph_api"]["properties"]
    for name in ("base_url", "api_version"):
        assert graph[name]["default"] not in text, name
    assert not any(f"'{aggregation}'" in text for aggregation in graph["stats_aggregations"]["default"])
    assert ".get('graph_api'" not in text
