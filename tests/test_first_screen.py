"""The first screen of a topic that is still being counted: its last rows at once, offsets once counted."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest

from smartview.cli import Selection
from smartview.core.config import SHIPPED_MODULES_DIR
from smartview.core.modules import module as module_mod
from smartview.core.sources.index import LineIndex
from smartview.core.sources.topic import Topic
from smartview.tui.app import SmartviewApp
from viewer_support import screen_text

EVENT = '{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"safari"}}\n'


async def wait_for(pilot, condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the viewer"
        await asyncio.sleep(0.02)


def test_the_last_rows_show_before_the_count_finishes(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    path.write_text("".join(EVENT.format(n=n) for n in range(3000)))
    module = module_mod.load(module_mod.find("user_events", [SHIPPED_MODULES_DIR]))
    values = {"show_account_id": "false"}
    selection = Selection(Topic("big", path), module, values, [SHIPPED_MODULES_DIR], ((module, values),))
    index = LineIndex(path)
    counted = threading.Event()  # the count has not arrived: nothing of the file is indexed yet

    async def scenario():
        app = SmartviewApp(selection, watch=False, index=(index, counted))
        app.animation_level = "none"
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: '"timestamp":2999' in screen_text(app))
            early = screen_text(app)
            assert index.count == 0
            assert '"account_id"' not in early  # mapped rows, not the raw records
            last = [line for line in early.splitlines() if '"timestamp":2999' in line][0]
            assert last.lstrip().startswith("…") and "2999 " not in last.split("{")[0]
            assert "big · user_events · counting records · " in status(app)  # not "0 records"
            rows = await count_released(pilot, app, index, counted, 2999, "{")
            assert rows[-1].lstrip().startswith("2999 ") and '"timestamp":2999' in rows[-1]
            assert rows[-2].lstrip().startswith("2998 ") and '"timestamp":2998' in rows[-2]
            assert not any(row.lstrip().startswith("…") for row in rows)
            await wait_for(pilot, lambda: "big · user_events · 3,000 records · " in status(app))

    asyncio.run(scenario())


def status(app: SmartviewApp) -> str:
    return str(app.query_one("#status-text").render())


async def count_released(pilot, app: SmartviewApp, index: LineIndex, counted: threading.Event, last: int,
                         marker: str) -> list[str]:
    """Enter opens no detail under an offset not known yet; then the count is let through and row `last`
    shows with its offset. Returns the rows (lines holding `marker`) on screen then."""
    await pilot.press("enter")
    await pilot.pause()
    assert app.screen is app.screen_stack[0]
    index.update()
    counted.set()
    await wait_for(pilot, lambda: any(line.lstrip().startswith(f"{last} {{") for line in screen_text(app).splitlines()))
    return [line for line in screen_text(app).splitlines() if marker in line]


MIXED = '{{"type":"{kind}","account_id":"{n}","timestamp":{n},"user_client":"safari"}}\n'


def mixed_topic(tmp_path: Path, records: int = 6000) -> Path:
    """Every third record a login; the others a play_demo, which a filter on login drops."""
    path = tmp_path / "mixed.jsonl"
    kinds = ["login", "play_demo", "play_demo"]
    path.write_text("".join(MIXED.format(kind=kinds[n % 3], n=n) for n in range(records)))
    return path


async def filtered_rows_before_and_after_the_count(app: SmartviewApp, index: LineIndex,
                                                   counted: threading.Event) -> None:
    """The last matching rows show, offsets not known, while the count is held back; then with offsets."""
    async with app.run_test(size=(120, 30)) as pilot:
        # The last record (5999) is a play_demo; the last login is 5997.
        await wait_for(pilot, lambda: '"timestamp":5997' in screen_text(app))
        early = screen_text(app)
        assert index.count == 0  # nothing of the file is indexed yet
        rows = [line for line in early.splitlines() if '{"type"' in line]
        assert len(rows) > 10 and all('"type":"login"' in row for row in rows)
        assert all(row.lstrip().startswith("…") for row in rows)
        assert '"timestamp":5997' in rows[-1] and '"timestamp":5994' in rows[-2]
        # The pass's rows, with their record offsets, take the preview's place: all of them once it ends.
        rows = await count_released(pilot, app, index, counted, 5997, '{"type"')
        assert rows[-1].lstrip().startswith("5997 ") and rows[-2].lstrip().startswith("5994 ")
        assert not any(row.lstrip().startswith("…") for row in rows)
        assert app.mapped.count == 2000


def test_a_filters_last_matching_rows_show_before_the_count(tmp_path: Path) -> None:
    path = mixed_topic(tmp_path)
    module = module_mod.load(module_mod.find("where", [SHIPPED_MODULES_DIR]))
    values = {"equals": "login"}
    selection = Selection(Topic("mixed", path), module, values, [SHIPPED_MODULES_DIR], ((module, values),))
    index = LineIndex(path)
    counted = threading.Event()
    app = SmartviewApp(selection, watch=False, index=(index, counted))
    app.animation_level = "none"
    asyncio.run(filtered_rows_before_and_after_the_count(app, index, counted))


def test_the_quick_filters_last_matching_rows_show_before_the_count(tmp_path: Path) -> None:
    path = mixed_topic(tmp_path)
    selection = Selection(Topic("mixed", path), None, {}, [SHIPPED_MODULES_DIR], patterns=(".type=login",))
    index = LineIndex(path)
    counted = threading.Event()
    app = SmartviewApp(selection, watch=False, index=(index, counted))
    app.animation_level = "none"
    asyncio.run(filtered_rows_before_and_after_the_count(app, index, counted))


def running_totals(row: str, chain: bool) -> tuple[int, dict[str, int]]:
    """(offset, totals) of an aggregate's row; and the totals count_by gives after that record of a mixed topic."""
    offset, value = row.split(" ", 1)
    logins = int(offset) // 3 + 1
    expected = {"login": logins} if chain else {"login": logins, "play_demo": int(offset) + 1 - logins}
    return int(offset), (json.loads(value), expected)


@pytest.mark.parametrize("chain", [False, True], ids=["count_by", "where-then-count_by"])
def test_an_aggregate_shows_its_running_totals_with_offsets_before_the_count(tmp_path: Path, chain: bool) -> None:
    """An aggregate's rows need every record before: they come from offset 0, where records are read
    without the count, and show with their offsets while it runs, never as the file's end's wrong totals."""
    path = mixed_topic(tmp_path, 30_000)
    count_by = module_mod.load(module_mod.find("count_by", [SHIPPED_MODULES_DIR]))
    stages = ((count_by, {}),)
    if chain:
        where = module_mod.load(module_mod.find("where", [SHIPPED_MODULES_DIR]))
        stages = ((where, {"equals": "login"}), *stages)
    selection = Selection(Topic("mixed", path), stages[0][0], stages[0][1], [SHIPPED_MODULES_DIR], stages)
    index = LineIndex(path)
    counted = threading.Event()  # the count has not arrived: nothing of the file is indexed yet

    def rows() -> list[str]:
        return [line.strip() for line in screen_text(app).splitlines() if "{" in line]

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_for(pilot, lambda: len(rows()) >= 20)
            early = rows()
            assert index.count == 0 and app.status.records == 0
            assert not any(row.startswith("…") for row in early)
            for row in early:
                _, (shown, expected) = running_totals(row, chain)
                assert shown == expected, row
            offsets = [running_totals(row, chain)[0] for row in early]
            assert offsets == sorted(offsets) and offsets[-1] < 30_000 - 1
            await pilot.press("enter")  # the offset is known: the record behind the row opens
            await pilot.pause()
            assert app.screen is not app.screen_stack[0]
            await pilot.press("escape", "pageup")  # paused, while the pass counts on
            await pilot.pause()
            paused = rows()
            index.update()
            counted.set()
            await wait_for(pilot, lambda: app.status.records == 30_000)
            await pilot.pause()
            assert rows() == paused  # the count moved nothing, and the rows counted meanwhile are not new records
            assert not app.stream.following and app.stream.new_while_paused == 0
            await pilot.press("end")
            last = "29997 " if chain else "29999 "  # the last login, or the last record
            await wait_for(pilot, lambda: rows() and rows()[-1].startswith(last))
            for row in rows():
                _, (shown, expected) = running_totals(row, chain)
                assert shown == expected, row

    app = SmartviewApp(selection, watch=False, index=(index, counted))
    app.animation_level = "none"
    asyncio.run(scenario())


SAMPLE = Path(__file__).resolve().parent.parent / "sample-topics" / "user-events.jsonl"


def test_keys_pressed_before_the_panel_is_filled_act_on_it() -> None:
    """The panel's controls come after the first frame: a number key pressed before then still toggles."""
    from textual.widgets import Checkbox

    from viewer_support import make_app, settle

    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(120, 30)) as pilot:
            assert not app.panel.query(Checkbox)  # the first frame is drawn without the controls
            await pilot.press("1")
            await settle(pilot)
            assert app.stages[0][1] == {"show_account_id": "false"}
            assert '"account_id"' not in screen_text(app)
            box = app.panel.query_one("#param-0-show_account_id", Checkbox)
            assert not box.value and box.has_class("-changed")
            await pilot.press("r")
            await settle(pilot)
            assert box.value and '"account_id"' in screen_text(app)

    asyncio.run(scenario())


def test_the_lines_opened_before_they_are_built_take_the_keys() -> None:
    """Find and go-to are built after the first frame; pressed sooner, they open and take what is typed."""
    from viewer_support import make_app, settle

    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(120, 30)) as pilot:
            assert not app.query("#find")  # not built for the first frame
            await pilot.press("slash", *"demo", "enter")
            await settle(pilot)
            assert app.find_text == "demo" and app.mapped.offset_of(app.stream.cursor) == 2
            await pilot.press("g", "0", "enter")
            await pilot.pause()
            assert app.mapped.offset_of(app.stream.cursor) == 0 and not app.query_one("#goto").display

    asyncio.run(scenario())


def test_the_footer_and_the_rate_come_after_the_first_frame_in_room_kept_for_them() -> None:
    """The first frame keeps the footer's row: when its keys arrive, no row of the stream moves."""
    from viewer_support import make_app, settle

    async def scenario():
        app = make_app(SAMPLE)
        async with app.run_test(size=(120, 30)) as pilot:
            assert not app.query("Footer") and not app.query("#status-spark")  # not in the first frame
            first = app.stream.region
            await settle(pilot)
            await pilot.pause(0.2)
            assert app.query("FooterKey") and app.query_one("#status-spark").display
            assert app.stream.region == first
            footer = " ".join(str(key.render()) for key in app.query("FooterKey"))
            assert "Quit" in footer and "Panel" in footer
            assert app.screen.get_widget_at(0, 29)[0].__class__.__name__ in ("FooterKey", "Footer")

    asyncio.run(scenario())
