"""Read a CloudFormation / SAM YAML template into plain data, short-form tags included.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, every other
`!Fn` becomes `{"Fn::Fn": ...}`, exactly as CloudFormation reads them, so tests can walk a
template without cfn-lint's internal APIs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_FUNCTIONS = (
    "And",
    "Base64",
    "Cidr",
    "Equals",
    "FindInMap",
    "GetAZs",
    "If",
    "ImportValue",
    "Join",
    "Not",
    "Or",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "Length",
    "ToJsonString",
)


class _TemplateLoader(yaml.SafeLoader):
    """A SafeLoader that knows CloudFormation's short-form intrinsic functions."""


def _construct(node: yaml.Node, loader: _TemplateLoader) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _ref(loader: _TemplateLoader, node: yaml.Node) -> Any:
    return {"Ref": _construct(node, loader)}


def _get_att(loader: _TemplateLoader, node: yaml.Node) -> Any:
    value = _construct(node, loader)
    return {"Fn::GetAtt": value.split(".", 1) if isinstance(value, str) else value}


def _condition(loader: _TemplateLoader, node: yaml.Node) -> Any:
    return {"Condition": _construct(node, loader)}


def _function(name: str) -> Any:
    def construct(loader: _TemplateLoader, node: yaml.Node) -> Any:
        return {f"Fn::{name}": _construct(node, loader)}

    return construct


_TemplateLoader.add_constructor("!Ref", _ref)
_TemplateLoader.add_constructor("!GetAtt", _get_att)
_TemplateLoader.add_constructor("!Condition", _condition)
for _name in _FUNCTIONS:
    _TemplateLoader.add_constructor(f"!{_name}", _function(_name))


def load_template(path: Path) -> dict[str, Any]:
    """The template at `path` as a dict."""
    with path.open(encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=_TemplateLoader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a CloudFormation template (its top level is not a mapping)")
    return document
