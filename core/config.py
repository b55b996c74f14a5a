"""Settings: command-line flags, then environment variables, then a config file, then defaults.

The config file is found the way ruff and pytest find theirs: walking up from the working directory to
the first `smartview.toml`, or `pyproject.toml` with a `[tool.smartview]` table. Paths in it are relative
to the file's own directory, so a project's settings work from any of its subfolders.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .modules.params import format_value

TOPICS_DIR_ENV = "SMARTVIEW_TOPICS_DIR"
MODULES_DIR_ENV = "SMARTVIEW_MODULES_DIR"
SHIPPED_MODULES_DIR = Path(__file__).resolve().parent.parent / "modules"


def default_topics_dir() -> Path:
    """Where topics live when nothing says otherwise: the XDG data directory, like other CLI tools."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "smartview" / "topics"


@dataclass(frozen=True)
class TopicDefaults:
    """What the config says to open a topic with when the command line does not say."""

    map: str | None = None
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    path: Path | None = None
    topics_dir: Path | None = None
    modules_dirs: tuple[Path, ...] = ()
    topics: dict[str, TopicDefaults] = field(default_factory=dict)

    def for_topic(self, name: str) -> TopicDefaults:
        return self.topics.get(name, TopicDefaults())


def find_config(start: Path | None = None) -> Path | None:
    """The nearest config file at or above `start` (the working directory by default)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "smartview.toml"
        if candidate.is_file():
            return candidate
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and _has_tool_table(candidate):
            return candidate
    return None


def _has_tool_table(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return False
    return "[tool.smartview" in text


def load_config(start: Path | None = None) -> Config:
    path = find_config(start)
    if path is None:
        return Config()
    import tomllib  # only when there is a file to read: it is a noticeable part of start-up

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    table = data.get("tool", {}).get("smartview", {}) if path.name == "pyproject.toml" else data
    return _parse_table(table, path)


def _parse_table(table: dict[str, Any], path: Path) -> Config:
    base = path.parent
    topics_dir = table.get("topics-dir")
    modules = table.get("modules-dirs", table.get("modules-dir", []))
    if isinstance(modules, str):
        modules = [modules]
    topics = {}
    for name, entry in table.get("topics", {}).items():
        if not isinstance(entry, dict):
            raise ConfigError(f"{path}: [topics.{name}] must be a table with 'map' and 'params'")
        params = {key: format_value(value) for key, value in entry.get("params", {}).items()}
        topics[name] = TopicDefaults(entry.get("map"), params)
    return Config(
        path=path,
        topics_dir=(base / topics_dir) if topics_dir else None,
        modules_dirs=tuple(base / m for m in modules),
        topics=topics,
    )


def topics_dir(flag: str | None, config: Config) -> Path:
    """--topics-dir, else SMARTVIEW_TOPICS_DIR, else the config file's topics-dir, else the default."""
    if flag:
        return Path(flag)
    if env := os.environ.get(TOPICS_DIR_ENV):
        return Path(env)
    return config.topics_dir or default_topics_dir()


def modules_dirs(flags: list[str] | None, config: Config) -> list[Path]:
    """Where `--map NAME` looks, first match wins: flags, environment, config, then the shipped modules.

    The user's folders come first so a user module can stand in for a shipped one of the same name.
    """
    dirs = [Path(f) for f in flags or []]
    if env := os.environ.get(MODULES_DIR_ENV):
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs += list(config.modules_dirs)
    dirs.append(SHIPPED_MODULES_DIR)
    unique: list[Path] = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique
