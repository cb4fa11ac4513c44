"""The variables' table for operators (receiver/env_table.py), and docs/receiver.md's copy of it."""

from __future__ import annotations

from source_meta_capi.receiver.env_table import env_table_markdown, environment_variables


def test_every_variable_is_documented_once_with_a_meaning() -> None:
    variables = environment_variables()
    names = [variable.name for variable in variables]
    assert len(names) == len(set(names))
    assert all(name.startswith("META_CAPI_") for name in names)
    assert all(variable.description for variable in variables)
    assert {v.name for v in variables if v.secret} == {
        "META_CAPI_WEBHOOK_SECRETS",
        "META_CAPI_HUB_SECRETS",
        "META_CAPI_WEBHOOK_SECRETS_BY_PIXEL",
        "META_CAPI_HUB_SECRETS_BY_PIXEL",
        "META_CAPI_ACCESS_TOKENS",
        "META_CAPI_APP_SECRET",
        "META_CAPI_PSEUDONYMIZE_SALT",
    }


def test_env_table_lists_each_variable_with_its_default() -> None:
    table = env_table_markdown().splitlines()
    assert table[:2] == ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    assert len(table) == 2 + len(environment_variables())
    assert (
        "| `META_CAPI_FORWARD_MODE` | `auto` |"
        in table[2 + [v.name for v in environment_variables()].index("META_CAPI_FORWARD_MODE")]
    )
    assert any(line.startswith("| `META_CAPI_FORWARD_DEADLINE_S` | `3` |") for line in table)
    assert any(line.startswith("| `META_CAPI_WEBHOOK_SECRETS` | — |") for line in table)


def test_given_the_settings_model_when_docs_read_then_their_env_table_is_the_generated_one() -> None:
    """docs/receiver.md carries `meta-capi-receiver env`'s table; regenerate it when a setting changes."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "receiver.md").read_text(encoding="utf-8")
    start, end = "<!-- env-table:start -->\n", "\n<!-- env-table:end -->"
    documented = text[text.index(start) + len(start) : text.index(end)]
    assert documented == env_table_markdown().rstrip("\n"), (
        "docs/receiver.md's env table is stale: paste the output of `meta-capi-receiver env`"
    )
