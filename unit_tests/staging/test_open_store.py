import pytest

from source_meta_capi.staging.open_store import open_store, s3_options_from_mapping
from source_meta_capi.staging.s3_store import S3Store
from source_meta_capi.staging.store import S3Options, StoreAccessError


def test_open_store_understands_paths_and_file_urls(tmp_path):
    assert open_store(str(tmp_path)).url == tmp_path.as_uri()
    assert open_store(tmp_path.as_uri()).url == tmp_path.as_uri()
    with pytest.raises(StoreAccessError):
        open_store("ftp://host/x")
    with pytest.raises(StoreAccessError):
        open_store("  ")


def test_given_an_s3_url_when_opened_then_bucket_and_prefix_come_from_it():
    store = open_store("s3://bucket/some/prefix/", S3Options(region="eu-west-1"))
    assert isinstance(store, S3Store) and store.url == "s3://bucket/some/prefix"
    with pytest.raises(StoreAccessError, match="names no bucket"):
        open_store("s3:///prefix")


def test_given_empty_settings_when_read_then_they_mean_the_default_aws_configuration():
    options = s3_options_from_mapping({"bucket_url": "s3://b", "region": "", "endpoint_url": "http://127.0.0.1:9000"})
    assert options == S3Options(region=None, endpoint_url="http://127.0.0.1:9000")
