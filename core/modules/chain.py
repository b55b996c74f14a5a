"""Chains: several modules applied in order, like Fluvio's transforms.

Each module's outputs are the next module's records (same offset, the output's key and value). A
failure names the module in the chain that failed. A transforms file lists the modules with their
parameters:

    [[transforms]]
    uses = "where"                        # a module name or a path
    with = { field = "type", equals = "login" }

    [[transforms]]
    uses = "user_events"
    with = { show_account_id = false }
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ParamError, SmartviewError
from .module import Module
from .params import format_value
from ..record import Record
from .runner import Failure, Mapper, Output


class Chain:
    """Mappers applied one after the other; answers `apply_many` like a single Mapper."""

    def __init__(self, stages: list[Mapper]) -> None:
        self.stages = stages

    def apply_many(self, record: Record) -> list[Output] | Failure:
        outputs = [Output(record.offset, record.key, record.value)]
        for number, stage in enumerate(self.stages, 1):
            following: list[Output] = []
            for output in outputs:
                result = stage.apply_many(Record(record.offset, output.key, output.value))
                if isinstance(result, Failure):
                    where = f"{stage.module.name} (module {number} of {len(self.stages)})"
                    return Failure(record.offset, f"{where}: {result.error}", result.location, result.traceback,
                                   record.value)
                following.extend(result)
            outputs = following
        return outputs


def build(
    stages: list[tuple[Module, dict[str, str]]], initial: Any = None, tracebacks: bool = False
) -> Mapper | Chain:
    """One Mapper for a single module, a Chain for several (`initial` goes to an aggregate)."""
    mappers = [Mapper(module, module.make_params(values), initial if module.kind == "aggregate" else None,
                      tracebacks)
               for module, values in stages]
    return mappers[0] if len(mappers) == 1 else Chain(mappers)


def split_values(modules: list[Module], values: dict[str, str]) -> list[dict[str, str]]:
    """Give each module its `-e` values: `name.key=value` addresses one module of a chain.

    An unqualified key is fine when exactly one module in the chain has a parameter of that name.
    """
    per_module: list[dict[str, str]] = [{} for _ in modules]
    names = [module.name for module in modules]
    for key, text in values.items():
        prefix, dot, rest = key.partition(".")
        if dot and prefix in names:
            per_module[names.index(prefix)][rest] = text
            continue
        if len(modules) == 1:
            per_module[0][key] = text
            continue
        owners = [i for i, module in enumerate(modules) if key in {spec.name for spec in module.specs}]
        if len(owners) != 1:
            choices = ", ".join(f"{m.name}.{s.name}" for m in modules for s in m.specs) or "none"
            raise ParamError(
                f"parameter {key!r} is {'ambiguous' if owners else 'unknown'} in this chain; "
                f"name the module, as in -e {names[0]}.KEY=VALUE (parameters: {choices})"
            )
        per_module[owners[0]][key] = text
    return per_module


def read_transforms(path: Path) -> list[tuple[str, dict[str, str]]]:
    """The (module, values) list of a transforms file."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SmartviewError(f"transforms file {path} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SmartviewError(f"transforms file {path}: invalid TOML: {exc}") from None
    entries = data.get("transforms")
    if not isinstance(entries, list) or not entries:
        raise SmartviewError(f"transforms file {path}: expected [[transforms]] entries with `uses` and `with`")
    result = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("uses"), str):
            raise SmartviewError(f"transforms file {path}: entry {number} has no `uses = \"MODULE\"`")
        values = entry.get("with", {})
        if not isinstance(values, dict):
            raise SmartviewError(f"transforms file {path}: entry {number}: `with` must be a table")
        result.append((entry["uses"], {key: format_value(value) for key, value in values.items()}))
    return result
