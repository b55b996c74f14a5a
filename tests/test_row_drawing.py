"""The stream draws its common rows directly; they must look exactly as rich draws them (the fallback path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.app import App
from textual.strip import Strip

from smartview.core.modules.runner import Output
from smartview.tui.render import json_segments, json_styles, shown, value_text

SAMPLES = Path(__file__).resolve().parent.parent / "sample-topics"
TRICKY = [
    b'{"a": 1, "b" : "x:y", "c":[true,false,null], "d": -1.5e+3, "e": "say \\"hi\\":", "f": 0x1F}',
    b'hello "a" : b',  # not JSON: strings, a colon
    b"",  # no mark at all: rich draws it without any style
    b'"just a string"',
    b"[1,2,3]",
    b'{"k":"v"}' * 40,  # cut with an ellipsis
    b'{"\\u0001":1}',
    b'b"bytes": 3',
    b'{"a":"\\\\"}',
    b'{"x":"a\\"b","y":2}',
    b'{"n":123abc}',
    b'{"a":1}\x1b[31m',  # a control character, escaped
    b'{"a"   :   "b"}',
    b'{"nested":{"deep":[{"x":1.0e5}]}}',
    b"true false null truefalse",
    b" " * 400 + b"1",  # its one mark cut off: drawn without any style, as rich does
]


def rich_row(console, label: str, value: bytes, width: int, outer: Style, base: Style) -> Strip:
    """A row as drawn through rich: a Text, JSON highlighted, cut, rendered and put over the base style."""
    text = Text(f"{label} ", style=outer, no_wrap=True)
    text.append_text(value_text(Output(0, None, value)))
    text.truncate(width, overflow="ellipsis", pad=True)
    segments = [Segment(t, base + style if style else base) for t, style, _ in text.render(console)]
    return Strip(segments, width).adjust_cell_length(width, base)


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    return [(text, style) for text, style, _ in Segment.simplify(list(strip))]


def rows() -> list[bytes]:
    found = list(TRICKY)
    for path in sorted(SAMPLES.glob("*.jsonl")):
        found += path.read_bytes().splitlines()[:200]
    return found


@pytest.mark.parametrize("label", ["  12", "  …"])  # an offset, or one not counted yet (a first screen)
@pytest.mark.parametrize("width", [3, 20, 86, 120, 300])
def test_a_row_drawn_directly_looks_as_rich_draws_it(width: int, label: str) -> None:
    console = App().console
    base, outer = Style(color="grey70", bgcolor="grey11"), Style(color="grey50")
    styles = json_styles(console.get_style, outer, base)
    drawn = 0
    for value in rows():
        segments = json_segments(label, shown(value), width, styles)
        if segments is None:  # left to rich: not ASCII, or marks that overlap
            continue
        drawn += 1
        assert cells(Strip(segments, width)) == cells(rich_row(console, label, value, width, outer, base)), value
    assert drawn >= len(TRICKY) - 1


def test_rows_rich_must_draw_are_left_to_it() -> None:
    styles = json_styles(App().console.get_style, Style(), Style())
    assert json_segments("1", shown('{"name":"café"}'.encode()), 40, styles) is None
    assert json_segments("1", shown('{"wide":"表"}'.encode()), 40, styles) is None
