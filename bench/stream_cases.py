"""Topics read front to back: a topic piped into the viewer, and a gzip-compressed topic.

`pipe`: `cat FILE | smartview - --map user_events` in tmux: launch to the first mapped rows, launch to
the last record shown (the whole pipe spooled and counted), and the memory of every process of the pane
(cat, the viewer and its helpers) over the next seconds.
`gz`: `smartview FILE.gz --map user_events`: launch to the first rows, and to every record decompressed
and counted (the last row shown and the status bar saying the input ended), side by side in each round
with `zcat FILE.gz | wc -l` and with `smartview FILE.gz --print` to a file.
"""

from __future__ import annotations

import gzip
import re
import shutil
import time
from pathlib import Path

from cases import Context, label, last_row_shown, missing, _open_timeout
from measure import Command, Samples, megabytes, paired_ratios, run_once
from report import Row, Target

FIRST_ROWS = re.compile(r'^\s*\d+ \{"type":', re.M)


def _gzipped(ctx: Context, count: int) -> Path:
    path = ctx.topic(count)
    packed = path.with_name(path.name + ".gz")
    if not packed.exists():
        ctx.log(f"  compressing {path.name} (gzip -6) ...")
        tmp = packed.with_suffix(".tmp")
        with open(path, "rb") as source, gzip.open(tmp, "wb", compresslevel=6) as out:
            shutil.copyfileobj(source, out, 1 << 20)
        tmp.rename(packed)
    return packed


def _sizes(ctx: Context) -> list[int]:
    return [c for c in ctx.sizes if c >= 1_000_000] or [max(ctx.sizes)]


def _once(ctx: Context, argv: list[str], done, count: int, settle: float) -> tuple[float, float, float] | str:
    """One launch: seconds to the first rows, seconds to `done`, and the pane's peak PSS (MB) for `settle` s after."""
    pane = ctx.tmux().launch(argv, cwd=ctx.data_dir)
    try:
        first = pane.wait(lambda s: bool(FIRST_ROWS.search(s)), pane.t0, _open_timeout(count), interval=0.01)
        end = pane.wait(done, pane.t0, 20 + 20 * count / 1_000_000, interval=0.02)
        peak = 0
        stop = time.perf_counter() + settle
        while end.elapsed is not None and time.perf_counter() < stop:
            peak = max(peak, pane.memory()[0])
            time.sleep(0.05)
    finally:
        pane.kill()
    if first.elapsed is None or end.elapsed is None:
        return (first if first.elapsed is None else end).describe()
    return first.elapsed, end.elapsed, megabytes(peak)


def _series(ctx: Context, argv: list[str], done, count: int, settle: float,
            beside: dict[str, Command] | None = None) -> tuple[list[Samples], dict[str, Samples]] | str:
    """(first rows, done, memory) over warm-up + repeat launches; `beside` commands run once in each round."""
    viewer = [Samples(), Samples(), Samples()]
    others = {name: Samples() for name in beside or {}}
    for attempt in range(1 + ctx.repeat):
        result = _once(ctx, argv, done, count, settle)
        if isinstance(result, str):
            return result
        for name, command in (beside or {}).items():
            elapsed = run_once(command)
            if attempt:
                others[name].values.append(elapsed)
        if attempt:
            for samples, value in zip(viewer, result):
                samples.values.append(value)
    return viewer, others


def case_pipe(ctx: Context) -> list[Row]:
    if ctx.tmux() is None:
        return [Row("pipe", "viewer first screen", text=missing("tmux"))]
    rows = []
    for count in _sizes(ctx):
        path = ctx.topic(count)
        case = f"pipe {label(count)}"
        argv = ["sh", "-c", f"cat {path.name} | exec {' '.join(ctx.sv)} - --map user_events"]
        done = last_row_shown(count - 1)
        result = _series(ctx, argv, lambda s: done(s) and "pipe ended" in s, count, 0.3 if ctx.quick else 1.5)
        if isinstance(result, str):
            rows.append(Row(case, "cat FILE | smartview -: launch -> first rows", text="failed", ok=False, note=result))
            continue
        (firsts, dones, memory), _ = result
        rows.append(Row(case, "cat FILE | smartview - --map user_events: launch -> first screen of mapped rows",
                        samples=firsts, target=Target("<", 0.6, "< 0.6 s")))
        rows.append(Row(case, "cat FILE | smartview -: launch -> every record spooled and shown (last row)",
                        samples=dones))
        rows.append(Row(case, "cat FILE | smartview -: max memory (PSS, cat and all smartview processes)", "MB",
                        memory, target=Target("<", 70, "< 70 MB")))
    return rows


def case_gz(ctx: Context) -> list[Row]:
    if ctx.tmux() is None:
        return [Row("gz", "viewer first rows", text=missing("tmux"))]
    rows = []
    for count in _sizes(ctx):
        packed = _gzipped(ctx, count)
        case = f"gz {label(count)}"
        argv = [*ctx.sv, packed.name, "--map", "user_events"]
        done = last_row_shown(count - 1)
        beside = {
            "zcat": Command(["sh", "-c", f"zcat {packed.name} | wc -l"], cwd=ctx.data_dir),
            "print": Command([*ctx.sv, packed.name, "--print"], cwd=ctx.data_dir),
        }
        result = _series(ctx, argv, lambda s: done(s) and f"{count:,} records" in s and ", ended" in s, count,
                         0.3 if ctx.quick else 1.0, beside)
        if isinstance(result, str):
            rows.append(Row(case, "smartview FILE.gz: launch -> first rows", text="failed", ok=False, note=result))
            continue
        (firsts, dones, memory), timed = result
        rows.append(Row(case, "smartview FILE.gz --map user_events: launch -> first rows", samples=firsts,
                        target=Target("<", 0.6, "< 0.6 s")))
        rows.append(Row(case, "smartview FILE.gz: launch -> every record decompressed and counted", samples=dones))
        rows.append(Row(case, "zcat FILE.gz | wc -l", samples=timed["zcat"]))
        rows.append(Row(case, "every record counted: viewer / zcat | wc -l", "x", paired_ratios(dones, timed["zcat"])))
        rows.append(Row(case, "smartview FILE.gz --print > /dev/null (no module)", samples=timed["print"]))
        rows.append(Row(case, "time --print / zcat | wc -l", "x", paired_ratios(timed["print"], timed["zcat"])))
        rows.append(Row(case, "smartview FILE.gz: max memory (PSS, all its processes)", "MB", memory))
    return rows
