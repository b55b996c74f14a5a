"""A Fluvio SmartModule (`.wasm`) as smartview runs it: loaded like a `.py` module, applied in blocks.

The module object answers like a Python `Module` so the rest of smartview treats both alike:
`kind`, `name`, `path`, `specs` (from SmartModule.toml), `doc`/`summary`, `initial`, `make_params`,
and two hooks that are None when the module does not export them:

- `init(params)`: calls the `init` export with `SmartModuleExtraParams` (the string map) in a fresh
  instance; a negative status raises ParamError with the module's hint ("Missing param key"), a usage
  error. A `WasmMapper` calls `init` on its own instance in `initialize()` (with the values it was
  given, before any record), and again on every fresh instance; a parameter change builds a new
  mapper, so `init` runs again then too.
- `look_back(records, params)`: hands records to the `look_back` export. The state it builds lives in
  an instance, so the call that counts is `WasmMapper.look_back(fetch)`, made on the mapper that then
  maps the range, as `Mapper.look_back` is; the module's hook only checks that the module takes the
  records without error (status < 0 raises ParamError with the hint).

`WasmMapper` answers `apply`, `apply_many` and `failure` like the Python `Mapper`, plus `apply_block`:
one call of the transform per block of records, which is where WebAssembly is fast. A record the
module fails on (its `SmartModuleTransformRuntimeError`) or traps on becomes a `Failure` for that record;
modules built with smdk stop a block at their first error, so the rest of the block is passed again,
one record per call for a while (`SINGLE_AFTER_FAILURE`) so that a topic where every record fails does
not cost time quadratic in the block size. `array_map` outputs carry no offset of their own (Fluvio
gives them offset delta 0), so an `array_map` is called one record at a time to know whose outputs
they are.
"""

from __future__ import annotations

import copy
import math
import os
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import wasmtime

from . import encoding, host
from .metadata import read as read_metadata
from ...errors import ModuleError, ParamError
from ...record import Record
from ..params import ParamSpec
from ..runner import Failure, Output

# The engine takes the first of these a module exports (crates/fluvio-smartengine instance.rs).
TRANSFORMS = ("filter", "map", "filter_map", "array_map", "aggregate")
KIND_TAGS = {"filter": 0, "map": 1, "array_map": 2, "aggregate": 3, "filter_map": 4}
BLOCK_LIMIT = 4096  # records per call at most: bounds what a failure in a block costs to pass again
SINGLE_AFTER_FAILURE = 64  # records passed one per call after a failure
_COMPONENT = b"\x0d\x00\x01\x00"


def call_timeout() -> float | None:
    return _timeout[0]


_timeout: list[float | None] = [None]


def set_call_timeout(seconds: float | None) -> None:
    """`--timeout`: a deadline on every WebAssembly call from now on in this process (and its forks)."""
    _timeout[0] = seconds
    if seconds is not None:
        host.start_ticker()


def wasi_output(data: bytes) -> None:
    """Where a module's WASI stdout and stderr go: smartview's stderr (nowhere in the viewer)."""
    try:
        sys.stderr.write(data.decode("utf-8", "replace"))
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class WasmModule:
    """A loaded SmartModule: its compiled code, its kind, its parameters from the metadata."""

    runtime = "wasm"
    function = None
    takes_params = True
    params_class = None

    def __init__(self, path: Path, compiled: wasmtime.Module, kind: str, exports: set[str],
                 specs: tuple[ParamSpec, ...], doc: str) -> None:
        self.name = path.stem
        self.path = path
        self.compiled = compiled
        self.kind = kind
        self.specs = specs
        self.doc = doc
        self.initial = b""
        self.has_init = "init" in exports
        self.has_look_back = "look_back" in exports
        self.init = self._init if self.has_init else None
        self.look_back = self._look_back if self.has_look_back else None
        # A look_back module keeps state from record to record in its memory: mapped from the start in
        # one pass, like an aggregate, and its checkpoints hold a copy of that memory (WasmMapper.snapshot).
        self.stateful = kind == "aggregate" or self.has_look_back

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def make_params(self, values: dict[str, str] | None = None) -> SimpleNamespace:
        """The string values the module's `init` receives; listed parameters default to empty.

        Any key is accepted, listed or not: a module without metadata takes its parameters on trust,
        as Fluvio does, and its `init` says what it misses.
        """
        given = dict(values or {})
        for spec in self.specs:
            given.setdefault(spec.name, spec.default)
        return SimpleNamespace(**given)

    def instantiate(self) -> host.Instance:
        try:
            return host.Instance(self.compiled, wasi_output)
        except (wasmtime.WasmtimeError, wasmtime.Trap) as exc:
            raise ModuleError(f"{self.path}: cannot be instantiated: {host.trap_message(exc)}") from None

    def call_init(self, instance: host.Instance, params: Any) -> None:
        listed = {spec.name for spec in self.specs}
        # A listed parameter left empty is not passed, so the module's init can say it is missing.
        values = {key: str(value) for key, value in vars(params).items() if str(value) != "" or key not in listed}
        data = encoding.encode_init_input(values)
        try:
            status, handed = instance.call("init", data, encoding.VERSION, _deadline())
        except host.CallTrap as exc:
            raise ParamError(f"{self.path}: init trapped: {exc}") from None
        if status < 0:
            raise ParamError(f"{self.path}: init failed: {_hint(handed, status, INIT_STATUS)}")

    def _init(self, params: Any) -> None:
        self.call_init(self.instantiate(), params)

    def _look_back(self, records: list[Record], params: Any) -> None:
        instance = self.instantiate()
        if self.has_init:
            self.call_init(instance, params)
        look_back(self, instance, records)


INIT_STATUS = {-1: "unknown error", -2: "init error", -10: "failed to decode the init input",
               -11: "failed to encode the init output"}
LOOK_BACK_STATUS = {-1: "unknown error", -66: "failed to decode the look_back input",
                    -77: "failed to decode the look_back records", -88: "failed to encode the look_back output",
                    -99: "look_back error"}
TRANSFORM_STATUS = {-1: "unknown error", -11: "failed to decode the input", -22: "failed to decode the records",
                    -33: "failed to encode the output", -44: "failed to parse the extra params",
                    -55: "undefined right record in a join"}


def _hint(handed: bytes, status: int, names: dict[int, str]) -> str:
    if handed:
        try:
            return encoding.decode_hint(handed).strip().splitlines()[0]
        except (encoding.DecodeError, IndexError):
            pass
    return f"status {status} ({names.get(status, 'unknown status')})"


def _deadline() -> int:
    seconds = call_timeout()
    return host.NO_DEADLINE if seconds is None else max(1, math.ceil(seconds / host.TICK)) + 1


def look_back(module: WasmModule, instance: host.Instance, records: list[Record]) -> None:
    if not records:
        return
    data = encoding.encode_input([(r.offset, r.key, r.value) for r in records], records[0].offset)
    try:
        status, handed = instance.call("look_back", data, encoding.VERSION, _deadline())
    except host.CallTrap as exc:
        raise ParamError(f"{module.path}: look_back trapped: {exc}") from None
    if status < 0:
        raise ParamError(f"{module.path}: look_back failed: {_hint(handed, status, LOOK_BACK_STATUS)}")


def with_params(module: Any, names: Any) -> Any:
    """The module, with a text parameter for each of `names` its metadata does not list (so the panel
    shows a value given with `-e` or added in the viewer); the module itself when there are none."""
    if getattr(module, "runtime", "python") != "wasm":
        return module
    listed = {spec.name for spec in module.specs}
    extra = tuple(ParamSpec(name, "str", str, "", doc="not in the module's metadata")
                  for name in names if name not in listed)
    if not extra:
        return module
    shown = copy.copy(module)
    shown.specs = module.specs + extra
    return shown


def is_wasm_path(arg: str) -> bool:
    return arg.endswith(".wasm")


def load(path: Path) -> WasmModule:
    """Read, check and compile a `.wasm`; every problem is a one-line ModuleError naming the file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModuleError(f"module file {path} cannot be read: {exc.strerror}") from None
    if data[:4] != b"\x00asm":
        raise ModuleError(f"{path}: not a WebAssembly file (it does not start with \\0asm)")
    if data[4:8] == _COMPONENT:
        raise ModuleError(f"{path}: a WebAssembly component, not a core module; Fluvio SmartModules are "
                          "core modules built for wasm32-unknown-unknown or wasm32-wasip1")
    try:
        compiled = host.compile_module(data)
    except wasmtime.WasmtimeError as exc:
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        detail = lines[-1] if lines else "invalid"
        raise ModuleError(f"{path}: not a valid WebAssembly module: {detail}") from None
    exports = {item.name: item.type for item in compiled.exports}
    kind = next((name for name in TRANSFORMS if name in exports), None)
    if kind is None:
        raise ModuleError(f"{path}: not a Fluvio SmartModule: it exports none of {', '.join(TRANSFORMS)}")
    _check_abi(path, compiled, exports, kind)
    meta = read_metadata(path)
    specs = tuple(ParamSpec(name, "str", str, "", doc=text, required=not optional)
                  for name, text, optional in meta.params)
    doc = meta.description or f"Fluvio SmartModule ({kind}, WebAssembly)"
    return WasmModule(path, compiled, kind, set(exports), specs, doc)


def _check_abi(path: Path, compiled: wasmtime.Module, exports: dict[str, Any], kind: str) -> None:
    """The shape Fluvio's engine requires: memory, alloc(len), f(ptr, len, version) -> i32, copy_records."""
    wanted = "(i32, i32, i32) -> i32"
    for name in (kind, "init", "look_back"):
        if name in exports and _signature(exports[name]) != wanted:
            raise ModuleError(f"{path}: export {name} is {_signature(exports[name])}, not {wanted}: built for "
                              "a SmartModule ABI this host does not speak (Fluvio's is f(ptr, len, version) -> i32)")
    if not isinstance(exports.get("memory"), wasmtime.MemoryType):
        raise ModuleError(f"{path}: exports no memory; a Fluvio SmartModule exports `memory`")
    if "alloc" not in exports or _signature(exports["alloc"]) != "(i32) -> i32":
        raise ModuleError(f"{path}: exports no alloc(len) -> ptr; a Fluvio SmartModule exports `alloc`")
    if not any(item.name == "copy_records" for item in compiled.imports):
        raise ModuleError(f"{path}: imports no copy_records(ptr, len): built for a SmartModule ABI this host "
                          "does not speak")


def _signature(kind: Any) -> str:
    if not isinstance(kind, wasmtime.FuncType):
        return type(kind).__name__
    names = lambda types: ", ".join(str(t) for t in types)  # noqa: E731
    return f"({names(kind.params)}) -> {names(kind.results)}"


class WasmMapper:
    """A SmartModule bound to parameter values, with an instance of its own in each process."""

    def __init__(
        self, module: WasmModule, params: Any, initial: Any = None, lookback: Any = None, tracebacks: bool = False
    ) -> None:
        """`tracebacks` is taken for the same calls as a Python Mapper's: a SmartModule's failure has none."""
        self.module = module
        self.params = params
        self.lookback = lookback
        if initial is None:
            initial = module.initial
        self.acc: bytes = initial.encode("utf-8") if isinstance(initial, str) else bytes(initial)
        self._name = module.kind
        self._tag = KIND_TAGS[module.kind]
        self._instance: host.Instance | None = None
        self._pid = 0
        self._single = 0

    def initialize(self) -> None:
        """Fluvio's init, on the instance that will map: a parameter it refuses is a usage error now."""
        self._fresh()

    def _fresh(self) -> host.Instance:
        instance = self.module.instantiate()
        if self.module.has_init:
            self.module.call_init(instance, self.params)
        self._instance, self._pid = instance, os.getpid()
        return instance

    def _live(self) -> host.Instance:
        """The instance to call: a fresh one after a fork, a trap, or once its memory grew past the limit."""
        instance = self._instance
        if instance is None or self._pid != os.getpid() or instance.memory_size() > host.RENEW_AT:
            instance = self._fresh()
        return instance

    def look_back(self, fetch: Any) -> None:
        """Hand the records its lookback asks for (`fetch(lookback)`, oldest first) to the module's
        `look_back`, on the instance that maps."""
        if self.lookback is not None and self.module.has_look_back:
            look_back(self.module, self._live(), fetch(self.lookback))

    def snapshot(self) -> Any:
        """The accumulator, and for a look_back module the state of its instance (`host.Instance.save`).

        A look_back module keeps its state (Fluvio's examples: the last value kept, a count) in its
        own linear memory, so a checkpoint copies that memory, compressed, with its exported mutable
        globals. Taken between calls, that is all a Rust-built module's state: its stack pointer (a
        global it does not export) is back at its initial value then, and its heap allocator's books
        are in the memory. The limit: a module that keeps state in a global it does not export, changed
        from call to call, is restored with that global at its initial value. An aggregate needs no
        copy: its accumulator is held by smartview and passed in on every call.
        """
        if not self.module.has_look_back:
            return self.acc
        instance = self._instance if self._pid == os.getpid() else None
        return (self.acc, instance.save() if instance is not None else None)

    def restore(self, state: Any) -> None:
        """Back to a snapshot: a fresh instance (its `init` called with this mapper's parameters), then
        the saved memory and globals written over it."""
        if not self.module.has_look_back:
            self.acc = state
            return
        self.acc, saved = state
        instance = self._fresh()
        if saved is not None:
            instance.load(saved)

    def apply(self, record: Record) -> Output | Failure:
        result = self.apply_block([record])[0]
        if isinstance(result, Failure):
            return result
        return result[0] if result else Output(record.offset, record.key, b"")

    def apply_many(self, record: Record) -> list[Output] | Failure:
        return self.apply_block([record])[0]

    def apply_block(self, records: list[Record]) -> list[list[Output] | Failure]:
        """What the module makes of each record, in order: its outputs, or the failure of that record."""
        outputs, failures = self.apply_flat([(r.offset, r.key, r.value) for r in records])
        failed = {failure.offset: failure for failure in failures}
        results: list[list[Output] | Failure] = []
        at, count = 0, len(outputs)
        for record in records:
            offset = record.offset
            if offset in failed:
                results.append(failed[offset])
                continue
            mine = []
            while at < count and outputs[at][0] == offset:
                mine.append(Output(*outputs[at]))
                at += 1
            results.append(mine)
        return results

    def apply_flat(self, records: list[tuple[int, bytes | None, bytes]]
                   ) -> tuple[list[tuple[int, bytes | None, bytes]], list[Failure]]:
        """(offset, key, value) records in; every output as (source offset, key, value), and the failures.

        The fast path of `--print`: no object per output. Outputs are in record order.
        """
        outputs: list[tuple[int, bytes | None, bytes]] = []
        failures: list[Failure] = []
        start, count = 0, len(records)
        while start < count:
            single = self._single > 0 or self._tag == 2
            size = 1 if single else min(count - start, BLOCK_LIMIT)
            done, pinned = self._call(records[start:start + size], outputs, failures)
            if done < size:  # a failure at record `done`: reported when pinned, else passed again alone
                self._single = SINGLE_AFTER_FAILURE
                start += done + pinned
            else:
                start += size
                if single and self._single:
                    self._single -= 1
        return outputs, failures

    def _call(self, chunk: list[tuple[int, bytes | None, bytes]], outputs: list, failures: list[Failure]
              ) -> tuple[int, int]:
        """Map `chunk` with one call, adding to `outputs` and `failures`.

        Returns how many records succeeded before a failure, and 1 if that failure was pinned on its
        record (reported), 0 if not (a trap in a block: the caller passes those records again alone).
        """
        base = chunk[0][0]
        aggregate = self._tag == 3
        data = (encoding.encode_aggregate_input(chunk, base, self.acc) if aggregate
                else encoding.encode_input(chunk, base))
        instance = self._live()
        try:
            status, handed = instance.call(self._name, data, encoding.VERSION, _deadline())
            if status < 0:
                raise host.CallTrap(f"returned status {status} ({TRANSFORM_STATUS.get(status, 'unknown status')})")
            made, error, acc = encoding.decode_output(handed, aggregate)
        except (host.CallTrap, encoding.DecodeError) as exc:
            self._instance = None  # after a trap the instance's state cannot be trusted
            if len(chunk) > 1:
                return 0, 0
            failures.append(self._failure(chunk[0], self._trap_text(exc), ""))
            return 0, 1
        if acc is not None:
            self.acc = acc
        return self._sort(chunk, made, error, outputs, failures)

    def _trap_text(self, exc: Exception) -> str:
        text = str(exc)
        seconds = call_timeout()
        if "interrupt" in text and seconds is not None:
            return f"{self._name} took longer than {seconds:g} s (--timeout)"
        if isinstance(exc, encoding.DecodeError):
            return f"{self._name} handed over an output that does not decode: {text}"
        return f"{self._name} trapped: {text}"

    def _sort(self, chunk: list[tuple[int, bytes | None, bytes]], made: list, error: encoding.RuntimeError_ | None,
              outputs: list, failures: list[Failure]) -> tuple[int, int]:
        """Give each output the offset of its record (from its offset delta) and the failure its record."""
        base = chunk[0][0]
        consecutive = chunk[-1][0] - base == len(chunk) - 1
        failed = len(chunk)
        if error is None and consecutive:
            if len(chunk) == 1:
                outputs.extend([(base, key, value) for _, key, value in made])
                return 1, 0
            if all(0 <= delta < failed for delta, _, _ in made):  # every delta names a record of the chunk
                outputs.extend([(base + delta, key, value) for delta, key, value in made])
                return failed, 0
        position = {record[0] - base: index for index, record in enumerate(chunk)}
        if error is not None:
            failed = position.get(error.offset - base, 0)
        current = 0
        for delta, key, value in made:
            current = position.get(delta, current) if len(chunk) > 1 else 0
            if current < failed:
                outputs.append((chunk[current][0], key, value))
        if error is None:
            return failed, 0
        hint = error.hint.strip()
        lines = hint.splitlines() or [""]
        detail = hint if len(lines) > 1 else ""  # eyre's chain of causes, shown by `smartview test`
        failures.append(self._failure(chunk[failed], f"{self._name} failed: {lines[0]}", detail))
        return failed, 1

    def _failure(self, record: tuple[int, bytes | None, bytes], error: str, detail: str) -> Failure:
        return Failure(record[0], error, str(self.module.path), detail, record[2])

    def failure(self, offset: int, value: bytes, exc: BaseException) -> Failure:
        return Failure(offset, f"{self._name} raised {type(exc).__name__}: {exc}", str(self.module.path), "", value)

    def report(self, topic: str, offset: int, value: bytes, exc: BaseException) -> str:
        return self.failure(offset, value, exc).report(topic) + "\n"
