"""A live horizontal bar chart of an aggregate's newest output, when that output is a JSON object of numbers.

A counting module's state (`{"login": 120, "logout": 80}`) is read at a glance as bars rather than as a
row of text. The chart shows the newest row the viewer has: the accumulator after the last record counted
so far, so it fills in while the background pass runs and moves on as records arrive.
"""

from __future__ import annotations

import math

import orjson
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from ..core.modules.runner import Failure
from ..core.runs.rows import Row
from ..core.text import one_line, printable

EIGHTHS = " ▏▎▍▌▋▊▉"
LABEL_MAX = 32


def numbers_of(value: bytes) -> dict[str, float] | None:
    """The object's fields when every value is a number (booleans are not), else None."""
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(parsed, dict) or not parsed:
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in parsed.values()):
        return None
    return parsed


def bar(value: float, largest: float, width: int) -> str:
    """A bar of `width` cells at most, in eighths of a cell."""
    if largest <= 0 or value <= 0:
        return ""
    eighths = round(value / largest * width * 8)
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def number(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.6g}"


def chart_text(counts: dict[str, float], width: int) -> Text:
    """One line per key, largest first: the key, its bar, its number."""
    ordered = sorted(counts.items(), key=lambda item: -item[1])
    labels = [one_line(key, LABEL_MAX) for key, _ in ordered]
    label_width = max(map(len, labels))
    numbers = [number(value) for _, value in ordered]
    number_width = max(map(len, numbers))
    room = max(4, width - label_width - number_width - 3)
    largest = max(value for _, value in ordered)
    text = Text()
    for label, (_, value), shown in zip(labels, ordered, numbers):
        text.append(label.ljust(label_width) + " ", style="bold")
        drawn = bar(value, largest, room)
        text.append(drawn, style="cyan")
        text.append(" " * (room - len(drawn) + 1) + shown.rjust(number_width) + "\n")
    return text


class BarChart(VerticalScroll, can_focus=True):
    """The chart, in place of the rows (the app toggles between them)."""

    DEFAULT_CSS = """
    BarChart { background: $surface; padding: 0 1; display: none; }
    BarChart.-shown { display: block; }
    BarChart #chart-title { color: $text-muted; margin-bottom: 1; }
    BarChart #chart-message { color: $text-muted; text-style: italic; }
    """

    generation: int | None = None  # of the rows drawn: a parameter change starts the chart again

    def compose(self):
        yield Static(id="chart-title")
        yield Static(id="chart-bars")
        yield Static(id="chart-message")

    def show(self, row: Row | None, title: str, waiting: str) -> None:
        """Draw `row`'s output as bars (or say why there are none) under `title`."""
        self.query_one("#chart-title", Static).update(Text(printable(title)))  # it names the module: a file name
        bars, message = Text(), ""
        if row is None:
            message = waiting
        elif isinstance(row.result, Failure):
            message = f"offset {row.offset} failed: {one_line(row.result.error, 200)}"
        else:
            counts = numbers_of(row.result.value)
            if counts is None:
                message = f"the output at offset {row.offset} is not a JSON object of numbers: nothing to chart"
            else:
                bars = chart_text(counts, self.scrollable_content_region.width or 80)
        self.query_one("#chart-bars", Static).update(bars)
        self.query_one("#chart-message", Static).update(Text(message))
