"""Ordered parallel mapping for `--print`: the blocks of a large backlog are shared by forked processes.

The calling process finds where the blocks (whole lines, about 1 MiB each) begin and end, reading a
few bytes per block, then forks `jobs - 1` copies of itself: process k maps blocks k, k + n, k + 2n, ...
with the module it already loaded, the calling process being process 0, so every core maps and nothing
is loaded twice. Before mapping, the processes count the records of one n-th of the blocks each, share
the counts in shared memory and wait for each other: then every block's first offset is known, and
counting took one n-th of the time. Each process reads its blocks with `pread` on the descriptor the run
opened, inherited across the fork, never by opening the path again: a topic renamed away or replaced
mid-run is still read whole from the file that was opened. Each process writes its output straight to the
output descriptor, in block order: a one-byte token goes round a ring of pipes, and only the holder of block
i's token may write block i. Nothing large crosses a pipe, and the output is byte-for-byte what one
process gives.

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
import signal
import struct
import sys
import time
from dataclasses import dataclass, replace
from typing import Any, TextIO

from .batch import BlockResult, run_block
from ..errors import SmartviewError
from .formats import LineFormat
from ..sources.reader import Block, too_long_report
from ..modules.forks import own_fork
from ..modules.watchdog import Watchdog

MAX_AUTO_JOBS = 4
GO, STOP, CLOSED = b"g", b"s", b"c"
_SUMMARY = struct.Struct("<qqbb")  # records, failures, stopped, closed


def auto_jobs(pending_bytes: int) -> int:
    """Processes for `--jobs auto` on a large input: one per core, capped (the caller handles small inputs)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_AUTO_JOBS))


@dataclass(frozen=True)
class Job:
    """What every process needs to map and write its blocks."""

    fd: int  # the open topic file: every process reads this one, whatever the path names by then
    mapper: Any  # the Mapper or Chain, already built: forked processes share it as it is
    fmt: LineFormat
    stop_on_error: bool
    topic: str
    escape: bool
    out_fd: int
    err: TextIO
    timeout: float | None = None
    max_record: int = 0  # the limit a too-long block (from `TopicReader.blocks`) broke, for its report


@dataclass
class Written:
    """What the processes did: records mapped, failures reported, and why they stopped early, if they did."""

    count: int = 0
    failed: int = 0
    stopped: bool = False
    closed: bool = False  # the output was closed (`| head`)
    lost: str = ""  # a process ended without finishing its blocks

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
    counts = _SharedCounts(len(blocks), n) if blocks and blocks[0].first_offset < 0 else None
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
                    if counts is not None:
                        blocks = counts.offsets(k, blocks, job, first)
                    with Watchdog(job.timeout) if job.timeout else _nothing() as child_watch:
                        done = _work(k, n, blocks, ring, job, child_watch)
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
        if counts is not None:
            blocks = counts.offsets(0, blocks, job, first)
        total = _work(0, n, blocks, ring, job, watch)
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


class _SharedCounts:
    """Record counts of the blocks, counted by all processes at once, in memory they share after the fork."""

    WAIT = 60.0  # counting is reading at memory speed: a process missing this long has died

    def __init__(self, blocks: int, processes: int) -> None:
        self.blocks = blocks
        self.processes = processes
        self.memory = mmap.mmap(-1, 8 * blocks + processes)  # anonymous and shared: children see it

    def offsets(self, k: int, blocks: list[Block], job: Job, first: int) -> list[Block]:
        """Count process k's share, wait for the others', and return the blocks with their offsets."""
        share = range(k * self.blocks // self.processes, (k + 1) * self.blocks // self.processes)
        for i in share:
            count = os.pread(job.fd, blocks[i].length, blocks[i].start).count(b"\n")
            struct.pack_into("<q", self.memory, 8 * i, count)
        self.memory[8 * self.blocks + k] = 1
        deadline = time.monotonic() + self.WAIT
        flags = slice(8 * self.blocks, 8 * self.blocks + self.processes)
        while self.memory[flags].count(1) < self.processes:
            if time.monotonic() > deadline:
                raise SmartviewError(f"a process counting the records of {job.topic} did not finish")
            time.sleep(0.0002)
        counted = struct.unpack_from(f"<{self.blocks}q", self.memory)
        placed = []
        for block, count in zip(blocks, counted):
            placed.append(replace(block, first_offset=first, count=count))
            first += count
        return placed


def _keep_own_ends(ring: list[tuple[int, int]], k: int) -> None:
    """Close every ring end process k does not use, so a dead neighbour shows as end-of-file."""
    n = len(ring)
    for j, (read_end, write_end) in enumerate(ring):
        if j != k:
            os.close(read_end)
        if j != (k + 1) % n:
            os.close(write_end)
        ring[j] = (read_end if j == k else -1, write_end if j == (k + 1) % n else -1)


def _work(k: int, n: int, blocks: list[Block], ring: list[tuple[int, int]], job: Job, watch: Any) -> Written:
    """Map and write blocks k, k + n, ...: each written once the token for it arrives."""
    done = Written()
    for i in range(k, len(blocks), n):
        block = blocks[i]
        if block.too_long:  # reported in its turn, never read
            result = BlockResult(b"", 1, stopped=job.stop_on_error)
        else:
            data = os.pread(job.fd, block.length, block.start)
            result = run_block(job.mapper, data, block.first_offset, job.fmt, job.stop_on_error, watch, job.topic)
        token = os.read(ring[k][0], 1)
        if token != GO:
            if not token:  # the process before this block ended without passing the token
                done.lost = done.lost or f"the process mapping offsets before {block.first_offset} ended"
            _pass(ring, k, STOP if token != CLOSED else CLOSED)
            return done
        if block.too_long:
            job.err.write(too_long_report(job.topic, block.first_offset, job.max_record) + "\n")
            job.err.flush()
            done.failed += 1
        token = _write(job, result, done)
        _pass(ring, k, token)
        if token != GO:
            return done
    return done


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
