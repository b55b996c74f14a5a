"""The parameter panel, status bar and `?` screen in a real terminal (tmux), keys sent as a person types them."""

from __future__ import annotations

import re
import time

from conftest import Workspace
from test_panel import DOCUMENTED, SLOW_WHERE
from test_terminal import Terminal, terminal  # noqa: F401  (the fixture)
from tmux_window import needs_tmux

pytestmark = needs_tmux

TYPES = ["login", "logout", "login", "logout", "logout", "home_page"]


def events(ws: Workspace) -> None:
    ws.topic("events", "".join(f'{{"type":"{kind}","account_id":"{n}","timestamp":{n},"user_client":"x"}}\n'
                               for n, kind in enumerate(TYPES)))


def press(term: Terminal, *keys: str) -> None:
    """Keys one at a time, as a person presses them: an escape followed at once by a key is read as alt+key."""
    for key in keys:
        term.keys(key)
        time.sleep(0.2)


def status_line(screen: str) -> str:
    lines = screen.rstrip("\n").splitlines()
    return lines[-2] if len(lines) > 1 else ""


def test_typing_into_a_box_of_a_slow_module_keeps_the_text_as_typed(ws: Workspace, terminal) -> None:
    events(ws)
    ws.module("slow_where", SLOW_WHERE)
    term = terminal("events", "--map", "slow_where", "--modules-dir", "mods")
    term.wait_for(lambda s: "2 passed" in s)
    press(term, "Tab", "Tab", "End", *["BSpace"] * 5)
    term.wait_for(lambda s: "0 passed" in status_line(s))
    for char in "logout":  # faster than the changes are applied: each holds the screen for 0.15 s
        term.keys(char)
        time.sleep(0.03)
    screen = term.wait_for(lambda s: "3 passed" in status_line(s) and "checking" not in s)
    assert re.search(r"▊ *logout *▎", screen), screen


def test_escape_leaves_a_box_and_number_keys_toggle_again(ws: Workspace, terminal) -> None:
    events(ws)
    ws.module("documented", DOCUMENTED)
    term = terminal("events", "--map", "documented", "--modules-dir", "mods")
    term.wait_for(lambda s: "how many copies to write" in s and "▐ ▌ 2 lower" in s)
    press(term, "Tab", "Tab", "End", "BSpace", "4", "Escape", "2")
    screen = term.wait_for(lambda s: "▐X▌ 2 lower" in s)
    assert re.search(r"▊ *4 *▎", screen) and "42" not in screen, screen


def test_at_80_columns_the_state_footer_and_help_all_show(ws: Workspace, terminal) -> None:
    folder = ws.root / "a folder with a long name for exports" / "of the customer facing" / "november"
    folder.mkdir(parents=True)
    topic = folder / "user-events-of-the-whole-week.jsonl"
    topic.write_text("".join(f'{{"type":"{kind}","account_id":"{n}","timestamp":{n},"user_client":"x"}}\n'
                             for n, kind in enumerate(TYPES)))
    term = terminal(f"'{topic}'", "--map", "user_events")
    term.resize(80, 24)
    screen = term.wait_for(lambda s: status_line(s).rstrip().endswith("0 errors · following"))
    status, footer = screen.rstrip("\n").splitlines()[-2:]
    assert "…" in status and ".jsonl · user_events · 6 records · 0 errors · following" in status
    assert "c Copy cmd" in footer and "? Keys" in footer
    term.keys("?")
    screen = term.wait_for(lambda s: "Anywhere in the viewer" in s)
    assert "Keys" in screen and "Copy cmd" in screen
    term.keys("Escape")
    term.wait_for(lambda s: "Anywhere in the viewer" not in s)
