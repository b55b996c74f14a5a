"""Map modules: plain Python files with a `map(record, params)` function and an optional `Params` dataclass.

A module needs nothing from smartview to work. Loading one runs its code with the user's rights, like
running a script, so modules are only ever loaded from the module directories and from paths the user
typed, never from a topic's folder or from anything found in records.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from . import params as params_mod
from ..errors import ModuleError, SmartviewError
from .forks import end_if_forked
from .params import ParamSpec

# The SmartModule kinds. A module defines exactly one of these functions:
#   map(record, params) -> value            filter(record, params) -> bool
#   filter_map(record, params) -> value | None
#   array_map(record, params) -> list of values
#   aggregate(acc, record, params) -> new acc (emitted after each record; starts from INITIAL)
# and may define Fluvio's two optional hooks:
#   init(params)                 called once before the first record, and again after a parameter
#                                change; what it raises is a usage error (the run does not start)
#   look_back(record, params)    fed the records before the first one read (a transforms file's
#                                `lookback:`, `--lookback-last`), so the module can rebuild its state
KINDS = ("map", "filter", "filter_map", "array_map", "aggregate")
HOOKS = ("init", "look_back")
_load_counter = itertools.count()


class Module:
    """A loaded module: its entry function, what parameters it declares, and where it came from.

    The runs read only `name`, `path`, `kind`, `specs`, `doc`, `initial`, `init` and `look_back` (set,
    or None when the module has no such hook) and `stateful` from it, and call it through a Mapper;
    a module of another runtime answers the same attributes.
    A plain slotted class rather than a dataclass: making one costs every start with a module about half
    a millisecond. Read-only by convention.
    """

    __slots__ = ("name", "path", "kind", "function", "takes_params", "params_class", "specs", "doc", "initial",
                 "init", "look_back", "namespace", "fresh_globals")

    def __init__(
        self,
        name: str,
        path: Path,
        kind: str,
        function: Callable[..., Any],
        takes_params: bool,
        params_class: type | None,
        specs: tuple[ParamSpec, ...],
        doc: str,
        initial: Any = b"",
        init: Callable[..., Any] | None = None,
        look_back: Callable[..., Any] | None = None,
        namespace: ModuleType | None = None,
        fresh_globals: bytes | None = None,
    ) -> None:
        self.name = name
        self.path = path
        self.kind = kind
        self.function = function
        self.takes_params = takes_params
        self.params_class = params_class
        self.specs = specs
        self.doc = doc
        self.initial = initial  # an aggregate's starting accumulator (the module's INITIAL)
        self.init = init  # init(params), Fluvio's init hook
        self.look_back = look_back  # look_back(record, params), Fluvio's look_back hook
        self.namespace = namespace  # the module's globals: a look_back module keeps its state there
        self.fresh_globals = fresh_globals  # those variables as imported (pickled), to start each run from

    @property
    def stateful(self) -> bool:
        """Whether outputs depend on earlier records: an aggregate, or a module with a look_back hook.

        Such a module is mapped in one pass from the start, in one process, with checkpoints.
        """
        return self.kind == "aggregate" or self.look_back is not None

    @property
    def summary(self) -> str:
        """The first line of the module's docstring, for listings and the module picker."""
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def make_params(self, values: dict[str, str] | None = None) -> Any:
        """A Params instance: defaults, overridden by the given string values."""
        return params_mod.build(self.params_class, list(self.specs), values or {}, str(self.path))


# A module folder may hold Python modules and Fluvio SmartModules: NAME.py wins over NAME.wasm.
SUFFIXES = (".py", ".wasm")


def is_module_path(arg: str) -> bool:
    return arg.endswith(SUFFIXES) or "/" in arg


def find(arg: str, dirs: list[Path]) -> Path:
    """The file `--map ARG` means: a path as given, or NAME.py (else NAME.wasm) in the first module
    directory that has either."""
    if is_module_path(arg):
        path = Path(arg)
        if not path.is_file():
            raise ModuleError(f"module file {arg} does not exist")
        return path
    for folder in dirs:
        for suffix in SUFFIXES:
            candidate = folder / f"{arg}{suffix}"
            if candidate.is_file():
                return candidate
    known = ", ".join(available_names(dirs)) or "none"
    searched = ", ".join(str(d) for d in dirs)
    raise ModuleError(f"module {arg!r} not found in {searched}; available modules: {known}")


def available_names(dirs: list[Path]) -> list[str]:
    """Module names in the directories, first directory winning a name, sorted."""
    return sorted({path.stem for path in available_paths(dirs)})


def available_paths(dirs: list[Path]) -> list[Path]:
    seen: dict[str, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            continue
        for suffix in SUFFIXES:
            for path in sorted(folder.glob(f"*{suffix}")):
                if not path.name.startswith("_") and path.stem not in seen:
                    seen[path.stem] = path
    return sorted(seen.values(), key=lambda p: p.stem)


def load(path: Path) -> Module:
    """Import a module file and check it against the module contract (a `.wasm` is a Fluvio SmartModule).

    Raises ModuleError with the file and line of a syntax error or of the line that failed at import.
    """
    if path.suffix == ".wasm":
        return _load_wasm(path)
    if path.suffix != ".py":  # Python would not know how to import it: a traceback, or a topic run as code
        raise ModuleError(f"module file {path} is neither Python (.py) nor a SmartModule (.wasm)")
    namespace = _execute(path)
    functions = [kind for kind in KINDS if callable(getattr(namespace, kind, None))]
    if not functions:
        raise ModuleError(
            f"{path}: defines no map(record, params) function (nor filter, filter_map, array_map or aggregate)"
        )
    if len(functions) > 1:
        raise ModuleError(f"{path}: defines {' and '.join(functions)}; a module has exactly one kind")
    kind = functions[0]
    function = getattr(namespace, kind)
    params_class = getattr(namespace, "Params", None)
    try:
        specs = params_mod.describe(params_class, str(path))
    except SmartviewError as exc:
        raise ModuleError(exc.message) from None
    return Module(
        name=path.stem,
        path=path,
        kind=kind,
        function=function,
        takes_params=_takes_params(function, 3 if kind == "aggregate" else 2),
        params_class=params_class,
        specs=tuple(specs),
        doc=namespace.__doc__ or "",
        initial=getattr(namespace, "INITIAL", b""),
        init=_hook(namespace, "init", path),
        look_back=_hook(namespace, "look_back", path),
        namespace=namespace,
        fresh_globals=_fresh_globals(namespace) if getattr(namespace, "look_back", None) is not None else None,
    )


def variables(namespace: ModuleType | None) -> dict[str, Any]:
    """A module's own variables (not its functions, classes or imports): where a look_back module keeps state."""
    import types

    hidden = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    items = vars(namespace).items() if namespace is not None else ()
    return {name: value for name, value in items if not name.startswith("__") and not isinstance(value, hidden)}


def _fresh_globals(namespace: ModuleType) -> bytes | None:
    """A look_back module's variables as imported; None when they cannot be copied (then runs share them)."""
    import pickle

    try:
        return pickle.dumps(variables(namespace), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return None


def _hook(namespace: ModuleType, name: str, path: Path) -> Callable[..., Any] | None:
    """An optional hook; a name that is there but not a function is a mistake worth stopping for."""
    hook = getattr(namespace, name, None)
    if hook is None:
        return None
    if not callable(hook):
        raise ModuleError(f"{path}: `{name}` is a {type(hook).__name__}; {name} must be a function")
    return hook


def _load_wasm(path: Path) -> Any:
    """A SmartModule; wasmtime is imported only when one is opened."""
    try:
        from .wasm.module import load as load_wasm
    except ImportError as exc:
        raise ModuleError(f"{path}: WebAssembly modules need the wasmtime package ({exc})") from None
    return load_wasm(path)


def _execute(path: Path) -> ModuleType:
    """Run the file as a fresh module registered under a private name (dataclasses and typing need that)."""
    try:
        source = path.read_bytes()
    except OSError as exc:
        raise ModuleError(f"module file {path} cannot be read: {exc.strerror}") from None
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        line = (exc.text or "").strip()
        shown = f": {line}" if line else ""
        raise ModuleError(f"{path}:{exc.lineno}: syntax error: {exc.msg}{shown}") from None
    name = f"smartview_user_module_{next(_load_counter)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: a module must not end smartview by importing
        del sys.modules[name]
        raise ModuleError(f"{where_failed(exc, path)}: {describe_exception(exc)} while importing the module") from None
    finally:
        end_if_forked()  # a copy the module forked at import must not go on as a second smartview
    return module


def _takes_params(function: Callable[..., Any], with_params: int) -> bool:
    """Whether to pass params: `map(record)` is allowed for modules without parameters.

    Read from the code object rather than `inspect.signature`: importing inspect costs 5 ms of start-up.
    """
    code = getattr(function, "__code__", None)
    if code is None:
        return True
    takes_varargs = bool(code.co_flags & 0x04)  # CO_VARARGS
    return code.co_argcount >= with_params or takes_varargs


def describe_exception(exc: BaseException) -> str:
    """`KeyError: 'type'` style: the exception's class and message on one line."""
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


def where_failed(exc: BaseException, path: Path) -> str:
    """`file:line` of the deepest frame in the module file, so the author sees their own line."""
    wanted = str(path)
    line = module_line(exc, wanted)
    return wanted if line is None else f"{wanted}:{line}"


def module_line(exc: BaseException, filename: str) -> int | None:
    """The line of the deepest frame of `filename` in the exception's traceback, if any.

    Read straight from the traceback's frames: no source lines are looked up and nothing is formatted,
    so a module that fails on every record costs a few times one that does not, not a hundred.
    """
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def module_traceback(exc: BaseException, path: Path) -> str:
    """The traceback from the module's first frame on: smartview's own frames say nothing to its author."""
    import traceback  # with textwrap, about 1 ms of every start: only a shown failure needs it

    frames = traceback.extract_tb(exc.__traceback__)
    wanted = str(path)
    for index, frame in enumerate(frames):
        if frame.filename == wanted:
            frames = frames[index:]
            break
    lines = traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip()
