"""Settings: command-line flags, then environment variables, then a config file, then defaults.

The config file is found the way ruff and pytest find theirs: walking up from the working directory to
the first `smartview.toml`, or `pyproject.toml` with a `[tool.smartview]` table. Paths in it are relative
to the file's own directory, so a project's settings work from any of its subfolders.

A config file decides which code runs (`modules-dirs`, a topic's `map`), so, as git does with
`safe.directory`, one that another user could have written is ignored with a warning: owned by someone
else (other than root), or writable by others or by a group with other members. A module folder it
names is checked the same way. A file found that way is not replaced by one further up: what is used
stays what the nearest file would say, or the defaults.
"""

from __future__ import annotations

import marshal
import os
import stat
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


def cache_folder(name: str) -> Path:
    """Where smartview keeps what it can make again (`index`, `config`, `wasm`): the XDG cache directory."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "smartview" / name


def default_modules_dir() -> Path:
    """Your own module folder when nothing says otherwise, beside the default topics folder: where
    `smartview new` writes, and searched after the folders you name and before the shipped modules."""
    return default_topics_dir().parent / "modules"


class TopicDefaults:
    """What the config says to open a topic with when the command line does not say.

    A plain slotted class, as Config: making a dataclass costs every start about half a millisecond.
    """

    __slots__ = ("map", "params")

    def __init__(self, map: str | None = None, params: dict[str, str] | None = None) -> None:
        self.map = map
        self.params = {} if params is None else params


class Config:
    """The settings a config file gives, and the warnings about what was ignored in it.

    A plain slotted class rather than a dataclass: making one costs every start about half a
    millisecond. Read-only by convention: a changed config is a new one (`_trusted_folders`).
    """

    __slots__ = ("path", "topics_dir", "modules_dirs", "topics", "warnings")

    def __init__(
        self,
        path: Path | None = None,
        topics_dir: Path | None = None,
        modules_dirs: tuple[Path, ...] = (),
        topics: dict[str, TopicDefaults] | None = None,
        warnings: tuple[str, ...] = (),
    ) -> None:
        self.path = path
        self.topics_dir = topics_dir
        self.modules_dirs = modules_dirs
        self.topics = {} if topics is None else topics
        self.warnings = warnings  # one line each: a config file or module folder that was ignored

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
    try:
        with open(path, "rb") as file:
            info = os.fstat(file.fileno())
            if why := untrusted(info):  # the file read, not whatever the path names later
                return Config(warnings=(_ignored(path, "config file", why),))
            text = file.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    data = _parsed(path, text, info)
    table = data.get("tool", {}).get("smartview", {}) if path.name == "pyproject.toml" else data
    return _trusted_folders(_parse_table(table, path))


def _parsed(path: Path, text: str, info: os.stat_result) -> dict[str, Any]:
    """The config file's TOML, parsed; from the copy parsed at an earlier run if the text is the same.

    Importing and running the TOML parser on a pyproject.toml costs every start about 5 ms. The copy
    (`$XDG_CACHE_HOME/smartview/config/DEVICE-INODE.marshal`) holds the text it was parsed from and is
    used only when that text is the file's, character for character, and nobody else could have written
    it. It is in `marshal` format, as Python's own bytecode cache, and trusted by the same rule: only a
    file only the user could have written is read. Unlike json, marshal is loaded already (importing
    json costs 1.5 ms), and nothing read from the copy is run: it is only checked as a dict.
    """
    entry = cache_folder("config") / f"{info.st_dev:x}-{info.st_ino:x}.marshal"
    try:
        with open(entry, "rb") as cached:
            if untrusted(os.fstat(cached.fileno())) is None:
                saved = marshal.loads(cached.read())
                if isinstance(saved, dict) and saved.get("text") == text and isinstance(saved.get("data"), dict):
                    return saved["data"]
    except (OSError, ValueError, EOFError, TypeError):  # what marshal raises for a cut or foreign file
        pass
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    _save(entry, text, data)
    return data


def _save(entry: Path, text: str, data: dict[str, Any]) -> None:
    """Keep the parsed config for the next start; a value marshal cannot hold (a TOML date) keeps nothing."""
    import tempfile

    try:
        encoded = marshal.dumps({"text": text, "data": data})
        entry.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            out.write(encoded)
        os.replace(temporary, entry)
    except (OSError, TypeError, ValueError):
        return


def untrusted(info: os.stat_result) -> str | None:
    """Why a file or folder with this status may hold someone else's choices, or None if it is safe.

    Safe: owned by the user running smartview (or by root), and writable by nobody else. Group write is
    allowed only for the owner's own group when it has no other members (the "user private group" that
    a umask of 002 gives), since nobody else can write through it.
    """
    uid = os.getuid()
    if info.st_uid not in (uid, 0):
        return f"owned by another user (uid {info.st_uid})"
    if info.st_mode & stat.S_IWOTH:
        return "writable by other users"
    if info.st_mode & stat.S_IWGRP and not _private_group(info.st_gid, info.st_uid):
        return f"writable by group {info.st_gid}"
    return None


def _private_group(gid: int, owner: int) -> bool:
    """Whether group `gid` is the owner's primary group and lists no members: only the owner is in it."""
    import grp
    import pwd

    try:
        return pwd.getpwuid(owner).pw_gid == gid and not grp.getgrgid(gid).gr_mem
    except KeyError:
        return False


def _trusted_folders(config: Config) -> Config:
    """The config without the module folders another user could write to, with a warning for each."""
    kept, warnings = [], list(config.warnings)
    for folder in config.modules_dirs:
        try:
            why = untrusted(os.stat(folder))
        except OSError:
            why = None  # a missing folder holds no code; finding a module there says it is missing
        if why:
            warnings.append(_ignored(folder, "module folder", why))
        else:
            kept.append(folder)
    return Config(config.path, config.topics_dir, tuple(kept), config.topics, tuple(warnings))


def _ignored(path: Path, what: str, why: str) -> str:
    fix = "chown it" if "owned" in why else "chmod go-w it"
    return f"ignoring {what} {path}: {why}; {fix} if you trust it"


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
    """Where `--map NAME` looks, first match wins: flags, environment, config, your default folder, then
    the shipped modules.

    The user's folders come first so a user module can stand in for a shipped one of the same name.
    """
    dirs = [Path(f) for f in flags or []]
    if env := os.environ.get(MODULES_DIR_ENV):
        dirs += [Path(p) for p in env.split(os.pathsep) if p]
    dirs += list(config.modules_dirs)
    dirs.append(default_modules_dir())
    dirs.append(SHIPPED_MODULES_DIR)
    unique: list[Path] = []
    for folder in dirs:
        if folder not in unique:
            unique.append(folder)
    return unique
