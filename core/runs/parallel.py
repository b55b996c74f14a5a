"""Ordered parallel mapping for `--print`: the blocks of a large backlog are shared by forked processes.

The calling process finds where the blocks (whole lines, about 1 MiB each) begin and end, reading a
few bytes per block, then forks `jobs - 1` copies of itself, which map with the module it already
loaded, the calling process being process 0: every core maps and nothing is loaded twice. Process k
starts with block k; from then on each process takes the next block nobody has taken whenever it is
ready for one. The cores of a shared machine are not equally fast from one moment to the next (other
programs take time on one or the other): a process slowed that way simply maps fewer blocks, where a
share fixed in advance would make the others wait for it. Taking a block moves a counter in memory the
processes share, under a lock (`lockf` on a file of the run's own) that the system lets go of when its
holder ends: whoever took a block is noted before the counter moves on, so a process ending at any
moment leaves no block taken by nobody.

A block's first offset is the sum of the record counts of the blocks before it: each process splits a
block into records before mapping it and puts its count in memory the processes share, so the others
find it there when they need it, and counts a block itself only when its count is not there yet. Nobody
waits for anybody to count: mapping starts at once, and most blocks are counted only by the split that
maps them. Each process reads its blocks with `pread` on the descriptor the run opened, inherited across
the fork, never by opening the path again: a topic renamed away or replaced mid-run is still read whole
from the file that was opened.

Each process writes the output of the blocks it mapped straight to the output descriptor, in block
order: a byte per block in the shared memory says that the block may be written. The process that has
written block i sets block i + 1's, then wakes the others with a byte in each one's wake pipe. A process
whose next block to write has not had its turn maps on while it holds fewer than `AHEAD` mapped blocks
(`AHEAD_BYTES` of output), and otherwise waits on its wake pipe; a wake-up byte stays in the pipe until
it is read, so none is lost between looking and waiting. Nothing large crosses a pipe, and the output is
byte-for-byte what one process gives.

Each process has its own copy of the module's state from the moment of the fork: a module that counts
records counts only those its process saw.

A failure with `--on-error stop`, or a closed output (`| head`), sets a shared stop after the block it
happened in and wakes every process: each ends without writing more. Each process also holds the only
write end of a pipe of its own that the others wait on: a process that dies (a module calling
`os._exit`) closes it, and the others see end-of-file. The blocks it had taken are never written: once
the turn comes to the first of them the run stops there, and the calling process says which process
ended and from which offset nothing was written.
"""

from __future__ import annotations

import fcntl
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
# GO in a block's turn byte: it may be written. STOP, CLOSED or LOST in the shared stop byte: why the run
# stops (0 while it goes on).
GO, STOP, CLOSED, LOST = 1, 2, 3, 4
_SUMMARY = struct.Struct("<qqbbb")  # records, failures, stopped, closed, process number
# How often the calling process, while it waits, looks for workers that ended: a worker's end shows on
# its pipe at once unless a process its module forked lives on with a copy of that pipe.
WORKER_CHECK_MS = 200


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
    if not blocks:
        return Written()
    n = max(1, min(jobs, len(blocks)))
    offsets = _SharedOffsets(blocks, first, job.fd) if blocks[0].first_offset < 0 else None
    turns: _Turns | None = None
    summaries = summary_out = -1
    children: dict[int, int] = {}  # pid -> process number
    try:
        turns = _Turns(len(blocks), n)
        summaries, summary_out = os.pipe()
        for stream in (sys.stdout, sys.stderr, job.err):  # nothing buffered may be written twice
            stream.flush()
        for k in range(1, n):
            pid = os.fork()
            if pid == 0:  # the child: maps its share, reports, and ends without running the parent's cleanup
                code = 70
                try:
                    own_fork()  # a worker of smartview's own: it maps on (forks.py)
                    os.close(summaries)
                    turns.become(k)
                    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
                    with Watchdog(job.timeout) if job.timeout else _nothing() as child_watch:
                        done = _work(k, blocks, turns, job, child_watch, offsets)
                    os.write(summary_out, _SUMMARY.pack(done.count, done.failed, done.stopped, done.closed, k))
                    code = 0
                finally:
                    try:
                        job.err.flush()
                        sys.stderr.flush()
                    finally:
                        os._exit(code)
            children[pid] = k
        os.close(summary_out)
        summary_out = -1
        turns.become(0)
        turns.watch(dict(children))
        total = _work(0, blocks, turns, job, watch, offsets)
        for written in _summaries(summaries, turns):
            total.add(written)
        ended: dict[int, int] = {}  # process number -> exit status
        for pid in list(children):
            _, status = os.waitpid(pid, 0)
            ended[children.pop(pid)] = os.waitstatus_to_exitcode(status)
        total.lost = _lost(turns, blocks, offsets, ended)
        return total
    finally:
        for pid in children:  # interrupted: the children must not outlive the run
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        _close(summaries, summary_out)
        if turns is not None:
            turns.close()
        if offsets is not None:
            offsets.memory.close()


def _summaries(fd: int, turns: _Turns) -> list[Written]:
    """What each worker did, as it reported it. A worker that ended without reporting (a module calling
    `os._exit`) is not waited for, even while a process its module forked holds the pipe open: its end
    is seen by its pid, and the run stops at the first block it took and never wrote."""
    pending = {k: pid for pid, k in turns.workers.items()}
    reported: list[Written] = []
    data = b""
    waiting = select.poll()
    waiting.register(fd, select.POLLIN)
    while pending:
        events = waiting.poll(WORKER_CHECK_MS)
        ended = [k for k, pid in pending.items() if _has_ended(pid)]  # looked at first: what it wrote is in by then
        if events or ended:
            data += _available(fd)
        while len(data) >= _SUMMARY.size:
            count, failed, stopped, closed, k = _SUMMARY.unpack(data[: _SUMMARY.size])
            data = data[_SUMMARY.size :]
            reported.append(Written(count, failed, bool(stopped), bool(closed)))
            pending.pop(k, None)
        for k in ended:
            if pending.pop(k, None) is not None:
                turns.dead.add(k)
        if turns.dead:  # each time: the turn may come later to a block an ended worker took
            turns.stop_if_lost()
    return reported


def _available(fd: int) -> bytes:
    """What the pipe holds now, without waiting."""
    data = b""
    probe = select.poll()
    probe.register(fd, select.POLLIN)
    while probe.poll(0):
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        data += chunk
    return data


def _has_ended(pid: int) -> bool:
    """Whether the child `pid` has ended; it stays to be collected (WNOWAIT), with its exit status."""
    if not hasattr(os, "waitid"):
        return False
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _lost(turns: _Turns, blocks: list[Block], offsets: _SharedOffsets | None, ended: dict[int, int]) -> str:
    """Why the output stops short of the blocks when no stop or closed output explains it ("" when it does not)."""
    unwritten = turns.first_unwritten()
    if unwritten < len(blocks) and turns.stopped() in (0, LOST):
        k = turns.taker(unwritten)
        offset = blocks[unwritten].first_offset if offsets is None else offsets.offset_of(unwritten)
        who = f"worker process {k} ended ({_how(ended[k])})" if k in ended else "a process ended"
        return f"{who} before writing the records from offset {offset}"
    for k, status in ended.items():
        if status != 0:
            return f"worker process {k} ended ({_how(status)})"
    return ""


def _how(status: int) -> str:
    return f"exit status {status}" if status >= 0 else f"signal {-status}"


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
        self.first = first

    def share(self, i: int, count: int) -> None:
        struct.pack_into("<q", self.memory, 8 * i, count)

    def count(self, j: int) -> int:
        """Block j's record count: from memory, or counted here (and shared)."""
        (count,) = struct.unpack_from("<q", self.memory, 8 * j)
        if count == 0:
            block = self.blocks[j]
            data = os.pread(self.fd, block.length, block.start)
            count = data.count(b"\n") + (not data.endswith(b"\n"))  # a last line without its newline counts
            self.share(j, count)
        return count

    def first_offset(self, i: int) -> int:
        """The offset of block i's first record: the counts of the blocks before it."""
        while self.reached < i:
            self.offset += self.count(self.reached)
            self.reached += 1
        return self.offset

    def offset_of(self, i: int) -> int:
        """Block i's first offset, wherever this process has reached (for a report once the mapping is over)."""
        return self.first + sum(self.count(j) for j in range(i))


class _Turns:
    """Which process takes which block, and which block may be written: memory and pipes made before the fork.

    The memory holds the next block nobody has taken (8 bytes), the stop byte, a turn byte per block (and
    one past the last, set once the last is written) and the number of the process that took each block.
    """

    def __init__(self, count: int, n: int) -> None:
        self.count = count
        self._turn = 16
        self._taker = self._turn + count + 1
        self.memory = mmap.mmap(-1, self._taker + 4 * count)  # anonymous, zeroed and shared: children see it
        struct.pack_into("<q", self.memory, 0, n)  # process k starts with block k
        for k in range(n):
            struct.pack_into("<i", self.memory, self._taker + 4 * k, k + 1)
        self.memory[self._turn] = GO  # block 0 may be written at once
        self.lock = _lock_file()
        self.wake = [os.pipe() for _ in range(n)]  # a byte in wake[k] wakes process k
        for _, write_end in self.wake:
            os.set_blocking(write_end, False)  # a full pipe already holds a wake-up
        self.alive = [os.pipe() for _ in range(n)]  # only process k holds alive[k]'s write end
        self.k = 0
        self.others: dict[int, int] = {}  # read end of a living process's alive pipe -> its number
        self.dead: set[int] = set()
        self.waits = select.poll()  # poll, not select: no limit on descriptor numbers
        self.workers: dict[int, int] = {}  # in the calling process: each worker's pid -> its number

    def become(self, k: int) -> None:
        """Keep the ends process k uses: its wake pipe's read end, the others' alive pipes' read ends."""
        self.k = k
        for j, ((wake_read, wake_write), (alive_read, alive_write)) in enumerate(zip(self.wake, self.alive)):
            _close(wake_write if j == k else wake_read, alive_read if j == k else alive_write)
            self.wake[j] = (wake_read, -1) if j == k else (-1, wake_write)
            self.alive[j] = (-1, alive_write) if j == k else (alive_read, -1)
            self.waits.register(wake_read if j == k else alive_read, select.POLLIN)
            if j != k:
                self.others[alive_read] = j

    def watch(self, workers: dict[int, int]) -> None:
        """In the calling process: also look for workers that ended by their pids (pid -> number) while
        waiting, since a process a worker's module forked may keep a copy of the worker's pipe open."""
        self.workers = workers

    def stop_if_lost(self) -> None:
        """Stop the run if the turn has come to a block a process that ended (in `dead`) took."""
        unwritten = self.first_unwritten()
        if unwritten < self.count and self.taker(unwritten) in self.dead:  # never to be written
            self.stop(LOST)

    def close(self) -> None:
        for pair in (*self.wake, *self.alive):
            _close(*pair)
        _close(self.lock)
        self.memory.close()

    def take(self) -> int | None:
        """The next block nobody has taken, now this process's (None when every block is taken)."""
        fcntl.lockf(self.lock, fcntl.LOCK_EX)
        try:
            (i,) = struct.unpack_from("<q", self.memory, 0)
            if i >= self.count:
                return None
            struct.pack_into("<i", self.memory, self._taker + 4 * i, self.k + 1)  # before the counter moves on
            struct.pack_into("<q", self.memory, 0, i + 1)
            return i
        finally:
            fcntl.lockf(self.lock, fcntl.LOCK_UN)

    def taker(self, i: int) -> int:
        """The process that took block i (-1 if nobody has)."""
        fcntl.lockf(self.lock, fcntl.LOCK_EX)
        try:
            (taken,) = struct.unpack_from("<q", self.memory, 0)
            (k,) = struct.unpack_from("<i", self.memory, self._taker + 4 * i)
            return k - 1 if i < taken else -1
        finally:
            fcntl.lockf(self.lock, fcntl.LOCK_UN)

    def may_write(self, i: int) -> bool:
        return self.memory[self._turn + i] == GO

    def stopped(self) -> int:
        return self.memory[8]

    def first_unwritten(self) -> int:
        found = self.memory.find(b"\0", self._turn + 1, self._turn + self.count + 1)
        return self.count if found < 0 else found - self._turn - 1

    def written(self, i: int) -> None:
        """Block i is written: block i + 1 may be."""
        self.memory[self._turn + i + 1] = GO
        self._wake_others()

    def stop(self, why: int) -> None:
        if not self.memory[8]:
            self.memory[8] = why
        self._wake_others()

    def wait(self) -> None:
        """Until another process has written a block or stopped the run, or a process has ended."""
        for fd, _ in self.waits.poll(WORKER_CHECK_MS if self.workers else None):
            if fd == self.wake[self.k][0]:
                os.read(fd, 4096)
                continue
            j = self.others.pop(fd)  # nothing is ever written on an alive pipe: it ended
            self.waits.unregister(fd)
            os.close(fd)
            self.alive[j] = (-1, -1)
            self.dead.add(j)
        for pid, j in self.workers.items():
            if j not in self.dead and _has_ended(pid):
                self.dead.add(j)
        if self.dead:  # the turn may have come to a block a process that ended took
            self.stop_if_lost()

    def _wake_others(self) -> None:
        for j, (_, write_end) in enumerate(self.wake):
            if j != self.k and j not in self.dead:
                try:
                    os.write(write_end, b"!")
                except (BlockingIOError, BrokenPipeError):  # woken already, or ended
                    pass


def _lock_file() -> int:
    """A file of the run's own to lock: no other program locks it."""
    if hasattr(os, "memfd_create"):
        return os.memfd_create("smartview-turns", os.MFD_CLOEXEC)
    import tempfile

    with tempfile.TemporaryFile() as file:
        return os.dup(file.fileno())


def _close(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _work(
    k: int, blocks: list[Block], turns: _Turns, job: Job, watch: Any, offsets: _SharedOffsets | None
) -> Written:
    """Map block k, then each block this process takes while it has room, and write each when its turn comes."""
    done = Written()
    mapped: deque[tuple[int, Block, BlockResult]] = deque()
    given: int | None = k  # the block to map next: taken when this process has room for it
    more = True  # blocks are left to take
    while not turns.stopped():
        while mapped and turns.may_write(mapped[0][0]):
            i, block, result = mapped.popleft()
            why = _write(job, block, result, done)
            if why != GO:
                turns.stop(why)
                return done
            turns.written(i)
        room = len(mapped) < AHEAD and sum(len(result.data) for _, _, result in mapped) < AHEAD_BYTES
        if more and room:
            i = given if given is not None else turns.take()
            given = None
            if i is None:
                more = False
            else:
                mapped.append((i, *_map(i, blocks[i], job, watch, offsets)))
        elif mapped:
            turns.wait()
        else:
            break
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


def _write(job: Job, block: Block, result: BlockResult, done: Written) -> int:
    """Write a block's output and failures; GO, or why the run stops after it."""
    from ..text import printable_bytes

    if block.too_long:
        job.err.write(too_long_report(job.topic, block.first_offset, job.max_record) + "\n")
        job.err.flush()
        done.failed += 1
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


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
