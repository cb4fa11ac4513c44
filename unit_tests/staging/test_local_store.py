import threading

import pytest

from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.store import (
    ObjectNotFoundError,
    StoreAccessError,
)


def test_put_if_absent_is_write_once(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    assert store.put_if_absent("a/b/c.bin", b"first") is True
    assert store.put_if_absent("a/b/c.bin", b"second") is False
    assert store.get("a/b/c.bin") == b"first"


def test_racing_writers_exactly_one_wins(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    results: list[bool] = []
    barrier = threading.Barrier(16)

    def put(n: int) -> None:
        barrier.wait()
        results.append(store.put_if_absent("race/key", f"writer {n}".encode()))

    threads = [threading.Thread(target=put, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 1
    assert not [p for p in (tmp_path / "race").iterdir() if p.name != "key"], "no temp files left behind"


def test_list_keys_is_lexicographic_with_start_after(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    keys = ["p/a-1", "p/a/x", "p/a0", "p/b/c/d", "p/b/c2", "p/ba"]
    for key in keys:
        store.put_if_absent(key, b"x")
    assert list(store.list_keys("p/")) == sorted(keys)
    assert list(store.list_keys("p/", start_after="p/a0")) == [k for k in sorted(keys) if k > "p/a0"]
    assert list(store.list_keys("p/b/")) == ["p/b/c/d", "p/b/c2"]
    assert list(store.list_children("p/")) == ["p/a/", "p/b/"]
    assert list(store.list_children("p/", start_after="p/a")) == ["p/a/", "p/b/"]
    assert list(store.list_keys("missing/")) == []


@pytest.mark.parametrize("key", ["../escape", "a/../../b", "/abs", "a//b", "a/./b", "a\\b", "a/\x00"])
def test_keys_cannot_escape_the_root(tmp_path, key):
    store = LocalFolderStore(str(tmp_path / "root"))
    with pytest.raises(ValueError):
        store.put_if_absent(key, b"x")


def test_get_missing_and_check_missing_folder(tmp_path):
    store = LocalFolderStore(str(tmp_path / "nope"))
    with pytest.raises(ObjectNotFoundError):
        store.get("x")
    with pytest.raises(StoreAccessError, match="does not exist"):
        store.check()


def _claim_items(prefix: str, count: int, writer: str) -> list[tuple[str, bytes]]:
    return [(f"idempotency/pixel_id=1/{prefix}{n:03d}/000001.json", writer.encode()) for n in range(count)]
