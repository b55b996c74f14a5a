"""Outside text through the real command: every line that reaches a terminal shows it escaped, never acts on it.

Records, module docstrings, defaults, choices, error messages and paths all carry the strings of
tests/hostile.py. Output to a terminal is read from a real pseudo-terminal; stderr lines and listings are
escaped wherever they go; `--print` to a pipe stays byte for byte what the topic holds.
"""

from __future__ import annotations

import json
import os
import pty
import subprocess
import tty

import pytest

from conftest import Result, Workspace, smartview_command
from hostile import ARG, MODULE, SHOWN, TEXT, shown, unsafe_in


def run_on_terminal(ws: Workspace, *args: str) -> Result:
    """Run smartview with stdout on a pseudo-terminal (raw, so the bytes arrive as written) and stderr on a pipe."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    proc = subprocess.Popen(
        [*smartview_command(), *args], stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
        cwd=ws.root, env=ws.env(),
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 1 << 16)
        except OSError:  # the terminal's other side closed: the command ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    err = proc.stderr.read()
    proc.wait(timeout=60)
    return Result(proc.returncode, b"".join(chunks).decode(errors="replace"), err.decode(errors="replace"))


def assert_safe(text: str, *pieces: str) -> None:
    assert not unsafe_in(text), f"unsafe characters reached the terminal: {unsafe_in(text)!r} in {text!r}"
    for piece in pieces:
        assert piece in text, f"{piece!r} is not shown in {text!r}"


@pytest.fixture
def hostile(ws: Workspace) -> Workspace:
    ws.topic("nasty", (TEXT + "\n" + json.dumps({"m": TEXT}, ensure_ascii=False) + "\nfail\n").encode())
    ws.module("evil", MODULE)
    return ws


def test_print_to_a_terminal_escapes_records_and_failures(hostile: Workspace) -> None:
    result = run_on_terminal(hostile, "nasty", "--map", "evil", "--modules-dir", str(hostile.modules), "--print")
    assert result.code == 1
    assert_safe(result.out, shown())
    assert result.out.count("\n") == 2  # two records, one line each
    assert_safe(result.err, "offset 2", *SHOWN)
    assert len(result.err.splitlines()) == 1


def test_print_to_a_pipe_keeps_the_bytes(hostile: Workspace) -> None:
    proc = subprocess.run([*smartview_command(), "nasty", "--print"], capture_output=True, cwd=hostile.root,
                          env=hostile.env())
    assert proc.stdout == (hostile.topics / "nasty.jsonl").read_bytes()


def test_a_module_path_with_controls_is_escaped_in_failure_reports(hostile: Workspace) -> None:
    name = ARG.replace("/", "_")
    path = hostile.modules / f"{name}.py"
    path.write_text(MODULE)
    result = hostile.run("nasty", "--map", str(path), "--print")
    assert result.code == 1
    assert_safe(result.err, shown(name))


@pytest.mark.parametrize("args", [
    [f"{ARG}.jsonl", "--print"],  # a topic path that does not exist
    ["nasty", "--start", ARG],  # argparse's own error quotes the argument
    ["nasty", "--map", "evil", "-e", f"count={ARG}", "--print"],  # a bad parameter value
    ["nasty", "--map", "evil", "-e", f"{ARG.replace('=', '_')}=1", "--print"],  # an unknown parameter
    ["nasty", "--map", f"{ARG}.py", "--print"],  # a module file that does not exist
    ["test", f"{ARG}.py", "--text", "x"],
])
def test_error_lines_escape_what_they_quote(hostile: Workspace, args: list[str]) -> None:
    result = hostile.run(*args, "--modules-dir", str(hostile.modules))
    assert result.code == 2
    assert_safe(result.err, "\\x1b]52;c;aGFja2Vk\\x07")
    assert "Traceback" not in result.err


def test_smartview_test_escapes_outputs_on_a_terminal_and_failures_always(hostile: Workspace) -> None:
    result = run_on_terminal(hostile, "test", "evil", "--modules-dir", str(hostile.modules),
                             "--text", ARG, "--text", "fail")
    assert result.code == 1
    assert_safe(result.out, shown(ARG))
    assert_safe(result.err, "offset 1", *SHOWN)
    piped = hostile.run("test", "evil", "--modules-dir", str(hostile.modules), "--text", ARG)
    assert piped.out == ARG + "\n"  # a pipe gets the output as the module made it


def test_module_listing_escapes_docstrings_defaults_and_choices(hostile: Workspace) -> None:
    result = hostile.run("modules", "--modules-dir", str(hostile.modules))
    assert result.code == 0, result.err
    evil = result.out.split("\n\n")[[n for n, b in enumerate(result.out.split("\n\n")) if b.startswith("evil")][0]]
    assert_safe(evil, "-e café=…", *SHOWN)
    assert evil.count(shown(TEXT)) == 2  # the default of label and a choice of mode


def test_topic_listing_escapes_the_folder_it_names(hostile: Workspace) -> None:
    """Topic names are [a-z0-9-] only; the folder they are looked for in is any path."""
    folder = hostile.root / ARG.replace("/", "_")
    folder.mkdir()
    result = hostile.run("topics", "--topics-dir", str(folder))
    assert result.code == 0, result.err
    assert_safe(result.err, shown(folder.name))


@pytest.mark.parametrize("case", ["too long", "ends mid-record", "damaged gzip"])
def test_reports_about_the_input_escape_its_path(ws: Workspace, case: str) -> None:
    """A record past the limit, a compressed input cut mid-record or damaged: the line names a path from outside."""
    import gzip

    stem = ws.root / "dl\x1b]0;pwned\x07\x9b2J\u202e"
    if case == "too long":
        path = stem.with_name(stem.name + ".jsonl")
        path.write_bytes(b'{"a":1}\n' + b"x" * (2 << 20) + b"\n")
    elif case == "ends mid-record":
        path = stem.with_name(stem.name + ".jsonl.gz")
        path.write_bytes(gzip.compress(b'{"a":1}\n{"b":2}'))
    else:
        path = stem.with_name(stem.name + ".jsonl.gz")
        whole = gzip.compress(b'{"a":1}\n' * 1000)
        path.write_bytes(whole[: len(whole) // 2])
    for jobs in (["--jobs", "2"], []) if case == "too long" else ([],):
        result = ws.run(str(path), "--print", "--max-record-bytes", "1M", *jobs)
        assert result.code in (0, 1) and "Traceback" not in result.err
        assert_safe(result.err, "dl\\x1b]0;pwned\\x07\\x9b2J\\u202e")
