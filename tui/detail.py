"""The detail of one record: the input and the output side by side, with the module's changes marked."""

from __future__ import annotations

import orjson
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from ..core.runs.rows import Row
from ..core.modules.runner import Failure
from ..core.text import printable
from .render import DETAIL_BYTES, decode, pretty, short_location

REMOVED = "red strike"
CHANGED = "yellow"
ADDED = "green"


def _object(value: bytes) -> dict | None:
    if len(value) > DETAIL_BYTES:  # too big to compare field by field on screen
        return None
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _field_line(key: str, value: object, style: str | None, marker: str, last: bool) -> Text:
    body = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode().replace("\n", "\n    ")
    comma = "" if last else ","
    line = Text(printable(f"{marker} {orjson.dumps(key).decode()}: {body}{comma}\n", keep_newlines=True))
    if style:
        line.stylize(style)
    return line


def compared(mine: dict, other: dict, missing_style: str, missing_marker: str) -> Text:
    """`mine` as an indented object, its fields marked where `other` lacks or differs from them."""
    text = Text("{\n")
    for number, (key, value) in enumerate(mine.items(), 1):
        last = number == len(mine)
        if key not in other:
            text.append_text(_field_line(key, value, missing_style, missing_marker, last))
        elif other[key] != value:
            text.append_text(_field_line(key, value, CHANGED, "~", last))
        else:
            text.append_text(_field_line(key, value, None, " ", last))
    text.append("}")
    return text


class DetailScreen(ModalScreen[None]):
    """Input on the left, output (or the failure) on the right."""

    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > #detail { width: 96%; height: 90%; border: round $primary; background: $surface; }
    DetailScreen .pane { width: 1fr; padding: 0 1; }
    DetailScreen .pane-title { text-style: bold; color: $text-primary; }
    DetailScreen #detail-help { dock: bottom; color: $text-muted; padding: 0 1; }
    """

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, row: Row, value: bytes, topic: str) -> None:
        super().__init__()
        self.row = row
        self.value = value
        self.topic = topic

    def compose(self) -> ComposeResult:
        with Horizontal(id="detail") as box:
            number = "" if self.row.sub is None else f" · output {self.row.sub + 1} of the record"
            box.border_title = Content(f"{printable(self.topic)} · offset {self.row.offset}{number}")
            left, right = self._texts()
            with VerticalScroll(classes="pane", id="detail-input"):
                yield Label("Input", classes="pane-title")
                yield Static(left)
            with VerticalScroll(classes="pane", id="detail-output"):
                yield Label("Output" if not self.row.failed else "Failure", classes="pane-title")
                yield Static(right)
        yield Label("fields: [red strike]removed[/] [yellow]~ changed[/] [green]+ added[/] · esc closes", id="detail-help")

    def _texts(self) -> tuple[Text, Text]:
        result = self.row.result
        if isinstance(result, Failure):
            # Paths are shown from the module's folder: the file name is what its author recognises.
            folder = result.location.rsplit("/", 1)[0] + "/" if "/" in result.location else ""
            failure = Text(f"{printable(result.error)}\nat {printable(short_location(result.location))}\n\n", style="bold red")
            trace = result.traceback.replace(folder, "") if folder else result.traceback
            failure.append(printable(trace, keep_newlines=True), style="red")
            return pretty(self.value), failure
        before, after = _object(self.value), _object(result.value)
        if before is not None and after is not None:
            return compared(before, after, REMOVED, "-"), compared(after, before, ADDED, "+")
        output = pretty(result.value)
        if result.key is not None:
            output = Text(f"key: {printable(decode(result.key, None))}\n\n") + output
        return pretty(self.value), output
