"""The embedded default store: a local folder."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator, List, Optional

from source_meta_capi.staging.store import (
    ObjectNotFoundError,
    StoreAccessError,
    StoreUnavailableError,
)

_TEMP_PREFIX = ".tmp-"


class LocalFolderStore:
    """A folder used as a bucket. Write-once by writing a temp file and hard-linking it in place.

    `os.link` fails if the target exists, so a put never replaces an object (unlike rename), and
    the object appears complete or not at all.
    """

    def __init__(self, root: str) -> None:
        self._root = Path(root).expanduser().resolve()

    @property
    def url(self) -> str:
        return self._root.as_uri()

    @property
    def root(self) -> Path:
        return self._root

    def _path(self, key: str) -> Path:
        # Keys are built from validated segments (keys.py); this is the last line of defence
        # against a key escaping the store root.
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise ValueError(f"invalid store key {key!r}")
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts[:-1]) or parts[-1] in ("", ".", ".."):
            raise ValueError(f"invalid store key {key!r}")
        return self._root.joinpath(*parts)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self._path(key)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temp = target.parent / f"{_TEMP_PREFIX}{uuid.uuid4().hex}"
            with open(temp, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(temp, target)
            except FileExistsError:
                return False
            finally:
                temp.unlink(missing_ok=True)
            _fsync_directory(target.parent)
            return True
        except PermissionError as error:
            raise StoreAccessError(f"Cannot write {key} in {self.url}: permission denied") from error
        except OSError as error:
            raise StoreUnavailableError(f"Cannot write {key} in {self.url}: {error.strerror}") from error

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError as error:
            raise ObjectNotFoundError(f"{key} does not exist in {self.url}") from error
        except PermissionError as error:
            raise StoreAccessError(f"Cannot read {key} in {self.url}: permission denied") from error
        except OSError as error:
            raise StoreUnavailableError(f"Cannot read {key} in {self.url}: {error.strerror}") from error

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        base, _, name_prefix = prefix.rpartition("/")
        directory = self._path(base + "/x").parent if base else self._root
        yield from self._walk(directory, base + "/" if base else "", name_prefix, start_after)

    def _walk(self, directory: Path, key_prefix: str, name_prefix: str, start_after: Optional[str]) -> Iterator[str]:
        for name, is_dir in self._sorted_entries(directory):
            if not name.startswith(name_prefix):
                continue
            key = key_prefix + name
            if is_dir:
                # Skip whole sub-trees that sort entirely before start_after.
                if start_after is not None and key + "/" < start_after and not start_after.startswith(key + "/"):
                    continue
                yield from self._walk(directory / name, key + "/", "", start_after)
            elif start_after is None or key > start_after:
                yield key

    def list_children(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        directory = self._root.joinpath(*[p for p in prefix.split("/") if p]) if prefix else self._root
        for name, is_dir in self._sorted_entries(directory):
            child = f"{prefix}{name}/"
            if is_dir and (start_after is None or child > start_after):
                yield child

    def _sorted_entries(self, directory: Path) -> List[tuple[str, bool]]:
        try:
            with os.scandir(directory) as entries:
                found = [
                    (entry.name, entry.is_dir(follow_symlinks=False))
                    for entry in entries
                    if not entry.name.startswith(_TEMP_PREFIX)
                ]
        except FileNotFoundError:
            return []
        except PermissionError as error:
            raise StoreAccessError(f"Cannot list {directory} in {self.url}: permission denied") from error
        # A directory sorts as "name/" so the walk yields keys in exact lexicographic order.
        found.sort(key=lambda item: item[0] + "/" if item[1] else item[0])
        return found

    def check(self) -> None:
        if not self._root.exists():
            raise StoreAccessError(
                f"The staging folder {self._root} does not exist: create it or point bucket_url at the receiver's folder."
            )
        if not self._root.is_dir():
            raise StoreAccessError(f"The staging path {self._root} is not a folder.")
        if not os.access(self._root, os.R_OK | os.X_OK):
            raise StoreAccessError(f"The staging folder {self._root} is not readable by this user.")

    def ensure_exists(self) -> None:
        """Create the folder (writers only; the source never creates folders)."""
        self._root.mkdir(parents=True, exist_ok=True)


def _fsync_directory(directory: Path) -> None:
    # The link is durable only once its directory entry is; without this a power loss can
    # lose an object the receiver already acknowledged.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
