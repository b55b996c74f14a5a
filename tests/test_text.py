"""The sanitizer itself: which characters are shown as escapes, the same for text and for raw output."""

from __future__ import annotations

import pytest

from smartview.core.text import one_line, printable, printable_bytes


@pytest.mark.parametrize("char, shown", [
    ("\x1b", "\\x1b"), ("\x07", "\\x07"), ("\r", "\\x0d"), ("\x7f", "\\x7f"), ("\x9b", "\\x9b"), ("\x85", "\\x85"),
    ("\u202e", "\\u202e"), ("\u2066", "\\u2066"), ("\u200f", "\\u200f"), ("\u061c", "\\u061c"),
    ("\u200b", "\\u200b"), ("\ufeff", "\\ufeff"), ("\u2028", "\\u2028"),
])
def test_controls_and_invisible_characters_are_escaped(char: str, shown: str) -> None:
    assert printable(f"a{char}b") == f"a{shown}b"
    assert printable_bytes(f"a{char}b".encode()) == f"a{shown}b".encode()


def test_letters_emoji_and_joiners_are_kept() -> None:
    text = "café 東京 👨\u200d👩\u200d👧 می\u200cخواهم [/]"
    assert printable(text) == text
    assert printable_bytes(text.encode()) == text.encode()


def test_raw_output_keeps_newlines_and_invalid_utf8() -> None:
    assert printable_bytes(b"a\nb\xff\xc2\n") == b"a\nb\xff\xc2\n"
    assert printable("a\nb", keep_newlines=True) == "a\nb"
    assert one_line("a\nb", 10) == "a\\x0ab"


def test_text_and_raw_output_escape_the_same_characters() -> None:
    """printable_bytes matches UTF-8 sequences: it must escape exactly the code points printable escapes."""
    for code in [*range(0x3000), *range(0xFE00, 0x10000)]:
        if 0xD800 <= code < 0xE000 or chr(code) in "\t\n":
            continue
        char = chr(code)
        assert (printable(char) != char) == (printable_bytes(char.encode()) != char.encode()), hex(code)
