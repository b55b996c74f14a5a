"""Mapping records in a child process, so that module code never runs in the viewer's own process.

A module that is stuck inside C code holds the GIL and would freeze every thread of the process it
runs in; one that calls `os._exit` would end it. The viewer therefore sends the records it needs to a
child (`python -P -m smartview.core.runs.rowprocess`, or its copy forked from a server: see children.py) and reads back one result per
record as it is made. A child that is stuck when new work arrives is killed and replaced.

The protocol is length-prefixed pickles over the child's stdin and stdout (both moved away from
descriptors 0 and 1 before any module is loaded): a request is a `Request`, each reply one `Output` or
`Failure` per record (for `many`, a list of outputs or a `Failure`). Only the viewer talks to the
child, and only the viewer's own objects cross the pipe.
"""

from __future__ import annotations

import os
import pickle
import struct
import subprocess
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from .. import children
from ..modules.runner import Output

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


class Request(NamedTuple):
    """Records to map with modules (module path, its stamp, its values), in chain order.

    With `many`, the stages run as a pipeline of any kinds and each record's reply is a list of outputs;
    `state` is the pickled accumulators (outputs.state_of) to start from, for aggregates. With
    `tracebacks`, failures carry the module's formatted traceback (for the one record a detail shows).
    """

    stages: list[tuple[str, tuple[int, int], dict[str, str]]]
    items: list[Any]  # Record objects (KafkaRecord for Kafka topics)
    many: bool = False
    initial: str | None = None
    state: bytes | None = None
    tracebacks: bool = False


class RowProcess:
    """One child process and the pipes to it."""

    def __init__(self) -> None:
        self._process = children.start("smartview.core.runs.rowprocess")

    def send(
        self,
        stages: list[tuple[Path, dict[str, str]]],
        items: list[Any],
        many: bool = False,
        initial: str | None = None,
        state: bytes | None = None,
        tracebacks: bool = False,
    ) -> None:
        assert self._process.stdin is not None
        stamped = [(str(path), module_stamp(path), values) for path, values in stages]
        write_frame(self._process.stdin, Request(stamped, items, many, initial, state, tracebacks))

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
    requests = children.take_stdin()  # module code reading stdin finds /dev/null, not the requests
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever a module prints goes where stderr goes (nowhere, for the viewer)
    modules = _Modules()
    while True:
        try:
            request: Request = read_frame(requests)
        except EOFError:
            return
        for reply in _answer(request, modules):
            write_frame(replies, reply)


class _Modules:
    """The last version of each module file that loaded, reloaded when the file is saved."""

    def __init__(self) -> None:
        self._loaded: dict[str, tuple[Any, Any]] = {}  # path -> (stamp, module)
        # The last pipeline built, reused while its modules and values stay the same so that a module's
        # init runs once per set of values rather than once per screen (stateful ones start afresh).
        self.pipeline: tuple[Any, Any] | None = None  # (key, Mapper or Chain)

    def get(self, path: str, stamp: tuple[int, int]) -> Any:
        from ..errors import SmartviewError
        from ..modules.module import load

        previous = self._loaded.get(path)
        if previous is None or previous[0] != stamp:
            try:
                self._loaded[path] = (stamp, load(Path(path)))
            except SmartviewError:
                if previous is None:
                    raise
        return self._loaded[path][1]


def _answer(request: Request, modules: _Modules):
    """One reply per record of the request."""
    from ..modules.chain import build
    from ..errors import SmartviewError
    from .outputs import restore
    from ..modules.runner import Failure

    first_path = request.stages[0][0]
    try:
        loaded = [(modules.get(path, stamp), values) for path, stamp, values in request.stages]
    except SmartviewError as exc:
        for record in request.items:
            yield Failure(record.offset, f"module does not load: {exc.message}", first_path, "", record.value)
        return
    key = (repr(request.stages), request.initial, request.tracebacks)
    stateful = any(module.stateful for module, _ in loaded)
    try:
        if stateful or modules.pipeline is None or modules.pipeline[0] != key:
            modules.pipeline = None
            mapper = build(loaded, request.initial, tracebacks=request.tracebacks)  # runs each module's init
            if not stateful:
                modules.pipeline = (key, mapper)
        else:
            mapper = modules.pipeline[1]
    except SmartviewError as exc:  # the module on disk no longer takes these parameters, or its init refuses them
        for record in request.items:
            yield Failure(record.offset, exc.message, first_path, "", record.value)
        return
    if request.state is not None:
        restore(mapper, pickle.loads(request.state))
    stages = getattr(mapper, "stages", [mapper])
    # An output without a key of its own keeps its record's key (Kafka), as --print shows it; an
    # aggregate's outputs are running totals, not any one record's.
    keep_keys = not any(stage.module.kind == "aggregate" for stage in stages)
    apply = mapper.apply_many if request.many else mapper.apply
    for record in request.items:
        offset, key, value = record.offset, record.key, record.value  # as read: the module may change them
        try:
            result = apply(record)
        except KeyboardInterrupt as exc:  # no Ctrl-C reaches this process from the viewer
            yield stages[0].failure(offset, value, exc)
            continue
        yield _with_key(result, key) if keep_keys and key is not None else result


def _with_key(result: Any, key: bytes) -> Any:
    if isinstance(result, Output):
        return result if result.key is not None else Output(result.offset, key, result.value)
    if isinstance(result, list):
        return [_with_key(output, key) for output in result]
    return result


if __name__ == "__main__":
    main()
    os._exit(0)  # a thread a module started must not keep this process alive
