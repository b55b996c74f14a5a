"""Topics read once, front to back: standard input, a named pipe, or a compressed file.

Such a source cannot be read by position, so `--print` maps its records as they come
(core/runs/stream_print.py) and the viewer copies them into a spool file (spool.py) which then reads
like any topic file. What they share is here: finding out that an argument is one, and its bytes in chunks.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from ..errors import TopicError
from ..text import printable
from .topic import TOPIC_SUFFIX, Topic, check_name, looks_like_path, open_topic, resolve
from .compression import (
    MAGIC_BYTES, SUPPORTED, Damaged, Decompressor, compression_of, file_pieces, not_records_hint, unsupported_compression,
)

STDIN_NAME = "-"
STDIN_PATHS = ("/dev/stdin", "/dev/fd/0", "/proc/self/fd/0")
CHUNK = 1 << 20  # a pipe gives what it holds, at most this much at a time
HINT_BYTES = 8192


class StreamTopic:
    """A topic read front to back. `kind` is "pipe" or the compression; `fd` is set for standard input.

    `name` is what messages call it (`-`, the path given); `path` is the pipe's or the file's path.
    A plain slotted class rather than a dataclass: making one costs every start about half a
    millisecond. Read-only by convention: `with_path` makes a changed copy.
    """

    __slots__ = ("name", "path", "kind", "fd")

    def __init__(self, name: str, path: Path, kind: str, fd: int | None = None) -> None:
        self.name = name
        self.path = path
        self.kind = kind
        self.fd = fd

    def with_path(self, path: Path) -> StreamTopic:
        """The same topic found at `path` (the path made absolute)."""
        return StreamTopic(self.name, path, self.kind, self.fd)

    @property
    def compressed(self) -> bool:
        return self.kind != "pipe"


def resolve_any(arg: str, topics_dir: Path) -> Topic | StreamTopic:
    """What a topic argument names: standard input (`-`), a named pipe, a compressed file or a topic file."""
    if arg == STDIN_NAME:
        return stdin_topic()
    if looks_like_path(arg):
        path = Path(arg)
    else:
        check_name(arg)
        path = topics_dir / f"{arg}{TOPIC_SUFFIX}"
    if is_stdin(path):
        return stdin_topic(arg)
    try:
        info = os.stat(path)
    except OSError:
        info = None
    if info is not None and stat.S_ISFIFO(info.st_mode):
        if not os.access(path, os.R_OK):
            raise TopicError(f"pipe {arg} cannot be read: permission denied")
        return StreamTopic(arg, path, "pipe")
    topic = resolve(arg, topics_dir)
    return sniff(topic.name, topic.path) or topic


def stdin_topic(name: str = STDIN_NAME) -> StreamTopic:
    """Standard input as a topic, through a descriptor of its own.

    Taken at once, before any module is loaded: module code gets /dev/null as its standard input (and the
    viewer puts the terminal there for its keys), so nothing else ever reads these records.
    """
    try:
        fd = os.dup(0)
    except OSError:
        raise TopicError("standard input (-) is closed: pipe records into smartview, or give a topic") from None
    if os.isatty(fd):
        os.close(fd)
        raise TopicError("standard input (-) is a terminal: pipe records into smartview (cmd | smartview -)")
    os.set_inheritable(fd, False)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    return StreamTopic(name, Path(STDIN_NAME), "pipe", fd)


def is_stdin(path: Path) -> bool:
    """Whether `path` names this process's standard input (`/dev/stdin`, `/dev/fd/0`, `/proc/self/fd/0`).

    By name, not by what it is: /dev/null given as the topic is refused as a device even when it happens
    to be standard input too.
    """
    return str(path) in STDIN_PATHS


def sniff(name: str, path: Path) -> StreamTopic | None:
    """A regular file that is compressed, as a StreamTopic; None for a plain one (checked to hold records).

    A known compression that is not supported, binary data or one pretty-printed JSON document is a
    TopicError with a hint, rather than pages of garbage.
    """
    try:
        with open(path, "rb") as file:
            head = file.read(HINT_BYTES)
    except OSError:
        return None  # the topic file checks say why, with the right words
    kind = compression_of(head[:MAGIC_BYTES])
    if kind is not None:
        return StreamTopic(name, path, kind)
    unsupported = unsupported_compression(head[:MAGIC_BYTES])
    if unsupported is not None:
        what, command = unsupported
        raise TopicError(f"file {name} is {what}-compressed, which smartview does not read; "
                         f"decompress it into a pipe: {command} {name} | smartview -")
    hint = not_records_hint(head)
    if hint is not None:
        raise TopicError(f"file {name} {hint.replace('FILE', name)}")
    return None


class Input:
    """The bytes of a stream topic in chunks as they arrive, and how far along a compressed file is."""

    def __init__(self, topic: StreamTopic) -> None:
        self.topic = topic
        self.decompressor: Decompressor | None = None
        self.opened = False

    def progress(self) -> float | None:
        """The part of a compressed file decoded so far (0 to 1); None for a pipe."""
        if self.decompressor is None or self.decompressor.size is None:
            return None
        return self.decompressor.consumed / max(self.decompressor.size, 1)

    def chunks(self) -> Iterator[bytes]:
        """Chunks until the end of the input; raises Damaged for damaged compressed data.

        A named pipe is opened here, in the reading thread: opening it waits for a writer. Compressed data
        arriving through a pipe (`cat app.jsonl.gz | smartview -`) is found by its first bytes too.
        """
        fd = self._open()
        try:
            if self.topic.compressed:
                self.decompressor = Decompressor(file_pieces(fd), self.topic.kind, os.fstat(fd).st_size)
                yield from self.decompressor.chunks()
                return
            first = _first_bytes(fd)
            kind = compression_of(first[:MAGIC_BYTES])
            if kind is not None:
                self.decompressor = Decompressor(_pieces(first, fd), kind)
                yield from self.decompressor.chunks()
                return
            if first:
                yield first
            while data := os.read(fd, CHUNK):
                yield data
        finally:
            os.close(fd)

    def _open(self) -> int:
        topic = self.topic
        if topic.fd is not None:
            fd = topic.fd
        elif topic.compressed:
            fd = open_topic(topic.path)
        else:
            try:
                fd = os.open(topic.path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise TopicError(f"pipe {topic.name} cannot be opened: {(exc.strerror or str(exc)).lower()}") from None
        self.opened = True
        return fd


def _first_bytes(fd: int) -> bytes:
    """What the pipe gives first: read again only while it could still be the start of a compressed stream."""
    data = os.read(fd, CHUNK)
    while data and any(len(data) < len(magic) and magic.startswith(data) for magic in SUPPORTED):
        more = os.read(fd, CHUNK)
        if not more:
            break
        data += more
    return data


def _pieces(first: bytes, fd: int) -> Iterator[bytes]:
    if first:
        yield first
    yield from file_pieces(fd)


def damage_message(topic: StreamTopic, damage: Damaged, records: int) -> str:
    """The line that says where a compressed file stopped decoding and what was read before it."""
    kept = f"records 0-{records - 1:,} were read, what follows is lost" if records else "no record could be read"
    return (f"smartview: {printable(topic.name)}: the {topic.kind} data is damaged near byte {damage.at:,} of the file "
            f"({damage.reason}); {kept}")


def byte_count(count: int) -> str:
    return "1 byte" if count == 1 else f"{count:,} bytes"
