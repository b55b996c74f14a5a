"""Topic files that change, vanish or are not what they seem while smartview reads them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import Workspace

IDENTITY = "def map(record, params):\n    return record.value\n"


def _record(n: int, tag: str) -> str:
    return f'{{"n":{n:08d},"tag":"{tag}","pad":"{"x" * 40}"}}\n'


def _wait_until_open(pid: int, path: Path, timeout: float = 30) -> None:
    """Wait until process `pid` holds `path` open for reading records: the run has begun reading it.

    Seen open on two looks 20 ms apart: the first bytes read to tell a compressed file from a plain one
    are read through a descriptor that is closed again at once, before the run opens the topic.
    """
    target = os.path.realpath(path)
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            links = []
        seen = seen + 1 if target in links else 0
        if seen == 2:
            return
        time.sleep(0.02 if seen else 0.0005)
    raise AssertionError(f"the run never opened {path}")


@pytest.mark.parametrize("how", ["renamed away", "replaced by a same-size file"])
def test_print_reads_the_file_it_opened_when_the_topic_is_rotated(ws: Workspace, how: str) -> None:
    # --tail makes the run read the whole file once before its workers start: the rotation lands
    # between the first open and the workers' reading, where reopening by path would read another file.
    count = 400_000
    original = "".join(_record(n, "old") for n in range(count))
    path = ws.topic("big", original)
    module = ws.module("same", IDENTITY)
    proc = ws.popen("big", "--map", str(module), "--print", "--jobs", "3", "--tail", str(count - 1),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _wait_until_open(proc.pid, path)
    os.rename(path, ws.root / "big.jsonl.1")
    if how != "renamed away":
        other = ws.root / "new.jsonl"
        other.write_text("".join(_record(n, "new") for n in range(count)))
        os.replace(other, path)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert out.decode() == original[original.index("\n") + 1 :]


def _fixed(n: int, generation: str) -> str:
    """Fixed-width records whose last 32 bytes do not depend on the generation: a common suffix."""
    return f'{{"gen":"{generation}","n":{n:06d},"status":"ok","padding":"{"-" * 40}"}}\n'


def _rewrite_same_width(path: Path, count: int) -> None:
    with open(path, "w") as topic:  # truncate, then write past the old size before anyone looks
        topic.write("".join(_fixed(n, "b") for n in range(count)))


def test_follow_notices_a_rewrite_with_same_width_records_and_a_common_suffix(ws: Workspace) -> None:
    from test_follow import start_follow, stop

    path = ws.topic("fixed", "".join(_fixed(n, "a") for n in range(5000)))
    proc, reader = start_follow(ws, "fixed")
    try:
        assert len(reader.lines(5000)) == 5000
        _rewrite_same_width(path, 6000)
        assert reader.lines(6000) == [_fixed(n, "b").rstrip("\n") for n in range(6000)]
    finally:
        code, err = stop(proc)
    assert code == 0 and "fixed was truncated; reading again from offset 0" in err


def test_viewer_notices_a_rewrite_with_same_width_records_and_a_common_suffix(tmp_path: Path) -> None:
    import asyncio

    from test_viewer import wait_for
    from viewer_support import make_app, screen_text, settle

    topic = tmp_path / "fixed.jsonl"
    topic.write_text("".join(_fixed(n, "a") for n in range(5000)))

    async def scenario():
        app = make_app(topic, module=None, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            _rewrite_same_width(topic, 6000)
            told = lambda: any("fixed was truncated" in n.message for n in app._notifications)  # noqa: E731
            await wait_for(pilot, lambda: told() and app.index.count == 6000)
            await wait_for(pilot, lambda: '"gen":"b","n":005999' in screen_text(app))
            assert '"gen":"a"' not in screen_text(app)

    asyncio.run(scenario())


# -- files that are not what they seem: pipes, devices, links, folders, unreadable files ----------------

OTHER_UID = 4321  # a user with no rights to mode-000 files: root reads them, so the tests run as this one


@pytest.fixture
def open_ws(tmp_path: Path) -> Workspace:
    """A workspace another user can reach (pytest's own folders are root's alone)."""
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="smartview-", dir="/tmp"))
    root.chmod(0o755)
    (root / "topics").mkdir(mode=0o755)
    (root / "mods").mkdir(mode=0o755)
    yield Workspace(root, root / "topics", root / "mods")
    import shutil

    for folder, _dirs, _files in os.walk(root):
        os.chmod(folder, 0o755)
    shutil.rmtree(root)


# Started as root (so the interpreter, which may live in root's home, loads), then run as OTHER_UID: what
# smartview imports later is imported first, since root's home is closed to the other user (watchfiles
# imports platform when it starts watching).
AS_OTHER_USER = f"""
import os, sys
import grp, platform, pwd, tomllib, watchfiles
import smartview.cli, smartview.core.sources.follow, smartview.core.runs.parallel
os.setgroups([])
os.setgid({OTHER_UID})
os.setuid({OTHER_UID})
sys.exit(smartview.cli.main(sys.argv[1:]))
"""


def other_user_command(*args: str) -> list[str]:
    """The smartview command run as a user who is not root and owns nothing here (root reads mode 000)."""
    import sys

    from conftest import smartview_command

    if os.getuid() != 0:
        return [*smartview_command(), *args]  # not root: the file modes apply to us already
    return [sys.executable, "-c", AS_OTHER_USER, *args]


def run_as_other(ws: Workspace, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(other_user_command(*args), cwd=ws.root, env=ws.env(HOME=str(ws.root)),
                          capture_output=True, text=True, timeout=30)


def test_topics_lists_every_entry_it_cannot_count_with_its_path_and_reason(open_ws: Workspace) -> None:
    ws = open_ws
    ws.topic("good", '{"a":1}\n{"a":2}\n')
    os.mkfifo(ws.topics / "pipe.jsonl")
    (ws.topics / "dangling.jsonl").symlink_to("nowhere.jsonl")
    (ws.topics / "loop.jsonl").symlink_to("loop.jsonl")
    (ws.topics / "folder.jsonl").mkdir()
    ws.topic("secret", '{"a":1}\n').chmod(0o000)
    result = run_as_other(ws, "topics")  # a pipe among them: the listing must not wait on it
    assert result.returncode == 0, result.stderr
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert rows["good"].split()[1:] == ["2", "16", "B"]
    expected = {
        "pipe": "is a pipe (FIFO), not a regular file",
        "dangling": "is a symlink to a missing file",
        "loop": "is a symlink loop",
        "folder": "is a directory, not a topic file",
        "secret": "cannot be read: permission denied",
    }
    for name, reason in expected.items():
        assert rows[name].split(None, 3)[1:] == ["-", "-", f"{ws.topics}/{name}.jsonl {reason}"]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("mode, reason", [(0o644, "cannot be searched"), (0o711, "cannot be listed")])
def test_a_topics_folder_without_permission_is_one_line(open_ws: Workspace, mode: int, reason: str) -> None:
    ws = open_ws
    ws.topic("good", '{"a":1}\n')
    ws.topics.chmod(mode)
    result = run_as_other(ws, "topics")
    assert result.returncode == 2
    assert result.stderr.startswith(f"smartview: topics folder {ws.topics} {reason}: permission denied")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_as_the_topic_is_refused(ws: Workspace, device: str) -> None:
    result = ws.run(device, "--print", timeout=10)
    assert (result.code, result.err) == (2, f"smartview: file {device} is a device, not a regular file\n")


@pytest.mark.parametrize("name, reason", [
    ("dangling", "is a symlink to a missing file"), ("loop", "is a symlink loop"),
    ("folder", "is a directory, not a topic file"), ("secret", "cannot be read: permission denied"),
])
def test_a_topic_that_cannot_be_read_is_one_line(open_ws: Workspace, name: str, reason: str) -> None:
    ws = open_ws
    (ws.topics / "dangling.jsonl").symlink_to("nowhere.jsonl")
    (ws.topics / "loop.jsonl").symlink_to("loop.jsonl")
    (ws.topics / "folder.jsonl").mkdir()
    ws.topic("secret", '{"a":1}\n').chmod(0o000)
    result = run_as_other(ws, name, "--print")
    assert result.returncode == 2
    assert result.stderr == f"smartview: topic {name!r} ({ws.topics}/{name}.jsonl) {reason}\n"


@pytest.mark.parametrize("replacement", ["unreadable", "pipe"])
def test_follow_ends_with_one_line_when_the_file_is_replaced_by_one_it_cannot_read(
    open_ws: Workspace, replacement: str
) -> None:
    from test_follow import LineReader

    ws = open_ws
    path = ws.topic("t", "a0\n")
    proc = subprocess.Popen(other_user_command("t", "--print", "--follow"), cwd=ws.root,
                            env=ws.env(HOME=str(ws.root)), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert LineReader(proc).lines(1) == ["a0"]
        new = ws.root / "new"
        if replacement == "pipe":
            os.mkfifo(new)
        else:
            new.write_text("b0\n")
            new.chmod(0o000)
        os.replace(new, path)
        code = proc.wait(timeout=10)
    finally:
        proc.kill()
    err = proc.stderr.read().decode()
    problem = "cannot be read: permission denied" if replacement == "unreadable" else \
        "is a pipe (FIFO), not a regular file"
    assert (code, err) == (2, f"smartview: topic file {path} {problem}\n")


def test_viewer_says_when_the_followed_file_is_replaced_by_one_it_cannot_read(tmp_path: Path) -> None:
    import asyncio

    from test_viewer import wait_for
    from viewer_support import make_app, screen_text, settle

    topic = tmp_path / "t.jsonl"
    topic.write_text("a0\n")
    problem = f"topic file {topic} is a pipe (FIFO), not a regular file"

    async def scenario():
        app = make_app(topic, module=None, watch=True)
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(pilot)
            os.mkfifo(tmp_path / "pipe")
            os.replace(tmp_path / "pipe", topic)  # root can read anything, but nobody can pread a pipe
            await wait_for(pilot, lambda: app.status.trouble == problem)
            assert any(n.message == problem for n in app._notifications)
            await pilot.press("q")
        assert app.return_code in (0, None)

    async def recovers():
        app = make_app(topic, module=None, watch=True)
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(pilot)
            os.mkfifo(tmp_path / "pipe")
            os.replace(tmp_path / "pipe", topic)
            await wait_for(pilot, lambda: app.status.trouble == problem)
            (tmp_path / "new").write_text("b0\nb1\n")
            os.replace(tmp_path / "new", topic)
            await wait_for(pilot, lambda: app.status.trouble == "" and app.index.count == 2)
            await wait_for(pilot, lambda: screen_text(app).split()[:4] == ["0", "b0", "1", "b1"])

    asyncio.run(scenario())
    topic.unlink()
    topic.write_text("a0\n")
    asyncio.run(recovers())


@pytest.mark.parametrize("setup, args, message", [
    ("folder", ["produce", "t", "-f", "folder"], "input file folder cannot be read: is a directory"),
    ("file", ["produce", "./file.jsonl/x"], "cannot create topic file file.jsonl/x: file.jsonl is a file, not a folder"),
    ("folder", ["produce", "./folder"], "cannot append to folder: it is a directory, not a topic file"),
    ("pipe", ["produce", "./pipe"], "cannot append to pipe: it is a pipe (FIFO), not a regular file"),
])
def test_produce_to_or_from_a_path_that_cannot_be_used_is_one_line(ws: Workspace, setup: str, args: list[str],
                                                                  message: str) -> None:
    if setup == "folder":
        (ws.root / "folder").mkdir()
    elif setup == "file":
        (ws.root / "file.jsonl").write_text("{}\n")
    else:
        os.mkfifo(ws.root / "pipe")
    result = ws.run(*args, input="{}\n", timeout=10)
    assert (result.code, result.err) == (2, f"smartview: {message}\n")


REWRITER = """
from pathlib import Path
TOPIC = Path(__file__).with_name("fixed-topic")

def map(record, params):
    if record.offset == 100:  # the topic is truncated and rewritten while the run reads it
        with open(TOPIC.read_text(), "w") as topic:
            topic.write("".join('{{"gen":"b","n":%06d,"status":"ok","padding":"%s"}}\\\\n' % (n, "-" * 40)
                                for n in range(30_000)))
    return record.value
"""


def test_print_reports_a_rewrite_under_it_and_stops_there(ws: Workspace) -> None:
    path = ws.topic("fixed", "".join(_fixed(n, "a") for n in range(30_000)))  # 2.6 MB: several blocks
    (ws.modules / "fixed-topic").write_text(str(path))
    module = ws.module("rewriter", REWRITER.replace("{{", "{").replace("}}", "}"))
    result = ws.run("fixed", "--map", str(module), "--print", "--jobs", "1")
    printed = result.out.splitlines()
    assert 100 < len(printed) < 30_000 and printed == [_fixed(n, "a").rstrip("\n") for n in range(len(printed))]
    assert result.code == 1
    assert result.err == (f"smartview: topic fixed was truncated or rewritten while it was read; "
                          f"the output stops after offset {len(printed) - 1}\n")


# -- a record longer than the limit ---------------------------------------------------------------------

MEASURED = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL if 0 else None).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, file=sys.stderr)
sys.exit(code)
"""


def _huge_line_topic(ws: Workspace, megabytes: int) -> Path:
    """A record, then a line of `megabytes` MiB of zero bytes (a sparse file: no disk used), then a record."""
    path = ws.topic("huge", '{"b":2}\n')
    with open(path, "r+b") as topic:
        topic.truncate(8 + (megabytes << 20))
        topic.seek(0, os.SEEK_END)
        topic.write(b'\n{"a":1}\n')
    return path


@pytest.mark.parametrize("flags, limit, most_mb", [
    ([], 64 << 20, 180),
    (["--max-record-bytes", "1M"], 1 << 20, 80),
    (["--max-record-bytes", "1M", "--jobs", "2", "--map", "fields"], 1 << 20, 80),
    (["--max-record-bytes", "1M", "--jobs", "2", "--map", "fields", "--count", "3"], 1 << 20, 80),
])
def test_a_record_past_the_limit_is_reported_and_skipped_in_bounded_memory(ws: Workspace, flags: list[str],
                                                                           limit: int, most_mb: int) -> None:
    import sys

    from conftest import smartview_command

    _huge_line_topic(ws, 300)  # read whole, it would take 300 MB
    proc = subprocess.run([sys.executable, "-c", MEASURED, *smartview_command(), "huge", "--print", *flags],
                          cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=60)
    *errors, peak = proc.stderr.splitlines()
    assert proc.returncode == 1
    assert proc.stdout == '{"b":2}\n{"a":1}\n'
    assert errors == [f"smartview: huge offset 1: the record is longer than {limit:,} bytes; skipped, not read "
                      "(--max-record-bytes sets the limit)"]
    assert int(peak) < most_mb, f"peak memory {peak} MB"


@pytest.mark.parametrize("value", ["1K", "lots", "-5M"])
def test_max_record_bytes_refuses_sizes_below_a_block_or_not_sizes(ws: Workspace, value: str) -> None:
    ws.topic("t", "{}\n")
    result = ws.run("t", "--print", f"--max-record-bytes={value}")
    assert result.code == 2
    assert result.err.splitlines()[-1].startswith(f"smartview: error: argument --max-record-bytes: {value!r} is ")


def test_viewer_shows_a_record_past_the_limit_as_an_error_row(ws: Workspace) -> None:
    import asyncio

    from viewer_support import make_app, screen_text, settle

    path = _huge_line_topic(ws, 65)  # past the default 64 MiB

    async def scenario():
        app = make_app(path, module=None)
        async with app.run_test(size=(160, 30)) as pilot:
            await settle(pilot)
            lines = screen_text(app).splitlines()
            assert lines[0].split() == ["0", '{"b":2}']
            assert lines[1].startswith(f"1 ✖ the record is {65 << 20:,} bytes, longer than {64 << 20:,}; skipped")
            assert lines[2].split() == ["2", '{"a":1}']

    asyncio.run(scenario())


def test_a_file_with_old_mac_line_endings_is_one_record(ws: Workspace) -> None:
    # A lone CR is not a line end (JSON Lines ends lines with \n, optionally \r\n): offsets stay line
    # numbers that every reader, `wc -l` and Fluvio agree on. The record shows its CRs, escaped on a terminal.
    ws.topic("mac", b'{"a":1}\r{"a":2}\r{"a":3}\r')
    result = ws.run("mac", "--print")
    assert result.code == 0 and result.out == '{"a":1}\r{"a":2}\r{"a":3}\n'
    listed = ws.run("topics")
    assert listed.out.splitlines()[1].split()[:2] == ["mac", "1"]
    failed = ws.run("mac", "--print", "--map", "fields")
    assert failed.code == 1 and "mac offset 0:" in failed.err
