"""Outside text in the viewer: every place that shows it survives the strings of tests/hostile.py and shows
them literally, and nothing unsafe is drawn. A pilot walks the places; tmux checks the real terminal."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from textual.widgets import Checkbox, Input, Select, Static

from conftest import Workspace
from hostile import ARG, HOSTILE, MODULE, TEXT, shown, unsafe_in
from smartview.tui.detail import DetailView
from test_terminal import Terminal
from tmux_window import needs_tmux
from viewer_support import make_app, settle


def drawn(app) -> str:
    """Everything the active screen draws (toasts included), as text."""
    strips = app.screen._compositor.render_strips()
    return "\n".join("".join(segment.text for segment in strip) for strip in strips)


def plain(widget) -> str:
    """A widget's own text, before it is cut to fit its width."""
    content = widget.render()
    return getattr(content, "plain", str(content))


def assert_safe_screen(app, *pieces: str) -> None:
    screen = drawn(app)
    assert not unsafe_in(screen), f"unsafe characters drawn: {unsafe_in(screen)!r}"
    flat = screen.replace("\n", "")
    for piece in pieces:
        assert piece in screen or piece in flat, f"{piece!r} is not on the screen:\n{screen}"


def assert_safe_detail(app, *pieces: str) -> None:
    """The detail view draws nothing unsafe, and each side (wrapped to its pane) holds the pieces."""
    assert_safe_screen(app)
    view = app.screen.query_one(DetailView)
    rows = [view.render_line(y).text.split(" │ ", 1) for y in range(view.size.height)]
    sides = ["".join(row[k].rstrip() for row in rows if len(row) == 2) for k in (0, 1)]
    for piece in pieces:
        assert any(piece in text for text in sides), f"{piece!r} is not in the detail view:\n{sides}"


async def wait_for(pilot, condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the viewer"
        await asyncio.sleep(0.02)


def hostile_topic(folder: Path) -> Path:
    topic = folder / "nasty.jsonl"
    topic.write_bytes((TEXT + "\n" + json.dumps({"m": TEXT}, ensure_ascii=False) + "\nfail\n").encode())
    (folder / "evil.py").write_text(MODULE)
    return topic


def test_every_place_in_the_viewer_shows_hostile_text_literally(tmp_path: Path) -> None:
    topic = hostile_topic(tmp_path)

    async def scenario():
        app = make_app(topic, module="evil", modules_dirs=[tmp_path], name=TEXT, values={"label": TEXT + "2"})
        async with app.run_test(size=(160, 40), notifications=True) as pilot:
            await settle(pilot)
            # The panel: docstring, parameter names (one in non-ASCII letters), default, choice, -e value.
            panel = app.panel
            assert plain(panel.query_one(".panel-summary", Static)) == shown(TEXT.splitlines()[0])
            assert "café" in plain(panel.query_one(Checkbox))
            label = [field for field in panel.query(Input)][0]
            assert label.value == shown(TEXT + "2")
            assert shown(TEXT) in [plain(s) for s in panel.query(".param-default")][1]
            prompts = [getattr(prompt, "plain", prompt) for prompt, _ in panel.query_one(Select)._options]
            assert prompts == ["plain", shown(TEXT)]
            # The status bar: the topic's name as given, its middle left out to leave room for the state.
            head, cut, rest = plain(app.query_one("#status-text", Static)).partition("…")
            tail = rest.split(" · ")[0]
            assert cut and len(head) > 10 and shown(TEXT).startswith(head) and shown(TEXT).endswith(tail)
            # The rows: raw, JSON and a failure with a hostile message.
            assert_safe_screen(app, "[/var/log]", "[a-z]+", "\\x1b]52;c;aGFja2Vk\\x07", "\\u202eevil")

            await pilot.press("home", "enter")  # the detail of the raw record
            await pilot.pause()
            assert_safe_detail(app, "\\x9b2J\\x9d0;pwned\\x9c", "\\u202eevil\\u202c")
            await pilot.press("escape", "down", "enter")  # the detail of the JSON record
            await pilot.pause()
            assert_safe_detail(app, "\\x9b2J\\x9d0;pwned\\x9c", "\\u202eevil\\u202c", "[/var/log]")
            await pilot.press("escape", "down", "enter")  # the detail of the failure
            await pilot.pause()
            assert_safe_detail(app, "ValueError", "[/var/log]", "\\u202eevil")
            await pilot.press("escape")

            # Find, not found: the notice quotes the string.
            await pilot.press("slash")
            app.query_one("#find", Input).value = TEXT + " nowhere"
            await pilot.press("enter")
            await wait_for(pilot, lambda: "not found" in drawn(app))
            assert_safe_screen(app, "[/var/log]", "\\x1b]52;c;aGFja2Vk")

            # The copied command (an -e value holding `[/]` and controls).
            app.clear_notifications()
            await pilot.press("c")
            await wait_for(pilot, lambda: "copied" in drawn(app))
            assert_safe_screen(app, "smartview '[/] [/var/log]", "\\x1b]52;c;aGFja2Vk")

            # The module picker lists the docstring.
            await pilot.press("m")
            await pilot.pause()
            assert_safe_screen(app, "evil", "[/var/log]", "\\x1b]52;c;aGFja2Vk")
            await pilot.press("escape")

            # A reload that fails on a syntax error whose line holds markup and controls.
            broken = tmp_path / "evil.py"
            broken.write_text(f"def map(record, params) # {ARG.replace(chr(13), '').replace(chr(0x2028), '')}\n")
            await app._reload(0, broken)
            await pilot.pause()
            banner = app.query_one("#banner", Static)
            assert banner.has_class("-shown")
            assert "[/var/log]" in plain(banner) and "\\x1b]52" in plain(banner)
            assert_safe_screen(app, "syntax error")
            assert app.is_running
        assert app.return_code in (None, 0)

    asyncio.run(scenario())


CHECKED = '''
from dataclasses import dataclass


@dataclass
class Params:
    strict: bool = False
    limit: int = 10

    def __post_init__(self):
        if self.limit > 100:
            raise ValueError("limit above 100")
        if self.strict and self.limit > 5:
            raise ValueError("strict allows at most 5")


def map(record, params):
    return f"{record.value.decode()} limit {params.limit}"
'''


def test_a_value_params_refuses_is_marked_invalid_and_the_last_good_kept(tmp_path: Path) -> None:
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n")
    (tmp_path / "checked.py").write_text(CHECKED)

    async def scenario():
        app = make_app(topic, module="checked", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            field = app.query_one("#param-0-limit", Input)
            field.value = "50"
            await wait_for(pilot, lambda: app.values == {"limit": "50"})
            field.value = "500"
            await pilot.pause()
            assert field.has_class("-invalid") and app.values == {"limit": "50"}
            await pilot.press("1")  # strict with limit 50: refused too
            await pilot.pause()
            assert app.query_one("#param-0-strict", Checkbox).has_class("-invalid")
            assert app.values == {"limit": "50"}
            await settle(pilot)
            assert "1 limit 50" in app.stream.render_line(0).text
            assert app.is_running

    asyncio.run(scenario())


def test_going_back_to_the_last_good_value_clears_the_invalid_mark(tmp_path: Path) -> None:
    """A refused value, then the value still applied typed back (or the checkbox toggled back): no longer red."""
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n")
    (tmp_path / "checked.py").write_text(CHECKED)

    async def scenario():
        app = make_app(topic, module="checked", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            field = app.query_one("#param-0-limit", Input)
            field.value = "50"
            await wait_for(pilot, lambda: app.values == {"limit": "50"})
            field.value = "500"
            await pilot.pause()
            assert field.has_class("-invalid")
            field.value = "50"  # the last good value, typed back
            await pilot.pause()
            assert not field.has_class("-invalid") and app.values == {"limit": "50"}
            await pilot.press("1")  # strict with limit 50: refused
            await pilot.pause()
            strict = app.query_one("#param-0-strict", Checkbox)
            assert strict.has_class("-invalid")
            await pilot.press("1")  # back to the value applied
            await pilot.pause()
            assert not strict.has_class("-invalid") and app.values == {"limit": "50"}

    asyncio.run(scenario())


def test_what_init_says_of_refused_values_is_shown_escaped(tmp_path: Path) -> None:
    """init's refusal is outside text: its message in the panel is escaped, never markup."""
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n")
    (tmp_path / "picky.py").write_text(
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Params:\n    limit: int = 10\n\n\n"
        f"def init(params):\n    if params.limit > 100:\n        raise ValueError({TEXT!r})\n\n\n"
        "def map(record, params):\n    return record.value\n"
    )

    async def scenario():
        app = make_app(topic, module="picky", modules_dirs=[tmp_path])
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            app.query_one("#param-0-limit", Input).value = "500"
            notice = app.query_one("#init-error-0", Static)
            await wait_for(pilot, lambda: notice.has_class("-shown"))
            assert "\\x1b]52;c;aGFja2Vk\\x07" in plain(notice) and "[/var/log]" in plain(notice)
            assert not unsafe_in(plain(notice).replace("\n", ""))
            assert_safe_screen(app)

    asyncio.run(scenario())


def test_a_filter_that_keeps_nothing_names_its_hostile_file_escaped(tmp_path: Path) -> None:
    """"Read N records; none passed the filter (NAME)": the module's name is a file name, shown escaped."""
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n2\n")
    name = "none\x1b]0;pwned\x07\x9b2J[b]\u202e"
    module = tmp_path / f"{name}.py"
    module.write_text("def filter(record, params):\n    return False\n")

    async def scenario():
        app = make_app(topic, module=str(module), modules_dirs=[tmp_path])
        async with app.run_test(size=(160, 40)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: "none passed the filter (" in app.stream.empty_message)
            assert shown(name) in app.stream.empty_message and not unsafe_in(app.stream.empty_message)
            assert_safe_screen(app)

    asyncio.run(scenario())


def test_a_parameter_named_in_non_ascii_letters_can_be_toggled(tmp_path: Path) -> None:
    topic = hostile_topic(tmp_path)
    (tmp_path / "accents.py").write_text(
        "from dataclasses import dataclass\n\n\n@dataclass\nclass Params:\n    café: bool = True\n    caf: bool = True\n\n\n"
        "def map(record, params):\n    return 'with' if params.café else 'without'\n"
    )

    async def scenario():
        app = make_app(topic, module="accents", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert "with" in app.stream.render_line(0).text
            await pilot.press("1")
            await wait_for(pilot, lambda: app.values == {"café": "false"})
            await settle(pilot)
            assert "without" in app.stream.render_line(0).text
            assert app.headless_command().endswith("-e 'café=false' --print")

    asyncio.run(scenario())


@needs_tmux
def test_osc_52_in_a_parameter_value_does_not_reach_the_clipboard_or_title(ws: Workspace) -> None:
    """In a real terminal (tmux set to accept OSC 52): a value from a transforms file is shown escaped in
    the panel's input, and neither the clipboard nor the title changes."""
    hostile_topic(ws.topics)
    ws.module("evil", MODULE)
    transforms = ws.root / "transforms.toml"
    value = HOSTILE[4] + HOSTILE[5] + "[/var/log]"  # short: all of it is in the input's view
    transforms.write_text(f'[[transforms]]\nuses = "evil"\nwith = {{ label = {json.dumps(value)} }}\n')
    term = Terminal(ws, "nasty", "--transforms", str(transforms), "--modules-dir", str(ws.modules))
    try:
        assert term.tmux("set-option", "-s", "set-clipboard", "on").returncode == 0
        # The value, escaped, in the panel's input.
        term.wait_for(lambda s: "▊  \\x1b]52;c;aGFja2Vk\\x07" in s and "3 records" in s)
        time.sleep(0.5)
        title = term.tmux("display-message", "-p", "-t", term.name, "#{pane_title}").stdout
        buffers = term.tmux("list-buffers").stdout
        assert "pwned" not in title
        assert "hacked" not in buffers and "aGFja2Vk" not in buffers
    finally:
        term.close()
