"""The small store interface every staging backend implements, and how to open one from a URL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Mapping, Optional, Protocol, Sequence, runtime_checkable
from urllib.parse import unquote, urlparse


class StoreError(Exception):
    """Base class of every store failure; the message never contains credentials."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or answered with a server error: a retry may succeed."""


class StoreAccessError(StoreError):
    """The store refused us (missing bucket, denied, bad credentials): the configuration must change."""


class ObjectNotFoundError(StoreError):
    """The key does not exist in the store."""


class CorruptObjectError(StoreError):
    """The key exists but its stored form is damaged (torn by a power loss): a retry will not help."""


class ObjectStore(Protocol):
    """A bucket with a prefix. Keys are relative to the prefix and use '/' as separator.

    Objects are write-once: `put_if_absent` never replaces an existing object, so a crash never
    leaves a half-written object behind and two writers never overwrite each other.
    """

    @property
    def url(self) -> str:
        """The store's URL without credentials, for messages."""
        ...

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Create `key` with `data` atomically; False (and nothing written) if it already exists."""
        ...

    def get(self, key: str) -> bytes:
        """The whole object; raises ObjectNotFoundError if missing."""
        ...

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        """Every key under `prefix`, in lexicographic order, strictly after `start_after`."""
        ...

    def list_children(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        """The immediate 'sub-folders' of `prefix` (each ending in '/'), lexicographically."""
        ...

    def check(self) -> None:
        """Raise StoreAccessError / StoreUnavailableError unless the store is reachable and listable."""
        ...


@runtime_checkable
class GroupPutStore(ObjectStore, Protocol):
    """A store that can create many small objects as one group (the idempotency claims of a group
    commit). Optional: a store without it gets one `put_if_absent` per object.
    """

    def put_many_if_absent(self, items: Sequence[tuple[str, bytes]]) -> list[bool | StoreError]:
        """`put_if_absent` for each `(key, data)`, one result per item, in order.

        Each key is exclusive exactly as with `put_if_absent` (first writer wins, across
        processes too): True means this call created it, False that it already existed, a
        StoreError that this item failed. When the call returns, every object it reports created
        is durable. A failure to make the group durable raises StoreUnavailableError: then none
        of the group may be relied on (some of it may be visible, like an abandoned write).
        """
        ...


@dataclass(frozen=True)
class S3Options:
    """Optional S3 settings; empty values fall back to the default AWS configuration."""

    region: Optional[str] = None
    endpoint_url: Optional[str] = None
    aws_access_key_id: Optional[str] = None
    aws_secret_access_key: Optional[str] = None
    # Bounded so a hung PUT cannot outlive the writer's commit deadline (see writer.py).
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 10.0
    max_attempts: int = 2


def open_store(bucket_url: str, s3: Optional[S3Options] = None) -> ObjectStore:
    """Open the store a bucket URL names: a local path, file:///path, or s3://bucket/prefix."""
    if not bucket_url or not bucket_url.strip():
        raise StoreAccessError("The bucket URL is empty: give a local folder, file:///path or s3://bucket/prefix.")
    parsed = urlparse(bucket_url.strip())
    if parsed.scheme == "s3":
        from source_meta_capi.staging.s3_store import S3Store

        if not parsed.netloc:
            raise StoreAccessError(f"The S3 URL {bucket_url!r} names no bucket: use s3://bucket/prefix.")
        return S3Store(bucket=parsed.netloc, prefix=parsed.path.strip("/"), options=s3 or S3Options())
    from source_meta_capi.staging.local_store import LocalFolderStore

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
