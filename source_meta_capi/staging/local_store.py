"""The embedded default store: a local folder."""

from __future__ import annotations

import ctypes
import errno
import itertools
import os
import secrets
import stat
import sys
import uuid
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import orjson

from source_meta_capi.staging.store import (
    CorruptObjectError,
    ObjectNotFoundError,
    StoreAccessError,
    StoreError,
    StoreUnavailableError,
)

_TEMP_PREFIX = ".tmp-"
# A pack file starts with a byte no JSON or gzip object starts with; then a JSON header mapping
# each key to (offset, length) in the payload that follows it.
_PACK_MAGIC = b"\x00meta-capi-pack-1\n"
# Bounded well below ext4's 65,000 links per inode.
_PACK_MAX_OBJECTS = 1000
# Reads never follow a symbolic link (an object or a folder pointing outside the bucket) and
# never block on a FIFO or device named like an object (issue 14, finding 4).
_READ_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
_FOLDER_FLAGS = os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_DIRECTORY
# The largest object read (stored bytes); the receiver's group-commit objects are far smaller.
MAX_STORED_OBJECT_BYTES = 256 * 1024 * 1024


def _load_syncfs() -> Optional[Callable[[int], int]]:
    """libc's syncfs(2), where it reports writeback errors (Linux 5.8+); None elsewhere.

    Before 5.8 syncfs returned 0 even when writing back failed, so a group could be reported
    durable after an I/O error; fsync has always reported them.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        major, minor = (int(part) for part in os.uname().release.split(".")[:2])
    except ValueError:
        return None
    if (major, minor) < (5, 8):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    function.restype = ctypes.c_int
    return function  # type: ignore[no-any-return]


# Module-level so tests can switch a store to the portable per-file path.
SYNCFS: Optional[Callable[[int], int]] = _load_syncfs()


class LocalFolderStore:
    """A folder used as a bucket. Write-once by writing a temp file and hard-linking it in place.

    `os.link` fails if the target exists, so a put never replaces an object (unlike rename), and
    the object appears complete or not at all.
    """

    def __init__(self, root: str) -> None:
        self._root = Path(root).expanduser().resolve()
        self._root_text = str(self._root)
        # Temp names for grouped puts: unique per process without a uuid4 per object.
        self._temp_stem = f"{_TEMP_PREFIX}{os.getpid()}{secrets.token_hex(6)}-"
        self._temp_counter = itertools.count()

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
        if data.startswith(_PACK_MAGIC):
            data = _pack([(key, data)])  # so that `get` cannot mistake it for a pack
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

    def put_many_if_absent(self, items: Sequence[tuple[str, bytes]]) -> list[bool | StoreError]:
        """Create a group of small objects at the cost of a few: one file, a hard link per object,
        one sync for the whole group.

        The objects' bytes go into one pack file (a temp name), which is hard-linked under each
        key: `link()` either creates the name or fails with EEXIST, atomically and across
        processes, without a new inode per object, and the pack is complete before the first
        link, so a reader never sees a partial object. `get` returns each key's own bytes from
        its pack. Durability comes after every link: one syncfs(2) of the store's filesystem
        (the pack, the links and the folders created for them), or, where syncfs is not
        available, an fsync of the pack and of each folder that gained an entry. Until the call
        returns, a created object is visible but may not survive a power loss: callers must not
        write anything that relies on it before that.
        """
        results: list[bool | StoreError] = []
        new_entries: set[str] = set()
        syncfs = SYNCFS
        try:
            # syncfs reports a writeback error only to descriptors opened before it happened:
            # open one per call, before this group writes anything, so every error that can
            # touch the group reaches it (an unrelated one fails it too, on the safe side).
            sync_descriptor = -1 if syncfs is None else self._open_root()
            try:
                for start in range(0, len(items), _PACK_MAX_OBJECTS):
                    chunk = items[start : start + _PACK_MAX_OBJECTS]
                    results.extend(self._put_pack(chunk, new_entries, fsync_pack=syncfs is None))
                if any(result is True for result in results):
                    _sync_group(syncfs, sync_descriptor, new_entries)
            finally:
                if sync_descriptor >= 0:
                    os.close(sync_descriptor)
        except OSError as error:
            raise StoreUnavailableError(f"Cannot make writes durable in {self.url}: {error.strerror}") from error
        return results

    def _open_root(self) -> int:
        try:
            return os.open(self._root_text, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            self.ensure_exists()
            return os.open(self._root_text, os.O_RDONLY | os.O_CLOEXEC)

    def _put_pack(
        self, items: Sequence[tuple[str, bytes]], new_entries: set[str], fsync_pack: bool
    ) -> list[bool | StoreError]:
        targets = [self._fs_path(key) for key, _ in items]
        # Next to the first object's folder (claims: the pixel's folder), so the links stay on
        # the same file system even if part of the store is mounted elsewhere.
        first_folder = os.path.dirname(targets[0])
        pack_folder = os.path.dirname(first_folder) if first_folder != self._root_text else first_folder
        pack = f"{pack_folder}{os.sep}{self._temp_stem}{next(self._temp_counter)}"
        try:
            _make_directory(pack_folder, new_entries)
            _write_new(pack, _pack(items), fsync_pack)
        except OSError as error:
            failed = self._error(items[0][0], error)
            return [failed] * len(items)
        results: list[bool | StoreError] = []
        try:
            for (key, _), target in zip(items, targets, strict=True):
                directory = os.path.dirname(target)
                try:
                    _make_directory(directory, new_entries)
                    os.link(pack, target)
                except FileExistsError:
                    results.append(False)
                    continue
                except OSError as error:
                    results.append(self._error(key, error))
                    continue
                new_entries.add(directory)
                results.append(True)
        finally:
            os.unlink(pack)
        return results

    def _error(self, key: str, error: OSError) -> StoreError:
        if isinstance(error, PermissionError):
            return StoreAccessError(f"Cannot write {key} in {self.url}: permission denied")
        return StoreUnavailableError(f"Cannot write {key} in {self.url}: {error.strerror}")

    def _fs_path(self, key: str) -> str:
        # The same checks as _path, on strings: this runs once per claim on the hot path.
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise ValueError(f"invalid store key {key!r}")
        if any(part in ("", ".", "..") for part in key.split("/")):
            raise ValueError(f"invalid store key {key!r}")
        return self._root_text + os.sep + key.replace("/", os.sep)

    def get(self, key: str) -> bytes:
        """The object's bytes. Only a regular file inside the root is read: a symbolic link (at
        any level below the root), a FIFO or a device under an object's name is a corrupt object,
        reported without a byte of its content."""
        parts = self._path(key).relative_to(self._root).parts
        try:
            data = self._read_regular(key, parts)
            return _unpack(data, key, self.url) if data.startswith(_PACK_MAGIC) else data
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


def _pack(items: Sequence[tuple[str, bytes]]) -> bytes:
    """One file holding every item; a key given twice keeps its first bytes (the first link wins)."""
    index: dict[str, list[int]] = {}
    payload: list[bytes] = []
    offset = 0
    for key, data in items:
        if key not in index:
            index[key] = [offset, len(data)]
            payload.append(data)
            offset += len(data)
    return b"".join((_PACK_MAGIC, orjson.dumps(index), b"\n", *payload))


def _unpack(data: bytes, key: str, url: str) -> bytes:
    # Every way a header can be wrong is a corrupt object (the sync's on_corrupt_object policy),
    # never an exception a sync reports as transient and retries forever (issue 14, finding 5).
    try:
        header_end = data.index(b"\n", len(_PACK_MAGIC))
        offset, length = orjson.loads(data[len(_PACK_MAGIC) : header_end])[key]
        start, size = header_end + 1 + int(offset), int(length)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, OverflowError) as error:
        raise CorruptObjectError(key, f"damaged pack file in {url}") from error
    if int(offset) < 0 or size < 0 or start + size > len(data):
        raise CorruptObjectError(key, f"damaged pack file in {url}")
    return data[start : start + size]


def _write_new(path: str, data: bytes, fsync: bool) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
        if fsync:
            os.fsync(descriptor)
    except BaseException:
        os.close(descriptor)
        os.unlink(path)
        raise
    os.close(descriptor)


def _sync_group(syncfs: Optional[Callable[[int], int]], sync_descriptor: int, new_entries: set[str]) -> None:
    if syncfs is not None:
        if syncfs(sync_descriptor) != 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return
    # The pack was fsynced before its links; the names and the new folders are made durable here.
    for directory in sorted(new_entries):
        _fsync_directory(Path(directory))


def _make_directory(directory: str, new_entries: set[str]) -> None:
    """mkdir -p that records every folder gaining an entry (for the per-folder fsyncs)."""
    try:
        os.mkdir(directory)
    except FileExistsError:
        return
    except FileNotFoundError:
        _make_directory(os.path.dirname(directory), new_entries)
        try:
            os.mkdir(directory)
        except FileExistsError:
            return
    new_entries.add(os.path.dirname(directory))


def _fsync_directory(directory: Path) -> None:
    # The link is durable only once its directory entry is; without this a power loss can
    # lose an object the receiver already acknowledged.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
