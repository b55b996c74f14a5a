"""The viewer's behaviour, driven with Textual's pilot against real files."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from conftest import REPO
from viewer_support import make_app, screen_text, settle

SAMPLE = REPO / "sample-topics" / "user-events.jsonl"
EVENT = '{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"safari"}}\n'


def append(path: Path, text: str) -> None:
    with open(path, "a") as out:
        out.write(text)


def run(coro):
    return asyncio.run(coro)


async def wait_for(pilot, condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the viewer"
        await asyncio.sleep(0.02)  # the app runs meanwhile; the condition reads its state directly


def test_toggles_change_every_row_and_reset_restores() -> None:
    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert screen_text(app).count('"account_id"') == 5
            await pilot.press("1")
            assert '"account_id"' not in screen_text(app)
            assert screen_text(app).count('"user_client"') == 5
            await pilot.press("3")
            assert '"user_client"' not in screen_text(app)
            assert app.headless_command() == (
                "smartview user-events --map user_events -e show_account_id=false -e show_user_client=false --print"
            )
            await pilot.press("r")
            assert screen_text(app).count('"account_id"') == 5
            assert app.values == {}

    run(scenario())


def test_command_line_values_are_the_starting_values() -> None:
    async def scenario():
        app = make_app(SAMPLE, values={"show_timestamp": "no"})
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert '"timestamp"' not in screen_text(app)
            checkbox = app.query_one("#param-0-show_timestamp")
            assert checkbox.value is False and checkbox.has_class("-changed")

    run(scenario())


def test_space_on_focused_checkbox_toggles() -> None:
    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("tab", "space")  # the first control in the panel: show_account_id
            assert '"account_id"' not in screen_text(app)

    run(scenario())


KNOBS = '''
from dataclasses import dataclass

@dataclass
class Params:
    factor: int = 2

def map(record, params):
    return str(int(record.value) * params.factor)
'''


def test_invalid_input_is_marked_and_not_applied(tmp_path: Path) -> None:
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n2\n3\n")
    (tmp_path / "knobs.py").write_text(KNOBS)

    async def scenario():
        app = make_app(topic, module="knobs", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            field = app.query_one("#param-0-factor")
            field.value = "1x"
            await pilot.pause()
            assert field.has_class("-invalid")
            assert screen_text(app).split() == ["0", "2", "1", "4", "2", "6"]
            field.value = "10"
            await pilot.pause()
            assert not field.has_class("-invalid")
            assert screen_text(app).split() == ["0", "10", "1", "20", "2", "30"]

    run(scenario())


def test_appended_records_appear_and_scrolling_up_pauses(tmp_path: Path) -> None:
    topic = tmp_path / "live.jsonl"
    topic.write_text("".join(EVENT.format(n=n) for n in range(100)))

    async def scenario():
        app = make_app(topic, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            append(topic, EVENT.format(n=100))
            await wait_for(pilot, lambda: app.index.count == 101 and '"account_id":"100"' in screen_text(app))
            await pilot.press("pageup")
            assert not app.stream.following
            append(topic, EVENT.format(n=101) + EVENT.format(n=102))
            await wait_for(pilot, lambda: app.stream.new_while_paused == 2)
            assert '"account_id":"102"' not in screen_text(app)
            await pilot.press("f")
            assert app.stream.following
            assert '"account_id":"102"' in screen_text(app)

    run(scenario())


def test_truncation_and_replacement_start_again(tmp_path: Path) -> None:
    topic = tmp_path / "rolling.jsonl"
    topic.write_text("".join(EVENT.format(n=n) for n in range(50)))

    async def scenario():
        app = make_app(topic, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            topic.write_text(EVENT.format(n=7))  # truncated in place, then one record
            await wait_for(pilot, lambda: app.index.count == 1 and '"account_id":"7"' in screen_text(app))
            replacement = tmp_path / "rolling.new"
            replacement.write_text(EVENT.format(n=8) + EVENT.format(n=9))
            os.replace(replacement, topic)
            await wait_for(pilot, lambda: app.index.count == 2 and '"account_id":"9"' in screen_text(app))
            assert '"account_id":"7"' not in screen_text(app)

    run(scenario())


def test_module_edits_are_picked_up_and_broken_edits_keep_the_last_good(tmp_path: Path) -> None:
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n2\n")
    module = tmp_path / "knobs.py"
    module.write_text(KNOBS)

    async def scenario():
        app = make_app(topic, module="knobs", modules_dirs=[tmp_path], watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.pause(0.3)  # let the module watcher start
            module.write_text(KNOBS.replace("* params.factor", "* params.factor + 1"))
            await wait_for(pilot, lambda: screen_text(app).split() == ["0", "3", "1", "5"])
            module.write_text("def map(record, params)\n    return 1\n")
            banner = app.query_one("#banner")
            await wait_for(pilot, lambda: banner.has_class("-shown"))
            assert "knobs.py:1: syntax error" in str(banner.render())
            assert screen_text(app).split() == ["0", "3", "1", "5"]

    run(scenario())


def test_find_moves_to_the_next_match(tmp_path: Path) -> None:
    topic = tmp_path / "many.jsonl"
    topic.write_text("".join(EVENT.format(n=n) for n in range(500)))

    async def scenario():
        app = make_app(topic)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("home", "slash", *'"account_id":"42"', "enter")
            await wait_for(pilot, lambda: app.stream.cursor == 42)
            assert '"account_id":"42"' in screen_text(app)

    run(scenario())


@pytest.mark.parametrize("choice, expected", [(0, '"account_id":"1", "timestamp": 1640878631'), (4, None)])
def test_module_picker_switches_module(choice: int, expected: str | None) -> None:
    async def scenario():
        app = make_app(SAMPLE, module="user_events")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("1", "m")
            await pilot.pause()
            await pilot.press("home", *["down"] * choice, "enter")
            # A module is imported by a child first (trial.py): the switch comes a moment later.
            await wait_for(pilot, lambda: (app.module is None) if expected else (app.module.name == "fields"))
            await settle(pilot)
            if expected:
                assert app.module is None
                assert expected in screen_text(app)  # the raw record, spaces and all
            else:
                assert app.module.name == "fields"
                assert app.values == {}  # a newly chosen module starts from its defaults
                assert screen_text(app).count('"account_id"') == 5  # fields keeps every field by default

    run(scenario())


def test_module_picker_starts_on_the_current_module_and_enter_keeps_its_values() -> None:
    async def scenario():
        app = make_app(SAMPLE, module="user_events")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("1", "m")
            await pilot.pause()
            picker = app.screen.query_one("OptionList")
            assert picker.get_option_at_index(picker.highlighted).id.endswith("user_events.py")
            await pilot.press("enter")
            await settle(pilot)
            assert app.module.name == "user_events" and app.values == {"show_account_id": "false"}
            assert '"account_id"' not in screen_text(app)

    run(scenario())


ALL_KINDS = '''
import enum
from dataclasses import dataclass
from typing import Literal


class Case(enum.Enum):
    UPPER = "upper"
    LOWER = "lower"


@dataclass
class Params:
    shout: bool = False
    repeat: int = 1
    case: Case = Case.LOWER
    joiner: Literal["-", "+"] = "-"
    prefix: str = ""


def map(record, params):
    text = record.value.decode()
    text = text.upper() if params.case is Case.UPPER else text.lower()
    return params.prefix + params.joiner.join([text] * params.repeat) + ("!" if params.shout else "")
'''


def test_panel_has_a_control_for_every_kind_of_parameter(tmp_path: Path) -> None:
    topic = tmp_path / "words.jsonl"
    topic.write_text("Ab\n")
    (tmp_path / "kinds.py").write_text(ALL_KINDS)

    async def scenario():
        app = make_app(topic, module="kinds", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            from textual.widgets import Checkbox, Input, Select

            assert isinstance(app.query_one("#param-0-shout"), Checkbox)
            assert isinstance(app.query_one("#param-0-repeat"), Input)
            assert isinstance(app.query_one("#param-0-case"), Select)
            assert isinstance(app.query_one("#param-0-joiner"), Select)
            assert isinstance(app.query_one("#param-0-prefix"), Input)
            assert screen_text(app).split() == ["0", "ab"]
            app.query_one("#param-0-case", Select).value = app.query_one("#param-0-case", Select)._options[0][1]
            app.query_one("#param-0-repeat", Input).value = "2"
            app.query_one("#param-0-joiner", Select).value = "+"
            app.query_one("#param-0-prefix", Input).value = "> "
            await pilot.press("1")
            await pilot.pause()
            assert screen_text(app).split() == ["0", ">", "AB+AB!"]
            assert app.headless_command().endswith(
                "--map " + str(tmp_path / "kinds.py") + " -e shout=true -e repeat=2 -e case=UPPER -e joiner=+ -e 'prefix=> ' --print"
            )

    run(scenario())


def test_a_stuck_record_leaves_the_viewer_responsive(tmp_path: Path) -> None:
    topic = tmp_path / "six.jsonl"
    topic.write_text("".join(f"{n}\n" for n in range(6)))
    (tmp_path / "stuck.py").write_text(
        "import time\n\ndef map(record, params):\n    if record.offset == 2:\n        time.sleep(60)\n"
        "    return record.value\n"
    )

    async def scenario():
        app = make_app(topic, module="stuck", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: app._indexed.is_set() and app.stream._count == 6)
            await pilot.pause(0.3)
            lines = screen_text(app).splitlines()
            assert lines[0].split() == ["0", "0"] and lines[1].split() == ["1", "1"]
            assert "… mapping" in lines[2]
            await wait_for(pilot, lambda: "mapping offset 2" in app.status.busy)
            started = time.monotonic()
            await pilot.press("m")
            await pilot.pause()
            await pilot.press("home", "enter")  # the first choice: no module
            await wait_for(pilot, lambda: app.module is None and screen_text(app).split()[:12] == [
                "0", "0", "1", "1", "2", "2", "3", "3", "4", "4", "5", "5"])
            assert time.monotonic() - started < 5

    run(scenario())


def test_find_through_a_stuck_module_leaves_the_viewer_responsive(tmp_path: Path) -> None:
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("".join(f"{n}\n" for n in range(3000)))
    (tmp_path / "stuck.py").write_text(
        "import re\n\ndef map(record, params):\n    if record.offset == 5:\n"
        "        re.match(r'(a+)+$', 'a' * 40 + 'b')  # inside C code: no signal or thread gets in\n"
        "    return record.value\n"
    )

    async def scenario():
        app = make_app(topic, module="stuck", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: app._indexed.is_set() and app.stream._count == 3000)
            await pilot.press("slash", *"nowhere", "enter")  # searches on from the end, wraps, reaches 5
            await wait_for(pilot, lambda: app.mapped.busy_offset == 5)
            started = time.monotonic()
            await pilot.press("p")
            assert not app.panel.display
            await pilot.press("up")
            await wait_for(pilot, lambda: app.stream.cursor == 2998)
            assert time.monotonic() - started < 2

    run(scenario())


def test_an_unfinished_last_line_is_reported_then_shown_when_it_ends(tmp_path: Path) -> None:
    topic = tmp_path / "nonl.jsonl"
    topic.write_text("first\nsecond")

    async def scenario():
        app = make_app(topic, module=None, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            lines = screen_text(app).splitlines()
            assert lines[0].split() == ["0", "first"]
            assert lines[1].startswith("1 ⋯ 6 bytes without a newline yet")
            append(topic, "!\n")
            await wait_for(pilot, lambda: screen_text(app).splitlines()[1].split() == ["1", "second!"])

    run(scenario())


def test_module_code_cannot_freeze_or_end_the_viewer(tmp_path: Path) -> None:
    topic = tmp_path / "six.jsonl"
    topic.write_text("".join(f"{n}\n" for n in range(6)))
    (tmp_path / "hostile.py").write_text(
        "import os, re\n\ndef map(record, params):\n"
        "    if record.offset == 1:\n        os._exit(7)\n"
        "    if record.offset == 4:\n        re.match(r'(a+)+$', 'a' * 40 + 'b')  # holds the GIL for hours\n"
        "    return record.value\n"
    )

    async def scenario():
        app = make_app(topic, module="hostile", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: "mapping offset 4" in app.status.busy)
            lines = screen_text(app).splitlines()
            assert lines[0].split() == ["0", "0"]
            assert "map ended its process (exit status 7)" in lines[1]
            assert lines[2].split() == ["2", "2"] and lines[3].split() == ["3", "3"]
            assert "… mapping" in lines[4]
            await pilot.press("p")  # the viewer answers while the module is stuck in C code
            assert not app.panel.display

    run(scenario())


def test_the_error_count_follows_appended_records(tmp_path: Path) -> None:
    topic = tmp_path / "live.jsonl"
    topic.write_text(EVENT.format(n=1) + "broken\n")

    async def scenario():
        app = make_app(topic, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert app.failures == 1
            append(topic, "also broken\n" + EVENT.format(n=2) + "{}\n")
            await wait_for(pilot, lambda: app.index.count == 5 and app.checked == 5 and app.failures == 3)
            assert "3 errors" in str(app.query_one("#status-text").render())

    run(scenario())


def test_hiding_the_panel_or_resizing_keeps_the_newest_rows_in_view_at_the_new_width(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    line = '{"n":%d,"note":"' + "x" * 80 + '"}\n'  # wider than the rows beside the panel, not than 120 columns
    topic.write_text("".join(line % n for n in range(500)))

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            narrow = screen_text(app).splitlines()
            assert narrow[-1].startswith("499 ") and narrow[-1].endswith("…")  # cut at the panel
            await pilot.press("p")
            await pilot.pause()
            wide = screen_text(app).splitlines()
            assert wide[-1].strip() == "499 " + (line % 499).strip()  # the whole record now fits
            assert len(wide) == len(narrow) and len(wide[-1]) > len(narrow[-1])
            await pilot.resize_terminal(70, 12)
            await pilot.pause()
            small = screen_text(app).splitlines()
            assert small[-1].startswith("499 ") and all(len(line) <= 70 for line in small)
            assert app.stream.max_scroll_y == 500 - app.stream.scrollable_content_region.height
            await pilot.resize_terminal(120, 40)
            await pilot.pause()
            assert screen_text(app).splitlines()[-1].startswith("499 ")

    run(scenario())
