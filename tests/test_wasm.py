"""Fluvio SmartModules (.wasm) through the real command: every kind, failures, traps, --timeout, init,
WASI output, bad files, module folders and metadata. The fixtures are built from tests/wasm/src."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import Workspace

WASM = Path(__file__).resolve().parent / "wasm"


def fixture(ws: Workspace, name: str) -> str:
    """A copy of a fixture in the workspace (a module file the test may change)."""
    target = ws.root / f"{name}.wasm"
    shutil.copy(WASM / f"{name}.wasm", target)
    return str(target)


def run(ws: Workspace, *args: str, **kwargs):
    return ws.run(*args, XDG_CACHE_HOME=str(ws.root / "cache"), **kwargs)


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize(
    "name, params, text, expected",
    [
        ("map_upper", [], "ab cd\nef\n", "[AB] AB CD\n[EF] EF\n"),
        ("filter_init", ["-e", "key=b"], "abc\nxyz\nb\n", "[null] abc\n[null] b\n"),
        ("filter_map_even", [], "1\n2\n3\n8\n", "[null] 1\n[null] 4\n"),
        ("array_map_split", [], "a,b\nc\n", "[0] a\n[1] b\n[0] c\n"),
        ("aggregate_sum", [], "1\n2\n3\n", "[null] 1\n[null] 3\n[null] 6\n"),
    ],
)
def test_every_kind_prints_its_outputs_with_keys(ws: Workspace, name, params, text, expected, jobs) -> None:
    ws.topic("t", text * 1)
    result = run(ws, "t", "--print", "-k", "--map", fixture(ws, name), *params, "--jobs", jobs)
    assert (result.code, result.out, result.err) == (0, expected, "")


def test_a_large_topic_in_parallel_equals_one_process(ws: Workspace) -> None:
    ws.topic("big", "".join(f"value {i}\n" for i in range(60_000)))
    module = fixture(ws, "map_upper")
    one = run(ws, "big", "--print", "--map", module, "--jobs", "1")
    two = run(ws, "big", "--print", "--map", module, "--jobs", "2")
    assert one.code == two.code == 0
    assert one.out == two.out
    assert one.out.splitlines()[59_999] == "VALUE 59999"


def test_a_failing_record_is_reported_and_the_rest_of_the_block_is_mapped(ws: Workspace) -> None:
    lines = [("fail %d" % i) if i % 3 == 1 else ("ok %d" % i) for i in range(3000)]
    ws.topic("t", "\n".join(lines) + "\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "map_upper"))
    assert result.code == 1
    assert result.out.splitlines() == [line.upper() for line in lines if line.startswith("ok")]
    reports = result.err.splitlines()
    assert len(reports) == 1000
    assert reports[0].startswith("smartview: t offset 1: map failed: cannot map a record that says fail")
    assert reports[0].endswith("value: fail 1")
    assert reports[-1].startswith("smartview: t offset 2998: ")


def test_on_error_stop_ends_at_the_first_failure(ws: Workspace) -> None:
    ws.topic("t", "a\nb fail\nc\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "map_upper"), "--on-error", "stop")
    assert result.code == 1
    assert result.out == "A\n"
    assert "offset 1" in result.err and "offset 2" not in result.err


def test_an_aggregate_failure_keeps_the_accumulator(ws: Workspace) -> None:
    ws.topic("t", "1\nx\n2\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "aggregate_sum"))
    assert result.code == 1
    assert result.out == "1\n3\n"
    assert "offset 1: aggregate failed: not an integer: x" in result.err


def test_traps_fail_their_record_with_the_trap_message(ws: Workspace) -> None:
    ws.topic("t", "a\nunreachable\nb\noob\nc\ndeep\nd\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "trap"))
    assert result.code == 1
    assert result.out == "a\nb\nc\nd\n"
    reports = result.err.splitlines()
    assert len(reports) == 3
    assert "offset 1: map trapped: wasm trap: wasm `unreachable` instruction executed" in reports[0]
    assert "offset 3: map trapped: wasm trap: out of bounds memory access" in reports[1]
    assert "offset 5: map trapped: wasm trap: call stack exhausted" in reports[2]


def test_timeout_stops_an_endless_webassembly_loop(ws: Workspace) -> None:
    ws.topic("t", "a\nloop\nb\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "endless"), "--timeout", "0.3", timeout=30)
    assert result.code == 1
    assert result.out == "a\nb\n"
    assert "offset 1: map took longer than 0.3 s (--timeout)" in result.err


def test_init_refusing_its_parameters_is_a_usage_error_before_any_record(ws: Workspace) -> None:
    ws.topic("t", "abc\n")
    module = fixture(ws, "filter_init")
    result = run(ws, "t", "--print", "--map", module)
    assert (result.code, result.out) == (2, "")
    assert result.err == f"smartview: {module}: init failed: Missing param key\n"
    result = run(ws, "test", module, "--text", "abc")
    assert result.code == 2 and "Missing param key" in result.err


def test_parameters_reach_init_without_metadata(ws: Workspace) -> None:
    ws.topic("t", "Apple\nbanana\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "filter_init"), "-e", "key=APPLE", "-e", "ignore_case=true")
    assert (result.code, result.out) == (0, "Apple\n")


def test_wasi_output_goes_to_stderr_never_into_records(ws: Workspace) -> None:
    ws.topic("t", "one\ntwo\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "wasi_print"))
    assert (result.code, result.out) == (0, "one\ntwo\n")
    assert "wasi stdout: one" in result.err and "wasi stderr: 3 bytes" in result.err


def test_a_chain_mixes_python_and_webassembly(ws: Workspace) -> None:
    ws.topic("t", "ab\nfail\ncd\n")
    ws.module("exclaim", "def map(record):\n    return record.value + b'!'\n")
    result = run(ws, "t", "--print", "--map", fixture(ws, "map_upper"), "--map", "exclaim",
                 "--modules-dir", str(ws.modules))
    assert result.code == 1
    assert result.out == "AB!\nCD!\n"
    assert "offset 1: map_upper (module 1 of 2): map failed" in result.err


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not a module at all", "not a WebAssembly file"),
        ((WASM / "map_upper.wasm").read_bytes()[:5000], "not a valid WebAssembly module: unexpected end-of-file"),
        ((WASM / "not_smartmodule.wasm").read_bytes(), "not a Fluvio SmartModule: it exports none of filter, map"),
        ((WASM / "old_abi.wasm").read_bytes(), "export filter is (i32, i32) -> i32, not (i32, i32, i32) -> i32"),
        (b"\x00asm\x0d\x00\x01\x00", "a WebAssembly component, not a core module"),
    ],
)
def test_a_bad_file_is_one_line_with_its_path(ws: Workspace, content: bytes, message: str) -> None:
    ws.topic("t", "a\n")
    path = ws.root / "bad.wasm"
    path.write_bytes(content)
    result = run(ws, "t", "--print", "--map", str(path))
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert result.err.startswith(f"smartview: {path}: ") and message in result.err
    assert "Traceback" not in result.err


def test_modules_lists_smartmodules_with_kind_and_metadata_parameters(ws: Workspace) -> None:
    shutil.copy(WASM / "filter_init.wasm", ws.modules / "grep.wasm")
    shutil.copy(WASM / "filter_init.toml", ws.modules / "grep.toml")
    shutil.copy(WASM / "aggregate_sum.wasm", ws.modules / "total.wasm")
    result = run(ws, "modules", "--modules-dir", str(ws.modules))
    assert result.code == 0
    assert "grep  [filter, init]  Keeps the records that contain a text" in result.out
    assert "-e key=…  required: the text a record must contain" in result.out
    assert "-e ignore_case=…  optional: true: compare in lower case" in result.out
    assert "total  [aggregate]" in result.out


def test_a_smartmodule_is_found_by_name_and_a_py_of_the_same_name_wins(ws: Workspace) -> None:
    ws.topic("t", "ab\n")
    shutil.copy(WASM / "map_upper.wasm", ws.modules / "shout.wasm")
    dirs = ("--modules-dir", str(ws.modules))
    assert run(ws, "t", "--print", "--smartmodule", "shout", *dirs).out == "AB\n"
    assert run(ws, "t", "--print", "--sm", "shout", *dirs).out == "AB\n"
    ws.module("shout", "def map(record):\n    return b'python'\n")
    assert run(ws, "t", "--print", "--map", "shout", *dirs).out == "python\n"
    assert run(ws, "t", "--print", "--smartmodule-path", str(ws.modules / "shout.wasm")).out == "AB\n"


def test_metadata_of_a_crate_is_found_from_its_target_folder(ws: Workspace) -> None:
    crate = ws.root / "my-filter"
    release = crate / "target" / "wasm32-unknown-unknown" / "release-lto"
    release.mkdir(parents=True)
    shutil.copy(WASM / "filter_init.wasm", release / "my_filter.wasm")
    shutil.copy(WASM / "filter_init.toml", crate / "SmartModule.toml")
    result = run(ws, "modules", "--modules-dir", str(release))
    assert "-e key=…  required: the text a record must contain" in result.out


def test_the_compiled_module_is_cached_by_content(ws: Workspace) -> None:
    ws.topic("t", "ab\n")
    module = fixture(ws, "map_upper")
    assert run(ws, "t", "--print", "--map", module).out == "AB\n"
    entries = list((ws.root / "cache" / "smartview" / "wasm").glob("*.cwasm"))
    assert len(entries) == 1
    entries[0].write_bytes(b"garbage")  # a broken cache entry is compiled again, not an error
    assert run(ws, "t", "--print", "--map", module).out == "AB\n"
    assert entries[0].read_bytes() != b"garbage"


def test_lookback_last_feeds_a_smartmodules_look_back_before_the_range(ws: Workspace) -> None:
    topic = ws.topic("lb", "".join(f"r{n}\n" for n in range(7)))
    module = str(WASM / "look_back_count.wasm")
    fed = run(ws, str(topic), "--map", module, "--start", "5", "--lookback-last", "3", "--print")
    assert (fed.code, fed.out) == (0, "4 r5\n5 r6\n")  # three records before offset 5, then its own
    unfed = run(ws, str(topic), "--map", module, "--start", "5", "--print")
    assert unfed.out == "1 r5\n2 r6\n"
    refused = run(ws, str(topic), "--map", str(WASM / "map_upper.wasm"), "--start", "5", "--lookback-last", "3", "--print")
    assert refused.code == 2 and "look_back" in refused.err and refused.out == ""
