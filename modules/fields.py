"""Keep or drop named fields of JSON objects: a map for any JSON log that has no module of its own.

`keep` and `drop` are comma-separated field names; an empty `keep` keeps every field. Nested fields
are named with dots (`user.id`). Records that are not JSON objects are errors for that record.
Every field kept is written back as it was: numbers keep their text (`1.10`, integers beyond 64 bits).
"""

from dataclasses import dataclass
from functools import lru_cache

from smartview.core.exactjson import loads


@dataclass
class Params:
    keep: str = ""
    drop: str = ""


@lru_cache(maxsize=64)
def _paths(names: str) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(name.strip().split(".")) for name in names.split(",") if name.strip())


def map(record, params):
    event = loads(record.value)
    if not isinstance(event, dict):
        raise ValueError(f"expected a JSON object, got {type(event).__name__}")
    if params.keep:
        event = _keep(event, _paths(params.keep))
    for path in _paths(params.drop):
        _drop(event, path)
    return event


def _keep(event: dict, paths: tuple[tuple[str, ...], ...]) -> dict:
    kept: dict = {}
    for path in paths:
        source, target = event, kept
        for name in path[:-1]:
            source = source.get(name) if isinstance(source, dict) else None
            if not isinstance(source, dict):
                break
            target = target.setdefault(name, {})
        else:
            if isinstance(source, dict) and path[-1] in source:
                target[path[-1]] = source[path[-1]]
    return kept


def _drop(event: dict, path: tuple[str, ...]) -> None:
    for name in path[:-1]:
        event = event.get(name)
        if not isinstance(event, dict):
            return
    event.pop(path[-1], None)
