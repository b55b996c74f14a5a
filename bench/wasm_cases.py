"""The WebAssembly case: `--print` with Fluvio SmartModules (built from tests/wasm/src) on 500k records,
side by side with the host's floor and the same logic as a Python module."""

from __future__ import annotations

import sys
from pathlib import Path

import filecmp
import re

from cases import BENCH, Context, _first_difference, _offset_pattern, _open_timeout, _throughput, label, open_once
from measure import Command, Samples, paired_ratios, run_once, side_by_side
from report import Row, Target

FIXTURES = BENCH.parent / "tests" / "wasm"

# map_upper.wasm's logic in Python: the value in upper case, keyed by its first word.
PYTHON_UPPER = '''
def map(record, params):
    if b"fail" in record.value:
        raise ValueError("cannot map a record that says fail")
    upper = record.value.upper()
    return upper.split(b" ", 1)[0], upper
'''


def case_wasm(ctx: Context) -> list[Row]:
    n = ctx.print_count
    path = ctx.topic(n)
    upper_py = ctx.write("modules/upper.py", PYTHON_UPPER)
    identity, upper = FIXTURES / "identity.wasm", FIXTURES / "map_upper.wasm"
    case = f"wasm {label(n)}"
    one = ["--print", "--jobs", "1"]
    commands = {
        "floor": Command([sys.executable, str(BENCH / "wasm_floor.py"), str(identity), str(path)]),
        "identity.wasm": Command([*ctx.sv, str(path), "--map", str(identity), *one]),
        "upper.wasm": Command([*ctx.sv, str(path), "--map", str(upper), *one]),
        "upper.py": Command([*ctx.sv, str(path), "--map", str(upper_py), *one]),
        "upper.wasm auto": Command([*ctx.sv, str(path), "--map", str(upper), "--print"]),
    }
    ctx.log(f"  {len(commands)} commands x ({ctx.repeat} + 1 warm-up), side by side")
    t = side_by_side(commands, ctx.repeat)
    return _same_outputs(ctx, case, commands, path) + _first_screens(ctx, case, path, upper, upper_py, n) + [
        Row(case, "floor: encode, call identity.wasm, decode (bench/wasm_floor.py)", samples=t["floor"],
            note=_throughput(t["floor"], n)),
        Row(case, "smartview --print --jobs 1, identity.wasm", samples=t["identity.wasm"],
            note=_throughput(t["identity.wasm"], n)),
        Row(case, "time identity.wasm / floor", "x", paired_ratios(t["identity.wasm"], t["floor"]),
            target=Target("<=", 1.2, "<= 1.2x")),
        Row(case, "smartview --print --jobs 1, map_upper.wasm", samples=t["upper.wasm"],
            note=_throughput(t["upper.wasm"], n)),
        Row(case, "smartview --print --jobs 1, the same map in Python", samples=t["upper.py"],
            note=_throughput(t["upper.py"], n)),
        Row(case, "time map_upper.wasm / Python map", "x", paired_ratios(t["upper.wasm"], t["upper.py"])),
        Row(case, "smartview --print (jobs auto), map_upper.wasm", samples=t["upper.wasm auto"],
            note=_throughput(t["upper.wasm auto"], n)),
    ]


def _same_outputs(ctx: Context, case: str, commands: dict[str, Command], path: Path) -> list[Row]:
    """The identity SmartModule gives the input back, through the floor and through smartview; the
    map gives the Python module's output."""
    outputs = {}
    for name in ("floor", "identity.wasm", "upper.wasm", "upper.py"):
        out = ctx.data_dir / "out" / f"wasm-{name}.jsonl"
        out.parent.mkdir(exist_ok=True)
        run_once(Command(commands[name].argv, stdout=out))
        outputs[name] = out
    rows = []
    for a, b in (("floor", None), ("identity.wasm", None), ("upper.wasm", "upper.py")):
        other = path if b is None else outputs[b]
        same = filecmp.cmp(outputs[a], other, shallow=False)
        rows.append(Row(case, f"output of {a} == {'input' if b is None else b} (bytes)",
                        text="identical" if same else "differs", ok=same,
                        note="" if same else _first_difference(outputs[a], other)))
    for out in outputs.values():
        out.unlink()
    return rows


def _first_screens(ctx: Context, case: str, path: Path, wasm: Path, python: Path, n: int) -> list[Row]:
    """The viewer's first screen with the SmartModule and with the Python module, opened in turns."""
    if ctx.tmux() is None:
        return [Row(case, "viewer first screen", text="tmux missing")]
    pattern = re.compile(rf"(?<![\d,_]){_offset_pattern(n - 1)}(?![\d,_]).*\"TYPE\":")
    ready = lambda screen: any(pattern.search(line) for line in screen.splitlines())  # noqa: E731
    times: dict[str, Samples] = {"wasm": Samples(), "python": Samples()}
    for number in range(ctx.repeat + 1):
        for name, module in (("wasm", wasm), ("python", python)):
            # One cache for these launches: the compiled SmartModule is kept there, as a user's would be.
            opened = open_once(ctx, [*ctx.sv, str(path), "--map", str(module)], ready, _open_timeout(n), 0.0,
                               cache=ctx.tmux().caches / "wasm")
            if opened.seconds is None:
                return [Row(case, f"viewer first screen ({name})", text="not shown", ok=False, note=opened.error)]
            if number:  # the first round warms up
                times[name].values.append(opened.seconds)
    return [
        Row(case, "viewer: launch -> first screen, map_upper.wasm", samples=times["wasm"]),
        Row(case, "viewer: launch -> first screen, the same map in Python", samples=times["python"]),
        Row(case, "first screen map_upper.wasm / Python map", "x", paired_ratios(times["wasm"], times["python"]),
            target=Target("<=", 1.2, "<= 1.2x")),
    ]
