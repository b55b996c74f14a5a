"""The go-to-offset prompt (`g` or `:`), as in less and lnav: type a record offset, Enter jumps there."""

from __future__ import annotations

from collections.abc import Callable

from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input


class GotoBar(Input):
    """A one-line prompt docked at the bottom; it takes digits only and hides itself when done.

    Focus moves and the jump happens while the key is handled, not through a message: keys typed (or
    pasted) right behind `g 1 2 enter` then land where the person meant them, after the jump.
    """

    DEFAULT_CSS = """
    GotoBar { dock: bottom; display: none; }
    GotoBar.-shown { display: block; }
    """

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    def __init__(self, go: Callable[[int], None], *, id: str | None = None) -> None:
        super().__init__(placeholder="go to offset (enter goes, esc closes)", type="integer", id=id)
        self._go = go
        self._return_to: Widget | None = None

    def open(self) -> None:
        self.value = ""
        self._return_to = self.screen.focused
        self.add_class("-shown")
        self.screen.set_focus(self)

    def action_close(self) -> None:
        self.remove_class("-shown")
        self.screen.set_focus(self._return_to)

    async def action_submit(self) -> None:
        text = self.value.strip().lstrip("+")
        self.action_close()
        if text.lstrip("-").isdigit():
            self._go(max(0, int(text)))
