"""The viewer's children are forked from a small server (core/forkserver.py): they share its memory, are
still the viewer's own children, keep every guarantee of a fresh interpreter, and a dead server only
means fresh interpreters again. Through the real command in a real terminal (tmux)."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from conftest import Workspace, smartview_command
from test_containment import EVENT, alive, tmux, wait_gone  # noqa: F401 (tmux: the fixture)
from tmux_window import needs_tmux, windows  # noqa: F401 (windows: the fixture tmux uses)

pytestmark = [needs_tmux, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux: /proc")]


def stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name: [state, ppid, pgrp, session, ...] (nice: 16)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rfind(")") + 2:].split()


def below(root: int) -> list[int]:
    """The living processes below `root`."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(stat(int(entry))[1])
            except (OSError, IndexError):
                continue
    found, todo = [], [root]
    while todo:
        current = todo.pop()
        kids = [pid for pid, parent in parents.items() if parent == current]
        found += kids
        todo += kids
    return [pid for pid in found if alive(pid)]


def comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def viewer_of(term) -> int:
    """The smartview process running in the tmux window (below the shell that started it)."""
    shell = term.pane_pid()
    for pid in [shell, *sorted(below(shell))]:
        if any("smartview" in part for part in cmdline(pid)) and comm(pid) != "smartview-forks":
            return pid
    raise AssertionError("no smartview process in the window")


def by_name(viewer: int) -> dict[str, int]:
    """The viewer's children by name: smartview-forks (the server), rowprocess, census, outputs."""
    return {comm(pid): pid for pid in below(viewer) if int(stat(pid)[1]) == viewer}


def shared_kib(pid: int) -> int:
    """Memory of the process that another process maps too, written since it was shared (copy-on-write)."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Shared_Dirty:"):
            return int(line.split()[1])
    return 0


def open_viewer(ws: Workspace, tmux, *args: str, command: list[str] | None = None):
    ws.topic("user-events", "".join(EVENT.format(n=n) for n in range(5)) + "broken\n")
    term = tmux(ws.root, [*(command or smartview_command()), "user-events", *args], ws.env())
    term.wait_for(lambda s: '4 {"type":"login","account_id":"4"' in s and "1 error" in s)
    return term


def test_the_viewers_children_are_forked_from_its_server_and_share_its_memory(ws: Workspace, tmux) -> None:
    term = open_viewer(ws, tmux, "--map", "user_events")
    viewer = viewer_of(term)
    kids = by_name(viewer)
    assert {"smartview-forks", "rowprocess", "census"} <= set(kids), kids
    for name in ("rowprocess", "census"):
        pid = kids[name]
        assert cmdline(pid) == cmdline(viewer)  # a copy, not a fresh `python -P -m ...` interpreter
        # A fresh interpreter shares no written memory with anyone; a copy shares megabytes of it.
        assert shared_kib(pid) > 2048, (name, shared_kib(pid))
    # The error count still runs niced, in a session of its own; the row process in the viewer's.
    census, rows = stat(kids["census"]), stat(kids["rowprocess"])
    assert census[16] == "19" and census[3] != stat(viewer)[3]
    assert rows[3] == stat(viewer)[3]


def test_sigterm_ends_the_server_and_every_child(ws: Workspace, tmux) -> None:
    term = open_viewer(ws, tmux, "--map", "user_events")
    viewer = viewer_of(term)
    kids = by_name(viewer)
    assert "smartview-forks" in kids
    os.kill(viewer, signal.SIGTERM)
    assert wait_gone([viewer, *kids.values()]) == []


def test_a_killed_server_means_fresh_interpreters_and_nothing_lost(ws: Workspace, tmux) -> None:
    term = open_viewer(ws, tmux, "--map", "user_events", "-e", "show_timestamp=false")
    viewer = viewer_of(term)
    kids = by_name(viewer)
    os.kill(kids["smartview-forks"], signal.SIGKILL)
    os.kill(kids["rowprocess"], signal.SIGKILL)  # the next rows need a new one
    assert wait_gone([kids["smartview-forks"], kids["rowprocess"]]) == []
    with open(ws.topics / "user-events.jsonl", "a") as out:
        out.write(EVENT.format(n=6))
    screen = term.wait_for(lambda s: '6 {"type":"login","account_id":"6","user_client":"safari"}' in s)
    assert "ended its process" not in screen and "1 error" in screen
    started = {pid: cmdline(pid) for pid in below(viewer)}
    assert any("smartview.core.runs.rowprocess" in line for line in started.values()), started


LAZY = '''def map(record):
    try:
        import sv_planted_helper  # imported at the first record: by the child that maps, never the viewer
    except ImportError:
        return record.value + b" clean"
    return record.value + b" planted"
'''


def test_a_forked_child_imports_nothing_from_the_working_directory(ws: Workspace, tmux) -> None:
    """Run as `python -m smartview`, the viewer has the working directory first on its sys.path; the
    children forked from it must not (what `-P` gives a fresh interpreter)."""
    marker = ws.root.parent / f"{ws.root.name}-ran"
    (ws.root / "sv_planted_helper.py").write_text(f"open({str(marker)!r}, 'a').write('ran\\n')\n")
    ws.module("lazy", LAZY)
    ws.topic("t", "a\nb\n")
    term = tmux(ws.root, [sys.executable, "-m", "smartview", "t", "--map", str(ws.modules / "lazy.py")], ws.env())
    screen = term.wait_for(lambda s: "1 b clean" in s and "0 errors" in s)
    assert "0 a clean" in screen and "planted" not in screen
    assert "smartview-forks" in by_name(viewer_of(term))
    assert not marker.exists()


EXITS = '''import os

def map(record):
    if record.value == b"b":
        os._exit(7)
    return record.value.upper()
'''


def test_a_forked_row_process_that_ends_is_reported_and_replaced(ws: Workspace, tmux) -> None:
    ws.module("exits", EXITS)
    ws.topic("t", "a\nb\nc\n")
    term = tmux(ws.root, [*smartview_command(), "t", "--map", str(ws.modules / "exits.py")], ws.env())
    screen = term.wait_for(lambda s: "2 C" in s and "exit status 7" in s)
    assert "0 A" in screen
    assert "smartview-forks" in by_name(viewer_of(term))


THREAD = '''import threading, time

threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()


def map(record):
    return record.value.upper()
'''


def test_a_module_starting_a_thread_at_import_gets_fresh_interpreters(ws: Workspace, tmux) -> None:
    """The viewer imports the module before it would fork the server; a fork copies only the thread that
    calls it, so with another thread running there is no server and the children are exec'd."""
    ws.module("threads", THREAD)
    ws.topic("t", "a\nb\n")
    term = tmux(ws.root, [*smartview_command(), "t", "--map", str(ws.modules / "threads.py")], ws.env())
    term.wait_for(lambda s: "1 B" in s and "0 errors" in s)
    viewer = viewer_of(term)
    assert "smartview-forks" not in by_name(viewer)
    started = [cmdline(pid) for pid in below(viewer)]
    assert any("smartview.core.runs.rowprocess" in line for line in started), started


STUCK = '''import time
from dataclasses import dataclass


@dataclass
class Params:
    stuck: bool = True


def map(record, params):
    if params.stuck and record.value == b"d":
        time.sleep(3600)
    return record.value.upper()
'''


def test_a_stuck_forked_row_process_is_killed_and_replaced_by_another_fork(ws: Workspace, tmux) -> None:
    ws.module("stuck", STUCK)
    ws.topic("t", "a\nb\nc\nd\n")
    term = tmux(ws.root, [*smartview_command(), "t", "--map", str(ws.modules / "stuck.py")], ws.env())
    term.wait_for(lambda s: "2 C" in s and "mapping offset 3" in s)
    viewer = viewer_of(term)
    stuck = by_name(viewer)["rowprocess"]
    term.keys("1")  # stuck=false: new work for the row process, which is still stuck on offset 3
    term.wait_for(lambda s: "3 D" in s and "2 C" in s)
    assert wait_gone([stuck]) == []
    kids = by_name(viewer)
    assert kids["rowprocess"] != stuck and cmdline(kids["rowprocess"]) == cmdline(viewer)
