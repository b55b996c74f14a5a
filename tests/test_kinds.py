"""Every SmartModule kind through --print, and the workbench commands `test` and `new`."""

from __future__ import annotations

import subprocess
import sys

import orjson
import pytest

from conftest import FOUNDING_EVENTS, Workspace


@pytest.fixture
def events(ws: Workspace) -> Workspace:
    ws.topic("user-events", FOUNDING_EVENTS)
    return ws


def test_filter_keeps_matching_records(events: Workspace) -> None:
    result = events.run("user-events", "--map", "where", "-e", "equals=home_page", "--print", "-F", "{{offset}} {{value}}")
    assert result.code == 0
    assert result.out.startswith('1 {"type":"home_page"') and result.out.count("\n") == 1


def test_array_map_expands_a_field(ws: Workspace) -> None:
    ws.topic("orders", '{"id":1,"items":[{"sku":"a"},{"sku":"b"}]}\n{"id":2}\n{"id":3,"items":[{"sku":"c"}]}\n')
    result = ws.run("orders", "--map", "explode", "--print", "-F", "{{offset}} {{value}}")
    assert result.out.splitlines() == ['0 {"sku":"a"}', '0 {"sku":"b"}', '2 {"sku":"c"}']


def test_aggregate_emits_the_accumulator_after_each_record(events: Workspace) -> None:
    result = events.run("user-events", "--map", "count_by", "--print", "--jobs", "2")
    counts = [orjson.loads(line) for line in result.out.splitlines()]
    assert len(counts) == 5 and counts[-1] == {t: 1 for t in ("login", "home_page", "play_demo", "action_a", "action_b")}
    start = events.run("user-events", "--map", "count_by", "--print", "-H", "1", "--aggregate-initial", '{"login": 41}')
    assert orjson.loads(start.out) == {"login": 42}


def test_filter_map_and_wrong_returns(ws: Workspace) -> None:
    ws.topic("numbers", "1\n2\n3\n")
    odd = ws.module("odd", "def filter_map(record, params):\n    n = int(record.value)\n    return str(n * 10) if n % 2 else None\n")
    assert ws.run("numbers", "--map", str(odd), "--print").out == "10\n30\n"
    bad = ws.module("bad", "def filter(record, params):\n    return 'yes'\n")
    result = ws.run("numbers", "--map", str(bad), "--print")
    assert result.code == 1 and result.err.count("filter returned str; expected True or False") == 3


def test_a_module_has_exactly_one_kind(ws: Workspace) -> None:
    ws.topic("numbers", "1\n")
    both = ws.module("both", "def map(record, params):\n    return record.value\n\ndef filter(record, params):\n    return True\n")
    result = ws.run("numbers", "--map", str(both), "--print")
    assert result.code == 2 and "defines map and filter; a module has exactly one kind" in result.err


def test_the_viewer_refuses_other_kinds_with_a_clear_message(events: Workspace) -> None:
    result = events.run("user-events", "--map", "where")
    assert result.code == 2 and "where is a filter module; the viewer shows map modules for now" in result.err


def test_workbench_new_writes_a_module_that_test_passes(ws: Workspace) -> None:
    for kind in ("map", "filter", "filter_map", "array_map", "aggregate"):
        made = ws.run("new", f"my_{kind}", "--kind", kind, "--params", "--dir", str(ws.modules))
        assert made.code == 0, made.err
        tried = ws.run("test", str(ws.modules / f"my_{kind}.py"), "--text", '{"a": 1}')
        assert tried.code == 0, (kind, tried.err)
        assert tried.out.strip()
        generated_test = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", str(ws.modules / f"test_my_{kind}.py")], capture_output=True, text=True
        )
        assert generated_test.returncode == 0, generated_test.stdout
    again = ws.run("new", "my_map", "--dir", str(ws.modules))
    assert again.code == 2 and "already exists" in again.err


def test_workbench_test_shows_failures_with_their_traceback(ws: Workspace) -> None:
    module = ws.module("picky", "def map(record, params):\n    if record.value == b'no':\n        raise ValueError('refused')\n    return record.value\n")
    result = ws.run("test", str(module), "--text", "yes", "--text", "no", "--text", "fine")
    assert result.code == 1
    assert result.out == "yes\nfine\n"
    assert "offset 1: map raised ValueError: refused (at " in result.err
    assert 'picky.py", line 3, in map' in result.err
    piped = ws.run("test", str(module), "--stdin", input="a\nno\n")
    assert piped.code == 1 and piped.out == "a\n"
    missing = ws.run("test", str(module))
    assert missing.code == 2 and "--text VALUE" in missing.err
