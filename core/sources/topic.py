"""Topics: append-only files of newline-delimited records, found by name in a topics directory.

A record's offset is its line number from 0; its value is the line without `\\n` or `\\r\\n`.
Names follow Fluvio's rules so that the same names work on a real cluster.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path

from ..errors import TopicError

TOPIC_SUFFIX = ".jsonl"
MAX_NAME_LENGTH = 63
_NAME_CHARS = re.compile(r"[a-z0-9-]+")
COUNT_CHUNK = 8 << 20


class Topic:
    """A topic resolved to its file. `name` is what messages call it: the topic name or the path given.

    A plain slotted class rather than a dataclass: making one costs every start about half a
    millisecond. Read-only by convention: `with_path` makes a changed copy.
    """

    __slots__ = ("name", "path")

    def __init__(self, name: str, path: Path) -> None:
        self.name = name
        self.path = path

    def with_path(self, path: Path) -> Topic:
        """The same topic found at `path` (the path made absolute)."""
        return Topic(self.name, path)


def check_name(name: str) -> None:
    """Raise TopicError naming the rule a topic name breaks."""
    if not name:
        raise TopicError("topic name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise TopicError(
            f"invalid topic name {name!r}: at most {MAX_NAME_LENGTH} characters (it has {len(name)})"
        )
    if not _NAME_CHARS.fullmatch(name):
        bad = sorted({c for c in name if not _NAME_CHARS.fullmatch(c)})
        shown = " ".join(repr(c) for c in bad)
        raise TopicError(
            f"invalid topic name {name!r}: only lowercase letters, digits and '-' are allowed "
            f"(found {shown}); to open a file, give its path, such as ./{name}"
        )
    if name.startswith("-") or name.endswith("-"):
        raise TopicError(f"invalid topic name {name!r}: it must not start or end with '-'")


KAFKA_SCHEME = "kafka:"


def is_kafka_address(arg: str) -> bool:
    """Whether a topic argument names a Kafka topic (`kafka://…`, `kafka:NAME`) rather than a file topic.

    Here rather than in kafka.py so that telling the two apart costs a file topic no import.
    """
    return arg.startswith(KAFKA_SCHEME)


def looks_like_path(arg: str) -> bool:
    """A path argument opens a file directly: anything with a slash, or an existing file's name."""
    return "/" in arg or os.sep in arg or os.path.isfile(arg)


def resolve(arg: str, topics_dir: Path) -> Topic:
    """The topic a command-line argument names, checked to be a readable regular file."""
    if looks_like_path(arg):
        path = Path(arg)
        _check_readable(path, f"file {arg}")
        return Topic(arg, path)
    check_name(arg)
    path = topics_dir / f"{arg}{TOPIC_SUFFIX}"
    if not os.path.lexists(path):
        raise TopicError(_missing_message(arg, topics_dir))
    _check_readable(path, f"topic {arg!r} ({path})")
    return Topic(arg, path)


def path_for_new(name: str, topics_dir: Path) -> Path:
    """Where a topic is (or will be) stored; for `produce`, which may create it."""
    if looks_like_path(name):
        return Path(name)
    check_name(name)
    return topics_dir / f"{name}{TOPIC_SUFFIX}"


def _check_readable(path: Path, what: str) -> None:
    try:
        info = os.stat(path)
    except OSError as exc:
        raise TopicError(f"{what} {_unreachable(path, exc)}") from None
    if problem := not_a_topic_file(info):
        raise TopicError(f"{what} {problem}")
    if not os.access(path, os.R_OK):
        raise TopicError(f"{what} cannot be read: permission denied")


def not_a_topic_file(info: os.stat_result) -> str | None:
    """Why a file of this kind is not read as a topic file, or None for a regular file.

    A topic file is read by position (pread), counted and followed by size, which only a regular file
    allows. A pipe is read once, front to back, by a source of its own (stream.py), chosen when the
    command line names one; here it is refused, never opened, so nothing waits on it (a pipe put where a
    followed file was, a pipe in a topics listing). A device such as /dev/zero never ends.
    """
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not a topic file"
    if stat.S_ISFIFO(mode):
        return "is a pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _unreachable(path: Path, exc: OSError) -> str:
    """Why `os.stat` failed, in the words a user needs: a missing file, a dangling link, a loop."""
    if isinstance(exc, FileNotFoundError):
        return "is a symlink to a missing file" if os.path.islink(path) else "does not exist"
    if exc.errno == errno.ELOOP:
        return "is a symlink loop"
    return f"cannot be read: {_reason(exc)}"


def open_topic(path: Path) -> int:
    """A read-only descriptor on the topic file at `path`, checked to be a regular file.

    Opened without blocking, so a pipe put at the path (even after the checks of `resolve`) is refused
    instead of waiting for a writer; the check is made on what was opened.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise TopicError(f"topic file {path} {_unreachable(path, exc)}") from None
    problem = not_a_topic_file(os.fstat(fd))
    if problem:
        os.close(fd)
        raise TopicError(f"topic file {path} {problem}")
    os.set_blocking(fd, True)
    return fd


def _missing_message(name: str, topics_dir: Path) -> str:
    message = f"topic {name!r} not found in {topics_dir}"
    if not topics_dir.is_dir():
        return f"{message} (the directory does not exist; set --topics-dir or SMARTVIEW_TOPICS_DIR)"
    names = [topic.name for topic in list_topics(topics_dir)]
    if names:
        return f"{message}; topics there: {', '.join(names)}"
    return f"{message}; it holds no topics yet (create one with `smartview produce {name}`)"


def list_topics(topics_dir: Path) -> list[Topic]:
    """The topics in a directory, sorted by name. Files whose names are not valid topic names are skipped.

    Nothing is opened, so a pipe named like a topic cannot make a listing wait. A folder that exists but
    cannot be listed is a TopicError naming it.
    """
    try:
        names = sorted(entry.name for entry in os.scandir(topics_dir))
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise TopicError(f"topics folder {topics_dir} cannot be listed: {_reason(exc)}") from None
    if not os.access(topics_dir, os.X_OK):
        raise TopicError(f"topics folder {topics_dir} cannot be searched: permission denied")
    topics = []
    for file_name in names:
        name = file_name[: -len(TOPIC_SUFFIX)]
        if not file_name.endswith(TOPIC_SUFFIX):
            continue
        if _NAME_CHARS.fullmatch(name) and not name.startswith("-") and not name.endswith("-"):
            topics.append(Topic(name, topics_dir / file_name))
    return topics


def topic_problem(path: Path) -> str | None:
    """Why a listed topic cannot be counted (dangling link, loop, not a regular file, unreadable), or None."""
    try:
        info = os.stat(path)
    except OSError as exc:
        return _unreachable(path, exc)
    if problem := not_a_topic_file(info):
        return problem
    if not os.access(path, os.R_OK):
        return "cannot be read: permission denied"
    return None


def _reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)


def count_records(path: Path) -> int:
    """How many records the file holds now, an unfinished last line included.

    Counting newlines in large blocks runs at memory speed, so listing topics stays quick for big files.
    """
    lines = 0
    last = b"\n"
    with open(open_topic(path), "rb") as file:
        while block := file.read(COUNT_CHUNK):
            lines += block.count(b"\n")
            last = block[-1:]
    return lines + (last != b"\n")


FINGERPRINT = 4096  # bytes kept from the start of a file and from before the read position


class Seen:
    """What a reader has seen of a file: its first bytes and the bytes just before where it stopped.

    Kept to tell a file truncated and rewritten past the old read position from one that only grew:
    both keep the inode and grow. Fixed-width records that end alike (a common suffix) rewrite the last
    few bytes identically, so a few bytes are not enough; 4 KiB at each end holds dozens of records.
    """

    __slots__ = ("head", "tail")

    def __init__(self) -> None:
        self.head = b""
        self.tail = b""

    def note(self, fd: int, position: int, data: bytes | memoryview = b"") -> None:
        """The reader now stands at `position`; `data`, if given, is what it read last, ending there.

        What was read is kept rather than read again, so a rewrite just after the read is still noticed.
        """
        want = min(FINGERPRINT, position)
        if len(data) >= want:
            self.tail = bytes(data[len(data) - want :])
        else:
            self.tail = os.pread(fd, want, position - want)
        if len(self.head) < want:
            self.head = bytes(data[:want]) if len(data) >= position else os.pread(fd, want, 0)

    def still_there(self, fd: int, position: int) -> bool:
        """Whether the bytes seen are where they were (checked through the reader's own descriptor)."""
        if self.head and os.pread(fd, len(self.head), 0) != self.head:
            return False
        return not self.tail or os.pread(fd, len(self.tail), position - len(self.tail)) == self.tail


def how_changed(path: Path, inode: int, fd: int, position: int, seen: Seen) -> str | None:
    """How a topic file changed under a reader that has read `position` bytes through descriptor `fd`.

    'deleted' (nothing at the path), 'replaced' (a new inode: rotation, rename over, delete and
    recreate), 'truncated' (shorter than what was read, or the bytes `seen` at its start or just before
    `position` are not there any more: a file truncated and at once written past its old size keeps its
    inode and grows), or None. After any of them the records read so far are gone from the path.
    A rewrite that puts back the same first 4 KiB and the same 4 KiB before `position` cannot be told
    from growth (docs/reliability.md).
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "deleted"
    except OSError:  # the path cannot be looked at now (a folder's permissions): what was open still reads
        return None
    if info.st_ino != inode:
        return "replaced"
    if info.st_size < position:
        return "truncated"
    if not seen.still_there(fd, position):
        return "truncated"
    return None
