"""Load: many writers at full speed while smartview follows; every record exactly once, in file order."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from conftest import Workspace, smartview_command
from test_follow import LineReader

WRITERS = 4
PER_WRITER = 250_000  # 1,000,000 records in all

WRITER = r"""
import sys
from smartview.core.sources.produce import append_lines, open_for_append
from pathlib import Path
fd = open_for_append(Path(sys.argv[1]))
writer = int(sys.argv[2])
batch = []
for seq in range(int(sys.argv[3])):
    batch.append(b'{"w":%d,"s":%d}\n' % (writer, seq))
    if len(batch) == 100:
        append_lines(fd, b"".join(batch))
        batch = []
if batch:
    append_lines(fd, b"".join(batch))
"""


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_follow_under_a_burst_of_a_million_records(ws: Workspace) -> None:
    path = ws.topic("burst", "")
    follower = ws.popen("burst", "--print", "--follow", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    reader = LineReader(follower)
    time.sleep(0.5)  # the follower is watching before the burst starts
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(PER_WRITER)]) for w in range(WRITERS)
    ]
    first = reader.lines(50_000, timeout=60)
    memory_early = rss_kb(follower.pid)
    rest = reader.lines(WRITERS * PER_WRITER - 50_000, timeout=120)
    memory_late = rss_kb(follower.pid)
    assert all(w.wait(timeout=60) == 0 for w in writers)
    follower.terminate()
    assert follower.wait(timeout=10) == 0
    assert reader.buffer == b""

    printed = first + rest
    assert printed == path.read_text().splitlines()  # in file order, once each
    seen: dict[int, int] = {}
    for line in printed:
        writer, seq = (int(part.split(":")[1]) for part in line.strip("{}").split(","))
        assert seq == seen.get(writer, -1) + 1  # each writer's records whole and in its order
        seen[writer] = seq
    assert seen == {w: PER_WRITER - 1 for w in range(WRITERS)}
    assert memory_late < memory_early + 20_000, (memory_early, memory_late)  # flat: no growth with records


def test_concurrent_produce_commands_under_load(ws: Workspace) -> None:
    payloads = [b"".join(b'{"p":%d,"i":%d}\n' % (p, i) for i in range(50_000)) for p in range(4)]
    procs = [
        subprocess.Popen([*smartview_command(), "produce", "load"], stdin=subprocess.PIPE, cwd=ws.root, env=ws.env())
        for _ in payloads
    ]
    for proc, payload in zip(procs, payloads):
        proc.stdin.write(payload)
        proc.stdin.close()
    assert all(proc.wait(timeout=60) == 0 for proc in procs)
    lines = (ws.topics / "load.jsonl").read_bytes().splitlines()
    assert sorted(lines) == sorted(line for payload in payloads for line in payload.splitlines())
    assert os.path.getsize(ws.topics / "load.jsonl") == sum(map(len, payloads))


def test_viewer_counts_every_record_of_the_burst(ws: Workspace) -> None:
    import asyncio

    from viewer_support import make_app, settle

    path = ws.topic("burst", "")

    async def scenario():
        app = make_app(path, module="fields", values={"drop": "s"}, watch=True, name="burst")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.pause(0.3)
            writers = [
                subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(w), str(PER_WRITER)])
                for w in range(WRITERS)
            ]
            pressed = False
            deadline = time.monotonic() + 120
            while any(w.poll() is None for w in writers) or app.index.count < WRITERS * PER_WRITER:
                assert time.monotonic() < deadline, f"the viewer has {app.index.count} records"
                if not pressed and app.index.count > 100_000:
                    await pilot.press("p")  # keys are handled during the burst
                    pressed = True
                    assert not app.panel.display
                await asyncio.sleep(0.05)
            await pilot.pause(0.2)
            assert app.index.count == len(path.read_bytes().splitlines()) == WRITERS * PER_WRITER
            assert app.status.records == WRITERS * PER_WRITER
            last = path.read_bytes().splitlines()[-1].decode()
            assert screen_lines_end_with(app, last.split(',"s"')[0] + "}")

    asyncio.run(scenario())


def screen_lines_end_with(app, text: str) -> bool:
    from viewer_support import screen_text

    return any(line.rstrip().endswith(text) for line in screen_text(app).splitlines())
