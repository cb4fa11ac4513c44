"""The receiver's variables as operators read them: `meta-capi-receiver env` and docs/receiver.md's table.

Generated from `ReceiverSettings` (settings.py), the one declaration of each setting, so the
documentation cannot drift from the code (a test compares docs/receiver.md with
`env_table_markdown()`). Apart from settings.py because nothing that runs the receiver needs it:
it is the model read for people, with defaults written as they would be in an environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from source_meta_capi.receiver.settings import ENV_PREFIX, ReceiverSettings, is_secret, variables_of


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
        name = variables_of(field)[0]
        if not name.startswith(ENV_PREFIX):
            continue
        found.append(EnvVariable(name, _env_text(field.default), field.description or "", is_secret(field)))
    return tuple(found)


def env_table_markdown() -> str:
    """The Markdown table of the variables (`meta-capi-receiver env`, the README's table)."""
    lines = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for variable in environment_variables():
        default = f"`{variable.default}`" if variable.default else "—"
        lines.append(f"| `{variable.name}` | {default} | {variable.description} |")
    return "\n".join(lines) + "\n"


def _env_text(default: Any) -> str:
    if isinstance(default, bool):
        return "true" if default else "false"
    if isinstance(default, float):
        return f"{default:g}"
    if default is None or (isinstance(default, (tuple, frozenset, dict)) and not default):
        return ""
    return str(default)
