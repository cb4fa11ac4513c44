"""Normalization and hashing of user_data against the fact sheet's vectors (§3.4, §3.5)."""

import hashlib
import hmac
from datetime import date

import pytest

from source_meta_capi.capi.user_data_normalization import (
    NormalizationWarning,
    is_sha256_hex,
    normalize_field,
    normalize_user_data,
    pseudonymize,
    sha256_hex,
)

TODAY = date(2026, 11, 26)

# Fact sheet §3.5: (field, raw, country, normalized, sha256). ✔Meta rows match Meta's page.
VECTORS = [
    ("em", "  Joe@Example.COM ", None, "joe@example.com",
     "2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"),
    ("em", "John_Smith@gmail.com", None, "john_smith@gmail.com",  # ✔Meta
     "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"),
    ("ph", "(650)555-1212", "us", "16505551212",  # ✔Meta
     "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"),
    ("ph", "510 555 0011", None, "5105550011",
     "cf9b0227ee02d8f8f9dbb6060fa2941bb667efc71f6ee2e6ee17b40121a5f4a6"),
    ("ph", "+1 (510) 555-0011", None, "15105550011",
     "d4b7c9f6b02e092351ed7ae8ee8efa8165a96070e1db113c178ce091e3f26387"),
    ("ph", "+44 (0)20 7946 0958", None, "442079460958",
     "35e206e5dec4c89b9e8b71b8c32724a5bb518483ac5a20c6617d738375b3b823"),
    ("fn", "Mary", None, "mary",  # ✔Meta
     "6915771be1c5aa0c886870b6951b03d7eafc121fea0e80a5ea83beb7c449f4ec"),
    ("fn", "Valéry", None, "valéry",  # ✔Meta
     "08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"),
    ("fn", "정", None, "정",  # ✔Meta
     "8fa8cd9c440be61d0151429310034083132b35975c4bea67fdd74158eb51db14"),
    ("fn", "Joe", None, "joe",
     "78675cc176081372c43abab3ea9fb70c74381eb02dc6e93fb6d44d161da6eeb3"),
    ("fn", "John", None, "john",
     "96d9632f363564cc3032521409cf22a852f2032eec099ed5967c0d000cec607a"),
    ("ln", "Smith", None, "smith",
     "6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd"),
    ("ln", "Doe ", None, "doe",
     "799ef92a11af918e3fb741df42934f3b568ed2d93ac1df74f1b8d41a27932a6f"),
    ("db", "2/16/1997", None, "19970216",  # ✔Meta
     "01acdbf6ec7b4f478a225f1a246e5d6767eeab1a7ffa17f025265b5b94f40f0c"),
    ("ge", "Female", None, "f",
     "252f10c83610ebca1a059c0bae8255eba2f95be4d1d7bcfa89d7248a82d9f111"),
    ("ge", "male", None, "m",
     "62c66a7a5dd70c3146618063c344e531e6d4b59e379808443ce962b3abd63c5a"),
    ("ct", "Menlo Park", None, "menlopark",
     "0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"),
    ("ct", "San Francisco", None, "sanfrancisco",
     "1a6bd4d9d79dc0a79b53795c70d3349fa9e38968a3fbefbfe8783efb1d2b6aac"),
    ("ct", "New York", None, "newyork",
     "350c754ba4d38897693aa077ef43072a859d23f613443133fecbbd90a3512ca5"),
    ("st", "CA", None, "ca",
     "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"),
    ("st", "California", None, "ca",
     "6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"),
    ("st", "New York", None, "ny",
     "1b06e2003f8420d6fa42badd8f77ec0f706b976b7a48b13c567dc5a559681683"),
    ("st", "Texas", None, "tx",
     "1b5b9ccb3e8d006a5230de9bda23ff91edc794d4f56410560830b418528e446c"),
    ("zp", "94025-1234", None, "94025",
     "b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"),
    ("zp", "94035", None, "94035",
     "1794327a4d443904421f5ca1f3d72d0a62ba2f0770d80755ec2220fc0efb052e"),
    ("zp", "M1 1AE", None, "m11ae",
     "1dc694c2070e697769fb959b50671d76cafd430d8ca191fbdd0affcaea344ac5"),
    ("country", "United States", None, "us",  # ✔Meta
     "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("country", "US", None, "us",  # ✔Meta
     "79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"),
    ("country", "Germany", None, "de",
     "959a45d44e6fcf58361ed004681556fe50129f2109e817dec098c00c9e5d2578"),
    ("country", "United Kingdom", None, "gb",
     "0b407281768f0e833afef47ed464b6571d01ca4d53c12ce5c51d1462f4ad6677"),
    ("external_id", "user123", None, "user123",
     "e606e38b0d8c19b24cf0ee3808183162ea7cd63ff7912dbb22b5e803286b4446"),
    ("external_id", "ABC12345", None, "ABC12345",
     "2221aa193aea3b3fdee120c146c302fdb6ea606dbf4dfc5e1d587ec4b1aedf74"),
]  # fmt: skip


@pytest.mark.parametrize(("key", "raw", "country", "normalized", "digest"), VECTORS)
def test_fact_sheet_vector_normalizes_and_hashes(
    key: str, raw: str, country: str | None, normalized: str, digest: str
) -> None:
    assert normalize_field(key, raw, country, today=TODAY) == normalized
    assert sha256_hex(normalized) == digest
    assert normalize_user_data({key: raw}, country, TODAY).user_data[key] == [digest]


def test_external_id_keeps_case_unlike_segment() -> None:
    hashed = normalize_user_data({"external_id": " ABC12345 "}, today=TODAY).user_data
    lowercased = "14f8f4bb8c0e79a02670a5fea5682da717a5b3d3dc7b1706f7a4bab9afae18c2"
    assert hashed["external_id"] != [lowercased]
    assert sha256_hex("abc12345") == lowercased


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+44 (0)20 7946 0958", None, "442079460958"),
        ("020 7946 0958", "gb", "442079460958"),
        ("(650)555-1212", "us", "16505551212"),
        ("0722 123 456", "ro", "40722123456"),
        ("+1.650.555.1212", None, "16505551212"),
        ("650-555-1212 ext. 123", "us", "16505551212"),
        ("0016505551212", "gb", "16505551212"),
        ("16505551212", "us", "16505551212"),
    ],
)
def test_phone_numbers_become_e164_digits(raw: str, country: str | None, expected: str) -> None:
    assert normalize_field("ph", raw, country) == expected


def test_given_event_country_when_phone_has_no_country_code_then_region_comes_from_event() -> None:
    result = normalize_user_data({"ph": "020 7946 0958", "country": "United Kingdom"}, "us", TODAY)
    assert result.user_data["ph"] == [sha256_hex("442079460958")]
    assert result.warnings == []


def test_given_default_country_when_event_has_none_then_default_resolves_phone() -> None:
    result = normalize_user_data({"ph": "(650)555-1212"}, "US", TODAY)
    assert result.user_data["ph"] == [sha256_hex("16505551212")]


def test_given_no_country_when_phone_is_national_then_digits_only_with_warning() -> None:
    result = normalize_user_data({"ph": "510 555 0011"}, None, TODAY)
    assert result.user_data["ph"] == [sha256_hex("5105550011")]
    assert result.warnings == [
        NormalizationWarning("ph", "phone number has no resolvable country code; sent as digits only")
    ]


def test_given_leading_zeros_when_digits_only_fallback_then_zeros_are_removed() -> None:
    assert normalize_field("ph", "0510 555 0011") == "5105550011"


@pytest.mark.parametrize("raw", ["abc", "12", "1234567890123456789"])
def test_phone_that_is_not_a_number_is_dropped(raw: str) -> None:
    result = normalize_user_data({"ph": raw}, None, TODAY)
    assert "ph" not in result.user_data
    assert result.warnings == [NormalizationWarning("ph", "dropped: not a phone number")]


def test_sdk_gotchas_are_handled() -> None:
    assert normalize_field("db", "1997-02-16", today=TODAY) == "19970216"
    assert normalize_field("st", "California") == "ca"
    assert normalize_field("country", "United States") == "us"
    assert normalize_field("ph", "+1.650.555.1212") == "16505551212"
    assert normalize_field("ph", "020 7946 0958", "gb") == "442079460958"


def test_md5_shaped_email_is_hashed_not_passed_through() -> None:
    md5_shaped = "5d41402abc4b2a76b9719d911017c592"
    result = normalize_user_data({"external_id": md5_shaped}, today=TODAY)
    assert result.user_data["external_id"] == [sha256_hex(md5_shaped)]
    # As an email it is not an address at all, so it is dropped rather than sent raw.
    email = normalize_user_data({"em": md5_shaped}, today=TODAY)
    assert "em" not in email.user_data
    assert md5_shaped not in repr(email)


@pytest.mark.parametrize("key", ["em", "ph", "fn", "ln", "db", "ct", "zp", "external_id"])
def test_given_sha256_hex_when_normalizing_then_it_is_lowercased_not_rehashed(
    key: str,
) -> None:
    digest = sha256_hex("joe@example.com")
    result = normalize_user_data({key: f"  {digest.upper()} "}, today=TODAY)
    assert result.user_data[key] == [digest]


def test_hex_that_is_not_exactly_64_chars_is_not_treated_as_prehashed() -> None:
    digest = sha256_hex("x")
    assert not is_sha256_hex(digest + "0")
    assert not is_sha256_hex("prefix" + digest)
    assert not is_sha256_hex(digest[:32])
    assert is_sha256_hex(f" {digest.upper()} ")


def test_nfc_decomposed_and_composed_names_hash_the_same() -> None:
    composed = normalize_user_data({"fn": "Valéry"}, today=TODAY).user_data["fn"]
    decomposed = normalize_user_data({"fn": "Vale\u0301ry"}, today=TODAY).user_data["fn"]
    assert composed == decomposed == ["08e1996b5dd49e62a4b4c010d44e4345592a863bb9f8e3976219bac29417149c"]
    assert sha256_hex("Vale\u0301ry") == sha256_hex("Valéry")


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("ln", "O'Brien-Smith", "obriensmith"),
        ("fn", "  Mary-Ann  ", "maryann"),
        ("fn", "Mary  Ann", "mary ann"),
        ("ln", "Müller", "müller"),
        ("ln", "Łukasz", "łukasz"),
        ("fn", "Дмитрий", "дмитрий"),
        ("ct", "St. Louis", "stlouis"),
        ("ct", "Zürich 8001", "zürich"),
        ("st", "Ontario", "ontario"),
        ("st", "Île-de-France", "îledefrance"),
        ("em", "Jane.Doe+news@Example.com", "jane.doe+news@example.com"),
        ("ge", "F", "f"),
        ("ge", "Woman", "f"),
        ("ge", "MAN", "m"),
        ("country", "USA", "us"),
        ("country", "UK", "gb"),
        ("country", "u.s.a.", "us"),
        ("country", "DEU", "de"),
        ("country", " fr ", "fr"),
        ("zp", "94035-1234", "94035"),
        ("zp", "940351234", "94035"),
        ("zp", "75008", "75008"),
        ("external_id", "  ABC-12 ", "ABC-12"),
    ],
)
def test_field_rules(key: str, raw: str, expected: str) -> None:
    assert normalize_field(key, raw, today=TODAY) == expected


def test_given_non_us_country_when_zip_then_spaces_and_dashes_removed() -> None:
    assert normalize_field("zp", "SW1A 1AA", "gb") == "sw1a1aa"
    assert normalize_field("zp", "1234-567", "pt") == "1234567"


def test_given_us_country_when_zip_is_not_five_digits_then_dropped() -> None:
    result = normalize_user_data({"zp": "2134", "country": "US"}, today=TODAY)
    assert "zp" not in result.user_data
    assert result.warnings == [NormalizationWarning("zp", "dropped: US ZIP code needs 5 digits")]


def test_given_non_us_country_when_state_is_us_name_then_not_mapped() -> None:
    assert normalize_field("st", "Georgia", "ge") == "georgia"
    assert normalize_field("st", "Georgia", "us") == "ga"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1997-02-16", "19970216"),
        ("19970216", "19970216"),
        ("02/16/1997", "19970216"),
        ("2/16/1997", "19970216"),
        ("2-16-1997", "19970216"),
        ("1997/2/6", "19970206"),
        ("16.02.1997", "19970216"),
        ("1997-02-16T00:00:00Z", "19970216"),
    ],
)
def test_birth_dates_become_yyyymmdd(raw: str, expected: str) -> None:
    assert normalize_field("db", raw, today=TODAY) == expected


@pytest.mark.parametrize("raw", ["1899-12-31", "2026-11-27", "3000-01-01", "1997-02-30", "13/13/1997", "Feb 16"])
def test_birth_dates_out_of_range_or_unparseable_are_dropped(raw: str) -> None:
    assert normalize_field("db", raw, today=TODAY) is None


@pytest.mark.parametrize(
    ("key", "raw"),
    [
        ("ge", "x"),
        ("ge", "nonbinary"),
        ("country", "Atlantis"),
        ("country", "XX"),
        ("em", "not-an-email"),
        ("fn", "!!!"),
        ("ct", "123"),
        ("em", "   "),
    ],
)
def test_unusable_values_are_dropped(key: str, raw: str) -> None:
    result = normalize_user_data({key: raw}, today=TODAY)
    assert key not in result.user_data
    assert [warning.field for warning in result.warnings] == [key]


def test_list_values_are_hashed_and_deduplicated_in_order() -> None:
    result = normalize_user_data({"em": ["B@x.com", " b@X.com", "a@x.com"], "ph": 16505551212}, today=TODAY)
    assert result.user_data["em"] == [sha256_hex("b@x.com"), sha256_hex("a@x.com")]
    assert result.user_data["ph"] == [sha256_hex("16505551212")]


def test_every_hashed_value_is_a_list_of_lowercase_hex() -> None:
    raw = {
        "em": "joe@example.com", "ph": "+16505551212", "fn": "Joe", "ln": "Smith",
        "ge": "m", "db": "19970216", "ct": "Menlo Park", "st": "CA", "zp": "94025",
        "country": "US", "external_id": "user123",
    }  # fmt: skip
    hashed = normalize_user_data(raw, today=TODAY).user_data
    assert set(hashed) == set(raw)
    for values in hashed.values():
        assert isinstance(values, list)
        assert all(is_sha256_hex(value) and value == value.lower() for value in values)


def test_plain_identifiers_pass_through_unchanged() -> None:
    plain = {
        "client_ip_address": "2001:db8::7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "fbc": "fb.1.1764149000123.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
        "fbp": "fb.1.1764000000456.1098115397",
        "lead_id": 1234567890,
        "fb_login_id": 987654321,
        "madid": "38400000-8cf0-11bd-b23e-10b96e40000d",
        "anon_id": "AbC",
        "subscription_id": "sub-1",
        "page_id": "1",
        "page_scoped_user_id": "2",
        "ctwa_clid": "ClIdXyZ",
        "ig_account_id": "3",
        "ig_sid": "4",
        "whatsapp_business_account_id": "5",
    }
    result = normalize_user_data(plain, today=TODAY)
    assert result.user_data == plain
    assert result.warnings == []


def test_unknown_and_badly_typed_keys_are_dropped_with_warnings() -> None:
    result = normalize_user_data(
        {"email": "joe@example.com", "fbc": {"x": 1}, "em": [["nested"]], "fbp": True},
        today=TODAY,
    )
    assert result.user_data == {}
    assert {warning.field for warning in result.warnings} == {"email", "fbc", "em", "fbp"}


def test_no_raw_value_appears_in_warnings() -> None:
    raw = {
        "em": "secret.person@example.com-not-an-email@",
        "ph": "secretphone",
        "fn": "!!//!!",
        "ge": "secretgender",
        "db": "secretdate",
        "country": "Secretland",
        "zp": "???",
        "st": "...",
        "fbc": ["secretcookie"],
        "mystery": "secretvalue",
    }
    result = normalize_user_data(raw, "zz", TODAY)
    assert len(result.warnings) == len(raw)
    rendered = repr(result.warnings) + str(result.warnings) + repr(result)
    for value in ("secret", "Secret", "???", "...", "!!//!!"):
        assert value not in rendered


def test_normalize_field_refuses_keys_meta_does_not_hash() -> None:
    with pytest.raises(ValueError, match="not a hashed user_data key"):
        normalize_field("client_ip_address", "1.2.3.4")


def test_pseudonymize_keys_every_hash_and_identifier_with_the_salt() -> None:
    hashed = normalize_user_data({"em": "joe@example.com", "fbp": "fb.1.2.3", "lead_id": 42}, today=TODAY).user_data
    salted = pseudonymize(hashed, b"pepper")
    expected_em = hmac.new(b"pepper", hashed["em"][0].encode(), hashlib.sha256).hexdigest()
    assert salted["em"] == [expected_em]
    assert salted["fbp"] == hmac.new(b"pepper", b"fb.1.2.3", hashlib.sha256).hexdigest()
    assert salted["lead_id"] == hmac.new(b"pepper", b"42", hashlib.sha256).hexdigest()
    assert pseudonymize(hashed, "pepper") == salted
    assert pseudonymize(hashed, b"other")["em"] != salted["em"]
    assert hashed["em"] == [sha256_hex("joe@example.com")]


def test_pseudonymize_refuses_an_empty_salt() -> None:
    with pytest.raises(ValueError, match="non-empty salt"):
        pseudonymize({}, b"")


def test_given_local_only_number_when_normalizing_then_digits_only_with_warning() -> None:
    result = normalize_user_data({"ph": "555 1234"}, "us", TODAY)
    assert result.user_data["ph"] == [sha256_hex("5551234")]
    assert [warning.field for warning in result.warnings] == ["ph"]
