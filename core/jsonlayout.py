"""JSON laid out on indented lines from its own text, so that what is shown is what the file holds.

Parsing and dumping again would change what a person came to look at: a big integer becomes a float
(`123456789012345678901234567890` -> `1.2345678901234568e+29`), `1.10` becomes `1.1`, and of two
duplicate keys only the last survives. Here the text is only cut into lines and re-spaced: every
number, string and key keeps its characters, in its order, duplicates included.

The top-level fields of an object are remembered with the lines they cover, so that a viewer can put
the same field of two records side by side.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import orjson

INDENT = "  "
# A string written so that the regex engine never backtracks into it (a 1 MB record is mostly strings).
_STRING = r'"[^"\\]*+(?:\\.[^"\\]*+)*+"'
# One match is one line of the layout: an optional key, then a value that fits on the line (a string,
# a scalar, an empty `{}`/`[]`), an opening bracket or a closing one, then the comma if any. Matching a
# whole line at a time rather than a token keeps a 1 MB record to a few tens of milliseconds.
_LINE = re.compile(
    rf'\s*(?:({_STRING})\s*:\s*)?({_STRING}|[^\s{{}}\[\],:"]++|[{{\[]\s*[}}\]]|[{{\[}}\]])\s*(,?)'
)
_SPACED_EMPTY = re.compile(r"[{\[]\s+[}\]]")
_OPENERS = frozenset("{[")
_CLOSERS = frozenset("}]")


class _Indents(dict):
    """Indentation by depth, made once per depth."""

    def __missing__(self, depth: int) -> str:
        self[depth] = value = INDENT * depth
        return value


@dataclass(frozen=True, slots=True)
class Field:
    """A top-level field: its key as written (quotes and escapes included) and its lines [first, last)."""

    key: str
    first: int
    last: int


@dataclass
class Layout:
    """The lines of a value; `fields` is set when the value is a JSON object (else None)."""

    lines: list[str]
    fields: list[Field] | None = field(default=None)

    def field_text(self, item: Field) -> str:
        """A field's lines without the comma that separates it from the next: to compare two fields."""
        text = "\n".join(self.lines[item.first : item.last])
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
    lines: list[str] = []
    append = lines.append
    starts: list[tuple[int, str]] = []  # (line, key) of each top-level field
    indents = _Indents()
    spaced = _SPACED_EMPTY.search(text) is not None  # `{ }` somewhere (or in a string): written `{}`
    depth = 0
    for key, value, comma in _LINE.findall(text):
        if value in _CLOSERS:
            depth -= 1
        elif spaced and len(value) > 2 and value[0] in _OPENERS:
            value = value[0] + value[-1]
        if key:
            if depth == 1:
                starts.append((len(lines), key))
            append(f"{indents[depth]}{key}: {value}{comma}")
        else:
            append(f"{indents[depth]}{value}{comma}")
        if value in _OPENERS:
            depth += 1
    if not lines or not lines[0].startswith("{") or lines[0] == "{}":
        return Layout(lines, [] if lines == ["{}"] else None)
    ends = [start for start, _ in starts[1:]] + [len(lines) - 1]
    return Layout(lines, [Field(key, start, end) for (start, key), end in zip(starts, ends)])
