"""The bar chart of an aggregate's output (`b`): live while the pass counts and as records arrive."""

from __future__ import annotations

import asyncio
from pathlib import Path

from smartview.core.config import SHIPPED_MODULES_DIR
from smartview.tui.chart import BarChart, bar, numbers_of
from test_viewer import append, run, wait_for
from test_viewer_kinds import events
from viewer_support import make_app, settle


def chart_lines(app) -> list[str]:
    chart = app.query_one(BarChart)
    return [line.rstrip() for line in str(chart.query_one("#chart-bars").render()).splitlines()]


def bars(app) -> dict[str, tuple[int, str]]:
    """Each key's bar length (cells) and number, as drawn."""
    shown = {}
    for line in chart_lines(app):
        key, rest = line.split(" ", 1)
        drawn = rest.strip(" ").rsplit(" ", 1)
        shown[key] = (len(drawn[0].strip()) if len(drawn) == 2 else 0, drawn[-1])
    return shown


def test_bars_are_proportional_and_only_objects_of_numbers_are_charted() -> None:
    assert bar(10, 10, 20) == "█" * 20 and bar(5, 10, 20) == "█" * 10 and bar(1, 16, 2) == "▏"
    assert numbers_of(b'{"a":1,"b":2.5}') == {"a": 1, "b": 2.5}
    assert numbers_of(b'{"a":true}') is None and numbers_of(b"[1,2]") is None and numbers_of(b"{}") is None


def test_b_charts_the_newest_counts_follows_appends_and_restarts_on_a_new_parameter(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(40))  # types cycle through login, logout, home_page, play_demo: 10 each

    async def scenario():
        app = make_app(topic, module="count_by", watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("b")
            await wait_for(pilot, lambda: len(chart_lines(app)) == 4)
            assert not app.stream.display
            shown = bars(app)
            assert {key: number for key, (_, number) in shown.items()} == {
                "login": "10", "logout": "10", "home_page": "10", "play_demo": "10"}
            append(topic, events(48)[len(events(40)):].replace("logout", "login").replace("home_page", "login")
                   .replace("play_demo", "login"))  # 8 more logins
            await wait_for(pilot, lambda: bars(app).get("login", (0, ""))[1] == "18")
            shown = bars(app)
            assert chart_lines(app)[0].startswith("login")  # largest first
            assert shown["login"][0] > shown["logout"][0] == shown["home_page"][0]
            assert "after offset 47" in str(app.query_one("#chart-title").render())
            app.query_one("#param-0-field").value = "user_client"  # every event says safari
            await wait_for(pilot, lambda: list(bars(app)) == ["safari"])
            assert bars(app)["safari"][1] == "48"
            await pilot.press("b")
            await pilot.pause()
            assert app.stream.display and not app.query_one(BarChart).display

    run(scenario())


def test_b_is_for_aggregates_only(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(8))

    async def scenario():
        app = make_app(topic, module="user_events")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("b")
            await pilot.pause()
            assert app.stream.display and not app.query_one(BarChart).display

    run(scenario())


def test_the_chart_title_shows_a_hostile_module_file_name_escaped(tmp_path: Path) -> None:
    """The title names the module: a file name holding controls or markup is shown escaped, never acted on."""
    from hostile import shown, unsafe_in

    name = "agg\x1b]0;pwned\x07\x9b2J[b]\u202e"
    module = tmp_path / f"{name}.py"
    module.write_text((SHIPPED_MODULES_DIR / "count_by.py").read_text())
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(8))

    async def scenario():
        app = make_app(topic, module=str(module), modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("b")
            await wait_for(pilot, lambda: len(chart_lines(app)) == 4)
            title = str(app.query_one("#chart-title").render())
            assert title.startswith(shown(name)) and not unsafe_in(title)

    asyncio.run(scenario())
