"""The first screen of a topic that is still being counted: its last rows at once, offsets once counted."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

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
            await pilot.press("enter")  # no detail view under an offset that is not known yet
            await pilot.pause()
            assert app.screen is app.screen_stack[0]
            index.update()
            counted.set()
            numbered = lambda: any(line.lstrip().startswith("2999 {") for line in screen_text(app).splitlines())  # noqa: E731
            await wait_for(pilot, numbered)
            rows = [line for line in screen_text(app).splitlines() if "{" in line]
            assert rows[-1].lstrip().startswith("2999 ") and '"timestamp":2999' in rows[-1]
            assert rows[-2].lstrip().startswith("2998 ") and '"timestamp":2998' in rows[-2]
            assert not any(row.lstrip().startswith("…") for row in rows)

    asyncio.run(scenario())
