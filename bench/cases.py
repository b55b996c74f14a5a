"""The benchmark cases of issue 5. Each is a function of the run's Context that returns table rows.

Every figure is the wall time (or /proc memory) of a real process: the installed `smartview` command,
jq, toolong, or a small reference script in this folder, never a timed function call.
"""

from __future__ import annotations

import filecmp
import importlib.util
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

import data
from measure import (
    Command,
    Pane,
    Samples,
    Tmux,
    capture_floor,
    clean_env,
    megabytes,
    paired_ratios,
    run_once,
    side_by_side,
    smartview_command,
)
from report import Row, Target

BENCH = Path(__file__).resolve().parent
INSTALL = {"jq": "apt-get install jq", "toolong": "pip install toolong", "tmux": "apt-get install tmux"}


def label(count: int) -> str:
    for factor, suffix in ((1_000_000, "M"), (1_000, "k")):
        if count >= factor and count % factor == 0:
            return f"{count // factor}{suffix}"
    return str(count)


def missing(peer: str) -> str:
    return f"missing (install: {INSTALL[peer]})"


@dataclass
class Context:
    data_dir: Path
    repeat: int
    sizes: list[int]
    print_count: int
    quick: bool
    log: callable = print
    hundred_million: bool = False  # --100m: the open case also on 100M records (8.6 GB)
    _tmux: Tmux | None = field(default=None, repr=False)

    @property
    def sv(self) -> list[str]:
        return smartview_command()

    @property
    def open_sizes(self) -> list[int]:
        return self.sizes + [100_000_000] if self.hundred_million else self.sizes

    def topic(self, count: int) -> Path:
        path = self.data_dir / f"user-events-{label(count)}.jsonl"
        if not path.exists() and count == 100_000_000:
            self.log(f"  writing {path.name}: ten copies of the 10M topic ...")
            data.concatenate(path, self.topic(10_000_000), 10)
        if not path.exists():
            self.log(f"  generating {path.name} ({count:,} records, fixed seed) ...")
            start = time.perf_counter()
            data.ensure(path, count)
            self.log(f"  ... {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - start:.1f} s")
        return path

    def write(self, relative: str, text: str) -> Path:
        path = self.data_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def tmux(self) -> Tmux | None:
        if shutil.which("tmux") is None:
            return None
        if self._tmux is None:
            self._tmux = Tmux(self.data_dir)
        return self._tmux

    def close(self) -> None:
        if self._tmux is not None:
            self._tmux.close()


def toolong_command() -> list[str] | None:
    found = shutil.which("tl")
    if found:
        return [found]
    if importlib.util.find_spec("toolong") is not None:
        return [sys.executable, "-c", "from toolong.cli import run; run()"]
    return None


# ---------------------------------------------------------------------------------------------- 1. print


def case_print(ctx: Context) -> list[Row]:
    """`--print` throughput against jq and a bare orjson loop; an identity module against a pass-through."""
    n = ctx.print_count
    path = ctx.topic(n)
    identity = ctx.write("modules/identity.py", "def map(record, params):\n    return record.value\n")
    py = sys.executable
    case = f"print {label(n)}"
    commands = {
        "smartview": Command([*ctx.sv, str(path), "--map", "user_events", "-e", "show_account_id=false", "--print"]),
        "bare loop": Command([py, str(BENCH / "loop_map.py"), str(path)]),
        "smartview identity": Command([*ctx.sv, str(path), "--map", str(identity), "--print"]),
        "pass-through": Command([py, str(BENCH / "loop_pass.py"), str(path)]),
    }
    jq = shutil.which("jq")
    if jq:
        commands["jq"] = Command([jq, "-c", "del(.account_id)", str(path)])
    ctx.log(f"  {len(commands)} commands x ({ctx.repeat} + 1 warm-up), side by side")
    t = side_by_side(commands, ctx.repeat)
    per_record = Samples(
        [(a - b) / n * 1e9 for a, b in zip(t["smartview identity"].values, t["pass-through"].values)],
        t["smartview identity"].error or t["pass-through"].error,
    )
    rows = [
        Row(case, "smartview --print, user_events -e show_account_id=false", samples=t["smartview"],
            note=_throughput(t["smartview"], n)),
        Row(case, "jq -c 'del(.account_id)'", samples=t["jq"], note=_throughput(t["jq"], n))
        if jq else Row(case, "jq -c 'del(.account_id)'", text=missing("jq")),
        Row(case, "bare orjson loop (bench/loop_map.py)", samples=t["bare loop"], note=_throughput(t["bare loop"], n)),
        Row(case, "throughput smartview / jq", "x", paired_ratios(t["jq"], t["smartview"]), target=Target(">=", 4, ">= 4x"))
        if jq else Row(case, "throughput smartview / jq", text=missing("jq")),
        Row(case, "time smartview / bare loop", "x", paired_ratios(t["smartview"], t["bare loop"]),
            target=Target("<=", 1.0, "<= 1.00x")),
        Row(case, "smartview --print, identity module", samples=t["smartview identity"]),
        Row(case, "python pass-through (bench/loop_pass.py)", samples=t["pass-through"]),
        Row(case, "time identity / pass-through", "x", paired_ratios(t["smartview identity"], t["pass-through"])),
        Row(case, "smartview's own overhead per record", "ns/rec", per_record),
    ]
    rows += _same_output(ctx, case, commands, path)
    return rows


def _throughput(samples: Samples, n: int) -> str:
    if samples.error or not samples.values:
        return ""
    return f"{n / samples.median / 1e6:.2f} M records/s"


def _same_output(ctx: Context, case: str, commands: dict[str, Command], path: Path) -> list[Row]:
    """Run each once more into a file and compare bytes: smartview, jq and the loop; identity and input."""
    outputs = {}
    for name, command in commands.items():
        out = ctx.data_dir / "out" / f"{name.replace(' ', '-')}.jsonl"
        out.parent.mkdir(exist_ok=True)
        try:
            run_once(Command(command.argv, stdout=out))
            outputs[name] = out
        except Exception as exc:  # reported by the timing rows already
            ctx.log(f"  {name}: {exc}")
    rows = []
    if "smartview" in outputs:
        others = [k for k in ("jq", "bare loop") if k in outputs]
        differ = [k for k in others if not filecmp.cmp(outputs["smartview"], outputs[k], shallow=False)]
        rows.append(Row(case, f"output of smartview == {' == '.join(others)} (bytes)",
                        text="identical" if not differ else f"differs from {', '.join(differ)}", ok=not differ,
                        note="" if not differ else _first_difference(outputs["smartview"], outputs[differ[0]])))
    if "smartview identity" in outputs:
        same = filecmp.cmp(outputs["smartview identity"], path, shallow=False)
        rows.append(Row(case, "output of identity module == input (bytes)", text="identical" if same else "differs",
                        ok=same, note="" if same else _first_difference(outputs["smartview identity"], path)))
    for out in outputs.values():
        out.unlink()
    return rows


def _first_difference(a: Path, b: Path) -> str:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for number, (la, lb) in enumerate(zip(fa, fb)):
            if la != lb:
                return f"line {number}: {la[:80]!r} vs {lb[:80]!r}"
    return f"one output is longer ({a.stat().st_size} vs {b.stat().st_size} bytes)"


# ---------------------------------------------------------------------------------------------- 2. startup


def case_startup(ctx: Context) -> list[Row]:
    topics = ctx.data_dir / "topics"
    topics.mkdir(parents=True, exist_ok=True)
    (topics / "tiny-topic.jsonl").write_bytes(data.user_events(5))
    env = clean_env(SMARTVIEW_TOPICS_DIR=str(topics))
    repeat = ctx.repeat if ctx.quick else max(10, 2 * ctx.repeat)
    t = side_by_side(
        {
            "plain": Command([*ctx.sv, "tiny-topic", "--print"], env=env, cwd=ctx.data_dir),
            "mapped": Command([*ctx.sv, "tiny-topic", "--map", "user_events", "--print"], env=env, cwd=ctx.data_dir),
            "python": Command([sys.executable, "-c", "pass"], env=env),
        },
        repeat,
    )
    case = "startup"
    rows = [
        Row(case, "smartview tiny-topic --print (5 records)", samples=t["plain"], target=Target("<", 0.1, "< 0.1 s")),
        Row(case, "smartview tiny-topic --map user_events --print", samples=t["mapped"]),
        Row(case, "python -c pass (the interpreter's floor)", samples=t["python"]),
    ]
    probe = (
        "import json, sys\n"
        "from smartview.cli import main\n"
        "code = main(['tiny-topic', '--map', 'user_events', '--print'])\n"
        "names = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
        "print(json.dumps({'code': code, 'textual': names}), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=ctx.data_dir, timeout=60)
    try:
        found = json.loads(proc.stderr.strip().splitlines()[-1])
        imported = found["textual"]
        rows.append(Row(case, "textual imported by main([..., '--print'])",
                        text="no" if not imported else f"yes ({len(imported)} modules)", ok=not imported,
                        note="" if found["code"] == 0 else f"main returned {found['code']}"))
    except (IndexError, ValueError, KeyError):
        rows.append(Row(case, "textual imported by main([..., '--print'])", text="probe failed", ok=False,
                        note=proc.stderr.strip()[-300:]))
    return rows


# ---------------------------------------------------------------------------------------------- viewer helpers


def _offset_pattern(offset: int) -> str:
    forms = {str(offset), f"{offset:,}", f"{offset:_}", f"{offset:,}".replace(",", " ")}
    return "(?:" + "|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)) + ")"


def last_row_shown(last_offset: int):
    """The viewer's first screen: a row with the last record's offset followed by its mapped value."""
    pattern = re.compile(rf"(?<![\d,_]){_offset_pattern(last_offset)}(?![\d,_]).*\"type\":")
    return lambda screen: any(pattern.search(line) for line in screen.splitlines())


def _last_line(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, f.seek(0, os.SEEK_END) - 4096))
        return f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1].decode()


def _viewer_argv(ctx: Context, path: Path) -> list[str]:
    return [*ctx.sv, str(path), "--map", "user_events"]


@dataclass
class Opened:
    seconds: float | None
    rss_mb: float = 0.0  # the PSS of the process tree (the figure)
    peak_mb: float = 0.0  # its summed RSS (for comparison)
    error: str = ""
    times: list[float] = field(default_factory=list)


def open_once(ctx: Context, argv: list[str], ready, timeout: float, settle: float,
              cache: Path | None = None) -> Opened:
    """Launch in tmux, time to each ready screen in turn (`ready`: one test or a list), then watch
    memory for `settle` seconds. `seconds` is the time to the first; `times` holds them all."""
    pane = ctx.tmux().launch(argv, cwd=ctx.data_dir, cache=cache)
    try:
        times = []
        for test in ready if isinstance(ready, list) else [ready]:
            seen = pane.wait(test, pane.t0, timeout, interval=0.01)
            if seen.elapsed is None:
                return Opened(None, error=seen.describe())
            times.append(seen.elapsed)
        pss = rss = 0
        end = time.perf_counter() + settle
        while time.perf_counter() < end:
            now_pss, now_rss = pane.memory()
            pss, rss = max(pss, now_pss), max(rss, now_rss)
            time.sleep(0.05)
        now_pss, now_rss = pane.memory()
        return Opened(times[0], megabytes(max(pss, now_pss)), megabytes(max(rss, now_rss)), times=times)
    finally:
        pane.kill()


def open_viewer(ctx: Context, argv: list[str], ready, timeout: float) -> tuple[Pane | None, str]:
    """A viewer left running for further measurement, once its first screen is there."""
    pane = ctx.tmux().launch(argv, cwd=ctx.data_dir)
    seen = pane.wait(ready, pane.t0, timeout, interval=0.01)
    if seen.elapsed is None:
        pane.kill()
        return None, seen.describe()
    return pane, ""


def _open_timeout(count: int) -> float:
    return 15 + 3 * count / 1_000_000


# ---------------------------------------------------------------------------------------------- 3. open


def case_open(ctx: Context) -> list[Row]:
    tmux = ctx.tmux()
    if tmux is None:
        return [Row("open", "viewer first screen", text=missing("tmux"))]
    rows = []
    tl = toolong_command()
    for count in ctx.open_sizes:
        path = ctx.topic(count)
        case = f"open {label(count)}"
        settle = 0.3 if ctx.quick else (1.5 if count <= 1_000_000 else 3.0 if count <= 10_000_000 else 6.0)
        with_toolong = tl is not None and count <= 10_000_000  # toolong indexes everything first: minutes at 100M
        ctx.log(f"  floor app, smartview (first open and reopen){', toolong' if with_toolong else ''} on {path.name}")
        series = _open_rounds(ctx, path, count, settle, tl if with_toolong else None)
        rows += _open_rows(case, series, settle)
        if tl is None:
            rows.append(Row(case, "toolong: launch -> last line visible", text=missing("toolong")))
    return rows


FLOOR_APP = BENCH / "floor_app.py"


def _first_screen(path: Path, last_offset: int):
    """A row for the last record with its mapped value, labelled with its offset or `…` (still counted)."""
    timestamp = orjson.loads(_last_line(path))["timestamp"]
    pattern = re.compile(rf"^\s*(?:…|{_offset_pattern(last_offset)})\s.*\"timestamp\":{timestamp}\b")
    return lambda screen: any(pattern.search(line) for line in screen.splitlines())


@dataclass
class OpenSeries:
    """Samples of one size, taken round by round (one launch of each command per round)."""

    floor: Samples = field(default_factory=Samples)
    first: Samples = field(default_factory=Samples)  # smartview, nothing cached: last rows mapped
    counted: Samples = field(default_factory=Samples)  # ... and their offsets shown (the count arrived)
    memory: Samples = field(default_factory=Samples)
    summed_rss: Samples = field(default_factory=Samples)
    reopen: Samples = field(default_factory=Samples)  # smartview again, its line index saved on disk
    reopen_memory: Samples = field(default_factory=Samples)
    toolong: Samples = field(default_factory=Samples)
    toolong_memory: Samples = field(default_factory=Samples)
    error: str = ""


def _open_rounds(ctx: Context, path: Path, count: int, settle: float, tl: list[str] | None) -> OpenSeries:
    """1 warm-up round + `repeat` rounds; each launches the floor, smartview twice and toolong in turn."""
    series = OpenSeries()
    tail = _last_line(path)[:40]
    floor_argv = [sys.executable, str(FLOOR_APP), str(path)]
    first_screen, counted = _first_screen(path, count - 1), last_row_shown(count - 1)
    timeout = _open_timeout(count)
    kept = ctx.tmux().caches / f"kept-{label(count)}"  # the reopens' cache, filled by the warm-up round
    for attempt in range(1 + ctx.repeat):
        floor = open_once(ctx, floor_argv, [lambda s: tail in s], timeout, 0)
        first = open_once(ctx, _viewer_argv(ctx, path), [first_screen, counted], timeout, settle)
        reopen = open_once(ctx, _viewer_argv(ctx, path), [counted], timeout, settle, cache=kept)
        peer = open_once(ctx, [*tl, str(path)], [lambda s: tail in s], 30 + 4 * count / 1e6, settle) if tl else None
        failed = next((o.error for o in (floor, first, reopen, peer) if o is not None and o.seconds is None), "")
        if failed:
            series.error = failed
            return series
        if not attempt:
            continue
        series.floor.values.append(floor.seconds)
        series.first.values.append(first.seconds)
        series.counted.values.append(first.times[1])
        series.memory.values.append(first.rss_mb)
        series.summed_rss.values.append(first.peak_mb)
        series.reopen.values.append(reopen.seconds)
        series.reopen_memory.values.append(reopen.rss_mb)
        if peer is not None:
            series.toolong.values.append(peer.seconds)
            series.toolong_memory.values.append(peer.rss_mb)
    return series


def _open_rows(case: str, s: OpenSeries, settle: float) -> list[Row]:
    if s.error:
        return [Row(case, "smartview: launch -> first screen of mapped rows", text="failed", ok=False, note=s.error[:200])]
    within = f"within {settle:g} s"
    rows = [
        Row(case, "first open: first screen / floor app's", "x", paired_ratios(s.first, s.floor), target=Target("<=", 1.3, "<= 1.30x")),
        Row(case, "reopen (index saved): first screen / floor app's", "x", paired_ratios(s.reopen, s.floor), target=Target("<=", 1.3, "<= 1.30x")),
        Row(case, "floor app (bench/floor_app.py): launch -> last 30 lines visible", samples=s.floor),
        Row(case, "smartview first open: launch -> last rows mapped", samples=s.first),
        Row(case, "smartview first open: launch -> their offsets shown (counted)", samples=s.counted),
        Row(case, f"smartview first open: max memory (PSS, all its processes) {within}", "MB", s.memory,
            target=Target("<", 70, "< 70 MB"), note=f"summed RSS, which counts shared pages per process: median {s.summed_rss.median:.1f} MB"),
        Row(case, "smartview reopen: launch -> last rows with offsets", samples=s.reopen),
        Row(case, f"smartview reopen: max memory (PSS, all its processes) {within}", "MB", s.reopen_memory,
            target=Target("<", 70, "< 70 MB")),
    ]
    if s.toolong.values:
        rows += [
            Row(case, "toolong: launch -> last line visible", samples=s.toolong),
            Row(case, f"toolong: max memory (PSS, all its processes) {within}", "MB", s.toolong_memory),
            Row(case, "open time toolong / smartview first open", "x", paired_ratios(s.toolong, s.first)),
        ]
    return rows


# ---------------------------------------------------------------------------------------------- 4. toggle


def case_toggle(ctx: Context) -> list[Row]:
    tmux = ctx.tmux()
    if tmux is None:
        return [Row("toggle", "key 1 -> rows updated", text=missing("tmux"))]
    floor = capture_floor(tmux)
    counts = [min(ctx.sizes, key=lambda c: abs(c - 1_000_000))]
    counts += [c for c in ctx.sizes if c > 1_000_000]  # 10M: toggled while the index is still being built
    rows = []
    for count in counts:
        rows += _toggle(ctx, count, settle=0.0 if count > 1_000_000 else (0.2 if ctx.quick else 1.0))
    rows.append(Row("toggle", "floor: one tmux capture-pane call (+ up to 5 ms poll)", samples=floor))
    return rows


def _toggle(ctx: Context, count: int, settle: float) -> list[Row]:
    case = f"toggle {label(count)}"
    path = ctx.topic(count)
    pane, error = open_viewer(ctx, _viewer_argv(ctx, path), last_row_shown(count - 1), _open_timeout(count))
    if pane is None:
        return [Row(case, "key 1 -> rows without account_id", text="viewer not available", ok=False, note=error)]
    samples, failure = Samples(), ""
    try:
        time.sleep(settle)
        if '"account_id"' not in pane.capture():
            return [Row(case, "key 1 -> rows without account_id", text="rows show no account_id before the toggle",
                        ok=False)]
        warmup, wanted = 2, 4 if ctx.quick else max(20, 4 * ctx.repeat)
        if count > 1_000_000:
            warmup, wanted = 0, 6
        hidden = lambda s: '"type":' in s and '"account_id"' not in s  # noqa: E731
        shown = lambda s: '"account_id"' in s  # noqa: E731
        for number in range(warmup + wanted):
            ready = hidden if number % 2 == 0 else shown
            t0 = time.perf_counter()
            pane.send("1")
            seen = pane.wait(ready, t0, timeout=3, interval=0.005)
            if seen.elapsed is None:
                failure = f"toggle {number + 1}: " + seen.describe()
                break
            if number >= warmup:
                samples.values.append(seen.elapsed)
            time.sleep(0.15)
    finally:
        pane.kill()
    if not samples.values:
        return [Row(case, "key 1 -> rows updated", text="no toggle seen", ok=False, note=failure)]
    during = " (index still building)" if count > 1_000_000 else ""
    return [
        Row(case, f"key 1 -> visible rows updated{during}", samples=samples, target=Target("<", 0.080, "< 80 ms"),
            note=failure + f"{len(samples.values)} toggles, both directions, tmux send-keys + capture polling included"),
        Row(case, f"key 1 -> visible rows updated{during}, p95", samples=samples, stat="p95"),
    ]


# ---------------------------------------------------------------------------------------------- 5. follow


def _appended(number: int) -> tuple[str, bytes]:
    marker = f"bench{number:06d}"
    record = {"type": "login", "account_id": marker, "timestamp": 1700000000 + number, "user_client": "chrome"}
    return marker, orjson.dumps(record) + b"\n"


def _fresh_follow_file(ctx: Context, name: str, count: int) -> Path:
    folder = ctx.data_dir / "follow"  # its own folder: the followers watch the directory
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_bytes(data.user_events(count))
    return path


def _append_series(ctx: Context, path: Path, appends: int, seen_after) -> tuple[Samples, str]:
    """Append records one at a time; `seen_after(marker, t0)` returns seconds until it shows, or None."""
    rng = random.Random(5)
    samples, failure, misses = Samples(), "", 0
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        for number in range(3 + appends):  # 3 warm-up appends
            marker, line = _appended(number)
            t0 = time.perf_counter()
            os.write(fd, line)
            elapsed = seen_after(marker, t0)
            if elapsed is None:
                misses += 1
                failure = f"{misses} appended records not seen within the timeout"
                if misses >= 3:
                    break
            elif number >= 3:
                samples.values.append(elapsed)
            time.sleep(rng.uniform(0.03, 0.1))
    finally:
        os.close(fd)
    return samples, failure


def case_follow(ctx: Context) -> list[Row]:
    appends = 5 if ctx.quick else 50
    initial = 1000
    rows = _follow_print(ctx, appends, initial)
    tmux = ctx.tmux()
    if tmux is None:
        return rows + [Row("follow", "viewer: append -> visible", text=missing("tmux"))]
    rows += _follow_screen(ctx, "smartview viewer", appends, initial, lambda path: _viewer_argv(ctx, path),
                           lambda path: last_row_shown(initial - 1), Target("<", 0.040, "< 40 ms"))
    tl = toolong_command()
    if tl is None:
        rows.append(Row("follow", "toolong: append -> visible", text=missing("toolong")))
    else:
        rows += _follow_screen(ctx, "toolong", appends, initial, lambda path: [*tl, str(path)],
                               lambda path: (lambda s, tail=_last_line(path)[:40]: tail in s), None)
    return rows


class TimedLines:
    """A process's stdout lines, each with the time it arrived, read by a thread as they come."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put((time.perf_counter(), line))
        self.lines.put((time.perf_counter(), None))

    def skip(self, count: int, timeout: float = 20) -> bool:
        """Wait for `count` lines (the records already there); False if they did not come."""
        try:
            return all(self.lines.get(timeout=timeout)[1] is not None for _ in range(count))
        except queue.Empty:
            return False

    def fail(self) -> str:
        """Kill the process; the end of its stderr, for the report."""
        self.proc.kill()
        return self.proc.communicate(timeout=5)[1].decode(errors="replace").strip()[-300:]

    def seen_after(self, marker: str, t0: float, timeout: float = 3) -> float | None:
        """Seconds from `t0` until a line holding `marker` arrived, or None within `timeout`."""
        deadline = t0 + timeout
        while True:
            try:
                when, line = self.lines.get(timeout=max(0.0, deadline - time.perf_counter()))
            except queue.Empty:
                return None
            if line is None:
                return None
            if marker.encode() in line:
                return when - t0


def _follow_print(ctx: Context, appends: int, initial: int) -> list[Row]:
    case = "follow"
    figure = "smartview --print --follow: append -> line on stdout"
    path = _fresh_follow_file(ctx, "print", initial)
    argv = [*ctx.sv, str(path), "--map", "user_events", "--print", "--follow"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(), cwd=ctx.data_dir)
    lines = TimedLines(proc)
    note = ""
    if not lines.skip(initial):
        return [Row(case, figure, text="the initial records were not printed", ok=False, note=lines.fail())]
    try:
        samples, failure = _append_series(ctx, path, appends, lines.seen_after)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=5)
            if code != 0:
                note = f"exit status {code} after SIGTERM (README: 0)"
        except subprocess.TimeoutExpired:
            proc.kill()
            note = "did not exit within 5 s of SIGTERM"
    note = "; ".join(x for x in (failure, note, f"{len(samples.values)} appends") if x)
    return [
        Row(case, figure, samples=samples, note=note),
        Row(case, figure + ", p95", samples=samples, stat="p95"),
    ]


def _follow_screen(ctx: Context, who: str, appends: int, initial: int, argv_for, ready_for, target) -> list[Row]:
    case = "follow"
    figure = f"{who}: append -> visible"
    path = _fresh_follow_file(ctx, who.split()[0], initial)
    pane, error = open_viewer(ctx, argv_for(path), ready_for(path), 30)
    if pane is None:
        return [Row(case, figure, text="viewer not available" if who.startswith("smartview") else "failed",
                    ok=False if target else None, note=error)]
    try:
        time.sleep(0.3)

        def seen_after(marker: str, t0: float) -> float | None:
            return pane.wait(lambda s: marker in s, t0, timeout=3, interval=0.005).elapsed

        samples, failure = _append_series(ctx, path, appends, seen_after)
    finally:
        pane.kill()
    note = "; ".join(x for x in (failure, f"{len(samples.values)} appends, capture polling included") if x)
    return [
        Row(case, figure, samples=samples, note=note),
        Row(case, figure + ", p95", samples=samples, stat="p95", target=target),
    ]


# ---------------------------------------------------------------------------------------------- 6. index


def case_index(ctx: Context) -> list[Row]:
    rows = []
    for count in ctx.sizes:
        path = ctx.topic(count)
        case = f"index {label(count)}"
        rates, per_record, error, counts = Samples(), Samples(), None, set()
        argv = [sys.executable, str(BENCH / "index_probe.py"), str(path)]
        for attempt in range(1 + ctx.repeat):
            proc = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=600)
            if proc.returncode != 0:
                error = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                break
            result = json.loads(proc.stdout)
            counts.add(result["count"])
            if attempt:
                rates.values.append(result["count"] / result["seconds"])
                per_record.values.append(result["memory_bytes"] / max(1, result["count"]))
        if error:
            rows.append(Row(case, "LineIndex(path).update()", text="failed", ok=False, note=error))
            continue
        right = counts == {count}
        rows.append(Row(case, "LineIndex(path).update(): records per second", "rec/s", rates,
                        note="" if right else f"counted {sorted(counts)} records, expected {count}"))
        rows.append(Row(case, "index memory_bytes() / count", "B/rec", per_record, target=Target("<=", 8, "<= 8 B")))
        if not right:
            rows.append(Row(case, "record count", text=f"{sorted(counts)} != {count}", ok=False))
    return rows


# ---------------------------------------------------------------------------------------------- 7. burst

BURST_WRITERS_SCRIPT = r"""
import os
import sys
import traceback
from pathlib import Path
from smartview.core.sources.produce import append_lines, open_for_append


def write(path, writer, count):
    fd = open_for_append(path)
    batch = []
    for seq in range(count):
        batch.append(b'{"w":%d,"s":%d}\n' % (writer, seq))
        if len(batch) == 100:
            append_lines(fd, b"".join(batch))
            batch = []
    if batch:
        append_lines(fd, b"".join(batch))


path, writers, count = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
children = []
for writer in range(writers):
    pid = os.fork()
    if pid == 0:
        try:
            write(path, writer, count)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    children.append(pid)
sys.exit(1 if any(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children) else 0)
"""
BURST_WRITERS = 4
BURST_INITIAL = 10
_RECORDS = re.compile(r"(?<![\d,])(\d{1,3}(?:,\d{3})*) records\b")


def _panel_signature(screen: str) -> tuple[tuple[int, int], ...]:
    """Where the panel's `keep (str)` label is drawn: the panel's state, whatever the rows show."""
    return tuple((number, line.index("keep (str)")) for number, line in enumerate(screen.splitlines())
                 if "keep (str)" in line)


def _records_shown(screen: str) -> list[int]:
    return [int(m.group(1).replace(",", "")) for m in _RECORDS.finditer(screen)]


@dataclass
class Burst:
    answers: list[float] = field(default_factory=list)
    idle: list[float] = field(default_factory=list)  # the two presses before the burst
    captures: list[float] = field(default_factory=list)  # one capture-pane call after each answer
    file_lines: int = 0
    shown: list[int] = field(default_factory=list)  # record counts on the screen at the end
    catch_up: float | None = None  # last writer exited -> status shows the file's count
    burst_seconds: float = 0.0
    failure: str = ""


def case_burst(ctx: Context) -> list[Row]:
    """Writers append at full speed while the viewer follows: key presses answered, every record counted."""
    per_writer = 25_000 if ctx.quick else 250_000
    total = BURST_WRITERS * per_writer
    case = f"burst {label(total)}"
    figure = "key p -> panel toggled, during the burst"
    tmux = ctx.tmux()
    if tmux is None:
        return [Row(case, figure, text=missing("tmux"))]
    wanted, tries = (4, 6) if ctx.quick else (30, 15)  # 30 presses: a p95 of 10 would be their maximum
    samples, idle, floor, bursts = Samples(), Samples(), Samples(), []
    while len(samples.values) < wanted and len(bursts) < tries:
        ctx.log(f"  burst {len(bursts) + 1}: {BURST_WRITERS} writers x {per_writer:,} records, key p every ~150 ms")
        burst = _burst_once(ctx, per_writer)
        bursts.append(burst)
        samples.values += burst.answers
        idle.values += burst.idle
        floor.values += burst.captures
        if burst.failure:
            break
    failures = "; ".join(f"burst {n}: {b.failure}" for n, b in enumerate(bursts, 1) if b.failure)
    seconds = ", ".join(f"{b.burst_seconds:.1f}" for b in bursts)
    note = "; ".join(x for x in (failures, f"{len(samples.values)} presses in {len(bursts)} burst(s) of {seconds} s, "
                                 "tmux send-keys + capture polling included") if x)
    if idle.values:
        note += f"; before the burst (idle): median {idle.median * 1000:.1f} ms of {len(idle.values)}"
    rows = [
        Row(case, figure, samples=samples, note=note),
        Row(case, figure + ", p95", samples=samples, stat="p95", target=Target("<", 0.100, "< 100 ms")),
        Row(case, "floor: one tmux capture-pane call during the burst", samples=floor),
    ]
    counted = [b for b in bursts if b.file_lines]
    if not counted:
        return rows + [Row(case, "viewer's record count == file's line count", text="not measured", ok=False)]
    missed = [b for b in counted if b.file_lines not in b.shown]
    last = missed[0] if missed else counted[-1]
    shown = ", ".join(f"{n:,}" for n in last.shown) or "no count"
    catch_up = [b.catch_up for b in counted if b.catch_up is not None]
    lines = f"{last.file_lines:,}"
    rows.append(Row(case, "viewer's record count == file's line count, after the burst",
                    text=f"{lines} == {lines}" if not missed else f"shows {shown}, file {lines}", ok=not missed,
                    note=(f"{len(counted)} burst(s); status caught up {max(catch_up):.2f} s after the last writer "
                          "at the latest") if catch_up else ""))
    return rows


def _calibrate(pane: Pane, visible: tuple, idle: list[float]) -> tuple | str:
    """Press p twice before the burst: the panel's hidden state as drawn (the panel's place is not
    assumed), and back to the visible one. Their answer times go to `idle`."""
    if not visible:
        return "the first screen shows no parameter panel"
    t0 = time.perf_counter()
    pane.send("p")
    seen = pane.wait(lambda s: _panel_signature(s) != visible, t0, timeout=5, interval=0.005)
    if seen.elapsed is None:
        return "key p before the burst: " + seen.describe()
    idle.append(seen.elapsed)
    time.sleep(0.3)  # the whole hidden state is drawn
    hidden = _panel_signature(pane.capture())
    t0 = time.perf_counter()
    pane.send("p")
    seen = pane.wait(lambda s: _panel_signature(s) == visible, t0, timeout=5, interval=0.005)
    if seen.elapsed is None or hidden == visible:
        return "key p before the burst does not bring the panel back: " + seen.describe()
    idle.append(seen.elapsed)
    time.sleep(0.2)
    return hidden


def _burst_once(ctx: Context, per_writer: int) -> Burst:
    folder = ctx.data_dir / "burst"  # its own folder: the viewer watches the directory
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "burst.jsonl"
    path.write_bytes(b"".join(b'{"w":0,"s":%d}\n' % n for n in range(BURST_INITIAL)))
    result = Burst()
    argv = [*ctx.sv, str(path), "--map", "fields", "-e", "drop=s"]
    first = lambda s: f"{BURST_INITIAL} records" in s and "keep (str)" in s  # noqa: E731
    pane, error = open_viewer(ctx, argv, first, 30)
    if pane is None:
        result.failure = "viewer not available: " + error
        return result
    writers: subprocess.Popen | None = None
    try:
        time.sleep(0.3)  # the first screen settles and following starts
        visible = _panel_signature(pane.capture())
        hidden = _calibrate(pane, visible, result.idle)
        if isinstance(hidden, str):
            result.failure = hidden
            return result
        # The writers run in a session of their own, as a service writing a log does. With the kernel's
        # autogroup scheduling, writers in this process's session would share one CPU group with the
        # harness that presses keys and reads the screen, and slow the measuring rather than the viewer;
        # one session for all of them (not one each) leaves the viewer the same share of the CPU as then.
        writers = subprocess.Popen([sys.executable, "-c", BURST_WRITERS_SCRIPT, str(path), str(BURST_WRITERS),
                                    str(per_writer)], env=clean_env(), stderr=subprocess.PIPE, start_new_session=True)
        started = time.perf_counter()
        states = {True: visible, False: hidden}
        showing = True
        while writers.poll() is None:
            showing = not showing
            ready = lambda s, want=states[showing]: _panel_signature(s) == want  # noqa: E731
            t0 = time.perf_counter()
            pane.send("p")
            seen = pane.wait(ready, t0, timeout=10, interval=0.005)
            if seen.elapsed is None:
                result.failure = f"press {len(result.answers) + 1} not answered: " + seen.describe()
                break
            result.answers.append(seen.elapsed)
            before = time.perf_counter()
            pane.capture()
            result.captures.append(time.perf_counter() - before)
            time.sleep(max(0.0, 0.15 - (time.perf_counter() - t0)))
        if writers.wait(timeout=300) != 0:
            tail = writers.stderr.read().decode(errors="replace").strip()[-200:]
            result.failure = result.failure or f"a writer failed: {tail}"
        finished = time.perf_counter()
        result.burst_seconds = finished - started
        result.file_lines = path.read_bytes().count(b"\n")
        seen = pane.wait(lambda s: result.file_lines in _records_shown(s), finished, timeout=60, interval=0.02)
        result.shown = _records_shown(seen.screen)
        result.catch_up = seen.elapsed
        if seen.elapsed is None and seen.dead:
            result.failure = result.failure or seen.describe()
    finally:
        if writers is not None and writers.poll() is None:
            os.killpg(writers.pid, signal.SIGKILL)  # the writers' session leader and its children
            writers.wait()
        pane.kill()
        path.unlink(missing_ok=True)
    return result


# ---------------------------------------------------------------------------------------------- 8. kinds


def _last_offset_of(path: Path, needle: bytes) -> int:
    """The offset of the last record containing `needle`."""
    last = -1
    with open(path, "rb") as f:
        for offset, line in enumerate(f):
            if needle in line:
                last = offset
    return last


def case_kinds(ctx: Context) -> list[Row]:
    """Modules that are not one-to-one: a filter and an aggregate, whose rows a background pass counts."""
    if ctx.tmux() is None:
        return [Row("kinds", "filter first screen", text=missing("tmux"))]
    rows = []
    for count in [c for c in ctx.sizes if c >= 1_000_000] or [max(ctx.sizes)]:
        path = ctx.topic(count)
        case = f"kinds {label(count)}"
        filtered = [*ctx.sv, str(path), "--map", "where", "-e", "equals=login"]
        last_login = _last_offset_of(path, b'"type":"login"')
        # First rows: the last records' matching rows, labelled `…` before the count, or counted rows.
        first = re.compile(r'^\s*(?:\d+|…) \{"type":"login"', re.M)
        numbered = re.compile(r'^\s*\d+ \{"type":"login"', re.M)
        rows += _pass_series(ctx, case, "filter where equals=login", filtered, lambda s: bool(first.search(s)),
                             last_row_shown(last_login), count, lambda s: bool(numbered.search(s)))
        aggregate = [*ctx.sv, str(path), "--map", "count_by"]
        counts = re.compile(r'^\s*\d+ \{"', re.M)
        rows += _pass_series(ctx, case, "aggregate count_by", aggregate, lambda s: bool(counts.search(s)),
                             _aggregate_done(count - 1), count)
        rows += _page_back(ctx, case, aggregate, _aggregate_done(count - 1), count)
    return rows


def _aggregate_done(last: int):
    pattern = re.compile(rf"(?<![\d,_]){last}(?![\d,_]) \{{\"")
    return lambda screen: bool(pattern.search(screen))


def _pass_series(ctx: Context, case: str, what: str, argv, first_ready, done_ready, count: int,
                 numbered_ready=None) -> list[Row]:
    """Launch -> first rows, and launch -> the last row (every record counted), (1 warm-up + repeat) times.

    With `numbered_ready`, also launch -> the first rows with their offsets (the pass's counted rows,
    which replace a preview of the last records' rows).
    """
    firsts, dones, numbers, failure = Samples(), Samples(), Samples(), ""
    for attempt in range(1 + ctx.repeat):
        pane = ctx.tmux().launch(argv, cwd=ctx.data_dir)
        try:
            seen = pane.wait(first_ready, pane.t0, _open_timeout(count), interval=0.01)
            counted = pane.wait(numbered_ready, pane.t0, _open_timeout(count), interval=0.01) if numbered_ready else None
            done = pane.wait(done_ready, pane.t0, 10 + 15 * count / 1_000_000, interval=0.02)
        finally:
            pane.kill()
        if seen.elapsed is None or done.elapsed is None:
            failure = (seen if seen.elapsed is None else done).describe()
            break
        if attempt:
            firsts.values.append(seen.elapsed)
            dones.values.append(done.elapsed)
            if counted is not None and counted.elapsed is not None:
                numbers.values.append(counted.elapsed)
    if not firsts.values:
        return [Row(case, f"{what}: launch -> first rows", text="failed", ok=False, note=failure)]
    return [
        Row(case, f"{what}: launch -> first rows", samples=firsts, note=failure,
            target=Target("<", 0.8, "< 0.8 s") if count > 1_000_000 else Target("<", 0.6, "< 0.6 s")),
        *([Row(case, f"{what}: launch -> first rows with offsets (counted)", samples=numbers)]
          if numbers.values else []),
        Row(case, f"{what}: launch -> every record counted (last row shown)", samples=dones),
    ]


def _page_back(ctx: Context, case: str, argv, done_ready, count: int) -> list[Row]:
    """Page up from the end of an aggregate: each page maps from the nearest accumulator checkpoint."""
    pane, error = open_viewer(ctx, argv, done_ready, 10 + 15 * count / 1_000_000)
    if pane is None:
        return [Row(case, "aggregate count_by: page up -> new rows shown", text="viewer not available", ok=False,
                    note=error)]
    samples, failure = Samples(), ""
    try:
        top = lambda screen: screen.split("\n", 1)[0]  # noqa: E731  (the status bar changes by itself)
        pane.send("PageUp")  # the first page up only moves the cursor to the top row of the screen
        time.sleep(0.3)
        previous = pane.capture()
        for number in range(2 + (6 if ctx.quick else max(20, 4 * ctx.repeat))):
            t0 = time.perf_counter()
            pane.send("PageUp")
            seen = pane.wait(lambda s: top(s) != top(previous) and "… mapping" not in s, t0, timeout=3,
                             interval=0.005)
            if seen.elapsed is None:
                failure = f"page {number + 1}: " + seen.describe()
                break
            if number >= 2:
                samples.values.append(seen.elapsed)
            previous = seen.screen
            time.sleep(0.1)
    finally:
        pane.kill()
    if not samples.values:
        return [Row(case, "aggregate count_by: page up -> new rows shown", text="no page seen", ok=False, note=failure)]
    return [Row(case, "aggregate count_by: page up -> new rows shown (mapped from a checkpoint)", samples=samples,
                target=Target("<", 0.1, "< 100 ms"), note=failure)]


# ---------------------------------------------------------------------------------------------- detail


def _detail_topic(ctx: Context) -> tuple[Path, int]:
    """A small user event, then a record of about 1 MB (nested, big integers, numbers like 1.10)."""
    path = ctx.data_dir / "detail-1mb.jsonl"
    items = ",".join(f'{{"n":{n},"name":"item {n}","price":1.10,"tags":["a","b"],"nested":{{"ok":true,'
                     f'"id":{12345678901234567890123 + n}}}}}' for n in range(9300))
    big = f'{{"id":123456789012345678901234567890,"note":"dropped","items":[{items}]}}'
    small = '{"type":"login","account_id":"1","timestamp":1640878631,"user_client":"safari"}'
    path.write_text(small + "\n" + big + "\n")
    return path, len(big)


def _definitions_topic(ctx: Context) -> tuple[Path, int]:
    """A small record, then a cloud-service definition of about 2.7 MB on one line (over the detail
    view's 1 MiB: shown as it is, with a note), like the service models real users open."""
    path = ctx.data_dir / "detail-definitions.jsonl"
    operations = {f"Op{n}": {"name": f"Op{n}", "http": {"method": "POST", "requestUri": "/"},
                             "input": {"shape": f"Op{n}Request"}, "errors": [{"shape": "ValidationException"}],
                             "documentation": '<p>Does a thing, with commas, and "quotes".</p>'} for n in range(2000)}
    shapes = {f"Shape{n}": {"type": "structure", "members": {f"m{k}": {"shape": f"S{k}", "documentation": "<p>Text</p>"}
                                                         for k in range(20)}} for n in range(2100)}
    big = orjson.dumps({"version": "2.0", "metadata": {"protocol": "json"}, "operations": operations, "shapes": shapes})
    path.write_bytes(b'{"version":"1.0","operations":{}}\n' + big + b"\n")
    return path, len(big)


def _first_detail_row(screen: str) -> str:
    """The first row of the detail view's two sides (a line with the box's borders and the gutter)."""
    return next((line for line in screen.splitlines() if line.count("│") >= 3), "")


def _detail_over_the_limit(ctx: Context) -> list[Row]:
    """Enter on a 2.7 MB line: the note at the top and the first lines shown, then a page down answered."""
    path, size = _definitions_topic(ctx)
    pane, error = open_viewer(ctx, [*ctx.sv, str(path)], lambda s: bool(re.search(r"^\s*1 \{", s, re.M)), 15)
    label = f"enter -> detail of a {size / 1e6:.1f} MB line shown (over 1 MiB: note at the top)"
    if pane is None:
        return [Row("detail", label, text="viewer not available", ok=False, note=error)]
    shown, paged, failure = Samples(), Samples(), ""
    try:
        time.sleep(0.5)
        pane.send("Down")
        time.sleep(0.1)
        for number in range(1 + (1 if ctx.quick else max(5, ctx.repeat))):
            t0 = time.perf_counter()
            pane.send("Enter")
            seen = pane.wait(lambda s: "offset 1" in s and "the first 1,024 KiB of" in s
                             and '{"version":"2.0"' in _first_detail_row(s), t0, timeout=10, interval=0.005)
            if seen.elapsed is None:
                failure = seen.describe()
                break
            t1 = time.perf_counter()
            pane.send("PageDown")
            top = _first_detail_row(seen.screen)
            moved = pane.wait(lambda s: _first_detail_row(s) not in ("", top), t1, timeout=10, interval=0.005)
            if moved.elapsed is None:
                failure = "page down: " + moved.describe()
                break
            if number:
                shown.values.append(seen.elapsed)
                paged.values.append(moved.elapsed)
            pane.send("Escape")
            pane.wait(lambda s: "╭─" not in s, time.perf_counter(), timeout=5)
    finally:
        pane.kill()
    if not shown.values:
        return [Row("detail", label, text="no detail seen", ok=False, note=failure)]
    return [Row("detail", label, samples=shown, target=Target("<", 0.2, "< 0.2 s"), note=failure),
            Row("detail", "page down in that detail -> next page shown", samples=paged,
                target=Target("<", 0.1, "< 100 ms"))]


def case_detail(ctx: Context) -> list[Row]:
    """Enter on a 1 MB record against Enter on a small one, side by side in the same viewer; then a
    line over the detail view's limit."""
    return _detail_1mb(ctx) + _detail_over_the_limit(ctx)


def _detail_1mb(ctx: Context) -> list[Row]:
    if ctx.tmux() is None:
        return [Row("detail", "enter -> detail shown", text=missing("tmux"))]
    path, size = _detail_topic(ctx)
    argv = [*ctx.sv, str(path), "--map", "fields", "-e", "drop=note"]
    pane, error = open_viewer(ctx, argv, lambda s: bool(re.search(r"^\s*1 \{", s, re.M)), 15)
    if pane is None:
        return [Row("detail", "enter -> detail shown", text="viewer not available", ok=False, note=error)]
    small, big, failure = Samples(), Samples(), ""
    shown = {0: lambda s: "offset 0" in s and '"type": "login"' in s,
             1: lambda s: "offset 1" in s and '"items": [' in s and '"name": "item 0"' in s}
    try:
        time.sleep(0.5)
        for number in range(1 + (2 if ctx.quick else max(10, 2 * ctx.repeat))):
            for offset, samples in ((0, small), (1, big)):
                pane.send("Up" if offset == 0 else "Down")
                time.sleep(0.1)
                t0 = time.perf_counter()
                pane.send("Enter")
                seen = pane.wait(shown[offset], t0, timeout=10, interval=0.005)
                if seen.elapsed is None:
                    failure = f"offset {offset}: " + seen.describe()
                    break
                if number:
                    samples.values.append(seen.elapsed)
                pane.send("Escape")
                pane.wait(lambda s: "╭─" not in s, time.perf_counter(), timeout=5)
            if failure:
                break
    finally:
        pane.kill()
    if not big.values:
        return [Row("detail", "enter -> detail shown", text="no detail seen", ok=False, note=failure)]
    return [
        Row("detail", f"enter -> detail of a {size / 1e6:.1f} MB record shown (both sides, aligned)", samples=big,
            target=Target("<", 0.2, "< 0.2 s"), note=failure),
        Row("detail", "enter -> detail of a small record shown", samples=small),
        Row("detail", "1 MB / small, side by side", unit="x", samples=paired_ratios(big, small)),
    ]


CASES = {
    "print": case_print,
    "startup": case_startup,
    "open": case_open,
    "toggle": case_toggle,
    "follow": case_follow,
    "index": case_index,
    "burst": case_burst,
    "kinds": case_kinds,
    "detail": case_detail,
    "kafka": lambda ctx: __import__("kafka_cases").case_kafka(ctx),  # imports cases itself
    "wasm": lambda ctx: __import__("wasm_cases").case_wasm(ctx),
    "failures": lambda ctx: __import__("failure_cases").case_failures(ctx),  # imports cases itself
    "pipe": lambda ctx: __import__("stream_cases").case_pipe(ctx),
    "gz": lambda ctx: __import__("stream_cases").case_gz(ctx),
    "grep": lambda ctx: __import__("grep_cases").case_grep(ctx),  # the quick filter's pass beside grep -c
    "orjson": lambda ctx: __import__("orjson_cases").case_orjson(ctx),  # the versions around the cap
    "passes": lambda ctx: __import__("pass_cases").case_passes(ctx),  # background passes: one process vs two
    "children": lambda ctx: __import__("children_cases").case_children(ctx),  # fresh interpreter vs forked
}
