"""The viewer's background passes over a large file's backlog, split across two processes.

Each pass is run as the viewer starts it (a real child process, fed the viewer's frame), once kept to
one process (SMARTVIEW_PASS_JOBS=1) and once free to split; both must report the same failed offsets
and the same output counts, including failures right at the split point and records appended while
the pass runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from array import array
from pathlib import Path

from smartview.core.runs.rowprocess import read_frame, write_frame
from smartview.core.sources.halves import SPLIT_AT

ROOT = Path(__file__).resolve().parent.parent
EXPLODE = str(ROOT / "modules" / "explode.py")
GREP = str(ROOT / "core" / "modules" / "grep.py")  # what find adds to the pipeline to count its matches
FAILING = "def map(record):\n    if record.value.startswith(b'bad'):\n        raise ValueError('bad record')\n    return record.value\n"


def _line(i: int) -> bytes:
    if i % 997 == 3:
        return b"bad %d" % i  # not JSON: explode fails on it, and so does the failing map
    if i % 5 == 0:
        return b'{"n": %d}' % i  # no items: no rows
    return b'{"n": %d, "items": [%s], "pad": "%s"}' % (i, b",".join(b"%d" % k for k in range(i % 4)), b"x" * (i % 50))


def _topic(path: Path, minimum: int = SPLIT_AT + (1 << 20)) -> tuple[int, list[int]]:
    """A topic just over the split size, with bad records on the lines around its middle byte."""
    lines = []
    size = 0
    i = 0
    while size < minimum:
        lines.append(_line(i))
        size += len(lines[-1]) + 1
        i += 1
    position = 0
    middle = size // 2
    for k, line in enumerate(lines):
        position += len(line) + 1
        if position >= middle:
            for near in range(k - 2, k + 3):  # both sides of the cut, and the line the cut falls on
                lines[near] = b"bad near the middle %d" % near
            break
    path.write_bytes(b"\n".join(lines) + b"\n")
    return len(lines), [n for n, line in enumerate(lines) if line.startswith(b"bad")]


def _start(module: str, frame: tuple, jobs: str) -> subprocess.Popen:
    env = dict(os.environ, SMARTVIEW_PASS_JOBS=jobs)
    proc = subprocess.Popen([sys.executable, "-P", "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    write_frame(proc.stdin, frame)
    proc.stdin.close()
    return proc


def _census(path: Path, module: Path, jobs: str, until: int, while_running=None) -> list[int]:
    proc = _start("smartview.core.runs.census", (str(path), str(module), 0, {}), jobs)
    failed: list[int] = []
    try:
        for line in proc.stdout:
            report = json.loads(line)
            assert report["error"] is None
            failed += report["failed"]
            assert report["failures"] == len(failed)
            if while_running is not None:
                while_running()
                while_running = None
            if report["done"] >= until():
                return failed
        raise AssertionError("the census ended early")
    finally:
        proc.kill()
        proc.wait()


def _outputs(path: Path, jobs: str, records: int, stages=None, on_first_frame=None, at_the_end=None) -> array:
    """The output counts of every record, as the pass reports them; `on_first_frame` and `at_the_end`
    are called with the pass's process once its first frame has come and once every record is counted."""
    proc = _start("smartview.core.runs.outputs", (str(path), stages or [(EXPLODE, {})], None), jobs)
    counts = array("i")
    try:
        while len(counts) < records:
            frame = read_frame(proc.stdout)
            assert frame[0] == "rows", frame
            assert frame[1] == len(counts)  # frames come in offset order, without gaps
            counts.frombytes(frame[2])
            if on_first_frame is not None:
                on_first_frame(proc)
                on_first_frame = None
        if at_the_end is not None:
            at_the_end(proc)
        return counts
    finally:
        proc.kill()
        proc.wait()


def _copy_of(proc: subprocess.Popen) -> int:
    """The pid of the forked copy mapping part of the pass's backlog."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def test_the_split_error_count_finds_the_same_failures_as_one_process(tmp_path: Path) -> None:
    topic = tmp_path / "big.jsonl"
    records, bad = _topic(topic)
    module = tmp_path / "failing.py"
    module.write_text(FAILING)
    alone = _census(topic, module, "1", lambda: records)
    split = _census(topic, module, "auto", lambda: records)
    assert alone == bad
    assert split == bad


def test_the_split_output_index_counts_every_records_rows_as_one_process_does(tmp_path: Path) -> None:
    topic = tmp_path / "big.jsonl"
    records, bad = _topic(topic)
    alone = _outputs(topic, "1", records)
    split = _outputs(topic, "auto", records)
    assert len(split) == len(alone) == records
    assert split == alone
    assert [n for n, count in enumerate(split) if count == -1] == bad
    assert sum(count for count in split if count > 0) == sum(n % 4 for n in range(records) if n % 5 and n not in bad)


def test_records_appended_during_a_split_pass_are_counted_after_the_backlog(tmp_path: Path) -> None:
    topic = tmp_path / "growing.jsonl"
    records, bad = _topic(topic)
    module = tmp_path / "failing.py"
    module.write_text(FAILING)
    total = [records]

    def append() -> None:  # while the halves are mapped: the pass must go on past the backlog it split
        with topic.open("ab") as file:
            file.write(b"bad appended\n" + b'{"n": 1}\n' * 10 + b"bad appended again\n" + b'{"n": 2}')
        total[0] = records + 12  # the last line has no newline yet: it waits
        time.sleep(0.2)
        with topic.open("ab") as file:
            file.write(b"\n")
        total[0] = records + 13

    split = _census(topic, module, "auto", lambda: total[0], while_running=append)
    assert split == bad + [records, records + 11]


def test_find_jumps_to_a_rare_match_far_away_in_a_filters_rows_and_wraps(tmp_path: Path) -> None:
    """Find goes from row to row where the counting pass found matches, both ways, wrapping around."""
    import asyncio

    from viewer_support import make_app, settle

    topic = tmp_path / "rare.jsonl"
    lines = []
    for n in range(6000):  # every third record is a login, the filter's rows
        msg = "rare" if n in (30, 4020) else "x"
        lines.append(json.dumps({"type": ["login", "logout", "view"][n % 3], "n": n, "msg": msg}) + "\n")
    topic.write_text("".join(lines))

    async def wait_for(condition) -> None:
        deadline = time.monotonic() + 15
        while not condition():
            assert time.monotonic() < deadline, "timed out waiting for the viewer"
            await asyncio.sleep(0.02)

    async def scenario():
        app = make_app(topic, module="where", values={"equals": "login"})
        async with app.run_test(size=(160, 30), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("home", "slash", *'"msg": "rare"', "enter")
            await wait_for(lambda: app.stream.cursor == 10)  # record 30
            await wait_for(lambda: app._find_count is not None and app._find_count.finished is False
                           and app._find_count.done >= 6000)
            await pilot.press("n")
            await wait_for(lambda: app.stream.cursor == 1340)  # record 4020
            await pilot.press("n")
            await wait_for(lambda: app.stream.cursor == 10)
            await pilot.press("N")
            await wait_for(lambda: app.stream.cursor == 1340)
            await pilot.press("N")
            await wait_for(lambda: app.stream.cursor == 10)
            await pilot.press("end", "N")
            await wait_for(lambda: app.stream.cursor == 1340)

    asyncio.run(scenario())


def test_a_pass_whose_copy_dies_maps_the_copys_share_itself(tmp_path: Path) -> None:
    """A module that ends any process but the one that loaded it: the forked copy dies on its first record."""
    topic = tmp_path / "big.jsonl"
    records, bad = _topic(topic)
    module = tmp_path / "only_here.py"
    module.write_text("import os\n\nLOADED_BY = os.getpid()\n\n\n" + FAILING.replace(
        "def map(record):\n", "def map(record):\n    if os.getpid() != LOADED_BY:\n        os._exit(3)\n"))
    assert _census(topic, module, "auto", lambda: records) == bad


def test_find_reaches_a_rare_string_in_the_last_quarter_of_a_split_topic_at_its_offset(tmp_path: Path) -> None:
    """The copy maps pieces in turn with this process, so it has a share of the last quarter: its match
    must come back at the record's own offset, as in one process."""
    topic = tmp_path / "big.jsonl"
    records, _ = _topic(topic)
    lines = topic.read_bytes().split(b"\n")
    needle = records * 7 // 8
    lines[needle] = b'{"n": %d, "msg": "needle-5f1c9e"}' % needle
    topic.write_bytes(b"\n".join(lines))
    find = [(GREP, {"pattern": "needle-5f1c9e"})]
    for jobs in ("1", "auto"):
        counts = _outputs(topic, jobs, records, find)
        assert [n for n, count in enumerate(counts) if count != 0] == [needle], jobs


def test_a_copy_killed_mid_pass_loses_nothing(tmp_path: Path) -> None:
    topic = tmp_path / "big.jsonl"
    records, _ = _topic(topic)
    alone = _outputs(topic, "1", records)
    killed = []

    def kill_the_copy(proc: subprocess.Popen) -> None:
        killed.append(_copy_of(proc))
        os.kill(killed[0], signal.SIGKILL)

    assert _outputs(topic, "auto", records, on_first_frame=kill_the_copy) == alone
    assert killed


def test_a_copy_that_gets_no_processor_time_does_not_hold_the_pass_up(tmp_path: Path) -> None:
    """The copy is stopped for good once the pass is under way: this process maps the piece the copy
    held, counts every record as one process does, and leaves no stopped copy behind."""
    topic = tmp_path / "big.jsonl"
    records, _ = _topic(topic)
    alone = _outputs(topic, "1", records)
    stopped = []

    def stop_the_copy(proc: subprocess.Popen) -> None:
        stopped.append(_copy_of(proc))
        os.kill(stopped[0], signal.SIGSTOP)

    def copy_ended(proc: subprocess.Popen) -> None:  # by the pass, once the backlog is reported
        deadline = time.monotonic() + 10
        while Path(f"/proc/{stopped[0]}").exists():
            assert time.monotonic() < deadline, "the stopped copy was left behind"
            time.sleep(0.05)
        assert proc.poll() is None  # while the pass goes on following the file

    try:
        assert _outputs(topic, "auto", records, on_first_frame=stop_the_copy, at_the_end=copy_ended) == alone
    finally:
        if stopped:
            try:
                os.kill(stopped[0], signal.SIGKILL)
            except ProcessLookupError:
                pass
