"""Appending records to a topic so that concurrent producers never tear or interleave lines.

Each batch of whole lines is written with one `write` on an O_APPEND descriptor while holding an
exclusive advisory lock (`flock`). If a write fails part-way (disk full), the file is cut back to its
size before the batch, so no torn line is ever left behind for readers.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import BinaryIO

from ..errors import SmartviewError, TopicError
from .topic import not_a_topic_file

READ_SIZE = 1 << 20


class ProduceError(SmartviewError):
    """Appending failed; the message says how many records landed before it."""


def open_for_append(path: Path) -> int:
    """An O_APPEND descriptor for the topic, creating the file (and its directory) if needed.

    A path that cannot hold a topic file (a directory, a pipe, a folder that is a file) is a TopicError:
    a usage error, reported before any input is read.
    """
    if blocker := _file_in_the_way(path.parent):
        raise TopicError(f"cannot create topic file {path}: {blocker} is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    except IsADirectoryError:
        raise TopicError(f"cannot append to {path}: it is a directory, not a topic file") from None
    except OSError as exc:
        raise TopicError(f"cannot open topic file {path} for appending: {exc.strerror}") from None
    if problem := not_a_topic_file(os.fstat(fd)):
        os.close(fd)
        raise TopicError(f"cannot append to {path}: it {problem}")
    os.set_blocking(fd, True)
    return fd


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest existing ancestor of `folder` (itself included) if it is not a directory."""
    for candidate in (folder, *folder.parents):
        if os.path.lexists(candidate):
            return None if candidate.is_dir() else candidate
    return None


def append_lines(fd: int, data: bytes) -> None:
    """Append whole lines atomically with respect to other smartview producers."""
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        size = os.fstat(fd).st_size
        if size and _last_byte(fd, size) != b"\n":
            # Another writer left an unfinished line: close it so our first record stays whole.
            data = b"\n" + data
        _write_all_or_nothing(fd, data, size)
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)


def _last_byte(fd: int, size: int) -> bytes:
    return os.pread(fd, 1, size - 1)


def _write_all_or_nothing(fd: int, data: bytes, size_before: int) -> None:
    view = memoryview(data)
    try:
        while view:
            written = os.write(fd, view)
            view = view[written:]
    except OSError:
        try:
            os.ftruncate(fd, size_before)
        except OSError:
            pass
        raise


def produce(path: Path, source: BinaryIO) -> int:
    """Append one record per input line; returns how many records were written.

    Input is read as it arrives (a line typed at a terminal lands at once; a pipe is read in large
    blocks), and a last line without a newline is still a record.
    """
    fd = open_for_append(path)
    written = 0
    carry = b""
    try:
        while True:
            chunk = _read_some(source)
            if not chunk:
                break
            data = carry + chunk
            cut = data.rfind(b"\n") + 1
            carry = data[cut:]
            if cut:
                written += _append(fd, path, data[:cut], written)
        if carry:
            written += _append(fd, path, carry + b"\n", written)
    finally:
        os.close(fd)
    return written


def _read_some(source: BinaryIO) -> bytes:
    read1 = getattr(source, "read1", None)
    return read1(READ_SIZE) if read1 else source.read(READ_SIZE)


def _append(fd: int, path: Path, data: bytes, written: int) -> int:
    count = data.count(b"\n")
    try:
        append_lines(fd, data)
    except OSError as exc:
        raise ProduceError(
            f"cannot append to {path}: {exc.strerror}; {written} records were written before this, "
            f"the next {count} were not (nothing partial was left in the file)"
        ) from None
    return count
