"""Measuring real processes: wall times of whole commands, a private tmux server for the viewer, and
resident memory read from /proc. Nothing here imports smartview: every figure comes from a subprocess.
"""

from __future__ import annotations

import math
import os
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

WIDTH, HEIGHT = 120, 40


def smartview_command() -> list[str]:
    """The console script next to this Python, else the one on PATH, else `python -m smartview`."""
    script = Path(sys.executable).parent / "smartview"
    if script.exists():
        return [str(script)]
    found = shutil.which("smartview")
    return [found] if found else [sys.executable, "-m", "smartview"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without SMARTVIEW_* settings, so only the flags of each command count.

    PYTHONDONTWRITEBYTECODE goes too: an installed smartview has its bytecode cached, as Python does by
    default; without it every run would compile smartview's modules again (about 10 ms here).
    """
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SMARTVIEW_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


# ---------------------------------------------------------------------------------------------- samples


@dataclass
class Samples:
    """Repeated measurements of one thing, or the reason there are none."""

    values: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def p95(self) -> float:
        ordered = sorted(self.values)  # nearest rank
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class Command:
    argv: list[str]
    stdout: Path | None = None  # None: /dev/null
    env: dict[str, str] | None = None
    cwd: Path | None = None

    def __str__(self) -> str:
        return shlex.join(self.argv)


class CommandFailed(Exception):
    pass


def run_once(command: Command, timeout: float = 600) -> float:
    """Wall time of one run of the command, from spawn to exit."""
    out = open(command.stdout, "wb") if command.stdout else subprocess.DEVNULL
    try:
        start = time.perf_counter()
        proc = subprocess.run(
            command.argv,
            stdout=out,
            stderr=subprocess.PIPE,
            env=command.env or clean_env(),
            cwd=command.cwd,
            timeout=timeout,
        )
        elapsed = time.perf_counter() - start
    finally:
        if command.stdout:
            out.close()
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip().splitlines()[-3:]
        raise CommandFailed(f"`{command}` exited {proc.returncode}: {' | '.join(tail)}")
    return elapsed


def side_by_side(commands: dict[str, Command], repeat: int, warmup: int = 1, timeout: float = 600) -> dict[str, Samples]:
    """Runs each command once per round, round after round, so all of them meet the same machine state;
    the first `warmup` rounds are not kept. A command that fails keeps its error instead of times."""
    results = {name: Samples() for name in commands}
    for round_number in range(warmup + repeat):
        for name, command in commands.items():
            result = results[name]
            if result.error:
                continue
            try:
                elapsed = run_once(command, timeout)
            except (CommandFailed, subprocess.TimeoutExpired, OSError) as exc:
                result.error = str(exc)
                continue
            if round_number >= warmup:
                result.values.append(elapsed)
    return results


def paired_ratios(top: Samples, bottom: Samples) -> Samples:
    """Per-round ratios of two commands timed side by side."""
    if top.error or bottom.error:
        return Samples(error=top.error or bottom.error)
    return Samples([a / b for a, b in zip(top.values, bottom.values)])


# ---------------------------------------------------------------------------------------------- memory


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants that are alive now."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def memory_kib(pids: list[int]) -> tuple[int, int]:
    """Summed PSS and summed RSS of the processes, in KiB.

    PSS (proportional set size) counts a page shared by several processes once, split between them;
    summing RSS would count the Python runtime and its libraries again for every helper process, so
    PSS is the memory a multi-process program really holds. RSS is kept for comparison.
    """
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return pss, rss


def megabytes(kib: int) -> float:
    return kib * 1024 / 1e6


# ---------------------------------------------------------------------------------------------- tmux


@dataclass
class Seen:
    """What polling a pane found: seconds from `t0` to the end of the capture that matched (None if none
    did), and the last screen."""

    elapsed: float | None
    screen: str
    dead: bool = False
    reason: str = ""

    def describe(self) -> str:
        lines = [line.strip() for line in self.screen.splitlines() if line.strip() and "Pane is dead" not in line]
        errors = [line for line in lines if _ERROR_LINE.match(line)]
        if errors:  # a crash: its exception line says more than the traceback's frames
            return f"{self.reason}: {errors[-1][:300]}"
        shown = " | ".join(lines[-4:])[:300]
        return f"{self.reason}; screen: {shown or '(empty)'}"


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*")


class Control:
    """One tmux client in control mode (`tmux -C`) that carries the commands a measurement repeats
    (send-keys, capture-pane). Starting a tmux client process per command costs little on an idle machine
    but up to 150 ms when writers saturate every core, and that would be counted as the viewer's answer
    time; one long-lived client adds a pipe round trip instead."""

    def __init__(self, argv: list[str], session: str) -> None:
        self.proc = subprocess.Popen([*argv, "-C", "attach", "-t", session], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=clean_env())
        self._buffer = b""
        self._block(own=False)  # the attach command's own reply

    def run(self, *args: str, timeout: float = 10) -> str:
        """The command's output, empty if tmux refused it (as a tmux process's stdout would be); raises
        RuntimeError if the client does not answer."""
        self.proc.stdin.write((" ".join(shlex.quote(a) for a in args) + "\n").encode())
        self.proc.stdin.flush()
        ok, text = self._block(own=True, timeout=timeout)
        return text if ok else ""

    def _block(self, own: bool, timeout: float = 10) -> tuple[bool, str]:
        """Read up to the next reply (`%begin` ... `%end` or `%error`), skipping notifications; `own`
        replies are those with flag 1, the ones to commands this client sent."""
        deadline = time.monotonic() + timeout
        lines: list[bytes] | None = None
        while True:
            line = self._line(deadline)
            if lines is None:
                if line.startswith(b"%begin ") and (line.split()[-1] == b"1") == own:
                    lines = []
            elif line.startswith((b"%end ", b"%error ")):
                return line.startswith(b"%end "), b"".join(x + b"\n" for x in lines).decode(errors="replace")
            else:
                lines.append(line)

    def _line(self, deadline: float) -> bytes:
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise RuntimeError("tmux control client: no answer")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError("tmux control client ended")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Tmux:
    """A tmux server of our own (its own socket), so no session of the user's is touched. Panes stay
    after their process exits (remain-on-exit), so a crash can be read from the screen."""

    def __init__(self, workdir: Path, width: int = WIDTH, height: int = HEIGHT) -> None:
        self.socket = f"smartview-bench-{os.getpid()}"
        self.width, self.height = width, height
        self.conf = workdir / "tmux.conf"
        self.conf.write_text(
            "set -g remain-on-exit on\n"
            "set -g status off\n"
            "set -g escape-time 0\n"
            "set -g history-limit 200\n"
            'set -g default-terminal "screen-256color"\n'
        )
        # Each launch gets an empty XDG_CACHE_HOME of its own unless given one: every open is a first
        # open (no line index saved by an earlier run), and the user's own cache is never touched.
        self.caches = workdir / "cache"
        self._count = 0
        self._started = False
        self._socket_path = ""
        self.control: Control | None = None

    def _argv(self) -> list[str]:
        return ["tmux", "-L", self.socket, "-f", str(self.conf)]

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self._argv(), *args],
            capture_output=True,
            text=True,
            timeout=10,
            env=clean_env(),
        )

    def start(self) -> None:
        if not self._started:
            # a session that only keeps the server up, so each measured launch does not start a server
            result = self._run("new-session", "-d", "-s", "keep", "-x", str(self.width), "-y", str(self.height), "sleep 1000000")
            if result.returncode != 0:
                raise RuntimeError(f"tmux does not start: {result.stderr.strip()}")
            self._started = True
            self._socket_path = self._run("display-message", "-p", "-t", "keep", "#{socket_path}").stdout.strip()
            self.control = Control(self._argv(), "keep")

    def launch(self, argv: list[str], cwd: Path, cache: Path | None = None) -> Pane:
        """Start `argv` in a new WIDTHxHEIGHT session; the pane's t0 is taken just before tmux is asked.

        `cache` is its XDG_CACHE_HOME (default: a new empty folder).
        """
        self.start()
        self._count += 1
        name = f"m{self._count:05d}"  # equal lengths: no name is a prefix of another
        if cache is None:
            cache = self.caches / name
        cache.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        result = self._run(
            "new-session", "-d", "-s", name, "-x", str(self.width), "-y", str(self.height), "-c", str(cwd),
            "-e", f"XDG_CACHE_HOME={cache}", "exec " + shlex.join(argv),
        )
        if result.returncode != 0:
            raise RuntimeError(f"tmux new-session failed: {result.stderr.strip()}")
        return Pane(self, name, start)

    def close(self) -> None:
        if self._started:
            if self.control is not None:
                self.control.close()
                self.control = None
            self._run("kill-server")
            self._started = False
            if self._socket_path:  # tmux leaves its socket file behind
                Path(self._socket_path).unlink(missing_ok=True)
        shutil.rmtree(self.caches, ignore_errors=True)


class Pane:
    def __init__(self, tmux: Tmux, name: str, t0: float) -> None:
        self.tmux = tmux
        self.name = name
        self.t0 = t0
        self.pid = self._info()[0]

    def _info(self) -> tuple[int, bool, str]:
        result = self.tmux._run("list-panes", "-t", self.name, "-F", "#{pane_pid} #{pane_dead} #{pane_dead_status}")
        parts = result.stdout.split()
        if result.returncode != 0 or not parts:
            return 0, True, ""
        return int(parts[0]), parts[1] == "1", parts[2] if len(parts) > 2 else ""

    def dead(self) -> tuple[bool, str]:
        _, dead, status = self._info()
        return dead, status

    def capture(self, history: bool = False) -> str:
        more = ("-S", "-200") if history else ()
        return self.tmux.control.run("capture-pane", "-p", *more, "-t", self.name)

    def send(self, *keys: str) -> None:
        self.tmux.control.run("send-keys", "-t", self.name, *keys)

    def wait(self, ready: Callable[[str], bool], t0: float, timeout: float, interval: float = 0.01) -> Seen:
        """Capture every `interval` until `ready(screen)`; the time is taken when the matching capture
        returned, so it includes up to one poll of delay (reported as the measurement floor)."""
        deadline = t0 + timeout
        screen = ""
        next_check = time.perf_counter() + 0.25
        while True:
            before = time.perf_counter()
            screen = self.capture()
            now = time.perf_counter()
            if ready(screen):
                return Seen(now - t0, screen)
            if now > deadline:
                return Seen(None, screen, reason=f"not seen within {timeout:g} s")
            if now > next_check:
                next_check = now + 0.25
                dead, status = self.dead()
                if dead:
                    time.sleep(0.3)  # the pane closes before the last output is read and the status known
                    dead, status = self.dead()
                    screen = self.capture(history=True)
                    return Seen(None, screen, dead=True, reason="the process exited" + (f" (status {status})" if status else ""))
            time.sleep(max(0.0, interval - (time.perf_counter() - before)))

    def memory(self) -> tuple[int, int]:
        return memory_kib(process_tree(self.pid)) if self.pid else (0, 0)

    def kill(self) -> None:
        pids = process_tree(self.pid) if self.pid else []
        self.tmux._run("kill-session", "-t", self.name)  # SIGHUP to the pane's process
        deadline = time.perf_counter() + 3
        for pid in pids:
            while _alive(pid) and time.perf_counter() < deadline:
                time.sleep(0.02)
            if _alive(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3] != b"Z"


def capture_floor(tmux: Tmux, count: int = 20) -> Samples:
    """How long one `tmux capture-pane` takes here: the resolution of every screen-based figure."""
    tmux.start()
    pane = Pane(tmux, "keep", time.perf_counter())
    times = []
    for _ in range(count):
        start = time.perf_counter()
        pane.capture()
        times.append(time.perf_counter() - start)
    return Samples(times)
