"""A SmartModule's parameter list, from the package metadata `smdk generate` writes (SmartModule.toml).

A `.wasm` carries no parameter types, so its parameters come from `[[params]]` entries (`name`,
`description`, `optional`; `optional` is false when absent, as in Fluvio's `SmartModuleParam`). The
file looked for, first found wins: `NAME.toml` beside `NAME.wasm`, `SmartModule.toml` beside it, and
for a module inside a crate's `target/<target>/release*/` folder the crate root's `SmartModule.toml`.
Without metadata a module lists no parameters, and `-e key=value` still reaches its `init`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from ...errors import ModuleError


@dataclass(frozen=True)
class Metadata:
    """What the package metadata says: where it was read, a description, the parameters."""

    path: Path | None
    description: str
    params: tuple[tuple[str, str, bool], ...]  # (name, description, optional)


def metadata_path(wasm: Path) -> Path | None:
    candidates = [wasm.with_suffix(".toml"), wasm.parent / "SmartModule.toml"]
    parts = wasm.resolve().parts
    if "target" in parts:
        at = len(parts) - 1 - parts[::-1].index("target")
        between = parts[at + 1 : -1]  # target/<target>/release*/NAME.wasm (or target/release*/)
        if any(folder.startswith("release") for folder in between[:2]):
            candidates.append(Path(*parts[:at]) / "SmartModule.toml")
    return next((path for path in candidates if path.is_file()), None)


def read(wasm: Path) -> Metadata:
    """The metadata for `wasm`, empty when there is none; a broken file is a one-line ModuleError."""
    path = metadata_path(wasm)
    if path is None:
        return Metadata(None, "", ())
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModuleError(f"SmartModule metadata {path} cannot be read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ModuleError(f"SmartModule metadata {path}: invalid TOML: {exc}") from None
    package = data.get("package") if isinstance(data.get("package"), dict) else {}
    description = package.get("description") if isinstance(package.get("description"), str) else ""
    entries = data.get("params", [])
    if not isinstance(entries, list):
        raise ModuleError(f"SmartModule metadata {path}: `params` must be [[params]] entries")
    params = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ModuleError(f"SmartModule metadata {path}: [[params]] entry {number} has no name")
        text = entry.get("description")
        optional = entry.get("optional", False)
        if not isinstance(optional, bool):
            raise ModuleError(f"SmartModule metadata {path}: parameter {entry['name']!r}: optional must be true or false")
        params.append((entry["name"], text if isinstance(text, str) else "", optional))
    return Metadata(path, description, tuple(params))
