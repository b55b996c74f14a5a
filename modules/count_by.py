"""Count records by the value of a field, emitting the running counts after each record (an aggregate).

`field` names the field (`type` by default), so on user events the output grows like
`{"login":1}`, `{"login":1,"home_page":1}`, ... A record without the field counts under `null`. A value
that is not a string counts under its JSON text as written (`1.10`, `18446744073709551616`, `true`), so
the string "1" and the number 1 count together.
"""

from dataclasses import dataclass

import orjson

from smartview.core.exactjson import loads

INITIAL = b"{}"


@dataclass
class Params:
    field: str = "type"


def aggregate(acc, record, params):
    counts = orjson.loads(acc) if isinstance(acc, (bytes, str)) else dict(acc)
    event = loads(record.value)
    value = event.get(params.field) if isinstance(event, dict) else None
    key = value if isinstance(value, str) else orjson.dumps(value).decode()
    counts[key] = counts.get(key, 0) + 1
    return counts
