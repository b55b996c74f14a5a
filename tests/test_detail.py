"""The detail view (Enter): the record as the file holds it, both sides aligned field by field."""

from __future__ import annotations

import json
from pathlib import Path

from smartview.core.jsonlayout import layout
from smartview.tui.detail import PREVIEW_LINES, DetailScreen, DetailView, aligned, known_rows, side
from test_viewer import run, wait_for
from viewer_support import make_app, settle

# A big integer, a number with a trailing zero, a duplicate key, and nesting three levels deep.
AS_WRITTEN = ('{"id":123456789012345678901234567890,"price":1.10,"tag":"a","tag":"b",'
              '"nested":{"level":{"deep":[1,{"x":2.50}]}},"gone":true}')


def detail_lines(app) -> list[str]:
    """The detail view's rows as text, as drawn on screen."""
    view = app.screen.query_one(DetailView)
    return [view.render_line(y).text for y in range(view.size.height)]


def halves(app) -> list[tuple[str, str]]:
    """Each row split into its input and output sides."""
    return [tuple(part.rstrip() for part in line.split(" │ ", 1)) for line in detail_lines(app) if " │ " in line]


async def open_detail(pilot, row: int) -> None:
    app = pilot.app
    app.stream.move_to(row)
    await pilot.press("enter")
    await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
    await pilot.pause()


def test_layout_keeps_every_number_and_key_as_written() -> None:
    lines = layout(AS_WRITTEN).lines
    assert '  "id": 123456789012345678901234567890,' in lines
    assert '  "price": 1.10,' in lines
    assert ['  "tag": "a",', '  "tag": "b",'] == [line for line in lines if '"tag"' in line]
    # Two spaces a level: level 2 at 4 columns, level 3 at 6.
    assert '    "level": {' in lines and '      "deep": [' in lines and '          "x": 2.50' in lines
    assert json.loads("\n".join(lines)) == json.loads(AS_WRITTEN)


def test_layout_of_arrays_scalars_and_spaced_json() -> None:
    assert layout("[]").lines == ["[]"]
    assert layout('"text"').lines == ['"text"']
    assert layout('[1, {"a" : { } }, "[ ]"]').lines == ["[", "  1,", "  {", '    "a": {}', "  },", '  "[ ]"', "]"]


def test_detail_shows_the_record_as_written_and_aligns_fields(tmp_path: Path) -> None:
    topic = tmp_path / "written.jsonl"
    topic.write_text(AS_WRITTEN + "\n")

    async def scenario():
        app = make_app(topic, module="fields", values={"drop": "gone"})
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await open_detail(pilot, 0)
            rows = halves(app)
            left = [l for l, _ in rows]
            # The input as written, and the output as the module wrote it: fields keeps numbers as written,
            # so neither is marked changed.
            assert '  "id": 123456789012345678901234567890,' in left
            assert '  "price": 1.10,' in left
            assert ('  "id": 123456789012345678901234567890,', '  "price": 1.10,') in [
                (r[1], rows[k + 1][1]) for k, r in enumerate(rows[:-1])]
            assert sum('"tag"' in line for line in left) == 2
            assert '      "deep": [' in left
            # The dropped field faces a blank line; the fields around it stay side by side.
            gone = next(r for r in rows if '"gone"' in r[0])
            assert gone[0].startswith('- "gone"') and gone[1] == ""
            nested = next(r for r in rows if '"nested"' in r[0])
            assert '"nested"' in nested[1]
            assert [l.strip() for l, _ in rows].index('"level": {') == [r.strip() for _, r in rows].index('"level": {')

    run(scenario())


def test_both_sides_scroll_together(tmp_path: Path) -> None:
    record = {f"field{n:02}": n for n in range(80)}
    topic = tmp_path / "wide.jsonl"
    topic.write_text(json.dumps(record, separators=(",", ":")) + "\n")

    async def scenario():
        app = make_app(topic, module="fields", values={"drop": "field03"})
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await open_detail(pilot, 0)
            await pilot.press("pagedown", "pagedown")
            await pilot.pause()
            rows = [r for r in halves(app) if r[0]]
            assert '"field00"' not in rows[0][0]
            for left, right in rows:  # after the dropped field, every row holds the same field on both sides
                assert left == right

    run(scenario())


def test_a_record_over_the_limit_says_so_at_the_top(tmp_path: Path) -> None:
    big = json.dumps({"blob": "x" * (1 << 20)})
    near = json.dumps({"items": [{"n": n, "s": "y" * 20} for n in range(20000)]})  # ~0.8 MB
    topic = tmp_path / "large.jsonl"
    topic.write_text(big + "\n" + near + "\n")

    async def scenario():
        app = make_app(topic, module=None)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await open_detail(pilot, 0)
            note = app.screen.query_one("#detail-note")
            assert note.display and f"Input: the first 1,024 KiB of {len(big) :,} bytes" in str(note.render())
            assert note.region.y < app.screen.query_one(DetailView).region.y
            await pilot.press("escape")
            await open_detail(pilot, 1)
            assert not app.screen.query_one("#detail-note").display
            assert halves(app)[2] == ("    {", "    {")  # laid out, not raw: under the limit
            assert len(near) < (1 << 20) < len(big)

    run(scenario())


def _big_record() -> str:
    """About 1 MB: nested items with numbers written as JSON readers would change them, one exact
    number in the middle, and a last field far below the first screen."""
    items = [f'{{"n":{n},"name":"item {n}","price":1.10,"tags":["a","b"],"nested":{{"ok":true,'
             f'"id":{12345678901234567890123 + n}}}}}' for n in range(9300)]
    items[4650] = '{"n":4650,"exact":98765432109876543210987654321.50,"price":1.10}'
    return ('{"id":123456789012345678901234567890,"note":"dropped","items":[' + ",".join(items)
            + '],"last":{"total":1.000,"tail":"the end"}}')


def test_the_preview_of_a_big_record_shows_the_rows_of_its_whole_layout() -> None:
    value = _big_record().encode()
    output = value.replace(b'"note":"dropped",', b"").replace(b'"tail":"the end"', b'"tail":"changed"')
    assert 1_000_000 < len(value) <= 1 << 20  # laid out, not shown raw

    def rows(left, right, pairs, count):
        return [(left.line(a) if a >= 0 else "", left.style(a) if a >= 0 else None,
                 right.line(b) if b >= 0 else "", right.style(b) if b >= 0 else None)
                for a, b in map(pairs.at, range(count))]

    whole_left = side(value, "Input")
    whole_right = side(output, "Output", like=whole_left)
    first_left = side(value, "Input", lines=PREVIEW_LINES)
    first_right = side(output, "Output", like=first_left, lines=PREVIEW_LINES)
    first = aligned(first_left, first_right)
    known = known_rows(first_left, first_right, first)
    assert PREVIEW_LINES - 10 <= known < 1000  # far more than a screen, far less than the record
    shown = rows(first_left, first_right, first, known)
    assert shown == rows(whole_left, whole_right, aligned(whole_left, whole_right), known)
    assert shown[2][0].startswith('- "note"') and shown[2][2] == ""  # the dropped field faces a blank


def test_a_big_record_is_aligned_to_its_last_field_and_keeps_its_numbers(tmp_path: Path) -> None:
    topic = tmp_path / "big.jsonl"
    topic.write_text(_big_record() + "\n")

    async def scenario():
        app = make_app(topic, module="fields", values={"drop": "note"})
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            await open_detail(pilot, 0)
            view = app.screen.query_one(DetailView)
            await wait_for(pilot, lambda: view.known is None)  # laid out whole after the first screen
            assert ('  "id": 123456789012345678901234567890,', '  "id": 123456789012345678901234567890,') in halves(app)
            await pilot.press("end")
            await pilot.pause()
            bottom = halves(app)
            # The last field on both sides, row for row, down to the closing braces.
            assert bottom[-5:] == [('  "last": {',) * 2, ('    "total": 1.000,',) * 2,
                                   ('    "tail": "the end"',) * 2, ("  }",) * 2, ("}",) * 2]
            # Deep in the middle, a number keeps its digits on both sides.
            line = next(n for n in range(view.sides[0].count) if '"exact"' in view.sides[0].line(n))
            view.scroll_to(y=view.pairs.rows_of(0, [line])[0] - 5, animate=False)
            await pilot.pause()
            exact = '      "exact": 98765432109876543210987654321.50,'
            assert (exact, exact) in halves(app)

    run(scenario())


def test_long_lines_wrap_in_their_pane_and_the_fields_after_them_stay_side_by_side(tmp_path: Path) -> None:
    record = {"a": 1, "long": "x" * 500, "gone": "y" * 300, "b": 2}
    topic = tmp_path / "long.jsonl"
    topic.write_text(json.dumps(record) + "\n")

    async def scenario():
        app = make_app(topic, module="fields", values={"drop": "gone"})
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_detail(pilot, 0)
            rows = halves(app)
            long_rows = [r for r in rows if "xxxxx" in r[0]]
            # The long string, cut to the pane, the same pieces side by side on as many rows as it takes.
            assert len(long_rows) >= 9 and all(left == right for left, right in long_rows)
            assert "".join(left.strip() for left, _ in long_rows).count("x") == 500
            # A field on one side only: its pieces face blank lines, then the next field is on both sides.
            gone = [r for r in rows if "yyyyy" in r[0]]
            assert len(gone) >= 5 and all(right == "" for _, right in gone)
            assert rows[rows.index(gone[-1]) + 1] == ('  "b": 2', '  "b": 2')
            assert rows[-1] == ("}", "}")

    run(scenario())


KEYED = '''"""Gives each record a key and drops its note."""


def map(record, params):
    return b"k-1", record.value.replace(b'"note":"dropped",', b"")
'''


def test_an_outputs_key_heads_its_side_and_the_fields_below_stay_aligned(tmp_path: Path) -> None:
    (tmp_path / "keyed.py").write_text(KEYED)
    items = ",".join(f'{{"n":{n},"price":1.10}}' for n in range(8000))  # over 64 KB: drawn from a preview first
    topic = tmp_path / "keyed.jsonl"
    topic.write_text(f'{{"id":1,"note":"dropped","items":[{items}],"end":true}}\n')

    async def scenario():
        app = make_app(topic, module="keyed", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_detail(pilot, 0)
            view = app.screen.query_one(DetailView)
            await wait_for(pilot, lambda: view.known is None)
            rows = halves(app)
            assert rows[:5] == [("", "key: k-1"), ("", ""), ("{", "{"), ('  "id": 1,', '  "id": 1,'),
                                ('- "note": "dropped",', "")]
            assert rows[5] == ('  "items": [', '  "items": [')
            await pilot.press("end")
            await pilot.pause()
            assert halves(app)[-3:] == [("  ],", "  ],"), ('  "end": true', '  "end": true'), ("}", "}")]

    run(scenario())


def test_a_field_cut_short_by_the_preview_is_not_marked_changed_against_a_short_output() -> None:
    def array(name: str, count: int) -> str:
        return f'"{name}":[' + ",".join(f'{{"k":{n}}}' for n in range(count)) + "]"

    # `same` starts near the end of the input's preview and goes past it; the output is short and whole.
    value = ("{" + array("a", 125) + "," + array("same", 10) + "," + array("huge", 4000) + "}").encode()
    output = ("{" + array("same", 10) + "}").encode()
    first_left = side(value, "Input", lines=PREVIEW_LINES)
    first_right = side(output, "Output", like=first_left, lines=PREVIEW_LINES)
    same = next(f for f in first_left.layout.fields if f.key == '"same"')
    assert not first_left.layout.complete and first_right.layout.complete
    assert same.first < PREVIEW_LINES == same.last  # cut short by the preview
    first = aligned(first_left, first_right)
    whole_left = side(value, "Input")
    whole = aligned(whole_left, side(output, "Output", like=whole_left))
    known = known_rows(first_left, first_right, first)
    assert known > same.first
    assert [first_left.style(a) for a, _ in map(first.at, range(known))] == [
        whole_left.style(a) for a, _ in map(whole.at, range(known))]
    assert first_left.style(same.first) is None  # the same on both sides: not marked
