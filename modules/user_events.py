"""Hide fields of web user events: the founding SmartModule-with-parameters example.

Each record is a JSON event with a `type` (register, login, logout, home_page, play_demo, action_a or
action_b), an `account_id`, a `timestamp` and a `user_client`. The output keeps that field order and
leaves out the fields whose `show_*` parameter is false. As in the Rust original, a record of another
type, with a missing or mistyped field, or that is not JSON, is an error for that record.
"""

from dataclasses import dataclass

import orjson

from smartview.core.exactjson import loads

EVENT_TYPES = ("register", "login", "logout", "home_page", "play_demo", "action_a", "action_b")
_KNOWN = frozenset(EVENT_TYPES)
_FIELDS = (("account_id", str, "a string"), ("timestamp", int, "a 64-bit integer"), ("user_client", str, "a string"))


@dataclass
class Params:
    show_account_id: bool = True
    show_timestamp: bool = True
    show_user_client: bool = True


def map(record, params):
    event = orjson.loads(record.value)
    try:
        kind = event["type"]
        account_id = event["account_id"]
        timestamp = event["timestamp"]
        user_client = event["user_client"]
    except (KeyError, TypeError):
        raise ValueError(_missing(event)) from None
    if (
        kind not in _KNOWN
        or type(account_id) is not str
        or type(timestamp) is not int
        or type(user_client) is not str
    ):
        raise ValueError(_invalid(loads(record.value)))  # read again: the error shows numbers as written
    output = {"type": kind}
    if params.show_account_id:
        output["account_id"] = account_id
    if params.show_timestamp:
        output["timestamp"] = timestamp
    if params.show_user_client:
        output["user_client"] = user_client
    return output


def _missing(event) -> str:
    if not isinstance(event, dict):
        return f"expected a JSON object, got {type(event).__name__}"
    for name in ("type",) + tuple(f[0] for f in _FIELDS):
        if name not in event:
            return f"missing field `{name}`"
    return "malformed event"


def _invalid(event) -> str:
    kind = event["type"]
    if kind not in _KNOWN:
        return f"unknown event type {kind!r}; expected one of {', '.join(EVENT_TYPES)}"
    for name, expected_type, description in _FIELDS:
        if type(event[name]) is not expected_type:
            return f"field `{name}` must be {description}, got {orjson.dumps(event[name]).decode()}"
    return "malformed event"
