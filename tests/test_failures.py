"""Records a module fails on: one report line each, with the module's file and line, in offset order; the
viewer's detail view shows the traceback of the one failed record it opens (bench/ measures the cost)."""

from __future__ import annotations

from pathlib import Path

from conftest import Workspace
from smartview.tui.detail import DetailScreen
from test_viewer import run, wait_for
from viewer_support import make_app, settle

# Fails in a helper, two calls deep, on records whose value is not a number.
DEEP = '''
def check(value):
    return int(value)


def helper(value):
    return check(value) * 2


def map(record):
    return str(helper(record.value))
'''
CHECK_LINE = 3  # `return int(value)`: the deepest line of the module's own file


def test_each_failure_is_one_line_with_the_module_line_and_no_traceback(ws: Workspace) -> None:
    module = ws.module("deep", DEEP)
    ws.topic("numbers", "1\nx\n3\ny\n")
    result = ws.run("numbers", "--map", str(module), "--print")
    assert result.code == 1
    assert result.out.splitlines() == ["2", "6"]
    lines = result.err.splitlines()
    assert [line.split(" offset ")[1].split(":")[0] for line in lines] == ["1", "3"]
    for line in lines:
        assert f"map raised ValueError: invalid literal for int() with base 10: b'" in line
        assert f"(at {module}:{CHECK_LINE}); value: " in line
    assert "Traceback" not in result.err and "File \"" not in result.err


def test_every_failure_of_a_parallel_run_is_reported_once_in_offset_order(ws: Workspace) -> None:
    module = ws.module("deep", DEEP)
    count = 200_000  # several blocks, so both processes map and report some of them
    ws.topic("words", "".join(f"w{n}\n" if n % 3 else f"{n}\n" for n in range(count)))
    result = ws.run("words", "--map", str(module), "--print", "--jobs", "2")
    assert result.code == 1
    failed = [n for n in range(count) if n % 3]
    offsets = [int(line.split(" offset ")[1].split(":")[0]) for line in result.err.splitlines()]
    assert offsets == failed
    assert result.out.splitlines() == [str(n * 2) for n in range(count) if n % 3 == 0]


def test_smartview_test_still_prints_the_modules_traceback(ws: Workspace) -> None:
    module = ws.module("deep", DEEP)
    result = ws.run("test", str(module), "--text", "1", "--text", "x")
    assert result.code == 1
    assert "in helper" in result.err and "in check" in result.err


def test_detail_of_a_failed_row_shows_its_traceback_made_for_that_row_only(tmp_path: Path) -> None:
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "deep.py").write_text(DEEP)
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\nx\n3\ny\n")

    async def scenario():
        app = make_app(topic, module="deep", modules_dirs=[modules])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert app.failures == 2
            shown = app.mapped.cached(0, 4)
            assert [row.failed for row in shown] == [False, True, False, True]
            # Rows keep the module's line only: no traceback is formatted for rows that are merely shown.
            assert all(row.result.traceback is None for row in shown if row.failed)
            assert shown[1].result.location == f"{modules / 'deep.py'}:{CHECK_LINE}"
            app.stream.move_to(3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            trace = app.screen.row.result.traceback
            assert "in map" in trace and "in helper" in trace and "in check" in trace
            assert "ValueError: invalid literal for int() with base 10: b'y'" in trace

    run(scenario())


def test_detail_of_an_aggregates_failed_row_maps_it_from_its_accumulator(tmp_path: Path) -> None:
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "total.py").write_text(
        'INITIAL = "0"\n\n\ndef aggregate(acc, record):\n    return str(int(acc) + int(record.value))\n'
    )
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n2\nx\n4\n")

    async def scenario():
        app = make_app(topic, module="total", modules_dirs=[modules])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            app.stream.move_to(2)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert app.screen.row.offset == 2
            assert "in aggregate" in app.screen.row.result.traceback

    run(scenario())
