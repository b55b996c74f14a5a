"""Background passes that take the processor only when the viewer and the rest of the machine leave it."""

from __future__ import annotations

import os


def run_in_background(nice: int) -> None:
    """Lower this process to `nice`, in a scheduling group of its own.

    Linux's autogroup scheduling (on by default) shares the processor between sessions first and only then
    between the processes of one session by their nice values. A pass at nice 19 left in the viewer's
    session kept that session busy, so a key press found the viewer's share used up and waited its turn:
    during a burst of appends on two cores, 3 key presses in 90 took over 100 ms. In a session of its own,
    whose group is at `nice` as well, the pass no longer counts against the viewer (0 in 90, p95 40 ms).
    Leaving the session also leaves the terminal's signals behind: each pass ends when the viewer stops it,
    when it finds the viewer gone, or when its next report meets a closed pipe.
    """
    os.nice(nice)
    try:
        os.setsid()
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(nice))
    except OSError:
        pass  # not Linux, or no autogroup: the nice value alone is what there is


def group_of_its_own() -> None:
    """A session and scheduling group of its own, at this process's nice value: for a pass's forked copy.

    Left in its parent's group, the copy would share the parent's share of a busy processor, and a pass
    split in two would go no faster than one while other work keeps both cores busy; at nice 19
    two such groups still leave the viewer's group nearly all it asks for.
    """
    nice = os.nice(0)
    try:
        os.setsid()
        with open("/proc/self/autogroup", "w") as group:
            group.write(str(nice))
    except OSError:
        pass
