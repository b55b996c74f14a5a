"""`smartview new` and what it prints: each next step works exactly as printed; its test is never a module.

Also `smartview modules` showing parameters as the panel does (an empty default as "", the docs).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import Workspace, smartview_command


def steps(output: str) -> list[str]:
    """The commands `new` printed after `next:`."""
    lines = output.splitlines()
    return [line.strip() for line in lines[lines.index("next:") + 1:]]


def shell(ws: Workspace, command: str) -> subprocess.CompletedProcess:
    """Run a printed command as a person would paste it: in a shell, with `smartview` on the PATH."""
    env = ws.env()
    env["PATH"] = f"{Path(smartview_command()[0]).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(["bash", "-c", command], cwd=ws.root, env=env, capture_output=True, text=True, timeout=60)


def test_new_then_test_by_name_works_and_every_printed_step_runs(ws: Workspace) -> None:
    made = ws.run("new", "shapes")
    assert made.code == 0, made.err
    folder = ws.root / "data" / "smartview" / "modules"
    assert made.out.splitlines()[:2] == [f"wrote {folder / 'shapes.py'}", f"wrote {folder / 'tests' / 'test_shapes.py'}"]
    # The very command the issue names, right after `new`.
    tried = ws.run("test", "shapes", "--text", "{}")
    assert tried.code == 0 and tried.out == "{}\n", tried.err
    printed = steps(made.out)
    assert printed == [
        "smartview test shapes --text '{\"a\": 1}'",
        "echo '{\"a\": 1}' | smartview produce try-it",
        "smartview try-it --map shapes",
    ]
    for command in printed[:2]:
        done = shell(ws, command)
        assert done.returncode == 0, (command, done.stderr)
    assert shell(ws, printed[0]).stdout == '{"a":1}\n'
    viewed = shell(ws, printed[2] + " --print")  # the viewer's command, headless so a test can read it
    assert viewed.returncode == 0 and viewed.stdout == '{"a":1}\n', viewed.stderr


def test_new_names_a_topic_there_is_to_view_it_on(ws: Workspace) -> None:
    ws.topic("orders", '{"a": 1}\n')
    made = ws.run("new", "shapes")
    assert steps(made.out)[1] == "smartview orders --map shapes"
    viewed = shell(ws, steps(made.out)[1] + " --print")
    assert viewed.returncode == 0 and viewed.stdout == '{"a":1}\n', viewed.stderr


def test_new_into_a_folder_that_is_no_module_folder_prints_the_path(ws: Workspace) -> None:
    made = ws.run("new", "shapes", "--dir", "mymods")
    assert made.code == 0, made.err
    printed = steps(made.out)
    assert printed[0] == "smartview test mymods/shapes.py --text '{\"a\": 1}'"
    for command in printed[:2]:
        done = shell(ws, command)
        assert done.returncode == 0, (command, done.stderr)
    viewed = shell(ws, printed[2] + " --print")
    assert viewed.returncode == 0 and viewed.stdout == '{"a":1}\n', viewed.stderr


def test_the_test_file_is_never_listed_as_a_module_and_its_docstring_command_runs(ws: Workspace) -> None:
    made = ws.run("new", "shapes", "--dir", str(ws.modules))
    assert made.code == 0, made.err
    listed = ws.run("modules", "--modules-dir", str(ws.modules))
    assert listed.code == 0
    names = [line.split()[0] for line in listed.out.splitlines() if line and not line.startswith(" ")]
    assert "shapes" in names and not any(name.startswith("test_") for name in names), listed.out
    test_file = ws.modules / "tests" / "test_shapes.py"
    docstring = test_file.read_text().split('"""')[1]
    command = docstring.split("`")[1]
    assert command == f"python -m pytest {test_file.resolve()}"
    ran = subprocess.run([sys.executable, *command.split()[1:]], cwd=ws.root, capture_output=True, text=True)
    assert ran.returncode == 0 and "1 passed" in ran.stdout, ran.stdout


def test_modules_shows_an_empty_default_as_the_panel_does_and_each_parameter_doc(ws: Workspace) -> None:
    ws.module("tagged", '"""Tag records."""\nfrom dataclasses import dataclass, field\n\n@dataclass\nclass Params:\n'
                        '    label: str = field(default="", metadata={"doc": "the tag put on each record"})\n'
                        '    times: int = 1\n\ndef map(record, params):\n    return record.value\n')
    listed = ws.run("modules", "--modules-dir", str(ws.modules))
    block = listed.out.split("tagged  [map]")[1].split("\n\n")[0]
    assert block.splitlines()[2:] == [
        '    -e label=…  str, default ""',
        "        the tag put on each record",
        "    -e times=…  int, default 1",
    ]
