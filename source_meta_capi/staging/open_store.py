"""Open the store a bucket URL names (a local folder or S3) and read S3 options from a config.

Apart from `store.py` so that the interface does not import its implementations, which import it.
"""

from __future__ import annotations

from typing import Mapping, Optional
from urllib.parse import unquote, urlparse

from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.store import ObjectStore, S3Options, StoreAccessError


def open_store(bucket_url: str, s3: Optional[S3Options] = None) -> ObjectStore:
    """Open the store a bucket URL names: a local path, file:///path, or s3://bucket/prefix."""
    if not bucket_url or not bucket_url.strip():
        raise StoreAccessError("The bucket URL is empty: give a local folder, file:///path or s3://bucket/prefix.")
    parsed = urlparse(bucket_url.strip())
    if parsed.scheme == "s3":
        # Imported on use: boto3 adds ~0.15 s of start-up that a local store never needs.
        from source_meta_capi.staging.s3_store import S3Store

        if not parsed.netloc:
            raise StoreAccessError(f"The S3 URL {bucket_url!r} names no bucket: use s3://bucket/prefix.")
        return S3Store(bucket=parsed.netloc, prefix=parsed.path.strip("/"), options=s3 or S3Options())
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise StoreAccessError(f"file URLs must be local (file:///path), got {bucket_url!r}.")
        return LocalFolderStore(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise StoreAccessError(
            f"Unsupported bucket URL scheme {parsed.scheme!r} in {bucket_url!r}: use a local path, file:// or s3://."
        )
    return LocalFolderStore(bucket_url.strip())


def s3_options_from_mapping(settings: Mapping[str, object]) -> S3Options:
    """Build S3Options from a config mapping (the source's `staging` object or receiver env)."""

    def text(name: str) -> Optional[str]:
        value = settings.get(name)
        return str(value) if value not in (None, "") else None

    return S3Options(
        region=text("region"),
        endpoint_url=text("endpoint_url"),
        aws_access_key_id=text("aws_access_key_id"),
        aws_secret_access_key=text("aws_secret_access_key"),
    )
