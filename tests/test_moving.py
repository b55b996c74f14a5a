"""Moving around as in less and lnav: to an offset (`g`, `:`), to the next and previous error row (`e`, `E`)."""

from __future__ import annotations

import json
from pathlib import Path

from test_viewer import EVENT, run, wait_for
from viewer_support import make_app, screen_text, settle

BROKEN = {7, 30, 31, 88}


def topic_with_errors(folder: Path, count: int = 120) -> Path:
    """User events, with lines that are not JSON (user_events fails on them) at the BROKEN offsets."""
    path = folder / "events.jsonl"
    path.write_text("".join(f"broken {n}\n" if n in BROKEN else EVENT.format(n=n) for n in range(count)))
    return path


def cursor_offset(app) -> int:
    return app.mapped.offset_of(app.stream.cursor)


def test_g_and_colon_go_to_an_offset(tmp_path: Path) -> None:
    topic = topic_with_errors(tmp_path)

    async def scenario():
        app = make_app(topic)
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("g", "4", "2", "enter")
            await wait_for(pilot, lambda: cursor_offset(app) == 42)
            assert not app.stream.following  # jumping back pauses the follow, as any move up does
            assert app.stream.has_focus and not app.query_one("#goto").display
            top, height = int(app.stream.scroll_y), app.stream.size.height
            assert abs(42 - (top + height // 2)) <= 1  # brought to the middle of the screen, as less does
            await pilot.press("colon", "5", "enter")
            await wait_for(pilot, lambda: cursor_offset(app) == 5)
            await pilot.press("g", "9", "9", "9", "enter")  # past the end: the last row, and a notice
            await wait_for(pilot, lambda: cursor_offset(app) == 119)
            assert any("offset 999 is past the last row" in n.message for n in app._notifications)
            await pilot.press("g", "3", "escape")  # escape leaves the prompt without moving
            await pilot.pause()
            assert cursor_offset(app) == 119 and app.stream.has_focus

    run(scenario())


def test_g_on_a_filter_goes_to_the_next_row_that_passed(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    topic.write_text("".join(EVENT.format(n=n).replace('"login"', '"logout"' if n % 3 else '"login"')
                             for n in range(60)))

    async def scenario():
        app = make_app(topic, module="where", values={"equals": "login"})
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            await settle(pilot)
            await pilot.press("g", "2", "2", "enter")  # 22 is a logout: filtered out
            await wait_for(pilot, lambda: cursor_offset(app) == 24)
            assert any("offset 22 gives no row: showing offset 24" in n.message for n in app._notifications)

    run(scenario())


def test_e_and_shift_e_visit_error_rows_in_order_and_wrap(tmp_path: Path) -> None:
    topic = topic_with_errors(tmp_path)

    async def scenario():
        app = make_app(topic)
        async with app.run_test(size=(120, 30), notifications=True) as pilot:
            await settle(pilot)
            assert list(app._census.failed) == sorted(BROKEN)  # kept by the background pass
            seen = []
            for _ in range(5):
                await pilot.press("e")
                await pilot.pause()
                seen.append(cursor_offset(app))
            assert seen == [7, 30, 31, 88, 7]  # from the end it wraps to the first, and again after the last
            assert app.mapped.cached(app.stream.cursor, app.stream.cursor + 1)[0].failed
            await pilot.press("E", "E")  # before 7: wraps to the last, 88, then 31
            await pilot.pause()
            assert cursor_offset(app) == 31
            await pilot.press("g", "1", "enter", "E")  # before the first: wraps to the last
            await wait_for(pilot, lambda: cursor_offset(app) == 88)
            assert any("wrapped to the last error row" in n.message for n in app._notifications)

    run(scenario())


def test_e_finds_error_rows_of_a_filter(tmp_path: Path) -> None:
    topic = topic_with_errors(tmp_path)

    async def scenario():
        app = make_app(topic, module="where", values={"equals": "login"})
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "2", "0", "enter", "e")
            await wait_for(pilot, lambda: cursor_offset(app) == 30)
            await pilot.press("e")
            await wait_for(pilot, lambda: cursor_offset(app) == 31)

    run(scenario())


def long_rows(folder: Path, count: int = 30) -> Path:
    path = folder / "long.jsonl"
    path.write_text("".join(json.dumps({"n": n, "text": " ".join(f"w{n}-{k}" for k in range(40)), "end": "END"}) + "\n"
                            for n in range(count)))
    return path


def test_left_and_right_scroll_long_rows_keeping_the_offsets(tmp_path: Path) -> None:
    topic = long_rows(tmp_path)

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(100, 20)) as pilot:
            await settle(pilot)
            assert '"END"' not in screen_text(app)
            for _ in range(40):  # far right: it stops once the longest row's end is in view
                await pilot.press("right")
            await pilot.pause()
            lines = screen_text(app).splitlines()
            assert lines[-1].startswith("29 …") and '"end": "END"}' in lines[-1]
            assert app.stream.x_shift < len(json.dumps({"n": 29, "text": " ".join(f"w29-{k}" for k in range(40))}))
            for _ in range(40):
                await pilot.press("left")
            await pilot.pause()
            assert screen_text(app).splitlines()[-1].startswith('29 {"n": 29, "text": "w29-0 ')

    run(scenario())


def test_w_wraps_long_rows_onto_several_lines(tmp_path: Path) -> None:
    topic = long_rows(tmp_path)

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(100, 20)) as pilot:
            await settle(pilot)
            await pilot.press("w")
            await pilot.pause()
            lines = [line.rstrip() for line in screen_text(app).splitlines()]
            # Following: the last row is wholly on screen, its end on the last lines, continuations indented.
            assert any(line.endswith('"end": "END"}') and line.startswith("   ") for line in lines)
            assert '"END"}' in "".join(lines[-4:])
            starts = [line[:3] for line in lines if line[:3].strip()]
            assert starts[-1] == "29 "
            await pilot.press("g", "3", "enter")
            await pilot.pause()
            assert [line for line in screen_text(app).splitlines() if line.startswith("3 ") or line.startswith(" 3 ")]
            await pilot.press("down", "down", "down", "down", "down", "down")  # past the bottom: scrolls by rows
            await pilot.pause()
            lines = [line.rstrip() for line in screen_text(app).splitlines()]
            assert app.stream.cursor == 9 and not any(line.startswith(" 3 {") for line in lines)
            nine = next(k for k, line in enumerate(lines) if line.startswith(" 9 {"))
            assert lines[nine + 4].endswith('"END"}')  # the cursor's row is wholly on screen
            await pilot.press("w")  # back to one line a row
            await pilot.pause()
            assert all(line[:3].strip() for line in screen_text(app).splitlines()[:5])

    run(scenario())
