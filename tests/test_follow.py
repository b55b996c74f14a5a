"""`--print --follow`: records appended by a writer are printed once each, in order, until a signal."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time

from conftest import Workspace


class LineReader:
    """Reads a child's stdout line by line with a deadline, so a hang fails the test instead of blocking."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        self.buffer = b""
        self.selector = selectors.DefaultSelector()
        self.selector.register(proc.stdout, selectors.EVENT_READ)

    def lines(self, count: int, timeout: float = 20) -> list[str]:
        deadline = time.monotonic() + timeout
        while self.buffer.count(b"\n") < count:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out with {self.buffer!r}"
            if self.selector.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"output ended early: {self.buffer!r}"
                self.buffer += chunk
        *taken, self.buffer = self.buffer.split(b"\n", count)
        return [line.decode() for line in taken]


def start_follow(ws: Workspace, *args: str) -> tuple[subprocess.Popen, LineReader]:
    proc = ws.popen(*args, "--print", "--follow", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return proc, LineReader(proc)


def stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=10)
    return code, proc.stderr.read().decode()


def test_follow_prints_appended_records_once_in_order(ws: Workspace) -> None:
    path = ws.topic("counter", "0\n1\n")
    proc, reader = start_follow(ws, "counter", "--map", "double")
    try:
        assert reader.lines(2) == ["0", "2"]
        with open(path, "a") as topic:
            for n in range(2, 200):
                topic.write(f"{n}\n")
                topic.flush()
                if n % 40 == 0:
                    time.sleep(0.02)
        assert reader.lines(198) == [str(2 * n) for n in range(2, 200)]
    finally:
        code, err = stop(proc)
    assert code == 0 and err == ""
    assert reader.buffer == b""


def test_half_written_line_appears_once_whole(ws: Workspace) -> None:
    path = ws.topic("slow", "")
    proc, reader = start_follow(ws, "slow", "--map", "double")
    try:
        with open(path, "a") as topic:
            topic.write("12")
            topic.flush()
            time.sleep(0.3)
            topic.write("34\n")
            topic.flush()
        assert reader.lines(1) == ["2468"]
    finally:
        code, _ = stop(proc)
    assert code == 0 and reader.buffer == b""


def test_truncation_and_replacement_restart_from_the_new_beginning(ws: Workspace) -> None:
    path = ws.topic("rotating", "1\n2\n")
    proc, reader = start_follow(ws, "rotating", "--map", "double")
    try:
        assert reader.lines(2) == ["2", "4"]
        path.write_text("")  # truncated in place
        time.sleep(0.2)
        with open(path, "a") as topic:
            topic.write("5\n")
        assert reader.lines(1) == ["10"]
        replacement = ws.topics / "rotating.tmp"
        replacement.write_text("7\n8\n")
        os.replace(replacement, path)  # replaced by rename: a new inode
        assert reader.lines(2) == ["14", "16"]
    finally:
        code, err = stop(proc)
    assert code == 0
    assert "rotating was truncated; reading again from offset 0" in err
    assert "rotating was replaced; reading again from offset 0" in err


def test_follow_with_count_stops_by_itself(ws: Workspace) -> None:
    path = ws.topic("few", "1\n")
    proc, reader = start_follow(ws, "few", "--map", "double", "--count", "3")
    assert reader.lines(1) == ["2"]
    with open(path, "a") as topic:
        topic.write("2\n3\n4\n")
    assert reader.lines(2) == ["4", "6"]
    assert proc.wait(timeout=10) == 0


def test_sigint_exits_zero_with_everything_flushed(ws: Workspace) -> None:
    ws.topic("quiet", "".join(f"{n}\n" for n in range(1000)))
    proc, reader = start_follow(ws, "quiet", "--map", "double")
    assert reader.lines(1000)[-1] == "1998"
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert time.monotonic() - started < 3
    assert proc.stderr.read() == b""


def test_truncated_and_at_once_rewritten_longer_is_noticed(ws: Workspace) -> None:
    path = ws.topic("rewrite", "a0\na1\na2\n")
    proc, reader = start_follow(ws, "rewrite")
    try:
        assert reader.lines(3) == ["a0", "a1", "a2"]
        with open(path, "w") as topic:  # truncate, then write past the old size before anyone looks
            topic.write("b0-a-longer-record-than-before\n")
        assert reader.lines(1) == ["b0-a-longer-record-than-before"]
    finally:
        code, err = stop(proc)
    assert code == 0 and "rewrite was truncated; reading again from offset 0" in err


def test_rotation_loses_nothing_appended_just_before(ws: Workspace) -> None:
    path = ws.topic("app", "a0\n")
    proc, reader = start_follow(ws, "app")
    try:
        assert reader.lines(1) == ["a0"]
        with open(path, "a") as topic:
            topic.write("a1\n")
        os.rename(path, ws.topics / "app.jsonl.1")  # rotated away at once, then a new file
        path.write_text("b0\n")
        assert reader.lines(2) == ["a1", "b0"]
    finally:
        code, err = stop(proc)
    assert code == 0 and "app was replaced" in err
