"""Mapping records in a child process, so that module code never runs in the viewer's own process.

A module that is stuck inside C code holds the GIL and would freeze every thread of the process it
runs in; one that calls `os._exit` would end it. The viewer therefore sends the records it needs to a
child (`python -m smartview.core.rowprocess`) and reads back one result per record as it is made. A
child that is stuck when new work arrives is killed and replaced.

The protocol is length-prefixed pickles over the child's stdin and stdout: a request is
`(module path, module stamp, parameter values, [(offset, value), ...])`, each reply one `Output` or
`Failure`. Only the viewer talks to the child, and only the viewer's own objects cross the pipe.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

_LENGTH = struct.Struct("<I")


def write_frame(out: BinaryIO, item: Any) -> None:
    data = pickle.dumps(item, protocol=pickle.HIGHEST_PROTOCOL)
    out.write(_LENGTH.pack(len(data)) + data)
    out.flush()


def read_frame(source: BinaryIO) -> Any:
    """The next item, or raises EOFError when the other side is gone."""
    header = source.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        raise EOFError
    (length,) = _LENGTH.unpack(header)
    data = source.read(length)
    if len(data) < length:
        raise EOFError
    return pickle.loads(data)


def module_stamp(path: Path) -> tuple[int, int]:
    """Changes whenever the module file is saved: the child reloads the module when it does."""
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size


class RowProcess:
    """One child process and the pipes to it."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "smartview.core.rowprocess"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )

    def send(self, module_path: Path, values: dict[str, str], items: list[tuple[int, bytes]]) -> None:
        assert self._process.stdin is not None
        write_frame(self._process.stdin, (str(module_path), module_stamp(module_path), values, items))

    def receive(self) -> Any:
        assert self._process.stdout is not None
        return read_frame(self._process.stdout)

    def exit_status(self, wait: float = 0) -> int | None:
        """The child's exit status, waiting up to `wait` seconds for it to end; None while it runs."""
        try:
            return self._process.wait(wait) if wait else self._process.poll()
        except subprocess.TimeoutExpired:
            return None

    def kill(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
        self._process.wait()
        for pipe in (self._process.stdin, self._process.stdout):
            try:
                if pipe is not None:
                    pipe.close()
            except OSError:
                pass


def main() -> None:
    from .errors import SmartviewError
    from .module import load
    from .record import Record
    from .runner import Failure, Mapper

    requests = sys.stdin.buffer
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a module prints goes where stderr goes (nowhere, for the viewer)
    loaded: dict[str, tuple[Any, Any]] = {}  # path -> (stamp, module): the last version that loaded
    while True:
        try:
            path, stamp, values, items = read_frame(requests)
        except EOFError:
            return
        previous = loaded.get(path)
        if previous is None or previous[0] != stamp:
            try:
                loaded[path] = (stamp, load(Path(path)))
            except SmartviewError as exc:
                if previous is None:
                    for offset, value in items:
                        write_frame(replies, Failure(offset, f"module does not load: {exc.message}", path, "", value))
                    continue
        try:
            mapper = Mapper(loaded[path][1], loaded[path][1].make_params(values))
        except SmartviewError as exc:  # the module on disk no longer takes these parameters
            for offset, value in items:
                write_frame(replies, Failure(offset, exc.message, path, "", value))
            continue
        for offset, value in items:
            try:
                result = mapper.apply(Record(offset, None, value))
            except KeyboardInterrupt as exc:  # no Ctrl-C reaches this process from the viewer
                result = mapper.failure(offset, value, exc)
            write_frame(replies, result)


if __name__ == "__main__":
    main()
