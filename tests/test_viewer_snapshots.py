"""Pictures of the viewer: what a person sees first, after toggles, on errors, in each screen.

Each SVG under __snapshots__ was reviewed by eye; `pytest --snapshot-update` writes new ones.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import REPO
from viewer_support import make_app, settle

SAMPLE = REPO / "sample-topics" / "user-events.jsonl"
MIXED = (
    '{"type":"login","account_id":"1","timestamp":1640878631,"user_client":"safari"}\n'
    "this line is not JSON\n"
    '{"type":"teleport","account_id":"1","timestamp":1640878640,"user_client":"safari"}\n'
    '{"type":"logout","account_id":"1","timestamp":1640878700,"user_client":"safari"}\n'
    '{"type":"home_page","account_id":"2","timestamp":1640878701}\n'
    '{"type":"action_a","account_id":"2","timestamp":1640878702,"user_client":"firefox"}\n'
)


def after(*keys: str, remapped: bool = True):
    """A run_before that waits for the first screen, presses `keys`, then waits for the new screen."""

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press(*keys)
        if remapped:
            await settle(pilot)
        else:
            await pilot.pause()

    return run_before


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed-events.jsonl"
    path.write_text(MIXED)
    return path


def test_first_view(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE), run_before=settle, terminal_size=(120, 30))


def test_after_toggling_account_id(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE), run_before=after("1"), terminal_size=(120, 30))


def test_after_toggling_account_id_and_user_client(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE), run_before=after("1", "3"), terminal_size=(120, 30))


def test_error_rows(snap_compare, mixed: Path) -> None:
    assert snap_compare(make_app(mixed), run_before=settle, terminal_size=(120, 30))


def test_detail_view(snap_compare) -> None:
    async def run_before(pilot) -> None:  # the error count settles before the detail opens over it
        await after("1")(pilot)
        await after("up", "enter", remapped=False)(pilot)

    assert snap_compare(make_app(SAMPLE), run_before=run_before, terminal_size=(120, 30))


def test_detail_of_nested_json_with_big_numbers(snap_compare, tmp_path: Path) -> None:
    """The input as written (a big integer, 1.10, a duplicate key, nesting), aligned with the output."""
    topic = tmp_path / "written.jsonl"
    topic.write_text('{"id":123456789012345678901234567890,"price":1.10,"tag":"a","tag":"b",'
                     '"nested":{"level":{"deep":[1,{"x":2.50}]}},"gone":true,"kept":"yes"}\n')
    app = make_app(topic, module="fields", values={"drop": "gone"})
    assert snap_compare(app, run_before=after("enter", remapped=False), terminal_size=(120, 30))


def test_detail_of_an_error_row(snap_compare, mixed: Path) -> None:
    assert snap_compare(make_app(mixed), run_before=after("home", "down", "enter", remapped=False), terminal_size=(120, 30))


def test_module_picker(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE), run_before=after("m", remapped=False), terminal_size=(120, 30))


def test_no_module_selected(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE, module=None), run_before=settle, terminal_size=(120, 30))


def test_empty_topic(snap_compare, tmp_path: Path) -> None:
    empty = tmp_path / "quiet.jsonl"
    empty.write_text("")
    assert snap_compare(make_app(empty), run_before=settle, terminal_size=(120, 30))


def test_small_terminal(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE), run_before=after("1"), terminal_size=(80, 24))


ORDERS = (
    '{"order":1,"customer":"ada","items":[{"sku":"pen","qty":2},{"sku":"ink","qty":1}]}\n'
    '{"order":2,"customer":"bo","items":[]}\n'
    '{"order":3,"customer":"cy","items":[{"sku":"pad","qty":5}]}\n'
    "not json\n"
    '{"order":5,"customer":"ada","items":[{"sku":"pen","qty":1},{"sku":"nib","qty":3},{"sku":"ink","qty":2}]}\n'
)


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.jsonl"
    path.write_text(ORDERS)
    return path


def test_filter(snap_compare) -> None:
    app = make_app(SAMPLE, module="where", values={"equals": "login"})
    assert snap_compare(app, run_before=settle, terminal_size=(120, 30))


def test_array_map(snap_compare, orders: Path) -> None:
    assert snap_compare(make_app(orders, module="explode"), run_before=settle, terminal_size=(120, 30))


def test_aggregate(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE, module="count_by"), run_before=settle, terminal_size=(120, 30))


def test_chain(snap_compare, mixed: Path) -> None:
    app = make_app(mixed, chain=[("where", {"field": "user_client", "equals": "safari"}), ("user_events", {})])
    assert snap_compare(app, run_before=after("1"), terminal_size=(120, 30))


def test_filter_map(snap_compare, tmp_path: Path) -> None:
    from test_viewer_kinds import ODD

    (tmp_path / "odd.py").write_text(ODD)
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("".join(f"{n}\n" for n in range(1, 12)) + "twelve\n13\n")
    app = make_app(topic, module="odd", modules_dirs=[tmp_path])
    assert snap_compare(app, run_before=settle, terminal_size=(120, 30))


def test_panel_hidden(snap_compare) -> None:
    """`p` gives the rows the whole width, drawn in one frame from the same mapped results."""
    assert snap_compare(make_app(SAMPLE), run_before=after("p", remapped=False), terminal_size=(120, 30))


def test_smartmodule_panel_with_metadata(snap_compare, tmp_path: Path) -> None:
    """A .wasm's parameters from its SmartModule.toml: descriptions, required and optional."""
    wasm = REPO / "tests" / "wasm"
    (tmp_path / "filter_init.wasm").write_bytes((wasm / "filter_init.wasm").read_bytes())
    (tmp_path / "filter_init.toml").write_bytes((wasm / "filter_init.toml").read_bytes())
    topic = tmp_path / "fruit.jsonl"
    topic.write_text("apple\nbanana\ncherry\nmango\n")
    app = make_app(topic, module="filter_init", values={"key": "an"}, modules_dirs=[tmp_path])
    assert snap_compare(app, run_before=settle, terminal_size=(120, 30))


def test_bar_chart_of_an_aggregate(snap_compare, tmp_path: Path) -> None:
    """`b` on count_by: the newest counts as bars, largest first."""
    topic = tmp_path / "visits.jsonl"
    kinds = ["login"] * 12 + ["logout"] * 7 + ["home_page"] * 3 + ["play_demo"]
    topic.write_text("".join(f'{{"type":"{kind}","account_id":"{n}"}}\n' for n, kind in enumerate(kinds)))
    app = make_app(topic, module="count_by")

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("b")
        await pilot.pause(0.6)  # the chart is drawn four times a second

    assert snap_compare(app, run_before=run_before, terminal_size=(120, 30))
