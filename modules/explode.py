"""Turn each element of a JSON array field into a record of its own (an array_map).

`field` names the array (`items` by default). With `keep_parent`, each element becomes an object
`{"parent": <the record without the array>, "item": <element>}`; otherwise the element itself. A
record without the field gives no records; one that is not a JSON object is an error. Elements and
parents are written back as they were: numbers keep their text (`1.10`, integers beyond 64 bits).
"""

from dataclasses import dataclass

import orjson

from smartview.core.exactjson import loads


@dataclass
class Params:
    field: str = "items"
    keep_parent: bool = False


def array_map(record, params):
    event = loads(record.value)
    if not isinstance(event, dict):
        raise ValueError(f"expected a JSON object, got {type(event).__name__}")
    items = event.get(params.field)
    if items is None:
        return []
    if not isinstance(items, list):
        raise ValueError(f"field `{params.field}` is {type(items).__name__}, not an array")
    if not params.keep_parent:
        return [item if isinstance(item, (dict, list, str)) else orjson.dumps(item) for item in items]
    parent = {k: v for k, v in event.items() if k != params.field}
    return [{"parent": parent, "item": item} for item in items]
