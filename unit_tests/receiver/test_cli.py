"""The console script's offline commands."""

from __future__ import annotations

import json

from source_meta_capi.receiver.cli import main, sample_body
from source_meta_capi.receiver.env_table import environment_variables
from source_meta_capi.receiver.signatures import SignaturePolicy, parse_webhook_secret

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_env_lists_every_variable(capsys) -> None:
    assert main(["env"]) == 0
    out = capsys.readouterr().out
    assert all(f"`{variable.name}`" in out for variable in environment_variables())


def test_sign_prints_headers_the_receiver_accepts(tmp_path, capsys) -> None:
    body = json.dumps(sample_body(2)).encode()
    path = tmp_path / "body.json"
    path.write_bytes(body)
    assert main(["sign", "--body-file", str(path), "--secret", SECRET, "--id", "msg_cli"]) == 0
    headers = {k.lower(): v for k, v in json.loads(capsys.readouterr().out).items()}
    verified = SignaturePolicy(webhook_keys=(parse_webhook_secret(SECRET),)).verify(
        body, headers, now=float(headers["webhook-timestamp"])
    )
    assert verified.webhook_id == "msg_cli"


def test_configuration_error_exits_2_with_message(monkeypatch, capsys) -> None:
    monkeypatch.setenv("META_CAPI_FORWARD_MODE", "sometimes")
    assert main(["reconcile"]) == 2
    assert "META_CAPI_FORWARD_MODE" in capsys.readouterr().err


def test_given_keep_alive_setting_when_serving_then_uvicorn_keeps_idle_connections_that_long(
    tmp_path, monkeypatch
) -> None:
    import uvicorn

    from source_meta_capi.receiver import cli

    given: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: given.update(options))
    monkeypatch.setattr(cli, "_freeze_startup_heap", lambda: None)
    monkeypatch.setattr(cli.json_logging, "configure", lambda level: None)
    for name, value in {
        "META_CAPI_STAGING_URL": str(tmp_path),
        "META_CAPI_ALLOW_UNSIGNED": "true",
        "META_CAPI_FORWARD_MODE": "off",
    }.items():
        monkeypatch.setenv(name, value)
    assert main(["serve"]) == 0
    assert given["timeout_keep_alive"] == 5  # the default: idle direct clients are dropped fast
    monkeypatch.setenv("META_CAPI_KEEP_ALIVE_S", "65")  # behind an ALB whose idle timeout is 60 s
    assert main(["serve"]) == 0
    assert given["timeout_keep_alive"] == 65
