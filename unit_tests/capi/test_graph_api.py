import pytest

from source_meta_capi.capi.graph_api import is_pixel_id, pixel_id_of_url, url_origin


@pytest.mark.parametrize(
    ("url", "pixel"),
    [
        ("https://graph.facebook.com/v26.0/123/stats?aggregation=event", "123"),
        ("https://graph.facebook.com/v26.0/dataset_quality?dataset_id=456&fields=web", "456"),
        ("https://graph.facebook.com/v26.0/me", "(unknown)"),
        (None, "(unknown)"),
    ],
)
def test_the_pixel_of_a_request_url_is_read_for_messages(url, pixel):
    assert pixel_id_of_url(url) == pixel


def test_origins_compare_equal_with_default_ports_and_case():
    assert url_origin("https://Graph.Facebook.com/v26.0") == url_origin("https://graph.facebook.com:443/x")
    assert url_origin("http://127.0.0.1:8080/a") != url_origin("http://127.0.0.1/a")


def test_pixel_ids_are_digits_only():
    assert is_pixel_id("1234567890123456")
    assert not is_pixel_id("../1") and not is_pixel_id(123) and not is_pixel_id("1" * 21)
