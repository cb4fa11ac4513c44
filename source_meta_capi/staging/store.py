"""The small store interface every staging backend implements, and the errors stores raise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional, Protocol


class StoreError(Exception):
    """Base class of every store failure; the message never contains credentials."""


class StoreUnavailableError(StoreError):
    """The store could not be reached or answered with a server error: a retry may succeed."""


class StoreAccessError(StoreError):
    """The store refused us (missing bucket, denied, bad credentials): the configuration must change."""


class ObjectNotFoundError(StoreError):
    """The key does not exist in the store."""


class CorruptObjectError(StoreError):
    """An object, or one line of it, exists but cannot be decoded: a retry will not help.

    Names the key, the reason and, when one line is at fault, its 1-based number. Pickles with its
    fields (the record decoder processes send it back as a finding).
    """

    def __init__(self, key: str, reason: str, line: Optional[int] = None) -> None:
        self.key = key
        self.reason = reason
        self.line = line
        where = f"{key} line {line}" if line is not None else key
        super().__init__(f"corrupt staged data in {where}: {reason}")

    def __reduce__(self) -> tuple[type[CorruptObjectError], tuple[str, str, Optional[int]]]:
        return (type(self), (self.key, self.reason, self.line))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CorruptObjectError):
            return NotImplemented
        return (self.key, self.reason, self.line) == (other.key, other.reason, other.line)

    def __hash__(self) -> int:
        return hash((self.key, self.reason, self.line))


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
