"""The config file's parsed copy: used only for the very text it was parsed from, and only if it is ours."""

from __future__ import annotations

import json
import marshal
import os
from pathlib import Path

import pytest

from smartview.core import config as config_mod


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "smartview" / "config"


def write(path: Path, text: str, times: tuple[int, int] | None = None) -> None:
    path.write_text(text)
    if times:
        os.utime(path, ns=times)


def project_with(tmp_path: Path, text: str) -> tuple[Path, Path]:
    """A project folder holding a smartview.toml with `text`: the folder and the file."""
    project = tmp_path / "project"
    project.mkdir()
    config = project / "smartview.toml"
    write(config, text)
    return project, config


def test_an_edited_config_is_read_again_even_at_the_same_size_and_time(tmp_path: Path, cache: Path) -> None:
    project, config = project_with(tmp_path, 'topics-dir = "aaa"\n')
    times = (os.stat(config).st_atime_ns, os.stat(config).st_mtime_ns)
    assert config_mod.load_config(project).topics_dir == project / "aaa"
    assert list(cache.glob("*.marshal"))  # kept for the next start
    assert config_mod.load_config(project).topics_dir == project / "aaa"  # from the copy
    write(config, 'topics-dir = "bbb"\n', times)  # same length, same modification time
    assert config_mod.load_config(project).topics_dir == project / "bbb"


def test_a_copy_others_could_write_is_not_used(tmp_path: Path, cache: Path) -> None:
    text = 'topics-dir = "mine"\n'
    project, config = project_with(tmp_path, text)
    config_mod.load_config(project)
    [entry] = cache.glob("*.marshal")
    entry.write_bytes(marshal.dumps({"text": text, "data": {"topics-dir": "theirs"}}))
    entry.chmod(0o666)
    assert config_mod.load_config(project).topics_dir == project / "mine"


def test_a_cut_or_foreign_copy_is_parsed_again(tmp_path: Path, cache: Path) -> None:
    text = 'topics-dir = "mine"\n'
    project, config = project_with(tmp_path, text)
    config_mod.load_config(project)
    [entry] = cache.glob("*.marshal")
    whole = entry.read_bytes()
    for broken in (whole[: len(whole) // 2], b"", b"\xff not marshal", marshal.dumps(["text", text])):
        entry.write_bytes(broken)  # a disk that filled up, or a file that is not one of ours
        assert config_mod.load_config(project).topics_dir == project / "mine"


def test_a_copy_in_the_earlier_json_format_is_not_read(tmp_path: Path, cache: Path) -> None:
    text = 'topics-dir = "mine"\n'
    project, config = project_with(tmp_path, text)
    info = os.stat(config)
    cache.mkdir(parents=True)
    (cache / f"{info.st_dev:x}-{info.st_ino:x}.json").write_text(
        json.dumps({"text": text, "data": {"topics-dir": "stale"}})
    )
    assert config_mod.load_config(project).topics_dir == project / "mine"


def test_invalid_toml_is_still_an_error_naming_the_file(tmp_path: Path, cache: Path) -> None:
    project, _ = project_with(tmp_path, "topics-dir = \n")
    with pytest.raises(config_mod.ConfigError, match="smartview.toml: invalid TOML"):
        config_mod.load_config(project)


def test_a_value_marshal_cannot_hold_keeps_no_copy(tmp_path: Path, cache: Path) -> None:
    project, _ = project_with(tmp_path, 'topics-dir = "t"\nwhen = 1979-05-27\n')
    assert config_mod.load_config(project).topics_dir == project / "t"
    assert not list(cache.glob("*.marshal"))
