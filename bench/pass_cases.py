"""The passes case: the viewer's background passes over a whole topic, in one process against two.

Each pass is the child process the viewer starts (`python -P -m smartview.core.runs.census` for the
error count, `... .outputs` for the output index of a filter or a chain, the quick filter's count and
find's count), fed the viewer's own frame, timed from spawn until it has reported every record of the
topic. The same pass runs with `SMARTVIEW_PASS_JOBS=1` (one process) and without (a large backlog is
split across two processes), one after the other in each round, so the ratio comes from one machine
state. Find's figure is the time until the pass reports the one record holding a rare string, on a
copy of the topic with that string put into the record three quarters of the way in. The results of both runs are compared record for record.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from array import array
from pathlib import Path

from cases import Context, label
from measure import Samples, clean_env, paired_ratios
from report import Row, Target

ROOT = Path(__file__).resolve().parent.parent
MODULES = ROOT / "modules"
GREP = ROOT / "core" / "modules" / "grep.py"


def case_passes(ctx: Context) -> list[Row]:
    sizes = [2_000] if ctx.quick else [1_000_000] + [n for n in ctx.sizes if n >= 10_000_000]
    rows: list[Row] = []
    for n in sizes:
        rows += _passes(ctx, n)
    return rows


def _passes(ctx: Context, n: int) -> list[Row]:
    path = ctx.topic(n)
    needle = _needle_topic(ctx, path, n)
    mapped = (str(MODULES / "user_events.py"), {"show_account_id": "false"})
    passes = {
        "error count (census), user_events": ("census", (str(path), mapped[0], 0, mapped[1])),
        "filter: where equals=login": ("outputs", [(str(MODULES / "where.py"), {"equals": "login"})]),
        "chain: where | fields drop=account_id": ("outputs", [(str(MODULES / "where.py"), {"equals": "login"}),
                                                             (str(MODULES / "fields.py"), {"drop": "account_id"})]),
        "quick filter: user_events, --grep edge": ("outputs", [mapped, (str(GREP), {"pattern": "edge"})]),
        "find (count) of a rare string at 3/4, user_events": ("find", [mapped, (str(GREP), {"pattern": NEEDLE})]),
    }
    case = f"passes {label(n)}"
    rounds = 1 if n >= 10_000_000 else ctx.repeat  # 10M: each pass takes tens of seconds alone
    warm = n < 10_000_000
    times = {(name, jobs): Samples() for name in passes for jobs in ("1", "auto")}
    same = {name: True for name in passes}
    ctx.log(f"  {len(passes)} passes x 2 (one process, auto) x ({rounds}{' + 1 warm-up' if warm else ''}), side by side")
    for round_number in range(rounds + warm):
        for name, (kind, spec) in passes.items():
            results = {}
            for jobs in ("1", "auto"):
                samples = times[(name, jobs)]
                if samples.error:
                    continue
                try:
                    elapsed, results[jobs] = _run(kind, spec, str(needle if kind == "find" else path), n, jobs)
                except RuntimeError as exc:
                    samples.error = str(exc)
                    continue
                if round_number >= warm:
                    samples.values.append(elapsed)
            if len(results) == 2 and results["1"] != results["auto"]:
                same[name] = False
            if kind == "find" and any(found != n * 3 // 4 for found in results.values()):
                same[name] = False  # the match is not the record the needle was put in
    rows = _keys_during_a_pass(ctx, case, path, n)
    for name in passes:
        alone, split = times[(name, "1")], times[(name, "auto")]
        figure = "time to the match" if passes[name][0] == "find" else "every record counted"
        rows += [
            Row(case, f"{name}: one process, {figure}", samples=alone),
            Row(case, f"{name}: auto (two processes)", samples=split),
            Row(case, f"{name}: auto / one process", "x", paired_ratios(split, alone),
                target=Target("<=", 0.6, "<= 0.6x") if n >= 10_000_000 else None),
            Row(case, f"{name}: same results", text="identical" if same[name] else "DIFFERENT", ok=same[name]),
        ]
    return rows


NEEDLE = "needle-5f1c9e"  # in no generated record


def _needle_topic(ctx: Context, path: Path, n: int) -> Path:
    """A copy of the topic whose record three quarters of the way in carries a string found nowhere else.

    Made once in the data folder: a topic put together from copies of a smaller one repeats every
    value, so no value of its own is rare.
    """
    needle = ctx.data_dir / f"needle-{label(n)}.jsonl"
    if needle.exists() and needle.stat().st_size > path.stat().st_size:
        return needle
    partial = needle.with_suffix(".partial")
    with open(path, "rb") as source, open(partial, "wb") as out:
        for number, line in enumerate(source):
            if number == n * 3 // 4:
                event = json.loads(line)
                event["user_client"] = NEEDLE
                line = json.dumps(event, separators=(",", ":")).encode() + b"\n"
            out.write(line)
    partial.rename(needle)
    return needle


def _run(kind: str, spec, path: str, n: int, jobs: str) -> tuple[float, object]:
    """Seconds from spawn until the pass is done (find: until its first match), and what it reported."""
    module = "smartview.core.runs.census" if kind == "census" else "smartview.core.runs.outputs"
    frame = spec if kind == "census" else (path, spec, None)
    env = clean_env() if jobs == "auto" else clean_env(SMARTVIEW_PASS_JOBS=jobs)
    from smartview.core.runs.rowprocess import read_frame, write_frame  # the viewer's own framing

    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-P", "-m", module], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    try:
        write_frame(proc.stdin, frame)
        proc.stdin.close()
        if kind == "census":
            failed: list[int] = []
            for line in proc.stdout:
                progress = json.loads(line)
                if progress.get("error"):
                    raise RuntimeError(f"census: {progress['error']}")
                failed += progress["failed"]
                if progress["done"] >= n:
                    return time.perf_counter() - start, (progress["failures"], failed)
            raise RuntimeError("the census ended before counting every record")
        counts = array("i")
        while len(counts) < n:
            try:
                message = read_frame(proc.stdout)
            except EOFError:
                raise RuntimeError("the pass ended before counting every record") from None
            if message[0] == "error":
                raise RuntimeError(f"pass: {message[1]}")
            counts.frombytes(message[2])
            if kind == "find" and any(count > 0 for count in array("i", message[2])):
                first = message[1] + next(i for i, c in enumerate(array("i", message[2])) if c > 0)
                return time.perf_counter() - start, first
        return time.perf_counter() - start, counts
    finally:
        proc.kill()
        proc.wait()


def _keys_during_a_pass(ctx: Context, case: str, path: Path, n: int) -> list[Row]:
    """In the viewer (tmux), `p` pressed every ~150 ms while the quick filter's pass counts on two
    processes: the time until the screen shows the parameter panel's new state."""
    from cases import _calibrate, _panel_signature, open_viewer

    figure = "keys during the quick filter's pass (fields, --grep edge): p answered"
    argv = [*ctx.sv, str(path), "--map", "fields", "-e", "drop=account_id", "--grep", "edge"]
    done = re.compile(rf"[\d,]+ of {n:,} match")
    pane, error = open_viewer(ctx, argv, lambda s: "keep (str)" in s, 30)
    if pane is None:
        return [Row(case, figure, samples=Samples(error=f"viewer not available: {error}"))]
    answers = Samples()
    try:
        visible = _panel_signature(pane.capture())
        hidden = _calibrate(pane, visible, [])
        if isinstance(hidden, str):
            answers.error = hidden
        states = {True: visible, False: hidden}
        showing = True
        while not answers.error and len(answers.values) < 400:
            if done.search(pane.capture()):
                break
            showing = not showing
            t0 = time.perf_counter()
            pane.send("p")
            seen = pane.wait(lambda s, want=states[showing]: _panel_signature(s) == want, t0, timeout=10,
                             interval=0.005)
            if seen.elapsed is None:
                answers.error = f"press {len(answers.values) + 1} not answered: " + seen.describe()
                break
            answers.values.append(seen.elapsed)
            time.sleep(max(0.0, 0.15 - (time.perf_counter() - t0)))
    finally:
        pane.kill()
    if not answers.values and not answers.error:
        return [Row(case, figure, text="the pass ended before the first press")]
    return [Row(case, figure, samples=answers, stat="p95", target=Target("<", 0.1, "p95 < 100 ms"),
                note=f"{len(answers.values)} presses until every record was counted")]
