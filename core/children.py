"""Starting Python child processes, and what every process that runs module code does with stdin.

Every Python process smartview starts runs with `-P`: the working directory (or the script's folder)
is never put first on `sys.path`. Without it, a `struct.py` or `pickle.py` lying in the folder a user
opened a log from would be imported, and run, by the child; and a checkout's `smartview/` folder would
shadow the installed package when smartview is run from the repository root. `-I` would do that too,
but it also drops `PYTHONPATH` and the user's site-packages, which modules may rely on.

The viewer's children (the row process, the passes) are forked from a server instead where it can
(forkserver.py): a copy of this process that imports with `sys.path` as `-P` would have set it up
(`STARTUP_PATH`), and is used as the Popen of an exec'd child is.

Module code never reads smartview's stdin: a child's requests arrive on descriptor 0 and are moved to
another descriptor before any module is loaded, and descriptor 0 then reads from /dev/null. The
`--print` process does the same with its own stdin, keeping a duplicate for whoever reads records from
it.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    import subprocess

# Python 3.11's safe-path flag: no working directory on sys.path (not -I: see above).
SAFE_PATH = ("-P",)
# sys.path as a child started with `-P` has it: without the folder this interpreter put first (the
# script's, or the working directory for `python -m` and `-c`). A forked child imports with this.
STARTUP_PATH = list(sys.path if sys.flags.safe_path else sys.path[1:])


def python_command(module: str, *args: str) -> list[str]:
    """The command that runs `python -m module args` with this Python, never importing from the working directory."""
    return [sys.executable, *SAFE_PATH, "-m", module, *args]


def start_server() -> None:
    """From now on, children are forked from a server started now (forkserver.py), where this process allows it.

    Call it before any thread is started: a process with threads keeps exec'ing its children.
    """
    from . import forkserver

    forkserver.start_server(STARTUP_PATH)


def start(module: str) -> Any:
    """A child running `python -m module`, with pipes to its stdin and stdout; what it writes to stderr goes nowhere.

    Forked from the server when there is one (a `forkserver.Forked`), else a fresh interpreter (a Popen):
    either is used as a Popen is.
    """
    import subprocess  # only the viewer starts children: `--print` and `test` skip the import

    server = sys.modules.get(f"{__package__}.forkserver")
    running = server.running() if server is not None else None
    child = running.start(module) if running is not None else None
    return child if child is not None else popen(module, subprocess.PIPE, subprocess.PIPE)


def popen(module: str, stdin: Any, stdout: Any) -> subprocess.Popen:
    """A fresh interpreter running `python -P -m module`."""
    import subprocess

    return subprocess.Popen(python_command(module), stdin=stdin, stdout=stdout, stderr=subprocess.DEVNULL)


def take_stdin() -> BinaryIO:
    """Descriptor 0, moved out of module code's reach: returns a file on a duplicate of it, and 0 reads /dev/null.

    Call it before any module is loaded. A module that reads stdin then finds it empty instead of
    eating a child's requests (or the records piped to `--print`).
    """
    try:
        kept = os.fdopen(os.dup(0), "rb")
    except OSError:  # started with stdin closed: there is nothing to keep
        kept = open(os.devnull, "rb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdin = open(0, "r", closefd=False)
    return kept
