"""Laying out a module's output from the lines of its input: the same lines as laying it out alone."""

from __future__ import annotations

import json

import pytest

from smartview.core.jsonlayout import layout, layout_like, preview

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


def _long_record() -> str:
    items = ",".join(f'{{"n":{n},"price":1.10,"tags":["a","b"],"deep":{{"id":{10**25 + n}}}}}' for n in range(300))
    return f'{{"id":123456789012345678901234567890,"note":"x","items":[{items}],"tail":{{"end":true}},"id":2}}'


@pytest.mark.parametrize("lines", [1, 2, 3, 50, 400])
def test_a_preview_is_the_top_of_the_whole_layout_with_every_field(lines: int) -> None:
    text = _long_record()
    whole, first = layout(text), preview(text, lines)
    assert not first.complete and first.count == lines
    assert first.lines == whole.lines[:lines]
    # Every top-level field, the duplicate `id` included, with its lines as far as the preview goes.
    assert [(f.key, f.first, f.last) for f in first.fields] == [
        (f.key, min(f.first, lines), min(f.last, lines)) for f in whole.fields]
    assert [text[slice(*f.span)][:6] for f in first.fields] == ['"id":1', '"note"', '"items', '"tail"', '"id":2']


def test_a_preview_of_an_output_finds_the_inputs_fields_by_their_text() -> None:
    text = _long_record()
    output = text.replace('"note":"x",', '').replace('"tail":{"end":true}', '"tail" : { "end" : false }')
    mine = preview(output, 40, like=preview(text, 40))
    assert [f.key for f in mine.fields] == [f.key for f in layout(output).fields]
    assert mine.lines == layout(output).lines[:40]


def test_a_value_too_deep_to_step_over_has_no_preview_and_a_short_one_is_whole() -> None:
    deep = '{"a":' + "[" * 40 + "1" + "]" * 40 + ',"b":' + json.dumps(["x" * 10] * 50) + "}"
    assert preview(deep, 5) is None
    short = '{"a":[1,2],"b":{}}'
    assert preview(short, 100).complete and preview(short, 100).lines == layout(short).lines
