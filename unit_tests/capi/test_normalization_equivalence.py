"""The per-event hot path gives byte-identical results to the code before its speed-up.

About 6,000 generated inputs (whitespace and Unicode edge cases, phones in every shape, already
hashed values, empty strings, non-string types, hostile events and bodies) are run through the
public functions and compared with what the implementation produced *before* the CPU work of
docs/benchmarks.md item 2, recorded in `normalization_equivalence.json` from commit c73c999's code
with `python -m unit_tests.capi.test_normalization_equivalence --record`. The `fields` family is
stored verbatim (input and normalized plaintext); the others are regenerated from a fixed seed,
checked against the recorded digest of their inputs, and their outputs compared as a digest of
their exact JSON (insertion order kept). Re-recording is only legitimate for a deliberate change
of behaviour.
"""

from __future__ import annotations

import copy
import hashlib
import json
import random
import sys
import unicodedata
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from source_meta_capi.capi.custom_data_privacy import is_pii_key, strip_pii
from source_meta_capi.capi.event_normalization import normalize_event
from source_meta_capi.capi.event_validation import validate_batch
from source_meta_capi.capi.user_data_normalization import normalize_field, normalize_user_data, sha256_hex
from source_meta_capi.staging.records import decode_object, encode_records

FIXTURE = Path(__file__).with_name("normalization_equivalence.json")
TODAY = date(2025, 11, 26)
NOW = 1764150000
HASHED_KEYS = ("em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id")


def digest(value: Any) -> str:
    """Short digest of a result's exact JSON (key order kept, non-JSON values by repr)."""
    return hashlib.sha256(orjson.dumps(value, default=repr)).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# What is compared: each family's observable output, reduced to JSON.


def field_result(key: str, value: str, country: str | None) -> str | None:
    return normalize_field(key, value, country, TODAY)


def user_data_result(raw: Any, default_country: str | None) -> str:
    result = normalize_user_data(raw, default_country, TODAY)
    return digest([result.user_data, [[w.field, w.reason] for w in result.warnings]])


def event_result(event: Any, default_country: str | None) -> str:
    result = normalize_event(event, default_country, TODAY)
    return digest([result.event, [[w.field, w.reason] for w in result.warnings], result.stripped_custom_data_keys])


def validation_result(body: Any) -> str:
    result = validate_batch(body, NOW)
    rejections = [[r.index, r.event_id, r.field, r.reason] for r in result.rejections]
    return digest([list(result.valid_indices), rejections, result.test_event_code, result.partner_agent])


def strip_result(custom_data: Any) -> str:
    result = strip_pii(custom_data)
    return digest([result.custom_data, list(result.stripped_keys)])


# ---------------------------------------------------------------------------------------------
# The generated inputs.

_SPACES = (" ", "  ", "\t", "\n", "\xa0", "\u2003", "\u3000", "\u200b", "\r\n", "\u2028")
_CHARS = (
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    "'-.,_/()@+#&*!?:;\"`~[]{}|\\<>=%$^"
    "éÉèüÜöÖäÄåÅçÇñÑøØßẞıİσΣςǅﬁﬀÆæŒœ"
    "\u0301\u0308\u0327\u0345\u0300\u0303"
    "가정김이박\u1100\u1161\u11a8日本東京北京ابجدहिन्दीΑλφαБорис"
    "١٢٣٤٥６７８９０²½Ⅻ①"
    "😀👍🏽\u200d\u00ad\u2060\ufeff"
)
_FIRST = ("Jane", "José", "Zoë", "Liam", "Chloé", "Ahmed", "Mei", "Olga", "Noah", "Åsa", "Mary-Kate", "D'Arcy")
_LAST = ("Doe", "García", "Müller", "Nguyen", "O'Brien", "Smith", "Kowalski", "van der Berg", "Łukasz", "ŞAHİN")
_CITIES = ("San Francisco", "New York", "St. Louis", "Winston-Salem", "Zürich", "São Paulo", "Köln", "Łódź", "東京")
_STATES = ("CA", "California", "New York", "ny", "Texas", "Île-de-France", "NRW", "Bayern", "D.C.", "Puerto Rico")
_COUNTRY_TEXT = (
    "US", "us", "USA", "United States", "U.S.A.", "gb", "UK", "United Kingdom", "Germany", "DEU", "fr",
    "France", "Brasil", "Brazil", "br", "RO", "Romania", "india", "IN", "ca", "Canada", "zz", "XX", "Korea",
    "South Korea", "Côte d'Ivoire", "Türkiye", "turkey", "", " ", "1", "u s",
)  # fmt: skip
_REGIONS = (None, "us", "gb", "de", "fr", "ro", "br", "in", "ca", "jp", "au", "zz", "", "US", "United Kingdom")
_ZIPS = (
    "94025", "94025-1234", "94025 1234", "940251234", "9402", "02108", "M1 1AE", "SW1A 1AA", "1234-567",
    "75008", "10115", "01310-100", "K1A 0B1", "  94025  ", "94O25", "١٢٣٤٥", "-", "",
)  # fmt: skip
_DOBS = (
    "1997-02-16", "2/16/1997", "16/02/1997", "16.02.1997", "19970216", "1997/2/16", "1997-02-16T00:00:00Z",
    "1997-02-30", "02/16/97", "1899-12-31", "1900-01-01", "2025-11-26", "2025-11-27", "2030-01-01",
    "13/13/2000", "0/0/2000", "1997 02 16", "1997-2-6", "Feb 16 1997", "", "12/31/1999",
)  # fmt: skip
_GENDERS = ("f", "F", "female", "Female", "FEMALE", "woman", "m", "M", "male", "Man", "m.", "f.", "x", "other", "")
_PHONES = (
    "+14155551234", "+1 (415) 555-1234", "+1-415-555-1234", "+1.415.555.1234", "+1 415 555 1234",
    "+1 415 555 1234 ext 12", "+1 415 555 1234 x12", "+1 415 555 1234#", "+1 (415) 555-1234)",
    "(+1) 415 555 1234", "++14155551234", "+ 1 415 555 1234", "+1 4155551234 ", "+１４１５５５５１２３４",
    "+١٤١٥٥٥٥١٢٣٤", "tel:+1-415-555-1234", "+1 415 555 1234;ext=5", "1-800-FLOWERS", "+1 800 FLOWERS",
    "+1\t415\t555\t1234", "+1\xa0415\xa0555\xa01234", "+10155551234", "+11155551234", "+1415555123",
    "+141555512345", "+1 (415) 555-1234 / x2", "+1 415/555/1234", "+1 (0) 415 555 1234",
    "(650)555-1212", "650 555 1212", "6505551212", "650.555.1212", "1 650 555 1212", "16505551212",
    "011 44 20 7946 0958", "00 44 20 7946 0958", "020 7946 0958", "+44 (0)20 7946 0958", "+4402079460958",
    "+442079460958", "+44 20 7946 0958", "0722 123 456", "+40 722 123 456", "555 1234", "5551234",
    "0510 555 0011", "510 555 0011", "123", "abc", "0000000", "+0123456789", "+999 12345678",
    "+33 6 12 34 56 78", "06 12 34 56 78", "+49 30 12345678", "030 12345678", "+91 98765 43210",
    "+86 139 1234 5678", "+7 912 345-67-89", "+55 11 91234-5678", "(11) 91234-5678", "+61 4 1234 5678",
    "+1 242 555 1234", "+1 787 555 1234", "+1 416 555 1234", "+1 800 555 1234", "+1 900 555 1234",
    "+1 555 555 1234", "+1 311 555 1234", "+1 211 555 1234", "+1 (650) 555 - 1212", "+1 650 555 12 12",
    "+1 6505551212 ext. 123", "+1-650-555-1212,,123", "+1 650 555 1212 #123", "1234567890123456789",
    "+12345678901234567", "0016505551212", "011 1 650 555 1212", "+1 650-555-121", "+1 650-555-12123",
    "(650) 555-1212 ", " +1 650 555 1212", "+1--650--555--1212", "+1 ((650)) 555..1212", "+1 650 555 1212.",
    "+1 650 555 1212-", "+1 (650 555 1212", "650) 555-1212", "-650 555 1212", ".650.555.1212", "(650)-555-1212",
    "+1 650 555 1212 x", "+1 650 555 1212 int 5", "+1 650 555 1212 ~5", "+1 650 555 1212 доб 5",
)  # fmt: skip
_EMAILS = (
    "  Joe@Example.COM ", "john_smith@gmail.com", "joe+tag@example.co.uk", "joe@example", "@example.com",
    "joe@@example.com", "joe @example.com", "ÉMILE@exämple.fr", "joe.@example.com", "a@b.c", "joe@example.com.",
    "JOE@EXAMPLE.COM\t", "joe@exam ple.com", "", "x", "İ@example.com",
)  # fmt: skip


def _random_text(rng: random.Random, alphabet: str = _CHARS, max_length: int = 14) -> str:
    parts = []
    for _ in range(rng.randrange(0, max_length)):
        roll = rng.random()
        parts.append(rng.choice(_SPACES) if roll < 0.12 else rng.choice(alphabet))
    text = "".join(parts)
    if rng.random() < 0.2:
        text = unicodedata.normalize(rng.choice(("NFD", "NFKD", "NFC", "NFKC")), text)
    return text


def _hex64(rng: random.Random) -> str:
    digest_hex = hashlib.sha256(str(rng.random()).encode()).hexdigest()
    roll = rng.random()
    if roll < 0.25:
        return digest_hex.upper()
    if roll < 0.4:
        return f"  {digest_hex} "
    if roll < 0.5:
        return digest_hex[:63]
    if roll < 0.6:
        return digest_hex + "a"
    if roll < 0.7:
        return digest_hex[:32]
    if roll < 0.75:
        return digest_hex[:40] + "g" + digest_hex[41:]
    if roll < 0.8:
        return "\u3000" + digest_hex.upper() + "\n"
    return digest_hex


def _random_phone(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(_PHONES)
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 19)))
    if roll < 0.55:
        # E.164-shaped and NANP-shaped numbers with every first digit, and near misses.
        country = rng.choice(("1", "1", "1", "44", "49", "33", "91", "7", "55", "61", "86", "0", "999", "1242"))
        body = "".join(rng.choice("0123456789") for _ in range(rng.choice((9, 10, 10, 10, 11, 8, 12))))
        return ("+" if rng.random() < 0.85 else "") + country + body
    if roll < 0.8:
        separators = (" ", "-", ".", "(", ")", "", "", "", " - ", ") ", "/", "\t", "\xa0", "x", "#", ",")
        out = "+" if rng.random() < 0.5 else ""
        if rng.random() < 0.5:
            out += "1"
        for char in digits:
            out += char + (rng.choice(separators) if rng.random() < 0.3 else "")
        return out
    return _random_text(rng, "0123456789+-. ()x#/,;", 20)


def _value_for(rng: random.Random, key: str) -> str:
    roll = rng.random()
    if roll < 0.1:
        return _hex64(rng)
    if roll < 0.2:
        return _random_text(rng)
    if roll < 0.25:
        return rng.choice(("", " ", "\t\n", "\u3000", "\u200b"))
    pools: dict[str, tuple[str, ...]] = {
        "em": _EMAILS,
        "fn": _FIRST,
        "ln": _LAST,
        "ct": _CITIES,
        "st": _STATES,
        "zp": _ZIPS,
        "country": _COUNTRY_TEXT,
        "db": _DOBS,
        "ge": _GENDERS,
        "external_id": ("user123", "ABC12345", " ABC12345 ", "ä-42", "0", "user 1"),
    }
    if key == "ph":
        return _random_phone(rng)
    value = rng.choice(pools[key])
    if rng.random() < 0.3:
        value = rng.choice(("", " ", "  ", "\t", "\xa0")) + value + rng.choice(("", " ", "\n", "\u3000"))
    if rng.random() < 0.15:
        value = unicodedata.normalize("NFD", value)
    if rng.random() < 0.1:
        value = value.upper()
    return value


def _odd_value(rng: random.Random) -> Any:
    return copy.deepcopy(
        rng.choice((None, True, False, 0, 7, -1, 16505551212, 94025, 1.5, 0.0, [], {}, {"a": 1}, [None], ""))
    )


def _user_data(rng: random.Random) -> dict[str, Any]:
    user: dict[str, Any] = {}
    keys = list(HASHED_KEYS)
    rng.shuffle(keys)
    for key in keys[: rng.randrange(0, len(keys) + 1)]:
        roll = rng.random()
        if roll < 0.65:
            user[key] = _value_for(rng, key)
        elif roll < 0.85:
            user[key] = [_value_for(rng, key) if rng.random() < 0.85 else _odd_value(rng) for _ in range(3)]
        else:
            user[key] = _odd_value(rng)
    plain = ("client_ip_address", "client_user_agent", "fbc", "fbp", "fb_login_id", "lead_id", "madid", "page_id")
    for key in rng.sample(plain, rng.randrange(0, 4)):
        user[key] = rng.choice(("203.0.113.7", "Mozilla/5.0", "fb.1.1764149000123.IwAR2F4", "", 42, True, None, 1.5))
    if rng.random() < 0.2:
        user[rng.choice(("email", "phone", "EM", "name", "zip"))] = "joe@example.com"
    return user


_CUSTOM_KEYS = (
    "currency", "value", "content_ids", "contents", "order_id", "num_items", "email", "EMAIL", "e-mail",
    "billing_email", "customerPhoneNumber", "phone_case_color", "headphone_model", "firstName", "First-Name",
    "zip_code", "ZIPCode", "postal_code", "dateOfBirth", "DOB", "street", "address2", "userLastName",
    "shippingAddress", "email_opt_in", "HTTPServerEmail", "mobilePhoneNumber", "ΦΩΝΉ", "émail", "__email__",
    "Email2", "e_mail", "phoneNumberHash", "birthday", "id", "quantity", "item_price", "brand", "", "_", "2fa",
    "customer_segmentation", "delivery_category", "ABCPhone", "XMLHttpAddress", "addressLine1", "fullName",
)  # fmt: skip


def _custom_data(rng: random.Random, depth: int = 0) -> dict[str, Any]:
    custom: dict[str, Any] = {}
    for key in rng.sample(_CUSTOM_KEYS, rng.randrange(0, 7)):
        roll = rng.random()
        if roll < 0.15 and depth < 3:
            custom[key] = _custom_data(rng, depth + 1)
        elif roll < 0.3 and depth < 3:
            custom[key] = [_custom_data(rng, depth + 1) if rng.random() < 0.7 else _odd_value(rng) for _ in range(2)]
        else:
            custom[key] = rng.choice(("USD", 12.5, 3, "x@y.z", None, True, [1, 2], "SKU-1"))
    return custom


def _event(rng: random.Random, index: int) -> dict[str, Any]:
    """A valid website event, then (two times in three) a few hostile or unusual changes."""
    name = rng.choice(("Purchase", "Lead", "AddToCart"))
    user_data = _user_data(rng)
    user_data["client_user_agent"] = "Mozilla/5.0"
    if not any(isinstance(value, str) and value.strip() for value in user_data.values()):
        user_data["em"] = "joe@example.com"
    event: dict[str, Any] = {
        "event_name": name,
        "event_time": NOW - rng.choice((10, 600, 86400)),
        "event_id": rng.choice((f"ev-{index}", index, f"dup-{index % 7}")),
        "action_source": "website",
        "event_source_url": "https://shop.example.com/",
        "user_data": user_data,
        "custom_data": {**_custom_data(rng), "value": 12.5, "currency": "USD"},
    }
    for _ in range(rng.choice((0, 0, 0, 0, 1, 1, 2, 4))):
        _mutate(rng, event, index)
    return event


def _mutate(rng: random.Random, event: dict[str, Any], index: int) -> None:
    roll = rng.randrange(14)
    if roll == 0:
        event["event_name"] = rng.choice(("Purchase", "Lead", "", " ", 5, None))
    elif roll == 1:
        event["event_time"] = rng.choice(
            (NOW - 7 * 86400 - 1, NOW - 62 * 86400, NOW + 30, NOW + 61, float(NOW), NOW + 0.5, "1764150000", True,
             None, NOW * 1000)
        )  # fmt: skip
    elif roll == 2:
        event["event_id"] = rng.choice(("", " ", None, True, "x" * 257, 1.5, f"ev-{index}"))
    elif roll == 3:
        event["action_source"] = rng.choice(("app", "physical_store", "business_messaging", "email", "tv", 1, None))
    elif roll == 4:
        event["event_source_url"] = rng.choice(("HTTP://x", "ftp://x", 5, None))
    elif roll == 5:
        event["user_data"] = rng.choice((_user_data(rng), _odd_value(rng)))
    elif roll == 6:
        event["custom_data"] = rng.choice((_custom_data(rng), _odd_value(rng)))
    elif roll == 7:
        event["custom_data"] = {
            "value": rng.choice((1, 1.5, "1", None, True, -0.0)),
            "currency": rng.choice(("USD", "usd", "US", "€€€", 840, None)),
        }
    elif roll == 8:
        event["customer_segmentation"] = rng.choice(("new_customer_to_business", {"email": "x"}, 5))
    elif roll == 9:
        event["data_processing_options"] = rng.choice((["LDU"], [], ["LDU", 1], "LDU", None))
        event["data_processing_options_country"] = rng.choice((0, 1, 2, True, "1", None))
        event["data_processing_options_state"] = rng.choice((0, 1000, 1013, 1014, True, None, [1]))
    elif roll == 10:
        event["app_data"] = rng.choice(
            (
                {"advertiser_tracking_enabled": True, "application_tracking_enabled": 1, "extinfo": ["a2"] * 16},
                {"advertiser_tracking_enabled": 2, "extinfo": ["a2"] * 15},
                [],
            )
        )
    elif roll == 11:
        event["messaging_channel"] = rng.choice(("whatsapp", "", 5))
    elif roll == 12:
        event[rng.choice(("access_token", "debug", "opt_out", "referrer_url", "original_event_data"))] = rng.choice(
            ("x", True, {"event_name": "Lead"}, 5)
        )
    else:
        event.pop(rng.choice(sorted(event)), None)


def generated_inputs() -> dict[str, list[Any]]:
    """Every family's inputs, deterministic (seeded); only `fields` is also stored verbatim."""
    rng = random.Random(20251126)
    fields = []
    for index in range(2400):
        key = HASHED_KEYS[index % len(HASHED_KEYS)] if index < 1100 else rng.choice(("ph", "ph", "fn", "ct", "st"))
        fields.append([key, _value_for(rng, key), rng.choice(_REGIONS)])
    user_datas = [[_user_data(rng), rng.choice(_REGIONS)] for _ in range(1500)]
    events = [[_event(rng, index), rng.choice(_REGIONS)] for index in range(800)]
    bodies = []
    for index in range(80):
        data = [_event(rng, index * 100 + offset) for offset in range(rng.randrange(1, 12))]
        body: Any = {"data": data}
        if rng.random() < 0.1:
            body = rng.choice(({"data": []}, {"data": {}}, [], {"data": data, "test_event_code": 5}))
        if rng.random() < 0.2 and isinstance(body, dict):
            body["partner_agent"] = "agent_1_0"
        bodies.append(body)
    customs = [_custom_data(rng) for _ in range(400)]
    keys = sorted({*_CUSTOM_KEYS, *(_random_text(rng, "abcdeEmailPhoneZIP_-. 0123", 16) for _ in range(600))})
    texts = [_random_text(rng) for _ in range(300)]
    return {
        "fields": fields,
        "user_data": user_datas,
        "events": events,
        "bodies": bodies,
        "custom_data": customs,
        "pii_keys": keys,
        "sha256_hex": texts,
    }


def _event_or_error(event: Any, default: str | None) -> str:
    # normalize_event is only called on validated events by process(), and on anything
    # mapping-shaped by dead letters; what it does with the rest (or that it raises) is kept too.
    try:
        return event_result(event, default)
    except Exception as error:
        return f"raises {type(error).__name__}"


def family_output(family: str, inputs: dict[str, list[Any]]) -> Any:
    """What the implementation under test makes of one family of `inputs`."""
    if family == "fields":
        return [[key, value, country, field_result(key, value, country)] for key, value, country in inputs["fields"]]
    if family == "user_data":
        return [user_data_result(raw, default) for raw, default in inputs["user_data"]]
    if family == "events":
        return [_event_or_error(event, default) for event, default in inputs["events"]]
    if family == "bodies":
        return [validation_result(body) for body in inputs["bodies"]]
    if family == "custom_data":
        return [strip_result(custom) for custom in inputs["custom_data"]]
    if family == "pii_keys":
        return "".join("1" if is_pii_key(key) else "0" for key in inputs["pii_keys"])
    if family == "sha256_hex":
        return [sha256_hex(text)[:16] for text in inputs["sha256_hex"]]
    assert family == "records"
    return encode_records([event for event, _ in inputs["events"][:50]]).digest


FAMILIES = ("fields", "user_data", "events", "bodies", "custom_data", "pii_keys", "sha256_hex", "records")


def record() -> None:
    """Write the fixture from the current implementation (run before a behaviour-neutral change)."""
    inputs = generated_inputs()
    fixture = {
        "inputs_digest": {family: digest(values) for family, values in inputs.items()},
        **{family: family_output(family, inputs) for family in FAMILIES},
    }
    FIXTURE.write_text(json.dumps(fixture, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The tests.


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def inputs(recorded: dict[str, Any]) -> dict[str, list[Any]]:
    generated = generated_inputs()
    # The fixture stores only outputs for most families: the inputs must be the recorded ones.
    assert {family: digest(values) for family, values in generated.items()} == recorded["inputs_digest"]
    return generated


def test_fixture_stays_small() -> None:
    assert FIXTURE.stat().st_size < 200_000


def test_normalize_field_gives_the_recorded_plaintext(recorded: dict[str, Any]) -> None:
    mismatches = [
        (key, value, country, expected, field_result(key, value, country))
        for key, value, country, expected in recorded["fields"]
        if field_result(key, value, country) != expected
    ]
    assert mismatches == []


def test_normalize_field_is_stable_when_repeated(recorded: dict[str, Any]) -> None:
    # Caches must not change answers: the same inputs again, in reverse order.
    mismatches = [
        (key, value, country)
        for key, value, country, expected in reversed(recorded["fields"])
        if field_result(key, value, country) != expected
    ]
    assert mismatches == []


@pytest.mark.parametrize("family", ["user_data", "events", "bodies", "custom_data", "pii_keys", "sha256_hex"])
def test_family_gives_the_recorded_outputs(family: str, inputs: dict[str, list[Any]], recorded: dict[str, Any]) -> None:
    before = orjson.dumps(inputs[family], default=repr)
    expected = recorded[family]
    # Twice: the second pass answers from the caches the first one filled.
    for _ in range(2):
        actual = family_output(family, inputs)
        if isinstance(actual, list):
            mismatches = [
                (index, inputs[family][index])
                for index, (a, e) in enumerate(zip(actual, expected, strict=True))
                if a != e
            ]
            assert mismatches == []
        else:
            assert actual == expected
    # Nothing on the hot path may modify its input (pipeline.py dead-letters the originals).
    assert orjson.dumps(inputs[family], default=repr) == before


def test_encoded_records_keep_their_content_digest_and_decode_back(
    inputs: dict[str, list[Any]], recorded: dict[str, Any]
) -> None:
    events = [event for event, _ in inputs["events"][:50]]
    encoded = encode_records(events)
    assert encoded.digest == recorded["records"]
    assert [line.record for line in decode_object("k", encoded.data)] == events


if __name__ == "__main__" and sys.argv[1:] == ["--record"]:
    record()
