"""Personal data keys are stripped from custom_data at every depth (§4, §10.2)."""

import pytest

from source_meta_capi.capi.custom_data_privacy import is_pii_key, strip_pii
from source_meta_capi.capi.event_fields import STANDARD_CUSTOM_DATA_FIELDS


@pytest.mark.parametrize(
    "key",
    [
        "email", "EMAIL", "Email", "e-mail", "email_address", "emailAddress",
        "phone", "phoneNumber", "phone_number", "mobile",
        "first_name", "firstName", "FirstName", "first-name", "last_name", "lastName",
        "gender", "city", "country", "state", "zip", "zipCode", "postal_code",
        "postalCode", "birthday", "date_of_birth", "dateOfBirth", "dob", "address",
        "address1", "street_address", "em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp",
        "billing_email", "customerPhoneNumber", "shippingAddress", "user_last_name",
    ],
)  # fmt: skip
def test_personal_data_keys_are_recognised(key: str) -> None:
    assert is_pii_key(key)


@pytest.mark.parametrize(
    "key",
    [
        *sorted(STANDARD_CUSTOM_DATA_FIELDS),
        "id", "quantity", "item_price", "title", "brand", "category",
        "headphone_model", "phone_case_color", "email_opt_in", "coupon", "sku",
    ],
)  # fmt: skip
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_pii_key(key)


def test_given_custom_data_with_pii_when_stripping_then_only_names_are_reported() -> None:
    custom_data = {
        "currency": "USD",
        "value": 10,
        "email": "joe@example.com",
        "firstName": "Joe",
        "Postal-Code": "94025",
        "contents": [
            {"id": "SKU-1", "quantity": 1, "customer_phone": "+16505551212"},
            {"id": "SKU-2", "gift": {"recipient": {"last_name": "Smith", "note": "hi"}}},
        ],
    }
    result = strip_pii(custom_data)
    assert result.custom_data == {
        "currency": "USD",
        "value": 10,
        "contents": [
            {"id": "SKU-1", "quantity": 1},
            {"id": "SKU-2", "gift": {"recipient": {}}},
        ],
    }
    assert result.stripped_keys == (
        "email",
        "firstName",
        "Postal-Code",
        "contents[0].customer_phone",
        "contents[1].gift.recipient.last_name",
        "contents[1].gift.recipient.note",  # free text about a person (issue 14, finding 7)
    )
    rendered = repr(result.stripped_keys)
    for value in ("joe@example.com", "Joe'", "94025", "+16505551212", "Smith"):
        assert value not in rendered


def test_strip_pii_does_not_modify_its_input() -> None:
    custom_data = {"email": "a@b.co", "contents": [{"id": "1", "phone": "1"}]}
    strip_pii(custom_data)
    assert custom_data == {"email": "a@b.co", "contents": [{"id": "1", "phone": "1"}]}


def test_given_clean_custom_data_when_stripping_then_unchanged_copy() -> None:
    custom_data = {"value": 1.5, "currency": "EUR", "content_ids": ["a", "b"]}
    result = strip_pii(custom_data)
    assert result.custom_data == custom_data
    assert result.custom_data is not custom_data
    assert result.stripped_keys == ()
