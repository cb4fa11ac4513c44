import ctypes
import os
import threading

import pytest

from source_meta_capi.staging.local_store import LocalFolderStore
from source_meta_capi.staging.store import (
    CorruptObjectError,
    ObjectNotFoundError,
    StoreAccessError,
    StoreUnavailableError,
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


def test_put_many_stores_the_group_as_one_pack_linked_under_each_key(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    items = [("g/a/1.json", b'{"a":1}'), ("g/b/1.json", b'{"b":22}'), ("g/a/1.json", b"second"), ("g/c/1.json", b"")]
    assert store.put_many_if_absent(items) == [True, True, False, True]
    assert [store.get(key) for key in ("g/a/1.json", "g/b/1.json", "g/c/1.json")] == [b'{"a":1}', b'{"b":22}', b""]
    inodes = {(tmp_path / key).stat().st_ino for key in ("g/a/1.json", "g/b/1.json", "g/c/1.json")}
    assert len(inodes) == 1, "one file for the whole group"
    assert list(store.list_keys("g/")) == ["g/a/1.json", "g/b/1.json", "g/c/1.json"]
    assert not [p for p in tmp_path.rglob(".tmp-*")], "the pack's temp name is gone"


def test_put_many_splits_large_groups_into_several_packs(tmp_path, monkeypatch):
    from source_meta_capi.staging import local_store

    monkeypatch.setattr(local_store, "_PACK_MAX_OBJECTS", 2)
    store = LocalFolderStore(str(tmp_path))
    items = _claim_items("c", 5, "w")
    assert store.put_many_if_absent(items) == [True] * 5
    assert all(store.get(key) == data for key, data in items)
    assert len({(tmp_path / key).stat().st_ino for key, _ in items}) == 3


def test_an_object_that_looks_like_a_pack_reads_back_unchanged(tmp_path):
    from source_meta_capi.staging import local_store

    store = LocalFolderStore(str(tmp_path))
    tricky = local_store._PACK_MAGIC + b'{"x/y":[0,1]}\nZ'
    assert store.put_if_absent("x/y", tricky) is True
    assert store.put_many_if_absent([("x/z", tricky)]) == [True]
    assert store.get("x/y") == tricky and store.get("x/z") == tricky


def test_put_many_creates_each_object_write_once_and_reports_existing(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    assert store.put_if_absent("g/k001/000001.json", b"earlier") is True
    results = store.put_many_if_absent([("g/k000/000001.json", b"a"), ("g/k001/000001.json", b"b")])
    assert results == [True, False]
    assert store.get("g/k000/000001.json") == b"a" and store.get("g/k001/000001.json") == b"earlier"
    assert store.put_many_if_absent([]) == []
    assert not [p for p in tmp_path.rglob(".tmp-*")], "no temp files left behind"


def test_put_many_on_two_store_instances_of_one_folder_exactly_one_wins_each_key(tmp_path):
    stores = [LocalFolderStore(str(tmp_path)) for _ in range(2)]
    results: dict[int, list] = {}
    barrier = threading.Barrier(4)

    def claim(n: int) -> None:
        barrier.wait()
        results[n] = stores[n % 2].put_many_if_absent(_claim_items("k", 50, f"writer {n}"))

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for index in range(50):
        assert [results[n][index] for n in range(4)].count(True) == 1
    assert not [p for p in tmp_path.rglob(".tmp-*")]


def _claim_in_process(root: str, writer: str, start, queue) -> None:
    store = LocalFolderStore(root)
    start.wait()
    queue.put((writer, store.put_many_if_absent(_claim_items("x", 40, writer))))


def test_put_many_from_two_processes_exactly_one_wins_each_key_and_content_is_the_winners(tmp_path):
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    start, queue = context.Event(), context.Queue()
    processes = [
        context.Process(target=_claim_in_process, args=(str(tmp_path), writer, start, queue)) for writer in ("p1", "p2")
    ]
    for process in processes:
        process.start()
    start.set()
    outcomes = dict(queue.get(timeout=60) for _ in processes)
    for process in processes:
        process.join(timeout=60)
    store = LocalFolderStore(str(tmp_path))
    for index, (key, _) in enumerate(_claim_items("x", 40, "")):
        winners = [writer for writer, results in outcomes.items() if results[index] is True]
        assert len(winners) == 1 and store.get(key) == winners[0].encode()


def test_put_many_makes_the_group_durable_once_after_every_link(tmp_path, monkeypatch):
    from source_meta_capi.staging import local_store

    store = LocalFolderStore(str(tmp_path))
    seen: list[int] = []
    monkeypatch.setattr(local_store, "SYNCFS", lambda fd: seen.append(len(list(store.list_keys("idempotency/")))) or 0)
    fsyncs: list[int] = []
    monkeypatch.setattr(local_store.os, "fsync", lambda fd: fsyncs.append(fd))
    assert store.put_many_if_absent(_claim_items("s", 7, "w")) == [True] * 7
    assert seen == [7] and fsyncs == []  # one syncfs, after all 7 links; no per-object fsync
    assert store.put_many_if_absent(_claim_items("s", 7, "w")) == [False] * 7
    assert seen == [7], "nothing created, nothing to sync"


def test_put_many_without_syncfs_fsyncs_the_pack_and_each_folder_that_gained_an_entry(tmp_path, monkeypatch):
    from source_meta_capi.staging import local_store

    monkeypatch.setattr(local_store, "SYNCFS", None)
    folders: list[str] = []
    monkeypatch.setattr(local_store, "_fsync_directory", lambda path: folders.append(str(path)))
    file_fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(local_store.os, "fsync", lambda fd: (file_fsyncs.append(fd), real_fsync(fd)))
    store = LocalFolderStore(str(tmp_path / "root"))
    store.ensure_exists()
    assert store.put_many_if_absent(_claim_items("n", 3, "w")) == [True] * 3
    assert len(file_fsyncs) == 1  # the pack, before its first link
    root = tmp_path / "root"
    assert sorted(folders) == sorted(
        [str(root), str(root / "idempotency"), str(root / "idempotency" / "pixel_id=1")]
        + [str(root / "idempotency" / "pixel_id=1" / f"n{n:03d}") for n in range(3)]
    )


def test_put_many_reports_a_failed_item_and_keeps_the_others(tmp_path):
    store = LocalFolderStore(str(tmp_path))
    store.put_if_absent("g/file", b"a file where a folder is needed")
    results = store.put_many_if_absent([("g/ok/1.json", b"1"), ("g/file/1.json", b"2"), ("g/ok2/1.json", b"3")])
    assert results[0] is True and results[2] is True
    assert isinstance(results[1], StoreUnavailableError) and "g/file/1.json" in str(results[1])


def test_put_many_raises_when_the_group_cannot_be_made_durable(tmp_path, monkeypatch):
    import errno

    from source_meta_capi.staging import local_store

    def failing(fd: int) -> int:
        ctypes.set_errno(errno.EIO)
        return -1

    monkeypatch.setattr(local_store, "SYNCFS", failing)
    store = LocalFolderStore(str(tmp_path))
    with pytest.raises(StoreUnavailableError, match="durable"):
        store.put_many_if_absent(_claim_items("e", 2, "w"))


def test_a_damaged_pack_is_a_store_error_not_garbage(tmp_path):
    from source_meta_capi.staging import local_store

    store = LocalFolderStore(str(tmp_path))
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "no-header").write_bytes(local_store._PACK_MAGIC + b"{not json")
    (tmp_path / "d" / "other-key").write_bytes(local_store._pack([("d/elsewhere", b"x")]))
    for key in ("d/no-header", "d/other-key"):
        with pytest.raises(CorruptObjectError, match="damaged pack"):
            store.get(key)
