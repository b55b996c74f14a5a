"""What the modules in the module folders are, read from their source without running any of it.

The module picker and `smartview modules` show every module's kind, summary and parameters. Importing
each file to find out would run the code of every module in every folder, chosen or not: one that
hangs at import would freeze the viewer, one that misbehaves would do so in the viewer's own process.
The source is parsed instead (`ast`): the top-level function that gives the kind, the module docstring,
and the fields of the `Params` dataclass with their annotations, defaults and `field(metadata={"doc":
...})`. A module is run only once somebody chooses it.

What cannot be known without running the code (a default computed by a call, a kind bound by an
assignment or an import) is shown as written in the source. A Fluvio SmartModule (`.wasm`) is compiled
and its exports and metadata read, as loading one does; none of its code runs until it is instantiated.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from .module import HOOKS, KINDS, available_paths

SIMPLE_TYPES = ("bool", "int", "float", "str")


@dataclass(frozen=True)
class ParamEntry:
    """One parameter as listed: its name, its type as a user reads it, its default as `-e` would take it."""

    name: str
    type_name: str
    default: str
    doc: str = ""


@dataclass(frozen=True)
class ModuleEntry:
    """One module in a listing. `error` says why it cannot be used (then kind and params may be empty)."""

    name: str
    path: Path
    kind: str = ""
    summary: str = ""
    params: tuple[ParamEntry, ...] = ()
    error: str | None = None
    hooks: tuple[str, ...] = ()  # the hooks it defines besides its kind (init, look_back)
    runtime: str = "python"  # or "wasm"


def list_modules(dirs: list[Path]) -> list[ModuleEntry]:
    """Every module of the folders (the first folder wins a name), sorted by name."""
    return [describe(path) for path in available_paths(dirs)]


def describe(path: Path) -> ModuleEntry:
    """A module file's entry, from its source alone."""
    if path.suffix == ".wasm":
        return _describe_wasm(path)
    try:
        source = path.read_bytes()
    except OSError as exc:
        return ModuleEntry(path.stem, path, error=f"cannot be read: {exc.strerror}")
    try:
        tree = ast.parse(source, str(path))
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        return ModuleEntry(path.stem, path, error=f"{path}:{line}: syntax error: {getattr(exc, 'msg', exc)}")
    doc = ast.get_docstring(tree) or ""
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    names = _top_level_names(tree)
    kinds = [kind for kind in KINDS if kind in names]
    if not kinds:
        return ModuleEntry(path.stem, path, summary=summary,
                           error="defines no map(record, params) function (nor filter, filter_map, array_map or aggregate)")
    if len(kinds) > 1:
        return ModuleEntry(path.stem, path, summary=summary,
                           error=f"defines {' and '.join(kinds)}; a module has exactly one kind")
    hooks = tuple(hook for hook in HOOKS if hook in names)
    return ModuleEntry(path.stem, path, kinds[0], summary, tuple(_params(tree)), hooks=hooks)


def _describe_wasm(path: Path) -> ModuleEntry:
    """A SmartModule's entry: compiling it and reading its exports and metadata runs none of its code."""
    from ..errors import SmartviewError
    from .module import load

    try:
        module = load(path)
    except SmartviewError as exc:
        return ModuleEntry(path.stem, path, error=exc.message, runtime="wasm")
    params = tuple(ParamEntry(spec.name, "required" if spec.required else "optional", "", spec.doc)
                   for spec in module.specs)
    hooks = tuple(hook for hook in HOOKS if getattr(module, hook, None) is not None)
    return ModuleEntry(module.name, path, module.kind, module.summary, params, hooks=hooks, runtime="wasm")


def _top_level_names(tree: ast.Module) -> set[str]:
    """The names the module binds at top level: functions, assignments, imports."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(target.id for target in node.targets if isinstance(target, ast.Name))
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update(alias.asname or alias.name for alias in node.names)
    return names


def _params(tree: ast.Module) -> list[ParamEntry]:
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    params = classes.get("Params")
    if params is None:
        return []
    entries = []
    for node in params.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            default, doc = _default_and_doc(node.value)
            entries.append(ParamEntry(node.target.id, _type_name(node.annotation, classes), default, doc))
    return entries


def _type_name(annotation: ast.expr, classes: dict[str, ast.ClassDef]) -> str:
    """`bool`, `int`, ..., or `one of a, b` for a Literal or an Enum defined in the module."""
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):  # a quoted annotation
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return annotation.value
    if isinstance(annotation, ast.Name) and annotation.id in SIMPLE_TYPES:
        return annotation.id
    if isinstance(annotation, ast.Subscript) and _last_name(annotation.value) == "Literal":
        items = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
        return "one of " + ", ".join(_value_text(item) for item in items)
    name = _last_name(annotation)
    if name in classes:
        members = [target.id for node in classes[name].body if isinstance(node, ast.Assign)
                   for target in node.targets if isinstance(target, ast.Name)]
        if members:
            return "one of " + ", ".join(members)
    return ast.unparse(annotation)


def _default_and_doc(value: ast.expr | None) -> tuple[str, str]:
    """The default as text, and the doc of `field(default=..., metadata={"doc": ...})`."""
    if value is None:
        return "(none)", ""
    if isinstance(value, ast.Call) and _last_name(value.func) == "field":
        keywords = {keyword.arg: keyword.value for keyword in value.keywords if keyword.arg}
        doc = ""
        metadata = keywords.get("metadata")
        if isinstance(metadata, ast.Dict):
            for key, item in zip(metadata.keys, metadata.values):
                if isinstance(key, ast.Constant) and key.value == "doc" and isinstance(item, ast.Constant):
                    doc = str(item.value)
        if "default" in keywords:
            return _value_text(keywords["default"]), doc
        if "default_factory" in keywords:
            return ast.unparse(keywords["default_factory"]) + "()", doc
        return "(none)", doc
    return _value_text(value), ""


def _value_text(node: ast.expr) -> str:
    """A value as `-e` takes it: true/false, numbers and strings as they are, an Enum member by name."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        if isinstance(node, ast.Attribute):  # Case.UPPER
            return node.attr
        return ast.unparse(node)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _last_name(node: ast.expr) -> str:
    """`Literal` for both `Literal` and `typing.Literal`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""
