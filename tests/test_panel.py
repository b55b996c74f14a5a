"""The parameter panel, the status bar, the empty stream and the `?` screen, driven with Textual's pilot."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

from textual import events
from textual.binding import Binding
from textual.widgets import Checkbox, Input, OptionList, Static

from conftest import REPO
from smartview.core.config import SHIPPED_MODULES_DIR
from smartview.tui.app import SmartviewApp
from smartview.tui.help import HelpScreen
from smartview.tui.panel import control_id
from smartview.tui.stream import StreamView
from viewer_support import make_app, screen_text, settle

SAMPLE = REPO / "sample-topics" / "user-events.jsonl"

# A filter whose init takes its time: every change applied holds the screen for a moment, as a busy
# machine does, while keys keep arriving.
SLOW_WHERE = '''"""Keep the events of one type, slowly."""
import json
import time
from dataclasses import dataclass

@dataclass
class Params:
    field: str = "type"
    equals: str = "login"

def init(params):
    time.sleep(0.15)

def filter(record, params):
    return json.loads(record.value).get(params.field) == params.equals
'''

# Five documented parameters: more than the panel shows at 80x24.
DOCUMENTED = '''"""Five parameters, each documented."""
from dataclasses import dataclass, field

@dataclass
class Params:
    prefix: str = field(default="", metadata={"doc": "text put before each value"})
    times: int = field(default=1, metadata={"doc": "how many copies to write"})
    upper: bool = field(default=False, metadata={"doc": "write it in capitals"})
    lower: bool = False
    suffix: str = field(default="!", metadata={"doc": "text put after each value"})

def map(record, params):
    return record.value
'''


def run(coro):
    return asyncio.run(coro)


async def wait_for(pilot, condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the viewer"
        await asyncio.sleep(0.02)


def events_topic(tmp_path: Path, types: list[str]) -> Path:
    topic = tmp_path / "events.jsonl"
    topic.write_text("".join(f'{{"type":"{kind}","account_id":"{n}","timestamp":{n},"user_client":"x"}}\n'
                             for n, kind in enumerate(types)))
    return topic


def module_dir(tmp_path: Path, **sources: str) -> Path:
    folder = tmp_path / "mods"
    folder.mkdir(exist_ok=True)
    for name, source in sources.items():
        (folder / f"{name}.py").write_text(source)
    return folder


def plain(widget: Static) -> str:
    return str(widget.render())


def status_text(app: SmartviewApp) -> str:
    return plain(app.query_one("#status-text", Static))


# -- the parameter panel ----------------------------------------------------------------------------


def test_typing_faster_than_the_remap_keeps_every_key_in_place(tmp_path: Path) -> None:
    topic = events_topic(tmp_path, ["login", "logout", "login", "logout", "logout", "home_page"])
    mods = module_dir(tmp_path, slow_where=SLOW_WHERE)

    async def scenario():
        app = make_app(topic, module="slow_where", modules_dirs=[mods])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            box = app.query_one("#" + control_id(0, "equals"), Input)
            box.focus()
            box.action_end()
            await pilot.press(*["backspace"] * 5)
            await wait_for(pilot, lambda: app.values.get("equals") == "")
            for char in "logout":  # each key lands while the change of the one before is being applied
                app._driver.send_message(events.Key(char, char))
                await asyncio.sleep(0)
            await wait_for(pilot, lambda: app.values.get("equals") == "logout")
            await settle(pilot)
            assert box.value == "logout"
            assert app.status.passed == 3
            assert "3 passed" in status_text(app)

    run(scenario())


def test_escape_leaves_a_box_and_the_number_keys_toggle_again(tmp_path: Path) -> None:
    mods = module_dir(tmp_path, documented=DOCUMENTED)

    async def scenario():
        app = make_app(SAMPLE, module="documented", modules_dirs=[mods])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            box = app.query_one("#" + control_id(0, "times"), Input)
            box.focus()
            box.action_end()
            await pilot.press("backspace", "4", "escape", "2")
            await wait_for(pilot, lambda: app.values.get("lower") == "true")
            assert box.value == "4" and app.values["times"] == "4"
            assert app.focused is app.stream
            assert app.query_one("#" + control_id(0, "lower"), Checkbox).value is True

    run(scenario())


def test_a_checkbox_shows_its_state_in_the_glyph_not_only_its_colour() -> None:
    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            checkbox = app.query_one("#" + control_id(0, "show_account_id"), Checkbox)
            assert str(checkbox.render()).startswith("▐X▌")
            await pilot.press("1")
            await wait_for(pilot, lambda: app.values.get("show_account_id") == "false")
            await pilot.pause()
            assert str(checkbox.render()).startswith("▐ ▌")

    run(scenario())


def test_parameter_docs_are_shown_under_their_controls(tmp_path: Path) -> None:
    mods = module_dir(tmp_path, documented=DOCUMENTED)

    async def scenario():
        app = make_app(SAMPLE, module="documented", modules_dirs=[mods])
        async with app.run_test(size=(120, 60)) as pilot:
            await settle(pilot)
            docs = [plain(doc) for doc in app.panel.query(".param-doc").results(Static)]
            assert docs == ["text put before each value", "how many copies to write", "write it in capitals",
                            "text put after each value"]
            # Each doc comes right after its own control.
            order = [widget.id or plain(widget) for widget in app.panel.children if widget.id or
                     widget.has_class("param-doc")]
            assert order.index("how many copies to write") == order.index(control_id(0, "times")) + 1

    run(scenario())


def test_the_panel_says_when_parameters_are_hidden_below(tmp_path: Path) -> None:
    mods = module_dir(tmp_path, documented=DOCUMENTED)

    async def scenario():
        app = make_app(SAMPLE, module="documented", modules_dirs=[mods])
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            hint = app.panel.query_one("#panel-more")
            assert hint.display and "more below" in plain(hint)
            app.panel.scroll_end(animate=False)
            await wait_for(pilot, lambda: not hint.display)
        async with make_app(SAMPLE, module="documented", modules_dirs=[mods]).run_test(size=(120, 60)) as pilot:
            await settle(pilot)
            assert not pilot.app.panel.query_one("#panel-more").display  # everything fits: no hint

    run(scenario())


def test_the_picker_lists_a_module_given_by_path_so_one_can_come_back_to_it(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shapes = elsewhere / "shapes.py"
    shapes.write_text('"""Shapes, from a folder of its own."""\n\ndef map(record):\n    return record.value\n')

    async def scenario():
        app = make_app(SAMPLE, module=str(shapes), modules_dirs=[SHIPPED_MODULES_DIR])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("m")
            options = app.screen.query_one(OptionList)
            ids = [options.get_option_at_index(n).id for n in range(options.option_count)]
            options.highlighted = ids.index(str(SHIPPED_MODULES_DIR / "user_events.py"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.module.name == "user_events")
            await pilot.press("m")
            options = app.screen.query_one(OptionList)
            ids = [options.get_option_at_index(n).id for n in range(options.option_count)]
            assert str(shapes) in ids
            shown = str(options.get_option_at_index(ids.index(str(shapes))).prompt)
            assert "shapes" in shown and "Shapes, from a folder of its own." in shown and str(shapes) in shown
            options.highlighted = ids.index(str(shapes))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.module.path == shapes)

    run(scenario())


# -- status and empty states ------------------------------------------------------------------------

LONG_NAME = "/srv/archive/exports/customer-facing/2026/november/week-47/user-events-of-the-whole-week.jsonl"


def test_a_long_topic_path_gives_way_to_the_state_at_80_columns() -> None:
    async def scenario():
        app = make_app(SAMPLE, name=LONG_NAME)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            text = status_text(app)
            assert text.endswith("user_events · 5 records · 0 errors · following"), text
            assert text.startswith("/srv/") and "…" in text and ".jsonl" in text
            await pilot.press("up")
            await wait_for(pilot, lambda: status_text(app).endswith("· paused"))
            await pilot.resize_terminal(200, 24)
            await wait_for(pilot, lambda: status_text(app).startswith(LONG_NAME))  # room again: all of it

    run(scenario())


def test_switching_from_an_array_map_back_to_a_map_clears_its_rows_and_new_count(tmp_path: Path) -> None:
    topic = tmp_path / "orders.jsonl"
    topic.write_text("".join(f'{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"x",'
                             f'"items":[1,2,3]}}\n' for n in range(5)))

    async def scenario():
        app = make_app(topic, module="explode")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert "15 rows" in status_text(app)
            await pilot.press("up")  # paused
            await pilot.press("m")
            options = app.screen.query_one(OptionList)
            ids = [options.get_option_at_index(n).id for n in range(options.option_count)]
            options.highlighted = ids.index(str(SHIPPED_MODULES_DIR / "user_events.py"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.module.name == "user_events")
            await settle(pilot)
            text = status_text(app)
            assert "rows" not in text and "new" not in text, text
            assert text.endswith("5 records · 0 errors · paused")
            await pilot.press("m")
            options = app.screen.query_one(OptionList)
            options.highlighted = ids.index(str(SHIPPED_MODULES_DIR / "explode.py"))
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.module.name == "explode")
            await settle(pilot)
            assert status_text(app).endswith("15 rows · 0 errors · paused")  # counted again, none of them new

    run(scenario())


def test_a_filter_that_passes_nothing_says_how_many_records_were_read(tmp_path: Path) -> None:
    topic = events_topic(tmp_path, ["login"] * 7)

    async def scenario():
        app = make_app(topic, module="where", values={"equals": "nothing"})
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert "Read 7 records; none passed the filter (where)" in screen_text(app)
            assert "Waiting" not in screen_text(app)
        empty = tmp_path / "empty.jsonl"
        empty.write_text("")
        async with make_app(empty, module="where").run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert "Waiting for records in empty…" in screen_text(pilot.app)

    run(scenario())


# -- the keys ---------------------------------------------------------------------------------------


def help_text(app: SmartviewApp) -> str:
    return "\n".join(plain(widget) for widget in app.screen.query(Static).results(Static))


def test_question_mark_lists_every_key_of_the_viewer() -> None:
    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(100, 40)) as pilot:
            await settle(pilot)
            await pilot.press("question_mark")
            assert isinstance(app.screen, HelpScreen)
            text = help_text(app)
            for binding in [*SmartviewApp.BINDINGS, *StreamView.BINDINGS]:
                assert re.sub(r"\d", "N", binding.description) in text, binding
                for single in Binding.make_bindings([binding]):
                    shown = app.get_key_display(single)
                    assert ("1-9" if shown.isdigit() else shown) in text
            for line in ("1-9  Toggle checkbox N of the panel", "esc  Back to the stream", "ctrl+p", "The detail view",
                         "The go-to bar (g or :)"):
                assert line in text
            titles = [plain(label) for label in app.screen.query(".help-title")]
            assert not [t for t in titles if re.fullmatch(r"[A-Z][A-Za-z]+", t) and t != "Textual"], titles  # no class name
            await pilot.press("escape")
            assert not isinstance(app.screen, HelpScreen)

    run(scenario())


class ViewerWithAnotherKey(SmartviewApp):
    """The viewer as it would be with a key someone added: the help lists it, the footer does not."""

    BINDINGS = [Binding("z", "zap", "Zap every row", show=False)]


def test_a_key_added_to_the_viewer_is_listed_by_question_mark_and_kept_out_of_the_footer() -> None:
    async def scenario():
        app = ViewerWithAnotherKey(make_app(SAMPLE).selection, watch=False)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            footer = " ".join(str(key.render()) for key in app.query("FooterKey"))
            assert "Zap" not in footer and "Copy cmd" in footer and "Keys" in footer
            await pilot.press("question_mark")
            assert re.search(r"^z +Zap every row$", help_text(app), re.MULTILINE)

    run(scenario())


def test_a_parameter_doc_is_shown_literally_never_as_markup_or_control_sequences(tmp_path: Path) -> None:
    doc = "[b]bold[/b] [/var/log] \x1b]52;c;aGFja2Vk\x07 end"
    mods = module_dir(tmp_path, hostile=(
        "from dataclasses import dataclass, field\n\n@dataclass\nclass Params:\n"
        f"    tag: str = field(default='', metadata={{'doc': {doc!r}}})\n\ndef map(record, params):\n    return record.value\n"))

    async def scenario():
        app = make_app(SAMPLE, module="hostile", modules_dirs=[mods])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            shown = plain(app.panel.query_one(".param-doc", Static))
            assert shown == "[b]bold[/b] [/var/log] \\x1b]52;c;aGFja2Vk\\x07 end"

    run(scenario())
