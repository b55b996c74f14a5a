"""Ordered parallel mapping for `--print`: the blocks of a large backlog are shared by forked processes.

The calling process finds where the blocks (whole lines, about 1 MiB each) begin and end, reading a
few bytes per block, then forks `jobs - 1` copies of itself: process k maps blocks k, k + n, k + 2n, ...
with the module it already loaded, the calling process being process 0, so every core maps and nothing
is loaded twice. A block's first offset is the sum of the record counts of the blocks before it: each
process splits a block into records before mapping it and puts its count in memory the processes share,
so the others find it there when they need it, and counts a block itself only when its count is not there
yet. Nobody waits for anybody to count: mapping starts at once, and most blocks are counted only by the
split that maps them. Each process reads its blocks with `pread` on the descriptor the run
opened, inherited across the fork, never by opening the path again: a topic renamed away or replaced
mid-run is still read whole from the file that was opened. Each process writes its output straight to the
output descriptor, in block order: a one-byte token goes round a ring of pipes, and only the holder of block
i's token may write block i. Nothing large crosses a pipe, and the output is byte-for-byte what one
process gives. A process maps on while its turn to write has not come, keeping up to `AHEAD` mapped
blocks (`AHEAD_BYTES` of output): a process the system puts aside for a moment (other programs want the
cores too) does not stop the others at their next block.

Each process has its own copy of the module's state from the moment of the fork: a module that counts
records counts only those its process saw.

The token says whether to go on: a failure with `--on-error stop`, or a closed output (`| head`), turns
it into a stop that goes round once, so every process ends after the block before it. A process that
dies (a module calling `os._exit`) closes its end of the ring: its successor reads end-of-file and
stops the run the same way.
"""

from __future__ import annotations

import mmap
import os
import select
import signal
import struct
import sys
from collections import deque
from typing import Any, TextIO

from .batch import BlockResult, run_block, split_lines
from .formats import LineFormat
from ..sources.reader import Block, too_long_report
from ..modules.forks import own_fork
from ..modules.watchdog import Watchdog

MAX_AUTO_JOBS = 4
# Mapped blocks a process may hold before it waits for its turn to write the first of them, and the
# bytes of output they may hold: blocks of long records (up to the record limit) make outputs as long.
AHEAD = 4
AHEAD_BYTES = 4 << 20
GO, STOP, CLOSED = b"g", b"s", b"c"
_SUMMARY = struct.Struct("<qqbb")  # records, failures, stopped, closed


def auto_jobs(pending_bytes: int) -> int:
    """Processes for `--jobs auto` on a large input: one per core, capped (the caller handles small inputs)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_AUTO_JOBS))


class Job:
    """What every process needs to map and write its blocks.

    A plain slotted class rather than a dataclass, as Written: making a dataclass costs a start about
    half a millisecond. Read-only by convention.
    """

    __slots__ = ("fd", "mapper", "fmt", "stop_on_error", "topic", "escape", "out_fd", "err", "timeout",
                 "max_record")

    def __init__(
        self,
        fd: int,
        mapper: Any,
        fmt: LineFormat,
        stop_on_error: bool,
        topic: str,
        escape: bool,
        out_fd: int,
        err: TextIO,
        timeout: float | None = None,
        max_record: int = 0,
    ) -> None:
        self.fd = fd  # the open topic file: every process reads this one, whatever the path names by then
        self.mapper = mapper  # the Mapper or Chain, already built: forked processes share it as it is
        self.fmt = fmt
        self.stop_on_error = stop_on_error
        self.topic = topic
        self.escape = escape
        self.out_fd = out_fd
        self.err = err
        self.timeout = timeout
        self.max_record = max_record  # the limit a too-long block (from `TopicReader.blocks`) broke, for its report


class Written:
    """What the processes did: records mapped, failures reported, and why they stopped early, if they did.

    A plain slotted class, as Job.
    """

    __slots__ = ("count", "failed", "stopped", "closed", "lost")

    def __init__(self, count: int = 0, failed: int = 0, stopped: bool = False, closed: bool = False,
                 lost: str = "") -> None:
        self.count = count
        self.failed = failed
        self.stopped = stopped
        self.closed = closed  # the output was closed (`| head`)
        self.lost = lost  # a process ended without finishing its blocks

    def add(self, other: Written) -> None:
        self.count += other.count
        self.failed += other.failed
        self.stopped |= other.stopped
        self.closed |= other.closed
        self.lost = self.lost or other.lost


def map_parallel(blocks: list[Block], job: Job, jobs: int, watch: Watchdog | None, first: int = 0) -> Written:
    """Map `blocks` with `jobs` processes (this one included) and write their outputs in order.

    Blocks whose `first_offset` is -1 (from `TopicReader.spans`) are counted first; `first` is then the
    offset of the first record of the first block.
    """
    n = max(1, min(jobs, len(blocks)))
    offsets = _SharedOffsets(blocks, first, job.fd) if blocks and blocks[0].first_offset < 0 else None
    ring = [os.pipe() for _ in range(n)]
    summaries, summary_out = os.pipe()
    os.write(ring[0][1], GO)  # block 0 may be written at once
    for stream in (sys.stdout, sys.stderr, job.err):  # nothing buffered may be written twice
        stream.flush()
    children: dict[int, int] = {}  # pid -> process number
    try:
        for k in range(1, n):
            pid = os.fork()
            if pid == 0:  # the child: maps its share, reports, and ends without running the parent's cleanup
                code = 70
                try:
                    own_fork()  # a worker of smartview's own: it maps on (forks.py)
                    os.close(summaries)
                    _keep_own_ends(ring, k)
                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
                    with Watchdog(job.timeout) if job.timeout else _nothing() as child_watch:
                        done = _work(k, n, blocks, ring, job, child_watch, offsets)
                    os.write(summary_out, _SUMMARY.pack(done.count, done.failed, done.stopped, done.closed))
                    code = 0
                finally:
                    try:
                        job.err.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
            children[pid] = k
        os.close(summary_out)
        _keep_own_ends(ring, 0)
        total = _work(0, n, blocks, ring, job, watch, offsets)
        for _ in children:
            data = _read_exactly(summaries, _SUMMARY.size)
            if len(data) < _SUMMARY.size:
                break
            total.add(Written(*(bool(v) if i > 1 else v for i, v in enumerate(_SUMMARY.unpack(data)))))
        for pid in list(children):
            _, status = os.waitpid(pid, 0)
            if status != 0 and not total.lost:
                total.lost = f"worker process {children[pid]} ended with status {os.waitstatus_to_exitcode(status)}"
            del children[pid]
        return total
    finally:
        for pid in children:  # interrupted: the children must not outlive the run
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(summaries)
        for read_end, write_end in ring:
            for fd in (read_end, write_end):
                try:
                    os.close(fd)
                except OSError:
                    pass


class _SharedOffsets:
    """The first offset of each block, from record counts shared by the processes in memory made before the fork.

    A count of 0 means not known yet: every block holds at least one record. Each process walks the counts
    in block order, keeping the offset it has reached; what it needs and finds missing it counts itself
    (the same count whoever makes it) and shares it too.
    """

    def __init__(self, blocks: list[Block], first: int, fd: int) -> None:
        self.blocks = blocks
        self.fd = fd
        self.memory = mmap.mmap(-1, 8 * len(blocks))  # anonymous, zeroed and shared: children see it
        self.reached = 0  # the block whose first offset is `offset`, in this process
        self.offset = first

    def share(self, i: int, count: int) -> None:
        struct.pack_into("<q", self.memory, 8 * i, count)

    def first_offset(self, i: int) -> int:
        """The offset of block i's first record: the counts of the blocks before it, from memory or counted here."""
        while self.reached < i:
            (count,) = struct.unpack_from("<q", self.memory, 8 * self.reached)
            if count == 0:
                block = self.blocks[self.reached]
                data = os.pread(self.fd, block.length, block.start)
                count = data.count(b"\n") + (not data.endswith(b"\n"))  # a last line without its newline counts
                self.share(self.reached, count)
            self.offset += count
            self.reached += 1
        return self.offset


def _keep_own_ends(ring: list[tuple[int, int]], k: int) -> None:
    """Close every ring end process k does not use, so a dead neighbour shows as end-of-file."""
    n = len(ring)
    for j, (read_end, write_end) in enumerate(ring):
        if j != k:
            os.close(read_end)
        if j != (k + 1) % n:
            os.close(write_end)
        ring[j] = (read_end if j == k else -1, write_end if j == (k + 1) % n else -1)


def _work(
    k: int, n: int, blocks: list[Block], ring: list[tuple[int, int]], job: Job, watch: Any,
    offsets: _SharedOffsets | None,
) -> Written:
    """Map blocks k, k + n, ... and write each when the token for it arrives (waiting only when `AHEAD` are mapped)."""
    done = Written()
    mapped: deque[tuple[Block, BlockResult]] = deque()
    for i in range(k, len(blocks), n):
        mapped.append(_map(i, blocks[i], job, watch, offsets))
        full = len(mapped) >= AHEAD or sum(len(result.data) for _, result in mapped) >= AHEAD_BYTES
        if not _write_turns(k, ring, job, done, mapped, wait=full):
            return done
    while mapped:
        if not _write_turns(k, ring, job, done, mapped, wait=True):
            return done
    return done


def _map(i: int, block: Block, job: Job, watch: Any, offsets: _SharedOffsets | None) -> tuple[Block, BlockResult]:
    """Block i mapped, with its first offset (from the shared counts, for a span)."""
    if block.too_long:  # reported in its turn, never read
        return block, BlockResult(b"", 1, stopped=job.stop_on_error)
    data = os.pread(job.fd, block.length, block.start)
    lines = split_lines(data)
    if offsets is not None:  # a span: its count is shared before it is mapped, for the next process
        offsets.share(i, len(lines))
        block = block.counted(offsets.first_offset(i), len(lines))
    return block, run_block(job.mapper, data, block.first_offset, job.fmt, job.stop_on_error, watch, job.topic, lines)


def _write_turns(
    k: int, ring: list[tuple[int, int]], job: Job, done: Written, mapped: deque[tuple[Block, BlockResult]], wait: bool
) -> bool:
    """Write the mapped blocks whose turn has come, oldest first; with `wait`, wait for the first one's turn.

    False when the run stops here: a stop, a closed output, or a process before this one that ended.
    """
    while mapped:
        token = _take_token(ring[k][0], wait)
        if token is None:  # not this process's turn yet
            return True
        wait = False
        block, result = mapped.popleft()
        if token != GO:
            if not token:  # the process before this block ended without passing the token
                done.lost = done.lost or f"the process mapping offsets before {block.first_offset} ended"
            _pass(ring, k, STOP if token != CLOSED else CLOSED)
            return False
        if block.too_long:
            job.err.write(too_long_report(job.topic, block.first_offset, job.max_record) + "\n")
            job.err.flush()
            done.failed += 1
        token = _write(job, result, done)
        _pass(ring, k, token)
        if token != GO:
            return False
    return True


def _take_token(read_end: int, wait: bool) -> bytes | None:
    """The token from the ring (b"" when the process before has ended), or None when it has not come and not `wait`."""
    if not wait and not select.select([read_end], [], [], 0)[0]:
        return None
    return os.read(read_end, 1)


def _write(job: Job, result: BlockResult, done: Written) -> bytes:
    """Write a block's output and failures; the token for the next block."""
    from ..text import printable_bytes

    data = printable_bytes(result.data) if job.escape else result.data
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(job.out_fd, view) :]
    except BrokenPipeError:
        done.closed = True
        return CLOSED
    done.count += result.count
    done.failed += len(result.reports)
    if result.reports:
        job.err.write("".join(result.reports))
        job.err.flush()
    if result.stopped:
        done.stopped = True
        return STOP
    return GO


def _pass(ring: list[tuple[int, int]], k: int, token: bytes) -> None:
    try:
        os.write(ring[(k + 1) % len(ring)][1], token)
    except BrokenPipeError:  # the next process has ended: nobody is left to tell
        pass


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, size - len(data))
        if not chunk:
            break
        data += chunk
    return data


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
