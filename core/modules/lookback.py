"""Lookback, as Fluvio configures it: the records a module's `look_back` hook is fed before the first
record is read, so that a stateful module starts where the topic left it.

`last: N` takes the N records before the first one read; `age: 1h` those younger than an hour (by
the record's timestamp); both together, the last N that are also young enough. Fluvio's transforms
files write it as `lookback: {last: 10, age: 1h}`, with `age` in humantime form (`1h 30m`, `7days`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import SmartviewError

# humantime's units (the crate Fluvio parses `age` with), in seconds.
_UNITS = {
    "ns": 1e-9, "nsec": 1e-9, "nanos": 1e-9, "us": 1e-6, "usec": 1e-6, "micros": 1e-6,
    "ms": 1e-3, "msec": 1e-3, "millis": 1e-3,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800,
    "M": 2630016, "month": 2630016, "months": 2630016, "y": 31557600, "year": 31557600, "years": 31557600,
}
_PART = re.compile(r"\s*(\d+)\s*([A-Za-z]+)")


@dataclass(frozen=True)
class Lookback:
    """How many records before the first one read (`last`, 0: no limit) and how young (`age`, seconds)."""

    last: int = 0
    age: float | None = None

    def select(self, before: list, now_ms: int) -> list:
        """Of the records before the first one read (oldest first), those this lookback takes."""
        chosen = before[-self.last:] if self.last else ([] if self.age is None else before)
        if self.age is None:
            return chosen
        oldest = now_ms - self.age * 1000
        return [r for r in chosen if getattr(r, "timestamp", -1) >= oldest]

    def describe(self) -> str:
        parts = [f"last {self.last}"] if self.last else []
        if self.age is not None:
            parts.append(f"age {self.age:g}s")
        return ", ".join(parts)


def parse_age(text: str, where: str) -> float:
    """Seconds in a humantime duration such as `1h`, `90s` or `1h 30m`."""
    position, total = 0, 0.0
    text = text.strip()
    for match in _PART.finditer(text):
        if match.start() != position or match.group(2) not in _UNITS:
            break
        total += int(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if not text or position != len(text):
        raise SmartviewError(f"{where}: lookback age {text!r} is not a duration such as 1h, 30m or 1h 30m")
    return total


def from_mapping(data: object, where: str) -> Lookback:
    """A transforms entry's `lookback:` table (`last`, `age`)."""
    if not isinstance(data, dict) or set(data) - {"last", "age"}:
        raise SmartviewError(f"{where}: `lookback` takes `last` (a number of records) and/or `age` (e.g. 1h)")
    last = data.get("last", 0)
    if type(last) is not int or last < 0:
        raise SmartviewError(f"{where}: lookback `last` must be a whole number of records, not {last!r}")
    age = data.get("age")
    if age is not None and not isinstance(age, str):
        raise SmartviewError(f"{where}: lookback `age` must be a duration such as \"1h\", not {age!r}")
    return Lookback(last, None if age is None else parse_age(age, where))
