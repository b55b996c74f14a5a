"""`--print` for a topic read front to back (standard input, a named pipe, a compressed file).

Records are mapped and written as they arrive, block by block, with the same module run, format and
failure reports as for a topic file (printer.py), so `cmd | smartview - --map m --print | next` prints
what `smartview FILE --map m --print` would. The range flags work on the stream: `--start`/`-H` skip
records, `--end`/`--count` stop early (the input is then left unread), `-T N` keeps the last N records
until the input ends. It runs in one process: the input is read once, in order.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections import deque
from collections.abc import Iterator

from ..modules.lookback import Lookback
from ..modules.watchdog import Watchdog
from ..record import Record
from ..sources.compression import Damaged
from ..sources.reader import Block
from ..sources.stream import Input, StreamTopic, byte_count, damage_message
from ..text import printable
from .batch import split_lines
from .printer import Printer, PrintResult, Range


class Lines:
    """Whole records cut from the input's chunks, as blocks, with a too-long record reported apart."""

    def __init__(self, chunks: Iterator[bytes], max_record: int) -> None:
        self.chunks = chunks
        self.max_record = max_record
        self.offset = 0  # the offset of the next record
        self.unfinished = 0  # bytes of a last record that had no line end when the input ended

    def blocks(self) -> Iterator[Block]:
        parts: list[bytes] = []  # the start of a record whose line end has not come yet
        held = 0
        skipping = 0  # bytes of a too-long record dropped so far, waiting for its end
        for chunk in self.chunks:
            if skipping:
                end = chunk.find(b"\n")
                if end < 0:
                    skipping += len(chunk)
                    continue
                yield self._too_long(skipping + end + 1)
                skipping, chunk = 0, chunk[end + 1 :]
            cut = chunk.rfind(b"\n") + 1
            if cut:
                whole = chunk if cut == len(chunk) else chunk[:cut]
                yield self._block(b"".join([*parts, whole]) if parts else whole)
                parts, held = ([chunk[cut:]], len(chunk) - cut) if cut < len(chunk) else ([], 0)
            elif chunk:
                parts.append(chunk)
                held += len(chunk)
            if held > self.max_record:  # no line end in sight: drop it, never hold it all
                skipping, parts, held = held, [], 0
        if skipping:
            yield self._too_long(skipping)
        if parts:
            self.unfinished = held
            yield self._block(b"".join(parts), 1)

    def _block(self, data: bytes, count: int | None = None) -> Block:
        count = data.count(b"\n") if count is None else count
        block = Block(data, self.offset, count, 0, len(data))
        self.offset += count
        return block

    def _too_long(self, length: int) -> Block:
        block = Block(None, self.offset, 1, 0, length, too_long=True)
        self.offset += 1
        return block


def print_stream(printer: Printer, topic: StreamTopic, selection: Range,
                 lookbacks: list[Lookback | None], stop: threading.Event) -> PrintResult:
    """Map and write the records of `topic` as they come; damaged compressed data ends the run with a report."""
    source = Input(topic)
    lines = Lines(source.chunks(), printer.max_record)
    with contextlib.ExitStack() as stack:
        stack.enter_context(contextlib.redirect_stdout(sys.stderr))  # what a module prints goes to stderr
        if printer.timeout is not None:
            printer._watch = stack.enter_context(Watchdog(printer.timeout))
        try:
            _run(printer, lines, selection, lookbacks, stop)
        except Damaged as damage:
            printer.out.flush()
            printer.result.failed += 1
            printer.err.write(damage_message(topic, damage, lines.offset) + "\n")
            printer.err.flush()
            return printer.result
    if lines.unfinished and not printer.result.stopped:
        printer.err.write(
            f"smartview: {printable(topic.name)}: the input ended in the middle of a record: offset {lines.offset - 1:,} "
            f"({byte_count(lines.unfinished)}) has no line end; it was printed as it is\n"
        )
        printer.err.flush()
    return printer.result


def _run(printer: Printer, lines: Lines, selection: Range, lookbacks: list[Lookback | None],
         stop: threading.Event) -> None:
    first = selection.first or 0
    limit = selection.count
    if selection.end is not None:
        limit = min(limit, selection.end - first + 1) if limit is not None else max(0, selection.end - first + 1)
    if limit == 0:
        return
    keep = max((lookback.last for lookback in lookbacks if lookback is not None), default=0)
    before: deque[Record] = deque(maxlen=keep)
    tail: deque[tuple[int, bytes]] | None = deque(maxlen=selection.tail) if selection.tail is not None else None
    fed = not printer.wants_look_back
    for block in lines.blocks():
        if stop.is_set():
            break
        block, skipped = _from(block, first, before)
        if block is None:
            continue
        if tail is not None:
            _keep_tail(tail, block, before)
            continue
        if not fed:
            _feed_look_back(printer, before)
            fed = True
        if limit is not None and block.count > limit:
            block = _head(block, limit)
        _print_block(printer, block)
        printer.out.flush()  # the next records may be a while coming: what arrived is seen now
        if limit is not None:
            limit -= block.count
        if printer.result.stopped or limit == 0:
            break
    if tail is not None:
        _print_tail(printer, tail, before, fed)
    elif not fed:
        _feed_look_back(printer, before)
    printer.out.flush()


def _from(block: Block, first: int, before: deque[Record]) -> tuple[Block | None, int]:
    """The part of `block` at or after offset `first`; records before it go to the lookback window."""
    if block.first_offset >= first:
        return block, 0
    drop = min(first - block.first_offset, block.count)
    if block.data is not None and before.maxlen != 0:
        for i, value in enumerate(split_lines(block.data)[:drop]):
            before.append(Record(block.first_offset + i, None, value))
    if drop == block.count:
        return None, drop
    assert block.data is not None
    cut = _nth_line_end(block.data, drop)
    rest = block.data[cut:]
    return Block(rest, block.first_offset + drop, block.count - drop, 0, len(rest)), drop


def _head(block: Block, count: int) -> Block:
    if block.data is None:
        return block
    data = block.data[: _nth_line_end(block.data, count)]
    return Block(data, block.first_offset, count, 0, len(data))


def _keep_tail(tail: deque[tuple[int, bytes]], block: Block, before: deque[Record]) -> None:
    """`-T N`: the last N records seen so far; one pushed out of the window joins the lookback window."""
    values = [b""] if block.data is None else split_lines(block.data)
    for i, value in enumerate(values):
        if len(tail) == tail.maxlen and before.maxlen != 0:
            offset, old = tail[0]
            before.append(Record(offset, None, old))
        tail.append((block.first_offset + i, value))


def _print_tail(printer: Printer, tail: deque[tuple[int, bytes]], before: deque[Record], fed: bool) -> None:
    if not fed:
        _feed_look_back(printer, before)
    if not tail:
        return
    data = b"".join(value + b"\n" for _, value in tail)
    _print_block(printer, Block(data, tail[0][0], len(tail), 0, len(data)))


def _feed_look_back(printer: Printer, before: deque[Record]) -> None:
    assert printer.mapper is not None
    records = list(before)
    printer.mapper.look_back(lambda lookback: lookback.select(records, 0))


def _print_block(printer: Printer, block: Block) -> None:
    if block.too_long:
        printer._report_too_long(block.first_offset, printer.max_record)
    else:
        printer._write(printer._map_block(block))


def _nth_line_end(data: bytes, n: int) -> int:
    position = 0
    for _ in range(n):
        position = data.index(b"\n", position) + 1
    return position
