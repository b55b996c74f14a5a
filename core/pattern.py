"""Patterns that pick rows: one syntax for find (`/`), the quick filter (`\\`) and `--grep` / `--grep-v`.

    error             text: a case-insensitive substring of the output
    /time(d|out)/     a regular expression (Python's `re`), case-sensitive; `/…/i` ignores case
    .type=login       a field test on JSON output: `=` `!=` `<` `<=` `>` `>=`, or `.field` alone (present)
    .user.id>=500     nested fields by dots; numbers compare as numbers, anything else as text
    !PATTERN          any of the above, negated: the rows that do not match

One syntax everywhere so that what the viewer shows can be copied as a `--print` command and give the
same rows. Patterns are matched against a module's output bytes (the row as shown, without its key).
Text that starts with `!`, `.` or `/` is written as a regular expression (`/!important/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from collections.abc import Callable
from typing import Any

import orjson

from .errors import SmartviewError

# A field test: `.name` or `.a.b`, then optionally an operator and a value (spaces around it allowed).
_FIELD = re.compile(r"\.(?P<path>[A-Za-z_][\w\-]*(?:\.[\w\-]+)*)\s*(?:(?P<op>!=|>=|<=|=|<|>)\s*(?P<value>.*))?\Z", re.S)
_OPERATORS = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_MISSING = object()


class PatternError(SmartviewError):
    """A pattern that cannot be read (an unbalanced regular expression, a field test without a field)."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"pattern {text!r}: {reason}")
        self.reason = reason


@dataclass(frozen=True)
class Pattern:
    """A parsed pattern: `matches(value)` says whether an output is picked (`!` already applied)."""

    source: str  # as the user wrote it, `!` included
    kind: str  # "text", "regex" or "field"
    negate: bool = False
    needle: str = ""  # text: lowercased
    regex: re.Pattern[str] | None = None
    path: tuple[str, ...] = ()
    op: str | None = None
    operand: Any = None
    _bytes_needle: bytes | None = field(default=None, repr=False)

    def matches(self, value: bytes) -> bool:
        return self._hit(value) != self.negate

    def matcher(self) -> Callable[[bytes], bool]:
        """`matches` as one function with the dispatch done once: it runs for every record of a pass."""
        if self.kind == "text" and self._bytes_needle is not None:
            needle = self._bytes_needle
            return (lambda value: needle not in value.lower()) if self.negate else (lambda value: needle in value.lower())
        hit = self._field_hit if self.kind == "field" else self._hit
        return (lambda value: not hit(value)) if self.negate else hit

    def _hit(self, value: bytes) -> bool:
        if self.kind == "text":
            if self._bytes_needle is not None:  # an ASCII needle: lowercasing the bytes is enough, and fast
                return self._bytes_needle in value.lower()
            return self.needle in value.decode("utf-8", "replace").lower()
        if self.kind == "regex":
            assert self.regex is not None
            return self.regex.search(value.decode("utf-8", "replace")) is not None
        return self._field_hit(value)

    def _field_hit(self, value: bytes) -> bool:
        try:
            found: Any = orjson.loads(value)
        except orjson.JSONDecodeError:
            return False
        for name in self.path:
            if type(found) is dict:
                found = found.get(name, _MISSING)
            elif type(found) is list and name.isdigit() and int(name) < len(found):
                found = found[int(name)]
            else:
                return False
            if found is _MISSING:
                return False
        if self.op is None:
            return found is not None
        operand = self.operand
        if type(found) is str and type(operand) is str:  # the common case (`.type=login`), run once a record
            return _OPERATORS[self.op](found, operand)
        return _compare(found, self.op, operand)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where this pattern shows in a row's text, to highlight: none for a negated pattern."""
        if self.negate or not text:
            return []
        if self.kind == "text":  # found case-insensitively in the text itself: lowercasing may change its length
            return [m.span() for m in re.finditer(re.escape(self.needle), text, re.IGNORECASE)]
        if self.kind == "regex":
            assert self.regex is not None
            return [m.span() for m in self.regex.finditer(text) if m.end() > m.start()]
        return _occurrences(text, f'"{self.path[-1]}"')  # a field test: the field's name


def parse(text: str) -> Pattern:
    """Read a pattern; PatternError names what is wrong with it."""
    if text.startswith("!"):  # `!` flips whatever follows, so `--grep-v '!x'` keeps what `--grep '!x'` drops
        inner = parse(text[1:]) if text[1:] else None
        if inner is None:
            raise PatternError(text, "nothing after the ! to exclude")
        return replace(inner, source=text, negate=not inner.negate)
    if not text:
        raise PatternError(text, "the pattern is empty")
    if text.startswith("/"):
        return _regex(text, text, False)
    if text.startswith(".") and len(text) > 1 and (text[1].isalpha() or text[1] == "_"):
        return _field(text, text, False)
    needle = text.lower()
    ascii_needle = needle.encode() if needle.isascii() else None
    return Pattern(text, "text", needle=needle, _bytes_needle=ascii_needle)


def _regex(text: str, body: str, negate: bool) -> Pattern:
    flags = 0
    if body.endswith("/i") and len(body) > 2:
        expression, flags = body[1:-2], re.IGNORECASE
    elif body.endswith("/") and len(body) > 1:
        expression = body[1:-1]
    else:
        raise PatternError(text, "a regular expression is written /like this/ (the closing / is missing)")
    if not expression:
        raise PatternError(text, "the regular expression is empty")
    try:
        return Pattern(text, "regex", negate, regex=re.compile(expression, flags))
    except re.error as exc:
        raise PatternError(text, f"{exc.msg} at position {exc.pos} of the regular expression") from None


def _field(text: str, body: str, negate: bool) -> Pattern:
    match = _FIELD.match(body)
    if match is None:
        raise PatternError(text, "a field test is .name, .name=value or .name>=number (also !=, <, <=, >)")
    op, value = match.group("op"), match.group("value")
    if op is not None and value is not None and not value.strip():
        raise PatternError(text, f"nothing to compare .{match.group('path')} with after {op}")
    operand = None if op is None else _operand(value.strip(), op, text)
    return Pattern(text, "field", negate, path=tuple(match.group("path").split(".")), op=op, operand=operand)


def _operand(value: str, op: str, text: str) -> Any:
    """The right side: a number when it reads as one, a quoted string as the text inside, else the text."""
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    number = _number(value)
    if number is not None:
        return number
    if op in ("<", "<=", ">", ">=") and value in ("true", "false", "null"):
        raise PatternError(text, f"{value} cannot be compared with {op}")
    return value


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return None if number != number else number  # nan is not a number anyone compares with


def _compare(found: Any, op: str, operand: Any) -> bool:
    """Numbers with numbers; otherwise the field's text (true, false, null as JSON writes them) with the operand's."""
    compare = _OPERATORS[op]
    if isinstance(operand, float):
        if isinstance(found, (int, float)) and not isinstance(found, bool):
            return compare(found, operand)
        if isinstance(found, str) and _number(found) is not None:
            return compare(_number(found), operand)
        if op in ("=", "!="):
            return compare(_as_text(found), _as_text_number(operand))
        return False
    if isinstance(found, (dict, list)):
        return op == "!="
    return compare(_as_text(found), operand)


def _as_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_text_number(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def _occurrences(haystack: str, needle: str) -> list[tuple[int, int]]:
    spans = []
    start = haystack.find(needle)
    while start >= 0 and needle:
        spans.append((start, start + len(needle)))
        start = haystack.find(needle, start + len(needle))
    return spans
