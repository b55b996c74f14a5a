"""The viewer with Fluvio SmartModules (.wasm): rows of every kind, the error count, the panel's
parameters from SmartModule.toml, init refusing a value, and reloading a rebuilt module."""

from __future__ import annotations

import shutil
from pathlib import Path

from smartview.tui.detail import DetailScreen
from test_viewer import run, wait_for
from test_viewer_kinds import print_lines, rows
from viewer_support import make_app, screen_text, settle

WASM = Path(__file__).resolve().parent / "wasm"


def modules(tmp_path: Path, *names: str) -> Path:
    folder = tmp_path / "mods"
    folder.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(WASM / f"{name}.wasm", folder / f"{name}.wasm")
    shutil.copy(WASM / "filter_init.toml", folder / "filter_init.toml")
    return folder


def test_a_map_shows_mapped_rows_and_counts_failures(tmp_path: Path) -> None:
    topic = tmp_path / "t.jsonl"
    topic.write_text("".join("fail %d\n" % n if n % 10 == 3 else "ok %d\n" % n for n in range(200)))

    async def scenario():
        app = make_app(topic, module="map_upper", modules_dirs=[modules(tmp_path, "map_upper")])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: app.failures == 20)
            text = screen_text(app)
            assert "OK 199" in text
            assert "map failed: cannot map a record that says fail" in text

    run(scenario())


def test_array_map_rows_and_aggregate_rows_match_print(tmp_path: Path) -> None:
    folder = modules(tmp_path, "array_map_split", "aggregate_sum")
    parts = tmp_path / "parts.jsonl"
    parts.write_text("a,b,c\nd\n")
    numbers = tmp_path / "numbers.jsonl"
    numbers.write_text("".join(f"{n}\n" for n in range(6000)))

    async def scenario():
        app = make_app(parts, module="array_map_split", modules_dirs=[folder])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            expected = [["0.0", "[0] a"], ["0.1", "[1] b"], ["0.2", "[2] c"], ["1.0", "[0] d"]]  # keys shown
            await wait_for(pilot, lambda: rows(app) == expected)
            app.stream.move_to(3)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert app.screen.value == b"d"
        app = make_app(numbers, module="aggregate_sum", modules_dirs=[folder])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert rows(app)[-1] == ["5999", str(sum(range(6000)))]
            app.stream.move_to(4500)  # mapped again from the checkpoint of the accumulator before it
            await wait_for(pilot, lambda: ["4500", str(sum(range(4501)))] in rows(app))
            return rows(app)

    shown = run(scenario())
    expected = print_lines(numbers, "--map", str(folder / "aggregate_sum.wasm"))
    assert all(expected[int(label)] == value for label, value in shown if label.isdigit())


def test_the_panel_lists_metadata_parameters_and_keeps_good_values_when_init_refuses(tmp_path: Path) -> None:
    topic = tmp_path / "t.jsonl"
    topic.write_text("apple\nbanana\ncherry\n")

    async def scenario():
        app = make_app(topic, module="filter_init", values={"key": "an"},
                       modules_dirs=[modules(tmp_path, "filter_init")])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: [label for label, _ in rows(app)] == ["1"])
            panel = "\n".join(str(widget.render()) for widget in app.panel.query("Label, Static"))
            assert "key (required)" in panel and "the text a record must contain" in panel
            assert "ignore_case (optional)" in panel
            field = app.query_one("#param-0-key")
            field.value = ""  # init says "Missing param key": the last good value keeps running
            await wait_for(pilot, lambda: "Missing param key" in str(app.query_one("#init-error-0").render()))
            assert field.has_class("-invalid")
            assert [label for label, _ in rows(app)] == ["1"]
            field.value = "e"
            await wait_for(pilot, lambda: [label for label, _ in rows(app)] == ["0", "2"])

    run(scenario())


def test_a_rebuilt_module_is_reloaded_and_a_broken_one_keeps_the_last_good(tmp_path: Path) -> None:
    topic = tmp_path / "t.jsonl"
    topic.write_text("ab\n")
    folder = modules(tmp_path, "map_upper")
    target = folder / "map_upper.wasm"

    async def scenario():
        app = make_app(topic, module="map_upper", modules_dirs=[folder], watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: rows(app) == [["0", "[AB] AB"]])
            target.write_bytes(b"\x00asm garbage")
            await wait_for(pilot, lambda: app.query_one("#banner").has_class("-shown"))
            assert "not a valid WebAssembly module" in str(app.query_one("#banner").render())
            assert rows(app) == [["0", "[AB] AB"]]
            shutil.copy(WASM / "identity.wasm", target)
            await wait_for(pilot, lambda: rows(app) == [["0", "ab"]])
            assert not app.query_one("#banner").has_class("-shown")

    run(scenario())


def test_a_parameter_the_metadata_does_not_list_can_be_added_in_the_panel(tmp_path: Path) -> None:
    topic = tmp_path / "t.jsonl"
    topic.write_text("apple\nbanana\ncherry\n")
    folder = tmp_path / "bare"
    folder.mkdir()
    shutil.copy(WASM / "filter_init.wasm", folder / "grep.wasm")  # no metadata beside it

    async def scenario():
        app = make_app(topic, module="grep", values={"key": "an"}, modules_dirs=[folder])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await wait_for(pilot, lambda: [label for label, _ in rows(app)] == ["1"])
            assert app.query_one("#param-0-key").value == "an"  # given with -e: shown although not listed
            adder = app.query_one("#add-param-0")
            adder.focus()
            adder.value = "key=RR"
            await pilot.press("enter")
            await wait_for(pilot, lambda: app.query("#param-0-key") and app.query_one("#param-0-key").value == "RR")
            adder = app.query_one("#add-param-0")
            adder.focus()
            adder.value = "ignore_case=true"
            await pilot.press("enter")
            await wait_for(pilot, lambda: [label for label, _ in rows(app)] == ["2"])  # cheRRy, compared in lower case
            assert app.headless_command().endswith("-e key=RR -e ignore_case=true --print")

    run(scenario())
