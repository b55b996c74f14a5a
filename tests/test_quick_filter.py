"""The viewer's quick filter (`\\`) and find (`/`): one pattern syntax, driven with Textual's pilot on real files."""

from __future__ import annotations

import asyncio
import json
import shlex
import subprocess
import time
from pathlib import Path

from textual.widgets import Input

from conftest import smartview_command
from viewer_support import make_app, screen_text, settle

STATUSES = [200, 404, 500, 503]


def event(n: int) -> str:
    return json.dumps({"type": ["login", "logout", "view"][n % 3], "status": STATUSES[n % 4], "n": n,
                       "msg": "hello" if n % 7 == 0 else "x"}) + "\n"


def write_topic(path: Path, count: int) -> Path:
    path.write_text("".join(event(n) for n in range(count)))
    return path


def run(coro):
    return asyncio.run(coro)


async def wait_for(pilot, condition, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the viewer"
        await asyncio.sleep(0.02)


def status_text(app) -> str:
    return str(app.query_one("#status-text").render())


def notices(app) -> list[str]:
    return [notification.message for notification in app._notifications]


def shown_offsets(app) -> list[int]:
    """The offsets of the rows on screen (rows still being mapped have none yet)."""
    return [int(line.split()[0]) for line in screen_text(app).splitlines() if line.split()[:1] and line.split()[0].isdigit()]


async def quick_filter(pilot, text: str) -> None:
    await pilot.press("backslash")
    pilot.app.query_one("#quick", Input).value = text
    await pilot.press("enter")


def test_quick_filter_shows_only_matching_rows_counted_by_the_background_pass(tmp_path: Path) -> None:
    topic = write_topic(tmp_path / "app.jsonl", 400)

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(pilot)
            await quick_filter(pilot, ".status>=500")
            await settle(pilot)
            assert "200 of 400 match" in status_text(app)
            await wait_for(pilot, lambda: len(shown_offsets(app)) == app.stream.size.height)
            offsets = shown_offsets(app)
            assert all(STATUSES[n % 4] >= 500 for n in offsets)
            assert offsets[-1] == 399  # following: the newest matching rows
            # `c` copies a command that prints exactly these rows.
            command = app.headless_command()
            assert command == f"smartview app --grep '.status>=500' --print"
            printed = subprocess.run([*smartview_command(), str(topic), *shlex.split(command)[2:], "-F", "{{offset}}"],
                                     capture_output=True, text=True, check=True).stdout.split()
            assert [int(n) for n in printed][-len(offsets):] == offsets and len(printed) == 200
            # `!` excludes: the other half.
            await quick_filter(pilot, "!.status>=500")
            await settle(pilot)
            assert "200 of 400 match" in status_text(app)
            await wait_for(pilot, lambda: len(shown_offsets(app)) == app.stream.size.height)
            assert all(STATUSES[n % 4] < 500 for n in shown_offsets(app))
            assert app.headless_command() == "smartview app --grep-v '.status>=500' --print"

    run(scenario())


def test_clearing_the_quick_filter_brings_back_every_row_at_the_same_place(tmp_path: Path) -> None:
    topic = write_topic(tmp_path / "app.jsonl", 2000)

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(120, 24)) as pilot:
            await settle(pilot)
            await quick_filter(pilot, "/hello/")
            await settle(pilot)
            await pilot.press("home", *["down"] * 20)  # the 21st match: offset 140
            line = app.stream.cursor - int(app.stream.scroll_y)
            assert app.mapped.offset_of(app.stream.cursor) == 140
            await quick_filter(pilot, "")
            await settle(pilot)
            assert "match" not in status_text(app) and app.mapped.count == 2000
            assert app.stream.cursor == 140  # every row back, the cursor on the same record...
            assert app.stream.cursor - int(app.stream.scroll_y) == line  # ...on the same line of the screen
            # Filtering again from there keeps the record in place too.
            await quick_filter(pilot, ".type=login")
            await settle(pilot)
            assert app.mapped.offset_of(app.stream.cursor) == 141  # the first login at or after 140
            assert "667 of 2,000 match" in status_text(app)

    run(scenario())


def test_quick_filter_applies_after_parameter_changes_and_while_following(tmp_path: Path) -> None:
    topic = write_topic(tmp_path / "app.jsonl", 30)
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "tag.py").write_text(
        "from dataclasses import dataclass\nimport json\n\n@dataclass\nclass Params:\n    loud: bool = False\n\n"
        "def map(record, params):\n    event = json.loads(record.value)\n"
        "    event['type'] = event['type'].upper() if params.loud else event['type']\n    return event\n"
    )

    async def scenario():
        app = make_app(topic, module="tag", modules_dirs=[modules], watch=True)
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            await quick_filter(pilot, "/\"login\"/")
            await settle(pilot)
            assert "10 of 30 match" in status_text(app)
            await pilot.press("1")  # loud: the output now says LOGIN, and the case-sensitive regex misses it
            await settle(pilot)
            assert "0 of 30 match" in status_text(app)
            await wait_for(pilot, lambda: 'Read 30 records; no row matches \\/"login"/' in screen_text(app))
            await pilot.press("1")
            await settle(pilot)
            assert "10 of 30 match" in status_text(app)
            with open(topic, "a") as out:  # following: appended records are filtered as they come
                out.write("".join(event(n) for n in range(30, 60)))
            await wait_for(pilot, lambda: "20 of 60 match" in status_text(app))
            await wait_for(pilot, lambda: shown_offsets(app)[-1] == 57)
            assert all(n % 3 == 0 for n in shown_offsets(app))

    run(scenario())


def test_a_pattern_that_does_not_read_keeps_the_line_open(tmp_path: Path) -> None:
    topic = write_topic(tmp_path / "app.jsonl", 10)

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(120, 24), notifications=True) as pilot:
            await settle(pilot)
            await quick_filter(pilot, "/(unclosed/")
            await pilot.pause()
            line = app.query_one("#quick", Input)
            assert line.has_class("-shown") and line.value == "/(unclosed/"
            assert any("missing ), unterminated subpattern" in n.message for n in app._notifications)
            assert app.quick is None and app.mapped.count == 10
            await pilot.press("escape")
            assert not line.has_class("-shown")

    run(scenario())


def test_find_reads_regular_expressions_counts_matches_and_says_when_it_wraps(tmp_path: Path) -> None:
    topic = write_topic(tmp_path / "app.jsonl", 300)

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(160, 30), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("home", "slash", *"/\"n\": 2[0-9]{2},/", "enter")  # offsets 200-299
            await wait_for(pilot, lambda: app.stream.cursor == 200)
            await wait_for(pilot, lambda: "100 matches" in status_text(app) and "%" not in status_text(app))
            await pilot.press("N")  # backwards from the first: round to the last
            await wait_for(pilot, lambda: app.stream.cursor == 299)
            assert notices(app) == ["search wrapped to the bottom"]
            await pilot.press("n")
            await wait_for(pilot, lambda: app.stream.cursor == 200)
            assert notices(app) == ["search wrapped to the top"]
            await pilot.press("n")
            await wait_for(pilot, lambda: app.stream.cursor == 201)
            assert notices(app) == []
            # Not found, then a new search: the old message goes.
            await pilot.press("slash", *"nowhere", "enter")
            await wait_for(pilot, lambda: notices(app) == ["'nowhere' not found"])
            assert app.stream.cursor == 201 and "find nowhere: 0 matches" in status_text(app)
            await pilot.press("slash", *".type=view", "enter")
            await wait_for(pilot, lambda: app.stream.cursor == 203)
            assert notices(app) == []
            await wait_for(pilot, lambda: "100 matches" in status_text(app))

    run(scenario())


def test_find_highlights_every_match_on_screen(tmp_path: Path) -> None:
    topic = tmp_path / "app.jsonl"
    topic.write_text('{"a":"cat","b":"CAT"}\n{"a":"dog"}\n{"a":"Cat"}\n')

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(80, 10)) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"cat", "enter")
            await wait_for(pilot, lambda: "2 matches" in status_text(app))
            assert app.stream.cursor == 2  # found on the row the cursor was on (the last, following)
            match = app.stream.get_component_rich_style("stream--match")
            highlighted = [segment.text for segment in app.stream.render_line(0) if segment.style
                           and segment.style.bgcolor == match.bgcolor]
            assert highlighted == ["cat", "CAT"]  # every match, in any case
            assert not any(segment.style and segment.style.bgcolor == match.bgcolor
                           for segment in app.stream.render_line(1))
            # On the cursor's row too.
            assert [segment.text for segment in app.stream.render_line(2) if segment.style
                    and segment.style.bgcolor == match.bgcolor] == ["Cat"]

    run(scenario())


def test_snapshot_of_a_quick_filter_and_a_find(snap_compare, tmp_path: Path) -> None:
    """The rows the quick filter keeps, its count in the status bar, and find's matches marked."""
    topic = write_topic(tmp_path / "app.jsonl", 40)

    async def run_before(pilot) -> None:
        await settle(pilot)
        await quick_filter(pilot, "!.type=view")
        await settle(pilot)
        await pilot.press("slash", *"/hel+o/", "enter")
        await wait_for(pilot, lambda: "find /hel+o/: 4 matches" in status_text(pilot.app))
        await pilot.pause()

    assert snap_compare(make_app(topic, module="fields", values={"drop": "n"}), run_before=run_before,
                        terminal_size=(120, 30))


def test_quick_filter_and_find_in_a_real_terminal(ws, tmp_path: Path) -> None:
    """The `\\` key as a terminal sends it, the filter line, `--grep` opening the viewer, and `/` with a regex."""
    import shutil

    import pytest

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    from test_terminal import Terminal

    ws.topic("app", "".join(event(n) for n in range(60)))
    term = Terminal(ws, "app")
    try:
        term.wait_for(lambda s: '59 {"type": "view", "status": 503' in s)
        term.keys("\\")
        term.wait_for(lambda s: "show only rows matching" in s)
        term.keys(".type=view", "Enter")
        screen = term.wait_for(lambda s: "20 of 60 match" in s and "… mapping" not in s and "2 {" in s)
        rows = [line for line in screen.splitlines() if line.strip()[:1].isdigit()]
        assert rows and all('"type": "view"' in row for row in rows)
        term.resize(160, 30)  # room in the status bar for find's count after the filter's
        term.keys("/")
        term.wait_for(lambda s: "find in mapped output" in s)
        term.keys("/\"n\": 5[0-9]/", "Enter")
        term.wait_for(lambda s: "4 matches" in s)  # views among 50-59: 50, 53, 56, 59
        term.keys("\\")
        term.wait_for(lambda s: any("▊  .type=view" in line for line in s.splitlines()))  # the line holds the pattern
        term.keys("C-u", "Enter")  # an empty line: every row again
        term.wait_for(lambda s: "match " not in s and '58 {"type": "logout"' in s)
    finally:
        term.close()
    opened = Terminal(ws, "app", "--grep-v", "'.type=view'")
    try:
        opened.wait_for(lambda s: "40 of 60 match" in s)
    finally:
        opened.close()


def test_at_100_columns_the_rate_gives_way_before_the_topic_and_module_names(tmp_path: Path) -> None:
    """A quick filter's part of the state takes room: the sparkline goes, the names stay readable."""
    topic = write_topic(tmp_path / "app.jsonl", 40)

    async def scenario() -> None:
        app = make_app(topic, module="fields")
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            assert app.query_one("#status-spark").display
            await quick_filter(pilot, "!.type=view")
            await settle(pilot)
            await pilot.pause()
            text = status_text(app)
            assert text.split(" · ")[:2] == ["app", "fields"] and "27 of 40 match" in text
            assert not app.query_one("#status-spark").display
            await pilot.resize_terminal(160, 30)
            await pilot.pause(0.2)
            assert app.query_one("#status-spark").display  # room enough again: the rate comes back

    asyncio.run(scenario())
