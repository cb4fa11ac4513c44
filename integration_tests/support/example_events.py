"""Meta's documented web Purchase (fact sheet §2.5): the one example event the tests share, raw
(as a sender posts it to the receiver) and normalized (as Meta should receive it)."""

from __future__ import annotations

from typing import Any

RAW_PURCHASE: dict[str, Any] = {
    "event_name": "Purchase",
    "event_time": 1764150000,
    "event_id": "order-10023",
    "action_source": "website",
    "event_source_url": "https://shop.example.com/checkout/thank-you",
    "referrer_url": "https://shop.example.com/checkout",
    "user_data": {
        "em": "  Joe@Example.COM ",
        "ph": "(650)555-1212",
        "fn": "Joe",
        "ln": "Smith",
        "ct": "Menlo Park",
        "st": "California",
        "zp": "94025-1234",
        "country": "United States",
        "external_id": "user123",
        "client_ip_address": "2001:db8::7",
        "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) ...",
        "fbc": "fb.1.1764149000123.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
        "fbp": "fb.1.1764000000456.1098115397",
    },
    "custom_data": {
        "currency": "USD", "value": 123.45, "order_id": "10023",
        "content_type": "product", "content_ids": ["SKU-1"],
        "contents": [{"id": "SKU-1", "quantity": 1, "item_price": 123.45,
                      "delivery_category": "home_delivery"}],
        "num_items": 1, "customer_segmentation": "new_customer_to_business",
    },
    "data_processing_options": [],
}  # fmt: skip

# The same event as Meta should receive it.
HASHED_USER_DATA: dict[str, Any] = {
    "em": ["2481f36dfc515ca76451aaadf1399026942a01ee50c6d0a61988b43cef039bc2"],
    "ph": ["e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176"],
    "fn": ["78675cc176081372c43abab3ea9fb70c74381eb02dc6e93fb6d44d161da6eeb3"],
    "ln": ["6627835f988e2c5e50533d491163072d3f4f41f5c8b04630150debb3722ca2dd"],
    "ct": ["0007a3d64c01e23d5075203c5977c14e4f7e01a3fc570686fcc50b5e1dd42685"],
    "st": ["6959097001d10501ac7d54c0bdb8db61420f658f2922cc26e46d536119a31126"],
    "zp": ["b9a9cf3cd3723a2e91b7c23ecf68456e872b6e5d86e5cab7f3d45a7302da32c7"],
    "country": ["79adb2a2fce5c6ba215fe5f27f532d4e7edbac4b6a5e09e1ef3a08084a904621"],
    "external_id": ["e606e38b0d8c19b24cf0ee3808183162ea7cd63ff7912dbb22b5e803286b4446"],
    "client_ip_address": "2001:db8::7",
    "client_user_agent": "Mozilla/5.0 (X11; Linux x86_64) ...",
    "fbc": "fb.1.1764149000123.IwAR2F4-dbP0l7Mn1IawQQGCINEz7PYXQvwjNwB_qa2ofrHyiLjcbCRxTDMgk",
    "fbp": "fb.1.1764000000456.1098115397",
}

PURCHASE: dict[str, Any] = {**RAW_PURCHASE, "user_data": HASHED_USER_DATA}
