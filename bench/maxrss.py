"""Run a command and write the peak RSS of its process tree (KiB, as wait4 counts it) to a file.

    python bench/maxrss.py OUT_FILE COMMAND [ARG ...]

On Linux a process starts with its parent's peak RSS when it forks and keeps it across exec, so a command
started straight from a large harness would report at least the harness's memory: this small process
forks the command itself. The figure covers the command and the children it waited for (smartview waits
for its workers). Exits with the command's status.
"""

from __future__ import annotations

import os
import sys


def main(out: str, argv: list[str]) -> int:
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    with open(out, "w") as f:
        f.write(f"{usage.ru_maxrss}\n")
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
