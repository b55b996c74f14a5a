"""A module that forks: the copy of the process that comes back into smartview's own loop ends at once.

A module may fork and do work in the child; if that child returns from the module's function instead
of ending, it would carry on with smartview's loop and map, print or answer every later record a
second time (three records became 24 lines). Every fork marks the new process through
`os.register_at_fork`, and the loops look at the mark each time the module hands control back: a
single truth test per record, not a system call.

smartview's own forked workers clear the mark right after their fork: they are meant to carry on.
"""

from __future__ import annotations

import os

# Non-empty in a process made by a fork that smartview did not make itself. A list, so that a loop can
# keep it in a local variable and test it without a lookup.
FORKED: list[int] = []


def _mark_child() -> None:
    FORKED.append(1)


os.register_at_fork(after_in_child=_mark_child)


def own_fork() -> None:
    """Called in the child of one of smartview's own forks: this process is meant to go on."""
    FORKED.clear()


def end_if_forked() -> None:
    """End a process that module code forked and that has come back into smartview: nothing of it is flushed."""
    if FORKED:
        os._exit(0)
