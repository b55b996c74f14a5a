"""A Kafka record's headers, shown at the top of its detail view: trace and correlation ids live there.

Kept apart from the detail view itself: it is added to the view once that is on screen, and only for a
record that has headers (file records never do).
"""

from __future__ import annotations

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from ..core.text import printable
from .render import decode

SHOWN_BYTES = 1024  # of each header's value: a header is an id or a flag, not a document


class HeadersView(Static):
    """`Headers` and one `key: value` line per header, in the broker's order (a null value says null)."""

    DEFAULT_CSS = """
    HeadersView { dock: top; height: auto; max-height: 8; overflow-y: auto; padding: 0 1;
                  border-bottom: solid $primary 50%; }
    """

    def __init__(self, headers: list[tuple[str, bytes | None]]) -> None:
        super().__init__(headers_text(headers), id="detail-headers")


def headers_text(headers: list[tuple[str, bytes | None]]) -> Text:
    text = Text(f"Headers ({len(headers)})", style="bold")
    for key, value in headers:
        text.append(f"\n{printable(key)}: ", style="bold")
        if value is None:
            text.append("null", style="italic")
        else:
            shown = printable(decode(value[:SHOWN_BYTES], None))
            text.append(shown + (f" … ({len(value):,} bytes)" if len(value) > SHOWN_BYTES else ""))
    return text


def attach(screen: Screen, headers: list[tuple[str, bytes | None]]) -> None:
    """Add the headers to a detail screen just pushed (inside its box when it has one)."""
    if not headers:
        return

    def mount() -> None:
        boxes = screen.query("#detail")
        (boxes.first() if boxes else screen).mount(HeadersView(headers))

    screen.call_after_refresh(mount)
