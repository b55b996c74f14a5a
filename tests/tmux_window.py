"""One tmux window running a shell line: the real terminal the viewer's tests type into and read.

Each window has a tmux server of its own (`tmux -L NAME`), so closing it ends its processes and nothing
else, and a test's `tmux` calls (`window.tmux("set-option", ...)`) reach only its own server.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")

# What a command in the window inherits from the test's environment (the rest is tmux's own).
PASSED_ON = ("SMARTVIEW_TOPICS_DIR", "PATH", "HOME")


class TmuxWindow:
    """`line` run by a shell in `cwd`, with `env`'s PASSED_ON variables (and `extra`) exported, in a
    window of `width` x `height`."""

    def __init__(self, line: str, cwd: Path, env: dict[str, str], extra: dict[str, str] | None = None,
                 width: int = 120, height: int = 30) -> None:
        self.name = f"sv-{uuid.uuid4().hex[:8]}"
        exported = {k: v for k, v in env.items() if k in PASSED_ON} | (extra or {})
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in exported.items())
        start = ("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
                 f"cd {shlex.quote(str(cwd))} && export {exports} && {line}")
        # A loaded machine sometimes refuses a new server for a moment: try again before failing.
        for _ in range(3):
            if self.tmux(*start).returncode == 0:
                return
            time.sleep(0.2)
        result = self.tmux(*start)
        assert result.returncode == 0, f"tmux did not start: {result.stderr}"

    def tmux(self, *args: str) -> subprocess.CompletedProcess:
        """A tmux command on this window's own server."""
        return subprocess.run(["tmux", "-L", self.name, *args], capture_output=True, text=True)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.name).stdout

    def wait_for(self, predicate, timeout: float = 20) -> str:
        """The screen, once `predicate(screen)` holds; fails with the screen as it was after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if predicate(screen):
                return screen
            assert time.monotonic() < deadline, f"timed out; screen was:\n{screen}"
            time.sleep(0.02)

    def keys(self, *keys: str) -> None:
        result = self.tmux("send-keys", "-t", self.name, *keys)
        assert result.returncode == 0, result.stderr

    def press_until(self, key: str, predicate, tries: int = 5) -> str:
        """Press `key` until the screen shows it took effect (a key split by a loaded machine is pressed again)."""
        for attempt in range(tries):
            self.keys(key)
            try:
                return self.wait_for(predicate, timeout=4)
            except AssertionError:
                if attempt == tries - 1:
                    raise
        return ""

    def resize(self, width: int, height: int) -> None:
        self.tmux("resize-window", "-t", self.name, "-x", str(width), "-y", str(height))

    def pane_pid(self) -> int:
        """The pid of the shell running the line."""
        return int(self.tmux("list-panes", "-t", self.name, "-F", "#{pane_pid}").stdout.strip())

    def running(self) -> bool:
        return self.tmux("has-session", "-t", self.name).returncode == 0

    def close(self) -> None:
        """End the window's server, and with it every process in the window."""
        self.tmux("kill-server")


@pytest.fixture
def windows():
    """Opens TmuxWindows (same arguments) and closes them all after the test."""
    opened: list[TmuxWindow] = []

    def open_(*args, **kwargs) -> TmuxWindow:
        opened.append(TmuxWindow(*args, **kwargs))
        return opened[-1]

    yield open_
    for window in opened:
        window.close()
