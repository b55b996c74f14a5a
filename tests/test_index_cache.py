"""The line index kept on disk: a reopen counts only what was added, and a changed file is counted anew."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smartview.core.sources import index as index_mod
from smartview.core.sources.index import LineIndex
from smartview.core.sources.index_cache import IndexCache, default_folder

BLOCK = 256


def write_lines(path: Path, first: int, count: int, mode: str = "wb") -> None:
    with open(path, mode) as out:
        out.write(b"".join(b'{"n":%d,"pad":"%s"}\n' % (n, b"x" * (n % 23)) for n in range(first, first + count)))


def opened(path: Path, cache: IndexCache) -> LineIndex:
    index = LineIndex(path, block=BLOCK, cache=cache)
    assert index.build_in_background().wait(10)
    return index


@pytest.fixture
def cache(tmp_path: Path) -> IndexCache:
    return IndexCache(tmp_path / "cache", min_bytes=0)


def test_a_reopen_takes_the_saved_counts_and_counts_only_what_was_added(tmp_path: Path, cache: IndexCache) -> None:
    path = tmp_path / "t.jsonl"
    write_lines(path, 0, 3000)
    first = opened(path, cache)
    assert first.cached_blocks == 0 and first.count == 3000
    again = opened(path, cache)
    assert again.cached_blocks == len(first._before) - 1 > 0
    assert again.count == 3000 and again.read(2990, 3000) == first.read(2990, 3000)
    write_lines(path, 3000, 500, "ab")
    grown = opened(path, cache)
    assert grown.cached_blocks > 0 and grown.count == 3500
    assert grown.read(3499, 3500) == [b'{"n":3499,"pad":"%s"}' % (b"x" * (3499 % 23))]


@pytest.mark.parametrize("where", ["start", "before the counted end"])
def test_a_file_rewritten_in_place_is_counted_anew(tmp_path: Path, cache: IndexCache, where: str) -> None:
    path = tmp_path / "t.jsonl"
    write_lines(path, 0, 3000)
    counted = opened(path, cache)
    # The same size and inode, one record split in two: only the content tells the files apart.
    data = bytearray(path.read_bytes())
    at = 40 if where == "start" else (len(counted._before) - 1) * BLOCK - 100
    at = data.index(b",", at)
    data[at] = ord("\n")
    with open(path, "r+b") as out:
        out.write(data)
    again = opened(path, cache)
    assert again.cached_blocks == 0
    assert again.count == 3001


def test_a_replaced_or_truncated_file_is_counted_anew(tmp_path: Path, cache: IndexCache) -> None:
    path = tmp_path / "t.jsonl"
    write_lines(path, 0, 3000)
    opened(path, cache)
    other = tmp_path / "other"
    write_lines(other, 0, 3000)
    other.replace(path)  # the same bytes under another inode
    assert opened(path, cache).cached_blocks == 0
    write_lines(path, 0, 100)  # truncated and rewritten shorter: the same inode
    shorter = opened(path, cache)
    assert shorter.cached_blocks == 0 and shorter.count == 100


def test_the_cache_is_bounded_and_nothing_is_written_beside_the_topic(tmp_path: Path) -> None:
    cache = IndexCache(tmp_path / "cache", min_bytes=0, keep=3)
    topics = tmp_path / "topics"
    topics.mkdir()
    for n in range(6):
        path = topics / f"t{n}.jsonl"
        write_lines(path, 0, 500)
        opened(path, cache)
    assert sorted(p.name for p in topics.iterdir()) == [f"t{n}.jsonl" for n in range(6)]
    assert len(list((tmp_path / "cache").iterdir())) == 3


def test_small_files_are_not_cached_and_the_folder_follows_xdg(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_folder() == tmp_path / "xdg" / "smartview" / "index"
    path = tmp_path / "t.jsonl"
    write_lines(path, 0, 3000)
    opened(path, IndexCache())  # below the size worth caching
    assert not (tmp_path / "xdg").exists()


def test_a_damaged_entry_is_ignored(tmp_path: Path, cache: IndexCache) -> None:
    path = tmp_path / "t.jsonl"
    write_lines(path, 0, 3000)
    opened(path, cache)
    (entry,) = cache.folder.iterdir()
    entry.write_bytes(entry.read_bytes()[:-8])
    again = opened(path, cache)
    assert again.cached_blocks == 0 and again.count == 3000


def test_counting_on_two_cores_gives_the_same_index(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "t.jsonl"
    write_lines(path, 0, 5001)
    monkeypatch.setattr(index_mod, "FORK_MIN_BYTES", 0)
    forked = LineIndex(path, block=BLOCK)
    assert forked.build_in_background().wait(10)
    plain = LineIndex(path, block=BLOCK)
    plain.update()
    assert list(forked._before) == list(plain._before) and forked.count == plain.count == 5001
    assert os.path.getsize(path) // BLOCK == len(forked._before) - 1


def test_a_deleted_file_such_as_a_spool_is_never_kept(tmp_path: Path, cache: IndexCache) -> None:
    path = tmp_path / "spool.jsonl"
    write_lines(path, 0, 3000)
    index = LineIndex(path, block=BLOCK, cache=cache)
    path.unlink()  # open, nameless: what a spool of standard input is once created
    assert index.build_in_background().wait(10)
    assert index.count == 3000
    assert not cache.folder.exists() or not list(cache.folder.iterdir())
