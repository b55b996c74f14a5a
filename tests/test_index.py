"""The line index: every record readable by offset, as the file grows, whichever way it was counted."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from smartview.core.sources import index as index_mod
from smartview.core.sources.index import LineIndex


def lines_for(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    # Short lines, empty lines and lines far longer than a block, so records straddle block edges.
    return [b"x" * rng.choice([0, 1, 5, 17, 40, 300]) + str(n).encode() for n in range(count)]


@pytest.mark.parametrize("block", [16, 64, 4096])
def test_every_record_reads_back(tmp_path: Path, block: int) -> None:
    lines = lines_for(block, 400)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    index = LineIndex(path, block=block)
    assert index.update() == 400
    assert index.count == 400
    assert index.read(0, 400) == lines
    for first in range(0, 400, 37):
        assert index.read(first, first + 5) == lines[first : first + 5]
    assert index.read(398, 999) == lines[398:]


def test_growing_file_and_unfinished_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"a\nb\nhalf")
    index = LineIndex(path, block=8)
    assert index.update() == 2
    with open(path, "ab") as out:
        out.write(b"-done\r\nc\n")
    assert index.update() == 2
    assert index.read(0, 4) == [b"a", b"b", b"half-done", b"c"]


def test_counting_in_a_child_process_gives_the_same_index(tmp_path: Path, monkeypatch) -> None:
    lines = lines_for(7, 5000)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(index_mod, "FORK_MIN_BYTES", 0)
    index = LineIndex(path, block=256)
    assert index.build_in_background().wait(10)
    assert index.count == 5000
    assert index.read(4990, 5000) == lines[4990:]
    assert index.read(1234, 1240) == lines[1234:1240]


def test_a_large_topic_is_counted_once_the_first_screen_says_go(tmp_path: Path, monkeypatch) -> None:
    """The counting processes of a large topic wait for the viewer's first frame rather than slow it."""
    lines = lines_for(11, 5000)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    monkeypatch.setattr(index_mod, "FORK_MIN_BYTES", 0)
    monkeypatch.setattr(index_mod, "HOLD_SECONDS", 30.0)
    index = LineIndex(path, block=256)
    counted = index.build_in_background(hold=True)
    assert not counted.wait(0.5)  # held
    index.go()
    assert counted.wait(10)
    assert index.count == 5000 and index.read(4990, 5000) == lines[4990:]


def test_a_held_count_starts_anyway_if_no_screen_says_go(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines_for(12, 3000)) + b"\n")
    monkeypatch.setattr(index_mod, "FORK_MIN_BYTES", 0)
    monkeypatch.setattr(index_mod, "HOLD_SECONDS", 0.3)
    index = LineIndex(path, block=256)
    assert index.build_in_background(hold=True).wait(10)
    assert index.count == 3000


def test_truncation_and_replacement_are_noticed(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"1\n2\n3\n")
    index = LineIndex(path)
    index.update()
    path.write_bytes(b"9\n")
    assert index.change() == "truncated"
    index.reset()
    index.update()
    assert index.read(0, 5) == [b"9"]
    replacement = tmp_path / "new"
    replacement.write_bytes(b"7\n8\n")
    replacement.replace(path)
    assert index.change() == "replaced"
    path.unlink()
    assert index.change() == "deleted"


def test_the_head_reads_the_first_records_without_counting_the_rest(tmp_path: Path) -> None:
    """An aggregate's first rows come from the file's first records: read before the whole file is counted."""
    from smartview.core.sources.head import HeadIndex

    lines = lines_for(7, 20_000)
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    full = LineIndex(path, block=4096)  # not counted: the count is still running
    head = HeadIndex(full)
    assert [r.value for r in head.read_records(100, 103)] == lines[100:103]
    assert head.read(0, 5) == lines[:5] and head.read_one(999) == lines[999]
    assert full.count == 0 and 1000 <= head.count < 20_000  # only as far as was read
    assert head.read(19_998, 25_000) == lines[19_998:]  # clipped to the file's end
    head.close()
    assert full.read(0, 1) == [] and full.update() == 20_000 and full.read(0, 1) == lines[:1]  # its descriptor still open
