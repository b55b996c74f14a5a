"""The real command in a real terminal (tmux): open, toggle, follow an append, quit."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
import time

import pytest

from conftest import Workspace, smartview_command
from tmux_window import TmuxWindow, needs_tmux

pytestmark = needs_tmux

EVENT = '{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"safari"}}\n'


class Terminal(TmuxWindow):
    """smartview with `args` (joined as a shell would read them) in a 120x30 window, in the workspace."""

    def __init__(self, ws: Workspace, *args: str) -> None:
        super().__init__(" ".join([*smartview_command(), *args]), ws.root, ws.env())


@pytest.fixture
def terminal(ws: Workspace):
    opened: list[Terminal] = []

    def open_(*args: str) -> Terminal:
        opened.append(Terminal(ws, *args))
        return opened[-1]

    yield open_
    for t in opened:
        t.close()


def test_open_toggle_follow_and_quit(ws: Workspace, terminal) -> None:
    path = ws.topic("user-events", "".join(EVENT.format(n=n) for n in range(3)))
    term = terminal("user-events", "--map", "user_events")
    term.wait_for(lambda s: '2 {"type":"login","account_id":"2"' in s and "1 show_account_id" in s)
    term.keys("1")
    screen = term.wait_for(lambda s: '2 {"type":"login","timestamp":2' in s)
    assert '"account_id"' not in screen.split("│")[0]
    with open(path, "a") as out:
        out.write(EVENT.format(n=3))
    term.wait_for(lambda s: '3 {"type":"login","timestamp":3' in s and "4 records" in s)
    term.keys("q")
    term.wait_for(lambda s: "show_account_id" not in s)


def test_control_sequences_in_records_do_not_reach_the_terminal(ws: Workspace, terminal) -> None:
    ws.topic("nasty", 'plain\n\x1b]0;pwned\x07\x1b[2Jafter clear\n')
    term = terminal("nasty")
    screen = term.wait_for(lambda s: "after clear" in s)
    assert "\\x1b]0;pwned\\x07\\x1b[2Jafter clear" in screen
    assert "0 plain" in screen  # the first row was not cleared away


def test_a_chain_of_a_filter_and_a_map_with_parameters_per_module(ws: Workspace, terminal) -> None:
    types = ["login", "logout", "login", "home_page"]
    ws.topic("user-events", "".join(EVENT.format(n=n).replace("login", t) for n, t in enumerate(types)))
    term = terminal("user-events", "--map", "where", "--map", "user_events", "-e", "where.equals=login",
                    "-e", "user_events.show_timestamp=false")
    screen = term.wait_for(lambda s: "2 passed" in s and '2 {"type":"login","account_id":"2","user_client"' in s
                           and "2. user_events" in s)
    assert '0 {"type":"login","account_id":"0","user_client"' in screen
    assert "1. where" in screen
    term.keys("1")  # the first checkbox of the chain: user_events' show_account_id
    term.wait_for(lambda s: '2 {"type":"login","user_client":"safari"}' in s)


def _last_row(screen: str) -> str:
    """The stream's bottom row: the line above the status bar."""
    lines = screen.splitlines()
    status = [n for n, line in enumerate(lines) if " records · " in line]
    return lines[status[0] - 1] if status else ""


def test_resizing_the_terminal_keeps_the_newest_row_in_view(ws: Workspace, terminal) -> None:
    """What the terminal shows after each resize, not only what the viewer holds: the frame drawn at the
    new size must be followed by one scrolled to the new end, with and without the panel."""
    ws.topic("many", "".join(EVENT.format(n=n) for n in range(200)))
    term = terminal("many")
    term.wait_for(lambda s: _last_row(s).startswith("199 "))
    for keys, (width, height) in [((), (120, 14)), ((), (90, 20)), (("p",), (70, 10)), (("p",), (120, 30))]:
        term.keys(*keys) if keys else None
        term.resize(width, height)
        term.wait_for(lambda s: len(s.splitlines()) == height and _last_row(s).startswith("199 "))


def test_a_smartmodule_in_a_real_terminal_with_its_parameter_typed_in(ws: Workspace, terminal) -> None:
    wasm = Path(__file__).resolve().parent / "wasm"
    shutil.copy(wasm / "filter_init.wasm", ws.modules / "grep.wasm")
    shutil.copy(wasm / "filter_init.toml", ws.modules / "grep.toml")
    ws.topic("fruit", "apple\nbanana\ncherry\nmango\n")
    term = terminal("fruit", "--smartmodule", "grep", "-e", "key=an", "--modules-dir", str(ws.modules))
    # The panel's controls come just after the first frame of rows.
    screen = term.wait_for(lambda s: "1 banana" in s and "3 mango" in s and "2 passed" in s and "key (required)" in s)
    assert "the text a record must contain" in screen
    assert "0 apple" not in screen
    term.keys("Tab")
    time.sleep(0.3)
    term.keys("BSpace", "BSpace", "BSpace")  # no key: init refuses, the last good value keeps running
    screen = term.wait_for(lambda s: "Missing param key" in s)
    assert "1 banana" in screen and "0 apple" not in screen
    term.keys("e")  # key=e: init takes it, and the rows are mapped again
    screen = term.wait_for(lambda s: "0 apple" in s and "2 cherry" in s)
    assert "1 banana" not in screen


def test_a_smartmodule_rebuilt_as_another_kind_shows_its_new_kind(ws: Workspace, terminal) -> None:
    """A rebuild that exports another transform (aggregate -> map) leaves no stale "(aggregate)" in the panel."""
    wasm = Path(__file__).resolve().parent / "wasm"
    target = ws.modules / "sum.wasm"
    shutil.copy(wasm / "aggregate_sum.wasm", target)
    ws.topic("numbers", "1\n2\n")
    term = terminal("numbers", "--map", str(target))
    screen = term.wait_for(lambda s: "1 3" in s)
    assert "(aggregate)" in screen
    shutil.copy(wasm / "map_upper.wasm", target)
    screen = term.wait_for(lambda s: "1 [2] 2" in s and "(aggregate" not in s, timeout=8)
    assert "Fluvio SmartModule (map" in screen


def test_a_smartmodule_with_look_back_shows_the_state_of_one_pass_from_the_start(ws: Workspace, terminal) -> None:
    """Its state lives in its memory, which checkpoints do not hold: rows past a checkpoint (every 1,024
    records) and rows gone to with `g` still count every record before them, as `--print` does."""
    wasm = Path(__file__).resolve().parent / "wasm"
    ws.topic("numbers", "".join(f"{n}\n" for n in range(1, 2501)))
    term = terminal("numbers", "--map", str(wasm / "look_back_count.wasm"))
    term.wait_for(lambda s: "2499 2500 2500" in s and "checking" not in s, timeout=30)
    term.keys("g")
    time.sleep(0.3)
    term.keys("1500", "Enter")
    screen = term.wait_for(lambda s: re.search(r"^ *1500 \d+ 1501", s, re.M) is not None, timeout=15)
    assert re.search(r"^ *1500 1501 1501", screen, re.M)


def test_a_smartmodule_with_look_back_resumes_from_a_checkpoint_far_into_a_long_topic(ws: Workspace, terminal) -> None:
    """Checkpoints hold a copy of the module's memory: a row gone to with `g` far from the start is
    mapped from the checkpoint before it, and shows what `--print` prints for that offset."""
    wasm = Path(__file__).resolve().parent / "wasm"
    module = str(wasm / "look_back_count.wasm")
    ws.topic("numbers", "".join(f"{n}\n" for n in range(20000)))
    expected = ws.run("numbers", "--map", module, "--print").out.splitlines()[17300]
    assert expected == "17301 17300"
    term = terminal("numbers", "--map", module)
    term.wait_for(lambda s: "19999" in s and "checking" not in s, timeout=60)
    term.keys("g")
    time.sleep(0.3)
    term.keys("17300", "Enter")
    screen = term.wait_for(lambda s: re.search(r"^ *17300 \d+ 17300", s, re.M) is not None, timeout=15)
    assert re.search(rf"^ *17300 {expected} ", screen, re.M)
