"""SettingsError texts (receiver/settings_errors.py): the variable named, no secret quoted."""

from __future__ import annotations

import pytest

from source_meta_capi.receiver.settings import SettingsError, load_settings
from unit_tests.receiver.settings_environments import load


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"META_CAPI_WEBHOOK_SECRETS": "whsec_c2hvcnQ="}, "META_CAPI_WEBHOOK_SECRETS"),
        ({"META_CAPI_ACCESS_TOKENS": "abc=tok-secret-value"}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_ACCESS_TOKENS": "tok-secret-value"}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_ACCESS_TOKENS": '{"111": ["tok-secret-value"]}'}, "META_CAPI_ACCESS_TOKENS"),
        ({"META_CAPI_FORWARD_MODE": "sometimes"}, "META_CAPI_FORWARD_MODE"),
        ({"META_CAPI_SIGNATURE_TOLERANCE_S": "0"}, "META_CAPI_SIGNATURE_TOLERANCE_S"),
        ({"META_CAPI_SIGNATURE_TOLERANCE_S": "nan"}, "META_CAPI_SIGNATURE_TOLERANCE_S"),
        ({"META_CAPI_MAX_BODY_BYTES": "lots"}, "META_CAPI_MAX_BODY_BYTES"),
        ({"META_CAPI_PORT": "70000"}, "META_CAPI_PORT"),
        ({"META_CAPI_PIXEL_IDS": "12,../x"}, "META_CAPI_PIXEL_IDS"),
        ({"META_CAPI_ALLOW_UNSIGNED": "maybe"}, "META_CAPI_ALLOW_UNSIGNED"),
        ({"META_CAPI_API_VERSION": "26"}, "META_CAPI_API_VERSION"),
        ({"META_CAPI_DEFAULT_COUNTRY": "usa"}, "META_CAPI_DEFAULT_COUNTRY"),
        ({"META_CAPI_WRITER_ID": "Not-Valid"}, "META_CAPI_WRITER_ID"),
    ],
)
def test_given_invalid_variable_when_loading_then_error_names_it_without_secret(
    env: dict[str, str], variable: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load(**env)
    assert variable in str(raised.value)
    assert "tok-secret-value" not in str(raised.value)
    # Nor in what a traceback would print: the validation error is not chained.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__


@pytest.mark.parametrize(
    "env",
    [
        {"META_CAPI_HUB_SECRETS": "hub-secret-value", "META_CAPI_ALLOW_UNSIGNED": "true"},
        {"META_CAPI_APP_SECRET": "secretsmanager:", "META_CAPI_PSEUDONYMIZE_SALT": "salt-secret-value"},
        {"META_CAPI_ACCESS_TOKENS": "111=tok-secret-value,222=", "META_CAPI_PORT": "x"},
    ],
)
def test_given_secrets_beside_an_invalid_variable_when_loading_then_no_secret_in_the_error(
    env: dict[str, str],
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(env)
    text = str(raised.value)
    assert "secret-value" not in text and "META_CAPI_" in text


def test_given_invalid_non_secret_variable_when_loading_then_error_shows_the_value() -> None:
    with pytest.raises(SettingsError, match="'sometimes'"):
        load(META_CAPI_FORWARD_MODE="sometimes")


def test_given_a_secret_pasted_into_a_non_secret_variable_when_loaded_then_redacted_there_too() -> None:
    # The second line of defence: the pixel list quotes its input, which holds the token.
    with pytest.raises(SettingsError) as raised:
        load(META_CAPI_ACCESS_TOKENS="111=tok-secret-value", META_CAPI_PIXEL_IDS="111,tok-secret-value")
    assert "META_CAPI_PIXEL_IDS" in str(raised.value) and "tok-secret-value" not in str(raised.value)


def test_given_a_secrets_manager_reference_when_it_fails_then_the_error_quotes_the_reference() -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"META_CAPI_APP_SECRET": "secretsmanager:"})
    assert str(raised.value).startswith("META_CAPI_APP_SECRET") and "secretsmanager:" in str(raised.value)
