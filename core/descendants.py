"""Every process started under smartview ends with it.

Module code may fork, start programs, or start them detached; the viewer's children do the same with
the modules they run. smartview makes itself the subreaper of everything started below it (Linux's
PR_SET_CHILD_SUBREAPER), so that a process whose parent ended is handed to smartview rather than to
init and can still be found, and ends every process below it when it ends: on a normal exit, at the
end of a `--print`, when the viewer quits, or on SIGHUP (`tmux kill-server`, a closed terminal) and
SIGTERM. A smartview ended by SIGKILL cannot do this (its own children go, see children.py; what they
started may stay).
"""

from __future__ import annotations

import os
import signal

PR_SET_CHILD_SUBREAPER = 36
ROUNDS = 50  # a module forking in a loop makes new processes while the old ones are ended


def adopt_orphans() -> bool:
    """Become the subreaper of every process started below this one (Linux only; elsewhere nothing).

    Whether it is: the fork server's children (forkserver.py) become this process's only if it is.
    """
    try:
        import ctypes  # about 2 ms: paid only by runs that load a module

        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def end_descendants() -> None:
    """SIGKILL every process below this one, again and again until none is left."""
    me = os.getpid()
    for _ in range(ROUNDS):
        if not _reap():  # no child at all: nothing below (an orphan below would be a child, see above)
            return
        living = _descendants(me)
        if not living:
            return
        for pid in living:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def _reap() -> bool:
    """Collect the exit status of this process's ended children (no zombies left); whether any child is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _descendants(root: int) -> list[int]:
    """The living processes below `root`, read from /proc (empty where there is no /proc)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()  # after the command name, which may hold spaces
        if len(fields) < 2 or fields[0] in (b"Z", b"X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found
