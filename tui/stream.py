"""The stream: one line per record, drawn with Textual's Line API.

Only the rows on screen are read, mapped and drawn, so a topic of ten million records costs no more
to show than one of ten. Rendered lines are cached by offset for the current generation of the mapped
topic; a parameter change starts a new generation and so a fresh cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..core.runs.rows import MappedTopic, Row
from ..core.modules.runner import Failure, Output
from .render import failure_text, json_segments, json_styles, shown, value_text

if TYPE_CHECKING:
    from ..core.pattern import Pattern

# How long drawing waits for the module before showing a row as pending (the screen stays live).
ROW_WAIT = 0.05


class RowStyles(NamedTuple):
    base: Style  # the widget's own
    offset: Style  # the offset column
    cursor: Style  # the cursor row's background, put over everything else
    match: Color | None  # find's highlight, which stays on the cursor's row
    json: dict[str, Style]  # each kind of JSON token, over the base (render.json_styles)


class StreamView(ScrollView, can_focus=True):
    """Mapped records, newest at the bottom, following the end of the topic until scrolled away from it."""

    COMPONENT_CLASSES = {
        "stream--offset",
        "stream--error",
        "stream--cursor",
        "stream--match",
        "stream--empty",
    }

    DEFAULT_CSS = """
    StreamView {
        background: $surface;
        overflow-x: hidden;
    }
    StreamView > .stream--offset { color: $text-muted; }
    StreamView > .stream--error { color: $text-error; background: $error 15%; }
    StreamView > .stream--cursor { background: $accent 30%; }
    StreamView > .stream--match { background: $warning 50%; text-style: bold; }
    StreamView > .stream--empty { color: $text-muted; text-style: italic; }
    """

    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "First", show=False),
        Binding("end,f", "follow", "Follow"),
        Binding("left", "shift(-1)", "Scroll left", show=False),
        Binding("right", "shift(1)", "Scroll right", show=False),
        Binding("w", "toggle_wrap", "Wrap long rows", show=False),
        Binding("enter", "select", "Detail"),
    ]

    cursor: reactive[int] = reactive(0, repaint=False)

    # Messages written out rather than as dataclasses: each dataclass costs the start half a millisecond.
    class Selected(Message):
        """Enter was pressed on a row."""

        def __init__(self, row: int) -> None:
            super().__init__()
            self.row = row

    class FollowChanged(Message):
        """Following started or stopped; `new` records arrived while paused."""

        def __init__(self, following: bool, new: int) -> None:
            super().__init__()
            self.following = following
            self.new = new

    def __init__(self, topic: MappedTopic, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.topic = topic
        self.following = True
        self.new_while_paused = 0
        # Patterns whose matches are highlighted: find's, and the quick filter's (core/pattern.py).
        self.search: tuple[Pattern, ...] = ()
        self.empty_message = "Waiting for records…"
        # Set by the app during a burst of appends: frames then never wait for rows (rows still being
        # mapped show as pending until the next frame, a few tens of milliseconds later).
        self.hurried = False
        self._lines: LRUCache[tuple, Strip] = LRUCache(2048)
        self._wrapped: LRUCache[tuple, list[Strip]] = LRUCache(512)
        self._count = 0
        # Bytes after the last newline: shown as a line of its own, so even a file without any newline
        # says what it holds rather than looking empty.
        self.unfinished = 0
        # Long rows: how many cells of each value are scrolled off to the left (the offsets stay put).
        self.x_shift = 0
        # Long rows wrapped onto as many lines as they need (the scroll position still counts rows).
        self.wrap = False
        self._frame: list[Strip] = []  # the screen's lines in wrap mode, laid out once per frame
        self._frame_rows: list[int] = []  # the row each of those lines belongs to
        self._styles: RowStyles | None = None

    # -- data ---------------------------------------------------------------------------------------

    def update_count(self, arrived: bool = True) -> None:
        """Take in records appended (or removed, after truncation) since the last call.

        `arrived` False: the rows changed because they are mapped or counted anew (another module, a
        counting pass catching up), so while paused they are not counted as new.
        """
        count = self.topic.count
        added = count - self._count
        self._count = count
        self._set_height(self._height())
        if self.following:
            self.cursor = max(0, count - 1)
            self._scroll_to_end()
        elif added > 0 and arrived:
            self.new_while_paused += added
            self.post_message(self.FollowChanged(False, self.new_while_paused))
        if added < 0:
            self.cursor = min(self.cursor, max(0, count - 1))
        self.refresh()

    def count_arrived(self) -> None:
        """The preview of the last records became the counted topic: the same rows, now with offsets.

        The rows keep their place on screen: the cursor and the scroll position move by the records
        before the preview.
        """
        shift = self.topic.count - self._count
        self._lines.clear()
        if self.following:
            self.update_count(arrived=False)
            return
        top = int(self.scroll_y)
        self.cursor += shift
        self.update_count(arrived=False)
        self.scroll_to(y=top + shift, animate=False, immediate=True)

    def show(self, topic: MappedTopic) -> None:
        """Show other records altogether (another partition), from their end, following."""
        self.topic = topic
        self._count = 0
        self._lines.clear()
        self._wrapped.clear()
        self.new_while_paused = 0
        self.following = True
        self.update_count()

    def remap(self) -> None:
        """The mapping changed: redraw every visible row from the new results, keeping the scroll position."""
        self._lines.clear()
        self._wrapped.clear()
        self.refresh()

    def _set_height(self, height: int) -> None:
        """Grow or shrink the scrollable height without a layout of the whole screen when possible.

        Setting `virtual_size` lays out every widget again: tens of milliseconds that a burst of appended
        records would pay many times a second. Only a change in whether the rows overflow the view (the
        scrollbar appears or goes) needs that; otherwise the scrollbar is updated and the view redrawn.
        """
        new = Size(self.size.width, height)
        old = self.virtual_size
        if new == old:
            return
        view = self.scrollable_content_region.height
        if old.width != new.width or (old.height > view) != (height > view):
            self.virtual_size = new
            return
        self.set_reactive(StreamView.virtual_size, new)
        self._scroll_update(new)
        self.refresh()

    def _height(self) -> int:
        """Rows to scroll through; when wrapping, the last row may be the top one (rows are taller than a line)."""
        rows = self._count + (1 if self.unfinished else 0)
        return rows + max(0, self.scrollable_content_region.height - 1) if self.wrap and rows else rows

    def on_resize(self) -> None:
        """Keep the scroll range and the end in view, drawing again only when the end moved.

        The frame that follows a resize (the panel shown or hidden, the terminal resized) is already laid
        out and drawn at the new size, from lines cached per width: setting `virtual_size` here would lay
        out and draw the whole screen a second time, which is what a key press then waits for.
        """
        size = Size(self.size.width, self._height())
        old = self.virtual_size
        view = self.scrollable_content_region.height
        if (old.height > view) != (size.height > view):
            self.virtual_size = size  # the scrollbar appears or goes: that does need a layout
        elif size != old:
            self.set_reactive(StreamView.virtual_size, size)
        end = self._end_top() if self.wrap else max(0, size.height - view)
        if self.following and end != int(self.scroll_y):
            # A new height moves the end: scroll there through the watchers, which redraw the rows and
            # the scrollbar (the frame at the new size is already drawn from the old position).
            self.scroll_to(y=end, animate=False, immediate=True)

    def _scroll_to_end(self) -> None:
        """Show the last records. Set directly: the new virtual size is not laid out yet."""
        if self.wrap:
            self.set_scroll(None, self._end_top())
            return
        self.set_scroll(None, max(0, self._height() - self.scrollable_content_region.height))

    # -- drawing ------------------------------------------------------------------------------------

    def render_lines(self, crop: Region) -> list[Strip]:
        """Ask for the visible rows once per frame, waiting at most ROW_WAIT for the module.

        Rows not mapped by then are drawn pending and drawn again when they are ready: a slow module (or
        a busy processor) can delay a frame by ROW_WAIT at most, never once per line.
        """
        self._styles = None  # looked up again for each frame: the theme or the focus may have changed
        if self._count:
            top = int(self.scroll_y)
            self.topic.window(top, top + self.size.height + 1, wait=0 if self.hurried else ROW_WAIT)
        if self.wrap:
            self._lay_out_frame()
        return super().render_lines(crop)

    # -- wrapping -----------------------------------------------------------------------------------

    def action_toggle_wrap(self) -> None:
        """Wrap long rows onto several lines, or show each on one line (then left/right scroll it)."""
        self.wrap = not self.wrap
        self.x_shift = 0
        self._set_height(self._height())
        if self.following:
            self._scroll_to_end()
        self.refresh()

    def _row_lines(self, number: int, width: int) -> list[Strip] | None:
        """A row's lines when wrapped (None while it is being mapped)."""
        key = ("wrap", self.topic.generation, number, width, number == self.cursor, self.search)
        strips = self._wrapped.get(key)
        if strips is None:
            row = self.topic.cached(number, number + 1)
            if not row or row[0] is None:
                return None
            strips = self._wrapped[key] = self._draw_wrapped(row[0], number, width)
        return strips

    def _draw_wrapped(self, row: Row, number: int, width: int) -> list[Strip]:
        label = self._label_width() + 1
        room = max(1, width - label)
        body = self._highlighted(self._body(row))
        pieces = body.divide(range(room, len(body), room)) if len(body) > room else [body]
        offset_style = Style(color=self.get_component_rich_style("stream--offset").color)
        lines = []
        for k, piece in enumerate(pieces):
            text = Text(f"{self._label(row)} " if k == 0 else " " * label, style=offset_style, no_wrap=True)
            text.append_text(piece)
            text.truncate(width, overflow="ellipsis", pad=True)
            lines.append(self._strip(text, number, width))
        return lines

    def _lay_out_frame(self) -> None:
        """The screen's lines from the top row down, each row taking the lines it wraps onto."""
        width, height = self.size.width, self.size.height
        frame: list[Strip] = []
        rows: list[int] = []
        number = int(self.scroll_y)
        if self.following:  # the last rows' heights are known only once they are mapped
            end = self._end_top()
            if end != number:
                number = end
                self.call_after_refresh(self.set_scroll, None, end)
        while len(frame) < height and number < self._count:
            strips = self._row_lines(number, width) or [self._pending_line(width)]
            frame += strips
            rows += [number] * len(strips)
            number += 1
        self._frame, self._frame_rows = frame[:height], rows[:height]

    def _row_height(self, number: int) -> int:
        strips = self._row_lines(number, self.size.width)
        return len(strips) if strips else 1

    def _top_showing(self, row: int) -> int:
        """The top row that puts `row` on the last lines of the screen when wrapping."""
        height, used, top = self.size.height, 0, row
        while top >= 0:
            used += self._row_height(top)
            if used > height:
                return min(row, top + 1)
            top -= 1
        return 0

    def _end_top(self) -> int:
        return self._top_showing(self._count - 1) if self._count else 0

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._height() == 0:
            return self._empty_line(y, width)
        if self.wrap:
            return self._frame[y] if y < len(self._frame) else Strip.blank(width, self.rich_style)
        number = int(self.scroll_y) + y
        if number == self._count and self.unfinished:
            return self._unfinished_line(width)
        if number >= self._count:
            return Strip.blank(width, self.rich_style)
        key = (self.topic.generation, number, width, number == self.cursor, self.search, self.x_shift)
        strip = self._lines.get(key)
        if strip is None:
            row = self.topic.cached(number, number + 1)
            if not row or row[0] is None:
                return self._pending_line(width)
            strip = self._draw(row[0], number, width)
            self._lines[key] = strip
        return strip

    def _label_width(self) -> int:
        """Room for the offset column: the widest record offset, and `.N` when records give several rows."""
        width = len(str(max(self.topic.index.count - 1, 0)))
        return width + 3 if self.topic.numbers_outputs else width

    def _label(self, row: Row) -> str:
        if getattr(self.topic.index, "provisional", False):  # counted still: the offset is not known yet
            return "…".rjust(self._label_width())
        if self.topic.numbers_outputs:
            return f"{row.offset}.{row.sub or 0}".rjust(self._label_width())
        return f"{row.offset:>{self._label_width()}}"

    def _pending_line(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("stream--empty")
        text = f"{'':>{self._label_width()}} … mapping"
        return Strip([Segment(text[:width], style)]).adjust_cell_length(width, self.rich_style)

    def _unfinished_line(self, width: int) -> Strip:
        style = self.rich_style + self.get_component_rich_style("stream--empty")
        text = f"{self.topic.index.count:>{self._label_width()}} ⋯ {self.unfinished:,} bytes without a newline yet: shown once the line ends"
        return Strip([Segment(text[:width], style)]).adjust_cell_length(width, self.rich_style)

    def _highlighted(self, body: Text) -> Text:
        """The row's text with every match of the find patterns marked."""
        if self.search:
            match = self.get_component_rich_style("stream--match")
            for pattern in self.search:
                for start, end in pattern.spans(body.plain):
                    body.stylize(match, start, end)
        return body

    def _draw(self, row: Row, number: int, width: int) -> Strip:
        styles = self._row_styles()
        if not (self.x_shift or self.search or number == self.cursor):  # the common row, drawn directly
            result = row.result
            if isinstance(result, Output) and result.key is None:
                segments = json_segments(self._label(row), shown(result.value), width, styles.json)
                if segments is not None:
                    return Strip(segments, width)
        text = Text(f"{self._label(row)} ", style=styles.offset, no_wrap=True)
        text.append_text(self._highlighted(self._body(row)))
        if self.x_shift:
            text = self._shifted(text, len(self._label(row)) + 1, styles.offset.color)
        text.truncate(width, overflow="ellipsis", pad=True)
        return self._strip(text, number, width)

    def _row_styles(self) -> RowStyles:
        """The styles of this frame's rows, looked up once per frame: each lookup goes up the widget tree."""
        if self._styles is None:
            component = self.get_component_rich_style
            base, offset = self.rich_style, Style(color=component("stream--offset").color)
            self._styles = RowStyles(
                base,
                offset,
                Style(bgcolor=component("stream--cursor").bgcolor),
                component("stream--match").bgcolor,
                json_styles(self.app.console.get_style, offset, base),
            )
        return self._styles

    def _strip(self, text: Text, number: int, width: int) -> Strip:
        """A line of text as drawn, with the cursor's background when it is the cursor's row."""
        styles = self._row_styles()
        base = styles.base
        # The cursor's background goes on last so it shows over error rows and highlighted JSON alike.
        cursor = styles.cursor if number == self.cursor else None
        match = styles.match
        segments = []
        for segment_text, style, _ in text.render(self.app.console):
            combined = base + style if style else base
            over = cursor and combined.bgcolor != match  # a match stays marked on the cursor's row too
            segments.append(Segment(segment_text, combined + cursor if over else combined))
        return Strip(segments, width).adjust_cell_length(width, base + cursor if cursor else base)

    def _shifted(self, text: Text, label: int, color) -> Text:
        """The row with `x_shift` cells of its value scrolled off, marked by `…` where the value starts."""
        rest = text[label + self.x_shift + 1 :]
        shifted = text[:label]
        if len(rest):
            shifted.append("…", style=Style(color=color))
            shifted.append_text(rest)
        return shifted

    def _body(self, row: Row) -> Text:
        if isinstance(row.result, Failure):
            text = failure_text(row.result)
            text.stylize_before(self.get_component_rich_style("stream--error"))
            return text
        return value_text(row.result)

    def _empty_line(self, y: int, width: int) -> Strip:
        if y != self.size.height // 2:
            return Strip.blank(width, self.rich_style)
        style: Style = self.rich_style + self.get_component_rich_style("stream--empty")
        message = self.empty_message[:width]
        left = (width - len(message)) // 2
        segments = [Segment(" " * left, self.rich_style), Segment(message, style)]
        return Strip(segments).adjust_cell_length(width, self.rich_style)

    # -- moving -------------------------------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        if old != new:
            self._refresh_row(old - int(self.scroll_y))
            self._refresh_row(new - int(self.scroll_y))

    def _refresh_row(self, y: int) -> None:
        if self.wrap:  # rows are not lines: draw the screen again
            self.refresh()
        elif 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def move_to(self, row: int) -> None:
        """Put the cursor on a row and scroll it into view, pausing the follow unless it is the last."""
        if self._count == 0:
            return
        row = max(0, min(row, self._count - 1))
        self.cursor = row
        top = int(self.scroll_y)
        if row < top:
            self.scroll_to(y=row, animate=False, immediate=True)
        elif self.wrap:
            shown = self._frame_rows.count(row)
            if not shown or (self._frame_rows[-1] == row and shown < self._row_height(row)):  # not wholly on screen
                self.scroll_to(y=max(top, self._top_showing(row)), animate=False, immediate=True)
        elif row >= top + self.size.height:
            self.scroll_to(y=row - self.size.height + 1, animate=False, immediate=True)
        self._set_following(row == self._count - 1 and self.following)
        self.refresh()

    def jump_to(self, row: int) -> None:
        """Move the cursor far (an offset, an error row): a row off screen is brought to the middle, as less does."""
        top, height = int(self.scroll_y), self.size.height
        if self._count and not top <= row < top + height:
            self.scroll_to(y=max(0, row - height // 2), animate=False, immediate=True)
        self.move_to(row)

    def _set_following(self, following: bool) -> None:
        if following != self.following:
            self.following = following
            if following:
                self.new_while_paused = 0
            self.post_message(self.FollowChanged(following, self.new_while_paused))

    def action_cursor(self, step: int) -> None:
        self._set_following(False)
        self.move_to(self.cursor + step)

    def action_page(self, direction: int) -> None:
        self._set_following(False)
        self.move_to(self.cursor + direction * max(1, self.size.height - 1))

    def action_first(self) -> None:
        self._set_following(False)
        self.move_to(0)

    def action_follow(self) -> None:
        self._set_following(True)
        self.cursor = max(0, self._count - 1)
        self._scroll_to_end()
        self.refresh()

    def action_shift(self, direction: int) -> None:
        """Scroll long rows sideways by a quarter of the width; never past the longest row on screen."""
        step = max(8, (self.size.width - self._label_width()) // 4)
        if direction < 0:
            shift = max(0, self.x_shift - step)
        else:
            view = self.size.width - self._label_width() - 1
            longest = max(self._body_lengths(), default=0)
            shift = self.x_shift + step if self.x_shift + view < longest else self.x_shift
        if shift != self.x_shift:
            self.x_shift = shift
            self.refresh()

    def _body_lengths(self) -> list[int]:
        """The lengths of the values of the rows on screen (as drawn: at most ROW_CHARS)."""
        top = int(self.scroll_y)
        rows = self.topic.cached(top, min(self._count, top + self.size.height))
        return [len(self._body(row)) for row in rows if row is not None]

    def action_select(self) -> None:
        if self._count:
            self.post_message(self.Selected(self.cursor))

    def on_mouse_scroll_up(self) -> None:
        self._set_following(False)
