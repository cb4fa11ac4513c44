"""How variables are written (receiver/settings_values.py): token maps, references, pixel lists."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from source_meta_capi.receiver.settings import SettingsError, load_settings
from source_meta_capi.receiver.settings_values import Boolean, PixelIds, TestEventPixels
from source_meta_capi.receiver.signatures import parse_webhook_secret
from unit_tests.receiver.settings_environments import SECRET, FakeSecretsManager, load


@pytest.mark.parametrize("tokens", ["111=tok-a, 222=tok-b", '{"111": "tok-a", "222": "tok-b"}'])
def test_given_tokens_in_either_form_when_loading_then_per_pixel(tokens: str) -> None:
    settings = load(META_CAPI_ACCESS_TOKENS=tokens)
    assert settings.access_token("111") == "tok-a" and settings.access_token("222") == "tok-b"
    assert settings.access_token("333") is None


def test_given_secret_references_when_loading_then_resolved_by_the_resolver() -> None:
    resolver = FakeSecretsManager(
        {"secretsmanager:hooks": f"{SECRET}, ", "secretsmanager:tok": "tok-from-sm", "secretsmanager:salt": "pepper"}
    )
    settings = load_settings(
        {
            "META_CAPI_WEBHOOK_SECRETS": "secretsmanager:hooks",
            "META_CAPI_ACCESS_TOKENS": "111=secretsmanager:tok",
            "META_CAPI_PSEUDONYMIZE_SALT": "secretsmanager:salt",
        },
        resolver,  # type: ignore[arg-type]
    )
    assert settings.webhook_keys == (parse_webhook_secret(SECRET),)
    assert settings.access_token("111") == "tok-from-sm" and settings.pseudonymize_salt == "pepper"


def test_given_test_event_pixels_when_loading_then_only_those_take_test_events() -> None:
    assert load().allows_test_events("123")
    listed = load(META_CAPI_TEST_EVENT_PIXELS="111, 222")
    assert listed.allows_test_events("222") and not listed.allows_test_events("333")
    with pytest.raises(SettingsError, match="META_CAPI_TEST_EVENT_PIXELS"):
        load(META_CAPI_TEST_EVENT_PIXELS="111,all")


@pytest.mark.parametrize(("text", "expected"), [("1", True), ("Yes", True), ("on", True), ("0", False), ("OFF", False)])
def test_given_a_boolean_spelling_when_parsed_then_its_value(text: str, expected: bool) -> None:
    assert TypeAdapter(Boolean).validate_python(text) is expected


def test_given_pixel_lists_when_parsed_then_sets_of_pixel_ids_and_star_only_for_test_events() -> None:
    assert TypeAdapter(PixelIds).validate_python(" 111, ,222 ") == frozenset({"111", "222"})
    assert TypeAdapter(TestEventPixels).validate_python("*") == frozenset({"*"})
    with pytest.raises(ValidationError, match="not a pixel id"):
        TypeAdapter(PixelIds).validate_python("*")


@pytest.mark.parametrize(
    "text",
    ["111", "111=", "abc=tok", '{"111": 5}', '{"111'],
)
def test_given_malformed_access_tokens_when_loaded_then_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(SettingsError, match="META_CAPI_ACCESS_TOKENS"):
        load(META_CAPI_ACCESS_TOKENS=text)


def test_given_per_pixel_secrets_in_either_form_when_loaded_then_the_same_map() -> None:
    listed = load(META_CAPI_HUB_SECRETS_BY_PIXEL="111=a|b, 222=c")
    as_json = load(META_CAPI_HUB_SECRETS_BY_PIXEL='{"111": ["a", "b"], "222": "c"}')
    assert listed.hub_secrets_by_pixel == as_json.hub_secrets_by_pixel == {"111": ("a", "b"), "222": ("c",)}
    keyed = load(META_CAPI_WEBHOOK_SECRETS_BY_PIXEL=f"111={SECRET}")
    assert keyed.webhook_keys_by_pixel == {"111": (parse_webhook_secret(SECRET),)}
