"""Keep only the JSON records whose field has a given value (a filter).

`field` names the field (dots reach into objects: `user.id`); `equals` is compared with the field's
value as text, so `-e field=type -e equals=login` keeps login events. Records that are not JSON
objects are errors for that record.
"""

from dataclasses import dataclass

import orjson


@dataclass
class Params:
    field: str = "type"
    equals: str = ""


def filter(record, params):
    value = orjson.loads(record.value)
    for name in params.field.split("."):
        if not isinstance(value, dict):
            return False
        value = value.get(name)
    if value is None:
        return False
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text == params.equals
