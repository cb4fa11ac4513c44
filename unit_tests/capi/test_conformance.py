"""Conformance with the fact sheet: its test vectors, and issue 15's reproducers as named cases.

The vectors are §3.5 of the fact sheet (shared/reference/META_CAPI_FACTS.md beside the repository) (several checked against
Meta's own page). The reproducers are the differential test's findings against Meta's Python
SDK 26.0.3, libphonenumber and the fact sheet; each id says what used to go wrong.
docs/normalization.md states every rule these cases pin and where it comes from.
"""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import validate_batch, validate_event
from source_meta_capi.capi.user_data_normalization import (
    WarningKind,
    normalize_field,
    normalize_user_data,
    sha256_hex,
)
from source_meta_capi.receiver.pipeline import RequestContext, new_batch_id, process
from unit_tests.capi import fact_sheet_oracle as oracle

TODAY = date(2026, 11, 26)
NOW = 1764150000

# §3.5: (field, raw input, country, normalized, SHA-256).
FACT_SHEET_VECTORS = [
    ("em", "  Joe@Example.COM ", None, "joe@example.com", "2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"),
    ("em", "John_Smith@gmail.com", None, "john_smith@gmail.com", "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
    ("ph", "(650)555-1212", "us", "16505551212", "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
    ("ph", "510 555 0011", None, "5105550011", "cf9b0227ee02d8f8f9dbb6060fa2941bb667efc71f6ee2e6ee17b40121a5f4a6"),
    ("ph", "+1 (510) 555-0011", None, "15105550011", "d4b7c9f6b02e092351ed7ae8ee8efa8165a96070e1db113c178ce091e3f26387"),
    ("ph", "+44 (0)20 7946 0958", None, "442079460958", "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823"),
    ("fn", "Mary", None, "mary", "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
    ("fn", "Valéry", None, "valéry", "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ("fn", "정", None, "정", "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
    ("fn", "Joe", None, "joe", "78675cc176081372c43abab3ea9fb70c74381eb02dc6e93fb6d44d161da6eeb3"),
    ("fn", "John", None, "john", "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a"),
    ("ln", "Smith", None, "smith", "6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd"),
    ("ln", "Doe ", None, "doe", "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f"),
    ("db", "2/16/1997", None, "19970216", "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"),
    ("ge", "Female", None, "f", "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
    ("ge", "male", None, "m", "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"),
    ("ct", "Menlo Park", None, "menlopark", "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"),
    ("ct", "San Francisco", None, "sanfrancisco", "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac"),
    ("ct", "New York", None, "newyork", "350c754ba4d38897693aa077ef43072a859d23f613443133fecbbd90a3512ca5"),
    ("st", "CA", "us", "ca", "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"),
    ("st", "California", "us", "ca", "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"),
    ("st", "New York", "us", "ny", "1b06e2003f8420d6fa42badd8f77ec0f706b976b7a48b13c567dc5a559681683"),
    ("st", "Texas", "us", "tx", "1b5b9ccb3e8d006a5230de9bda23ff91edc794d4f56410560830b418528e446c"),
    ("zp", "94025-1234", "us", "94025", "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"),
    ("zp", "94035", "us", "94035", "1794327a4d443904421f5ca1f3d72d0a62ba2f0770d80755ec2220fc0efb052e"),
    ("zp", "M1 1AE", "gb", "m11ae", "1dc694c2070e697769fb959b50671d76cafd430d8ca191fbdd0affcaea344ac5"),
    ("country", "United States", None, "us", "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("country", "US", None, "us", "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("country", "Germany", None, "de", "959a45d44e6fcf58361ed004681556fe50129f2109e817dec098c00c9e5d2578"),
    ("country", "United Kingdom", None, "gb", "0b407281768f0e833afef47ed464b6571d01ca4d53c12ce5c51d1462f4ad6677"),
    ("external_id", "user123", None, "user123", "e606e38b0d8c19b24cf0ee3808183162ea7cd63ff7912dbb22b5e803286b4446"),
    ("external_id", "ABC12345", None, "ABC12345", "2221aa193aea3b3fdee120c146c302fdb6ea606dbf4dfc5e1d587ec4b1aedf74"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("key", "raw", "country", "normalized", "digest"),
    FACT_SHEET_VECTORS,
    ids=[f"{key}:{raw.strip()}" for key, raw, *_ in FACT_SHEET_VECTORS],
)
def test_given_fact_sheet_vector_then_normalized_value_and_hash_match(
    key: str, raw: str, country: str | None, normalized: str, digest: str
) -> None:
    assert normalize_field(key, raw, country, TODAY) == normalized
    assert sha256_hex(normalized) == digest == oracle.sha256(normalized)
    assert normalize_user_data({key: raw}, country, TODAY).user_data[key] == [digest]


# Issue 15, "valid data lost or mis-resolved": (id, field, raw, country, expected normalized).
FIELD_REPRODUCERS = [
    ("country-NA-placeholder-is-not-namibia", "country", "N/A", None, None),
    ("country-na-code-is-namibia", "country", "na", None, "na"),
    ("zip-trailing-dash", "zp", "94025-", "us", "94025"),
    ("zip-partial-plus4", "zp", "94025-12", "us", "94025"),
    ("zip-dot-plus4", "zp", "94025.1234", "us", "94025"),
    ("zip-en-dash-plus4", "zp", "94025\u20131234", "us", "94025"),
    ("zip-labelled", "zp", "ZIP 94025", "us", "94025"),
    ("zip-labelled-no-country", "zp", "ZIP 94025", None, "94025"),
    ("zip-plus4-no-country", "zp", "94025-1234", None, "94025"),
    ("zip-loose-tail-needs-us", "zp", "94025-12", None, "9402512"),
    ("brazil-cep-without-country-kept-whole", "zp", "01310-100", None, "01310100"),
    ("zip-fullwidth-japan", "zp", "１００－０００１", "jp", "1000001"),
    ("zip-arabic-indic-us", "zp", "٩٤٠٢٥", "us", "94025"),
    ("state-calif", "st", "Calif.", "us", "ca"),
    ("state-mass", "st", "Mass.", "us", "ma"),
    ("state-tex", "st", "Tex", "us", "tx"),
    ("state-n-carolina", "st", "N. Carolina", "us", "nc"),
    ("state-washington-dc", "st", "Washington DC", "us", "dc"),
    ("state-iso-3166-2", "st", "US-CA", "us", "ca"),
    ("state-outside-us-unmapped", "st", "Calif.", "de", "calif"),
    ("date-iso-with-zone", "db", "1997-02-16Z", None, "19970216"),
    ("date-month-name-first", "db", "Feb 16, 1997", None, "19970216"),
    ("date-day-first-month-name", "db", "16 February 1997", None, "19970216"),
    ("date-cjk", "db", "1997年2月16日", None, "19970216"),
    ("date-basic-iso-with-time", "db", "19970216T000000", None, "19970216"),
    ("date-arabic-indic-digits", "db", "١٩٩٧-٠٢-١٦", None, "19970216"),
    ("date-ordinal-and-dot", "db", "Feb. 16th, 1997", None, "19970216"),
    ("date-no-day-is-not-invented", "db", "Feb 1997", None, None),
    ("date-impossible", "db", "Feb 30, 1997", None, None),
    ("date-two-digit-year", "db", "Feb 16, 97", None, None),
    ("country-the-netherlands", "country", "The Netherlands", None, "nl"),
    ("country-republic-of-korea", "country", "Republic of Korea", None, "kr"),
    ("country-cote-divoire-unaccented", "country", "Cote d'Ivoire", None, "ci"),
    ("country-native-deutschland", "country", "Deutschland", None, "de"),
    ("country-native-espana", "country", "España", None, "es"),
    ("country-native-japan", "country", "日本", None, "jp"),
    ("country-kosovo", "country", "Kosovo", None, "xk"),
    ("phone-extension-not-appended", "ph", "650 555 1212 ext 7", None, "6505551212"),
    ("phone-extension-with-country", "ph", "650 555 1212 ext 7", "us", "16505551212"),
    ("phone-00-prefix-and-trunk-zero", "ph", "0044 (0)20 7946 0958", None, "442079460958"),
    ("phone-011-prefix", "ph", "011 44 20 7946 0958", None, "442079460958"),
    ("phone-kosovo", "ph", "044 123 456", "xk", "38344123456"),
    ("phone-arabic-indic-digits", "ph", "٠٧٢٢ ١٢٣ ٤٥٦", "ro", "40722123456"),
    ("phone-placeholder", "ph", "n/a", "us", None),
    ("name-null", "fn", "null", None, None),
    ("name-NA", "ln", "N/A", None, None),
    ("name-none", "fn", "None", None, None),
    ("name-dash", "ln", "-", None, None),
    ("name-na-is-a-name", "ln", "Na", None, "na"),
    ("city-null", "ct", "NULL", None, None),
    ("city-unknown", "ct", "unknown", None, None),
]


@pytest.mark.parametrize(
    ("key", "raw", "country", "expected"),
    [case[1:] for case in FIELD_REPRODUCERS],
    ids=[case[0] for case in FIELD_REPRODUCERS],
)
def test_given_issue_15_field_reproducer_then_normalized_as_meta_expects(
    key: str, raw: str, country: str | None, expected: str | None
) -> None:
    assert normalize_field(key, raw, country, TODAY) == expected


def test_given_json_number_zip_that_lost_its_leading_zero_then_padded_in_a_us_event() -> None:
    result = normalize_user_data({"zp": 2134, "country": "us"}, None, TODAY)
    assert result.user_data["zp"] == [sha256_hex("02134")]


def test_given_country_placeholder_then_the_default_country_resolves_the_phone() -> None:
    result = normalize_user_data({"country": "N/A", "ph": "020 7946 0958"}, "gb", TODAY)
    assert result.user_data == {"ph": [sha256_hex("442079460958")]}


@pytest.mark.parametrize(
    "countries",
    [["ZZ", "gb"], ["N/A", "United Kingdom"], ["us", "gb"]],
    ids=["unknown-first", "placeholder-first", "valid-reading-wins"],
)
def test_given_a_country_list_then_every_element_gives_phone_context(countries: list[str]) -> None:
    result = normalize_user_data({"country": countries, "ph": "020 7946 0958"}, None, TODAY)
    assert result.user_data["ph"] == [sha256_hex("442079460958")]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7, 10.0.0.1", "203.0.113.7"),
        ("  203.0.113.7 ", "203.0.113.7"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("203.0.113.7:8080", "203.0.113.7"),
        ("2001:DB8::7", "2001:db8::7"),
        ("203.0.113.7.AQYBAQIA", "203.0.113.7.AQYBAQIA"),
        ("not an ip", None),
        ("   ", None),
    ],
    ids=["proxy-list", "spaces", "bracketed-v6-port", "v4-port", "v6-case", "param-builder-appendix", "junk", "blank"],
)
def test_given_client_ip_address_then_one_address_without_spaces(raw: str, expected: str | None) -> None:
    result = normalize_user_data({"client_ip_address": raw, "em": "joe@example.com"}, None, TODAY)
    assert result.user_data.get("client_ip_address") == expected
    if expected is None:
        assert [w.field for w in result.warnings] == ["client_ip_address"]


@pytest.mark.parametrize("key", ["fbc", "fbp", "client_user_agent"])
def test_given_blank_cookie_or_user_agent_then_dropped(key: str) -> None:
    result = normalize_user_data({key: "   ", "em": "joe@example.com"}, None, TODAY)
    assert key not in result.user_data


# -------------------------------------------------------------------------------------------
# Events: false accepts, stricter-than-Meta decisions, minimum match.


def _event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_name": "Purchase",
        "event_time": NOW - 60,
        "event_id": "order-1",
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": {"em": "joe@example.com", "client_user_agent": "Mozilla/5.0"},
        "custom_data": {"value": 12.5, "currency": "USD"},
    }
    for key, value in changes.items():
        if value is None:
            event.pop(key, None)
        else:
            event[key] = value
    return event


_APP_DATA = {"advertiser_tracking_enabled": True, "application_tracking_enabled": True}
_EXTINFO = ["a2", "com.example", "1.0", "1.0.1", "14", "Pixel", "en_US", "UTC"] + [""] * 8

EVENT_REJECTIONS = [
    ("purchase-currency-XYZ", _event(custom_data={"value": 1, "currency": "XYZ"}), ["custom_data.currency"]),
    ("purchase-currency-ABC", _event(custom_data={"value": 1, "currency": "ABC"}), ["custom_data.currency"]),
    ("purchase-currency-XXX-is-no-money", _event(custom_data={"value": 1, "currency": "XXX"}), ["custom_data.currency"]),
    ("addtocart-value-abc", _event(event_name="AddToCart", custom_data={"value": "abc"}), ["custom_data.value"]),
    ("addtocart-currency-US$", _event(event_name="AddToCart", custom_data={"value": 1, "currency": "US$"}), ["custom_data.currency"]),
    ("lead-value-nan-string", _event(event_name="Lead", custom_data={"value": "NaN"}), ["custom_data.value"]),
    ("contents-not-a-list", _event(custom_data={"value": 1, "currency": "USD", "contents": {"id": "1"}}), ["custom_data.contents"]),
    ("contents-item-without-id", _event(custom_data={"value": 1, "currency": "USD", "contents": [{"quantity": 1}]}), ["custom_data.contents[0].id"]),
    ("contents-item-not-object", _event(custom_data={"value": 1, "currency": "USD", "contents": ["SKU"]}), ["custom_data.contents[0]"]),
    ("contents-quantity-fraction", _event(custom_data={"value": 1, "currency": "USD", "contents": [{"id": "a", "quantity": 1.5}]}), ["custom_data.contents[0].quantity"]),
    ("contents-item-price-text", _event(custom_data={"value": 1, "currency": "USD", "contents": [{"id": "a", "item_price": "cheap"}]}), ["custom_data.contents[0].item_price"]),
    ("num-items-fraction", _event(event_name="InitiateCheckout", custom_data={"num_items": 2.5}), ["custom_data.num_items"]),
    ("content-ids-not-strings", _event(event_name="ViewContent", custom_data={"content_ids": [{"id": 1}]}), ["custom_data.content_ids"]),
    ("app-extinfo-version-x1", _event(action_source="app", event_source_url=None, app_data={**_APP_DATA, "extinfo": ["x1", *_EXTINFO[1:]]}), ["app_data.extinfo"]),
    ("app-extinfo-empty-os-version", _event(action_source="app", event_source_url=None, app_data={**_APP_DATA, "extinfo": [*_EXTINFO[:4], "", *_EXTINFO[5:]]}), ["app_data.extinfo"]),
    ("dpo-unknown-option", _event(data_processing_options=["FOO"]), ["data_processing_options"]),
    ("opt-out-yes", _event(opt_out="yes"), ["opt_out"]),
    ("event-time-non-ascii-digits", _event(event_time="١٧٦٤١٥٠٠٠٠"), ["event_time"]),
    ("user-data-empty-literal", _event(action_source="email", event_source_url=None, user_data={}), ["user_data"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "fields"), [case[1:] for case in EVENT_REJECTIONS], ids=[case[0] for case in EVENT_REJECTIONS]
)
def test_given_event_meta_rejects_then_validation_rejects_it(event: dict[str, Any], fields: list[str]) -> None:
    assert [rejection.field for rejection in validate_event(event, NOW)] == fields


EVENT_ACCEPTS = [
    ("event-time-digit-string", _event(event_time=str(NOW - 60)), {"event_time": NOW - 60}),
    ("value-decimal-string", _event(custom_data={"value": "12.50", "currency": "usd"}), {"custom_data": {"value": 12.5, "currency": "usd"}}),
    ("value-integer-string", _event(event_name="AddToCart", custom_data={"value": "12"}), {"custom_data": {"value": 12}}),
    ("opt-out-string-true", _event(opt_out="true"), {"opt_out": True}),
    ("opt-out-string-False", _event(opt_out="False"), {"opt_out": False}),
    ("ldu-codes-as-strings", _event(data_processing_options=["LDU"], data_processing_options_country="1", data_processing_options_state="1000"), {"data_processing_options_country": 1, "data_processing_options_state": 1000}),
    ("num-items-and-contents-as-strings", _event(custom_data={"value": 1, "currency": "USD", "num_items": "3", "contents": [{"id": "a", "quantity": "2", "item_price": "9.99"}, {"id": "b", "quantity": 1.0}]}), {"custom_data": {"value": 1, "currency": "USD", "num_items": 3, "contents": [{"id": "a", "quantity": 2, "item_price": 9.99}, {"id": "b", "quantity": 1}]}}),
    ("app-event-complete", _event(action_source="app", event_source_url=None, app_data={**_APP_DATA, "extinfo": _EXTINFO}), {}),
    ("contents-well-formed", _event(custom_data={"value": 1, "currency": "EUR", "contents": [{"id": "SKU-1", "quantity": 1, "item_price": 1, "delivery_category": "home_delivery"}], "num_items": 1}), {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "forwarded"), [case[1:] for case in EVENT_ACCEPTS], ids=[case[0] for case in EVENT_ACCEPTS]
)
def test_given_event_meta_accepts_then_accepted_and_forwarded_with_metas_types(
    event: dict[str, Any], forwarded: dict[str, Any]
) -> None:
    before = copy.deepcopy(event)
    assert validate_event(event, NOW) == []
    result = normalize_event(event, None, TODAY)
    assert result.rejection is None
    for key, value in forwarded.items():
        assert result.event[key] == value
    assert event == before


def test_given_repeated_event_name_and_event_id_in_a_batch_then_both_accepted_as_meta_does() -> None:
    assert validate_batch({"data": [_event(), _event()]}, NOW).valid_indices == (0, 1)


NO_MATCH_KEY_LEFT = [
    ("email-not-an-email", {"em": "not-an-email"}, "user_data.em (not an email address)"),
    (
        "phone-placeholder-gender-unknown-country-zz",
        {"ph": "n/a", "ge": "unknown", "country": "ZZ"},
        "user_data.country (not a recognised country), user_data.ge (placeholder, not data), "
        "user_data.ph (placeholder, not data)",
    ),
]


@pytest.mark.parametrize(
    ("user_data", "named"), [case[1:] for case in NO_MATCH_KEY_LEFT], ids=[case[0] for case in NO_MATCH_KEY_LEFT]
)
def test_given_user_data_that_normalizes_away_then_the_event_is_dead_lettered_naming_the_fields(
    user_data: dict[str, Any], named: str
) -> None:
    event = _event(action_source="email", event_source_url=None, user_data=user_data)
    assert validate_event(event, NOW) == []
    context = RequestContext("123", "req-1", new_batch_id(), "unsigned")
    intake = process({"data": [event, _event()]}, context, NOW, today=TODAY)
    assert [accepted.index for accepted in intake.accepted] == [1]
    assert [(r.index, r.field) for r in intake.rejections] == [(0, "user_data")]
    assert intake.rejections[0].reason.endswith("dropped: " + named)
    assert [letter["event_index"] for letter in intake.dead_letters] == [0]
    assert "not-an-email" not in repr(intake.rejections)


WEAK = [
    ("first-name-and-gender", {"fn": "Mary", "ge": "f"}, "email"),
    ("last-name-and-gender", {"ln": "Smith", "ge": "f"}, "email"),
    ("website-user-agent-only", {"client_user_agent": "Mozilla/5.0"}, "website"),
    ("birth-date-and-user-agent", {"db": "1997-02-16", "client_user_agent": "Mozilla/5.0"}, "website"),
    ("address-without-person", {"ct": "Menlo Park", "st": "CA", "zp": "94025", "country": "US"}, "email"),
]


@pytest.mark.parametrize(("user_data", "action_source"), [case[1:] for case in WEAK], ids=[case[0] for case in WEAK])
def test_given_only_a_weak_match_key_combination_then_accepted_with_a_counted_warning(
    user_data: dict[str, Any], action_source: str
) -> None:
    event = _event(action_source=action_source, user_data=user_data)
    assert validate_event(event, NOW) == []
    result = normalize_event(event, None, TODAY)
    assert result.rejection is None
    assert [w.kind for w in result.warnings if w.field == "user_data"] == [WarningKind.WEAK_MATCH_KEYS]


def test_given_a_strong_key_beside_a_weak_combination_then_no_weak_warning() -> None:
    result = normalize_event(_event(user_data={"fn": "Mary", "ge": "f", "em": "m@example.com"}), None, TODAY)
    assert all(w.kind != WarningKind.WEAK_MATCH_KEYS for w in result.warnings)


def test_given_weak_match_keys_then_the_accepted_event_carries_the_countable_kind() -> None:
    context = RequestContext("123", "req-1", new_batch_id(), "unsigned")
    event = _event(action_source="email", user_data={"fn": "Mary", "ge": "f"})
    (accepted,) = process({"data": [event]}, context, NOW, today=TODAY).accepted
    assert WarningKind.WEAK_MATCH_KEYS in accepted.warning_kinds
    assert "user_data: only a weak combination of match keys: fn+ge" in accepted.record["normalization_warnings"]
