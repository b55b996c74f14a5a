"""Turning rows into Rich text: one line per record, safe to print, JSON highlighted.

Record text comes from other programs and may hold terminal control sequences; every control
character is shown escaped (`\\x1b`, core/text.py) so a record can never clear, move or retitle the
screen. Everything here is a rich Text, never markup: a record holding `[/]` is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rich.highlighter import JSONHighlighter
from rich.segment import Segment
from rich.style import Style
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


def shown(value: bytes) -> str:
    """A value as a row shows it: decoded, at most ROW_CHARS, its control characters escaped."""
    return printable(decode(value))


def value_text(output: Output) -> Text:
    """The mapped value (and key, when there is one), highlighted as JSON."""
    text = Text(no_wrap=True, overflow="ellipsis")
    if output.key is not None:
        text.append(f"[{printable(decode(output.key, 256))}] ", style="bold")
    body = Text(shown(output.value))
    _highlighter.highlight(body)
    text.append_text(body)
    return text


# What rich's JSONHighlighter marks, and how: its own expressions, so that a row drawn by `json_segments`
# looks exactly as one drawn through rich (the detail view and the fallbacks go that way).
_TOKENS = re.compile(JSONHighlighter.highlights[0])
_STRING = re.compile(JSONHighlighter.JSON_STR)
_KIND_OF_GROUP = {index: name for name, index in _TOKENS.groupindex.items()}
KINDS = ("brace", "bool_true", "bool_false", "null", "number", "str")


def json_styles(get_style: Callable[..., Style], outer: Style, base: Style) -> dict[str, Style]:
    """The style of each kind of JSON token on a row: rich's theme style over the row's own (`outer`), and the
    widget's `base` under both; "" for text that is no token. A key is a string with the key style on top."""

    def theme(name: str) -> Style:
        return get_style(f"json.{name}", default=Style.null())

    # rich draws a text without any mark in no style at all, not even its own: "none" is that case.
    styles = {"": base + outer, "none": base}
    for kind in KINDS:
        styles[kind] = base + Style.combine((outer, theme(kind)))
    styles["key"] = base + Style.combine((outer, theme("str"), theme("key")))
    return styles


def json_segments(label: str, body: str, width: int, styles: dict[str, Style]) -> list[Segment] | None:
    """`label` and the JSON text `body` as one row of `width` cells, highlighted as rich would draw them.

    Drawing through rich (a Text, the highlighter's spans, their styles combined at every boundary) is most
    of what a screen of rows costs; this does the same in one pass over the tokens, about four times as
    fast. None where rich's own rules would need more than that: a value that is not ASCII (wide
    characters), or marks that overlap. The label may hold `…` (an offset not counted yet, as on a first
    screen): like every character here, it takes one cell.
    """
    if not body.isascii() or not _one_cell_each(label):
        return None
    line = f"{label} {body}"
    tokens = _tokens(body, len(label) + 1)
    if tokens is None:
        return None
    if len(line) > width:  # cut, with `…` in the style of the character it replaces
        line = line[: width - 1] + "…"
        tokens = [(start, min(end, width), kind) for start, end, kind in tokens if start < width]
    plain = styles[""] if tokens else styles["none"]
    segments, at = [], 0
    for start, end, kind in tokens:
        if start > at:
            segments.append(Segment(line[at:start], plain))
        segments.append(Segment(line[start:end], styles[kind]))
        at = end
    if at < len(line):
        segments.append(Segment(line[at:], plain))
    if len(line) < width:
        segments.append(Segment(" " * (width - len(line)), plain))
    return segments


def _one_cell_each(label: str) -> bool:
    return label.replace("…", "").isascii()


def _tokens(body: str, shift: int) -> list[tuple[int, int, str]] | None:
    """(start, end, kind) of each token rich's JSONHighlighter marks in `body`, moved by `shift`; None if a
    key it would mark is not also one of its strings (marks that overlap otherwise)."""
    tokens = []
    strings = {}  # where each string starts: its place in `tokens`, and its end
    for match in _TOKENS.finditer(body):
        start, end = match.span()
        if end > start:
            kind = _KIND_OF_GROUP[match.lastindex]
            if kind == "str":
                strings[start] = len(tokens), end
            tokens.append((start + shift, end + shift, kind))
    for match in _STRING.finditer(body):  # a string followed by `:` is a key, as the highlighter decides
        start, end = match.span()
        after = end
        while after < len(body) and body[after] in " \n\r\t":
            after += 1
        if body[after : after + 1] != ":":
            continue
        at, string_end = strings.get(start, (0, None))
        if string_end != end:
            return None
        tokens[at] = (start + shift, end + shift, "key")
    return tokens


def short_location(location: str) -> str:
    """`user_events.py:31` rather than a full path: the row has little room."""
    return location.rsplit("/", 1)[-1]


def failure_text(failure: Failure) -> Text:
    message = printable(failure.error)
    return Text(f"✖ {message} ({printable(short_location(failure.location))})", no_wrap=True, overflow="ellipsis")
