"""Chains: several modules applied in order, like Fluvio's transforms.

Each module's outputs are the next module's records (same offset, the output's key and value). A
failure names the module in the chain that failed. A transforms file lists the modules with their
parameters, in Fluvio's own YAML form (any name but `.toml`):

    transforms:
      - uses: where                       # a module name or a path
        with: {field: type, equals: login}
        lookback: {last: 10, age: 1h}     # fed to the module's look_back hook before the first record
      - uses: user_events
        with: {show_account_id: false}

or in TOML (a `.toml` file), with `[[transforms]]` tables holding the same keys. `--transforms-line`
gives one entry as JSON, as `fluvio consume --transforms-line` does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import ParamError, SmartviewError
from .module import Module
from .params import format_value
from ..record import Record
from .runner import Failure, Mapper, Output

if TYPE_CHECKING:  # core/modules/lookback.py is imported only by a run that is given a lookback
    from .lookback import Lookback


class Chain:
    """Mappers applied one after the other; answers `apply_many` like a single Mapper."""

    def __init__(self, stages: list[Mapper]) -> None:
        from . import grep  # with core/pattern.py: a single module (no Chain) never imports it

        self.stages = stages
        # Failures name the user's modules only: a built-in --grep stage is not "module 2 of 2".
        self._chosen = sum(not grep.is_stage(stage.module) for stage in stages)

    def apply_many(self, record: Record) -> list[Output] | Failure:
        outputs = [Output(record.offset, record.key, record.value)]
        for number, stage in enumerate(self.stages, 1):
            following: list[Output] = []
            for output in outputs:
                result = stage.apply_many(record.derive(output.key, output.value))
                if isinstance(result, Failure):
                    if self._chosen == 1:
                        return Failure(record.offset, result.error, result.location, result.traceback, record.value)
                    where = f"{stage.module.name} (module {number} of {self._chosen})"
                    return Failure(record.offset, f"{where}: {result.error}", result.location, result.traceback,
                                   record.value)
                following.extend(result)
            outputs = following
        return outputs

    def initialize(self) -> None:
        """Every module's init, in chain order; the first that raises stops the run, naming its module."""
        for number, stage in enumerate(self.stages, 1):
            _in_chain(stage.initialize, stage.module.name, number, len(self.stages))

    def look_back(self, fetch: Callable[[Lookback], list[Record]]) -> None:
        """Each module with a lookback is fed the topic's records, as Fluvio's SPU feeds every instance."""
        for number, stage in enumerate(self.stages, 1):
            _in_chain(lambda: stage.look_back(fetch), stage.module.name, number, len(self.stages))

    def snapshot(self) -> list[Any]:
        return [stage.snapshot() for stage in self.stages]

    def restore(self, state: list[Any]) -> None:
        for stage, saved in zip(self.stages, state):
            stage.restore(saved)


def _in_chain(call: Callable[[], None], name: str, number: int, count: int) -> None:
    try:
        call()
    except SmartviewError as exc:
        raise type(exc)(f"{name} (module {number} of {count}): {exc.message}") from None


class Transform(NamedTuple):
    """One entry of a transforms file: the module (`uses`), its parameter values, and its lookback."""

    uses: str
    values: dict[str, str]
    lookback: Lookback | None = None


def make_mapper(
    module: Module, params: Any, initial: Any = None, lookback: Lookback | None = None, tracebacks: bool = False
) -> Mapper:
    """The mapper for a module: a Python module's Mapper, or a SmartModule's WasmMapper (same answers)."""
    if getattr(module, "runtime", "python") == "wasm":
        from .wasm.module import WasmMapper

        return WasmMapper(module, params, initial, lookback, tracebacks)  # type: ignore[return-value]
    return Mapper(module, params, initial, lookback, tracebacks)


def build(
    stages: list[tuple[Module, dict[str, str]]],
    initial: Any = None,
    lookbacks: list[Lookback | None] | None = None,
    start: bool = True,
    tracebacks: bool = False,
) -> Mapper | Chain:
    """One Mapper for a single module, a Chain for several (`initial` goes to an aggregate).

    With `start`, each module's init runs before this returns (HookError if one raises). With
    `tracebacks`, failures carry the module's formatted traceback (slow: for a few records).
    """
    lookbacks = lookbacks or [None] * len(stages)
    mappers = [make_mapper(module, module.make_params(values), initial if module.kind == "aggregate" else None, lookback,
                           tracebacks)
               for (module, values), lookback in zip(stages, lookbacks)]
    mapper = mappers[0] if len(mappers) == 1 else Chain(mappers)
    if start:
        mapper.initialize()
    return mapper


def init_error(module: Module, values: dict[str, str]) -> str | None:
    """What the module's init says of these values: None when it takes them (or has no init)."""
    if module.init is None:
        return None
    try:
        build([(module, values)])
    except SmartviewError as exc:
        return exc.message
    return None


def check_lookbacks(stages: list[tuple[Module, dict[str, str]]], lookbacks: list[Lookback | None]) -> None:
    """A lookback for a module without a look_back hook would be ignored in silence (Fluvio does): refuse it."""
    for (module, _), lookback in zip(stages, lookbacks):
        if lookback is not None and module.look_back is None:
            raise SmartviewError(
                f"{module.name}: a lookback ({lookback.describe()}) was given, but {module.path} defines no "
                "look_back(record, params) to feed it to"
            )


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


def read_transforms(path: Path) -> list[Transform]:
    """The entries of a transforms file: Fluvio's YAML, or TOML for a `.toml` file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SmartviewError(f"transforms file {path} cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SmartviewError(f"transforms file {path} is not UTF-8 text") from None
    data = _parse_toml(text, path) if path.suffix == ".toml" else _parse_yaml(text, path)
    entries = data.get("transforms") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise SmartviewError(f"transforms file {path}: expected a `transforms:` list of entries with `uses` and `with`")
    return [_entry(entry, f"transforms file {path}: entry {number}") for number, entry in enumerate(entries, 1)]


def read_transform_lines(lines: list[str]) -> list[Transform]:
    """`--transforms-line JSON` entries, as `fluvio consume` takes them: one module each, in order."""
    import orjson

    transforms = []
    for number, line in enumerate(lines, 1):
        where = f"--transforms-line {number}"
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            raise SmartviewError(f"{where}: invalid JSON: {exc}") from None
        transforms.append(_entry(entry, where))
    return transforms


def _parse_toml(text: str, path: Path) -> Any:
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SmartviewError(f"transforms file {path}: invalid TOML: {exc}") from None


def _parse_yaml(text: str, path: Path) -> Any:
    import yaml  # only transforms files need it

    try:
        return yaml.safe_load(text)  # safe_load: a file builds plain data, never objects
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SmartviewError(f"transforms file {path}{line}: invalid YAML: {problem}") from None


def _entry(entry: Any, where: str) -> Transform:
    if not isinstance(entry, dict) or not isinstance(entry.get("uses"), str) or not entry["uses"]:
        raise SmartviewError(f"{where} has no `uses: MODULE`")
    unknown = set(entry) - {"uses", "with", "lookback"}
    if unknown:
        raise SmartviewError(f"{where}: unknown key {sorted(unknown)[0]!r}; an entry takes uses, with and lookback")
    values = entry.get("with") or {}
    if not isinstance(values, dict):
        raise SmartviewError(f"{where}: `with` must be a table of parameter values")
    lookback = entry.get("lookback")
    if lookback is not None:
        from .lookback import from_mapping

        lookback = from_mapping(lookback, where)
    return Transform(entry["uses"], {str(key): _with_value(value) for key, value in values.items()}, lookback)


def _with_value(value: Any) -> str:
    """A `with` value as the module's parameter text: a table or list becomes JSON, as in Fluvio."""
    if isinstance(value, (dict, list)):
        import orjson

        return orjson.dumps(value).decode()
    return format_value(value)
