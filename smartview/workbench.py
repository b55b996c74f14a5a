"""`smartview test` and `smartview new`: write a module and try it on inline input, in seconds.

Unlike `smdk test`, a failing record is never hidden: the offset, the exception and the module's own
traceback are printed, and the exit status says so.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import BinaryIO

from .core.errors import SmartviewError
from .core.modules.module import KINDS, Module
from .core.record import Record
from .core.modules.runner import Failure, Mapper


def run_test(module: Module, values: dict[str, str], inputs: list[bytes], initial: str | None) -> int:
    """Apply the module to each input (offsets from 0); print outputs, and failures with tracebacks."""
    mapper = Mapper(module, module.make_params(values), initial)
    failed = 0
    out = sys.stdout.buffer
    for offset, value in enumerate(inputs):
        result = mapper.apply_many(Record(offset, None, value))
        if isinstance(result, Failure):
            failed += 1
            out.flush()
            print(f"offset {offset}: {result.error} (at {result.location})", file=sys.stderr)
            if result.traceback:
                print("    " + result.traceback.replace("\n", "\n    "), file=sys.stderr)
            continue
        for output in result:
            key = b"" if output.key is None else b"[" + output.key + b"] "
            out.write(key + output.value + b"\n")
    out.flush()
    return 1 if failed else 0


def read_inputs(texts: list[str] | None, file: str | None, stdin: BinaryIO | None) -> list[bytes]:
    """The records to try: `--text` values, the lines of `--file`, or the lines read from `stdin`."""
    if texts:
        return [text.encode() for text in texts]
    if file is not None:
        try:
            data = Path(file).read_bytes()
        except OSError as exc:
            raise SmartviewError(f"input file {file} cannot be read: {exc.strerror}") from None
    elif stdin is not None:
        data = stdin.read()
    else:
        raise SmartviewError("give the input with --text VALUE (repeatable), --file FILE or --stdin")
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


def new_module(name: str, kind: str, with_params: bool, folder: Path) -> list[Path]:
    """Write NAME.py from a template and test_NAME.py beside it; refuse to overwrite."""
    if not name.isidentifier():
        raise SmartviewError(f"module name {name!r} must be a Python identifier (letters, digits, _)")
    if kind not in KINDS:
        raise SmartviewError(f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    module_path = folder / f"{name}.py"
    test_path = folder / f"test_{name}.py"
    for path in (module_path, test_path):
        if path.exists():
            raise SmartviewError(f"{path} already exists")
    body = TEMPLATES[kind]
    imports = ("import json\n" if "json." in body else "") + ("from dataclasses import dataclass\n" if with_params else "")
    source = f'"""{name}: a {kind} module. Describe what it does on this first line."""\n\n{imports}'
    source += PARAMS if with_params else ""
    source += "\n\n" + body
    folder.mkdir(parents=True, exist_ok=True)
    module_path.write_text(source)
    test_path.write_text(_test_source(name, kind))
    return [module_path, test_path]


def _test_source(name: str, kind: str) -> str:
    return f'''"""Tests for {name}.py: run with `python -m pytest {name}` or try it with
`smartview test {name}.py --text '{{"a": 1}}'`."""

import subprocess
from pathlib import Path

from smartview.core.children import python_command

HERE = Path(__file__).parent


def test_{name}_runs_on_a_record():
    # python_command keeps the working directory off the child's sys.path.
    result = subprocess.run(
        python_command("smartview", "test", str(HERE / "{name}.py"), "--text", '{{"a": 1}}'),
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
'''
