"""Settings from an injected environment mapping."""

from __future__ import annotations

import base64

import pytest

from source_meta_capi.receiver.settings import ENV_VARS, SettingsError, load_settings

SECRET = "whsec_" + base64.b64encode(b"s" * 32).decode()


class NoSecrets:
    def resolve(self, setting: str, value: str) -> str:
        return value


def load(**env: str):
    return load_settings(env, NoSecrets())  # type: ignore[arg-type]


def test_given_empty_environment_when_loading_then_safe_defaults() -> None:
    settings = load()
    assert settings.staging_url == "./meta-capi-staging"
    assert settings.webhook_keys == () and not settings.allow_unsigned
    assert settings.signature_tolerance_s == 300
    assert settings.forward_mode == "background"
    assert settings.host == "127.0.0.1"
    assert settings.allows_pixel("123")


def test_given_lambda_environment_when_mode_auto_then_inline_and_background_refused() -> None:
    assert load(AWS_LAMBDA_FUNCTION_NAME="f").forward_mode == "inline"
    with pytest.raises(SettingsError, match="background"):
        load(AWS_LAMBDA_FUNCTION_NAME="f", META_CAPI_FORWARD_MODE="background")


@pytest.mark.parametrize("tokens", ["111=tok-a, 222=tok-b", '{"111": "tok-a", "222": "tok-b"}'])
def test_given_tokens_in_either_form_when_loading_then_per_pixel(tokens: str) -> None:
    settings = load(META_CAPI_ACCESS_TOKENS=tokens)
    assert settings.access_token("111") == "tok-a" and settings.access_token("222") == "tok-b"
    assert settings.access_token("333") is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"META_CAPI_WEBHOOK_SECRETS": "whsec_c2hvcnQ="}, "META_CAPI_WEBHOOK_SECRETS"),
        ({"META_CAPI_ACCESS_TOKENS": "abc=tok-secret-value"}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_ACCESS_TOKENS": "tok-secret-value"}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_FORWARD_MODE": "sometimes"}, "META_CAPI_FORWARD_MODE"),
        ({"META_CAPI_SIGNATURE_TOLERANCE_S": "0"}, "META_CAPI_SIGNATURE_TOLERANCE_S"),
        ({"META_CAPI_SIGNATURE_TOLERANCE_S": "nan"}, "META_CAPI_SIGNATURE_TOLERANCE_S"),
        ({"META_CAPI_PIXEL_IDS": "12,../x"}, "META_CAPI_PIXEL_IDS"),
        ({"META_CAPI_ALLOW_UNSIGNED": "maybe"}, "META_CAPI_ALLOW_UNSIGNED"),
        ({"META_CAPI_API_VERSION": "26"}, "META_CAPI_API_VERSION"),
        ({"META_CAPI_DEFAULT_COUNTRY": "usa"}, "META_CAPI_DEFAULT_COUNTRY"),
    ],
)
def test_given_invalid_variable_when_loading_then_error_names_it_without_secret(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load(**env)
    assert variable in str(raised.value)
    assert "tok-secret-value" not in str(raised.value)


def test_given_unsigned_with_secrets_when_loading_then_refused() -> None:
    with pytest.raises(SettingsError, match="ALLOW_UNSIGNED"):
        load(META_CAPI_ALLOW_UNSIGNED="true", META_CAPI_WEBHOOK_SECRETS=SECRET)


def test_given_secrets_when_repr_then_no_secret_shown() -> None:
    settings = load(
        META_CAPI_WEBHOOK_SECRETS=SECRET,
        META_CAPI_HUB_SECRETS="hub-secret",
        META_CAPI_ACCESS_TOKENS="1=tok-secret-value",
    )
    assert len(settings.webhook_keys) == 1 and settings.hub_secrets == ("hub-secret",)
    text = repr(settings)
    assert "hub-secret" not in text and "tok-secret-value" not in text and SECRET[6:] not in text


def test_every_variable_is_documented_with_a_default_and_meaning() -> None:
    assert all(name.startswith("META_CAPI_") and meaning for name, (_, meaning) in ENV_VARS.items())
