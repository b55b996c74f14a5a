"""wasmtime underneath: one engine per process, compiled modules cached on disk, instances with limits.

The engine has epoch interruption on, so `--timeout` stops a WebAssembly call for real: a ticker
thread advances the epoch every TICK seconds and each call gets a deadline counted in ticks. A forked
`--print` worker starts its own ticker (threads do not survive a fork). Compiled code is cached under
`$XDG_CACHE_HOME/smartview/wasm/` (else `~/.cache/smartview/wasm/`), keyed by the SHA-256 of the file
and the wasmtime version, so opening a module again skips compiling it.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
import weakref
import zlib
from collections.abc import Callable
from typing import Any
from pathlib import Path

import wasmtime

from ...config import cache_folder

TICK = 0.01  # seconds per epoch tick
NO_DEADLINE = 1 << 62  # ticks: "never" for a call without --timeout
MEMORY_LIMIT = 256 << 20  # bytes one instance's memories may reach (wasmtime refuses growth beyond)
RENEW_AT = MEMORY_LIMIT // 2  # a fresh instance before a call once the memory is this big

_engine: wasmtime.Engine | None = None
_ticker_pid = 0
_ticker_lock = threading.Lock()


def engine() -> wasmtime.Engine:
    global _engine
    if _engine is None:
        config = wasmtime.Config()
        config.epoch_interruption = True
        _engine = wasmtime.Engine(config)
    return _engine


def start_ticker() -> None:
    """Advance the engine's epoch every TICK seconds in this process (once per process)."""
    global _ticker_pid
    with _ticker_lock:
        if _ticker_pid == os.getpid():
            return
        _ticker_pid = os.getpid()
    current = engine()

    def tick() -> None:
        stop = threading.Event()
        while not stop.wait(TICK):
            current.increment_epoch()

    threading.Thread(target=tick, name="smartview-wasm-epoch", daemon=True).start()


def cache_dir() -> Path:
    return cache_folder("wasm")


def compile_module(data: bytes) -> wasmtime.Module:
    """The compiled module for these bytes, from the cache when it has them.

    A cache entry that does not load (another wasmtime, a cut write) is compiled again and replaced; a
    cache folder that cannot be written only costs the next start a compile.
    """
    version = _wasmtime_version()
    digest = hashlib.sha256(data).hexdigest()
    entry = cache_dir() / f"{digest}-{version}.cwasm"
    current = engine()
    if entry.is_file():
        try:
            return wasmtime.Module.deserialize_file(current, str(entry))
        except wasmtime.WasmtimeError:
            pass
    module = wasmtime.Module(current, data)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        partial = entry.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(module.serialize())
        os.replace(partial, entry)
    except OSError:
        pass
    return module


def _wasmtime_version() -> str:
    """The installed wasmtime's version, from its dist-info folder (importlib.metadata costs 17 ms)."""
    site = Path(wasmtime.__file__).resolve().parent.parent
    found = sorted(path.name for path in site.glob("wasmtime-*.dist-info"))
    return found[-1].removeprefix("wasmtime-").removesuffix(".dist-info") if found else "unknown"


class CallTrap(Exception):
    """A WebAssembly call that trapped (unreachable, out of bounds, stack overflow, deadline)."""


# Every store still open. A store whose WASI output goes to a Python callback must be closed while the
# interpreter still runs: closed by the garbage collector during shutdown, its finalizer calls into
# callback machinery already torn down and the process ends with a segmentation fault.
_stores: weakref.WeakSet[wasmtime.Store] = weakref.WeakSet()


@atexit.register
def _close_stores() -> None:
    for store in list(_stores):
        store.close()


class Instance:
    """One instance of a compiled SmartModule: writes input at `alloc(len)`, calls, reads what the
    module handed over through `copy_records`.

    `output_sink` receives what the module writes to WASI stdout and stderr (never the records).
    """

    def __init__(self, module: wasmtime.Module, output_sink: Callable[[bytes], None]) -> None:
        self.store = wasmtime.Store(engine())
        _stores.add(self.store)
        self.store.set_limits(memory_size=MEMORY_LIMIT)
        self.store.set_epoch_deadline(NO_DEADLINE)
        wasi = wasmtime.WasiConfig()
        wasi.stdout_custom = output_sink
        wasi.stderr_custom = output_sink
        self.store.set_wasi(wasi)
        linker = wasmtime.Linker(engine())
        linker.define_wasi()
        self._handed: tuple[int, int] | None = None
        for item in module.imports:
            if item.name == "copy_records":
                linker.define_func(item.module, item.name,
                                   wasmtime.FuncType([wasmtime.ValType.i32(), wasmtime.ValType.i32()], []),
                                   self._copy_records)
        self.instance = linker.instantiate(self.store, module)
        exports = self.instance.exports(self.store)
        self.memory = exports["memory"]
        self.alloc = exports["alloc"]
        self.exports = exports

    def _copy_records(self, ptr: int, length: int) -> None:
        self._handed = (ptr & 0xFFFFFFFF, length & 0xFFFFFFFF)

    def memory_size(self) -> int:
        return self.memory.data_len(self.store)

    def save(self) -> tuple[int, bytes, tuple[tuple[str, Any], ...]]:
        """The instance's state between calls: its memory's size in pages, the whole memory compressed
        (zlib level 1: it is mostly zeros), and the values of its exported mutable globals.

        Between calls this is all the state a Rust-built module has: its stack pointer is a global it
        does not export, back at its initial value whenever no call runs, and its allocator keeps its
        books in linear memory. A module whose state lives in a global it does not export and that
        changes from call to call is not faithfully saved (wasm gives the host no way to read one).
        """
        store = self.store
        pages = self.memory.size(store)
        data = zlib.compress(bytes(self.memory.read(store, 0, self.memory.data_len(store))), 1)
        return pages, data, tuple((name, item.value(store)) for name, item in self._mutable_globals())

    def load(self, state: tuple[int, bytes, tuple[tuple[str, Any], ...]]) -> None:
        """Put back what `save` returned (on a fresh instance of the same module): memory grown to the
        saved size, its bytes written back, the globals set."""
        store = self.store
        pages, data, globals_ = state
        if pages > self.memory.size(store):
            self.memory.grow(store, pages - self.memory.size(store))
        self.memory.write(store, zlib.decompress(data), 0)
        mutable = dict(self._mutable_globals())
        for name, value in globals_:
            if name in mutable:
                mutable[name].set_value(store, value)

    def _mutable_globals(self) -> list[tuple[str, wasmtime.Global]]:
        return [(name, item) for name, item in self.exports.items()
                if isinstance(item, wasmtime.Global) and item.type(self.store).mutable]

    def call(self, name: str, data: bytes, version: int, deadline_ticks: int = NO_DEADLINE) -> tuple[int, bytes]:
        """Call export `name` on `data`: its status and the bytes handed over (empty when none)."""
        store = self.store
        self._handed = None
        store.set_epoch_deadline(deadline_ticks)
        try:
            ptr = self.alloc(store, len(data))
            self.memory.write(store, data, ptr & 0xFFFFFFFF)
            status = self.exports[name](store, ptr, len(data), version)
        except wasmtime.Trap as exc:
            raise CallTrap(trap_message(exc)) from None
        except wasmtime.WasmtimeError as exc:
            raise CallTrap(trap_message(exc)) from None
        finally:
            store.set_epoch_deadline(NO_DEADLINE)
        handed = b""
        if self._handed is not None:
            ptr, length = self._handed
            try:
                handed = bytes(self.memory.read(store, ptr, ptr + length))
            except (ValueError, IndexError, wasmtime.WasmtimeError) as exc:
                raise CallTrap(f"copy_records({ptr}, {length}) is outside the module's memory") from exc
        return status, handed


def trap_message(exc: Exception) -> str:
    """The trap's own line ("wasm trap: call stack exhausted"), without wasmtime's backtrace."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    lines = [line.split(": ", 1)[1] if line.split(": ", 1)[0].isdigit() else line for line in lines]
    traps = [line for line in lines if line.startswith("wasm trap:")]
    if traps:
        return traps[-1]
    caused = lines[lines.index("Caused by:") + 1:] if "Caused by:" in lines else lines
    return caused[-1] if caused else type(exc).__name__
