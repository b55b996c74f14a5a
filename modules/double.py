"""Double an integer: the SmartModule template's smallest map.

The value must be an integer in text form: ASCII digits with an optional `-` (`21`, of any size); the
output is twice it (`42`). Anything else (` 21`, `2_1`, `+21`, `21.0`) is an error for that record, as
Rust's `i64::from_str` would refuse it too (but for the size).
"""

import re

_INTEGER = re.compile(rb"-?[0-9]+")


def map(record, params):
    if _INTEGER.fullmatch(record.value) is None:
        raise ValueError(f"not an integer: {record.value[:40]!r}")
    return str(int(record.value) * 2)
