"""Laying out a module's output from the lines of its input: the same lines as laying it out alone."""

from __future__ import annotations

import json

import pytest

from smartview.core.jsonlayout import layout, layout_like

BASE = '{"id":123456789012345678901234567890,"note":"dropped","n":1,"items":[{"a":1.10},{"b":[]}],"s":"x, y}"}'


@pytest.mark.parametrize("output", [
    BASE,
    '{"id":123456789012345678901234567890,"n":1,"items":[{"a":1.10},{"b":[]}],"s":"x, y}"}',  # dropped
    '{"n":12,"items":[{"a":1.10},{"b":[]}]}',  # a number that starts like the input's
    '{"items":[{"a":1.10},{"b":[]}],"n":1}',  # moved
    '{"id":1,"note":"dropped","n":1,"items":[{"a":1.10},{"b":[]}],"s":"x, y}","new":{"deep":[1,{}]}}',
    '{ "n" : 1 , "items" : [ {"a":1.10} , {"b":[ ]} ] }',  # spaced
    '{"items":[{"a":1.10},{"b":[]}]\n}',
    "{}",
    '[{"n":1}]',
])
def test_output_laid_out_like_its_input_has_the_lines_of_its_own_layout(output: str) -> None:
    alone, like = layout(output), layout_like(output, layout(BASE))
    assert like.lines == alone.lines
    assert like.fields == alone.fields
    assert like.widest() >= max(map(len, like.lines))  # no line wider than the view is told: none is left uncut
    assert json.loads("\n".join(like.lines)) == json.loads(output)


def test_fields_written_as_in_the_input_are_not_cut_again() -> None:
    base = layout(BASE)
    output = BASE.replace('"note":"dropped",', "")
    like = layout_like(output, base)
    items = next(f for f in base.fields if f.key == '"items"')
    mine = next(f for f in like.fields if f.key == '"items"')
    # The same line objects (but the last, whose comma follows the output): taken from the input's
    # layout, not made by cutting the output again.
    taken = zip(base.tokens[items.first : items.last - 1], like.tokens[mine.first : mine.last - 1])
    assert all(a is b for a, b in taken)
