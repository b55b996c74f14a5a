"""The go-to-offset prompt (`g` or `:`), as in less and lnav: type a record offset, Enter jumps there."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input


class GotoBar(Input):
    """A one-line prompt docked at the bottom; it takes digits only and hides itself when done."""

    DEFAULT_CSS = """
    GotoBar { dock: bottom; display: none; }
    GotoBar.-shown { display: block; }
    """

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    @dataclass
    class Go(Message):
        """An offset was entered."""

        offset: int

    class Closed(Message):
        """The prompt was left without going anywhere."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder="go to offset (enter goes, esc closes)", type="integer", id=id)

    def open(self) -> None:
        self.value = ""
        self.add_class("-shown")
        self.focus()

    def action_close(self) -> None:
        self.remove_class("-shown")
        self.post_message(self.Closed())

    async def action_submit(self) -> None:
        self.remove_class("-shown")
        text = self.value.strip().lstrip("+")
        if text.lstrip("-").isdigit():
            self.post_message(self.Go(max(0, int(text))))
        else:
            self.post_message(self.Closed())
