"""Turning rows into Rich text: one line per record, safe to print, JSON highlighted.

Record text comes from other programs and may hold terminal control sequences; every control
character is shown escaped (`\\x1b`, core/text.py) so a record can never clear, move or retitle the
screen. Everything here is a rich Text, never markup: a record holding `[/]` is shown as it is.
"""

from __future__ import annotations

from rich.highlighter import JSONHighlighter
from rich.text import Text

from ..core.modules.runner import Failure, Output
from ..core.text import printable

# A row never shows more than this much of a value: a 20 MB line costs no more to draw than a short one.
ROW_CHARS = 2048
_highlighter = JSONHighlighter()


def decode(value: bytes, limit: int | None = ROW_CHARS) -> str:
    """Bytes as text; invalid UTF-8 shows as U+FFFD rather than failing."""
    data = value if limit is None else value[: limit * 4]
    text = data.decode("utf-8", "replace")
    return text if limit is None else text[:limit]


def value_text(output: Output) -> Text:
    """The mapped value (and key, when there is one), highlighted as JSON."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if output.key is not None:
        text.append(f"[{printable(decode(output.key, 256))}] ", style="bold")
    body = Text(printable(decode(output.value)))
    _highlighter.highlight(body)
    text.append_text(body)
    return text


def short_location(location: str) -> str:
    """`user_events.py:31` rather than a full path: the row has little room."""
    return location.rsplit("/", 1)[-1]


def failure_text(failure: Failure) -> Text:
    message = printable(failure.error)
    return Text(f"✖ {message} ({printable(short_location(failure.location))})", no_wrap=True, overflow="ellipsis")
