"""Making outside text safe for a terminal: every invisible or controlling character shown as an escape.

Records, module docstrings, parameter values, paths and messages come from other people. Written to a
terminal as they are, their control characters could clear or retitle the screen, write the clipboard
(OSC 52), or (bidi controls) make a line read differently from what it holds. Everything smartview
shows or prints for a person goes through `printable` (or `printable_bytes` for raw output): C0
controls, DEL, the C1 controls U+0080-U+009F (U+009B is an 8-bit CSI), the bidi embeddings, overrides,
isolates and marks, and invisible characters that hide text (zero-width space, word joiner, BOM, line
and paragraph separators) become `\\x1b` or `\\u202e`. The zero-width joiners U+200C/U+200D are kept:
emoji sequences and several scripts need them, and they move or hide nothing.
"""

from __future__ import annotations

import functools
import re

# The characters shown as escapes: C0, DEL and C1; U+061C (Arabic letter mark); U+200B (zero-width space)
# and U+200E/U+200F (LRM/RLM); U+2028-U+202E (line/paragraph separators, bidi embeddings and overrides);
# U+2060-U+2064 (word joiner, invisible operators) and U+2066-U+2069 (bidi isolates); U+FEFF (BOM);
# U+FFF9-U+FFFB (interlinear annotations).
_OTHERS = "\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
_ANY = f"[\x00-\x1f{_OTHERS}]"
_BUT_NEWLINE = f"[\x00-\x09\x0b-\x1f{_OTHERS}]"
# The same set in UTF-8 for raw output, keeping tab and newline (records are laid out with them). The
# lookahead on the first byte lets the scan skip plain text nearly as fast as a single character class.
_UNSAFE_BYTES = (
    rb"(?=[\x00-\x08\x0b-\x1f\x7f\xc2\xd8\xe2\xef])(?:[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xd8\x9c"
    rb"|\xe2(?:\x80[\x8b\x8e\x8f\xa8-\xae]|\x81[\xa0-\xa4\xa6-\xa9])|\xef(?:\xbb\xbf|\xbf[\xb9-\xbb]))"
)


@functools.cache
def _compiled(pattern: str | bytes) -> re.Pattern:
    """Compiled on first use: `--print` to a pipe never escapes, and its start-up should not pay for it."""
    return re.compile(pattern)


def escape(char: str) -> str:
    """`\\x1b` for a character below U+0100, `\\u202e` above."""
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escaped(match: re.Match[str]) -> str:
    return escape(match.group())


def printable(text: str, keep_newlines: bool = False) -> str:
    """`text` with every unsafe character as a visible escape (newlines kept when asked, for multi-line views)."""
    return _compiled(_BUT_NEWLINE if keep_newlines else _ANY).sub(_escaped, text)


def printable_bytes(data: bytes) -> bytes:
    """Raw output (UTF-8 or not) with unsafe characters escaped; tab and newline kept, other bytes untouched."""
    return _compiled(_UNSAFE_BYTES).sub(lambda m: escape(m.group().decode("utf-8")).encode(), data)


def one_line(text: str, limit: int) -> str:
    """Text printable and on one line (newlines escaped too), cut at `limit` characters."""
    text = printable(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
