"""The detail of one record: the input and the output side by side, with the module's changes marked.

Both sides are laid out from their own text (core/jsonlayout.py), so numbers and keys read as the file
and the module wrote them. When both are JSON objects their top-level fields are aligned: a field on one
side only faces a blank on the other, and one scroll moves both. Only the lines on screen are drawn
(Textual's Line API), so a 1 MiB record opens about as fast as a short one.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from rich.cells import cell_len, chop_cells
from rich.highlighter import JSONHighlighter
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.cache import LRUCache
from textual.containers import Vertical
from textual.content import Content
from textual.geometry import Size
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Label, Static

from ..core.jsonlayout import Field, Layout, is_json, layout, layout_like
from ..core.modules.runner import Failure
from ..core.runs.rows import Row
from ..core.text import printable
from .render import decode, short_location

# The detail view lays out at most this much of a value; beyond it the start is shown as it is, with a note.
DETAIL_BYTES = 1 << 20
REMOVED = "red strike"
CHANGED = "yellow"
ADDED = "green"
FAILED = "red"
GUTTER = " │ "
_highlighter = JSONHighlighter()


@dataclass
class Side:
    """One side's lines, the style of each (None: plain), and a note for the top of the view.

    Styles are kept per line in a list filled by slices, and the two sides are paired by line numbers:
    a record of 1 MiB makes tens of thousands of lines, and an object per line would take most of the
    time the view has to open. The lines themselves are formatted by the layout only when drawn; `head`
    comes above them (the output's key) and `markers` go in the first column of a marked field.
    """

    layout: Layout
    json: bool
    note: str = ""
    styles: list[str | None] = field(default_factory=list)
    head: list[str] = field(default_factory=list)
    markers: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.styles:
            self.styles = [None] * self.layout.count

    @property
    def count(self) -> int:
        return len(self.head) + self.layout.count

    def line(self, number: int) -> str:
        """Line `number` of this side (the head's lines first)."""
        if number < len(self.head):
            return self.head[number]
        number -= len(self.head)
        text = self.layout.line(number)
        marker = self.markers.get(number)
        return text if marker is None else marker + text[1:]

    def mark(self, first: int, last: int, style: str, marker: str) -> None:
        """Style lines [first, last) and put `marker` in the first column of the first (a field's indent)."""
        self.styles[first:last] = [style] * (last - first)
        self.markers[first] = marker

    def long_lines(self, width: int) -> dict[int, list[str]]:
        """The lines wider than the pane, cut into pieces (most lines of a record fit and cost nothing here).

        The common case, every line ASCII and narrow enough, is found with passes in C, without
        formatting a line.
        """
        long = {n: _chop(line, width) for n, line in enumerate(self.head) if cell_len(line) > width}
        if self.layout.widest() <= width and self.layout.is_ascii():
            return long
        for number in self.layout.wider_than(width):
            line = self.line(number + len(self.head))
            if cell_len(line) > width:
                long[number + len(self.head)] = _chop(line, width)
        return long


def side(value: bytes, name: str, like: Side | None = None) -> Side:
    """A value laid out for reading: JSON indented from its own text, anything else as its lines.

    With `like` (the input, for the output side), the fields written the same on both are cut once.
    """
    if len(value) > DETAIL_BYTES:
        text = printable(decode(value[:DETAIL_BYTES], None), keep_newlines=True)
        note = f"{name}: the first {DETAIL_BYTES >> 10:,} KiB of {len(value):,} bytes, as they are"
        return Side(Layout(text.split("\n")), False, note)
    if is_json(value):
        # In valid JSON, tab, CR and newline appear only between tokens (never raw inside a string).
        text = value.decode().replace("\t", " ").replace("\r", " ").replace("\n", " ")
        text = printable(text)
        return Side(layout(text) if like is None or not like.json else layout_like(text, like.layout), True)
    return Side(Layout(printable(decode(value, None), keep_newlines=True).split("\n")), False)


def failure_side(failure: Failure) -> Side:
    """The exception, where it was raised, and the module's traceback (paths from the module's folder)."""
    folder = failure.location.rsplit("/", 1)[0] + "/" if "/" in failure.location else ""
    trace = failure.traceback or ""  # None: the record was not mapped again in time
    trace = trace.replace(folder, "") if folder else trace
    head = printable(failure.error, keep_newlines=True).split("\n")
    head += [f"at {printable(short_location(failure.location))}", ""]
    body = printable(trace, keep_newlines=True).split("\n")
    return Side(Layout(head + body), False, styles=["bold red"] * len(head) + [FAILED] * len(body))


def _identities(fields: list[Field]) -> list[tuple[str, int]]:
    """(key, how many times it came before): duplicate keys are told apart by their order."""
    seen: dict[str, int] = {}
    result = []
    for item in fields:
        seen[item.key] = seen.get(item.key, -1) + 1
        result.append((item.key, seen[item.key]))
    return result


class Pairs:
    """Rows of the view as two lists of line numbers, one per side; -1 is a blank line."""

    def __init__(self) -> None:
        self.left: list[int] = []
        self.right: list[int] = []

    def add(self, left: range, right: range) -> None:
        """Lines of both sides next to each other; the shorter side is padded with blank lines."""
        self.left += left
        self.right += right
        gap = len(left) - len(right)
        (self.right if gap > 0 else self.left).extend([-1] * abs(gap))


def aligned(left: Side, right: Side) -> Pairs:
    """The two sides row by row: objects field by field (marked), anything else line by line."""
    pairs = Pairs()
    before, after = left.layout.fields, right.layout.fields
    if before is None or after is None:
        pairs.add(range(left.count), range(right.count))
        return pairs
    ids_before, ids_after = _identities(before), _identities(after)
    by_id_before, by_id_after = dict(zip(ids_before, before)), dict(zip(ids_after, after))
    for i, item in zip(ids_before, before):
        _mark(left, item, right, by_id_after.get(i), REMOVED, "-")
    for i, item in zip(ids_after, after):
        _mark(right, item, left, by_id_before.get(i), ADDED, "+")
    pairs.add(range(1), range(1))  # the opening braces
    matcher = SequenceMatcher(None, ids_before, ids_after, autojunk=False)
    for tag, b1, b2, a1, a2 in matcher.get_opcodes():
        if tag == "equal":
            for i, j in zip(range(b1, b2), range(a1, a2)):
                pairs.add(range(before[i].first, before[i].last), range(after[j].first, after[j].last))
            continue
        for i in range(b1, b2):  # fields without a partner here: each faces blank lines
            pairs.add(range(before[i].first, before[i].last), range(0))
        for j in range(a1, a2):
            pairs.add(range(0), range(after[j].first, after[j].last))
    pairs.add(range(left.count - 1, left.count), range(right.count - 1, right.count))
    return pairs


def _mark(side_: Side, item: Field, other: Side, theirs: Field | None, alone: str, marker: str) -> None:
    """Mark a field missing from the other side, or different there; the same field stays plain."""
    if theirs is None:
        side_.mark(item.first, item.last, alone, marker)
    elif not side_.layout.same_field(item, other.layout, theirs):
        side_.mark(item.first, item.last, CHANGED, "~")


def _chop(text: str, width: int) -> list[str]:
    """A line cut into pieces of `width` cells: long strings wrap rather than run off the pane."""
    return chop_cells(text, width) or [""]


class DetailView(ScrollView, can_focus=True):
    """The two sides, row by row, wrapped to the pane width; only the rows on screen are drawn."""

    DEFAULT_CSS = """
    DetailView { background: $surface; overflow-x: hidden; }
    """

    def __init__(self, left: Side, right: Side, pairs: Pairs, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.sides = (left, right)
        self.pairs = pairs
        self._pieces: tuple[dict[int, list[str]], dict[int, list[str]]] = ({}, {})
        # Screen line -> (row, piece of it), when some line wraps; None: line y is row y.
        self._display: tuple[list[int], list[int]] | None = None
        self._laid_width = -1
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(1024)

    @property
    def pane_width(self) -> int:
        return max(4, (self.scrollable_content_region.width - len(GUTTER)) // 2)

    def on_resize(self) -> None:
        self._lay_out()

    def _lay_out(self) -> None:
        """Which piece of which row goes on each screen line, for the current width."""
        width = self.pane_width
        if width == self._laid_width:
            return
        self._laid_width = width
        self._strips.clear()
        self._pieces = (self.sides[0].long_lines(width), self.sides[1].long_lines(width))
        self._display = None
        height = len(self.pairs.left)
        if any(self._pieces):
            self._display = self._wrapped()
            height = len(self._display[0])
        self.virtual_size = Size(self.size.width, height)
        self.refresh()

    def _wrapped(self) -> tuple[list[int], list[int]]:
        rows: list[int] = []
        pieces: list[int] = []
        long_left, long_right = self._pieces
        for number, (left, right) in enumerate(zip(self.pairs.left, self.pairs.right)):
            height = max(len(long_left.get(left, "x")), len(long_right.get(right, "x")))
            rows += [number] * height
            pieces += range(height)
        return rows, pieces

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        line = int(self.scroll_y) + y
        if line >= self.virtual_size.height:
            return Strip.blank(width, self.rich_style)
        key = (line, width)
        strip = self._strips.get(key)
        if strip is None:
            row, piece = (line, 0) if self._display is None else (self._display[0][line], self._display[1][line])
            strip = self._strips[key] = self._draw(row, piece, width)
        return strip

    def _draw(self, row: int, piece: int, width: int) -> Strip:
        pane = self.pane_width
        text = self._cell_text(0, self.pairs.left[row], piece, pane)
        text.append(GUTTER, style="dim")
        text.append_text(self._cell_text(1, self.pairs.right[row], piece, pane))
        base = self.rich_style
        segments = [Segment(t, base + s if s else base) for t, s, _ in text.render(self.app.console)]
        return Strip(segments).adjust_cell_length(width, base)

    def _cell_text(self, which: int, number: int, piece: int, pane: int) -> Text:
        side_ = self.sides[which]
        if number < 0:
            return Text(" " * pane, end="")
        pieces = self._pieces[which].get(number)
        if pieces is not None:
            content = pieces[piece] if piece < len(pieces) else ""
        else:
            content = side_.line(number) if piece == 0 else ""
        text = Text(content, no_wrap=True, end="")
        if side_.json:
            _highlighter.highlight(text)
        style = side_.styles[number]
        if style:
            text.stylize(Style.parse(style))
        text.truncate(pane, pad=True)
        return text


class DetailScreen(ModalScreen[None]):
    """Input on the left, output (or the failure) on the right, scrolling together."""

    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > #detail { width: 96%; height: 90%; border: round $primary; background: $surface; }
    DetailScreen #detail-note { color: $warning; text-style: bold; padding: 0 1; display: none; }
    DetailScreen #detail-note.-shown { display: block; }
    DetailScreen #detail-titles { text-style: bold; color: $text-primary; padding: 0 1; }
    DetailScreen DetailView { height: 1fr; padding: 0 1; }
    DetailScreen #detail-help { color: $text-muted; padding: 0 1; }
    """

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, row: Row, value: bytes, topic: str) -> None:
        super().__init__()
        self.row = row
        self.value = value
        self.topic = topic

    def compose(self) -> ComposeResult:
        left, right, pairs = self._sides()
        notes = [s.note for s in (left, right) if s.note]
        with Vertical(id="detail") as box:
            number = "" if self.row.sub is None else f" · output {self.row.sub + 1} of the record"
            box.border_title = Content(f"{printable(self.topic)} · offset {self.row.offset}{number}")
            note = Static(Content("\n".join(notes)), id="detail-note")
            note.set_class(bool(notes), "-shown")
            yield note
            yield Static(id="detail-titles")
            yield DetailView(left, right, pairs, id="detail-rows")
            yield Label(Content.from_markup(
                "fields: [red strike]- removed[/] [yellow]~ changed[/] [green]+ added[/] · "
                "↑↓ pgup pgdn home end scroll both sides · esc closes"), id="detail-help")

    def on_mount(self) -> None:
        self.query_one(DetailView).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_titles)

    def _show_titles(self) -> None:
        view = self.query_one(DetailView)
        pane = view.pane_width
        right = "Failure" if self.row.failed else "Output"
        self.query_one("#detail-titles", Static).update(Content("Input".ljust(pane) + " " * len(GUTTER) + right))

    def _sides(self) -> tuple[Side, Side, Pairs]:
        """Both sides laid out, with the garbage collector paused: a 1 MiB record makes a few hundred
        thousand strings, none of them in a cycle, and the collections they would set off (over the
        whole app's heap) cost as much again as the layout."""
        gc.disable()
        try:
            return self._lay_out_sides()
        finally:
            gc.enable()

    def _lay_out_sides(self) -> tuple[Side, Side, Pairs]:
        left = side(self.value, "Input")
        result = self.row.result
        if isinstance(result, Failure):
            right = failure_side(result)
            pairs = Pairs()
            pairs.add(range(left.count), range(right.count))
            return left, right, pairs
        if result.value == self.value:  # shown as it came (no module, or one that kept it): laid out once
            right = Side(left.layout, left.json, left.note.replace("Input", "Output", 1))
        else:
            right = side(result.value, "Output", like=left)
        pairs = aligned(left, right)
        if result.key is not None:  # the output's key above its value, the input's lines moved down to match
            right.head = [f"key: {printable(decode(result.key, None))}", ""]
            right.styles[:0] = ["bold", None]
            pairs.left[:0] = [-1, -1]
            pairs.right[:] = [0, 1] + [n + 2 if n >= 0 else n for n in pairs.right]
        return left, right, pairs
