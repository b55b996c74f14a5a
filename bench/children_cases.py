"""The children case: the viewer's row process started as a fresh interpreter against forked from the server.

`bench/children_probe.py` stands for the viewer and starts two row processes with `user_events`, either
way (`exec`, `fork`), one run after the other in each round so that the ratios come from one machine
state: the time from the request to the first mapped record (the first child is asked for as the
server starts, as the viewer asks for its row process; the second later, as for a pass), the processor
time each child took to get there, and the PSS of the probe and all the processes below it (two
children, and the server when there is one).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cases import Context
from measure import Samples, clean_env, paired_ratios
from report import Row

BENCH = Path(__file__).resolve().parent
MODULE = BENCH.parent / "modules" / "user_events.py"
RECORD = '{"type":"login","account_id":"1","timestamp":1,"user_client":"safari"}'


def case_children(ctx: Context) -> list[Row]:
    figures = {mode: {"first": Samples(), "later": Samples(), "cpu": Samples(), "server": Samples(), "pss": Samples()}
               for mode in ("exec", "fork")}
    for attempt in range(1 + ctx.repeat):
        for mode in ("exec", "fork"):
            argv = [sys.executable, str(BENCH / "children_probe.py"), mode, str(MODULE), RECORD]
            proc = subprocess.run(argv, capture_output=True, text=True, env=clean_env(), timeout=60)
            if proc.returncode != 0:
                error = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"
                return [Row("children", f"children_probe.py {mode}", text="failed", ok=False, note=error)]
            if not attempt:
                continue  # the warm-up
            result = json.loads(proc.stdout)
            got = figures[mode]
            got["first"].values.append(result["replies"][0])
            got["later"].values.append(result["replies"][1])
            got["cpu"].values.append(sum(result["cpu"]) / 2)
            got["server"].values.append(result["server_cpu"])
            got["pss"].values.append(result["pss_kib"] / 1024)
    fresh, forked = figures["exec"], figures["fork"]
    case = "children"
    return [
        Row(case, "row process asked for at start: request -> first record mapped, forked / fresh", "x",
            paired_ratios(forked["first"], fresh["first"])),
        Row(case, "row process asked for later: request -> first record mapped, forked / fresh", "x",
            paired_ratios(forked["later"], fresh["later"])),
        Row(case, "memory of the probe and two row processes (PSS, the server's included), forked / fresh", "x",
            paired_ratios(forked["pss"], fresh["pss"])),
        Row(case, "fresh interpreter: request -> first record mapped (at start)", "s", fresh["first"]),
        Row(case, "forked from the server: request -> first record mapped (at start)", "s", forked["first"]),
        Row(case, "fresh interpreter: request -> first record mapped (later)", "s", fresh["later"]),
        Row(case, "forked from the server: request -> first record mapped (later)", "s", forked["later"]),
        Row(case, "fresh interpreter: processor time of a child to its first record", "s", fresh["cpu"],
            note="user + system time, in clock ticks of 10 ms"),
        Row(case, "forked from the server: processor time of a child to its first record", "s", forked["cpu"]),
        Row(case, "the server: processor time, once (its imports, two forks)", "s", forked["server"]),
        Row(case, "fresh interpreters: PSS of the probe and two row processes", "MB", fresh["pss"]),
        Row(case, "forked: PSS of the probe, two row processes and the server", "MB", forked["pss"]),
    ]
