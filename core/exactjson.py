"""JSON read so that writing it back changes no value: for modules that output what they did not touch.

orjson reads an integer beyond 64 bits as a float (18446744073709551616 becomes 1.8446744073709552e+19)
and keeps no number's text (1.10 is written back as 1.1, 1e2 as 100.0, -0 as 0; 1E400 is refused).
`loads` keeps such numbers as `orjson.Fragment`s of their text, which orjson writes back byte for byte;
as a value, `orjson.dumps(fragment)` is that text. A record whose numbers are all integers (other than
a 0) within 64 bits, almost every record, is read by orjson alone.

What is normalised, as by any JSON reader: whitespace between tokens, the escapes of strings (`\\u00e9`
is written back as `é`, `\\/` as `/`: the same characters), and an object's repeated name, of which the
last value is kept (as JavaScript, Python and orjson do; RFC 8259 leaves such objects to the reader).
NaN and Infinity are not JSON: a record holding them is refused, as orjson refuses it.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

_FLAT = frozenset((str, int, bool, type(None)))
NONE, ZERO, FLOAT = 0, 1, 2  # what orjson's reading may have changed: nothing, a -0, any number's text
_NEGATIVE_ZERO = re.compile(rb"(?:\A|[:,\[])[ \t\r\n]*-0(?![0-9.eE])")


def loads(data: bytes) -> Any:
    """`orjson.loads(data)`, but the numbers orjson would change are kept as the text they were written as."""
    value = orjson.loads(data)  # orjson's errors are the record's errors, and its speed the common case's
    # The common case, an object of strings, integers, booleans and nulls, is told in C loops: `45 in
    # data` is a memchr for "-" (no -0 without one).
    if type(value) is dict and _FLAT.issuperset(map(type, value.values())):
        if 45 not in data or 0 not in value.values():
            return value
    doubt = _doubt(value)
    if doubt == NONE or (doubt == ZERO and _NEGATIVE_ZERO.search(data) is None):
        return value
    return _loads_keeping_numbers(data)


def _doubt(value: Any) -> int:
    """FLOAT if a float is in `value` (a fraction, an exponent, or an integer beyond 64 bits was read);
    ZERO if an integer 0 is (it may have been written -0); else NONE."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list:
        items = value
    else:
        return FLOAT if kind is float else ZERO if kind is int and value == 0 else NONE
    doubt = NONE
    for item in items:
        kind = type(item)
        if kind is float:
            return FLOAT
        if kind is dict or kind is list:
            found = _doubt(item)
            if found == FLOAT:
                return FLOAT
            doubt |= found
        elif kind is int and item == 0:
            doubt = ZERO
    return doubt


def _loads_keeping_numbers(data: bytes) -> Any:
    import json  # only records with such numbers need it

    text = data.decode("utf-8")  # orjson has read it: it is UTF-8
    return json.loads(text, parse_int=_integer, parse_float=_as_written, parse_constant=_not_json)


def _integer(text: str) -> int | orjson.Fragment:
    return int(text) if len(text) < 19 and text != "-0" else orjson.Fragment(text.encode())


def _as_written(text: str) -> orjson.Fragment:
    return orjson.Fragment(text.encode())


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
