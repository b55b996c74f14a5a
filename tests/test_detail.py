"""The detail view (Enter): the record as the file holds it, both sides aligned field by field."""

from __future__ import annotations

import json
from pathlib import Path

from smartview.core.jsonlayout import layout
from smartview.tui.detail import DetailScreen, DetailView
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
            # The input as written; the output as the module wrote it (fields re-serialises: a float).
            assert '~ "id": 123456789012345678901234567890,' in left
            assert '~ "price": 1.10,' in left
            assert ('~ "id": 1.2345678901234568e+29,', '~ "price": 1.1,') in [(r[1], rows[k + 1][1]) for k, r in enumerate(rows[:-1])]
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
