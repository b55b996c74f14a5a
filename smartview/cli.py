"""The `smartview` command: view a topic, print it headless, list topics and modules, produce records.

Everything the user asked for is checked here before any record is read, and problems are reported as
one line naming what was wrong, with exit status 2. The Textual app is imported only when the viewer
opens, so `--print` and the other commands start fast.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import os
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .core.modules import chain as chain_mod
from .core import config as config_mod
from .core.modules import module as module_mod
from .core.errors import SmartviewError
from .core.runs.formats import FIELDS, KAFKA_FIELDS, LineFormat
from .core.children import take_stdin
from .core.descendants import adopt_orphans, end_descendants
from .core.modules.module import Module
from .core.modules.params import parse_assignments
from .core.runs.printer import Printer, Range, stdout_is_terminal
from .core.sources.topic import KAFKA_SCHEME, Topic, count_records, is_kafka_address, list_topics, path_for_new, resolve

COMMANDS = ("topics", "modules", "produce", "test", "new")
USAGE_ERROR = 2


@dataclass(frozen=True)
class Selection:
    """What to open: the topic, the module (or None), and the parameter values as given (strings).

    `stages` lists every module of a chain with its own values; `module` and `values` are its first.
    """

    topic: Topic
    module: Module | None
    values: dict[str, str]
    modules_dirs: list[Path]
    stages: tuple[tuple[Module, dict[str, str]], ...] = ()
    # Where `--map NAME` looks without this run's --modules-dir flags (for the copied command), found
    # before any module ran: a module may change the working directory, and the config found from it.
    named_dirs: tuple[Path, ...] | None = None


def run() -> None:
    """The `smartview` command: `main`, then nothing that module code started outlives it.

    A thread a module started (not a daemon) would keep the interpreter waiting at exit, and processes it
    started would go on after smartview: the output is flushed, every process below this one is ended
    (descendants.py), and the process exits at once.
    """
    code = main()
    _end(code)


def _end(code: int) -> None:
    """Flush, end every process below this one, and exit now: no waiting for threads a module started."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed pipe or terminal, or a signal arriving in the middle of a write
            pass
    end_descendants()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        if argv and argv[0] in COMMANDS:
            return _run_command(argv[0], argv[1:])
        return _run_topic(argv)
    except SmartviewError as exc:
        print(f"smartview: {exc.message}", file=sys.stderr)
        return USAGE_ERROR
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def _silence_stdout() -> None:
    """After the reader of a pipe went away (`| head`), drop further output instead of failing at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--topics-dir", metavar="DIR", help="where topics live (env SMARTVIEW_TOPICS_DIR)")
    parser.add_argument(
        "--modules-dir", metavar="DIR", action="append", help="another folder of modules (repeatable)"
    )


def _kafka_flags(parser: argparse.ArgumentParser) -> None:
    """How to reach a Kafka cluster: only used when the topic is a kafka: address (docs/kafka.md)."""
    group = parser.add_argument_group("Kafka topics (kafka://HOST:PORT/TOPIC[?partition=N])")
    group.add_argument("--bootstrap-server", metavar="HOST:PORT", help="broker for kafka:///TOPIC addresses")
    group.add_argument("--sasl-mechanism", metavar="NAME", help="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512")
    group.add_argument("--sasl-username", metavar="USER")
    group.add_argument("--sasl-password", metavar="PASSWORD", help="better: SMARTVIEW_KAFKA_SASL_PASSWORD")
    group.add_argument("--tls-ca", metavar="FILE", help="CA certificate file: connect with TLS")
    group.add_argument(
        "-X", dest="kafka_options", metavar="KEY=VALUE", action="append", default=[],
        help="a librdkafka property, passed as is (repeatable)",
    )


def _kafka_topic(arg: str, args: argparse.Namespace, config: config_mod.Config):
    """The KafkaTopic a kafka: address names, with the Kafka flags, environment and config applied."""
    from .core.sources import kafka

    security = {name: getattr(args, name) for name in kafka.SECURITY_ENV}
    return kafka.parse_address(
        arg, args.bootstrap_server, kafka.config_bootstrap(config.path), security,
        kafka.parse_options(args.kafka_options),
    )


def _kafka_name(arg: str) -> str:
    """The topic name inside a kafka: address, to find the topic's defaults in the config."""
    return arg.split("?")[0].rstrip("/").rsplit("/", 1)[-1].removeprefix(KAFKA_SCHEME)


@functools.cache
def _terminal_width() -> int:
    """The width argparse would use (as shutil.get_terminal_size finds it, without importing shutil)."""
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 80
    return columns - 2


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's formatter, asking the terminal's width once rather than once per option (start-up counts)."""
    return argparse.HelpFormatter(prog, width=_terminal_width())


def _topic_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        formatter_class=_formatter,
        prog="smartview",
        description="View a topic through a Python map module with live parameters. "
        "Other commands: smartview topics | modules | produce TOPIC | test MODULE | new NAME.",
        epilog="Exit status: 0 ok, 1 some records failed, 2 bad usage (topic, module or parameter).",
    )
    parser.add_argument("topic", metavar="TOPIC", help="a topic name, or the path of a JSONL file")
    parser.add_argument(
        "--map", metavar="MODULE", action="append",
        help="module name (from the modules folders) or path.py; repeat it to chain modules",
    )
    parser.add_argument("--transforms", metavar="FILE", help="a TOML file listing modules to chain, with parameters")
    parser.add_argument(
        "-e", "--params", metavar="KEY=VALUE", action="append", default=[], help="set a parameter (repeatable)"
    )
    parser.add_argument("--print", action="store_true", help="print mapped records instead of opening the viewer")
    start = parser.add_mutually_exclusive_group()
    start.add_argument("-B", "--beginning", action="store_true", help="from the first record (default for --print)")
    start.add_argument("--start", type=_offset, metavar="OFFSET", help="from this offset")
    start.add_argument("-H", "--head", type=_offset, metavar="N", help="the first N records")
    start.add_argument("-T", "--tail", type=_offset, metavar="N", help="the last N records")
    parser.add_argument("--end", type=_offset, metavar="OFFSET", help="stop after this offset (inclusive)")
    parser.add_argument("--follow", action="store_true", help="keep printing records as they are appended")
    parser.add_argument("-k", "--key-value", action="store_true", help="print [key] value ([null] without a key)")
    parser.add_argument("-F", "--format", metavar="TEMPLATE", help="e.g. '{{offset}} {{value}}' (also {{key}})")
    parser.add_argument(
        "--on-error", choices=("continue", "stop"), default="continue", help="what a failing record does"
    )
    parser.add_argument(
        "--aggregate-initial", metavar="VALUE", help="an aggregate's starting accumulator (else its INITIAL)"
    )
    parser.add_argument("--jobs", type=_jobs, default=None, metavar="N|auto", help="worker processes for --print")
    parser.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="a record taking longer becomes a failure (--print)"
    )
    _common(parser)
    _kafka_flags(parser)
    parser.add_argument("--version", action="version", version=f"smartview {__version__}")
    return parser


def _offset(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is negative")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < 86400:
        raise argparse.ArgumentTypeError("--timeout takes a number of seconds above 0 and below a day")
    return value


def _jobs(text: str) -> int | None:
    if text == "auto":
        return None
    value = _offset(text)
    if value < 1:
        raise argparse.ArgumentTypeError("--jobs takes a number of at least 1, or auto")
    return value


def _run_topic(argv: list[str]) -> int:
    args = _topic_parser().parse_args(argv)
    if args.print:
        # Module code gets /dev/null as its stdin; records piped to smartview would be read from `kept`.
        kept = take_stdin()
        try:
            return _print(args, _select(args))
        finally:
            kept.close()
    _check_viewer_flags(args)
    return _view(_select(args), args.aggregate_initial)


PRINT_ONLY = {
    "beginning": "-B", "start": "--start", "head": "-H", "tail": "-T", "end": "--end", "follow": "--follow",
    "key_value": "-k", "format": "-F", "jobs": "--jobs", "timeout": "--timeout",
}


def _check_viewer_flags(args: argparse.Namespace) -> None:
    """Flags that shape --print output mean nothing to the viewer: say so rather than ignore them."""
    given = [flag for name, flag in PRINT_ONLY.items() if getattr(args, name) not in (None, False)]
    if args.on_error != "continue":
        given.append("--on-error")
    if given:
        raise SmartviewError(
            f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only with --print; "
            "the viewer shows the whole topic and follows it"
        )


def _view(selection: Selection, initial: str | None = None) -> int:
    if getattr(selection.topic, "kafka", False):
        from .core.sources.kafka_index import KafkaIndex

        index: Any = KafkaIndex(selection.topic)  # one partition, opened at its end; errors exit 2 here
    else:
        from .core.sources.index import LineIndex

        index = LineIndex(selection.topic.path)
    indexed = index.build_in_background()  # overlaps indexing a large topic with Textual's import
    # Textual batches screen updates at 60 per second by default, which alone adds up to 17 ms to the
    # moment an appended record shows; 120 halves that and costs nothing while the screen is still.
    os.environ.setdefault("TEXTUAL_FPS", "120")
    # The screen's size comes from the terminal alone. Textual, through shutil, prefers COLUMNS and LINES
    # when they are exported (test runners and some scripts do), and those keep their value when the
    # terminal is resized: every frame after a resize would be drawn at the old size.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    from .tui.app import run_viewer  # Textual costs ~0.2 s to import: only the viewer pays it

    adopt_orphans()  # a module picked later runs too: what it starts must stay findable
    _end_on_hangup()

    # Descriptor 1 stays the terminal: Textual asks it for the screen size. Module code runs in a child
    # process whose descriptor 1 goes nowhere (core/runs/rowprocess.py), so it cannot paint over the screen.
    return run_viewer(selection, index=(index, indexed), initial=initial)


def _select(args: argparse.Namespace) -> Selection:
    """What to open, with every path made absolute before any module code runs (a module may chdir)."""
    config = config_mod.load_config()
    topics_dir = config_mod.topics_dir(args.topics_dir, config)
    if is_kafka_address(args.topic):
        topic = _kafka_topic(args.topic, args, config)
    else:
        topic = resolve(args.topic, topics_dir)
        topic = dataclasses.replace(topic, path=_absolute(topic.path))
    dirs = [_absolute(folder) for folder in config_mod.modules_dirs(args.modules_dir, config)]
    named = tuple(_absolute(folder) for folder in config_mod.modules_dirs(None, config))
    values = parse_assignments(args.params)
    wanted = _wanted_modules(args, config, values)
    if not wanted:
        if values:
            raise SmartviewError("parameters given with -e but no module selected; add --map MODULE")
        return Selection(topic, None, {}, dirs, named_dirs=named)
    paths = [_absolute(module_mod.find(name, dirs)) for name, _ in wanted]
    adopt_orphans()  # what the modules start stays findable, to be ended with smartview
    with contextlib.redirect_stdout(sys.stderr):  # a module printing at import must not reach stdout
        modules = [module_mod.load(path) for path in paths]
    given = chain_mod.split_values(modules, values)
    stages = tuple((m, {**base, **extra}) for m, (_, base), extra in zip(modules, wanted, given))
    for module, module_values in stages:
        try:
            module.make_params(module_values)  # parse now: bad values stop the run before any record
        except SmartviewError as exc:
            raise SmartviewError(f"{module.name}: {exc.message}" if len(stages) > 1 else exc.message) from None
    return Selection(topic, stages[0][0], stages[0][1], dirs, stages, named)


def _absolute(path: Path) -> Path:
    """The path from the working directory of now (symlinks kept, so messages name what was given)."""
    return Path(os.path.abspath(path))


def _wanted_modules(args: argparse.Namespace, config: config_mod.Config, values: dict[str, str]):
    """The modules to apply, each with its base values: --map, else --transforms, else the config's."""
    if args.map and args.transforms:
        raise SmartviewError("give modules with --map or with --transforms, not both")
    if args.transforms:
        return chain_mod.read_transforms(Path(args.transforms))
    if args.map:
        return [(name, {}) for name in args.map]
    name = _kafka_name(args.topic) if is_kafka_address(args.topic) else args.topic
    defaults = config.for_topic(name)
    return [(defaults.map, dict(defaults.params))] if defaults.map else []


def _print(args: argparse.Namespace, selection: Selection) -> int:
    fields = KAFKA_FIELDS if getattr(selection.topic, "kafka", False) else FIELDS  # Kafka adds {{timestamp}}
    fmt = LineFormat(args.key_value, args.format, fields)
    escape = stdout_is_terminal()
    with _records_only_on_stdout() as out:
        printer = Printer(
            selection.topic,
            list(selection.stages),
            fmt,
            out,
            sys.stderr,
            stop_on_error=args.on_error == "stop",
            jobs=args.jobs,
            escape=escape,
            timeout=args.timeout,
            initial=args.aggregate_initial,
        )
        stop = threading.Event()
        if args.follow:
            _stop_on_signals(stop)
            _stop_when_closed(out.fileno(), stop)
        selection_range = Range(start=args.start, head=args.head, tail=args.tail, end=args.end)
        result = printer.run(selection_range, follow=args.follow, stop=stop)
    return 1 if result.failed else 0


@contextlib.contextmanager
def _records_only_on_stdout():
    """A file for the records on the real stdout, while descriptor 1 itself points at stderr.

    Modules run in this process (and its workers); whatever they write to descriptor 1, even with
    `os.write`, then lands on stderr instead of among the records.
    """
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "wb")
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield out
        out.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), out.fileno())  # so closing it cannot fail again
        raise
    finally:
        try:
            out.close()
        except BrokenPipeError:
            pass
        os.dup2(saved, 1)
        os.close(saved)


def _stop_on_signals(stop: threading.Event) -> None:
    """SIGINT and SIGTERM end a follow promptly, after what was read has been printed and flushed."""

    def handle(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGHUP, handle)  # the terminal closed (`tmux kill-server`): end the same way


def _stop_when_closed(fd: int, stop: threading.Event) -> None:
    """End a follow as soon as the reader of stdout goes away (`| head -1`), even while no record arrives.

    A closed pipe is otherwise only noticed by the next write, which may be hours away. A thread waits on
    the descriptor for POLLERR or POLLHUP (a pipe whose reader closed, a terminal that hung up).
    """
    import select

    def watch() -> None:
        poller = select.poll()
        poller.register(fd, 0)  # no events asked for: POLLERR and POLLHUP are always reported
        while not stop.is_set():
            if poller.poll(200):
                stop.set()
                return

    threading.Thread(target=watch, name="smartview-stdout-watch", daemon=True).start()


def _end_on_hangup() -> None:
    """SIGHUP (the terminal closed, `tmux kill-server`) or SIGTERM ends the viewer and every process below it.

    The viewer's main thread never runs module code, so the handler always gets to run.
    """

    def handle(signum: int, frame: Any) -> None:
        _end(128 + signum)

    signal.signal(signal.SIGHUP, handle)
    signal.signal(signal.SIGTERM, handle)


def _run_command(name: str, argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"smartview {name}", formatter_class=_formatter)
    _common(parser)
    if name == "produce":
        parser.description = "Append one record per input line to a topic, creating it if needed."
        parser.add_argument("topic", metavar="TOPIC")
        parser.add_argument("-f", "--file", metavar="FILE", help="read records from FILE instead of stdin")
        parser.add_argument(
            "--key-separator", metavar="SEP", help="Kafka topics: the text before SEP on each line is the record's key"
        )
        _kafka_flags(parser)
    if name == "test":
        parser.description = "Run a module on inline input and print each output; failures show their traceback."
        parser.add_argument("module", metavar="MODULE", help="module name or path.py")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--text", action="append", metavar="VALUE", help="a record (repeatable)")
        source.add_argument("--file", metavar="FILE", help="one record per line of FILE")
        source.add_argument("--stdin", action="store_true", help="one record per line of standard input")
        parser.add_argument("-e", "--params", metavar="KEY=VALUE", action="append", default=[])
        parser.add_argument("--aggregate-initial", metavar="VALUE")
    if name == "new":
        parser.description = "Write a new module from a template, with a test file beside it."
        parser.add_argument("name", metavar="NAME")
        parser.add_argument("--kind", default="map", choices=module_mod.KINDS)
        parser.add_argument("--params", action="store_true", help="add a Params dataclass")
        parser.add_argument("--dir", default=".", metavar="DIR", help="where to write it (default: here)")
    args = parser.parse_args(argv)
    if name == "new":
        from .workbench import new_module

        for path in new_module(args.name, args.kind, args.params, Path(args.dir)):
            print(f"wrote {path}")
        return 0
    config = config_mod.load_config()
    if name == "topics":
        return _list_topics(config_mod.topics_dir(args.topics_dir, config))
    if name == "modules":
        return _list_modules(config_mod.modules_dirs(args.modules_dir, config))
    if name == "test":
        from .workbench import read_inputs, run_test

        kept = take_stdin()  # the module gets /dev/null; --stdin records come from `kept`
        inputs = read_inputs(args.text, args.file, kept if args.stdin else None)
        path = _absolute(module_mod.find(args.module, config_mod.modules_dirs(args.modules_dir, config)))
        adopt_orphans()
        with contextlib.redirect_stdout(sys.stderr):
            module = module_mod.load(path)
        values = parse_assignments(args.params)
        module.make_params(values)
        return run_test(module, values, inputs, args.aggregate_initial)
    if is_kafka_address(args.topic):
        from .core.sources.kafka_produce import produce_file

        return produce_file(_kafka_topic(args.topic, args, config), args.file, args.key_separator, sys.stderr)
    if args.key_separator is not None:
        raise SmartviewError("--key-separator applies to Kafka topics only: file topics have no keys")
    return _produce(path_for_new(args.topic, config_mod.topics_dir(args.topics_dir, config)), args.file)


def _list_topics(topics_dir: Path) -> int:
    topics = list_topics(topics_dir)
    if not topics:
        print(f"no topics in {topics_dir}", file=sys.stderr)
        return 0
    width = max(len(t.name) for t in topics)
    print(f"{'TOPIC':<{width}}  {'RECORDS':>10}  {'SIZE':>10}")
    for topic in topics:
        size = topic.path.stat().st_size
        print(f"{topic.name:<{width}}  {count_records(topic.path):>10,}  {_size(size):>10}")
    return 0


def _size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _list_modules(dirs: list[Path]) -> int:
    """Every module with its kind, summary and parameters, read from the source: none of them runs."""
    from .core.modules.listing import list_modules

    for entry in list_modules(dirs):
        if entry.error is not None:
            print(f"{entry.name}  (does not load: {entry.error})\n")
            continue
        print(f"{entry.name}  [{entry.kind}]  {entry.summary}")
        print(f"    {entry.path}")
        for param in entry.params:
            print(f"    -e {param.name}=…  {param.type_name}, default {param.default}")
        print()
    return 0


def _produce(path: Path, file: str | None) -> int:
    from .core.sources.produce import ProduceError, produce

    try:
        if file is None:
            produce(path, sys.stdin.buffer)
            return 0
        with open(file, "rb") as source:
            produce(path, source)
    except FileNotFoundError:
        raise SmartviewError(f"input file {file} does not exist") from None
    except ProduceError as exc:
        print(f"smartview: {exc.message}", file=sys.stderr)
        return 1
    return 0
