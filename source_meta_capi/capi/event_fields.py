"""Field names and enumerations of Meta's server events (fact sheet §1.1, §2, §3.1, §10).

Constants only, so the receiver, the source and the schemas share one vocabulary.
"""

from typing import Final

# §3.1: Meta requires these to be normalized and SHA-256 hashed (external_id: recommended).
HASHED_USER_DATA_KEYS: Final[frozenset[str]] = frozenset(
    {"em", "ph", "fn", "ln", "ge", "db", "ct", "st", "zp", "country", "external_id"}
)

# §3.1: hashing these breaks matching; they are sent exactly as received.
PLAIN_USER_DATA_KEYS: Final[frozenset[str]] = frozenset(
    {
        "client_ip_address",
        "client_user_agent",
        "fbc",
        "fbp",
        "subscription_id",
        "fb_login_id",
        "lead_id",
        "anon_id",
        "madid",
        "page_id",
        "page_scoped_user_id",
        "ctwa_clid",
        "ig_account_id",
        "ig_sid",
        "whatsapp_business_account_id",
    }
)

USER_DATA_KEYS: Final[frozenset[str]] = HASHED_USER_DATA_KEYS | PLAIN_USER_DATA_KEYS

# Every user_data key Meta can match on; losing all of them (schema drift) makes an event
# unattributable (DESIGN.md "Failure semantics").
MATCH_KEYS: Final[frozenset[str]] = USER_DATA_KEYS

# §2.1 [D M4, C S1]; business_messaging is missing from Segment's and RudderStack's lists.
ACTION_SOURCES: Final[frozenset[str]] = frozenset(
    {
        "email",
        "website",
        "app",
        "phone_call",
        "chat",
        "physical_store",
        "system_generated",
        "business_messaging",
        "other",
    }
)

# §2.1: the top-level fields of one element of `data`; anything else is dropped before staging.
SERVER_EVENT_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "event_name",
        "event_time",
        "user_data",
        "action_source",
        "event_source_url",
        "custom_data",
        "event_id",
        "opt_out",
        "data_processing_options",
        "data_processing_options_country",
        "data_processing_options_state",
        "referrer_url",
        "app_data",
        "original_event_data",
        "customer_segmentation",
        "messaging_channel",
        "attribution_data",
        "advanced_measurement_table",
    }
)

# §2.3: required members of app_data for action_source=app; extinfo is positional.
APP_DATA_REQUIRED_FIELDS: Final[tuple[str, ...]] = (
    "advertiser_tracking_enabled",
    "application_tracking_enabled",
    "extinfo",
)
EXTINFO_LENGTH: Final[int] = 16

# §4: custom_data fields Meta defines; never treated as personal data.
STANDARD_CUSTOM_DATA_FIELDS: Final[frozenset[str]] = frozenset(
    {
        "value",
        "currency",
        "net_revenue",
        "content_name",
        "content_category",
        "content_ids",
        "contents",
        "content_type",
        "order_id",
        "predicted_ltv",
        "num_items",
        "status",
        "search_string",
        "delivery_category",
        "item_number",
        "customer_segmentation",
    }
)

# §10.1: the only documented data processing option, and its country/state codes.
LDU_OPTION: Final[str] = "LDU"
LDU_COUNTRY_CODES: Final[frozenset[int]] = frozenset({0, 1})
LDU_STATE_CODES: Final[frozenset[int]] = frozenset({0, *range(1000, 1014)})

# §10.2 [C G2]: RudderStack's default custom_data denylist, widened with Meta's own user_data
# short keys and common spellings. Compared after folding case and removing separators, so
# `firstName`, `first_name` and `First-Name` all match `firstname`.
PII_CUSTOM_DATA_KEYS: Final[frozenset[str]] = frozenset(
    {
        # RudderStack's list
        "email",
        "firstname",
        "lastname",
        "gender",
        "city",
        "country",
        "phone",
        "state",
        "zip",
        "postalcode",
        "birthday",
        # Meta's user_data short keys misplaced into custom_data
        "em",
        "ph",
        "fn",
        "ln",
        "ge",
        "db",
        "ct",
        "st",
        "zp",
        # common spellings of the same data
        "emailaddress",
        "phonenumber",
        "mobile",
        "mobilephone",
        "mobilenumber",
        "fullname",
        "surname",
        "givenname",
        "familyname",
        "sex",
        "dob",
        "dateofbirth",
        "birthdate",
        "zipcode",
        "postcode",
        "address",
        "address1",
        "address2",
        "addressline1",
        "addressline2",
        "streetaddress",
        "street",
        # Free-form keys that name a person or carry free text about one
        "name",
        "customer",
        "customername",
        "mail",
        "note",
        "notes",
        "comment",
        "comments",
        "username",
        "ip",
        "ipaddress",
        "ssn",
    }
)

# A key ending in one of these words (`billing_email`, `customerPhoneNumber`) is personal data
# too; the set is kept to words that are never product attributes on their own.
PII_CUSTOM_DATA_KEY_SUFFIXES: Final[frozenset[str]] = frozenset(
    {
        "email",
        "emailaddress",
        "phone",
        "phonenumber",
        "firstname",
        "lastname",
        "fullname",
        "dateofbirth",
        "birthdate",
        "birthday",
        "postalcode",
        "zipcode",
        "streetaddress",
        "address",
        "mail",
        "customername",
        "ipaddress",
    }
)

# Values senders put in a field they have no data for, compared lowercased with single spaces.
# Hashed, each would be one value shared by unrelated people, so it is dropped. `na` is not in
# it: it is Namibia's code and a surname; `n/a` is.
USER_DATA_PLACEHOLDERS: Final[frozenset[str]] = frozenset(
    {
        "null",
        "(null)",
        "<null>",
        "nil",
        "none",
        "nan",
        "n/a",
        "n.a.",
        "n/a.",
        "-",
        "--",
        "---",
        "?",
        "unknown",
        "undefined",
        "not available",
        "not applicable",
        "not provided",
        "not specified",
    }
)

# §2.2 [3P quoting Meta's best practices]: customer information that consists only of one of
# these sets, or of a subset of one, is too thin for Meta to match.
WEAK_MATCH_KEY_COMBINATIONS: Final[tuple[frozenset[str], ...]] = (
    frozenset({"ct", "country", "st", "zp", "ge", "client_user_agent"}),
    frozenset({"db", "client_user_agent"}),
    frozenset({"fn", "ge"}),
    frozenset({"ln", "ge"}),
)

# §2.3: the first extinfo slot names the platform.
EXTINFO_VERSIONS: Final[frozenset[str]] = frozenset({"a2", "i2"})
EXTINFO_OS_VERSION_SLOT: Final[int] = 4

# §4: values of `contents[].delivery_category` and `custom_data.delivery_category`.
DELIVERY_CATEGORIES: Final[frozenset[str]] = frozenset({"in_store", "curbside", "home_delivery"})
