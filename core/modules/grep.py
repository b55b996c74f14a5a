"""Rows whose output matches a pattern (core/pattern.py): the stage behind --grep, --grep-v and the quick filter.

A filter module like any other, appended to the chain: the viewer's counting pass, its row process,
`--print` (in parallel too) and the copied command all run it without knowing it is built in. Each
stage holds one pattern (`!` excludes); several stages keep the rows that match all of them.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartview.core.pattern import parse

_matchers: dict[str, Any] = {}  # pattern text -> its matcher: parsed once, whatever the records


@dataclass
class Params:
    pattern: str = ""


def filter(record, params):
    matches = _matchers.get(params.pattern)
    if matches is None:
        matches = _matchers[params.pattern] = parse(params.pattern).matcher()
    return matches(record.value)


# -- for the runs that append this stage (not called by the stage itself) ---------------------------

PATH = Path(__file__)
_loaded: list[Any] = []


def stage(pattern: str) -> tuple[Any, dict[str, str]]:
    """(module, values) of a stage keeping the rows that match `pattern`, to append to a chain."""
    from smartview.core.modules.module import load

    if not _loaded:
        _loaded.append(load(PATH))
    return _loaded[0], {"pattern": pattern}


def is_stage(module: Any) -> bool:
    """Whether a chain's module is this built-in stage rather than one the user chose."""
    return Path(module.path).resolve() == PATH.resolve()
