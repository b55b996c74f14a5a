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
    start = events.run("user-events", "--map", "count_by", "--print", "--count", "1", "--aggregate-initial", '{"login": 41}')
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


def test_workbench_new_writes_a_module_that_test_passes(ws: Workspace) -> None:
    for kind in ("map", "filter", "filter_map", "array_map", "aggregate"):
        made = ws.run("new", f"my_{kind}", "--kind", kind, "--params", "--dir", str(ws.modules))
        assert made.code == 0, made.err
        tried = ws.run("test", str(ws.modules / f"my_{kind}.py"), "--text", '{"a": 1}')
        assert tried.code == 0, (kind, tried.err)
        assert tried.out.strip()
        generated_test = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", str(ws.modules / "tests" / f"test_my_{kind}.py")], capture_output=True, text=True
        )
        assert generated_test.returncode == 0, generated_test.stdout
    again = ws.run("new", "my_map", "--dir", str(ws.modules))
    assert again.code == 2 and "already exists" in again.err


def test_workbench_test_shows_failures_with_their_traceback(ws: Workspace) -> None:
    module = ws.module("picky", "def map(record, params):\n    if record.value == b'no':\n        raise ValueError('refused')\n    return record.value\n")
    result = ws.run("test", str(module), "--text", "yes", "--text", "no", "--text", "fine")
    assert result.code == 1
    assert result.out == "0: yes\n2: fine\n"  # several inputs: each output is labelled with its offset
    assert "offset 1: map raised ValueError: refused (at " in result.err
    assert 'picky.py", line 3, in map' in result.err
    piped = ws.run("test", str(module), "--stdin", input="a\nno\n")
    assert piped.code == 1 and piped.out == "0: a\n"
    # Standard input that is not a terminal is read without --stdin, as a pipe is meant.
    unasked = ws.run("test", str(module), input="a\nb\n")
    assert unasked.code == 0 and unasked.out == "0: a\n1: b\n"
    missing = ws.run("test", str(module), input="")
    assert missing.code == 2 and "--text VALUE" in missing.err


CHAIN = ["--map", "where", "--map", "user_events", "-e", "where.equals=login", "-e", "show_account_id=false"]


def test_a_chain_applies_modules_in_order_with_their_own_parameters(events: Workspace) -> None:
    result = events.run("user-events", *CHAIN, "--print")
    assert result.code == 0, result.err
    assert result.out == '{"type":"login","timestamp":1640878631,"user_client":"safari"}\n'


def test_a_transforms_file_gives_the_same_chain(events: Workspace) -> None:
    transforms = events.root / "transforms.toml"
    transforms.write_text(
        '[[transforms]]\nuses = "where"\nwith = { equals = "login" }\n\n'
        '[[transforms]]\nuses = "user_events"\nwith = { show_account_id = false }\n'
    )
    by_file = events.run("user-events", "--transforms", str(transforms), "--print")
    assert by_file.out == events.run("user-events", *CHAIN, "--print").out
    both = events.run("user-events", "--transforms", str(transforms), "--map", "double", "--print")
    assert both.code == 2 and "--map and --transforms were both given" in both.err


def test_chain_parameters_must_name_their_module_when_ambiguous(events: Workspace) -> None:
    twice = events.run("user-events", "--map", "where", "--map", "where", "-e", "equals=x", "--print")
    assert twice.code == 2 and "parameter 'equals' is ambiguous in this chain" in twice.err
    unknown = events.run("user-events", "--map", "where", "--map", "user_events", "-e", "nope=1", "--print")
    assert unknown.code == 2 and "'nope' is unknown" in unknown.err and "where.field" in unknown.err
    bad = events.run("user-events", "--map", "where", "--map", "user_events", "-e", "user_events.show_timestamp=maybe", "--print")
    assert bad.code == 2 and "user_events: parameter 'show_timestamp'" in bad.err


def test_a_failure_names_the_module_of_the_chain_that_failed(ws: Workspace) -> None:
    ws.topic("mixed", '{"type":"login","account_id":"1","timestamp":1,"user_client":"x"}\n{"type":"logout"}\n')
    result = ws.run("mixed", "--map", "fields", "--map", "user_events", "-e", "drop=zzz", "--print")
    assert result.code == 1 and result.out.count("\n") == 1
    assert "offset 1: user_events (module 2 of 2): map raised ValueError: missing field `account_id`" in result.err


def test_a_chain_in_parallel_matches_one_process(ws: Workspace) -> None:
    events = [f'{{"type":"{t}","account_id":"{n}","timestamp":{n},"user_client":"c"}}'
              for n in range(40_000) for t in ("login",)] + ['{"type":"logout"}']
    ws.topic("many", "\n".join(events) + "\n")
    args = ["many", "--map", "where", "--map", "user_events", "-e", "where.equals=login", "--print"]
    one, two = ws.run(*args, "--jobs", "1"), ws.run(*args, "--jobs", "2")
    assert one.out == two.out and one.out.count("\n") == 40_000
    assert one.code == two.code == 0
