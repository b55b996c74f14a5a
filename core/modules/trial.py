"""Trying a module's import in a child process before the viewer imports it.

The viewer imports the module it shows, to build its panel. A module picked with `m`, or an edit of the
one shown, that hangs at import, or ends its process there (`os._exit`), would freeze or end the viewer
itself. It is imported first by a child (`python -P -m smartview.core.modules.trial PATH`) with a time
limit: only a module that loads there, in time, is imported by the viewer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..children import python_command

IMPORT_LIMIT = 5.0  # seconds a module may take to import


def try_import(path: Path) -> str | None:
    """None when the module loads in a child within IMPORT_LIMIT seconds; else why not, in one line."""
    limit = IMPORT_LIMIT
    child = subprocess.Popen(
        python_command("smartview.core.modules.trial", str(path)),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    try:
        out, _ = child.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        return f"{path}: importing the module took longer than {limit:g} s"
    if child.returncode == 0:
        return None
    reason = out.decode("utf-8", "replace").strip()
    return reason or f"{path}: the module ended its process while importing (exit status {child.returncode})"


def main() -> None:
    from ..children import take_stdin
    from ..errors import SmartviewError
    from .module import load

    take_stdin()
    report = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the module prints is not the report
    try:
        load(Path(sys.argv[1]))
    except SmartviewError as exc:
        report.write(exc.message.encode("utf-8", "backslashreplace"))
        report.flush()
        os._exit(2)
    os._exit(0)  # a thread the module started must not keep this process alive


if __name__ == "__main__":
    main()
