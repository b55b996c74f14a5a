"""Fluvio's semantics for Python modules: init, look_back and lookback, transforms files, `smartview test`."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from conftest import Workspace
from viewer_support import make_app, screen_text, settle

# Fluvio's smartmodule/examples/filter_look_back, in Python: keep a value only when it is above the
# last one kept; look_back sets the last one from the records before the first one read.
RISING = '''"""rising: keep values above every value kept before."""
PREV = 0


def filter(record, params):
    global PREV
    current = int(record.value)
    if current > PREV:
        PREV = current
        return True
    return False


def look_back(record, params):
    global PREV
    PREV = int(record.value)
'''

# A module whose init reads its parameters once, as Fluvio's init does; map uses what init prepared.
PREFIXED = '''"""prefixed: put a prefix, prepared by init, before each value."""
from dataclasses import dataclass

PREFIX = None


@dataclass
class Params:
    prefix: str = ""


def init(params):
    global PREFIX
    if not params.prefix:
        raise ValueError("Missing param prefix")
    PREFIX = params.prefix.encode() + b":"


def map(record, params):
    return PREFIX + record.value
'''


@pytest.fixture
def rising(ws: Workspace) -> Workspace:
    ws.topic("levels", "".join(f"{n}\n" for n in [1, 5, 3, 8, 2, 9, 4, 10]))
    ws.module("rising", RISING)
    ws.module("prefixed", PREFIXED)
    return ws


def run(ws: Workspace, *args: str, **kwargs):
    """The command with the workspace's module folder in the search path."""
    return ws.run(*args, SMARTVIEW_MODULES_DIR=str(ws.modules), **kwargs)


def lines(result) -> list[str]:
    return result.out.splitlines()


def test_init_prepares_the_module_before_the_first_record(rising: Workspace) -> None:
    result = run(rising, "levels", "--map", "prefixed", "-e", "prefix=lvl", "--print", "--count", "2")
    assert result.code == 0, result.err
    assert lines(result) == ["lvl:1", "lvl:5"]
    # Parallel workers are forked after init ran: each has what it prepared.
    rising.topic("many", "".join(f"{n}\n" for n in range(50_000)))
    parallel = run(rising, "many", "--map", "prefixed", "-e", "prefix=p", "--print", "--jobs", "2")
    assert parallel.code == 0 and lines(parallel)[-1] == "p:49999" and len(lines(parallel)) == 50_000


def test_what_init_raises_is_a_usage_error_before_any_record(rising: Workspace) -> None:
    for args in (["--print"], ["--print", "--jobs", "2"], []):
        result = run(rising, "levels", "--map", "prefixed", *args)
        assert result.code == 2 and result.out == ""
        assert "prefixed.py:15: init raised ValueError: Missing param prefix" in result.err
        assert "Traceback" not in result.err
    tested = run(rising, "test", str(rising.modules / "prefixed.py"), "--text", "x")
    assert tested.code == 2 and "init raised ValueError: Missing param prefix" in tested.err


@pytest.mark.parametrize(
    "flags, without, with_lookback",
    [
        (["--start", "4"], ["2", "9", "10"], ["9", "10"]),  # fed 8 (offset 3): 2 is not above it
        (["-H", "6"], ["4", "10"], ["10"]),  # -H 6 starts at offset 6; fed 9
        (["-T", "3"], ["9", "10"], ["9", "10"]),  # fed 2 (offset 4)
        ([], ["1", "5", "8", "9", "10"], ["1", "5", "8", "9", "10"]),  # nothing before offset 0
    ],
)
def test_lookback_feeds_the_records_before_the_first_one_read(
    rising: Workspace, flags: list[str], without: list[str], with_lookback: list[str]
) -> None:
    plain = run(rising, "levels", "--map", "rising", "--print", *flags)
    fed = run(rising, "levels", "--map", "rising", "--print", "--lookback-last", "1", *flags)
    assert (lines(plain), lines(fed)) == (without, with_lookback)
    assert fed.code == 0, fed.err


def test_a_lookback_of_several_records_is_fed_oldest_first(rising: Workspace) -> None:
    # Fed 3, 8, 2 in that order: the last one fed (2) is what the module holds.
    result = run(rising, "levels", "--map", "rising", "--print", "--start", "5", "--lookback-last", "3")
    assert lines(result) == ["9", "10"]
    module = rising.module("spy", "SEEN = []\ndef map(record, params):\n    return str(SEEN)\n"
                           "def look_back(record, params):\n    SEEN.append(record.offset)\n")
    spied = run(rising, "levels", "--map", str(module), "--print", "--start", "5", "--lookback-last", "3", "--count", "1")
    assert lines(spied) == ["[2, 3, 4]"]


def test_a_lookback_for_a_module_without_look_back_is_refused(rising: Workspace) -> None:
    result = run(rising, "levels", "--map", "prefixed", "-e", "prefix=a", "--print", "--lookback-last", "2")
    assert result.code == 2 and "no module defines look_back" in result.err and result.out == ""
    transforms = rising.root / "t.yaml"
    transforms.write_text("transforms:\n  - uses: prefixed\n    with: {prefix: a}\n    lookback: {last: 1}\n")
    by_file = run(rising, "levels", "--transforms", str(transforms), "--print")
    assert by_file.code == 2 and "defines no look_back(record, params)" in by_file.err


def test_a_failing_look_back_stops_the_run_naming_the_offset(rising: Workspace) -> None:
    rising.topic("broken", "1\nnot a number\n3\n")
    result = run(rising, "broken", "--map", "rising", "--print", "--start", "2", "--lookback-last", "2")
    assert result.code == 2 and result.out == ""
    assert "look_back raised ValueError" in result.err and "at offset 1" in result.err


def test_fluvio_yaml_transforms_with_lookback_and_transforms_lines(rising: Workspace) -> None:
    transforms = rising.root / "transforms.yaml"
    transforms.write_text(
        "transforms:\n"
        "  - uses: rising\n"
        "    lookback:\n"
        "      last: 1\n"
        f"  - uses: {rising.modules / 'prefixed.py'}\n"
        "    with:\n"
        "      prefix: up\n"
    )
    by_file = run(rising, "levels", "--transforms", str(transforms), "--print", "--start", "4")
    assert by_file.code == 0, by_file.err
    assert lines(by_file) == ["up:9", "up:10"]
    alias = run(rising, "levels", "--transforms-file", str(transforms), "--print", "--start", "4")
    assert alias.out == by_file.out
    by_lines = run(rising, 
        "levels", "--transforms-line", '{"uses": "rising", "lookback": {"last": 1}}',
        "--transform", '{"uses": "prefixed", "with": {"prefix": "up"}}', "--print", "--start", "4",
    )
    assert by_lines.out == by_file.out


def test_bad_transforms_say_where(rising: Workspace) -> None:
    broken = rising.root / "broken.yaml"
    broken.write_text("transforms:\n  - uses: rising\n    with: [unclosed\n")
    result = run(rising, "levels", "--transforms", str(broken), "--print")
    assert result.code == 2 and f"transforms file {broken}:" in result.err and "invalid YAML" in result.err
    age = rising.root / "age.yaml"
    age.write_text("transforms:\n  - uses: rising\n    lookback: {age: 1h}\n")
    aged = run(rising, "levels", "--transforms", str(age), "--print")
    assert aged.code == 2 and "file topics do not have" in aged.err
    odd = run(rising, "levels", "--transforms-line", '{"uses": "rising", "lookback": {"age": "soon"}}', "--print")
    assert odd.code == 2 and "'soon' is not a duration" in odd.err
    bad_json = run(rising, "levels", "--transforms-line", "{uses", "--print")
    assert bad_json.code == 2 and "--transforms-line 1: invalid JSON" in bad_json.err


def test_an_end_before_the_start_is_a_usage_error(rising: Workspace) -> None:
    result = run(rising, "levels", "--print", "--start", "5", "--end", "2")
    assert result.code == 2 and "--end 2 is before --start 5" in result.err and result.out == ""
    head = run(rising, "levels", "--print", "-H", "5", "--end", "2")
    assert head.code == 2 and "--end 2 is before -H 5" in head.err


def test_smartview_test_takes_smdk_flags(rising: Workspace) -> None:
    module = str(rising.modules / "rising.py")
    # --record: records already in the topic; --lookback-last feeds the last of them to look_back.
    fed = run(rising, "test", module, "--record", "4", "--record", "7", "--lookback-last", "1", "--text", "6", "--text", "9")
    assert fed.code == 0, fed.err
    assert lines(fed) == ["2: (no output)", "3: 9"]
    keyed = run(rising, "test", str(rising.modules / "prefixed.py"), "-e", "prefix=p", "--key", "k1", "-k", "--text", "v")
    assert lines(keyed) == ["[k1] p:v"]
    whole = rising.root / "whole.txt"
    whole.write_text("a\nb\n")
    raw = run(rising, "test", str(rising.modules / "prefixed.py"), "-e", "prefix=p", "--file", str(whole), "--raw")
    assert raw.out == "p:a\nb\n\n"  # the whole file, its last newline included, is one value
    chained = run(rising, "test", "--transforms-line", '{"uses": "rising"}',
                         "--transforms-line", '{"uses": "prefixed", "with": {"prefix": "x"}}', "--text", "3")
    assert chained.code == 0 and lines(chained) == ["x:3"]
    refused = run(rising, "test", str(rising.modules / "prefixed.py"), "-e", "prefix=p", "--lookback-last", "1", "--text", "v")
    assert refused.code == 2 and "no module defines look_back" in refused.err


def test_the_viewer_maps_a_look_back_module_in_one_pass_from_the_start(tmp_path: Path) -> None:
    topic = tmp_path / "levels.jsonl"
    topic.write_text("".join(f"{n}\n" for n in [1, 5, 3, 8, 2, 9, 4, 10]))
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "rising.py").write_text(RISING.replace("def filter", "def map").replace(
        "        return True\n    return False", "        return record.value\n    return b'-'"))

    async def scenario():
        app = make_app(topic, module="rising", modules_dirs=[modules])
        async with app.run_test(size=(80, 20)) as pilot:
            await settle(pilot)
            assert not app.mapped.one_to_one  # counted and checkpointed like an aggregate
            shown = [line.split() for line in screen_text(app).splitlines() if line.strip()]
            # Row by row what --print gives from offset 0: the state runs on from record to record.
            assert [row[-1] for row in shown[:8]] == ["1", "5", "-", "8", "-", "9", "-", "10"]

    asyncio.run(scenario())


def test_the_viewer_keeps_the_last_values_init_took(tmp_path: Path) -> None:
    topic = tmp_path / "levels.jsonl"
    topic.write_text("1\n2\n")
    modules = tmp_path / "mods"
    modules.mkdir()
    (modules / "prefixed.py").write_text(PREFIXED)

    async def scenario():
        app = make_app(topic, module="prefixed", values={"prefix": "ok"}, modules_dirs=[modules])
        async with app.run_test(size=(100, 24)) as pilot:
            await settle(pilot)
            assert "ok:1" in screen_text(app)
            box = app.query_one("#param-0-prefix")
            box.focus()
            box.value = ""  # init raises for an empty prefix
            await pilot.pause(0.3)
            notice = app.query_one("#init-error-0")
            assert "init refused these values" in str(notice.render()) and "Missing param prefix" in str(notice.render())
            assert app.values == {"prefix": "ok"}
            await settle(pilot)
            assert "ok:1" in screen_text(app)
            box.value = "new"
            await pilot.pause(0.3)
            await settle(pilot)
            assert "new:1" in screen_text(app) and not notice.has_class("-shown")

    asyncio.run(scenario())
