"""The embedded default store: a local folder."""

from __future__ import annotations

import errno
import os
import stat
import uuid
from pathlib import Path
from typing import Iterator, List, Optional

from source_meta_capi.staging.store import (
    CorruptObjectError,
    ObjectNotFoundError,
    StoreAccessError,
    StoreUnavailableError,
)

_TEMP_PREFIX = ".tmp-"
# Reads never follow a symbolic link (an object or a folder pointing outside the bucket) and
# never block on a FIFO or device named like an object: a bucket folder writable by others must
# not become a way to read files outside it or to hang a sync.
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_FOLDER_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_DIRECTORY
# The largest object read (stored bytes); the receiver's group-commit objects are far smaller.
MAX_STORED_OBJECT_BYTES = 256 * 1024 * 1024


class LocalFolderStore:
    """A folder used as a bucket. Write-once by writing a temp file and hard-linking it in place.

    `os.link` fails if the target exists, so a put never replaces an object (unlike rename), and
    the object appears complete or not at all.
    """

    def __init__(self, root: str) -> None:
        self._root = Path(root).expanduser().resolve()
        self._root_text = str(self._root)

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
            try:
                # Inside the try: a write or fsync failing (ENOSPC, EIO) must not leave the temp
                # file behind, or a full disk fills up further with every retry.
                with open(temp, "xb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fsync(handle.fileno())
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
        """The object's bytes. Only a regular file inside the root is read: a symbolic link (at
        any level below the root), a FIFO or a device under an object's name is a corrupt object,
        reported without a byte of its content."""
        parts = self._path(key).relative_to(self._root).parts
        try:
            return self._read_regular(key, parts)
        except FileNotFoundError as error:
            raise ObjectNotFoundError(f"{key} does not exist in {self.url}") from error
        except PermissionError as error:
            raise StoreAccessError(f"Cannot read {key} in {self.url}: permission denied") from error
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENXIO):
                raise CorruptObjectError(key, _NOT_REGULAR) from error
            raise StoreUnavailableError(f"Cannot read {key} in {self.url}: {error.strerror}") from error

    def _read_regular(self, key: str, parts: tuple[str, ...]) -> bytes:
        folder = os.open(self._root_text, os.O_RDONLY | os.O_CLOEXEC | os.O_DIRECTORY)
        try:
            for part in parts[:-1]:
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=folder)
                os.close(folder)
                folder = inner
            descriptor = os.open(parts[-1], _READ_FLAGS, dir_fd=folder)
        finally:
            os.close(folder)
        try:
            status = os.fstat(descriptor)
            if not stat.S_ISREG(status.st_mode):
                raise CorruptObjectError(key, _NOT_REGULAR)
            if status.st_size > MAX_STORED_OBJECT_BYTES:
                raise CorruptObjectError(key, f"larger than {MAX_STORED_OBJECT_BYTES} bytes")
            chunks = []
            remaining = status.st_size + 1
            while remaining > 0:
                chunk = os.read(descriptor, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            if remaining <= 0:
                raise CorruptObjectError(key, "grew while it was read; objects are write-once")
            return b"".join(chunks)
        finally:
            os.close(descriptor)

    def list_keys(self, prefix: str, start_after: Optional[str] = None) -> Iterator[str]:
        base, _, name_prefix = prefix.rpartition("/")
        directory = self._path(base + "/x").parent if base else self._root
        self._refuse_linked_folder(directory)
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
        self._refuse_linked_folder(directory)
        for name, is_dir in self._sorted_entries(directory):
            child = f"{prefix}{name}/"
            if is_dir and (start_after is None or child > start_after):
                yield child

    def _refuse_linked_folder(self, directory: Path) -> None:
        """A listing starts only in a real folder inside the root: a folder below it that is a
        symbolic link (`events/pixel_id=X` pointing elsewhere) is refused, never followed. The
        walk below it never follows links either (scandir with follow_symlinks=False)."""
        if directory == self._root:
            return
        probe = directory
        while probe != self._root:
            if probe.is_symlink():
                raise StoreAccessError(
                    f"{probe.relative_to(self._root).as_posix()} in {self.url} is a symbolic link; "
                    "the store reads only folders inside the bucket. Replace it with a real folder."
                )
            probe = probe.parent

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

    def check_writable(self) -> None:
        """Raise StoreError unless new objects can be written: the folder exists, this user may
        create files in it, its file system is not mounted read-only and has space left. Free: no
        file is written (a readiness probe runs every few seconds)."""
        self.check()
        if not os.access(self._root, os.W_OK | os.X_OK):
            raise StoreAccessError(f"The staging folder {self._root} is not writable by this user.")
        try:
            status = os.statvfs(self._root)
        except OSError as error:
            raise StoreUnavailableError(f"Cannot inspect {self._root}: {error.strerror}") from error
        if status.f_flag & os.ST_RDONLY:
            raise StoreAccessError(f"The staging folder {self._root} is on a read-only file system.")
        if status.f_bavail == 0 or (status.f_files and status.f_favail == 0):
            raise StoreUnavailableError(f"The staging folder {self._root} has no space (or no inodes) left.")

    def ensure_exists(self) -> None:
        """Create the folder (writers only; the source never creates folders)."""
        self._root.mkdir(parents=True, exist_ok=True)


_NOT_REGULAR = "not a regular file inside the bucket (a symbolic link, FIFO or device); not read"


def _fsync_directory(directory: Path) -> None:
    # The link is durable only once its directory entry is; without this a power loss can
    # lose an object the receiver already acknowledged.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
