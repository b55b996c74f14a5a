"""Pictures of the status bar with a long topic path at 80 columns, the `?` screen and a documented panel.

Each SVG under __snapshots__ was reviewed by eye; `pytest --snapshot-update` writes new ones.
"""

from __future__ import annotations

from pathlib import Path

from conftest import REPO
from test_panel import DOCUMENTED, LONG_NAME
from viewer_support import make_app, settle

SAMPLE = REPO / "sample-topics" / "user-events.jsonl"


def test_status_bar_with_a_long_path_at_80_columns(snap_compare) -> None:
    assert snap_compare(make_app(SAMPLE, name=LONG_NAME), run_before=settle, terminal_size=(80, 24))


def test_help_screen(snap_compare) -> None:
    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(make_app(SAMPLE), run_before=run_before, terminal_size=(100, 50))


def test_documented_parameters_at_80_columns(snap_compare, tmp_path: Path) -> None:
    mods = tmp_path / "mods"
    mods.mkdir()
    (mods / "documented.py").write_text(DOCUMENTED)
    app = make_app(SAMPLE, module="documented", modules_dirs=[mods])
    assert snap_compare(app, run_before=settle, terminal_size=(80, 24))
