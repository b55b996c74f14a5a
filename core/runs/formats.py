"""How `--print` writes each output: the value alone, `[key] value` (`-k`), or a `-F` template."""

from __future__ import annotations

from ..errors import SmartviewError

PLACEHOLDER = r"\{\{\s*(\w+)\s*\}\}"
# {{time}} is Fluvio's: the record's timestamp in RFC 3339 (UTC, milliseconds), NA for a record without
# one, as file records are.
# {{headers}} is a JSON array of [key, value] pairs (value null when the header has none): [] for file records.
FIELDS = ("offset", "key", "value", "partition", "time", "headers")
KAFKA_FIELDS = (*FIELDS, "timestamp")  # Kafka records also carry a timestamp (ms since the epoch, -1 if none)


class LineFormat:
    """Turns (offset, key, value) into one output line, without its newline.

    `plain` tells the block runner it may skip the per-record call and write values directly.
    `fields` are the placeholders a template may use: KAFKA_FIELDS for Kafka topics.
    """

    def __init__(self, key_value: bool = False, template: str | None = None, fields: tuple[str, ...] = FIELDS) -> None:
        self.key_value = key_value
        self.template = template
        self.plain = template is None and not key_value
        self._parts = _compile(template, fields) if template is not None else None
        self._uses_time = "\0time" in (self._parts or [])
        self._uses_headers = "\0headers" in (self._parts or [])

    def line(self, offset: int, key: bytes | None, value: bytes, partition: int = 0, timestamp: int = -1,
             headers: list[tuple[str, bytes | None]] | None = None) -> bytes:
        if self._parts is not None:
            fields = {
                "offset": str(offset).encode(),
                "key": b"null" if key is None else key,
                "value": value,
                "partition": str(partition).encode(),
                "timestamp": str(timestamp).encode(),
                "time": rfc3339(timestamp) if self._uses_time else b"",
                "headers": headers_json(headers) if self._uses_headers else b"",
            }
            return b"".join(fields[part[1:]] if part[:1] == "\0" else part.encode() for part in self._parts)
        if self.key_value:
            return b"[" + (b"null" if key is None else key) + b"] " + value
        return value

    def spec(self) -> tuple[bool, str | None]:
        """What a worker process needs to rebuild this format."""
        return self.key_value, self.template


def _compile(template: str, known: tuple[str, ...]) -> list[str]:
    """Split a template into literal text and `\\0name` markers, rejecting unknown placeholders."""
    import re  # templates are rare; plain runs skip the import

    parts: list[str] = []
    position = 0
    for match in re.finditer(PLACEHOLDER, template):
        name = match.group(1)
        if name not in known:
            raise SmartviewError(
                f"--format: unknown placeholder {{{{{name}}}}}; use {', '.join('{{' + f + '}}' for f in known)}"
            )
        parts.append(template[position : match.start()])
        parts.append("\0" + name)
        position = match.end()
    parts.append(template[position:])
    return [p for p in parts if p]


def headers_json(headers: list[tuple[str, bytes | None]] | None) -> bytes:
    """Headers as `[["key","value"],...]`, in the broker's order; a value that is not UTF-8 shows U+FFFD for its bad bytes."""
    if not headers:
        return b"[]"
    import orjson

    return orjson.dumps([[key, None if value is None else value.decode("utf-8", "replace")] for key, value in headers])


def rfc3339(timestamp_ms: int) -> bytes:
    """A timestamp as `fluvio consume` prints {{time}}: `2024-05-01T12:00:00.250Z`, or NA when there is none."""
    if timestamp_ms < 0:
        return b"NA"
    import datetime

    moment = datetime.datetime.fromtimestamp(timestamp_ms / 1000, datetime.timezone.utc)
    return (moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{timestamp_ms % 1000:03d}Z").encode()
