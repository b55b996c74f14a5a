"""Helpers for driving the viewer in tests: build it like the command line does, wait for it to settle."""

from __future__ import annotations

import time
from pathlib import Path

from smartview.cli import Selection
from smartview.core.modules import module as module_mod
from smartview.core.config import SHIPPED_MODULES_DIR
from smartview.core.sources.topic import Topic
from smartview.tui.app import SmartviewApp


def make_app(
    topic: Path,
    module: str | None = "user_events",
    values: dict[str, str] | None = None,
    watch: bool = False,
    modules_dirs: list[Path] | None = None,
    name: str | None = None,
    chain: list[tuple[str, dict[str, str]]] | None = None,
) -> SmartviewApp:
    """The app for a topic file with one module (and its values), or a `chain` of (module, values)."""
    dirs = modules_dirs or [SHIPPED_MODULES_DIR]
    wanted = chain if chain is not None else ([(module, dict(values or {}))] if module else [])
    stages = tuple((module_mod.load(module_mod.find(m, dirs)), v) for m, v in wanted)
    first, first_values = stages[0] if stages else (None, {})
    selection = Selection(Topic(name or topic.stem, topic), first, dict(first_values), dirs, stages)
    app = SmartviewApp(selection, watch=watch)
    app.animation_level = "none"
    return app


async def settle(pilot, timeout: float = 10) -> None:
    """Wait until the index is built, the whole-topic pass is done and the screen has been drawn."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while not (app._indexed.is_set() and app.status.records == app.index.count):
        assert time.monotonic() < deadline, "the index was not built in time"
        await pilot.pause(0.01)
    await pilot.pause()
    while app.checked < app.index.count or (app.mapped.one_to_one and app.module is not None and app._census is None):
        assert time.monotonic() < deadline, "the error pass did not finish in time"
        await pilot.pause(0.02)
    while app.stream._count != app.mapped.count:  # rows counted by a filter's pass, not yet taken in
        assert time.monotonic() < deadline, "the counted rows were not shown in time"
        await pilot.pause(0.02)
    await pilot.pause()


def screen_text(app: SmartviewApp) -> str:
    """What the stream shows, as plain text lines."""
    stream = app.stream
    return "\n".join(stream.render_line(y).text for y in range(stream.size.height))
