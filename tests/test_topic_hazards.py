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
