"""Strings that try to take over a terminal or a Textual screen: fed to every place outside text is shown.

Each must be shown literally: markup as its brackets, controls as `\\x1b`/`\\u202e` escapes, never acted on.
"""

from __future__ import annotations

import re

from smartview.core.text import printable

HOSTILE = [
    "[/]",  # closes a markup tag that was never opened: MarkupError
    "[/var/log]",
    "[a-z]+",  # a markup tag that swallows itself
    "[b]bold[/b] [link=https://x]y[/link] [$text-error]red[/]",
    "\x1b]52;c;aGFja2Vk\x07",  # OSC 52: writes 'hacked' to the clipboard
    "\x1b]0;pwned\x07",  # OSC 0: retitles the terminal
    "\x1b[2J\x1b[H",  # clears the screen
    "\x9b2J\x9d0;pwned\x9c",  # the same in 8-bit C1 controls
    "\u202eevil\u202c \u2066iso\u2069",  # bidi override and isolate: text reads backwards
    "\u200f\u200e\u061c zero\u200bwidth\ufeff",  # marks and invisible characters
    "\x7f\x08\x00",
    "tail\r\u2028",  # line breaks last: a docstring's first line still holds everything above
]

# All of them in one line (no newline: records and values stay one line).
TEXT = " ".join(HOSTILE)

# What may never appear in what reaches a terminal (newline aside): C0, DEL, C1, bidi and invisible characters.
UNSAFE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

# Pieces of the visible form that every place must show (as much as fits in the narrowest place).
SHOWN = ["[/]", "[/var/log]", "[a-z]+", "\\x1b]52;c;aGFja2Vk\\x07", "\\u202eevil\\u202c"]


def shown(text: str = TEXT) -> str:
    """How `text` must look on a terminal."""
    return printable(text)


def unsafe_in(text: str) -> list[str]:
    """The unsafe characters found in `text` (empty when it is safe to write to a terminal)."""
    return UNSAFE.findall(text)

# The same as one command-line argument (an argument cannot hold NUL).
ARG = TEXT.replace("\x00", "")

# A module whose docstring, parameter default and Literal choice are all hostile, with a parameter named
# in non-ASCII letters; it fails on the record `fail` with a hostile message and passes others through.
MODULE = f'''
from dataclasses import dataclass
from typing import Literal

__doc__ = {TEXT!r}


@dataclass
class Params:
    café: bool = True
    label: str = {TEXT!r}
    mode: Literal["plain", {TEXT!r}] = "plain"
    count: int = 1


def map(record, params):
    if record.value == b"fail":
        raise ValueError({TEXT!r})
    return record.value
'''
