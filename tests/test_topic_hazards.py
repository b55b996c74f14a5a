"""Topic files that change, vanish or are not what they seem while smartview reads them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Workspace

IDENTITY = "def map(record, params):\n    return record.value\n"


def _record(n: int, tag: str) -> str:
    return f'{{"n":{n:08d},"tag":"{tag}","pad":"{"x" * 40}"}}\n'


def _wait_until_open(pid: int, path: Path, timeout: float = 30) -> None:
    """Wait until process `pid` has `path` open: the run has begun reading it."""
    target = os.path.realpath(path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            links = []
        if target in links:
            return
        time.sleep(0.0005)
    raise AssertionError(f"the run never opened {path}")


@pytest.mark.parametrize("how", ["renamed away", "replaced by a same-size file"])
def test_print_reads_the_file_it_opened_when_the_topic_is_rotated(ws: Workspace, how: str) -> None:
    # --tail makes the run read the whole file once before its workers start: the rotation lands
    # between the first open and the workers' reading, where reopening by path would read another file.
    count = 400_000
    original = "".join(_record(n, "old") for n in range(count))
    path = ws.topic("big", original)
    module = ws.module("same", IDENTITY)
    proc = ws.popen("big", "--map", str(module), "--print", "--jobs", "3", "--tail", str(count - 1),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_until_open(proc.pid, path)
    os.rename(path, ws.root / "big.jsonl.1")
    if how != "renamed away":
        other = ws.root / "new.jsonl"
        other.write_text("".join(_record(n, "new") for n in range(count)))
        os.replace(other, path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == original[original.index("\n") + 1 :]


def _fixed(n: int, generation: str) -> str:
    """Fixed-width records whose last 32 bytes do not depend on the generation: a common suffix."""
    return f'{{"gen":"{generation}","n":{n:06d},"status":"ok","padding":"{"-" * 40}"}}\n'


def _rewrite_same_width(path: Path, count: int) -> None:
    with open(path, "w") as topic:  # truncate, then write past the old size before anyone looks
        topic.write("".join(_fixed(n, "b") for n in range(count)))


def test_follow_notices_a_rewrite_with_same_width_records_and_a_common_suffix(ws: Workspace) -> None:
    from test_follow import start_follow, stop

    path = ws.topic("fixed", "".join(_fixed(n, "a") for n in range(5000)))
    proc, reader = start_follow(ws, "fixed")
    try:
        assert len(reader.lines(5000)) == 5000
        _rewrite_same_width(path, 6000)
        assert reader.lines(6000) == [_fixed(n, "b").rstrip("\n") for n in range(6000)]
    finally:
        code, err = stop(proc)
    assert code == 0 and "fixed was truncated; reading again from offset 0" in err


def test_viewer_notices_a_rewrite_with_same_width_records_and_a_common_suffix(tmp_path: Path) -> None:
    import asyncio

    from test_viewer import wait_for
    from viewer_support import make_app, screen_text, settle

    topic = tmp_path / "fixed.jsonl"
    topic.write_text("".join(_fixed(n, "a") for n in range(5000)))

    async def scenario():
        app = make_app(topic, module=None, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            _rewrite_same_width(topic, 6000)
            told = lambda: any("fixed was truncated" in n.message for n in app._notifications)  # noqa: E731
            await wait_for(pilot, lambda: told() and app.index.count == 6000)
            await wait_for(pilot, lambda: '"gen":"b","n":005999' in screen_text(app))
            assert '"gen":"a"' not in screen_text(app)

    asyncio.run(scenario())
