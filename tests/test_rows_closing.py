"""Closing the viewer's rows (quitting) while a helper reads the row process's answers: the helper lets go quietly."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from smartview.core.modules import module as module_mod
from smartview.core.runs.rows import MappedTopic
from smartview.core.sources.index import LineIndex


def test_closing_while_a_row_is_being_mapped_raises_nothing_in_the_helper(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(b'{"n": %d}\n' % n for n in range(20000)))
    source = tmp_path / "quick.py"
    source.write_text("def map(record, params):\n    return record.value\n")
    module = module_mod.load(source)
    index = LineIndex(path)
    index.update()
    failures: list[BaseException] = []
    previous = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value)
    try:
        for attempt in range(8):  # closed at a different moment of the helper's reading each time
            rows = MappedTopic(index, [(module, {})])
            rows.window(0, 20000, wait=0.05 + attempt * 0.01)  # a helper is now reading the answers
            rows.close()
        time.sleep(0.5)  # the helpers, left reading closed pipes, have returned by now
    finally:
        threading.excepthook = previous
    assert failures == []
