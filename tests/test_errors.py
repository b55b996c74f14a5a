"""Every usage error stops before any record is read, with status 2 and a message naming the problem."""

from __future__ import annotations

import pytest

from conftest import FOUNDING_EVENTS, Workspace

PARAMS_MODULE = '''
import enum
from dataclasses import dataclass
from typing import Literal


class Level(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclass
class Params:
    flag: bool = True
    limit: int = 10
    ratio: float = 0.5
    label: str = "x"
    level: Level = Level.LOW
    mode: Literal["fast", "slow"] = "fast"


def map(record, params):
    return f"{params.flag} {params.limit} {params.ratio} {params.label} {params.level.name} {params.mode}"
'''


@pytest.fixture
def events(ws: Workspace) -> Workspace:
    ws.topic("user-events", FOUNDING_EVENTS)
    ws.module("knobs", PARAMS_MODULE)
    return ws


def expect_usage_error(result, *fragments: str) -> None:
    assert result.code == 2, (result.out, result.err)
    assert result.out == ""
    assert "Traceback" not in result.err
    for fragment in fragments:
        assert fragment in result.err, result.err


def test_unknown_parameter_lists_known_ones(events: Workspace) -> None:
    result = events.run("user-events", "--map", "user_events", "-e", "show_acount_id=false", "--print")
    expect_usage_error(result, "unknown parameter 'show_acount_id'", "show_account_id, show_timestamp, show_user_client")


@pytest.mark.parametrize(
    "assignment, fragments",
    [
        ("flag=maybe", ["'flag'", "'maybe'", "boolean"]),
        ("limit=ten", ["'limit'", "'ten'", "integer"]),
        ("ratio=half", ["'ratio'", "'half'", "number"]),
        ("level=MEDIUM", ["'level'", "'MEDIUM'", "LOW, HIGH"]),
        ("mode=turbo", ["'mode'", "'turbo'", "fast, slow"]),
    ],
)
def test_bad_value_names_parameter_value_and_type(events: Workspace, assignment: str, fragments: list[str]) -> None:
    result = events.run("user-events", "--map", "knobs", "--modules-dir", str(events.modules), "-e", assignment, "--print")
    expect_usage_error(result, *fragments)


def test_param_without_equals(events: Workspace) -> None:
    result = events.run("user-events", "--map", "user_events", "-e", "show_account_id", "--print")
    expect_usage_error(result, "'show_account_id' has no '='", "key=value")


def test_values_parse_like_fromstr(events: Workspace) -> None:
    result = events.run(
        "user-events", "--map", "knobs", "--modules-dir", str(events.modules), "--count", "1", "--print",
        "-e", "flag=OFF", "-e", "limit=7", "-e", "ratio=2.5", "-e", "label=a=b", "-e", "level=high",
        "-e", "mode=slow", "-e", "limit=8",  # a repeated key: the last one wins
    )
    assert result.code == 0, result.err
    assert result.out == "False 8 2.5 a=b HIGH slow\n"


@pytest.mark.parametrize("assignment", [
    "limit=1_000", "limit=\u0663", "limit= 5 ", "limit=5 ", "limit=0x10", "limit=", "limit=1.0",
    "ratio=1_000.5", "ratio=\u0663", "ratio= 2.5", "ratio=.", "ratio=1e", "ratio=", "ratio=infinit",
])
def test_numbers_refuse_what_rust_fromstr_refuses(events: Workspace, assignment: str) -> None:
    name, _, value = assignment.partition("=")
    result = events.run("user-events", "--map", "knobs", "--modules-dir", str(events.modules), "-e", assignment, "--print")
    expect_usage_error(result, f"parameter {name!r}", repr(value), "integer" if name == "limit" else "number")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("assignment, shown", [
    ("limit=-7", "-7 "), ("limit=+7", " 7 "), ("limit=007", " 7 "), ("ratio=1e3", "1000.0"), ("ratio=+.5", "0.5"),
    ("ratio=5.", " 5.0 "), ("ratio=-inf", "-inf"), ("ratio=NaN", "nan"), ("ratio=Infinity", "inf"),
])
def test_numbers_take_what_rust_fromstr_takes(events: Workspace, assignment: str, shown: str) -> None:
    result = events.run("user-events", "--map", "knobs", "--modules-dir", str(events.modules), "-H", "1", "--print",
                        "-e", assignment)
    assert result.code == 0, result.err
    assert shown in result.out


CHECKED_MODULE = '''
from dataclasses import dataclass


@dataclass
class Params:
    limit: int = 10

    def __post_init__(self):
        if self.limit > 100:
            raise ValueError(f"limit {self.limit} is above 100")


def map(record, params):
    return record.value
'''


def test_params_post_init_refusing_a_value_is_a_usage_error(events: Workspace) -> None:
    events.module("checked", CHECKED_MODULE)
    for command in (["user-events", "--print"], ["test", "--text", "x"]):
        args = [*command, "--map", "checked"] if command[0] != "test" else ["test", "checked", *command[1:]]
        result = events.run(*args, "--modules-dir", str(events.modules), "-e", "limit=500")
        expect_usage_error(result, "checked.py", "limit=500", "ValueError: limit 500 is above 100")
        assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize("word, value", [("yes", "True"), ("No", "False"), ("on", "True"), ("0", "False"), ("TRUE", "True")])
def test_boolean_spellings(events: Workspace, word: str, value: str) -> None:
    result = events.run("user-events", "--map", str(events.modules / "knobs.py"), "--count", "1", "--print", "-e", f"flag={word}")
    assert result.out.split()[0] == value


def test_missing_module_file(events: Workspace) -> None:
    expect_usage_error(events.run("user-events", "--map", "./nowhere.py", "--print"), "nowhere.py does not exist")


def test_unknown_module_name_lists_available(events: Workspace) -> None:
    expect_usage_error(events.run("user-events", "--map", "nosuch", "--print"), "module 'nosuch' not found", "user_events")


def test_module_syntax_error_shows_file_and_line(events: Workspace) -> None:
    path = events.module("broken", "def map(record, params):\n    return (\n\nx = 1 +\n")
    result = events.run("user-events", "--map", str(path), "--print")
    expect_usage_error(result, f"{path}:", "syntax error")


def test_a_module_path_that_is_neither_python_nor_wasm_is_one_line(events: Workspace) -> None:
    """`--map ./events.jsonl` (a slip of the hand): one line, never a traceback, and the file is not run."""
    path = events.root / "events.jsonl"
    path.write_text("1\n2\n")
    for command in (["user-events", "--map", str(path), "--print"], ["test", str(path), "--text", "1"]):
        result = events.run(*command)
        expect_usage_error(result, f"module file {path} is neither Python (.py) nor a SmartModule (.wasm)")


def test_module_import_error_shows_file_and_line(events: Workspace) -> None:
    path = events.module("needs", "import os\nimport no_such_package_here\n\ndef map(record, params):\n    return record.value\n")
    result = events.run("user-events", "--map", str(path), "--print")
    expect_usage_error(result, f"{path}:2", "ModuleNotFoundError", "no_such_package_here")


def test_module_without_map(events: Workspace) -> None:
    path = events.module("nomap", "def transform(record, params):\n    return record.value\n")
    expect_usage_error(events.run("user-events", "--map", str(path), "--print"), "defines no map(record, params)")


def test_params_field_without_default(events: Workspace) -> None:
    path = events.module(
        "nodefault",
        "from dataclasses import dataclass\n\n@dataclass\nclass Params:\n    level: int\n\ndef map(record, params):\n    return record.value\n",
    )
    expect_usage_error(events.run("user-events", "--map", str(path), "--print"), "'level' has no default")


def test_module_calling_sys_exit_at_import(events: Workspace) -> None:
    path = events.module("quitter", "import sys\nsys.exit(3)\n")
    expect_usage_error(events.run("user-events", "--map", str(path), "--print"), f"{path}:2", "SystemExit")


@pytest.mark.parametrize(
    "name, fragment",
    [
        ("User-Events", "only lowercase letters, digits and '-'"),
        ("user_events", "found '_'"),
        ("-events", "must not start or end with '-'"),
        ("events-", "must not start or end with '-'"),
        ("e" * 64, "at most 63 characters"),
    ],
)
def test_topic_name_rules(events: Workspace, name: str, fragment: str) -> None:
    expect_usage_error(events.run("--print", "--", name), fragment)


def test_missing_topic_lists_existing(events: Workspace) -> None:
    events.topic("audit-log", "{}\n")
    result = events.run("user-event", "--print")
    expect_usage_error(result, "topic 'user-event' not found", str(events.topics), "audit-log, user-events")


def test_directory_given_as_topic(events: Workspace) -> None:
    expect_usage_error(events.run(str(events.modules), "--print"), "is a directory")


def test_params_without_module(events: Workspace) -> None:
    expect_usage_error(events.run("user-events", "-e", "a=b", "--print"), "no module selected")


def test_dot_dot_is_not_a_topic_name(events: Workspace) -> None:
    expect_usage_error(events.run("..", "--print"), "invalid topic name '..'")
    expect_usage_error(events.run("../nowhere", "--print"), "file ../nowhere does not exist")


def test_symlink_in_the_topics_folder_is_followed(events: Workspace) -> None:
    outside = events.root / "elsewhere.log"
    outside.write_text("7\n")
    (events.topics / "linked.jsonl").symlink_to(outside)
    result = events.run("linked", "--map", "double", "--print")
    assert result.code == 0 and result.out == "14\n"


def test_binary_file_by_path_is_shown_escaped_or_reported(events: Workspace) -> None:
    binary = events.root / "blob.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    for args in (["--print"], ["--map", "user_events", "--print"], []):  # one line, not pages of garbage
        result = events.run(str(binary), *args)
        assert (result.code, result.out) == (2, "")
        assert result.err == f"smartview: file {binary} looks like binary data, not newline-delimited records\n"


def test_print_flags_without_print_are_refused(events: Workspace) -> None:
    expect_usage_error(events.run("user-events", "-T", "3", "-k"), "-T, -k apply only with --print")
