"""What a folder, a module or a closed pipe cannot do to smartview: run code nobody chose, keep it
running, leave processes behind, eat its protocol, or break its paths. Through the real command."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import pytest

from conftest import REPO, Workspace, smartview_command
from tmux_window import TmuxWindow, needs_tmux, windows  # noqa: F401  (the fixture)

EVENT = '{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"safari"}}\n'

# Standard-library and dependency names a Python child imports after it starts, and smartview itself.
PLANTED = ["struct", "pickle", "json", "orjson", "dataclasses", "subprocess", "fcntl", "select",
           "signal", "threading", "watchfiles", "typing", "array", "bisect"]


@pytest.fixture
def tmux(windows):
    """smartview's `command` run in `cwd` with `env`, in a window of its own tmux server."""
    def open_(cwd: Path, command: list[str], env: dict[str, str]) -> TmuxWindow:
        return windows(" ".join(command), cwd, env)

    return open_


def alive(pid: int) -> bool:
    """Whether a process exists and has not ended (a zombie has ended)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def wait_gone(pids: list[int], timeout: float = 10) -> list[int]:
    deadline = time.monotonic() + timeout
    while (left := [pid for pid in pids if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def read_pids(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()] if path.exists() else []


# -- code from the working directory ----------------------------------------------------------------


def plant(folder: Path, marker: Path) -> None:
    """Files named like modules every child imports, each leaving `marker` behind if it is ever run."""
    for name in PLANTED:
        (folder / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write({name!r} + '\\n')\n")
    (folder / "smartview").mkdir()
    (folder / "smartview" / "__init__.py").write_text(f"open({str(marker)!r}, 'a').write('smartview\\n')\n")


@needs_tmux
@pytest.mark.parametrize("module", ["user_events", "where"])  # a map (row process, error count); a filter (row count)
def test_planted_modules_in_the_working_directory_never_run_in_the_viewer(ws: Workspace, tmux, module: str) -> None:
    marker = ws.root.parent / f"{ws.root.name}-ran"
    plant(ws.root, marker)
    ws.topic("user-events", "".join(EVENT.format(n=n) for n in range(5)) + "broken\n")
    term = tmux(ws.root, [*smartview_command(), "user-events", "--map", module, "-e", "equals=login"
                          if module == "where" else "show_timestamp=true"], ws.env())
    expected = "1 error" if module == "user_events" else "5 passed"
    screen = term.wait_for(lambda s: '4 {"type":"login","account_id":"4"' in s and expected in s)
    assert "ended its process" not in screen
    term.keys("q")
    deadline = time.monotonic() + 10
    while term.running() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not marker.exists(), marker.read_text()


@pytest.mark.parametrize("flags", [[], ["--jobs", "2"], ["--follow"]])
def test_planted_modules_in_the_working_directory_never_run_in_print(ws: Workspace, flags: list[str]) -> None:
    marker = ws.root.parent / f"{ws.root.name}-ran"
    plant(ws.root, marker)
    ws.topic("user-events", "".join(EVENT.format(n=n) for n in range(20)))
    if "--follow" in flags:
        proc = ws.popen("user-events", "--map", "user_events", "--print", *flags, stdout=subprocess.PIPE)
        assert proc.stdout.readline().startswith(b'{"type":"login"')
        proc.terminate()
        assert proc.wait(timeout=10) == 0
    else:
        result = ws.run("user-events", "--map", "user_events", "--print", *flags)
        assert result.code == 0 and len(result.out.splitlines()) == 20, result.err
    tried = ws.run("test", "user_events", "--text", EVENT.format(n=1).strip())
    assert tried.code == 0 and '"account_id":"1"' in tried.out, tried.err
    assert not marker.exists(), marker.read_text()


def test_the_test_a_new_module_comes_with_does_not_run_code_from_the_working_directory(ws: Workspace) -> None:
    made = ws.run("new", "mine", "--dir", str(ws.modules))
    assert made.code == 0, made.err
    marker = ws.root.parent / f"{ws.root.name}-ran"
    plant(ws.root, marker)
    pytest_script = Path(sys.executable).parent / "pytest"  # the script: pytest itself imports nothing from here
    proc = subprocess.run([str(pytest_script), "-q", "-p", "no:cacheprovider", str(ws.modules)],
                          cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=120)
    assert "1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert not marker.exists(), marker.read_text()


@needs_tmux
def test_an_installed_smartview_works_from_its_repository_root(tmp_path: Path, tmux) -> None:
    """`pip install .` (not editable), then `smartview user-events` in the checkout: the checkout's
    `smartview/` folder must not stand in for the installed package in the viewer's children."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, ignore=shutil.ignore_patterns(
        ".venv", ".git", "build", "*.egg-info", "__pycache__", "bench", "tests"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=60)
    # The new environment sees this one's packages (textual, pip...) through a .pth file, so none is
    # downloaded; smartview itself is installed into it from the copy.
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "outer.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # Only the build backend (setuptools) comes from the package index, as for any `pip install .`.
    install = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(checkout)],
        capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    assert (site / "smartview" / "core").is_dir()  # installed for real, not a link to the checkout
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTVIEW_")}
    term = tmux(checkout, [str(venv / "bin" / "smartview"), "user-events"], env)
    screen = term.wait_for(lambda s: "user_events" in s and '{"type":' in s and "0 errors" in s)
    assert "ended its process" not in screen and "… mapping" not in screen


# -- listing modules runs none of them --------------------------------------------------------------

HANGS = '''"""Sleeps for an hour when imported."""
import time
time.sleep(3600)

def map(record):
    return record.value
'''

DESCRIBED = '''"""Shout the records: a map with documented parameters."""
import enum
from dataclasses import dataclass, field
from typing import Literal

open(MARKER, "a").write("imported\\n")


class Case(enum.Enum):
    UPPER = "upper"
    LOWER = "lower"


@dataclass
class Params:
    loud: bool = field(default=True, metadata={"doc": "shout or not"})
    times: int = 2
    case: Case = Case.UPPER
    mode: Literal["fast", "slow"] = "fast"


def init(params):
    pass


def map(record, params):
    return record.value.upper() if params.loud else record.value
'''


def listed_modules(ws: Workspace) -> Path:
    marker = ws.root / "imported"
    (ws.modules / "hangs.py").write_text(HANGS)
    (ws.modules / "described.py").write_text(DESCRIBED.replace("MARKER", repr(str(marker))))
    (ws.modules / "broken.py").write_text("def map(record:\n")
    (ws.modules / "keep.py").write_text('"""Keep some."""\n\ndef filter(record):\n    return True\n')
    return marker


def test_smartview_modules_reads_the_modules_without_running_them(ws: Workspace) -> None:
    marker = listed_modules(ws)
    result = ws.run("modules", "--modules-dir", str(ws.modules), timeout=20)
    assert result.code == 0, result.err
    out = result.out
    assert "described  [map, init]  Shout the records: a map with documented parameters." in out
    assert "-e loud=…  bool, default true" in out
    assert "-e times=…  int, default 2" in out
    assert "-e case=…  one of UPPER, LOWER, default UPPER" in out
    assert "-e mode=…  one of fast, slow, default fast" in out
    assert "hangs  [map]  Sleeps for an hour when imported." in out
    assert "keep  [filter]  Keep some." in out
    assert "broken  (does not load: " in out and "broken.py:1: syntax error" in out
    assert "user_events  [map]" in out  # the shipped modules are listed too
    assert not marker.exists()


def test_the_module_picker_runs_no_module_and_a_hanging_one_does_not_freeze_it(ws: Workspace) -> None:
    import asyncio

    from viewer_support import make_app, settle

    marker = listed_modules(ws)
    topic = ws.topic("t", "".join(EVENT.format(n=n) for n in range(3)))

    async def scenario():
        app = make_app(topic, module=None, modules_dirs=[ws.modules])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            started = time.monotonic()
            await pilot.press("m")
            await pilot.pause()
            picker = app.screen.query_one("OptionList")
            labels = [str(picker.get_option_at_index(i).prompt) for i in range(picker.option_count)]
            assert time.monotonic() - started < 5
            assert any("hangs" in label and "Sleeps for an hour" in label for label in labels)
            assert any("keep" in label and "(filter)" in label for label in labels)
            assert any("broken" in label and "does not load" in label for label in labels)
            assert not marker.exists()
            await pilot.press("escape")

    asyncio.run(scenario())


# -- a module that changes the working directory ----------------------------------------------------

CHDIR = '''import os
os.chdir("/")

def map(record):
    os.chdir("/tmp")
    return record.value.upper()
'''


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_module_changing_directory_does_not_break_relative_paths_in_print(ws: Workspace, jobs: str) -> None:
    (ws.root / "here").mkdir()
    (ws.root / "here" / "t.jsonl").write_text("a\nb\n")
    (ws.root / "here" / "chdir.py").write_text(CHDIR)
    result = ws.run("here/t.jsonl", "--map", "here/chdir.py", "--print", "--jobs", jobs)
    assert (result.code, result.out, result.err) == (0, "A\nB\n", "")
    by_name = ws.run("here/t.jsonl", "--modules-dir", "here", "--map", "chdir", "--print")
    assert (by_name.code, by_name.out) == (0, "A\nB\n"), by_name.err


def test_a_module_changing_directory_does_not_break_the_follower(ws: Workspace) -> None:
    (ws.root / "t.jsonl").write_text("a\n")
    (ws.root / "chdir.py").write_text(CHDIR)
    proc = ws.popen("./t.jsonl", "--map", "./chdir.py", "--print", "--follow",
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"A\n"
        with open(ws.root / "t.jsonl", "a") as out:
            out.write("b\n")
        assert proc.stdout.readline() == b"B\n"
    finally:
        proc.terminate()
    assert proc.wait(timeout=10) == 0
    assert proc.stderr.read() == b""


@needs_tmux
def test_a_module_changing_directory_does_not_break_the_viewer(ws: Workspace, tmux) -> None:
    (ws.root / "t.jsonl").write_text("".join(f"row{n}\n" for n in range(3)))
    (ws.root / "mods" / "chdir.py").write_text(CHDIR)
    (ws.root / "mods" / "other.py").write_text('"""Another module."""\n\ndef map(record):\n    return record.value\n')
    term = tmux(ws.root, [*smartview_command(), "t.jsonl", "--modules-dir", "mods", "--map", "chdir"], ws.env())
    term.wait_for(lambda s: "2 ROW2" in s and "0 errors" in s)
    with open(ws.root / "t.jsonl", "a") as out:
        out.write("row3\n")
    term.wait_for(lambda s: "3 ROW3" in s)
    term.keys("m")
    screen = term.wait_for(lambda s: "Another module." in s)
    assert "chdir" in screen
    term.keys("Escape")
    term.wait_for(lambda s: "Pick a module" not in s)
    term.keys("c")
    term.wait_for(lambda s: "--map chdir" in s or "chdir.py" in s)
    assert term.running()


# -- hangs, runaway processes, stdin ----------------------------------------------------------------


def test_follow_ends_when_the_reader_of_stdout_goes_away_while_nothing_arrives(ws: Workspace) -> None:
    ws.topic("quiet", "1\n2\n")
    proc = ws.popen("quiet", "--print", "--follow", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == b"1\n"
    proc.stdout.close()  # like `| head -1`: the reader has what it wanted and goes
    closed = time.monotonic()
    code = proc.wait(timeout=10)
    assert time.monotonic() - closed < 2
    assert code == 0 and proc.stderr.read() == b""


def test_follow_through_head_in_a_shell_ends_without_another_record(ws: Workspace) -> None:
    ws.topic("quiet", "1\n2\n")
    command = " ".join(smartview_command()) + " quiet --print --follow | head -1"
    result = subprocess.run(["sh", "-c", command], cwd=ws.root, env=ws.env(), capture_output=True, text=True, timeout=10)
    assert result.stdout == "1\n" and result.returncode == 0


THREADS = '''import threading, time, os

open(PIDS, "a").write(f"{os.getpid()}\\n")
threading.Thread(target=time.sleep, args=(3600,)).start()  # not a daemon: would keep Python waiting at exit

def map(record):
    threading.Thread(target=time.sleep, args=(3600,)).start()
    return record.value
'''


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_module_thread_does_not_keep_print_alive(ws: Workspace, jobs: str) -> None:
    pids = ws.root / "pids"
    ws.module("threads", THREADS.replace("PIDS", repr(str(pids))))
    ws.topic("t", "a\nb\nc\n")
    result = ws.run("t", "--map", str(ws.modules / "threads.py"), "--print", "--jobs", jobs, timeout=20)
    assert (result.code, result.out) == (0, "a\nb\nc\n"), result.err


@needs_tmux
def test_a_module_thread_does_not_keep_the_viewer_alive_after_quit(ws: Workspace, tmux) -> None:
    pids = ws.root / "pids"
    ws.module("threads", THREADS.replace("PIDS", repr(str(pids))))
    ws.topic("t", "a\nb\nc\n")
    term = tmux(ws.root, [*smartview_command(), "t", "--map", str(ws.modules / "threads.py")], ws.env())
    term.wait_for(lambda s: "2 c" in s and "0 errors" in s)
    started = read_pids(pids)
    assert len(started) >= 2  # the viewer (which loads the module for its panel) and its children
    term.keys("q")
    assert wait_gone(started) == []


FORKS = '''import os, time

def map(record):
    if os.fork() == 0:
        return record.value  # a child that comes back into smartview's loop
    noted, note = os.pipe()
    if os.fork() == 0:  # a child that stays, in a session of its own (no hangup reaches it), for an hour
        os.setsid()
        open(PIDS, "a").write(f"{os.getpid()}\\n")
        os.write(note, b"+")
        time.sleep(3600)
        os._exit(0)
    os.read(noted, 1)  # its pid is noted before the record is done
    os.close(noted)
    os.close(note)
    return record.value
'''


@pytest.mark.parametrize("flags", [[], ["--jobs", "2"], ["--follow"]])
def test_a_module_forking_per_record_in_print(ws: Workspace, flags: list[str]) -> None:
    pids = ws.root / "pids"
    ws.module("forks", FORKS.replace("PIDS", repr(str(pids))))
    ws.topic("t", "a\nb\nc\n")
    args = ["t", "--map", str(ws.modules / "forks.py"), "--print", *flags]
    if "--follow" in flags:
        proc = ws.popen(*args, stdout=subprocess.PIPE)
        lines = [proc.stdout.readline() for _ in range(3)]
        proc.terminate()
        assert proc.wait(timeout=10) == 0
        lines += proc.stdout.readlines()
        assert lines == [b"a\n", b"b\n", b"c\n"]
    else:
        result = ws.run(*args, timeout=30)
        assert (result.code, result.out) == (0, "a\nb\nc\n"), result.err  # each record once
    sleepers = read_pids(pids)
    assert len(sleepers) == 3
    assert wait_gone(sleepers) == []


@needs_tmux
@pytest.mark.parametrize("how", ["quit", "kill-server"])
def test_a_module_forking_per_record_leaves_nothing_after_the_viewer(ws: Workspace, tmux, how: str) -> None:
    pids = ws.root / "pids"
    # The module also notes the pid of every process that imports it: the viewer, its children.
    source = FORKS.replace("import os, time\n", "import os, time\n\nopen(PIDS, 'a').write(f'{os.getpid()}\\n')\n")
    ws.module("forks", source.replace("PIDS", repr(str(pids))))
    ws.topic("t", "a\nb\nc\n")
    term = tmux(ws.root, [*smartview_command(), "t", "--map", str(ws.modules / "forks.py")], ws.env())
    screen = term.wait_for(lambda s: "2 c" in s and "0 errors" in s)
    assert [line.split()[:2] for line in screen.splitlines()[:4]] == [["0", "a"], ["1", "b"], ["2", "c"], ["│"]]
    term.wait_for(lambda s: len(read_pids(pids)) >= 6)  # the viewer, its children, the sleepers
    if how == "quit":
        term.keys("q")
    else:
        term.close()
    assert wait_gone(read_pids(pids)) == []


STDIN = '''import sys

def map(record):
    return record.value + b" read " + repr(sys.stdin.buffer.read()).encode()
'''


def test_a_module_reading_stdin_gets_nothing_in_print(ws: Workspace) -> None:
    ws.module("reader", STDIN)
    ws.topic("t", "a\nb\n")
    result = ws.run("t", "--map", str(ws.modules / "reader.py"), "--print", input="secret\n")
    assert (result.code, result.out) == (0, "a read b''\nb read b''\n"), result.err
    tried = ws.run("test", str(ws.modules / "reader.py"), "--stdin", input="x\ny\n")
    assert tried.code == 0 and "x read b''" in tried.out and "y read b''" in tried.out, tried.err


def test_a_module_reading_stdin_does_not_eat_the_row_process_protocol(ws: Workspace) -> None:
    import asyncio

    from viewer_support import make_app, screen_text, settle

    ws.module("reader", STDIN)
    topic = ws.topic("t", "a\nb\n")

    async def scenario():
        app = make_app(topic, module="reader", modules_dirs=[ws.modules])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            lines = screen_text(app).splitlines()
            assert lines[0].split() == ["0", "a", "read", "b''"] and lines[1].split() == ["1", "b", "read", "b''"]
            assert app.failures == 0

    asyncio.run(scenario())


# -- a chosen module that hangs or ends its process at import ---------------------------------------

EXITS = 'import os\nos._exit(3)\n\ndef map(record):\n    return record.value\n'
UPPER = 'def map(record):\n    return record.value.upper()\n'


def notices(app) -> str:
    return "\n".join(f"{n.title}: {n.message}" for n in app._notifications)


def test_picking_a_module_that_hangs_or_exits_at_import_leaves_the_viewer_running(ws: Workspace, monkeypatch) -> None:
    import asyncio

    from smartview.core.modules import trial
    from viewer_support import make_app, screen_text, settle

    monkeypatch.setattr(trial, "IMPORT_LIMIT", 1.0)
    (ws.modules / "hangs.py").write_text(HANGS)
    (ws.modules / "exits.py").write_text(EXITS)
    (ws.modules / "upper.py").write_text(UPPER)
    topic = ws.topic("t", "a\nb\n")

    async def wait_until(condition, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, "timed out waiting for the viewer"
            await asyncio.sleep(0.02)

    async def scenario():
        app = make_app(topic, module="upper", modules_dirs=[ws.modules])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            for choice, reason in [(1, "ended its process while importing (exit status 3)"),
                                   (2, "importing the module took longer than 1 s")]:
                await pilot.press("m")
                await pilot.pause()
                await pilot.press("home", *["down"] * choice, "enter")
                await pilot.press("p")  # keys are answered while the module is tried
                assert not app.panel.display
                await pilot.press("p")
                await wait_until(lambda: reason in notices(app))
                assert app.module.name == "upper"
                assert screen_text(app).split()[:4] == ["0", "A", "1", "B"]

    asyncio.run(scenario())


def test_an_edit_that_ends_the_process_at_import_keeps_the_last_good_version(ws: Workspace) -> None:
    import asyncio

    from viewer_support import make_app, screen_text, settle

    module = ws.modules / "upper.py"
    module.write_text(UPPER)
    topic = ws.topic("t", "a\nb\n")

    async def scenario():
        app = make_app(topic, module="upper", modules_dirs=[ws.modules], watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.pause(0.3)  # let the module watcher start
            module.write_text(EXITS)
            banner = app.query_one("#banner")
            deadline = time.monotonic() + 10
            while not banner.has_class("-shown"):
                assert time.monotonic() < deadline, "no banner"
                await pilot.pause(0.02)
            assert "ended its process while importing (exit status 3)" in str(banner.render())
            assert screen_text(app).split()[:4] == ["0", "A", "1", "B"]

    asyncio.run(scenario())
