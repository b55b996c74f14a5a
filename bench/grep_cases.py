"""The quick filter's benchmark case: its counting pass over 1M (and 10M) records, beside `grep -c`.

The viewer is opened with `--grep PATTERN` (the quick filter, set from the command line: the same stage
and background pass as `\\` in the viewer). Figures: launch -> the first matching rows on screen, and
launch -> every record counted (the status bar says `N of M match` with M the topic's size), with N
checked against `grep -c` on the same file; `grep -c` and `--print --grep` are timed side by side.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from cases import Context, _open_timeout, label, missing
from measure import Command, Samples, paired_ratios, side_by_side
from report import Row, Target

# (pattern for smartview, the same for grep -c, what it is, the same selection as a module, if any)
PATTERNS = [
    (".type=login", ["-c", '"type":"login"'], "field .type=login", ["--map", "where", "-e", "equals=login"]),
    ("edge", ["-ci", "edge"], "text edge (any case)", None),
]


def case_grep(ctx: Context) -> list[Row]:
    if ctx.tmux() is None:
        return [Row("grep", "quick filter first rows", text=missing("tmux"))]
    grep = shutil.which("grep")
    rows: list[Row] = []
    for count in [c for c in ctx.sizes if c >= 1_000_000] or [max(ctx.sizes)]:
        path = ctx.topic(count)
        case = f"grep {label(count)}"
        name = _short_topic(ctx, path, count)
        # 10M: the field test alone (each pass takes minutes on a busy 2-core machine).
        for pattern, grep_args, what, module in PATTERNS if count <= 1_000_000 else PATTERNS[:1]:
            expected = _grep_count(grep, grep_args, path) if grep else None
            viewer, counted, note = _viewer_series(ctx, name, ["--grep", pattern], f"viewer --grep {pattern}", count)
            rows += viewer
            if module is not None:
                # The same rows chosen by a filter module, in the same run: what the built-in stage costs beside it.
                same, _, _ = _viewer_series(ctx, name, module, f"viewer {' '.join(module)}", count, with_count=False)
                rows += same
                mine = [row for row in viewer if "counted" in row.figure and row.samples.values]
                theirs = [row for row in same if "counted" in row.figure and row.samples.values]
                if mine and theirs:
                    rows.append(Row(case, f"{what}: quick filter's pass / the where module's pass", "x",
                                    paired_ratios(mine[0].samples, theirs[0].samples)))
            commands = {
                "smartview --print --grep": Command([*ctx.sv, str(path), "--grep", pattern, "--print"]),
            }
            if grep:
                # To a file: GNU grep stops at the first match when its output is /dev/null, even with -c.
                commands["grep -c"] = Command([grep, *grep_args, str(path)], stdout=ctx.data_dir / "grep-count.txt")
            timed = side_by_side(commands, max(1, ctx.repeat // 2 if count > 1_000_000 else ctx.repeat))
            rows.append(Row(case, f"{what}: smartview --print --grep", samples=timed["smartview --print --grep"]))
            if not grep:
                rows.append(Row(case, f"{what}: grep -c", text="missing (install: apt-get install grep)"))
                continue
            rows.append(Row(case, f"{what}: grep {' '.join(grep_args)}", samples=timed["grep -c"]))
            passes = [row for row in viewer if "counted" in row.figure and row.samples.values]
            if passes:
                rows.append(Row(case, f"{what}: viewer's counting pass / grep -c", "x",
                                paired_ratios(passes[0].samples, timed["grep -c"])))
            rows.append(Row(case, f"{what}: --print --grep / grep -c", "x",
                            paired_ratios(timed["smartview --print --grep"], timed["grep -c"])))
            same = counted is not None and counted == expected
            rows.append(Row(case, f"{what}: viewer's count == grep -c", text=f"{counted} vs {expected}", ok=same,
                            note=note))
    return rows


def _grep_count(grep: str, args: list[str], path: Path) -> int:
    import subprocess

    return int(subprocess.run([grep, *args, str(path)], capture_output=True, text=True).stdout.strip() or 0)


def _short_topic(ctx: Context, path: Path, count: int) -> str:
    """The data file as a topic of a short name (a link in a topics folder): the status bar keeps room for the count."""
    folder = ctx.data_dir / "grep-topics"
    folder.mkdir(exist_ok=True)
    name = f"g{label(count).lower()}"
    link = folder / f"{name}.jsonl"
    if not link.exists():
        link.symlink_to(path.resolve())
    return name


def _viewer_series(ctx: Context, name: str, flags: list[str], what: str, count: int,
                   with_count: bool = True) -> tuple[list[Row], int | None, str]:
    """Launch -> first matching rows and launch -> every record counted, (1 warm-up + repeat) times."""
    case = f"grep {label(count)}"
    first = re.compile(r"^\s*(?:\d+|…) \{", re.M)  # `…`: the last records' rows, before the count
    # The quick filter says "N of M match"; a filter module "N passed" once its pass has read M records.
    done = re.compile(rf"([\d,]+) of {count:,} match" if with_count else rf"{count:,} records · [\d,]+ passed · 0 errors · ")  # not "(checking N%)"
    firsts, dones, failure, counted = Samples(), Samples(), "", None
    repeat = max(1, ctx.repeat // 2) if count > 1_000_000 else ctx.repeat
    for attempt in range(1 + repeat):
        # The file by its name, from its folder: a short topic label leaves the count room in the status bar.
        pane = ctx.tmux().launch([*ctx.sv, name, "--topics-dir", str(ctx.data_dir / "grep-topics"), *flags],
                                 cwd=ctx.data_dir)
        try:
            seen = pane.wait(lambda s: bool(first.search(s)), pane.t0, _open_timeout(count), interval=0.01)
            end = pane.wait(lambda s: bool(done.search(s)), pane.t0, 20 + 20 * count / 1_000_000, interval=0.02)
        finally:
            pane.kill()
        if seen.elapsed is None or end.elapsed is None:
            failure = (seen if seen.elapsed is None else end).describe()
            break
        counted = int(done.search(end.screen).group(1).replace(",", "")) if with_count else None
        if attempt:
            firsts.values.append(seen.elapsed)
            dones.values.append(end.elapsed)
    if not firsts.values:
        return [Row(case, f"{what}: launch -> first matching rows", text="failed", ok=False, note=failure)], None, failure
    return [
        Row(case, f"{what}: launch -> first matching rows", samples=firsts, note=failure,
            target=Target("<", 0.8, "< 0.8 s") if count > 1_000_000 else Target("<", 0.6, "< 0.6 s")),
        Row(case, f"{what}: launch -> every record counted", samples=dones),
    ], counted, failure
