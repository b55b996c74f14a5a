"""Start the viewer's row process twice, as fresh interpreters (`exec`) or forked from the server (`fork`).

Run as `python bench/children_probe.py exec|fork MODULE RECORD`: this process stands for the viewer
up to the moment it imports Textual (smartview's command line imported, the module loaded; the server,
when asked for, forked then, as `smartview TOPIC --map ...` does). Each child is timed from the request until its first reply to one record mapped with MODULE;
then the processor time each child used and the PSS of this process and every one below it (both
children, and the server) are read while the children still run. Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from smartview.core import children
from smartview.core.descendants import adopt_orphans
from smartview.core.record import Record


def main() -> None:
    mode, module, value = sys.argv[1], Path(sys.argv[2]), sys.argv[3].encode()
    import smartview.cli  # noqa: F401 (what the viewer has imported when it asks for children)
    from smartview.core.modules.module import load

    load(module)  # the viewer checks the module and its values in its own process first
    if mode == "fork":
        assert adopt_orphans()
        children.start_server()
    from smartview.core.runs.rowprocess import RowProcess

    record = Record(0, None, value)
    started, replies, processes = [], [], []
    for _ in range(2):  # the first is asked for at once (the row process), the second later (a pass)
        start = time.perf_counter()
        process = RowProcess()
        process.send([(module, {})], [record])
        process.receive()
        replies.append(time.perf_counter() - start)
        processes.append(process)
        time.sleep(0.2)
    pids = [process._process.pid for process in processes]
    cpu = [_cpu_seconds(pid) for pid in pids]
    server = sys.modules["smartview.core.forkserver"].running() if mode == "fork" else None
    server_cpu = _cpu_seconds(server.pid) if server is not None else 0.0
    from measure import memory_kib, process_tree  # noqa: E402 (bench/ is on sys.path: this file's folder)

    pss, _ = memory_kib(process_tree(os.getpid()))  # this process too: it shares pages with the server
    started = [process._process.pid for process in processes]
    for process in processes:
        process.kill()
    print(json.dumps({"replies": replies, "cpu": cpu, "server_cpu": server_cpu, "pss_kib": pss, "pids": started}))


def _cpu_seconds(pid: int) -> float:
    """User and system time the process has used."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rfind(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    main()
