"""The detail of one record: the input and the output side by side, with the module's changes marked.

Both sides are laid out from their own text (core/jsonlayout.py), so numbers and keys read as the file
and the module wrote them. When both are JSON objects their top-level fields are aligned: a field on one
side only faces a blank on the other, and one scroll moves both. Only the lines on screen are drawn
(Textual's Line API), and the rows are kept as blocks of fields, never one object per line. A long
value is first drawn from a preview of its first lines, with every field paired as in the whole
layout, which is made once that first screen is up: a 1 MiB record opens about as fast as a short one.
"""

from __future__ import annotations

import gc
from bisect import bisect_left, bisect_right, insort
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
from textual.message import Message
from textual.screen import ModalScreen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Label, Static

from ..core.jsonlayout import Field, Layout, is_json, layout, layout_like, preview
from ..core.modules.runner import Failure
from ..core.runs.rows import Row
from ..core.text import printable
from .render import decode, short_location

# The detail view lays out at most this much of a value; beyond it the start is shown as it is, with a note.
DETAIL_BYTES = 1 << 20
# A longer value is first drawn from a preview of this many lines a side (a screen needs far fewer),
# and laid out whole once that is on screen.
PREVIEW_BYTES = 1 << 16
PREVIEW_LINES = 400
REMOVED = "red strike"
CHANGED = "yellow"
ADDED = "green"
FAILED = "red"
GUTTER = " │ "
_AFTER = float("inf")  # (line, _AFTER) sorts after every span (first, last, style) that starts on the line
_highlighter = JSONHighlighter()


@dataclass
class Side:
    """One side's lines, their styles, and a note for the top of the view.

    A record of 1 MiB makes over a hundred thousand lines and a few top-level fields: styles are kept
    as spans of lines (a field's), never one per line, and the lines themselves are formatted by the
    layout only when drawn. `head` comes above them (the output's key, with `head_styles`) and
    `markers` go in the first column of a marked field.
    """

    layout: Layout
    json: bool
    note: str = ""
    spans: list[tuple[int, int, str]] = field(default_factory=list)  # (first, last, style), in order
    head: list[str] = field(default_factory=list)
    head_styles: list[str | None] = field(default_factory=list)
    markers: dict[int, str] = field(default_factory=dict)

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

    def style(self, number: int) -> str | None:
        """The style of line `number` (None: plain)."""
        if number < len(self.head):
            return self.head_styles[number] if number < len(self.head_styles) else None
        number -= len(self.head)
        at = bisect_right(self.spans, (number, _AFTER)) - 1
        if at >= 0 and number < self.spans[at][1]:
            return self.spans[at][2]
        return None

    def same_lines(self, other: Side) -> bool:
        """Whether both sides show the same lines (a value shown as it came: laid out once)."""
        return self.layout is other.layout and not (self.head or other.head or self.markers or other.markers)

    def mark(self, first: int, last: int, style: str, marker: str) -> None:
        """Style lines [first, last) and put `marker` in the first column of the first (a field's indent)."""
        insort(self.spans, (first, last, style))
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


def side(value: bytes, name: str, like: Side | None = None, lines: int | None = None,
         text: str | None = None) -> Side | None:
    """A value laid out for reading: JSON indented from its own text, anything else as its lines.

    With `like` (the input, for the output side), the fields written the same on both are cut once.
    With `lines`, JSON is laid out as a preview of that many lines (None if it cannot be: lay it out whole).
    `text` is the value's JSON text as a preview of it already made it (checked and made printable).
    """
    if len(value) > DETAIL_BYTES:
        shown = printable(decode(value[:DETAIL_BYTES], None), keep_newlines=True)
        note = f"{name}: the first {DETAIL_BYTES >> 10:,} KiB of {len(value):,} bytes, as they are"
        return Side(Layout(shown.split("\n")), False, note)
    if text is None and is_json(value):
        # In valid JSON, tab, CR and newline appear only between tokens (never raw inside a string).
        text = printable(value.decode().replace("\t", " ").replace("\r", " ").replace("\n", " "))
    if text is not None:
        base = like.layout if like is not None and like.json else None
        if lines is not None:
            laid = preview(text, lines, base)
            return None if laid is None else Side(laid, True)
        return Side(layout(text) if base is None else layout_like(text, base), True)
    return Side(Layout(printable(decode(value, None), keep_newlines=True).split("\n")), False)


def failure_side(failure: Failure) -> Side:
    """The exception, where it was raised, and the module's traceback (paths from the module's folder)."""
    folder = failure.location.rsplit("/", 1)[0] + "/" if "/" in failure.location else ""
    trace = failure.traceback or ""  # None: the record was not mapped again in time
    trace = trace.replace(folder, "") if folder else trace
    head = printable(failure.error, keep_newlines=True).split("\n")
    head += [f"at {printable(short_location(failure.location))}", ""]
    body = printable(trace, keep_newlines=True).split("\n")
    spans = [(0, len(head), "bold red"), (len(head), len(head) + len(body), FAILED)]
    return Side(Layout(head + body), False, spans=spans)


def _identities(fields: list[Field]) -> list[tuple[str, int]]:
    """(key, how many times it came before): duplicate keys are told apart by their order."""
    seen: dict[str, int] = {}
    result = []
    for item in fields:
        seen[item.key] = seen.get(item.key, -1) + 1
        result.append((item.key, seen[item.key]))
    return result


class Pairs:
    """The rows of the view, as blocks of lines side by side: a field's lines on both sides, the shorter
    side padded with blank lines.

    A 1 MiB record makes over a hundred thousand rows but only a few blocks (one a top-level field):
    a row's lines are found from its block (`at`), so nothing is kept, or built, per row.
    """

    def __init__(self) -> None:
        self.blocks: list[tuple[int, int, int, int]] = []  # (first left line, count, first right line, count)
        self.starts: list[int] = []  # the first row of each block
        self.count = 0
        self._next = [0, 0]  # each side's line after its last block's: the first of a block without lines

    def add(self, left: range, right: range) -> None:
        """Lines of both sides next to each other; the shorter side is padded with blank lines."""
        height = max(len(left), len(right))
        if height:
            firsts = [lines.start if lines else after for lines, after in zip((left, right), self._next)]
            self._next = [lines.stop if lines else after for lines, after in zip((left, right), self._next)]
            self.blocks.append((firsts[0], len(left), firsts[1], len(right)))
            self.starts.append(self.count)
            self.count += height

    def at(self, row: int) -> tuple[int, int]:
        """The line of each side on `row`; -1 is a blank line."""
        block = bisect_right(self.starts, row) - 1
        left, lefts, right, rights = self.blocks[block]
        offset = row - self.starts[block]
        return (left + offset if offset < lefts else -1, right + offset if offset < rights else -1)

    def rows_of(self, side: int, lines: list[int]) -> list[int]:
        """The rows of lines of one side (0 left, 1 right), given in order."""
        firsts = [block[2 * side] for block in self.blocks]
        rows = []
        for line in lines:
            block = bisect_right(firsts, line) - 1  # firsts never decrease: a block without lines has the next
            rows.append(self.starts[block] + line - firsts[block])
        return rows

    def below_head(self, head: int) -> None:
        """Make room for `head` lines above the right side's (the output's key): its lines move down."""
        self.blocks = [(left, lefts, right + head, rights) for left, lefts, right, rights in self.blocks]
        self.starts = [start + head for start in self.starts]
        self.blocks.insert(0, (0, 0, 0, head))
        self.starts.insert(0, 0)
        self.count += head


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
    if left.layout.complete and right.layout.complete:  # a preview's last line is not its closing brace
        pairs.add(range(left.count - 1, left.count), range(right.count - 1, right.count))
    return pairs


def known_rows(left: Side, right: Side, pairs: Pairs) -> int | None:
    """How many rows are as the whole layout has them when a side is a preview (None: both are whole):
    those above the first that needs a line not cut yet."""
    ends = [pairs.rows_of(which, [side_.count - 1])[0] + 1
            for which, side_ in enumerate((left, right)) if not side_.layout.complete]
    return min(ends) if ends else None


def _mark(side_: Side, item: Field, other: Side, theirs: Field | None, alone: str, marker: str) -> None:
    """Mark a field missing from the other side, or different there; the same field stays plain."""
    if theirs is None:
        side_.mark(item.first, item.last, alone, marker)
    elif not side_.layout.same_field(item, other.layout, theirs):
        side_.mark(item.first, item.last, CHANGED, "~")


def _chop(text: str, width: int) -> list[str]:
    """A line cut into pieces of `width` cells: long strings wrap rather than run off the pane.

    A printable ASCII character takes one cell (lines are printable: controls are escaped), so such a
    line is cut by slicing: a 1 MiB line in a millisecond rather than character by character.
    """
    if text.isascii():
        return [text[start : start + width] for start in range(0, len(text), width)] or [""]
    return chop_cells(text, width) or [""]


class DetailView(ScrollView, can_focus=True):
    """The two sides, row by row, wrapped to the pane width; only the rows on screen are drawn."""

    DEFAULT_CSS = """
    DetailView { background: $surface; overflow-x: hidden; }
    """

    class Drawn(Message):
        """The view's first lines were drawn (handled once that frame is on screen)."""

    def __init__(self, left: Side, right: Side, pairs: Pairs, *, known: int | None = None,
                 id: str | None = None) -> None:
        super().__init__(id=id)
        self.sides = (left, right)
        self.pairs = pairs
        self.known = known  # of a preview: the rows that are as the whole layout has them (None: all)
        self._pieces: tuple[dict[int, list[str]], dict[int, list[str]]] = ({}, {})
        # The rows taller than one screen line (a long line wraps), in order: the row, its first screen
        # line and its height. A few at most in most records: every other row is one line.
        self._tall: tuple[list[int], list[int], list[int]] = ([], [], [])
        self._laid_width = -1
        self._strips: LRUCache[tuple[int, int], Strip] = LRUCache(1024)
        self._drawn = False

    @property
    def pane_width(self) -> int:
        return max(4, (self.scrollable_content_region.width - len(GUTTER)) // 2)

    def on_mount(self) -> None:
        # Every row at least: the scroll bar is there from the first layout, so the width the rows are
        # first laid out for is the width they keep.
        self.virtual_size = Size(self.size.width, self.pairs.count if self.known is None else self.known)

    def show(self, left: Side, right: Side, pairs: Pairs) -> None:
        """Show the whole layout of the sides a preview was made of (the rows on screen stay)."""
        self.sides, self.pairs, self.known = (left, right), pairs, None
        self._laid_width = -1
        self._lay_out()

    def on_resize(self) -> None:
        self._lay_out()

    def on_unmount(self) -> None:
        # A closed view lets go of its lines at once rather than at the next full garbage collection,
        # which would otherwise walk them (a 1 MiB record's are over a hundred thousand).
        self.sides = (Side(Layout([]), False), Side(Layout([]), False))
        self.pairs = Pairs()
        self._pieces, self._tall = ({}, {}), ([], [], [])
        self._strips.clear()

    def _lay_out(self) -> None:
        """Which piece of which row goes on each screen line, for the current width."""
        width = self.pane_width
        if width == self._laid_width:
            return
        self._laid_width = width
        self._strips.clear()
        left, right = self.sides
        pieces = left.long_lines(width)
        self._pieces = (pieces, pieces if right.same_lines(left) else right.long_lines(width))
        self._tall = self._wrapped()
        height = self._top_of(self.pairs.count if self.known is None else self.known)
        self.virtual_size = Size(self.size.width, height)
        self.refresh()

    def _wrapped(self) -> tuple[list[int], list[int], list[int]]:
        """The rows holding a line cut into pieces, the screen line each starts on, and their heights."""
        heights: dict[int, int] = {}
        for which, pieces in enumerate(self._pieces):
            lines = sorted(pieces)
            for row, line in zip(self.pairs.rows_of(which, lines), lines):
                heights[row] = max(heights.get(row, 1), len(pieces[line]))
        rows = sorted(row for row, height in heights.items() if height > 1)
        tops, extra = [], 0
        for row in rows:
            tops.append(row + extra)
            extra += heights[row] - 1
        return rows, tops, [heights[row] for row in rows]

    def _top_of(self, row: int) -> int:
        """The screen line row `row` starts on (rows above it may take more than one line)."""
        rows, _, heights = self._tall
        above = bisect_left(rows, row)
        return row + sum(heights[:above]) - above

    def _locate(self, line: int) -> tuple[int, int]:
        """The row on screen line `line`, and which piece of it."""
        rows, tops, heights = self._tall
        at = bisect_right(tops, line) - 1
        if at < 0:
            return line, 0
        if line < tops[at] + heights[at]:
            return rows[at], line - tops[at]
        return rows[at] + 1 + line - tops[at] - heights[at], 0

    def render_line(self, y: int) -> Strip:
        self._lay_out()  # the first frame is drawn before the resize event: laid out here, not left blank
        if not self._drawn:
            self._drawn = True
            self.post_message(self.Drawn())
        width = self.size.width
        line = int(self.scroll_y) + y
        if line >= self.virtual_size.height:
            return Strip.blank(width, self.rich_style)
        key = (line, width)
        strip = self._strips.get(key)
        if strip is None:
            row, piece = self._locate(line)
            strip = self._strips[key] = self._draw(row, piece, width)
        return strip

    def _draw(self, row: int, piece: int, width: int) -> Strip:
        pane = self.pane_width
        left, right = self.pairs.at(row)
        text = self._cell_text(0, left, piece, pane)
        text.append(GUTTER, style="dim")
        text.append_text(self._cell_text(1, right, piece, pane))
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
        style = side_.style(number)
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
        self._collector_paused = False
        self._preview: int | None = None  # the rows a preview shows until the whole layout is made
        self._texts: tuple[str | None, ...] = (None, None)  # the JSON text of each side, from its preview

    def compose(self) -> ComposeResult:
        left, right, pairs = self._sides(preview=True)
        self._preview = known_rows(left, right, pairs)
        notes = [s.note for s in (left, right) if s.note]
        with Vertical(id="detail") as box:
            number = "" if self.row.sub is None else f" · output {self.row.sub + 1} of the record"
            box.border_title = Content(f"{printable(self.topic)} · offset {self.row.offset}{number}")
            note = Static(Content("\n".join(notes)), id="detail-note")
            note.set_class(bool(notes), "-shown")
            yield note
            yield Static(id="detail-titles")
            yield DetailView(left, right, pairs, known=self._preview, id="detail-rows")
            yield Label(Content.from_markup(
                "fields: [red strike]- removed[/] [yellow]~ changed[/] [green]+ added[/] · "
                "↑↓ pgup pgdn home end scroll both sides · esc closes"), id="detail-help")

    def on_mount(self) -> None:
        self.query_one(DetailView).focus()
        if self._preview is None:
            self.call_after_refresh(self._resume_collector)

    def on_detail_view_drawn(self, event: DetailView.Drawn) -> None:
        event.stop()
        if self._preview is not None and self.is_attached:
            self._preview = None
            self._finish()

    def _finish(self) -> None:
        """The whole layout, as soon as the preview is on screen (keys pressed meanwhile wait for it)."""
        view = self.query_one(DetailView)
        self._texts = tuple(s.layout.text if s.json else None for s in view.sides)  # checked already
        view.show(*self._sides(preview=False))
        self.call_after_refresh(self._resume_collector)

    def on_unmount(self) -> None:
        self._resume_collector()

    def _resume_collector(self) -> None:
        if self._collector_paused:
            self._collector_paused = False
            gc.enable()

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_titles)

    def _show_titles(self) -> None:
        view = self.query_one(DetailView)
        pane = view.pane_width
        right = "Failure" if self.row.failed else "Output"
        self.query_one("#detail-titles", Static).update(Content("Input".ljust(pane) + " " * len(GUTTER) + right))

    def _sides(self, preview: bool) -> tuple[Side, Side, Pairs]:
        """Both sides laid out, with the garbage collector paused until the view is first drawn: a
        1 MiB record makes a few hundred thousand strings, none of them in a cycle, and the collections
        they would set off (over the whole app's heap, walking the new lists of lines) cost as much
        again as the layout. Once the view is on screen, collecting no longer delays it."""
        if gc.isenabled():
            self._collector_paused = True
            gc.disable()
        try:
            return self._lay_out_sides(preview)
        except BaseException:
            self._resume_collector()
            raise

    def _lay_out_sides(self, preview: bool) -> tuple[Side, Side, Pairs]:
        """Both sides and their rows; with `preview`, of the first lines of long values only."""
        result = self.row.result
        output = None if isinstance(result, Failure) else result.value
        lines = PREVIEW_LINES if preview and max(len(self.value), len(output or b"")) > PREVIEW_BYTES else None
        left = side(self.value, "Input", lines=lines, text=self._texts[0])
        if left is None:  # no preview can be made of it: laid out whole
            return self._lay_out_sides(False)
        if isinstance(result, Failure):
            right = failure_side(result)
            pairs = Pairs()
            pairs.add(range(left.count), range(right.count))
            return left, right, pairs
        if output == self.value:  # shown as it came (no module, or one that kept it): laid out once
            right = Side(left.layout, left.json, left.note.replace("Input", "Output", 1))
        else:
            right = side(output, "Output", like=left, lines=lines, text=self._texts[1])
            if right is None:
                return self._lay_out_sides(False)
        pairs = aligned(left, right)
        if result.key is not None:  # the output's key above its value, the input's lines moved down to match
            right.head = [f"key: {printable(decode(result.key, None))}", ""]
            right.head_styles = ["bold", None]
            pairs.below_head(len(right.head))
        return left, right, pairs
