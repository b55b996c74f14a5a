"""The failures case: a module that fails on every record, against the same module passing them.

`--print` runs with stderr to a file (not a terminal, which would measure the terminal): the wall time of
the whole process, the time until the first report line is in the file, and (in one more run each, see
`_peak`) the peak memory (the largest process's maximum RSS), for 1M records that each fail and for the same 1M records passed through, side
by side in each round; memory is flat when 1M failures take no more than 100k do. The viewer's error count is the census process (`python -m smartview.core.runs.census`, the
child the viewer starts): the time until it has counted every record, for both modules.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cases import Context, label
from measure import Samples, clean_env, megabytes, paired_ratios
from report import Row, Target

# The same work for both runs but the raise: what is measured is smartview's cost of a failure.
MODULE = '''"""Pass records through; with fail=true, reject every one."""

from dataclasses import dataclass


@dataclass
class Params:
    fail: bool = False


def map(record, params):
    if params.fail:
        raise ValueError("rejected")
    return record.value
'''

def case_failures(ctx: Context) -> list[Row]:
    n = 2_000 if ctx.quick else 1_000_000
    path = ctx.topic(n)
    small = ctx.topic(n // 10)
    module = ctx.write("modules/reject.py", MODULE)
    err = ctx.data_dir / "out" / "failures-stderr.txt"
    err.parent.mkdir(exist_ok=True)
    case = f"failures {label(n)}"
    runs = {
        "good": [*ctx.sv, str(path), "--map", str(module), "--print"],
        "failing": [*ctx.sv, str(path), "--map", str(module), "-e", "fail=true", "--print"],
        "failing small": [*ctx.sv, str(small), "--map", str(module), "-e", "fail=true", "--print"],
    }
    wall = {name: Samples() for name in runs}
    first = Samples()
    peak = {name: Samples() for name in runs}
    reports = -1
    ctx.log(f"  {len(runs)} commands x ({ctx.repeat} + 1 warm-up), side by side, stderr to {err.name}")
    for round_number in range(1 + ctx.repeat):
        for name, argv in runs.items():
            if wall[name].error:
                continue
            try:
                elapsed, first_report = _run(argv, err, expect_failures=name != "good")
                peak_kib = _peak(argv, err)
            except RuntimeError as exc:
                wall[name].error = str(exc)
                continue
            if round_number == 0:
                continue
            wall[name].values.append(elapsed)
            peak[name].values.append(megabytes(peak_kib))
            if name == "failing":
                first.values.append(first_report)
                reports = _lines(err)
    err.unlink(missing_ok=True)
    rows = [
        Row(case, f"--print, {label(n)} records that each fail (stderr to a file)", samples=wall["failing"]),
        Row(case, f"--print, the same {label(n)} records passed", samples=wall["good"]),
        Row(case, "time failing / passing", "x", paired_ratios(wall["failing"], wall["good"]),
            target=Target("<=", 10, "<= 10x")),
        Row(case, "first report on stderr (from spawn)", samples=first, target=Target("<", 1.0, "< 1 s")),
        Row(case, f"peak memory (max RSS), {label(n)} failing", "MB", peak["failing"]),
        Row(case, f"peak memory (max RSS), {label(n)} passed", "MB", peak["good"]),
        Row(case, f"peak memory failing {label(n)} / failing {label(n // 10)}", "x",
            paired_ratios(peak["failing"], peak["failing small"]), target=Target("<=", 1.25, "<= 1.25x (flat)")),
        Row(case, "report lines == records", text=f"{reports:,} of {n:,}", ok=reports == n),
    ]
    return rows + _census_rows(ctx, case, path, module, n)


def _peak(argv: list[str], err: Path) -> int:
    """Peak RSS (KiB) of one more, untimed, run: the kernel's `ru_maxrss` from wait4, the largest process
    of the tree (smartview waits for its workers), exact and without sampling /proc. The run is started
    by bench/maxrss.py, a small process: one forked from this harness would count the harness's memory."""
    out = err.with_suffix(".maxrss")
    with open(err, "wb") as stderr:
        subprocess.run([sys.executable, str(Path(__file__).parent / "maxrss.py"), str(out), *argv],
                       stdout=subprocess.DEVNULL, stderr=stderr, env=clean_env())
    peak = int(out.read_text())
    out.unlink()
    return peak


def _run(argv: list[str], err: Path, expect_failures: bool) -> tuple[float, float | None]:
    """Wall time and seconds to the first byte on stderr of one `--print` run."""
    with open(err, "wb") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=clean_env())
        first_report = None
        while True:
            pid, status, _ = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if first_report is None and os.fstat(stderr.fileno()).st_size > 0:
                first_report = time.perf_counter() - start
            time.sleep(0.002)
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait for it again
    if first_report is None and err.stat().st_size > 0:
        first_report = elapsed
    expected = 1 if expect_failures else 0
    if proc.returncode != expected:
        tail = err.read_bytes()[-300:].decode(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"`{' '.join(argv[-4:])}` exited {proc.returncode}, expected {expected}: {tail}")
    return elapsed, first_report


def _lines(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _census_rows(ctx: Context, case: str, path: Path, module: Path, n: int) -> list[Row]:
    """The viewer's error count: the census child counting every record, failing and passing."""
    values = {"good": {}, "failing": {"fail": "true"}}
    times = {name: Samples() for name in values}
    for round_number in range(1 + ctx.repeat):
        for name, given in values.items():
            try:
                elapsed, failures = _census(path, module, given, n)
            except RuntimeError as exc:
                times[name].error = str(exc)
                continue
            expected = n if name == "failing" else 0
            if failures != expected:
                times[name].error = f"counted {failures} failures, expected {expected}"
            elif round_number:
                times[name].values.append(elapsed)
    return [
        Row(case, "viewer's error count (census process), failing", samples=times["failing"]),
        Row(case, "viewer's error count (census process), passed", samples=times["good"]),
        Row(case, "census failing / passing", "x", paired_ratios(times["failing"], times["good"]),
            target=Target("<=", 10, "<= 10x")),
    ]


def _census(path: Path, module: Path, values: dict[str, str], n: int) -> tuple[float, int]:
    """Seconds until the census process has counted `n` records, and the failures it counted."""
    from smartview.core.runs.rowprocess import write_frame  # the viewer's own framing

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "smartview.core.runs.census"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=clean_env())
    try:
        write_frame(proc.stdin, (str(path), str(module), 0, values))
        proc.stdin.close()
        for line in proc.stdout:
            progress = json.loads(line)
            if progress.get("error"):
                raise RuntimeError(f"census: {progress['error']}")
            if progress["done"] >= n:
                return time.perf_counter() - start, progress["failures"]
        raise RuntimeError("census ended before counting every record")
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
