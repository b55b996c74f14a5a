"""Count records by the value of a field, emitting the running counts after each record (an aggregate).

`field` names the field (`type` by default), so on user events the output grows like
`{"login":1}`, `{"login":1,"home_page":1}`, ... A record without the field counts under `null`.
"""

from dataclasses import dataclass

import orjson

INITIAL = b"{}"


@dataclass
class Params:
    field: str = "type"


def aggregate(acc, record, params):
    counts = orjson.loads(acc) if isinstance(acc, (bytes, str)) else dict(acc)
    event = orjson.loads(record.value)
    value = event.get(params.field) if isinstance(event, dict) else None
    key = value if isinstance(value, str) else orjson.dumps(value).decode()
    counts[key] = counts.get(key, 0) + 1
    return counts
