"""Keep only the JSON records whose field has a given value (a filter).

`field` names the field (dots reach into objects: `user.id`); `equals` is compared with the field's
value as text, so `-e field=type -e equals=login` keeps login events. A number is compared as it is
written in the record (`1.10`, `18446744073709551616`). Records that are not JSON are errors for that
record; kept records are passed on unchanged.
"""

from dataclasses import dataclass

import orjson

from smartview.core.exactjson import loads


@dataclass
class Params:
    field: str = "type"
    equals: str = ""


def filter(record, params):
    value = loads(record.value)
    for name in params.field.split("."):
        if not isinstance(value, dict):
            return False
        value = value.get(name)
    if value is None:
        return False
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text == params.equals
