"""The `smartview` command: view a topic, print it headless, list topics and modules, produce records.

Everything the user asked for is checked here before any record is read, and problems are reported as
one line naming what was wrong, with exit status 2. Every such line, and every listing, goes through
core/text.py: a path or value holding control characters is shown escaped, never acted on by the
terminal. The Textual app is imported only when the viewer opens, so `--print` and the other commands
start fast.
"""

from __future__ import annotations

import gc

# Importing makes many objects and no garbage: the collections it sets off (one per 700 new objects)
# only walk them, a fifth of the time these imports take. The viewer keeps collection off until its
# first frame (`_view`).
gc.disable()

import argparse
import contextlib
import functools
import os
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .core import config as config_mod
from .core.errors import SmartviewError
from .core.children import start_server, take_stdin
from .core.descendants import adopt_orphans, end_descendants
from .core.modules.params import parse_assignments
from .core.text import printable
from .core.sources.stream import StreamTopic, resolve_any
from .core.sources.topic import (
    KAFKA_SCHEME, Topic, count_records, is_kafka_address, list_topics, path_for_new, topic_problem,
)

gc.enable()

# The module machinery (and orjson with it) is imported where a module is loaded: `--print` without
# one, `topics` and `produce` start without it.
if TYPE_CHECKING:
    from .core.modules import chain as chain_mod
    from .core.modules.lookback import Lookback
    from .core.modules.module import Module

COMMANDS = ("topics", "modules", "produce", "test", "new")
USAGE_ERROR = 2


class Selection:
    """What to open: the topic, the module (or None), and the parameter values as given (strings).

    `stages` lists every module of a chain with its own values; `module` and `values` are its first.
    A plain slotted class rather than a dataclass: making one costs every start about half a
    millisecond. Read-only by convention: `with_topic` makes a changed copy.
    """

    __slots__ = ("topic", "module", "values", "modules_dirs", "stages", "lookbacks", "warnings", "named_dirs",
                 "patterns")

    def __init__(
        self,
        topic: Topic,
        module: Module | None,
        values: dict[str, str],
        modules_dirs: list[Path],
        stages: tuple[tuple[Module, dict[str, str]], ...] = (),
        lookbacks: tuple[Lookback | None, ...] = (),
        warnings: tuple[str, ...] = (),
        named_dirs: tuple[Path, ...] | None = None,
        patterns: tuple[str, ...] = (),
    ) -> None:
        self.topic = topic
        self.module = module
        self.values = values
        self.modules_dirs = modules_dirs
        self.stages = stages
        self.lookbacks = lookbacks  # per stage: what its look_back hook is fed
        self.warnings = warnings  # said on stderr already; the viewer shows them again
        # Where `--map NAME` looks without this run's --modules-dir flags (for the copied command), found
        # before any module ran: a module may change the working directory, and the config found from it.
        self.named_dirs = named_dirs
        self.patterns = patterns  # --grep / --grep-v (as `!PATTERN`): rows must match all of them

    def with_topic(self, topic: Topic) -> Selection:
        """The same selection opening `topic` instead."""
        return Selection(topic, self.module, self.values, self.modules_dirs, self.stages, self.lookbacks,
                         self.warnings, self.named_dirs, self.patterns)


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
        say_error(f"smartview: {exc.message}")
        return USAGE_ERROR
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def say_error(line: str) -> None:
    """Write one line to stderr with control characters escaped: it often quotes a path or value from outside."""
    print(printable(line), file=sys.stderr)


def _say(line: str) -> None:
    """Write a line of a listing: names, paths and docstrings from outside, escaped."""
    print(printable(line))


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors (which quote the argument given) escaped like every error line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        say_error(f"{self.prog}: error: {message}")
        sys.exit(USAGE_ERROR)


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
    parser = _Parser(
        formatter_class=_formatter,
        prog="smartview",
        description="View a topic through a Python map module with live parameters. "
        "Other commands: smartview topics | modules | produce TOPIC | test MODULE | new NAME.",
        epilog="Exit status: 0 ok, 1 some records failed, 2 bad usage (topic, module or parameter).",
    )
    parser.add_argument(
        "topic", metavar="TOPIC",
        help="a topic name, the path of a JSONL file (also .gz, .bz2, .xz, .zst) or a named pipe, or - for stdin",
    )
    parser.add_argument(
        "--map", metavar="MODULE", action="append",
        help="module name (from the modules folders) or path (.py, or a Fluvio SmartModule .wasm); repeat it to "
        "chain modules",
    )
    _transforms_flags(parser)
    parser.add_argument("--smartmodule", "--sm", dest="map", action="append", metavar="NAME",
                        help="as --map (Fluvio's spelling)")
    parser.add_argument("--smartmodule-path", dest="map", action="append", metavar="PATH", type=_module_path,
                        help="as --map with a path (Fluvio's spelling)")
    parser.add_argument(
        "-e", "--params", metavar="KEY=VALUE", action="append", default=[], help="set a parameter (repeatable)"
    )
    parser.add_argument("--print", action="store_true", help="print mapped records instead of opening the viewer")
    parser.add_argument(
        "--grep", metavar="PATTERN", action="append", default=[],
        help="only outputs matching PATTERN: text (any case), /regex/, .field=value, .field>=N; !PATTERN excludes",
    )
    parser.add_argument(
        "--grep-v", metavar="PATTERN", action="append", default=[], help="only outputs not matching PATTERN",
    )
    start = parser.add_mutually_exclusive_group()
    start.add_argument("-B", "--beginning", action="store_true", help="from the first record (default for --print)")
    start.add_argument("--start", type=_offset, metavar="OFFSET", help="from this absolute offset")
    start.add_argument("-H", "--head", type=_offset, metavar="N", help="from N records after the beginning (offset N)")
    start.add_argument("-T", "--tail", type=_offset, metavar="N", help="from N records before the end (the last N)")
    parser.add_argument("--end", type=_offset, metavar="OFFSET", help="stop after this offset (inclusive)")
    parser.add_argument("--count", type=_offset, metavar="N", help="stop after N records (smartview's own flag)")
    parser.add_argument(
        "-d", "--disable-continuous", action="store_true",
        help="stop at the end of the topic (what --print does unless --follow is given)",
    )
    parser.add_argument("--follow", action="store_true", help="keep printing records as they are appended")
    parser.add_argument("-k", "--key-value", action="store_true", help="print [key] value ([null] without a key)")
    parser.add_argument(
        "-F", "--format", metavar="TEMPLATE",
        help="e.g. '{{offset}} {{value}}' (also {{key}}, {{partition}}, {{time}})",
    )
    parser.add_argument(
        "--lookback-last", type=_offset, metavar="N",
        help="feed a module's look_back hook the N records before the first one printed",
    )
    parser.add_argument(
        "--on-error", choices=("continue", "stop"), default="continue", help="what a failing record does"
    )
    parser.add_argument(
        "--aggregate-initial", metavar="VALUE", help="an aggregate's starting accumulator (else its INITIAL)"
    )
    parser.add_argument("--jobs", type=_jobs, default=None, metavar="N|auto", help="worker processes for --print")
    parser.add_argument(
        "--max-record-bytes", type=_record_limit, default=None, metavar="SIZE",
        help="a longer record is reported and skipped, not read (default 64M; K, M, G suffixes; at least 1M)",
    )
    parser.add_argument(
        "--spool-max", type=_spool_size, default=None, metavar="SIZE",
        help="the viewer's copy of a pipe or compressed file stops growing here (default 1G; K, M, G suffixes)",
    )
    parser.add_argument(
        "--timeout", type=_seconds, metavar="SECONDS", help="a record taking longer becomes a failure (--print)"
    )
    _common(parser)
    _kafka_flags(parser)
    parser.add_argument("--version", action="version", version=f"smartview {__version__}")
    return parser


def _transforms_flags(parser: argparse.ArgumentParser) -> None:
    """Modules to chain as Fluvio gives them: a transforms file, or JSON entries on the command line."""
    parser.add_argument(
        "--transforms", "--transforms-file", metavar="FILE",
        help="a transforms file (Fluvio's YAML, or TOML for .toml) listing modules to chain",
    )
    parser.add_argument(
        "--transforms-line", "--transform", metavar="JSON", action="append", default=[],
        help='one transforms entry as JSON, e.g. \'{"uses":"where","with":{"equals":"login"}}\' (repeatable)',
    )


def _module_path(text: str) -> str:
    """`--smartmodule-path` always means a file, even a bare `name.wasm` in the working directory."""
    return text if "/" in text else f"./{text}"


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


def _record_limit(text: str) -> int:
    """A size in bytes, with an optional K, M or G (powers of 1024); at least one reading block (1 MiB)."""
    from .core.sources.reader import BLOCK_SIZE

    return _size_at_least(text, BLOCK_SIZE)


def _spool_size(text: str) -> int:
    """The spool's cap: a size like --max-record-bytes, at least 1 MiB."""
    return _size_at_least(text, 1 << 20)


def _size_at_least(text: str, least: int) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    number, unit = (text[:-1], units[text[-1].upper()]) if text[-1:].upper() in units else (text, 1)
    try:
        value = int(number) * unit
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size such as 64M or 1048576") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} is below the smallest limit, 1M")
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
    _check_range(args)
    if args.print:
        if args.spool_max is not None:
            raise SmartviewError("--spool-max applies only to the viewer; --print maps a pipe as it reads it")
        return _print(args, _select(args, guard_stdin=True))
    _check_viewer_flags(args)
    selection = _select(args)
    if len(selection.patterns) > 1:
        raise SmartviewError("the viewer's quick filter holds one pattern: give one --grep or --grep-v (or use --print)")
    if selection.stages:
        from .core.modules import chain as chain_mod

        with contextlib.redirect_stdout(sys.stderr):  # init refusing the values stops it here, exit status 2
            chain_mod.build(list(selection.stages), args.aggregate_initial)
    return _view(selection, args.aggregate_initial, args.max_record_bytes, args.spool_max)


PRINT_ONLY = {
    "beginning": "-B", "start": "--start", "head": "-H", "tail": "-T", "end": "--end", "follow": "--follow",
    "key_value": "-k", "format": "-F", "jobs": "--jobs", "timeout": "--timeout", "count": "--count",
    "disable_continuous": "-d", "lookback_last": "--lookback-last",
}


def _check_range(args: argparse.Namespace) -> None:
    """An end before the start selects nothing: `fluvio consume` refuses it, and so does smartview."""
    first = args.start if args.start is not None else args.head
    if args.end is not None and first is not None and args.end < first:
        flag = "--start" if args.start is not None else "-H"
        raise SmartviewError(f"--end {args.end} is before {flag} {first}: the end offset must be at or after the start")
    if args.follow and args.disable_continuous:
        raise SmartviewError("--follow and -d contradict each other: -d stops at the end, --follow waits for more")


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


def _view(selection: Selection, initial: str | None = None, max_record: int | None = None,
          spool_max: int | None = None) -> int:
    # Until the first frame (the app's `on_mount` turns it back on): importing Textual and building the
    # app make many objects and few cycles, and collecting them meanwhile costs about 5% of the start.
    gc.disable()
    subreaper = adopt_orphans()  # a module picked later runs too: what it starts must stay findable
    if subreaper and selection.stages:
        # With a module, the row process and the passes are forked from a server forked now, before any
        # thread starts and before Textual is imported (core/forkserver.py): they share its memory.
        start_server()
    spooled = isinstance(selection.topic, StreamTopic)
    if spooled:
        selection = _spooled(selection, spool_max)
    if getattr(selection.topic, "kafka", False):
        from .core.sources.kafka_index import KafkaIndex

        index: Any = KafkaIndex(selection.topic)  # one partition, opened at its end; errors exit 2 here
    else:
        from .core.sources.index import LineIndex
        from .core.sources.index_cache import IndexCache

        limit = {"max_record": max_record} if max_record else {}
        # A reopen counts only what was added; a spool is this run's own copy, never worth keeping an index of.
        index = LineIndex(selection.topic.path, cache=None if spooled else IndexCache(), **limit)
    # Forked now, before any thread; a large topic is counted once the first frame is drawn (index.py).
    indexed = index.build_in_background(hold=True)
    process = None
    if selection.stages:
        from .core.runs.rowprocess import RowProcess

        process = RowProcess()  # starts its interpreter and imports the modules while Textual is imported
        # A request without records: the child loads the modules and runs their init now, not at the first screen.
        process.send([(module.path, dict(values)) for module, values in selection.stages], [], initial=initial)
    # Textual batches screen updates at 60 per second by default, which alone adds up to 17 ms to the
    # moment an appended record shows; 120 halves that and costs nothing while the screen is still.
    os.environ.setdefault("TEXTUAL_FPS", "120")
    # The screen's size comes from the terminal alone. Textual, through shutil, prefers COLUMNS and LINES
    # when they are exported (test runners and some scripts do), and those keep their value when the
    # terminal is resized: every frame after a resize would be drawn at the old size.
    for name in ("COLUMNS", "LINES"):
        os.environ.pop(name, None)
    from .tui.app import run_viewer  # Textual costs ~0.2 s to import: only the viewer pays it

    _end_on_hangup()

    # Descriptor 1 stays the terminal: Textual asks it for the screen size. Module code runs in a child
    # process whose descriptor 1 goes nowhere (core/runs/rowprocess.py), so it cannot paint over the screen.
    return run_viewer(selection, index=(index, indexed), initial=initial, process=process)


def _spooled(selection: Selection, cap: int | None) -> Selection:
    """The selection with its stream topic copied into a spool, and the terminal put where the keys are read.

    Textual reads keys from descriptor 0, which held the records: the terminal (/dev/tty) takes its place.
    """
    from .core.sources.spool import Spool, SpooledTopic

    topic = selection.topic
    assert isinstance(topic, StreamTopic)
    _terminal_on_stdin()
    spool = Spool(topic, **({"cap": cap} if cap else {}))
    spool.start()
    return selection.with_topic(SpooledTopic(topic.name, spool.path, spool))


def _terminal_on_stdin() -> None:
    if os.isatty(0):
        return
    try:
        tty = os.open("/dev/tty", os.O_RDWR | os.O_CLOEXEC)
    except OSError as exc:
        raise SmartviewError(
            f"the viewer reads its keys from the terminal, and there is none (/dev/tty: "
            f"{(exc.strerror or str(exc)).lower()}); use --print to read a pipe without one"
        ) from None
    os.dup2(tty, 0)
    os.close(tty)


def _load_config() -> config_mod.Config:
    """The config, after saying on stderr which config file or module folder was ignored and why."""
    config = config_mod.load_config()
    for warning in config.warnings:
        say_error(f"smartview: {warning}")  # it names a path: escaped
    return config


def _select(args: argparse.Namespace, guard_stdin: bool = False) -> Selection:
    """What to open, with every path made absolute before any module code runs (a module may chdir).

    With `guard_stdin` (`--print`), standard input is moved out of module code's reach once the topic has
    taken it if it is the topic. The viewer keeps it: it reads its keys there (or from the terminal, which
    it puts on descriptor 0 when the records come on standard input).
    """
    config = _load_config()
    topics_dir = config_mod.topics_dir(args.topics_dir, config)
    if is_kafka_address(args.topic):
        topic = _kafka_topic(args.topic, args, config)
    else:
        topic = resolve_any(args.topic, topics_dir)  # a pipe on standard input is taken here, first
        if not isinstance(topic, StreamTopic) or topic.fd is None:
            topic = topic.with_path(_absolute(topic.path))
    if guard_stdin:
        take_stdin().close()  # module code reads /dev/null, never the records or the terminal
    dirs = [_absolute(folder) for folder in config_mod.modules_dirs(args.modules_dir, config)]
    named = tuple(_absolute(folder) for folder in config_mod.modules_dirs(None, config))
    values = parse_assignments(args.params)
    wanted = _wanted_modules(args, config, values)
    patterns = _patterns(args)
    if not wanted:
        if values:
            raise SmartviewError("parameters given with -e but no module selected; add --map MODULE")
        return Selection(topic, None, {}, dirs, warnings=config.warnings, named_dirs=named, patterns=patterns)
    from .core.modules import chain as chain_mod, module as module_mod

    paths = [_absolute(module_mod.find(entry.uses, dirs)) for entry in wanted]
    adopt_orphans()  # what the modules start stays findable, to be ended with smartview
    with contextlib.redirect_stdout(sys.stderr):  # a module printing at import must not reach stdout
        modules = [module_mod.load(path) for path in paths]
        given = chain_mod.split_values(modules, values)
        stages = tuple((m, {**entry.values, **extra}) for m, entry, extra in zip(modules, wanted, given))
        lookbacks = _lookbacks(modules, wanted, getattr(args, "lookback_last", None))
        for module, module_values in stages:
            try:
                module.make_params(module_values)  # parse now: bad values stop the run before any record
            except SmartviewError as exc:
                raise SmartviewError(f"{module.name}: {exc.message}" if len(stages) > 1 else exc.message) from None
    if any(lookback is not None and lookback.age is not None for lookback in lookbacks) and not getattr(
        topic, "kafka", False
    ):
        raise SmartviewError("a lookback `age` needs record timestamps, which file topics do not have; use `last`")
    return Selection(topic, stages[0][0], stages[0][1], dirs, stages, lookbacks, config.warnings, named, patterns)


def _absolute(path: Path) -> Path:
    """The path from the working directory of now (symlinks kept, so messages name what was given)."""
    return Path(os.path.abspath(path))


def _patterns(args: argparse.Namespace) -> tuple[str, ...]:
    """--grep and --grep-v patterns, checked now (a bad one is a usage error), `--grep-v P` as `!P`."""
    if not (args.grep or args.grep_v):
        return ()
    from .core.pattern import PatternError, parse

    patterns = tuple(args.grep) + tuple(f"!{text}" for text in args.grep_v)
    for flag, given, text in [("--grep", g, g) for g in args.grep] + [("--grep-v", g, f"!{g}") for g in args.grep_v]:
        try:
            parse(given)
            parse(text)
        except PatternError as exc:
            raise SmartviewError(f"{flag} {given!r}: {exc.reason}") from None
    return patterns


def _wanted_modules(args: argparse.Namespace, config: config_mod.Config, values: dict[str, str]):
    """The modules to apply, each with its base values: --map, else --transforms(-line), else the config's."""
    given = [flag for flag, on in (("--map", args.map), ("--transforms", args.transforms),
                                   ("--transforms-line", args.transforms_line)) if on]
    if len(given) > 1:
        raise SmartviewError(
            f"give modules with one of --map, --transforms or --transforms-line: {' and '.join(given)} were both given"
        )
    if not given:  # the config's module for this topic, if it names one
        defaults = config.for_topic(_kafka_name(args.topic) if is_kafka_address(args.topic) else args.topic)
        if not defaults.map:
            return []  # nothing to map: the module machinery stays unimported
        from .core.modules.chain import Transform

        return [Transform(defaults.map, dict(defaults.params))]
    from .core.modules import chain as chain_mod

    if args.transforms:
        return chain_mod.read_transforms(Path(args.transforms))
    if args.transforms_line:
        return chain_mod.read_transform_lines(args.transforms_line)
    return [chain_mod.Transform(name, {}) for name in args.map]


def _lookbacks(
    modules: list[Module], wanted: list[chain_mod.Transform], last: int | None
) -> tuple[Lookback | None, ...]:
    """Each module's lookback: `--lookback-last` for every module with a look_back hook, else the file's.

    A lookback for a module without a look_back hook is refused rather than ignored.
    """
    from .core.modules import chain as chain_mod

    if last is not None:
        from .core.modules.lookback import Lookback

        takers = [module for module in modules if module.look_back is not None]
        if not takers:
            names = ", ".join(str(module.path) for module in modules)
            raise SmartviewError(f"--lookback-last {last}: no module defines look_back(record, params) ({names})")
        return tuple(Lookback(last) if module.look_back is not None else None for module in modules)
    lookbacks = tuple(entry.lookback for entry in wanted)
    chain_mod.check_lookbacks([(module, {}) for module in modules], list(lookbacks))
    return lookbacks


def _print(args: argparse.Namespace, selection: Selection) -> int:
    from .core.runs.formats import FIELDS, KAFKA_FIELDS, LineFormat  # --print's own: the viewer never loads them
    from .core.runs.printer import Printer, Range, stdout_is_terminal

    fields = KAFKA_FIELDS if getattr(selection.topic, "kafka", False) else FIELDS  # Kafka adds {{timestamp}}
    fmt = LineFormat(args.key_value, args.format, fields)
    escape = stdout_is_terminal()
    if selection.patterns:
        from .core.modules import grep  # with core/pattern.py, only --grep and --grep-v need it

        stages = list(selection.stages) + [grep.stage(pattern) for pattern in selection.patterns]
    else:
        stages = list(selection.stages)
    lookbacks = list(selection.lookbacks or [None] * len(selection.stages)) + [None] * len(selection.patterns)
    with _records_only_on_stdout() as out:
        printer = Printer(
            selection.topic,
            stages,
            fmt,
            out,
            sys.stderr,
            stop_on_error=args.on_error == "stop",
            jobs=args.jobs,
            escape=escape,
            timeout=args.timeout,
            initial=args.aggregate_initial,
            lookbacks=lookbacks,
            **({"max_record": args.max_record_bytes} if args.max_record_bytes else {}),
        )
        stop = threading.Event()
        if args.follow:
            _stop_on_signals(stop)
            _stop_when_closed(out.fileno(), stop)
        selection_range = Range(start=args.start, head=args.head, tail=args.tail, end=args.end, count=args.count)
        if isinstance(selection.topic, StreamTopic):  # a pipe or compressed file: mapped as it is read
            from .core.runs.stream_print import print_stream

            result = print_stream(printer, selection.topic, selection_range, list(selection.lookbacks), stop)
        else:
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
        if "smartview.core.sources.spool" in sys.modules:  # records from a pipe: its spool goes too
            sys.modules["smartview.core.sources.spool"].remove_all()
        _end(128 + signum)

    signal.signal(signal.SIGHUP, handle)
    signal.signal(signal.SIGTERM, handle)


def _run_command(name: str, argv: list[str]) -> int:
    parser = _Parser(prog=f"smartview {name}", formatter_class=_formatter)
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
        parser.description = (
            "Run a module (or a chain) on inline input and print each output; failures show their traceback. "
            "Standard input is read when it is not a terminal and no other input is given."
        )
        parser.add_argument("module", metavar="MODULE", nargs="?", help="module name or path.py")
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--text", action="append", metavar="VALUE", help="a record (repeatable)")
        source.add_argument("--file", metavar="FILE", help="one record per line of FILE")
        source.add_argument("--stdin", action="store_true", help="one record per line of standard input")
        parser.add_argument("--raw", action="store_true", help="with --file: the whole file is one record")
        parser.add_argument("--key", metavar="KEY", help="the key of every test record")
        parser.add_argument("-k", "--key-value", action="store_true", help="print [key] value ([null] without a key)")
        parser.add_argument("-e", "--params", metavar="KEY=VALUE", action="append", default=[])
        parser.add_argument("--aggregate-initial", metavar="VALUE")
        _transforms_flags(parser)
        parser.add_argument(
            "-r", "--record", action="append", default=[], metavar="VALUE",
            help="a record already in the topic before the input, for look_back (repeatable)",
        )
        parser.add_argument(
            "-l", "--lookback-last", type=_offset, metavar="N", help="feed look_back the last N --record values",
        )
    if name == "new":
        parser.description = "Write a new module from a template into the first module folder (or --dir), with its test in tests/ below it."
        parser.add_argument("name", metavar="NAME")
        from .core.modules.module import KINDS

        parser.add_argument("--kind", default="map", choices=KINDS)
        parser.add_argument("--params", action="store_true", help="add a Params dataclass")
        parser.add_argument(
            "--dir", metavar="DIR",
            help="where to write it (default: the first module folder, so `--map NAME` finds it)",
        )
    args = parser.parse_args(argv)
    config = _load_config()
    if name == "new":
        return _new(args, config)
    if name == "topics":
        return _list_topics(config_mod.topics_dir(args.topics_dir, config))
    if name == "modules":
        return _list_modules(config_mod.modules_dirs(args.modules_dir, config))
    if name == "test":
        return _test(args, config)
    if is_kafka_address(args.topic):
        from .core.sources.kafka_produce import produce_file

        return produce_file(_kafka_topic(args.topic, args, config), args.file, args.key_separator, sys.stderr)
    if args.key_separator is not None:
        raise SmartviewError("--key-separator applies to Kafka topics only: file topics have no keys")
    return _produce(path_for_new(args.topic, config_mod.topics_dir(args.topics_dir, config)), args.file)


def _new(args: argparse.Namespace, config: config_mod.Config) -> int:
    """`smartview new`: write the module and its test, then say how to try and view it."""
    from .workbench import new_module, next_steps

    dirs = config_mod.modules_dirs(args.modules_dir, config)
    folder = Path(args.dir) if args.dir else dirs[0]
    written = new_module(args.name, args.kind, args.params, folder)
    for path in written:
        _say(f"wrote {path}")
    _say("next:")
    for step in next_steps(_map_argument(args.name, written[0], config), _first_topic(args, config)):
        _say(f"  {step}")
    return 0


def _map_argument(name: str, path: Path, config: config_mod.Config) -> str:
    """How `--map` finds the module at `path` with no flags: by name if a module folder gives that file, else by path."""
    from .core.modules.module import find

    try:
        if find(name, config_mod.modules_dirs(None, config)).resolve() == path.resolve():
            return name
    except SmartviewError:
        pass
    return str(path)


def _first_topic(args: argparse.Namespace, config: config_mod.Config) -> str | None:
    """A topic of the topics folder to view a new module on, or None when there is none (or it cannot be listed)."""
    try:
        topics = list_topics(config_mod.topics_dir(args.topics_dir, config))
    except SmartviewError:
        return None
    return topics[0].name if topics and not args.topics_dir else None


def _test(args: argparse.Namespace, config: config_mod.Config) -> int:
    """`smartview test`: the module (or transforms) on the inputs, as `smdk test` runs it."""
    from .workbench import TestRun, read_inputs, run_test

    if args.raw and args.file is None:
        raise SmartviewError("--raw reads a --file as one record; give --file FILE")
    if args.module is not None:
        args.map = [args.module]
    elif not (args.transforms or args.transforms_line):
        raise SmartviewError("give the module to test (a name or path.py), or --transforms / --transforms-line")
    else:
        args.map = None
    from .core.modules import chain as chain_mod, module as module_mod

    kept = take_stdin()  # the modules get /dev/null; records piped in are read from `kept`
    dirs = [_absolute(folder) for folder in config_mod.modules_dirs(args.modules_dir, config)]
    values = parse_assignments(args.params)
    wanted = _wanted_modules(args, config, values)
    out = sys.stdout.buffer
    paths = [_absolute(module_mod.find(entry.uses, dirs)) for entry in wanted]
    adopt_orphans()  # what the modules start stays findable, to be ended with smartview
    with contextlib.redirect_stdout(sys.stderr):  # what a module prints goes to stderr, outputs to stdout
        modules = [module_mod.load(path) for path in paths]
        given = chain_mod.split_values(modules, values)
        stages = [(m, {**entry.values, **extra}) for m, entry, extra in zip(modules, wanted, given)]
        lookbacks = list(_lookbacks(modules, wanted, args.lookback_last))
        if any(lookback is not None and lookback.age is not None for lookback in lookbacks):
            raise SmartviewError("a lookback `age` needs record timestamps, which test records do not have; use `last`")
        inputs = read_inputs(args.text, args.file, args.stdin, args.raw, kept)
        run = TestRun(stages, lookbacks, args.aggregate_initial, None if args.key is None else args.key.encode(),
                      args.key_value)
        return run_test(run, inputs, [value.encode() for value in args.record], out)


def _list_topics(topics_dir: Path) -> int:
    topics = list_topics(topics_dir)
    if not topics:
        say_error(f"no topics in {topics_dir}")
        return 0
    width = max(len(printable(t.name)) for t in topics)
    print(f"{'TOPIC':<{width}}  {'RECORDS':>10}  {'SIZE':>10}")
    for topic in topics:
        print(printable(f"{topic.name:<{width}}  {_topic_figures(topic)}"))
    return 0


def _topic_figures(topic: Topic) -> str:
    """The records and size columns of a topic, or what keeps them from being counted, with its path."""
    problem = topic_problem(topic.path)
    if problem is None:
        try:
            size = os.stat(topic.path).st_size
            return f"{count_records(topic.path):>10,}  {_size(size):>10}"
        except SmartviewError as exc:  # it changed since it was looked at
            return f"{'-':>10}  {'-':>10}  {exc.message}"
        except OSError as exc:
            problem = f"cannot be read: {exc.strerror}"
    return f"{'-':>10}  {'-':>10}  {topic.path} {problem}"


def _size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _list_modules(dirs: list[Path]) -> int:
    """Every module with its kind, hooks, summary and parameters, read from the source: none of them runs."""
    from .core.modules.listing import list_modules

    for entry in list_modules(dirs):
        if entry.error is not None:
            _say(f"{entry.name}  (does not load: {entry.error})")
            print()
            continue
        hooks = "".join(f", {hook}" for hook in entry.hooks)
        _say(f"{entry.name}  [{entry.kind}{hooks}]  {entry.summary}")
        _say(f"    {entry.path}")
        for param in entry.params:
            _say(f"    -e {param.name}=…  {_param_line(entry, param)}")
            if param.doc and entry.runtime != "wasm":  # a SmartModule's is on the line
                _say(f"        {param.doc}")
        print()
    return 0


def _open_input(file: str):
    """The file `produce -f` reads, or a one-line error naming it."""
    try:
        if os.path.isdir(file):
            raise IsADirectoryError(21, "is a directory")
        return open(file, "rb")
    except FileNotFoundError:
        raise SmartviewError(f"input file {file} does not exist") from None
    except OSError as exc:
        raise SmartviewError(f"input file {file} cannot be read: {(exc.strerror or str(exc)).lower()}") from None


def _param_line(entry: Any, param: Any) -> str:
    """`str, default x` for a Python parameter; required or optional, and its description, for a SmartModule's."""
    if entry.runtime != "wasm":
        return f"{param.type_name}, default {param.default or chr(34) * 2}"  # "" as the panel shows it
    return f"{param.type_name}: {param.doc}" if param.doc else param.type_name


def _produce(path: Path, file: str | None) -> int:
    from .core.sources.produce import ProduceError, produce

    try:
        if file is None:
            produce(path, sys.stdin.buffer)
            return 0
        with _open_input(file) as source:
            produce(path, source)
    except ProduceError as exc:
        say_error(f"smartview: {exc.message}")
        return 1
    return 0
