"""A per-record time limit that costs the normal path one attribute store per record.

The mapping loop writes the offset it is working on into `Watchdog.offset`; a watchdog thread looks
every quarter of the limit and, when the same record has been running for longer than the limit,
sends SIGALRM to the mapping thread. The signal handler raises `RecordTimeout` inside the module's
code (a `time.sleep` or a blocking read is interrupted too), and the record becomes a failure like any
other. Code stuck inside a C extension that never returns to Python cannot be interrupted this way.
"""

from __future__ import annotations

import signal
import threading
import time


class RecordTimeout(Exception):
    """A record took longer than the time limit."""


class Watchdog:
    """Watches the mapping loop of the calling (main) thread while used as a context manager."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.offset = -1
        self._stop = threading.Event()
        self._target = threading.get_ident()
        self._fired_for = -2

    def __enter__(self) -> Watchdog:
        self._previous = signal.signal(signal.SIGALRM, self._raise)
        threading.Thread(target=self._watch, name="smartview-watchdog", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        signal.signal(signal.SIGALRM, self._previous)

    def _raise(self, signum: int, frame: object) -> None:
        if self.offset == self._fired_for:
            raise RecordTimeout(f"took longer than {self.seconds:g} s (--timeout)")

    def _watch(self) -> None:
        seen = self.offset
        since = time.monotonic()
        while not self._stop.wait(self.seconds / 4):
            current = self.offset
            if current != seen or current < 0:
                seen, since = current, time.monotonic()
            elif time.monotonic() - since > self.seconds and current != self._fired_for:
                self._fired_for = current
                signal.pthread_kill(self._target, signal.SIGALRM)
