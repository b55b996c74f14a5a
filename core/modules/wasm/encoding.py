"""The Fluvio protocol encoding of what passes between the host and a SmartModule, at ABI version 22.

As `crates/fluvio-protocol` and `crates/fluvio-smartmodule` define it: integers are big-endian, a
`String` is a u16 length and its bytes, a `Vec<T>` a u32 count and its items, an `Option` one byte (0 or
1) and the value, a `BTreeMap` a u16 count and its pairs. A record is a zigzag varint length, then
attributes (i8), timestamp delta and offset delta (varints), the key (`Option<RecordData>`), the value
(`RecordData`: varint length and bytes) and a header count (varint).

`SmartModuleInput` at version 22 is: base offset (i64), the encoded records as a byte vector, the
deprecated params field (an empty map and, from version 20, no lookback), the join record (an empty
byte vector, versions 16-22) and the base timestamp (i64, from version 22). Aggregates append the
accumulator (a byte vector) to the input and the output.

Encoding a block builds a list of byte strings and joins them once: no Python step per byte.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

VERSION = 22  # SMARTMODULE_TIMESTAMPS_VERSION, the engine's DEFAULT_SMARTENGINE_VERSION
NO_TIMESTAMP = -1  # Fluvio's timestamp for a record that has none

_I64 = struct.Struct(">q")
_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_EMPTY_PARAMS_V22 = b"\x00\x00" + b"\x00"  # an empty BTreeMap, then lookback: None (version >= 20)
_EMPTY_JOIN = b"\x00\x00\x00\x00"


def _varint_slow(number: int) -> bytes:
    """Fluvio's `variant_encode`: zigzag as `(n << 1) ^ (n >> 31)`, then 7 bits a byte, low first."""
    value = ((number << 1) ^ (number >> 31)) & 0xFFFFFFFFFFFFFFFF
    out = bytearray()
    while value & 0xFFFFFF80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value & 0xFF)
    return bytes(out)


_SMALL = 1 << 13  # below this, a length or delta takes one or two bytes: a table of them, built at import
_VARINTS = [bytes((v,)) if v < 0x80 else bytes(((v & 0x7F) | 0x80, v >> 7)) for v in range(0, 2 * _SMALL, 2)]


def varint(number: int) -> bytes:
    return _VARINTS[number] if 0 <= number < _SMALL else _varint_slow(number)


class DecodeError(Exception):
    """The module handed back bytes that are not a valid encoding."""


def encode_records(records: list[tuple[int, bytes | None, bytes]], base_offset: int) -> bytes:
    """`Vec<Record>` for (offset, key, value) triples: offset deltas from `base_offset`, no timestamps."""
    table = _VARINTS
    parts = [_U32.pack(len(records))]
    append = parts.append
    for offset, key, value in records:
        delta = offset - base_offset
        size = len(value)
        length = table[size] if size < _SMALL else _varint_slow(size)
        head = b"\x00\x00" + (table[delta] if 0 <= delta < _SMALL else _varint_slow(delta))
        if key is None:
            head += b"\x00" + length
        else:
            ksize = len(key)
            head += b"\x01" + (table[ksize] if ksize < _SMALL else _varint_slow(ksize)) + key + length
        inner = len(head) + size + 1
        append(table[inner] if inner < _SMALL else _varint_slow(inner))
        append(head)
        append(value)
        append(b"\x00")
    return b"".join(parts)


def encode_input(records: list[tuple[int, bytes | None, bytes]], base_offset: int,
                 base_timestamp: int = NO_TIMESTAMP) -> bytes:
    """`SmartModuleInput` at version 22."""
    raw = encode_records(records, base_offset)
    return b"".join((_I64.pack(base_offset), _U32.pack(len(raw)), raw, _EMPTY_PARAMS_V22, _EMPTY_JOIN,
                     _I64.pack(base_timestamp)))


def encode_aggregate_input(records: list[tuple[int, bytes | None, bytes]], base_offset: int,
                           accumulator: bytes, base_timestamp: int = NO_TIMESTAMP) -> bytes:
    """`SmartModuleAggregateInput`: the input, then the accumulator."""
    return encode_input(records, base_offset, base_timestamp) + _U32.pack(len(accumulator)) + accumulator


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) > 0xFFFF:
        raise ValueError(f"a parameter of {len(data)} bytes is longer than Fluvio's 65535")
    return _U16.pack(len(data)) + data


def encode_init_input(params: dict[str, str], last: int | None = None, age_seconds: float | None = None) -> bytes:
    """`SmartModuleInitInput`: `SmartModuleExtraParams`, a sorted string map, then the lookback."""
    parts = [_U16.pack(len(params))]
    for key in sorted(params):
        parts.append(_string(key))
        parts.append(_string(params[key]))
    if last is None and age_seconds is None:
        parts.append(b"\x00")
    else:
        parts.append(b"\x01" + struct.pack(">Q", last or 0))
        if age_seconds is None:
            parts.append(b"\x00")
        else:
            whole = int(age_seconds)
            parts.append(b"\x01" + struct.pack(">QI", whole, int(round((age_seconds - whole) * 1e9))))
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class RuntimeError_:
    """`SmartModuleTransformRuntimeError`: what the module said about the record it failed on."""

    hint: str
    offset: int
    kind: int
    key: bytes | None
    value: bytes


KIND_NAMES = {0: "Filter", 1: "Map", 2: "ArrayMap", 3: "Aggregate", 4: "FilterMap", 5: "Join", 6: "Generic"}


class _Reader:
    """A cursor over a bytes object; every read checks its bounds."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, count: int) -> bytes:
        end = self.pos + count
        if count < 0 or end > len(self.data):
            raise DecodeError(f"the output ends early (wanted {count} bytes at byte {self.pos} of {len(self.data)})")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise DecodeError(f"the output ends early at byte {self.pos}")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def varint(self) -> int:
        data, pos = self.data, self.pos
        if pos < len(data) and data[pos] < 0x80:  # the usual one-byte case
            self.pos = pos + 1
            raw = data[pos]
        else:
            raw, shift = 0, 0
            while True:
                byte = self.byte()
                raw |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
                if shift > 63:
                    raise DecodeError(f"a varint longer than 9 bytes at byte {self.pos}")
        return (raw >> 1) ^ -(raw & 1)

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def i64(self) -> int:
        return _I64.unpack(self.take(8))[0]

    def flag(self) -> bool:
        value = self.byte()
        if value > 1:
            raise DecodeError(f"an option flag of {value} at byte {self.pos - 1}")
        return value == 1

    def string(self) -> str:
        size = _U16.unpack(self.take(2))[0]
        return self.take(size).decode("utf-8", "replace")

    def record_data(self) -> bytes:
        return self.take(self.varint())


def _varint_at(data: bytes, pos: int) -> tuple[int, int]:
    """A zigzag varint at `pos`: (value, position after it)."""
    raw, shift = 0, 0
    while True:
        if pos >= len(data):
            raise DecodeError(f"the output ends early in a varint at byte {pos}")
        byte = data[pos]
        pos += 1
        raw |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        if shift > 63:
            raise DecodeError(f"a varint longer than 9 bytes at byte {pos}")


def _records(reader: _Reader) -> list[tuple[int, bytes | None, bytes]]:
    """`Vec<Record>` as (offset delta, key, value).

    The hot loop of the host: one-byte varints (lengths below 64, small deltas) are read inline, the
    rest through `_varint_at`; every length is checked against the record's own length.
    """
    data = reader.data
    count = reader.u32()
    pos = reader.pos
    out = []
    append = out.append
    varint_at = _varint_at
    try:
        for _ in range(count):
            byte = data[pos]
            if byte < 0x80:
                size, pos = byte >> 1, pos + 1  # lengths are never negative: zigzag of n >= 0 is 2n
            elif data[pos + 1] < 0x80:
                size, pos = ((byte & 0x7F) | (data[pos + 1] << 7)) >> 1, pos + 2
            else:
                size, pos = varint_at(data, pos)
            end = pos + size
            pos += 1  # attributes
            byte = data[pos]
            pos = pos + 1 if byte < 0x80 else varint_at(data, pos)[1]  # timestamp delta
            byte = data[pos]
            if byte < 0x80:
                delta, pos = (byte >> 1) ^ -(byte & 1), pos + 1
            elif data[pos + 1] < 0x80:
                raw = (byte & 0x7F) | (data[pos + 1] << 7)
                delta, pos = (raw >> 1) ^ -(raw & 1), pos + 2
            else:
                delta, pos = varint_at(data, pos)
            flag = data[pos]
            pos += 1
            key = None
            if flag:
                if flag != 1:
                    raise DecodeError(f"a key flag of {flag} at byte {pos - 1}")
                byte = data[pos]
                if byte < 0x80:
                    length, pos = byte >> 1, pos + 1
                else:
                    length, pos = varint_at(data, pos)
                key = data[pos:pos + length]
                pos += length
            byte = data[pos]
            if byte < 0x80:
                length, pos = byte >> 1, pos + 1
            elif data[pos + 1] < 0x80:
                length, pos = ((byte & 0x7F) | (data[pos + 1] << 7)) >> 1, pos + 2
            else:
                length, pos = varint_at(data, pos)
            value = data[pos:pos + length]
            pos += length
            pos = pos + 1 if data[pos] < 0x80 else varint_at(data, pos)[1]  # headers: a bare count
            if pos != end:
                raise DecodeError(f"a record of {size} bytes does not match its fields (at byte {pos})")
            append((delta, key, value))
    except IndexError:
        raise DecodeError(f"the output ends early (byte {pos} of {len(data)})") from None
    reader.pos = pos
    return out


def _runtime_error(reader: _Reader) -> RuntimeError_ | None:
    if not reader.flag():
        return None
    hint = reader.string()
    offset = reader.i64()
    kind = reader.byte()
    key = reader.record_data() if reader.flag() else None
    return RuntimeError_(hint, offset, kind, key, reader.record_data())


def decode_output(data: bytes, aggregate: bool = False
                  ) -> tuple[list[tuple[int, bytes | None, bytes]], RuntimeError_ | None, bytes | None]:
    """`SmartModuleOutput` (or `SmartModuleAggregateOutput`): successes, the error, the accumulator."""
    reader = _Reader(data)
    successes = _records(reader)
    error = _runtime_error(reader)
    accumulator = reader.take(reader.u32()) if aggregate else None
    return successes, error, accumulator


def decode_hint(data: bytes) -> str:
    """The hint of `SmartModuleInitOutput` or `SmartModuleLookbackOutput`: both start with it."""
    return _Reader(data).string()
