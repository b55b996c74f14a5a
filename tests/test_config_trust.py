"""A config file, or a module folder it names, that another user could have written is ignored."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from conftest import Workspace

OTHER_UID = 4321  # nobody on the machine: "another user" (tests run as root in CI, which may chown)
OTHER_GID = 4322

PLANTED = """
from pathlib import Path
Path(__file__).with_name("ran").write_text("planted module ran")

def map(record, params):
    return b"planted:" + record.value
"""


def _plant(ws: Workspace, config_name: str = "smartview.toml") -> tuple[Path, Path]:
    """A config in the working directory that maps topic `t` with a module from its own folder."""
    folder = ws.root / "theirs"
    folder.mkdir()
    (folder / "planted.py").write_text(PLANTED)
    table = 'modules-dirs = ["theirs"]\n[topics.t]\nmap = "planted"\n'
    if config_name == "pyproject.toml":
        table = 'modules-dirs = ["theirs"]\n[tool.smartview.topics.t]\nmap = "planted"\n'
        table = "[tool.smartview]\n" + table
    config = ws.root / config_name
    config.write_text(table)
    config.chmod(0o644)
    folder.chmod(0o755)
    ws.topic("t", '{"a":1}\n')
    return config, folder


def _needs_chown() -> None:
    if os.getuid() != 0:
        pytest.skip("giving a file to another user needs root (CI runs as root)")


def test_a_config_of_your_own_is_used(ws: Workspace) -> None:
    _plant(ws)
    result = ws.run("t", "--print")
    assert result.code == 0 and result.out == 'planted:{"a":1}\n' and result.err == ""


@pytest.mark.parametrize("config_name", ["smartview.toml", "pyproject.toml"])
@pytest.mark.parametrize("how", ["writable by others", "writable by a group", "owned by another user"])
def test_a_config_someone_else_could_write_is_ignored_with_a_warning(ws: Workspace, how: str, config_name: str) -> None:
    config, folder = _plant(ws, config_name)
    if how == "writable by others":
        config.chmod(0o666)
        reason = "writable by other users"
    elif how == "writable by a group":
        _needs_chown()
        os.chown(config, os.getuid(), OTHER_GID)  # a group that is not the owner's own
        config.chmod(0o664)
        reason = f"writable by group {OTHER_GID}"
    else:
        _needs_chown()
        os.chown(config, OTHER_UID, OTHER_GID)
        reason = f"owned by another user (uid {OTHER_UID})"
    result = ws.run("t", "--print")
    assert result.code == 0 and result.out == '{"a":1}\n'  # no module: the config's map was not used
    assert result.err == f"smartview: ignoring config file {config}: {reason}; " + (
        "chown it" if "owned" in reason else "chmod go-w it") + " if you trust it\n"
    assert not (folder / "ran").exists()


@pytest.mark.parametrize("how", ["writable by others", "owned by another user"])
def test_a_module_folder_someone_else_could_write_is_ignored(ws: Workspace, how: str) -> None:
    _config, folder = _plant(ws)
    if how == "writable by others":
        folder.chmod(0o777)
    else:
        _needs_chown()
        os.chown(folder, OTHER_UID, OTHER_GID)
    result = ws.run("t", "--print")
    assert result.code == 2
    lines = result.err.splitlines()
    assert lines[0].startswith(f"smartview: ignoring module folder {folder}: ")
    assert "planted" in lines[1] and len(lines) == 2  # the config still asks for it; it is not found
    assert not (folder / "ran").exists()
    listed = ws.run("modules")
    assert "planted" not in listed.out and "ignoring module folder" in listed.err


def test_an_ignored_config_is_not_replaced_by_one_further_up(ws: Workspace) -> None:
    (ws.root / "smartview.toml").write_text('[topics.t]\nmap = "fields"\n')
    inner = ws.root / "inner"
    inner.mkdir()
    (inner / "smartview.toml").write_text('[topics.t]\nmap = "fields"\n')
    (inner / "smartview.toml").chmod(0o646)
    ws.topic("t", '{"a":1}\n')
    ws.root = inner
    result = ws.run("t", "--print")
    assert result.out == '{"a":1}\n' and "ignoring config file" in result.err


def test_the_viewer_shows_the_warning(ws: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    from smartview.cli import _select, _topic_parser
    from smartview.tui.app import SmartviewApp

    config, folder = _plant(ws)
    config.chmod(0o666)
    monkeypatch.chdir(ws.root)
    monkeypatch.setenv("SMARTVIEW_TOPICS_DIR", str(ws.topics))
    selection = _select(_topic_parser().parse_args(["t"]))
    assert selection.module is None

    async def scenario():
        app = SmartviewApp(selection, watch=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause(0.2)
            messages = [n.message for n in app._notifications]
            assert any(m.startswith(f"ignoring config file {config}: writable by other users") for m in messages)

    asyncio.run(scenario())


def test_the_warning_escapes_the_path_it_names(ws: Workspace) -> None:
    """The ignored config's path is outside text: a folder named with controls is shown escaped on stderr."""
    import subprocess

    from conftest import smartview_command

    folder = ws.root / "dl\x1b]0;pwned\x07\x9b2J\u202e"
    folder.mkdir()
    (folder / "smartview.toml").write_text('modules-dirs = ["."]\n')
    (folder / "smartview.toml").chmod(0o666)
    (folder / "t.jsonl").write_text('{"a":1}\n')
    proc = subprocess.run([*smartview_command(), "./t.jsonl", "--print"], capture_output=True, cwd=folder,
                          env=ws.env(), timeout=60)
    err = proc.stderr.decode()
    assert proc.returncode == 0 and proc.stdout == b'{"a":1}\n'
    assert "ignoring config file" in err and "dl\\x1b]0;pwned\\x07\\x9b2J\\u202e" in err
    assert not any(char in err for char in "\x1b\x07\x9b\u202e")
