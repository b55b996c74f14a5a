"""Ordered parallel mapping for `--print`: blocks of the topic are mapped by worker processes.

The main process only finds block boundaries. Each worker reads its block from the file itself, maps
it, then waits for its turn and writes its output (and reports its failures) straight to the inherited
stdout and stderr, so nothing large crosses a pipe and the output is byte-for-byte what one process
gives. Each worker loads the module itself and so has its own module state: a module that counts
records counts only those its worker saw.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batch import BlockResult, run_block
from .formats import LineFormat
from .module import load
from .reader import Block
from .chain import build
from .watchdog import Watchdog

MAX_AUTO_JOBS = 4


def auto_jobs(pending_bytes: int) -> int:
    """Workers for `--jobs auto` on a large input: one per core, capped (the caller handles small inputs)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_AUTO_JOBS))


@dataclass(frozen=True)
class Job:
    """Everything a worker needs, passed once at start-up."""

    path: str
    stages: list[tuple[str, dict[str, str]]]  # (module path, parameter values) for each module
    fmt: tuple[bool, str | None]
    stop_on_error: bool
    topic: str
    escape: bool
    timeout: float | None = None
    out_fd: int = 1
    initial: str | None = None  # where records go (inherited by the workers)


@dataclass(frozen=True)
class Written:
    """What a worker reports back: counts only, the output itself is already written."""

    count: int
    failed: int
    stopped: bool
    closed: bool  # the output pipe was closed (`| head`)


class _Turns:
    """Shared state that lets block N write only after block N-1 has written."""

    def __init__(self, context: Any) -> None:
        self.next = context.Value("q", 0, lock=False)
        self.stopped = context.Value("b", 0, lock=False)
        self.closed = context.Value("b", 0, lock=False)
        self.condition = context.Condition()


_state: dict[str, Any] = {}


def _init_worker(job: Job, turns: _Turns) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.stdout = sys.stderr  # what a module prints must not land among the records
    stages = [(load(Path(path)), values) for path, values in job.stages]
    _state.update(
        job=job,
        turns=turns,
        mapper=build(stages, job.initial),
        fmt=LineFormat(*job.fmt),
        fd=os.open(job.path, os.O_RDONLY),
        watch=Watchdog(job.timeout).__enter__() if job.timeout else None,  # lives as long as the worker
    )


def _run(sequence: int, start: int, length: int, first_offset: int) -> Written:
    job: Job = _state["job"]
    turns: _Turns = _state["turns"]
    data = os.pread(_state["fd"], length, start)
    result = run_block(_state["mapper"], data, first_offset, _state["fmt"], job.stop_on_error, _state["watch"])
    with turns.condition:
        turns.condition.wait_for(lambda: turns.next.value == sequence)
        try:
            if not turns.stopped.value and not turns.closed.value:
                _write(job, result)
                if result.stopped:
                    turns.stopped.value = 1
        except BrokenPipeError:
            turns.closed.value = 1
        finally:
            turns.next.value = sequence + 1
            turns.condition.notify_all()
    return Written(result.count, len(result.failures), result.stopped, bool(turns.closed.value))


def _write(job: Job, result: BlockResult) -> None:
    from .printer import escape_controls  # imported late: printer imports this module

    data = escape_controls(result.data) if job.escape else result.data
    view = memoryview(data)
    while view:
        view = view[os.write(job.out_fd, view) :]
    if result.failures:
        report = "".join(f.report(job.topic) + "\n" for f in result.failures)
        sys.stderr.write(report)
        sys.stderr.flush()


def map_parallel(blocks: Iterable[Block], job: Job, jobs: int) -> Iterator[Written]:
    """Map `blocks` with `jobs` processes; yields each block's counts in order, once it is written."""
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    turns = _Turns(context)
    executor = ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(job, turns))
    pending: deque[Future[Written]] = deque()
    try:
        for sequence, block in enumerate(blocks):
            pending.append(executor.submit(_run, sequence, block.start, block.length, block.first_offset))
            if len(pending) >= jobs * 2:
                written = pending.popleft().result()
                yield written
                if written.stopped or written.closed:
                    return
        while pending:
            written = pending.popleft().result()
            yield written
            if written.stopped or written.closed:
                return
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
