"""The status bar: what is open, how much of it, how it is going, and how fast records arrive."""

from __future__ import annotations

from collections import deque

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from ..core.text import printable

RATE_SECONDS = 60
# The fewest columns a long topic path is shortened to before the module name gives way too.
MIN_TOPIC = 12
RATE_COLUMNS = 31  # the rate (10) and its sparkline (20 and a margin)
PROGRESS_COLUMNS = 24


class Status:
    """Everything the bar shows; the app fills it in and calls `StatusBar.show`.

    A plain class with its defaults on the class, not a dataclass: that costs the start half a millisecond.
    """

    records: int = 0
    counting: bool = False  # the topic's records are still being counted: `records` is not known yet
    errors: int = 0
    checked: int = 0  # records the background pass has mapped so far
    passed: int | None = None  # records a filter let through (filters only)
    rows: int | None = None  # rows of output, when a record may give several (array_map)
    following: bool = True
    new: int = 0
    busy: str = ""  # what a slow module is working on
    trouble: str = ""  # a problem with the source itself: a Kafka broker that cannot be reached
    quick: str = ""  # the quick filter's pattern, when one is applied
    matched: tuple[int, int] | None = None  # (records matching the quick filter, records checked)
    find: str = ""  # what the last find found: matches counted, not found, wrapped

    def __init__(self, topic: str, module: str) -> None:
        self.topic = topic
        self.module = module


class _StatusText(Static):
    """The bar's text, drawn again when its width changes (the terminal, the progress bar coming or going)."""

    def on_resize(self) -> None:
        bar = self.parent
        if isinstance(bar, StatusBar) and bar._status is not None:
            bar.show(bar._status)


class StatusBar(Horizontal):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    StatusBar #status-text { width: 1fr; height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
    StatusBar #status-rate { width: 10; height: 1; }
    StatusBar Sparkline { width: 20; height: 1; margin-right: 1; }
    StatusBar ProgressBar { width: 24; height: 1; display: none; }  /* PROGRESS_COLUMNS */
    StatusBar ProgressBar.-active { display: block; }
    /* While work is in progress the bar needs the room for its state: the rate gives way to the progress. */
    StatusBar.-working Sparkline, StatusBar.-working #status-rate { display: none; }
    /* And when the state, a short topic name and the module's would not fit beside them. */
    StatusBar.-tight Sparkline, StatusBar.-tight #status-rate { display: none; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.samples: deque[float] = deque([0.0] * RATE_SECONDS, maxlen=RATE_SECONDS)
        self._status: Status | None = None
        self._text = Content()
        self._width = 0
        self._fraction: float | None = None  # the progress to show once the bar is mounted
        self._rate = "0/s"  # the rate to show once its part is mounted

    def compose(self) -> ComposeResult:
        yield _StatusText(id="status-text")

    def add_the_rest(self) -> None:
        """Mount the progress bar, the rate and its sparkline, after the first frame: it can do without them
        (the rate is 0/s then, the sparkline flat), and each widget there costs that frame its styling and layout."""
        if not self.query("#status-progress"):
            from textual.widgets import ProgressBar, Sparkline

            self.mount(ProgressBar(total=100, show_eta=False, id="status-progress"), after="#status-text")
            self.mount(Static(self._rate, id="status-rate"), Sparkline(list(self.samples), id="status-spark"))
            self.progress(self._fraction)

    def on_mount(self) -> None:
        if self._status is not None:
            self.show(self._status)

    def show(self, status: Status) -> None:
        """Show the status; before the bar's own parts are mounted, keep it for `on_mount`."""
        self._status = status
        if not self.is_mounted or not self.query("#status-text"):
            return
        self.set_class(self._tight(status), "-tight")
        field = self.query_one("#status-text", Static)
        width = field.content_size.width
        text = _content(status, width)
        if text == self._text and width == self._width:  # timers ask ten times a second; an unchanged bar is not drawn again
            return
        self._text, self._width = text, width
        # One row of fixed height: a new text never changes the layout, so none is asked for (a layout
        # of the whole screen per appended record was most of the viewer's work during a burst).
        field.update(text, layout=False)

    def _tight(self, status: Status) -> bool:
        """Whether the rate and sparkline must give their room: decided from the bar's whole width, which
        their hiding does not change, so the decision never flips back and forth."""
        room = self.size.width - 2 - RATE_COLUMNS - (PROGRESS_COLUMNS if self.has_class("-working") else 0)
        return needed_columns(status) > room

    def progress(self, fraction: float | None) -> None:
        """Show a progress bar for long work (indexing a large topic); None hides it."""
        self._fraction = fraction
        if not self.query("#status-progress"):
            return
        self.set_class(fraction is not None, "-working")
        bar = self.query_one("#status-progress")
        bar.set_class(fraction is not None, "-active")
        if fraction is not None:
            bar.update(progress=100 * fraction)

    def add_rate_sample(self, per_second: float) -> None:
        if per_second == 0 and not any(self.samples):  # a quiet minute stays as drawn
            return
        self.samples.append(per_second)
        self._rate = f"{per_second:,.0f}/s"
        if self.query("#status-spark"):
            self.query_one("#status-spark").data = list(self.samples)  # type: ignore[attr-defined]
            self.query_one("#status-rate", Static).update(self._rate, layout=False)


def _content(status: Status, width: int = 0) -> Content:
    """The bar's text, built from parts rather than markup: a topic path or message holding `[/]` is shown as it is.

    In `width` columns (0: no limit) the state is always shown: a topic path too long for the rest is
    shortened in the middle, then the module name.
    """
    parts = _state(status)
    topic, module = printable(status.topic), printable(status.module)
    if width:
        room = width - Content(" · ").join(parts).cell_length - 6  # two more separators
        topic = shorten(topic, max(min(MIN_TOPIC, room // 2), room - cell_len(module)))
        module = shorten(module, max(1, room - cell_len(topic)))
    return Content(" · ").join([Content.styled(topic, "bold"), Content(module), *parts])


def needed_columns(status: Status) -> int:
    """Columns for the whole state, with the topic and the module name shortened no further than MIN_TOPIC."""
    names = min(cell_len(printable(status.topic)), MIN_TOPIC) + min(cell_len(printable(status.module)), MIN_TOPIC)
    return Content(" · ").join(_state(status)).cell_length + 6 + names


def shorten(text: str, room: int) -> str:
    """`text` in at most `room` columns, cut in the middle (`/very/lo…/file.jsonl`): both ends say the most."""
    if cell_len(text) <= room:
        return text
    if room < 2:
        return "…"[:room]
    keep_end = (room - 1) * 2 // 3
    head, tail = "", ""
    for char in reversed(text):
        if cell_len(tail) + cell_len(char) > keep_end:
            break
        tail = char + tail
    for char in text:
        if cell_len(head) + cell_len(char) + cell_len(tail) + 1 > room:
            break
        head += char
    return f"{head}…{tail}"


def _state(status: Status) -> list[Content]:
    """Every part of the bar after the topic and module: counts, errors, following or paused, troubles."""
    parts: list[Content] = [Content("counting records" if status.counting else f"{status.records:,} records")]
    if status.matched is not None:
        matching, checked = status.matched
        parts.append(Content.assemble((f"\\{_short(status.quick)}", "bold"), f" {matching:,} of {checked:,} match"))
    elif status.passed is not None:
        parts.append(Content(f"{status.passed:,} passed"))
    if status.rows is not None:
        parts.append(Content(f"{status.rows:,} rows"))
    if status.checked < status.records:
        percent = 100 * status.checked // max(status.records, 1)
        parts.append(Content.assemble((_errors(status.errors), "$text-error"), f" (checking {percent}%)"))
    else:
        parts.append(Content.styled(_errors(status.errors), "$text-error") if status.errors else Content("0 errors"))
    if status.following:
        parts.append(Content.styled("following", "$text-success"))
    else:
        parts.append(Content.assemble(("paused", "$text-warning"), f", {status.new:,} new" if status.new else ""))
    if status.find:
        parts.append(Content(printable(status.find)))
    if status.busy:
        parts.append(Content.styled(printable(status.busy), "$text-warning"))
    if status.trouble:
        parts.append(Content.styled(printable(status.trouble), "$text-error"))
    return parts


def _short(pattern: str, limit: int = 24) -> str:
    """A pattern as the bar quotes it: printable, and cut in the middle when long."""
    return shorten(printable(pattern), limit)


def _errors(count: int) -> str:
    return "1 error" if count == 1 else f"{count:,} errors"
