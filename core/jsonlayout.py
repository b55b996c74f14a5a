"""JSON laid out on indented lines from its own text, so that what is shown is what the file holds.

Parsing and dumping again would change what a person came to look at: a big integer becomes a float
(`123456789012345678901234567890` -> `1.2345678901234568e+29`), `1.10` becomes `1.1`, and of two
duplicate keys only the last survives. Here the text is only cut into lines and re-spaced: every
number, string and key keeps its characters, in its order, duplicates included.

The top-level fields of an object are remembered with the lines they cover, so that a viewer can put
the same field of two records side by side.

A 1 MB record makes over a hundred thousand lines, of which a screen shows forty: the text is cut into
lines (one regex pass in C) and their depths summed in C, and a line is formatted only when asked for.
Even so that takes a few times as long as drawing a screen, so `preview` gives the first lines and
every top-level field (found by stepping over the values, not cutting them) for a view to show first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from itertools import accumulate, chain, compress, repeat
from operator import add, eq, itemgetter

import orjson

INDENT = "  "
# A string written so that the regex engine never backtracks into it (a 1 MB record is mostly strings).
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
_SCALAR = r'[^\s{}\[\],:"]++|[{\[]\s*[}\]]|[{\[}\]]'  # a number, true/false/null, `{}`, `[]` or one bracket
_VALUE = rf'{_STRING}|{_SCALAR}'
# One match is one line of the layout: an optional key, then a value that fits on the line (a string,
# a scalar, an empty `{}`/`[]`), an opening bracket or a closing one, then the comma if any.
_LINE = re.compile(rf'\s*(?:({_STRING})\s*:\s*)?({_VALUE})\s*(,?)')
# The same lines, each as one group of the text as written: findall then makes one string per line and
# no tuple, which halves the time of cutting a 1 MB record. A string is read once, as a key or a value,
# and nothing is matched again (the text is valid JSON). A line is split into key, value and comma by
# `_LINE` only when it is shown.
_TOKEN = re.compile(rf'\s*+((?:{_STRING}(?:\s*+:\s*+(?:{_VALUE}))?+|{_SCALAR})(?:\s*+,)?+)')
# Whitespace between tokens, found by skipping whole strings and runs of other characters.
_SPACE_BETWEEN = re.compile(rf'(?:{_STRING}|[^"\s]++)*+\s')
# Strings and the runs of other characters between whitespace: joined, the text without the whitespace
# between tokens, which is all the layout takes from it.
_PIECES = re.compile(rf'{_STRING}|[^"\s]++')
_OPENS = {"{": 1, "[": 1}
_CLOSES = {"}": -1, "]": -1}
_OPENERS = frozenset("{[")
_CLOSERS = frozenset("}]")


@dataclass(frozen=True, slots=True)
class Field:
    """A top-level field: its key as written (quotes and escapes included) and its lines [first, last).

    In a preview, `span` is where the field is written in the text (key to value): its lines may not be
    cut yet, and it is compared with another field by its text.
    """

    key: str
    first: int
    last: int
    span: tuple[int, int] | None = None


class Layout:
    """The lines of a value; `fields` is set when the value is a JSON object (else None).

    Made from finished `lines` (text that is not JSON), or by `layout()` from the pieces of JSON text
    that become lines (`tokens`) and their depths, formatted one by one as they are asked for.
    """

    def __init__(self, lines: list[str] | None = None, fields: list[Field] | None = None, *,
                 tokens: list[str] | None = None, depths: list[int] | None = None, text: str = "") -> None:
        self._lines = lines
        self.text = text
        self._compact: bool | None = None
        self.fields = fields
        self.tokens = tokens
        self.depths = depths
        self.count = len(lines if lines is not None else tokens or ())
        self.complete = True  # False for a preview: the first lines of the value only (see `preview`)
        # The longest token and the deepest line, found once (or bounded from the layout a value was
        # laid out like): the view asks for them again at every width.
        self._longest: int | None = None
        self._deepest: int | None = None

    @property
    def lines(self) -> list[str]:
        """Every line, formatted (all of them at once: for tests and small values)."""
        if self._lines is None:
            self._lines = [self.line(n) for n in range(self.count)]
        return self._lines

    def line(self, number: int) -> str:
        """One line as shown: indented two spaces a level, `"key": value` and the comma if any."""
        if self._lines is not None:
            return self._lines[number]
        key, value, comma = _LINE.match(self.tokens[number]).groups()
        if len(value) > 2 and value[0] in _OPENERS:  # `{ }`, `[ ]`: written as json.dumps writes them
            value = value[0] + value[-1]
        indent = INDENT * self.depths[number]
        return f"{indent}{key}: {value}{comma}" if key else f"{indent}{value}{comma}"

    def widest(self) -> int:
        """At least the width of the widest line, found in C (exact for finished lines)."""
        if self._lines is not None or not self.tokens:
            return max(map(len, self.lines), default=0)
        # A token loses its spaces when formatted and gains at most the one after a key's colon.
        return self.longest_token() + 1 + len(INDENT) * self.deepest()

    def longest_token(self) -> int:
        if self._longest is None:
            self._longest = max(map(len, self.tokens), default=0)
        return self._longest

    def deepest(self) -> int:
        if self._deepest is None:
            self._deepest = max(self.depths, default=0)
        return self._deepest

    def wider_than(self, width: int) -> list[int]:
        """The numbers of the lines that may be wider than `width` cells (or hold other than ASCII)."""
        if self._lines is not None or not self.tokens:
            return [n for n, line in enumerate(self.lines) if len(line) > width or not line.isascii()]
        indent = len(INDENT)
        return [n for n, (token, depth) in enumerate(zip(self.tokens, self.depths))
                if len(token) + 1 + indent * depth > width or not token.isascii()]

    def is_ascii(self) -> bool:
        if self._lines is not None or not self.tokens:
            return all(map(str.isascii, self.lines))
        return self.text.isascii()  # known to Python without a look at the characters

    def compact(self) -> bool:
        """Whether the JSON text has no whitespace between tokens: its lines then differ when its tokens do."""
        if self._compact is None:
            self._compact = self.tokens is not None and _SPACE_BETWEEN.match(self.text) is None
        return self._compact

    def field_text(self, item: Field) -> str:
        """A field's lines without the comma that separates it from the next: to compare two fields."""
        text = "\n".join(self.line(n) for n in range(item.first, item.last))
        return text[:-1] if text.endswith(",") else text

    def same_field(self, item: Field, other: Layout, theirs: Field) -> bool:
        """Whether two fields show the same lines, without formatting them: the same tokens make the
        same lines, different ones written without spaces do not, and else their text without the
        spaces between tokens tells (all of it in C). A preview's field, whose lines may not all be cut,
        is told by its text."""
        if item.span is not None and theirs.span is not None:
            mine_text, their_text = self.text[slice(*item.span)], other.text[slice(*theirs.span)]
            if mine_text == their_text:
                return True
            if self.compact() and other.compact():
                return False
            return "".join(_PIECES.findall(mine_text)) == "".join(_PIECES.findall(their_text))
        if item.span is not None or theirs.span is not None:  # a preview's field and a whole one's
            return self._squeezed_field(item) == other._squeezed_field(theirs)
        if self.tokens is None or other.tokens is None:
            return self.field_text(item) == other.field_text(theirs)
        mine, their = self.tokens[item.first : item.last], other.tokens[theirs.first : theirs.last]
        if len(mine) == len(their) and mine[:-1] == their[:-1] and mine[-1].rstrip(",") == their[-1].rstrip(","):
            return True
        if self.compact() and other.compact():
            return False
        return _squeezed(mine) == _squeezed(their)

    def _squeezed_field(self, item: Field) -> str:
        """A field's text without whitespace between tokens, nor the comma after it."""
        if item.span is not None:
            return "".join(_PIECES.findall(self.text, *item.span))
        return _squeezed(self.tokens[item.first : item.last])


def _squeezed(tokens: list[str]) -> str:
    """A field's text without whitespace between tokens, nor the comma after it."""
    text = "".join(_PIECES.findall("".join(tokens)))
    return text[:-1] if text.endswith(",") else text


def is_json(value: bytes) -> bool:
    """Whether `value` is one JSON text (orjson checks it in C, far faster than laying it out)."""
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        return False
    return True


def layout(text: str) -> Layout:
    """`text`, which must be valid JSON, on indented lines (two spaces a level, `"key": value`).

    Empty objects and arrays stay on one line (`{}`, `[]`), as json.dumps writes them.
    """
    tokens = _TOKEN.findall(text)
    # A line opens a level when it ends with `{` or `[`, and closes one when it starts with `}` or `]`;
    # the depth of each line is then a running sum, all of it in C.
    opens = map(_OPENS.get, map(itemgetter(-1), tokens), repeat(0))
    closes = map(_CLOSES.get, map(itemgetter(0), tokens), repeat(0))
    depths = list(accumulate(map(add, chain((0,), opens), closes)))
    return _with_fields(Layout(tokens=tokens, depths=depths, text=text))


def _with_fields(result: Layout) -> Layout:
    """The layout with its top-level fields found (the lines at depth 1 that do not close a level)."""
    tokens, depths = result.tokens, result.depths
    if not tokens or tokens[0] != "{":
        result.fields = [] if tokens and result.line(0) == "{}" else None
        return result
    starts = [n for n in compress(range(len(tokens)), map(eq, depths, repeat(1))) if tokens[n][0] not in _CLOSERS]
    ends = starts[1:] + [len(tokens) - 1]
    result.fields = [Field(_LINE.match(tokens[start]).group(1), start, end) for start, end in zip(starts, ends)]
    return result


# At each field of the new text, this many fields of the old one are tried, from the one after the last
# taken: a field or two dropped (or moved by a few places) still finds its match.
_TRIES = 3
# Lines of fields not in the old text that are cut one at a time, before the whole text is cut at once.
_OWN_LINES = 2048
_SPACE = re.compile(r"\s*")


def layout_like(text: str, base: Layout) -> Layout:
    """`text` laid out as `layout(text)` would, taking the lines of every top-level field written in it
    exactly as in `base` from `base` rather than cutting them again.

    A module's output is most often its input with a few fields dropped, added or changed: the big
    fields that stay are then cut once for both sides of the detail view.
    """
    shared = _shared(text, base) if base.fields and base.tokens is not None else None
    if shared is None:
        return layout(text)
    tokens, depths, starts, longest, deepest = shared
    ends = starts[1:] + [len(tokens) - 1]
    fields = [Field(_LINE.match(tokens[start]).group(1), start, end) for start, end in zip(starts, ends)]
    result = Layout(fields=fields, tokens=tokens, depths=depths, text=text)
    # Bounds, not exact (a field of the base may be gone), which is all the view needs of them.
    result._longest = max(base.longest_token(), longest)
    result._deepest = max(base.deepest(), deepest)
    return result


def _shared(text: str, base: Layout) -> tuple[list[str], list[int], list[int], int, int] | None:
    """The lines and depths of `text`, an object, field by field, the first line of each field, and the
    longest and deepest of the lines not taken from `base`; None when it is not worth it."""
    pos = _SPACE.match(text).end()
    if not text.startswith("{", pos):
        return None
    tokens, depths, starts = ["{"], [0], []
    raws: dict[int, tuple[str, str]] = {}
    fields, next_field, own = base.fields, 0, 0
    longest = deepest = 1  # of the lines not taken from base: the braces, fields' last lines, own fields
    pos += 1
    while True:
        pos = _SPACE.match(text, pos).end()
        if text.startswith("}", pos):  # the end: a field ended without a comma
            if len(tokens) == 1:  # `{}`: one line
                return None
            tokens.append("}")
            depths.append(0)
            return tokens, depths, starts, longest, deepest
        starts.append(len(tokens))
        for number in range(next_field, min(next_field + _TRIES, len(fields))):
            item = fields[number]
            if number not in raws:
                last = base.tokens[item.last - 1].rstrip(",").rstrip()
                raws[number] = ("".join(base.tokens[item.first : item.last - 1]) + last, last)
            raw, last = raws[number]
            end = pos + len(raw)
            after = _SPACE.match(text, end).end()
            if text.startswith(raw, pos) and text.startswith((",", "}"), after):
                comma = text.startswith(",", after)
                tokens += base.tokens[item.first : item.last - 1]
                tokens.append(last + text[end : after + 1] if comma else last)
                longest = max(longest, len(tokens[-1]))
                depths += base.depths[item.first : item.last]
                pos, next_field = (after + 1 if comma else after), number + 1
                break
        else:
            pos, lines = _own_field(text, pos, tokens, depths)
            own += lines
            if own > _OWN_LINES:
                return None
            longest = max(longest, *map(len, tokens[-lines:]))
            deepest = max(deepest, *depths[-lines:])
            if tokens[-1].endswith(","):
                continue
        if not tokens[-1].endswith(","):
            pos = _SPACE.match(text, pos).end()
            if not text.startswith("}", pos):
                return None
            tokens.append("}")
            depths.append(0)
            return tokens, depths, starts, longest, deepest


def _own_field(text: str, pos: int, tokens: list[str], depths: list[int]) -> tuple[int, int]:
    """Cut the field at `pos` into lines (appended): where it ends, and how many lines it made."""
    depth, count = 1, 0
    while True:
        match = _TOKEN.match(text, pos)
        token, pos = match.group(1), match.end()
        depth += _CLOSES.get(token[0], 0)
        tokens.append(token)
        depths.append(depth)
        depth += _OPENS.get(token[-1], 0)
        count += 1
        if depth == 1:
            return pos, count


# ---------------------------------------------------------------------------------------------- preview
# A value nested this deep at most is stepped over by one match of `_skip_field()`; a deeper one is
# laid out whole, without a preview.
_SKIP_DEPTH = 12


@cache
def _skip_field() -> re.Pattern[str]:
    """One top-level field, its value stepped over whole (brackets, strings and the text between them)
    without being cut into lines: about half the work of cutting it. Compiled when first needed."""
    value = rf'[{{\[](?:[^"{{}}\[\]]++|{_STRING})*+[}}\]]'
    for _ in range(_SKIP_DEPTH - 1):
        value = rf'[{{\[](?:[^"{{}}\[\]]++|{_STRING}|{value})*+[}}\]]'
    return re.compile(rf'({_STRING})\s*+:\s*+(?:{value}|{_STRING}|[^\s,{{}}\[\]"]++)')


def preview(text: str, lines: int, like: Layout | None = None) -> Layout | None:
    """The first `lines` lines of `layout(text)` (valid JSON), and, for an object, every top-level field
    with its place in the text and as many of its lines as are cut: what a view needs to show the top
    of a long value, and pair its fields with another's, before the whole is laid out.

    Fields written as in `like` (a preview too) are found by comparing text, the others by stepping
    over them. None when a field cannot be stepped over (nested too deep): lay the value out whole.
    """
    tokens, pos = [], 0
    match = _TOKEN.match
    while len(tokens) < lines and (found := match(text, pos)) is not None:
        tokens.append(found.group(1))
        pos = found.end()
    if _SPACE.match(text, pos).end() == len(text):
        return layout(text)  # short enough: all of it
    opens = map(_OPENS.get, map(itemgetter(-1), tokens), repeat(0))
    closes = map(_CLOSES.get, map(itemgetter(0), tokens), repeat(0))
    depths = list(accumulate(map(add, chain((0,), opens), closes)))
    result = Layout(tokens=tokens, depths=depths, text=text)
    result.complete = False
    if tokens[0] != "{":
        return result
    spans = _spans(text, like)
    if spans is None:
        return None
    starts = [n for n in compress(range(len(tokens)), map(eq, depths, repeat(1))) if tokens[n][0] not in _CLOSERS]
    if len(starts) > len(spans):
        return None
    firsts = starts + [len(tokens)] * (len(spans) - len(starts))
    lasts = firsts[1:] + [len(tokens)]
    result.fields = [Field(key, first, last, (start, end)) for (key, start, end), first, last in zip(spans, firsts, lasts)]
    return result


def _spans(text: str, like: Layout | None) -> list[tuple[str, int, int]] | None:
    """Each top-level field of `text`, an object: its key and where it is written, key to value."""
    theirs = [item for item in like.fields or () if item.span is not None] if like is not None else []
    spans: list[tuple[str, int, int]] = []
    pos, next_field = _SPACE.match(text).end() + 1, 0
    while True:
        pos = _SPACE.match(text, pos).end()
        if text.startswith("}", pos):
            return spans
        for number in range(next_field, min(next_field + _TRIES, len(theirs))):
            item = theirs[number]
            raw = like.text[slice(*item.span)]
            if text.startswith(raw, pos) and text.startswith((",", "}"), _SPACE.match(text, pos + len(raw)).end()):
                spans.append((item.key, pos, pos + len(raw)))
                next_field = number + 1
                break
        else:
            found = _skip_field().match(text, pos)
            if found is None:
                return None
            spans.append((found.group(1), pos, found.end()))
        pos = _SPACE.match(text, spans[-1][2]).end()
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("}", pos):
            return None
