"""Starting Python child processes, and what every process that runs module code does with stdin.

Every Python process smartview starts runs with `-P`: the working directory (or the script's folder)
is never put first on `sys.path`. Without it, a `struct.py` or `pickle.py` lying in the folder a user
opened a log from would be imported, and run, by the child; and a checkout's `smartview/` folder would
shadow the installed package when smartview is run from the repository root. `-I` would do that too,
but it also drops `PYTHONPATH` and the user's site-packages, which modules may rely on.

Module code never reads smartview's stdin: a child's requests arrive on descriptor 0 and are moved to
another descriptor before any module is loaded, and descriptor 0 then reads from /dev/null. The
`--print` process does the same with its own stdin, keeping a duplicate for whoever reads records from
it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import BinaryIO

# Python 3.11's safe-path flag: no working directory on sys.path (not -I: see above).
SAFE_PATH = ("-P",)


def python_command(module: str, *args: str) -> list[str]:
    """The command that runs `python -m module args` with this Python, never importing from the working directory."""
    return [sys.executable, *SAFE_PATH, "-m", module, *args]


def start(module: str) -> subprocess.Popen:
    """A child `python -m module` with pipes to its stdin and stdout; what it writes to stderr goes nowhere."""
    return subprocess.Popen(
        python_command(module),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


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
