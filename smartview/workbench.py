"""`smartview test` and `smartview new`: write a module and try it on inline input, in seconds.

`smartview test` takes `smdk test`'s flags (--text, --file, --raw, --stdin, --key, -k, -e,
--transforms, --transforms-line, --record, --lookback-last). Unlike `smdk test`, a failing record is
never hidden: the offset, the exception and the module's own traceback are printed, and the exit status
says so; with several inputs every output is labelled with its record's offset, so a dropped record
shows too. Failures are always escaped (core/text.py); outputs are escaped when stdout is a terminal and
written as they are to a pipe, as `--print` does.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .core.errors import SmartviewError
from .core.modules.chain import build
from .core.modules.lookback import Lookback
from .core.modules.module import KINDS, Module
from .core.record import Record
from .core.modules.runner import Failure
from .core.text import printable, printable_bytes


@dataclass(frozen=True)
class TestRun:
    """What `smartview test` runs: the modules with their values and lookbacks, and how to print."""

    stages: list[tuple[Module, dict[str, str]]]
    lookbacks: list[Lookback | None]
    initial: str | None = None
    key: bytes | None = None  # every input record's key (--key)
    key_value: bool = False  # print [key] value (-k)


def run_test(run: TestRun, inputs: list[bytes], before: list[bytes], out: BinaryIO) -> int:
    """Apply the modules to each input; print outputs, and failures with tracebacks.

    `before` are the records the topic holds before the inputs (--record): offsets 0.. for them, then the
    inputs; a module's look_back is fed the ones its lookback asks for, as a consumer starting at the
    first input would.
    """
    mapper = build(run.stages, run.initial, run.lookbacks, tracebacks=True)
    prior = [Record(offset, run.key, value) for offset, value in enumerate(before)]
    mapper.look_back(lambda lookback: lookback.select(prior, 0))
    keeps_no_key = any(module.kind == "aggregate" for module, _ in run.stages)  # a running total is no record's
    failed = 0
    labelled = len(inputs) > 1
    escape = out.isatty()
    for offset, value in enumerate(inputs, len(before)):
        result = mapper.apply_many(Record(offset, run.key, value))
        label = f"{offset}: ".encode() if labelled else b""
        if isinstance(result, Failure):
            failed += 1
            out.flush()
            print(printable(f"offset {offset}: {result.error} (at {result.location})"), file=sys.stderr)
            if result.traceback:
                print("    " + printable(result.traceback, keep_newlines=True).replace("\n", "\n    "), file=sys.stderr)
            continue
        if labelled and not result:
            out.write(label + b"(no output)\n")
        for output in result:
            # An output without a key of its own keeps its record's key, as --print shows it.
            key = output.key if output.key is not None or keeps_no_key else run.key
            line = label + _line(key, output.value, run.key_value)
            out.write(printable_bytes(line) if escape else line)
    out.flush()
    return 1 if failed else 0


def _line(key: bytes | None, value: bytes, key_value: bool) -> bytes:
    if key_value:
        return b"[" + (b"null" if key is None else key) + b"] " + value + b"\n"
    return (b"" if key is None else b"[" + key + b"] ") + value + b"\n"


def read_inputs(
    texts: list[str] | None, file: str | None, stdin: bool, raw: bool = False, stream: BinaryIO | None = None
) -> list[bytes]:
    """The test records: each --text, each line of --file (the whole file with --raw), or of stdin.

    Standard input is read when asked (--stdin) or when nothing else is given and it is not a terminal.
    `stream` is standard input as kept before any module was loaded (modules read /dev/null).
    """
    stream = stream if stream is not None else sys.stdin.buffer
    if texts:
        return [text.encode() for text in texts]
    if file is not None:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise SmartviewError(f"input file {file} cannot be read: {exc.strerror}") from None
        if raw:
            return [data]
    elif stdin or not stream.isatty():
        data = stream.read()
        if not data and not stdin:
            raise SmartviewError("standard input was empty; give the input with --text VALUE, --file FILE or --stdin")
    else:
        raise SmartviewError("give the input with --text VALUE (repeatable), --file FILE or --stdin (or pipe it in)")
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


TEMPLATES = {
    "map": ('def map(record, params):\n    """Return the new value: bytes, str, a dict or list (as JSON), or (key, value)."""\n'
            '    event = json.loads(record.value)\n    return event\n'),
    "filter": ('def filter(record, params):\n    """Return True to keep the record."""\n'
               '    event = json.loads(record.value)\n    return bool(event)\n'),
    "filter_map": ('def filter_map(record, params):\n    """Return a new value, or None to drop the record."""\n'
                   '    event = json.loads(record.value)\n    return event or None\n'),
    "array_map": ('def array_map(record, params):\n    """Return a list of values: each becomes a record."""\n'
                  '    event = json.loads(record.value)\n    return [event]\n'),
    "aggregate": ('INITIAL = {"count": 0}\n\n\ndef aggregate(acc, record, params):\n'
                  '    """Return the new accumulator; it is emitted after each record."""\n'
                  '    return {"count": acc["count"] + 1}\n'),
}

PARAMS = '''

@dataclass
class Params:
    enabled: bool = True
'''


# The record `new`'s next steps and generated test try the module on: every template takes it.
EXAMPLE = '{"a": 1}'


def new_module(name: str, kind: str, with_params: bool, folder: Path) -> list[Path]:
    """Write NAME.py from a template, and tests/test_NAME.py below it; refuse to overwrite.

    The test goes into a `tests` folder so that a module folder lists modules only: a `test_NAME.py`
    beside the module would be offered as a module that does not load.
    """
    if not name.isidentifier():
        raise SmartviewError(f"module name {name!r} must be a Python identifier (letters, digits, _)")
    if kind not in KINDS:
        raise SmartviewError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    module_path = folder / f"{name}.py"
    test_path = folder / "tests" / f"test_{name}.py"
    for path in (module_path, test_path):
        if path.exists():
            raise SmartviewError(f"{path} already exists")
    body = TEMPLATES[kind]
    imports = ("import json\n" if "json." in body else "") + ("from dataclasses import dataclass\n" if with_params else "")
    source = f'"""{name}: a {kind} module. Describe what it does on this first line."""\n\n{imports}'
    source += PARAMS if with_params else ""
    source += "\n\n" + body
    test_path.parent.mkdir(parents=True, exist_ok=True)
    module_path.write_text(source)
    test_path.write_text(_test_source(name, test_path))
    return [module_path, test_path]


def next_steps(module: str, topic: str | None) -> list[str]:
    """The commands that try a new module, each runnable as printed: `module` is how `--map` finds it
    (its name when a module folder holds it, else its path), `topic` a topic to view it on, if any."""
    test = shlex.join(["smartview", "test", module, "--text", EXAMPLE])
    if topic is not None:
        return [test, shlex.join(["smartview", topic, "--map", module])]
    # No topic yet: make one with a record, then view it.
    return [test, f"echo {shlex.quote(EXAMPLE)} | smartview produce try-it",
            shlex.join(["smartview", "try-it", "--map", module])]


def _test_source(name: str, test_path: Path) -> str:
    run = shlex.join(["python", "-m", "pytest", str(test_path.resolve())])
    return f'''"""Tests for {name}.py, in the folder above: run them with `{run}`."""

import subprocess
from pathlib import Path

from smartview.core.children import python_command

MODULE = Path(__file__).resolve().parent.parent / "{name}.py"


def test_{name}_runs_on_a_record():
    # python_command keeps the working directory off the child's sys.path.
    result = subprocess.run(
        python_command("smartview", "test", str(MODULE), "--text", {EXAMPLE!r}),
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
'''
