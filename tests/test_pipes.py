"""Pipes, standard input, named pipes and compressed files as topics: `--print` through real pipes, the
viewer in a real terminal (tmux) reading `cmd | smartview -`, and damaged or unsupported input."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import select
import shlex
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from conftest import Workspace, smartview_command
from tmux_window import TmuxWindow, needs_tmux

EVENT = '{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"safari"}}\n'
MAP = ["--map", "user_events", "-e", "show_account_id=false"]


def events(count: int, start: int = 0) -> str:
    return "".join(EVENT.format(n=n) for n in range(start, start + count))


def piped(ws: Workspace, data: bytes, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """`cat FILE | smartview ARGS`: a real pipe from another process, not a file on standard input."""
    source = ws.root / f"input-{uuid.uuid4().hex[:6]}"
    source.write_bytes(data)
    cat = subprocess.Popen(["cat", str(source)], stdout=subprocess.PIPE)
    try:
        return subprocess.run([*smartview_command(), *args], stdin=cat.stdout, capture_output=True,
                              cwd=ws.root, env=ws.env(), timeout=timeout)
    finally:
        cat.stdout.close()
        cat.wait()


def zstd_bytes(data: bytes) -> bytes:
    try:
        import zstandard

        return zstandard.ZstdCompressor().compress(data)
    except ImportError:
        return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


COMPRESSORS = {"gz": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress, "zst": zstd_bytes}


# -- --print ------------------------------------------------------------------------------------------


def test_print_from_a_pipe_is_the_same_as_from_the_file(ws: Workspace) -> None:
    data = events(3000)
    ws.topic("t", data)
    from_file = ws.run("t", *MAP, "--print")
    from_pipe = piped(ws, data.encode(), "-", *MAP, "--print")
    assert from_pipe.returncode == from_file.code == 0, from_pipe.stderr
    assert from_pipe.stdout.decode() == from_file.out
    assert from_file.out.count("\n") == 3000 and '"account_id"' not in from_file.out


@pytest.mark.parametrize("flags", [["-H", "10", "--count", "5"], ["--start", "2990"], ["-T", "7"],
                                   ["--start", "5", "--end", "9"], ["-F", "{{offset}}:{{value}}", "-T", "2"]])
def test_range_and_format_flags_on_a_pipe_match_the_file(ws: Workspace, flags: list[str]) -> None:
    data = events(3000)
    ws.topic("t", data)
    from_file = ws.run("t", *MAP, "--print", *flags)
    from_pipe = piped(ws, data.encode(), "-", *MAP, "--print", *flags)
    assert (from_pipe.returncode, from_pipe.stdout.decode()) == (0, from_file.out)
    assert from_file.out


def test_print_streams_each_record_as_it_comes(ws: Workspace) -> None:
    proc = subprocess.Popen([*smartview_command(), "-", *MAP, "--print"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ws.root, env=ws.env())
    try:
        for n in range(3):
            proc.stdin.write(EVENT.format(n=n).encode())
            proc.stdin.flush()  # the pipe stays open: the line must come out now, not at the end
            ready, _, _ = select.select([proc.stdout], [], [], 10)
            assert ready, f"record {n} was not printed while the pipe stayed open"
            assert proc.stdout.readline().decode() == f'{{"type":"login","timestamp":{n},"user_client":"safari"}}\n'
        proc.stdin.close()
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


def test_a_module_reading_stdin_does_not_take_the_records(ws: Workspace) -> None:
    ws.module("greedy", "import sys\n\ndef map(record):\n    return record.value + sys.stdin.read().encode()\n")
    result = piped(ws, b"a\nb\nc\n", "-", "--map", str(ws.modules / "greedy.py"), "--print")
    assert (result.returncode, result.stdout) == (0, b"a\nb\nc\n")


def test_a_named_pipe_is_read_when_its_writer_comes(ws: Workspace) -> None:
    os.mkfifo(ws.topics / "live.jsonl")
    proc = subprocess.Popen([*smartview_command(), "live", *MAP, "--print"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ws.root, env=ws.env())
    time.sleep(0.3)
    with open(ws.topics / "live.jsonl", "w") as writer:  # opening waits for the reader
        writer.write(events(2))
    out, err = proc.communicate(timeout=10)
    assert (proc.returncode, err) == (0, b"")
    assert out.decode().splitlines() == [f'{{"type":"login","timestamp":{n},"user_client":"safari"}}' for n in range(2)]


def test_a_pipe_that_ends_mid_record_prints_it_and_says_so(ws: Workspace) -> None:
    result = piped(ws, b'{"a":1}\n{"a":2}\n{"a"', "-", "--print")
    assert (result.returncode, result.stdout) == (0, b'{"a":1}\n{"a":2}\n{"a"\n')
    assert result.stderr.decode() == ("smartview: -: the input ended in the middle of a record: offset 2 (4 bytes) "
                                      "has no line end; it was printed as it is\n")


@pytest.mark.parametrize("ext", sorted(COMPRESSORS))
def test_compressed_files_print_like_the_plain_file(ws: Workspace, ext: str) -> None:
    data = events(5000)
    ws.topic("plain", data)
    expected = ws.run("plain", *MAP, "--print").out
    compress = COMPRESSORS[ext]
    (ws.root / f"app.jsonl.1.{ext}").write_bytes(compress(data.encode()))
    (ws.root / "no-suffix").write_bytes(compress(data.encode()))  # found by its magic bytes, not its name
    for name in (f"app.jsonl.1.{ext}", "no-suffix"):
        result = ws.run(f"./{name}", *MAP, "--print")
        assert (result.code, result.err, result.out) == (0, "", expected)
    through_a_pipe = piped(ws, compress(data.encode()), "-", *MAP, "--print")
    assert through_a_pipe.stdout.decode() == expected


def test_concatenated_gzip_members_are_read_one_after_the_other(ws: Workspace) -> None:
    (ws.root / "rotated.gz").write_bytes(gzip.compress(events(3).encode()) + gzip.compress(events(2, 3).encode()))
    result = ws.run("./rotated.gz", "-F", "{{offset}}", "--print")
    assert (result.code, result.out) == (0, "0\n1\n2\n3\n4\n")


@pytest.mark.parametrize("ext", sorted(COMPRESSORS))
def test_a_truncated_compressed_file_prints_what_came_before_and_where_it_stopped(ws: Workspace, ext: str) -> None:
    data = "".join(f'{{"n":{n},"pad":"{os.urandom(40).hex()}"}}\n' for n in range(20000)).encode()
    whole = COMPRESSORS[ext](data)
    (ws.root / "cut").write_bytes(whole[: len(whole) * 3 // 4])
    result = ws.run("./cut", "--print")
    assert result.code == 1
    lines = result.out.splitlines(keepends=True)
    assert data.decode().startswith(result.out)  # every record printed is whole and in order
    assert result.err.startswith(f"smartview: ./cut: the {ext_kind(ext)} data is damaged near byte ")
    assert "(truncated: the data ends inside a compressed stream)" in result.err
    if ext != "bz2":  # bzip2 gives nothing of a block before its end; the others stream
        assert len(lines) > 1000
        assert f"records 0-{len(lines) - 1:,} were read, what follows is lost" in result.err
    assert result.err.count("\n") == 1


def ext_kind(ext: str) -> str:
    return {"gz": "gzip", "bz2": "bzip2", "xz": "xz", "zst": "zstd"}[ext]


def test_corrupt_gzip_keeps_the_records_before_the_damage(ws: Workspace) -> None:
    data = "".join(f'{{"n":{n},"pad":"{os.urandom(40).hex()}"}}\n' for n in range(20000)).encode()
    whole = bytearray(gzip.compress(data))
    middle = len(whole) // 2
    whole[middle : middle + 64] = bytes(64)  # a hole of zeros: the deflate stream is broken there
    (ws.root / "bad.jsonl.gz").write_bytes(bytes(whole))
    result = ws.run("./bad.jsonl.gz", "--print")
    assert result.code == 1
    original = data.decode().splitlines()
    printed = result.out.splitlines()
    same = next((n for n, (a, b) in enumerate(zip(printed, original)) if a != b), len(printed))
    assert same > 8000  # about half the file is before the hole, printed as it was
    assert result.err.startswith("smartview: ./bad.jsonl.gz: the gzip data is damaged near byte ")
    assert result.err.count("\n") == 1


@pytest.mark.parametrize("content, message", [
    (b"\x04\x22\x4d\x18" + bytes(40), "is lz4-compressed, which smartview does not read; "
                                      "decompress it into a pipe: lz4 -dc ./odd | smartview -"),
    (b"PK\x03\x04" + bytes(40), "is zip-compressed, which smartview does not read; "
                                "decompress it into a pipe: unzip -p ./odd | smartview -"),
    (bytes(range(256)) * 8, "looks like binary data, not newline-delimited records"),
    (b'[\n  {\n    "a": 1\n  }\n]\n', "looks like one pretty-printed JSON document, not one record per line; "
                                     "turn it into records with: jq -c '.[]' ./odd | smartview -"),
    (b'{\n  "a": 1\n}\n', "looks like one pretty-printed JSON document, not one record per line; "
                          "turn it into records with: jq -c . ./odd | smartview -"),
])
def test_what_is_not_records_gets_one_line_with_a_hint(ws: Workspace, content: bytes, message: str) -> None:
    (ws.root / "odd").write_bytes(content)
    for args in (["--print"], []):  # the viewer says it before it opens
        result = ws.run("./odd", *args, timeout=20)
        assert (result.code, result.out, result.err) == (2, "", f"smartview: file ./odd {message}\n")


def test_records_with_a_few_control_bytes_are_still_records(ws: Workspace) -> None:
    ws.topic("t", '{"a":"\\u0000"}\n' + 'x\x00y\x07z\n' + events(3))
    result = ws.run("t", "--print")
    assert result.code == 0 and result.out.count("\n") == 5


def test_standard_input_that_is_a_terminal_or_closed_is_one_line(ws: Workspace) -> None:
    closed = subprocess.run([*smartview_command(), "-", "--print"], stdin=subprocess.DEVNULL, capture_output=True,
                            cwd=ws.root, env=ws.env(), timeout=20)
    assert (closed.returncode, closed.stdout) == (0, b"")  # /dev/null: an empty stream
    no_stdin = subprocess.run([*smartview_command(), "-", "--print"], capture_output=True, cwd=ws.root,
                              env=ws.env(), timeout=20, preexec_fn=lambda: os.close(0))
    assert no_stdin.returncode == 2
    assert no_stdin.stderr.decode().startswith("smartview: standard input (-) is closed")


# -- the viewer in a real terminal -------------------------------------------------------------------

class Shell(TmuxWindow):
    """A shell command line in a window of its own, with TMPDIR pointing at a folder we watch."""

    def __init__(self, ws: Workspace, line: str) -> None:
        self.tmp = ws.root / "tmp"
        self.tmp.mkdir(exist_ok=True)
        super().__init__(f"{line}; sleep 30", ws.root, ws.env(), extra={"TMPDIR": str(self.tmp)})

    def spools(self) -> list[Path]:
        return sorted(self.tmp.glob("smartview-spool-*"))

    def viewer_pid(self) -> int:
        children = subprocess.run(["pgrep", "-P", str(self.pane_pid())], capture_output=True, text=True).stdout.split()
        for pid in children:
            if "smartview" in Path(f"/proc/{pid}/cmdline").read_text():
                return int(pid)
        raise AssertionError(f"no viewer among {children}")


@pytest.fixture
def shell(ws: Workspace):
    opened: list[Shell] = []

    def open_(line: str) -> Shell:
        opened.append(Shell(ws, line))
        return opened[-1]

    yield open_
    for s in opened:
        s.close()


def wait_until(predicate, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def smartview_line(*args: str) -> str:
    return shlex.join([*smartview_command(), *args])


@needs_tmux
def test_viewer_reads_a_pipe_while_the_keyboard_works(ws: Workspace, shell) -> None:
    (ws.root / "more.sh").write_text(
        f"cat <<'EOF'\n{events(3)}EOF\nsleep 1.5\ncat <<'EOF'\n{events(2, 3)}EOF\nprintf 'half'\n"
    )
    term = shell(f"sh more.sh | {smartview_line('-', '--map', 'user_events')}")
    term.wait_for(lambda s: '2 {"type":"login","account_id":"2"' in s and "spool" in s)
    term.keys("1")  # keys come from the terminal, not from the pipe
    term.wait_for(lambda s: '2 {"type":"login","timestamp":2' in s)
    screen = term.wait_for(lambda s: '4 {"type":"login","timestamp":4' in s and "pipe ended" in s)
    assert "6 records" in screen  # the cut-short last record is kept, as it is
    term.wait_for(lambda s: "ended in the middle of a record: offset 5" in s)
    term.keys("up", "up", "Enter")  # the detail view works on the spool
    term.wait_for(lambda s: "- · offset 3" in s and "Input" in s)
    term.keys("Escape")
    term.wait_for(lambda s: "Input" not in s)
    term.keys("c")  # the copied command reads the pipe the same way (the notification may wrap it)
    term.wait_for(lambda s: "smartview - --map user_events -e show_account_id=false --print"
                  in " ".join(part.strip(" ▌") for line in s.splitlines() for part in line.split("▌")[1:]))
    assert len(term.spools()) == 1
    term.keys("q")
    term.wait_for(lambda s: "show_account_id" not in s)
    wait_until(lambda: term.spools() == [])  # removed on exit


@needs_tmux
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_the_spool_is_removed_on_sigterm_and_sighup(ws: Workspace, shell, signum: int) -> None:
    term = shell(f"(printf '{{\"a\":1}}\\n'; sleep 60) | {smartview_line('-')}")
    term.wait_for(lambda s: '0 {"a":1}' in s)  # a record shorter than any magic bytes is not held back
    assert len(term.spools()) == 1
    os.kill(term.viewer_pid(), signum)
    wait_until(lambda: term.spools() == [])


@needs_tmux
def test_viewer_opens_a_gzip_file_and_follows_it_to_the_end(ws: Workspace, shell) -> None:
    (ws.root / "app.jsonl.1.gz").write_bytes(gzip.compress(events(200000).encode()))
    term = shell(smartview_line("./app.jsonl.1.gz", "--map", "user_events"))
    term.wait_for(lambda s: "200,000 records" in s and ", ended" in s
                  and '199999 {"type":"login","account_id":"199999"' in s, timeout=60)
    term.keys("/")
    term.wait_for(lambda s: "find in mapped output" in s)
    term.keys("account_id\":\"12345\"", "Enter")  # find works on the decompressed records
    term.wait_for(lambda s: '12345 {"type":"login","account_id":"12345"' in s)


@needs_tmux
def test_viewer_shows_the_records_before_damage_and_says_where(ws: Workspace, shell) -> None:
    whole = gzip.compress(events(20000).encode())
    (ws.root / "cut.gz").write_bytes(whole[: len(whole) // 2])
    term = shell(smartview_line("./cut.gz"))
    screen = term.wait_for(lambda s: "the gzip data is damaged near byte" in s and ", ended" in s)
    assert "records were read" not in screen and "records 0-" in screen.replace("\n", " ")


@needs_tmux
def test_past_the_cap_spooling_stops_and_the_viewer_keeps_working(ws: Workspace, shell) -> None:
    big = ws.root / "big.jsonl"
    big.write_text(events(40000))  # about 3 MB
    term = shell(f"cat big.jsonl | {smartview_line('-', '--spool-max', '1M')}; echo cat-ended")
    screen = term.wait_for(lambda s: "spool full at 1.0 MiB: input paused" in s)
    (spool,) = term.spools()
    data = (spool / "records.jsonl").read_bytes()
    # It ends with the record that reaches the cap: whole, and nothing written is taken back.
    assert 1 << 20 <= len(data) < (1 << 20) + 100 and data.endswith(b"\n") and big.read_bytes().startswith(data)
    term.press_until("home", lambda s: '0 {"type":"login","account_id":"0"' in s)  # still answers keys
    assert "cat-ended" not in screen


@needs_tmux
def test_a_full_disk_pauses_spooling_and_the_viewer_keeps_working(ws: Workspace, shell) -> None:
    (ws.root / "big.jsonl").write_text(events(20000))
    # The spool may not grow past 200 KiB: writes beyond fail with EFBIG, as on a full disk.
    term = shell(f"trap '' XFSZ; ulimit -f 200; cat big.jsonl | {smartview_line('-')}")
    term.wait_for(lambda s: "no space for the spool" in s)
    (spool,) = term.spools()
    data = (spool / "records.jsonl").read_bytes()
    assert 0 < len(data) <= 200 << 10
    term.press_until("home", lambda s: '0 {"type":"login","account_id":"0"' in s)  # still answers keys


@pytest.mark.parametrize("flags", [["--start", "3", "--lookback-last", "2"], ["-T", "1", "--lookback-last", "2"]])
def test_lookback_on_a_pipe_is_fed_the_records_before_the_start(ws: Workspace, flags: list[str]) -> None:
    ws.module("window", "seen = []\n\ndef look_back(record, params=None):\n    seen.append(record.value)\n\n"
                        "def map(record):\n    return b','.join(seen) + b'|' + record.value\n")
    ws.topic("t", "1\n2\n3\n4\n5\n")
    module = str(ws.modules / "window.py")
    from_file = ws.run("t", "--map", module, "--print", *flags)
    from_pipe = piped(ws, b"1\n2\n3\n4\n5\n", "-", "--map", module, "--print", *flags)
    assert (from_pipe.returncode, from_pipe.stdout.decode()) == (0, from_file.out)
    assert from_file.out.startswith(("2,3|4", "3,4|5"))
