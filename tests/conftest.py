"""Shared fixtures: run the real `smartview` command in a subprocess, in a folder of our own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FOUNDING_EVENTS = (REPO / "sample-topics" / "user-events.jsonl").read_text()


def smartview_command() -> list[str]:
    """The installed console script next to this Python, else `python -m smartview`."""
    script = Path(sys.executable).parent / "smartview"
    if script.exists():
        return [str(script)]
    found = shutil.which("smartview")
    return [found] if found else [sys.executable, "-m", "smartview"]


@dataclass
class Result:
    code: int
    out: str
    err: str


@dataclass
class Workspace:
    """A folder outside the repository (so its config is not found) with an empty topics directory."""

    root: Path
    topics: Path
    modules: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTVIEW_")}
        env["SMARTVIEW_TOPICS_DIR"] = str(self.topics)
        env["XDG_DATA_HOME"] = str(self.root / "data")  # the default module folder: never the real home's
        env["XDG_CACHE_HOME"] = str(self.root / "cache")  # index and config caches: never the real home's
        env.update(extra)
        return env

    def topic(self, name: str, text: str | bytes) -> Path:
        path = self.topics / f"{name}.jsonl"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def module(self, name: str, source: str) -> Path:
        path = self.modules / f"{name}.py"
        path.write_text(source)
        return path

    def run(self, *args: str, input: str | bytes | None = None, timeout: float = 60, **env: str) -> Result:
        data = input.encode() if isinstance(input, str) else input
        proc = subprocess.run(
            [*smartview_command(), *args],
            input=data,
            capture_output=True,
            cwd=self.root,
            env=self.env(**env),
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))

    def popen(self, *args: str, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(
            [*smartview_command(), *args], cwd=self.root, env=self.env(), **kwargs
        )


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    topics = tmp_path / "topics"
    modules = tmp_path / "mods"
    topics.mkdir()
    modules.mkdir()
    return Workspace(tmp_path, topics, modules)


# `--print` range flags on a topic of ten records (offsets 0-9), and the offsets each must print: the
# same for file topics and Kafka topics.
RANGE_CASES = [
    ([], list(range(10))),
    (["-B"], list(range(10))),
    (["--start", "7"], [7, 8, 9]),
    (["-H", "3"], [3, 4, 5, 6, 7, 8, 9]),
    (["--count", "3"], [0, 1, 2]),
    (["-H", "3", "--end", "4"], [3, 4]),
    (["-H", "3", "--count", "2"], [3, 4]),
    (["-T", "2"], [8, 9]),
    (["--end", "2"], [0, 1, 2]),
    (["--start", "4", "--end", "5"], [4, 5]),
    (["-T", "4", "--end", "7"], [6, 7]),
    (["--count", "5", "--end", "1"], [0, 1]),
    (["--start", "50"], []),
    (["-T", "50"], list(range(10))),
]
