"""`--grep` / `--grep-v` with `--print`: the pattern syntax find and the quick filter share, through the real command."""

from __future__ import annotations

import json

import pytest

from conftest import Workspace

RECORDS = [
    {"type": "login", "status": 200, "user": {"id": 7}, "msg": "Hello World"},
    {"type": "logout", "status": 503, "user": {"id": 12}, "msg": "timed out"},
    {"type": "login", "status": "404", "msg": "not found"},
    "plain text line with an ERROR",
    {"type": "view", "status": 500, "msg": "Ünïcode error", "ok": False},
    {"type": "view", "status": None, "msg": "timeout"},
]


def lines(records) -> str:
    return "".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records)


@pytest.fixture
def topic(ws: Workspace):
    ws.topic("app", lines(RECORDS))
    return ws


def offsets(result) -> list[int]:
    assert result.code == 0, result.err
    return [int(line) for line in result.out.split()]


@pytest.mark.parametrize("flags, expected", [
    (["--grep", "error"], [3, 4]),  # text: any case, non-JSON lines too
    (["--grep", "ÜNÏCODE"], [4]),  # any case beyond ASCII
    (["--grep", "/time(d|out)/"], [1, 5]),  # a regular expression
    (["--grep", "/ERROR/"], [3]),  # regular expressions keep case...
    (["--grep", "/ERROR/i"], [3, 4]),  # ...unless written /…/i
    (["--grep", ".type=login"], [0, 2]),  # a field test on JSON output
    (["--grep", ".status>=500"], [1, 4]),  # numbers compare as numbers ("404" too, but it is below)
    (["--grep", ".status<500"], [0, 2]),
    (["--grep", ".status=404"], [2]),  # the string "404" equals the number
    (["--grep", ".status=null"], [5]),
    (["--grep", ".ok=false"], [4]),
    (["--grep", ".user.id>10"], [1]),  # nested fields by dots
    (["--grep", ".user"], [0, 1]),  # a field alone: present and not null
    (["--grep", "!.type=login"], [1, 3, 4, 5]),  # ! excludes (a line that is not JSON has no field)
    (["--grep-v", ".type=login"], [1, 3, 4, 5]),  # the same, as grep -v
    (["--grep-v", "!.type=login"], [0, 2]),  # --grep-v of an exclusion keeps the matches
    (["--grep", ".type=view", "--grep-v", "timeout"], [4]),  # several patterns: rows match all of them
])
def test_grep_keeps_the_matching_outputs(topic: Workspace, flags: list[str], expected: list[int]) -> None:
    assert offsets(topic.run("app", "--print", "-F", "{{offset}}", *flags)) == expected


def test_grep_matches_the_mapped_output_not_the_record(topic: Workspace) -> None:
    """After a module, the pattern sees what the module made: a dropped field no longer matches."""
    kept = topic.run("app", "--map", "fields", "-e", "keep=type", "--print", "--grep", "timed", "-F", "{{offset}}")
    assert kept.out == ""  # "timed out" was in msg, which the module dropped
    shown = topic.run("app", "--map", "fields", "-e", "keep=type", "--print", "--grep", ".type=view")
    assert shown.out.splitlines() == ['{"type":"view"}', '{"type":"view"}']
    # The record that is not JSON fails in the module: it is reported (exit 1), never hidden by the filter.
    assert shown.code == 1 and "offset 3" in shown.err


def test_grep_gives_the_same_rows_in_parallel(ws: Workspace) -> None:
    ws.topic("big", lines({"n": n, "kind": "even" if n % 2 == 0 else "odd"} for n in range(20000)))
    one = ws.run("big", "--print", "--grep", ".kind=odd", "--grep-v", '/"n": \\d*7,/', "--jobs", "1")
    four = ws.run("big", "--print", "--grep", ".kind=odd", "--grep-v", '/"n": \\d*7,/', "--jobs", "4")
    assert one.code == four.code == 0
    assert one.out == four.out
    assert len(one.out.splitlines()) == 8000  # odd numbers not ending in 7


@pytest.mark.parametrize("flags, message", [
    (["--grep", "/(/"], "--grep '/(/': missing ), unterminated subpattern at position 0"),
    (["--grep", "/abc"], "--grep '/abc': a regular expression is written /like this/"),
    (["--grep", ".status>="], "--grep '.status>=': nothing to compare .status with after >="),
    (["--grep", ".a b"], "--grep '.a b': a field test is .name"),
    (["--grep-v", ""], "--grep-v '': the pattern is empty"),
    (["--grep", "!"], "--grep '!': nothing after the ! to exclude"),
])
def test_a_bad_pattern_is_a_usage_error(topic: Workspace, flags: list[str], message: str) -> None:
    result = topic.run("app", "--print", *flags)
    assert result.code == 2 and result.out == ""
    assert result.err.startswith(f"smartview: {message}")
    assert "Traceback" not in result.err and len(result.err.splitlines()) == 1


def test_the_viewer_takes_one_pattern(topic: Workspace) -> None:
    result = topic.run("app", "--grep", "a", "--grep", "b")
    assert result.code == 2 and "quick filter holds one pattern" in result.err
