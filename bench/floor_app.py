"""The floor for a first screen: a minimal Textual app that reads a file's last 8 KiB and shows 30 lines.

Launched in tmux exactly like smartview (an installed console script started by tmux): what no viewer
built on Textual can beat, whatever the file's size. Run as `python bench/floor_app.py FILE`.
"""

from __future__ import annotations

import os
import sys

from textual.app import App, ComposeResult
from textual.widgets import Static


def last_lines(path: str, count: int = 30, window: int = 8 << 10) -> str:
    with open(path, "rb") as file:
        size = file.seek(0, os.SEEK_END)
        file.seek(max(0, size - window))
        data = file.read()
    return "\n".join(line.decode(errors="replace") for line in data.splitlines()[-count:])


class Floor(App):
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        yield Static(last_lines(self.path), markup=False)


if __name__ == "__main__":
    Floor(sys.argv[1]).run()
