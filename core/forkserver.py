"""The viewer's children forked from a small server process rather than started as fresh interpreters.

A fresh `python -P -m ...` costs every child about 10 MB of memory of its own (the interpreter and the
imports) and 40-60 ms of processor time, on the path to the first screen (the row process is started
while Textual is imported) and again for every background pass. So the viewer forks, once and early
(before any thread exists and before Textual is imported), a server that imports what the children
need, freezes it (`gc.freeze`, so that no collection writes to those pages) and then only forks: each
child is a copy of it, sharing every page neither has written to since.

Each child is made by a double fork, so that it is the viewer's own child, as one started with Popen
is: the server forks a middle process, which forks the child and exits; the viewer is the subreaper
(descendants.py), so the orphaned child is handed to the viewer, which waits for it, kills it and reads
its exit status as before. The child starts its work only once the server has seen the middle process
gone (and so the child handed over): a pass that watches `os.getppid()` to notice the viewer ending
sees the viewer from the start.

The pipes are made by the viewer and handed to the server over an AF_UNIX socket (SCM_RIGHTS). The
child then keeps every guarantee of an exec'd one: descriptors 0 and 1 are the pipes, 2 is /dev/null,
no other descriptor is open, the folder the viewer was started from (or its script's folder) is not on
`sys.path` (what `-P` gives), it sees the viewer's environment and working directory as they are when
it is asked for, and SIGINT raises KeyboardInterrupt again. Where there is no server (not Linux, a
thread already running, the viewer not a subreaper, `SMARTVIEW_FORK_SERVER=0`) or the server has died,
children are exec'd.
"""

from __future__ import annotations

import collections
import gc
import importlib
import os
import pickle
import signal
import socket
import struct
import sys
import threading
from typing import Any, BinaryIO

# What the children import: imported once by the server, shared by every child it forks.
PRELOAD = (
    "smartview.core.runs.rowprocess",
    "smartview.core.runs.census",
    "smartview.core.runs.outputs",
    "smartview.core.runs.priority",
    "smartview.core.runs.batch",
    "smartview.core.modules.chain",
    "smartview.core.modules.module",
    "smartview.core.modules.runner",
    "smartview.core.sources.halves",
    "smartview.core.sources.source",
    "mmap",
    "tempfile",
    "json",
)
PID = struct.Struct("q")
REPLY_WAIT = 10.0  # seconds to wait for the server to fork a child before it is given up for dead
NAME = b"smartview-forks"  # what `ps` and `top` show for the server

_server: Server | None = None


def start_server(startup_path: list[str]) -> None:
    """Fork the server now, if this process may: Linux, one thread, and the subreaper of what it starts.

    `startup_path` is `sys.path` as the interpreter set it up, with the folder it put first (the
    script's, or the working directory) already left out: the children import with that.
    """
    global _server
    if _server is not None or os.environ.get("SMARTVIEW_FORK_SERVER") == "0" or not _can_fork():
        return
    for stream in (sys.stdout, sys.stderr):  # nothing buffered here is written twice by a copy
        try:
            stream.flush()
        except Exception:
            pass
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    gc.freeze()  # the objects that exist now stay out of collections: their pages stay shared
    try:
        pid = os.fork()
    except OSError:
        ours.close()
        theirs.close()
        return
    if pid == 0:
        _serve(theirs, ours.fileno(), startup_path)  # never returns
    theirs.close()
    _server = Server(ours, pid)


def running() -> Server | None:
    """The server, while it is there to fork children."""
    server = _server
    return server if server is not None and server.alive else None


def _can_fork() -> bool:
    """Whether a fork of this process is a sound copy: a platform with fd passing and pidfds, one thread."""
    if not hasattr(os, "fork") or not hasattr(socket, "send_fds") or not hasattr(os, "pidfd_open"):
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1  # a fork copies only the thread that calls it
    except OSError:
        return False


# -- the viewer's side ------------------------------------------------------------------------------


class Server:
    """The viewer's end of the server's socket: asks for children, learns their process ids."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.pid = pid
        self.alive = True
        self._socket = sock
        self._lock = threading.Lock()
        self._waiting: collections.deque[Forked] = collections.deque()  # asked for, in order
        threading.Thread(target=self._read, name="smartview-forks", daemon=True).start()

    def start(self, module: str) -> Forked | None:
        """A child running `module`'s main(), with pipes to its stdin and stdout; None when the server is gone."""
        child_stdin, stdin = os.pipe()
        stdout, child_stdout = os.pipe()
        child = Forked(module, os.fdopen(stdin, "wb"), os.fdopen(stdout, "rb"), (child_stdin, child_stdout))
        request = pickle.dumps((module, dict(os.environ), _cwd()), protocol=pickle.HIGHEST_PROTOCOL)
        with self._lock:
            try:
                if not self.alive:
                    raise BrokenPipeError
                socket.send_fds(self._socket, [request], [child_stdin, child_stdout])
            except OSError:
                child.close_pipes()
                return None
            self._waiting.append(child)
        return child

    def _read(self) -> None:
        """Hand each reply (the child's process id) to the child asked for first; exec the waiting ones once the server is gone."""
        while True:
            try:
                reply = self._socket.recv(PID.size)
            except OSError:
                reply = b""
            with self._lock:
                if len(reply) < PID.size:
                    self.alive = False
                    waiting, self._waiting = list(self._waiting), collections.deque()
                else:
                    child = self._waiting.popleft()
            if len(reply) < PID.size:
                break
            child.forked(PID.unpack(reply)[0])
        for child in waiting:
            child.forked(-1)
        self._socket.close()
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass

    def kill(self) -> None:
        """End the server (the waiting children are then exec'd)."""
        if not self.alive:  # already reaped: its id may be another process's by now
            return
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except OSError:  # the working directory was removed: the child stays in the server's
        return None


class Forked:
    """A child made by the server, used as a Popen is: `stdin`, `stdout`, `pid`, `poll`, `wait`, `kill`.

    Its pipes work at once; the process id arrives when the server has forked it. If the server dies
    first, the child is started as a fresh interpreter on the same pipes, so nothing written is lost.
    """

    def __init__(self, module: str, stdin: BinaryIO, stdout: BinaryIO, ends: tuple[int, int]) -> None:
        self.module = module
        self.stdin: BinaryIO | None = stdin
        self.stdout: BinaryIO | None = stdout
        self.returncode: int | None = None
        self._ends: tuple[int, int] | None = ends  # the child's ends of the pipes, until it has them
        self._pid: int | None = None
        self._popen: Any = None  # the exec'd stand-in, if the server died
        self._known = threading.Event()
        self._lock = threading.Lock()

    def forked(self, pid: int) -> None:
        """The server's reply: the child's process id, or -1 (no server, or its fork failed): exec it."""
        if pid < 0:
            from .children import popen

            assert self._ends is not None
            try:
                self._popen = popen(self.module, self._ends[0], self._ends[1])
                pid = self._popen.pid
            except OSError:
                self.returncode = 1  # as if it had ended at once: its user reads EOF
        self._pid = pid
        self._close_ends()
        self._known.set()

    @property
    def pid(self) -> int:
        self._wait_known()
        return self._pid if self._pid is not None else -1

    def poll(self) -> int | None:
        """The exit status once it has ended (a signal's as its negative number), else None; never waits."""
        if not self._known.is_set():
            return None
        return self._reap(os.WNOHANG)

    def wait(self, timeout: float | None = None) -> int:
        """The exit status, waiting up to `timeout` seconds (subprocess.TimeoutExpired after that)."""
        import select
        import subprocess
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._wait_known(timeout):
            raise subprocess.TimeoutExpired(self.module, timeout or 0)
        if self._popen is not None:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self.returncode = self._popen.wait(left)
            return self.returncode
        if timeout is None:
            return self._reap(0)
        try:
            watch = os.pidfd_open(self._pid)
        except OSError:  # already reaped
            return self._reap(os.WNOHANG)
        try:
            poller = select.poll()
            poller.register(watch, select.POLLIN)
            poller.poll(max(0.0, deadline - time.monotonic()) * 1000)
        finally:
            os.close(watch)
        status = self._reap(os.WNOHANG)
        if status is None:
            raise subprocess.TimeoutExpired(self.module, timeout)
        return status

    def kill(self) -> None:
        self._wait_known()
        if self._popen is not None:
            self._popen.kill()
        elif self.poll() is None and self._pid:  # not reaped yet: the id is still this child's
            try:
                os.kill(self._pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def close_pipes(self) -> None:
        for pipe in (self.stdin, self.stdout):
            if pipe is not None:
                pipe.close()
        self._close_ends()

    def _wait_known(self, timeout: float | None = None) -> bool:
        """Wait for the server's reply; one that does not come in REPLY_WAIT means the server is stuck: it is ended."""
        if self._known.wait(REPLY_WAIT if timeout is None else min(timeout, REPLY_WAIT)):
            return True
        if timeout is not None and timeout < REPLY_WAIT:
            return False
        if _server is not None:
            _server.kill()  # its reader then execs every child still waiting, this one included
        return self._known.wait(REPLY_WAIT)

    def _reap(self, flags: int) -> int | None:
        if self._popen is not None:
            self.returncode = self._popen.wait() if flags == 0 else self._popen.poll()
            return self.returncode
        # As Popen does: a poll while another thread waits for the child answers "still running".
        if not self._lock.acquire(blocking=flags == 0):
            return None
        try:
            if self.returncode is not None or not self._pid:
                return self.returncode
            try:
                pid, status = os.waitpid(self._pid, flags)
            except ChildProcessError:  # reaped elsewhere (smartview ending): it has ended
                self.returncode = 0
                return 0
            if pid == 0:
                return None
            self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode
        finally:
            self._lock.release()

    def _close_ends(self) -> None:
        ends, self._ends = self._ends, None
        for fd in ends or ():
            os.close(fd)


# -- the server -------------------------------------------------------------------------------------


def _serve(sock: socket.socket, viewers_end: int, startup_path: list[str]) -> None:
    """The server's life: away from the terminal, import what children need, then fork one per request."""
    code = 0
    try:
        _leave_the_terminal(sock.fileno())
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C while the viewer starts is the viewer's to act on
        _name(NAME)
        for name in PRELOAD:
            try:
                importlib.import_module(name)
            except Exception:
                pass  # the child that needs it will say why
        gc.collect()
        gc.freeze()
        while True:
            message, fds, _, _ = socket.recv_fds(sock, 1 << 20, 2)
            if not message:
                break  # the viewer is gone
            try:
                module, env, cwd = pickle.loads(message)  # only ever from the viewer that forked this server
                pid = _fork_child(sock, fds, module, env, cwd, startup_path) if len(fds) == 2 else -1
            except Exception:
                pid = -1
            finally:
                for fd in fds:
                    os.close(fd)
            sock.send(PID.pack(pid))
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _leave_the_terminal(keep: int) -> None:
    """Descriptors 0-2 to /dev/null, every other one but the socket closed: nothing of the viewer's held open."""
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    os.close(null)
    os.closerange(3, keep)
    os.closerange(keep + 1, _max_fd())


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 1 << 16


def _name(name: bytes) -> None:
    try:
        with open("/proc/self/comm", "wb") as comm:
            comm.write(name[:15])
    except OSError:
        pass


def _fork_child(sock: socket.socket, fds: list[int], module: str, env: dict[str, str], cwd: str | None,
                startup_path: list[str]) -> int:
    """Fork the child through a middle process that exits at once; its process id once it is the viewer's."""
    handed, handed_back = os.pipe()  # the middle process sends the child's id on it
    go, ready = os.pipe()  # closed by the server once the child is the viewer's
    try:
        middle = os.fork()
        if middle == 0:
            try:
                child = os.fork()
                if child == 0:
                    for fd in (ready, handed, handed_back):
                        os.close(fd)
                    _wait_for_handover(go)
                    _run_child(sock, fds, module, env, cwd, startup_path)  # never returns
                os.write(handed_back, PID.pack(child))
            finally:
                os._exit(0)
        os.close(handed_back)
        handed_back = -1
        data = b""
        while chunk := os.read(handed, PID.size):
            data += chunk
        os.waitpid(middle, 0)  # gone: its child now belongs to the viewer, the subreaper
        return PID.unpack(data)[0] if len(data) == PID.size else -1
    finally:
        for fd in (handed, handed_back, go, ready):  # closing `ready` lets the child start
            if fd >= 0:
                os.close(fd)


def _wait_for_handover(go: int) -> None:
    while os.read(go, 1):
        pass
    os.close(go)


def _run_child(sock: socket.socket, fds: list[int], module: str, env: dict[str, str], cwd: str | None,
               startup_path: list[str]) -> None:
    """Become the child `python -P -m module` would be, and run it."""
    code = 1
    try:
        from .modules.forks import own_fork

        own_fork()  # smartview's own child: it goes on (forks.py)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        stdin, stdout = fds
        os.dup2(stdin, 0)
        os.dup2(stdout, 1)
        os.closerange(3, _max_fd())  # the socket, the pipes' spare ends
        os.environ.clear()
        os.environ.update(env)
        if cwd is not None:
            try:
                os.chdir(cwd)
            except OSError:
                pass
        sys.path[:] = startup_path
        _name(module.rsplit(".", 1)[-1].encode())
        gc.enable()
        loaded = importlib.import_module(module)
        sys.argv = [getattr(loaded, "__file__", None) or module]  # as `python -m module` has it
        loaded.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        code = 1
    finally:
        os._exit(code)
