"""The record a module receives: the only smartview name a module may import."""

from __future__ import annotations


class Record:
    """One record of a topic.

    `offset` is the record's position in its topic (the line number for file topics, from 0),
    `key` is None for file topics, `value` is the raw bytes of the record without its line ending.
    `headers` is a list of `(str, bytes | None)` pairs in the broker's order (keys may repeat): Kafka
    records carry them, file records have none (an empty list).
    A plain slotted class rather than a dataclass: one is built per record, so construction cost counts.
    """

    __slots__ = ("offset", "key", "value")

    def __init__(self, offset: int, key: bytes | None, value: bytes) -> None:
        self.offset = offset
        self.key = key
        self.value = value

    @property
    def headers(self) -> list[tuple[str, bytes | None]]:
        """None for a file record: a new empty list each time, so a module changing it changes nothing else."""
        return []

    def derive(self, key: bytes | None, value: bytes) -> Record:
        """The record the next module of a chain receives: this one's offset (and headers) with an output's key and value."""
        return Record(self.offset, key, value)

    def __repr__(self) -> str:
        return f"Record(offset={self.offset}, key={self.key!r}, value={self.value!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return (self.offset, self.key, self.value) == (other.offset, other.key, other.value)
