"""The viewer: a topic mapped live through modules, with their parameters in a side panel.

The app owns the wiring only. Reading, indexing and mapping belong to the core; the widgets draw what
the app hands them. Slow work never holds the screen: a large file is indexed in the background, the
whole-topic error count (or, for filters, array_maps, aggregates and chains, the count of output rows)
runs in a child process, find runs in a thread worker, and a Kafka partition is followed by a thread
that waits on the broker.
"""

from __future__ import annotations

import asyncio
import bisect
import gc
import shutil
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Container, Horizontal
from textual.content import Content
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen
from textual.widget import AwaitMount
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from ..core import config as config_mod
from ..core.modules import module as module_mod
from ..core.errors import SmartviewError, TopicError
from ..core.sources.head import HeadIndex
from ..core.sources.index import LineIndex
from ..core.sources.tail import TailPreview
from ..core.modules.chain import build as build_mapper, init_error
from ..core.modules.module import Module
from ..core.modules.params import changed_from_default, format_value
from ..core.text import printable
from ..core.runs.rows import MappedTopic, Row
from ..core.runs.rowprocess import RowProcess
from ..core.modules.runner import Failure
from .panel import ParamPanel
from .status import Status, StatusBar
from .stream import StreamView

# What no first screen shows (the detail view, the picker, help, the chart, the go-to line, find's pattern
# and count, the error count, the file watcher) is imported where it is first used: each import here is
# paid by every start, before the first row is drawn.
if TYPE_CHECKING:
    from ..cli import Selection
    from ..core.pattern import Pattern
    from ..core.runs.census import Census
    from ..core.runs.outputs import OutputIndex

FIND_BATCH = 2048
BURST_RECORDS = 1000
BURST_PAUSE = 0.05
SPOOL_PAUSE = 0.2
# While a pass counts, the rows shown take in its news at most this often (the status line, at every report).
PASS_VIEW_EVERY = 0.5
# Records read from the end of a file topic to show before it is counted: more than any screen holds.
PREVIEW_LINES = 200
# For a filter (or the quick filter) more of them, so that even one row in fifty fills a screen: about
# 170 KB of typical records, mapped in a few tens of milliseconds.
FILTER_PREVIEW_LINES = 2000
# The lines that open at the bottom: find (/) and the quick filter (\\).
LINES = {
    "find": "find in mapped output: text, /regex/, .field=value, !… (enter searches, esc closes)",
    "quick": "show only rows matching: text, /regex/, .field=value, !… excludes (empty: all rows)",
}


def _with_params(module: Module, values: dict[str, str]) -> Module:
    """A SmartModule shows a field for every parameter it was given, listed in its metadata or not."""
    if getattr(module, "runtime", "python") != "wasm":
        return module
    from ..core.modules.wasm.module import with_params

    return with_params(module, values)


def _panel_facts(module: Module) -> tuple:
    """What the panel shows of a module: its kind, its docstring and each parameter's name, kind and doc."""
    return module.kind, module.doc, [(spec.name, spec.kind, spec.doc) for spec in module.specs]


class SmartviewApp(App[int]):
    """`smartview TOPIC`: the live, mapped view of a topic."""

    TITLE = "smartview"
    # Below 100 columns the panel narrows and the sparkline gives its room to the status text.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (100, "-wide")]
    CSS = """
    .-narrow ParamPanel { width: 26; }
    .-narrow StatusBar Sparkline { display: none; }
    .-narrow StatusBar #status-rate { display: none; }
    #main { height: 1fr; }
    #footer-row { height: 1; dock: bottom; background: $footer-background; }
    #banner { display: none; background: $error 30%; color: $text; padding: 0 1; height: auto; }
    #banner.-shown { display: block; }
    #find, #quick { dock: bottom; display: none; }
    #find.-shown, #quick.-shown { display: block; }
    """

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_panel", "Panel"),
        Binding("m", "pick_module", "Module"),
        Binding("r", "reset", "Reset"),
        Binding("slash", "find", "Find"),
        Binding("n", "find_next(1)", "Next match of find", show=False),
        Binding("N", "find_next(-1)", "Previous match of find", show=False),
        Binding("backslash", "quick_filter", "Quick filter: show only rows matching a pattern", show=False),
        Binding("c", "copy_command", "Copy cmd"),
        Binding("g,colon", "goto", "Go to offset", show=False),
        Binding("e", "next_error(1)", "Next error row", show=False),
        Binding("E", "next_error(-1)", "Previous error row", show=False),
        Binding("b", "toggle_chart", "Bar chart of an aggregate's output", show=False),
        *[Binding(str(n), f"toggle({n})", f"Toggle checkbox {n} of the panel", show=False) for n in range(1, 10)],
        Binding("left_square_bracket", "partition(-1)", "Partition", key_display="[ ]"),
        Binding("right_square_bracket", "partition(1)", "Next partition", show=False),
        # The one way to every other key: new keys are listed there rather than in the full footer.
        Binding("question_mark", "help", "Keys", key_display="?"),
    ]

    def __init__(
        self,
        selection: Selection,
        watch: bool = True,
        index: tuple[LineIndex, threading.Event] | None = None,
        initial: str | None = None,
        process: RowProcess | None = None,
    ) -> None:
        super().__init__()
        # The modules were loaded before this: an edit made since, before their watch begins (it starts
        # after the first screen), is picked up when it does.
        self._modules_loaded = time.time()
        self.selection = selection
        self.topic_name = selection.topic.name
        self.kafka = getattr(selection.topic, "kafka", False)
        # A pipe or compressed file is read into a spool file, which is what the index reads (spool.py).
        self.spool = getattr(selection.topic, "spool", None)
        self._spool_said = ""
        self.watch = watch
        stages = selection.stages or ([(selection.module, selection.values)] if selection.module else [])
        # The modules applied, in chain order, each with its parameter values as `-e` strings.
        self.stages: list[tuple[Module, dict[str, str]]] = [(_with_params(module, values), dict(values))
                                                             for module, values in stages]
        # The quick filter's pattern (`!` excludes), applied as a built-in filter stage after the modules.
        self.quick: str | None = selection.patterns[0] if selection.patterns else None
        if index is None:
            built = LineIndex(selection.topic.path)
            index = (built, built.build_in_background())
        self.index, self._indexed = index
        self.initial = initial  # --aggregate-initial: an aggregate's starting accumulator
        self.mapped = MappedTopic(self.index, self._chain(), initial, process=process)
        self._preview = self._tail_preview()
        self._map_last_rows()
        self.status = Status(self._topic_label(), self._module_label())
        # A Kafka topic's partitions opened so far (the viewer shows one at a time): switching back is instant.
        self._partitions: dict[int, Any] = {self.index.partition: self.index} if self.kafka else {}
        self.failures = 0
        self.checked = 0
        self._outputs_news = False
        self._outputs_waiting = False  # the pass's newest rows are being mapped before the view moves to them
        self._view_moved = 0.0  # when the rows shown last took in what a running pass counted
        self.find_text: str | None = None
        self.find_pattern: Pattern | None = None
        self._find_count: OutputIndex | None = None  # the pass counting find's matches
        # (record, screen line) to put the cursor back on once the quick filter's rows are counted that far.
        self._anchor: tuple[int, int] | None = None
        self._find_notice: Notification | None = None  # find's last "not found" or "wrapped", while shown
        self._find_news = False
        self._rate_count = 0
        self._census: Census | None = None
        self._missing = False
        self._counted = False  # the first count arrived and was taken in
        self._hidden: list[AwaitMount] | None = None  # the parts mounted after the first frame

    # -- layout -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        with Horizontal(id="main"):
            yield StreamView(self.mapped, id="stream")
            yield ParamPanel(self._groups(), id="panel", later=True)  # its controls come after the first frame
        yield StatusBar()
        # The footer's row, kept from the start: its keys (ten widgets) come after the first frame.
        yield Container(id="footer-row")

    def _mount_hidden(self) -> list[AwaitMount]:
        """Mount the parts no first screen shows: the find, quick filter and go-to lines and the bar chart.

        They stay hidden until a key opens one. Mounted after the first frame (or by a key pressed before
        that), they cost it nothing: each kind of widget has its CSS parsed and applied when the first of
        its kind mounts, and every mounted widget is styled and laid out.
        """
        if self._hidden is None:
            from .chart import BarChart
            from .goto import GotoBar

            lines = [Input(placeholder=placeholder, id=name) for name, placeholder in LINES.items()]
            self._hidden = [
                self.mount(*lines, GotoBar(self._go_to_offset, id="goto"), before=self.query_one(StatusBar)),
                self.query_one("#main").mount(BarChart(id="chart"), after=self.stream),
            ]
        return self._hidden

    async def _hidden_parts(self) -> None:
        """Wait until the hidden parts are mounted: a key may open one before the first frame's follow-up did."""
        for mounting in self._mount_hidden():
            await mounting

    @property
    def stream(self) -> StreamView:
        return self.query_one("#stream", StreamView)

    @property
    def panel(self) -> ParamPanel:
        return self.query_one("#panel", ParamPanel)

    def on_mount(self) -> None:
        loop = asyncio.get_running_loop()

        def rows_ready() -> None:  # called from a helper thread, possibly after the app has ended
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._rows_ready)

        def outputs_progressed() -> None:  # from the counting pass's reader thread: coalesced
            if not self._outputs_news and not loop.is_closed():
                self._outputs_news = True
                loop.call_soon_threadsafe(self._outputs_changed)

        def find_counted() -> None:  # from find's counting pass: coalesced like the rows' news
            if not self._find_news and not loop.is_closed():
                self._find_news = True
                loop.call_soon_threadsafe(self._find_counted)

        self._callbacks = (rows_ready, outputs_progressed, find_counted)
        self.mapped.on_ready, self.mapped.on_progress = self._callbacks[:2]
        self.stream.empty_message = f"Waiting for records in {printable(self.topic_name)}…"
        self.stream.search = self._highlights()
        self.stream.focus()
        self._show_status()
        self._show_preview()
        self.call_after_refresh(self._after_first_frame)
        self._index_timer = self.set_interval(0.02, self._poll_index, name="index-poll")
        self._poll_index()  # a small topic is counted by now: its rows go into the first frame

        def counted() -> None:  # the rows get their offsets as soon as the count arrives, not at the next poll
            self._indexed.wait()
            if not loop.is_closed():
                loop.call_soon_threadsafe(self._poll_index)

        threading.Thread(target=counted, name="smartview-counted", daemon=True).start()
        self._census_timer = self.set_interval(0.1, self._poll_census, name="census", pause=True)
        self._chart_timer = self.set_interval(0.25, self._show_chart, name="chart", pause=True)
        self.set_interval(0.25, self._show_busy, name="busy")
        if self.spool is not None:
            self.set_interval(0.1, self._show_spool, name="spool")
        for warning in self.selection.warnings:  # a config file or module folder that was not trusted
            self.notify(warning, severity="warning", timeout=10, markup=False)

    def _after_first_frame(self) -> None:
        """What the first frame goes without: the panel's controls, the parts that no first screen shows."""
        # The command line turned collection off for the start. What the start made is long-lived (the
        # app, its styles, the imports): frozen first, it is never walked, where a first full collection
        # over it would hold up the panel's controls by tens of milliseconds.
        gc.freeze()
        gc.enable()
        self.index.go()  # a large topic's count waited for this frame
        self.call_later(self._fill_panel_then_the_rest)

    async def _fill_panel_then_the_rest(self) -> None:
        """The panel first, seen as soon as can be; then the parts only a key or long work shows."""
        await self.panel.fill(self._groups())
        self.query_one(StatusBar).add_the_rest()
        from textual.widgets import Footer

        footer = Footer(show_command_palette=False, compact=True)  # ctrl+p is listed by `?`; 80 columns are full
        await self.query_one("#footer-row").mount(footer)
        self.refresh_bindings()  # a footer mounted late was not told of the bindings it shows
        self._mount_hidden()

    def _rows_ready(self) -> None:
        """Rows that a slow module held back are mapped now."""
        if not self.query("#stream") or self.stream.hurried:  # closing; or a burst's next frame shows them
            return
        if self._outputs_waiting:  # the newest rows the pass counted: the view moves to them now
            self._outputs_waiting = False
            self._view_moved = time.monotonic()
            self.stream.update_count(arrived=False)
            return
        self.stream.refresh()
        self._show_busy()

    def _show_busy(self) -> None:
        """Name the record a slow module is working on (checked four times a second)."""
        busy = self.mapped.busy_offset
        text = f"mapping offset {busy}…" if busy is not None else ""
        if text != self.status.busy:
            self.status.busy = text
            self._show_status()

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Every notification as plain text, escaped, whatever the caller asks (Textual's own included):
        messages name topics, modules, values and find strings from outside."""
        super().notify(printable(message, keep_newlines=True), title=printable(title), severity=severity,
                       timeout=timeout, markup=False)

    def on_unmount(self) -> None:
        self._stop_error_pass()
        if self._find_count is not None:
            self._find_count.cancel()
        self.mapped.close()
        if self.spool is not None:
            self.spool.remove()

    # -- the topic ----------------------------------------------------------------------------------

    def _tail_preview(self) -> TailPreview | None:
        """While a file topic is still counted, its last records, to show now with their offsets not yet known.

        Reading the end of the file costs microseconds whatever its size; counting 8 GB costs seconds.
        A filter's (or a chain's) rows come from its counting pass, which needs the count: until then the
        rows the last records give are shown. Not for aggregates, whose rows need every record before:
        their pass maps from offset 0 at once, and its rows' records are read from the file's head,
        counted only that far (head.py), so they show with their offsets while the count runs.
        """
        if self._indexed.is_set() or self.kafka:
            return None
        if self.mapped.stateful:
            self.mapped.use_index(HeadIndex(self.index))
            return None
        lines = PREVIEW_LINES if self.mapped.one_to_one else FILTER_PREVIEW_LINES
        preview = TailPreview(self.index.path, self.index.fd, lines)
        if not preview.count:
            return None
        self.mapped.use_index(preview)
        return preview

    def _map_last_rows(self) -> None:
        """Have the last screenful of rows mapped while Textual starts: the first frame then finds them
        ready rather than waiting for the row process (the stream's own request joins this one)."""
        known = self._preview is not None or self._indexed.is_set()  # else the count decides the rows
        count = self.mapped.count if known and self.mapped.one_to_one else 0
        if count and self.mapped.stages:
            lines = shutil.get_terminal_size((80, 50)).lines  # at least the stream's height
            self.mapped.window(max(0, count - lines), count, wait=0)

    def _show_preview(self) -> None:
        """The preview's rows, shown in the first frame (see `_tail_preview`)."""
        if self._preview is not None and self.mapped.index is self._preview:
            self.stream.update_count()

    def _poll_index(self) -> None:
        """Until the first full index is built, show its progress; then start following."""
        done = self._indexed.is_set()
        size = max(self.index.size(), 1)
        self.query_one(StatusBar).progress(None if done else self.index.scanned / size)
        if not done or self._counted:
            return
        self._counted = True
        self._index_timer.stop()
        self._end_preview()
        self._rate_count = self.index.count
        self._records_changed()
        self.call_after_refresh(self._after_first_screen)

    def _after_first_screen(self) -> None:
        """What the first screen of rows does not wait for: the error pass, following (importing the file
        watcher costs tens of milliseconds), watching the modules."""
        self._start_error_pass()
        # The app's objects are built by now: freezing them keeps full garbage collections (tens of
        # milliseconds over a Textual app's heap) out of the path of each appended record.
        gc.freeze()
        if self.watch:
            self.set_interval(1.0, self._sample_rate, name="rate")
            if self.kafka:
                self._follow_kafka()
            else:
                self._follow_topic()
            if self.stages:
                self._watch_modules()

    def _end_preview(self) -> None:
        """The count arrived: the preview's rows give way to the counted ones, with their offsets.

        A filter's counted rows are its pass's: the preview stays until the pass has counted some (or
        ended), so the screen never goes blank in between.
        """
        if self.mapped.index is self.index or not self._indexed.is_set():
            return
        if isinstance(self.mapped.index, HeadIndex):  # the same offsets, the same rows
            self.mapped.use_index(self.index)
            self.stream.update_count(arrived=False)  # what the pass counted meanwhile is not new records
            return
        outputs = self.mapped.outputs
        if outputs is not None and not outputs.count and not outputs.finished:
            return
        self.mapped.use_index(self.index)
        self.stream.count_arrived()

    def _records_changed(self, unfinished: int | None = None) -> None:
        self.stream.unfinished = self.index.unfinished() if unfinished is None else unfinished
        self.stream.update_count()
        self.status.records = self.index.count
        if not self.mapped.stages:
            self.checked = self.index.count  # records shown as they are cannot fail
        self._show_status()

    def _outputs_changed(self) -> None:
        """The counting pass of a filter, array_map, aggregate or chain has counted more rows."""
        self._outputs_news = False
        if not self.query("#stream"):  # the app is closing
            return
        self._end_preview()
        # Rows counted for records the pass had not reached are not new; once it follows the end, they are.
        caught_up = self.checked >= self.status.records > 0
        outputs = self.mapped.outputs
        # Before the count arrives (an aggregate's rows show meanwhile), the pass has the file's end ahead.
        counting = outputs is not None and not outputs.finished and (outputs.done < self.index.count
                                                                      or not self._indexed.is_set())
        if not counting or self._view_due():
            self._outputs_waiting = counting and not self._end_rows_mapped()
            if not self._outputs_waiting:
                self._view_moved = time.monotonic()
                self.stream.update_count(arrived=caught_up)
        self._take_outputs_figures()
        self._settle_anchor()
        self._show_status()

    def _view_due(self) -> bool:
        """Whether the rows shown take in what a running pass counted: at once while they fill the first
        screen, then every PASS_VIEW_EVERY seconds (its status line says every report).

        Each such frame draws a screenful of new rows, and a key pressed meanwhile waits for it: taken in at
        every report (several a second), they left a key one chance in six to wait behind one.
        """
        if self.stream._count < self.stream.size.height:
            return True
        return time.monotonic() - self._view_moved >= PASS_VIEW_EVERY

    def _end_rows_mapped(self) -> bool:
        """Whether the rows a following view would scroll to now are mapped; if not, they are asked for.

        While a pass counts, each of its reports moves a following view to the newest rows counted. Drawn
        at once, that frame waited for the row process to map a screenful of new rows and held every key
        pressed meanwhile; asked for without waiting instead, the view moves when they are ready
        (`_rows_ready`) and keeps its place until then.
        """
        stream = self.stream
        count = self.mapped.count
        if not stream.following or count <= stream._count or stream.wrap:
            return True
        rows = self.mapped.window(max(0, count - stream.size.height), count, wait=0)
        return all(row is not None for row in rows)

    @work(exclusive=True, group="follow")
    async def _follow_topic(self) -> None:
        from ..core.sources import follow

        async for _ in follow.achanges(self.index.path):
            change = self.index.change()
            if change == "deleted":
                if not self._missing:
                    self._missing = True
                    self.notify(f"{self.topic_name} was deleted; waiting for it to return", severity="warning")
                continue
            if change is not None:
                try:
                    self.index.reset()
                except TopicError as exc:  # a file that cannot be read took its place: wait for a better one
                    self._source_trouble(exc.message)
                    continue
                self._source_trouble("")
            self._missing = False
            if change is not None:
                self.mapped.forget()
                self._start_error_pass()
                self.notify(f"{self.topic_name} was {change}; showing it again from offset 0", severity="warning")
                self.stream.action_follow()
            added = self.index.update()
            unfinished = self.index.unfinished()
            if added or change is not None or unfinished != self.stream.unfinished:
                self._records_changed(unfinished)
            # A spool fills in large bursts until its input ends: rather than hurry past rows that are never
            # mapped in time, it is taken in every SPOOL_PAUSE seconds and each screen waits for its rows.
            self.stream.hurried = added > BURST_RECORDS and self.spool is None
            if added > BURST_RECORDS:
                # A burst: take in what arrived at most every BURST_PAUSE seconds, so that drawing the
                # newest rows never crowds out the keys; a single record is still shown at once.
                await asyncio.sleep(BURST_PAUSE if self.spool is None else SPOOL_PAUSE)
                if self.index.size() <= self.index.scanned:  # the burst is over: draw the rows it held back
                    self.stream.hurried = False
                    self.stream.refresh()

    def _source_trouble(self, message: str) -> None:
        """Say in the status bar (and once as a notification) that the topic file cannot be read now."""
        if message == self.status.trouble:
            return
        self.status.trouble = message
        if message:
            self.notify(message, severity="error", markup=False)
        self._show_status()

    @work(thread=True, exclusive=True, group="follow")
    def _follow_kafka(self) -> None:
        """Take new records from the Kafka partition as they arrive (the index waits for them briefly)."""
        worker = get_current_worker()
        index = self.index
        trouble = None
        while not worker.is_cancelled and index is self.index:
            added = index.update(wait=0.1)
            change = index.change()
            if (added or change is not None or index.status != trouble) and index is self.index:
                trouble = index.status
                self.call_from_thread(self._kafka_news, change, trouble)

    def _kafka_news(self, change: str | None, trouble: str | None) -> None:
        if change is not None:
            self.index.reset()
            self.mapped.forget()
            self._start_error_pass()
            self.notify(f"{self.topic_name} was {change}; showing it again from its first offset", severity="warning")
            self.stream.action_follow()
        self.status.trouble = trouble or ""
        self._records_changed()

    def _show_spool(self) -> None:
        """The spool's size and its input's state in the status bar; a problem or a pause said once."""
        label = self._topic_label()
        if label != self.status.topic:
            self.status.topic = label
            self._show_status()
        if self._indexed.is_set():
            progress = None if self.spool.ended else self.spool.progress()
            self.query_one(StatusBar).progress(progress)
            # What was spooled before the file's watch began raises no event: take it in here.
            if self.watch and self.index.size() > self.index.scanned and self.index.update():
                self._records_changed()
        news = self.spool.problem or self.spool.paused
        if news and news != self._spool_said:
            self._spool_said = news
            self.notify(news, severity="warning", timeout=10)

    def _topic_label(self) -> str:
        if self.spool is not None:
            return f"{self.topic_name} · {self.spool.describe()}"
        partitions = getattr(self.index, "partitions", [])
        if len(partitions) < 2:
            return self.topic_name
        return f"{self.topic_name} · partition {self.index.partition} of {partitions[0]}-{partitions[-1]}"

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The partition keys exist only for a Kafka topic of several partitions (the footer shows them then)."""
        if action == "partition":
            return len(getattr(self.index, "partitions", [])) > 1
        if action == "toggle_chart":
            return any(module.kind == "aggregate" for module, _ in self.stages)
        return True

    def action_partition(self, step: int) -> None:
        """Show the next (or previous) partition of a Kafka topic."""
        partitions = getattr(self.index, "partitions", [])
        if len(partitions) > 1:
            position = partitions.index(self.index.partition)
            self._open_partition(partitions[(position + step) % len(partitions)])

    @work(thread=True, exclusive=True, group="partition")
    def _open_partition(self, partition: int) -> None:
        """Connect to another partition in a thread (it takes a round trip or two to the broker)."""
        from ..core.sources.kafka_index import KafkaIndex

        index = self._partitions.get(partition)
        if index is None:
            try:
                index = self._partitions[partition] = KafkaIndex(self.index.topic, partition)
            except SmartviewError as exc:
                self.call_from_thread(self.notify, exc.message, severity="error")
                return
        self.call_from_thread(self._show_partition, index)

    def _show_partition(self, index: Any) -> None:
        """Show `index`'s partition through the same modules, from its end."""
        self.mapped.close()
        self.index = index
        self.mapped = MappedTopic(index, self._chain(), self.initial)
        self.mapped.on_ready, self.mapped.on_progress = self._callbacks[:2]
        self.stream.show(self.mapped)
        self.status.topic = self._topic_label()
        self.status.trouble = index.status or ""
        self._rate_count = index.count
        self._records_changed()
        self._start_error_pass()
        if self.watch:
            self._follow_kafka()  # the follower of the previous partition ends: one per group

    def _sample_rate(self) -> None:
        count = self.index.count
        self.query_one(StatusBar).add_rate_sample(max(0, count - self._rate_count))
        self._rate_count = count

    # -- the module and its parameters --------------------------------------------------------------

    @property
    def module(self) -> Module | None:
        """The first (usually the only) module, or None when records are shown as they are."""
        return self.stages[0][0] if self.stages else None

    @property
    def values(self) -> dict[str, str]:
        """The first module's parameter values."""
        return self.stages[0][1] if self.stages else {}

    def _module_label(self) -> str:
        if not self.stages:
            return "no module"
        return " → ".join(module.name if module.kind == "map" else f"{module.name} ({module.kind})"
                          for module, _ in self.stages)

    def _parsed(self) -> list[dict[str, Any]]:
        parsed = []
        for module, values in self.stages:
            params = module.make_params(values)
            parsed.append({spec.name: getattr(params, spec.name) for spec in module.specs})
        return parsed

    def _groups(self) -> list[tuple[Module, dict[str, Any]]]:
        return [(module, values) for (module, _), values in zip(self.stages, self._parsed())]

    def _apply(self) -> None:
        """New values: re-map everything from the start, keeping the scroll position."""
        self._remap()
        self.panel.show_values(self._parsed())

    def _chain(self) -> list[tuple[Module, dict[str, str]]]:
        """What is applied to the records: the modules, then the quick filter's stage."""
        if not self.quick:
            return list(self.stages)
        from ..core.modules import grep  # the quick filter's stage: imported when there is one

        return self.stages + [grep.stage(self.quick)]

    def _remap(self) -> None:
        """Map every row again with the current modules and values, and restart the error count."""
        self.mapped.set_stages(self._chain(), self.initial)
        self.stream.remap()
        self.stream.update_count(arrived=False)
        self.status.module = self._module_label()
        self._start_error_pass()

    def on_param_panel_changed(self, event: ParamPanel.Changed) -> None:
        module, values = self.stages[event.stage]
        spec = next(s for s in module.specs if s.name == event.name)
        try:
            value = spec.parse(event.text)
            module.make_params({**values, event.name: format_value(value)})  # Params may refuse it
        except SmartviewError:
            self.panel.mark_invalid(event.stage, event.name, True)
            return
        if value == (spec.parse(values[event.name]) if event.name in values else spec.default):
            # Textual's Input and Select report the value they were given when they mount: mapping all
            # over again for it restarted the background pass, and a page key pressed meanwhile found the
            # rows counted anew from zero. A value refused just before is no longer shown: unmark it.
            self.panel.mark_invalid(event.stage, event.name, False)
            self.panel.show_init_error(event.stage, None)
            return
        candidate = dict(values)
        if value == spec.default:
            candidate.pop(event.name, None)
        else:
            candidate[event.name] = format_value(value)
        refused = init_error(module, candidate)
        self.panel.show_init_error(event.stage, refused)
        if refused is not None:  # the last values init took keep running
            self.panel.mark_invalid(event.stage, event.name, True)
            return
        self.panel.mark_invalid(event.stage, event.name, False)
        values.clear()
        values.update(candidate)
        self._apply()

    def on_param_panel_added(self, event: ParamPanel.Added) -> None:
        """A parameter typed as NAME=VALUE for a SmartModule, listed in its metadata or not."""
        module, values = self.stages[event.stage]
        name, sep, text = event.text.partition("=")
        name = name.strip()
        if not sep or not name:
            self.notify("type a parameter as name=value", severity="error")
            return
        wanted = {**values, name: text}
        problem = init_error(module, wanted)
        if problem is not None:
            self.notify(problem, severity="error", title="init refused the parameters")
            return
        self.stages[event.stage] = (_with_params(module, wanted), wanted)
        self.panel.show_modules(self._groups())
        self._remap()

    def on_param_panel_left(self, event: ParamPanel.Left) -> None:
        self.stream.focus()

    async def action_toggle(self, number: int) -> None:
        await self.panel.fill(self._groups())  # a key pressed before the first frame was done
        names = self.panel.bool_names()
        if 0 < number <= len(names):
            self.panel.toggle(*names[number - 1])

    async def action_reset(self) -> None:
        if not any(values for _, values in self.stages):
            return
        await self.panel.fill(self._groups())  # a key pressed before the first frame was done
        for stage, (module, values) in enumerate(self.stages):
            values.clear()
            for spec in module.specs:
                self.panel.mark_invalid(stage, spec.name, False)
        self._apply()

    def action_pick_module(self) -> None:
        from .picker import ModulePicker

        current = self.module.path if self.module else None
        # Modules given by path (`--map ../mods/shapes.py`) are not in the module folders: listed too, to come back to.
        given = [module.path for module, _ in self.selection.stages]
        self.push_screen(ModulePicker(self.selection.modules_dirs, current, given), self._module_picked)

    def _module_picked(self, choice: Path | str | None) -> None:
        if choice is None:
            return
        self.workers.cancel_group(self, "module-load")  # a later choice wins over one still loading
        from .picker import NO_MODULE

        if choice == NO_MODULE:
            self._use_module(None)
            return
        if len(self.stages) == 1 and self.module.path.resolve() == Path(choice).resolve():
            return  # the module shown now: its values stay (r resets them; edits reload on their own)
        self._load_picked(Path(choice))

    @work(exclusive=True, group="module-load")
    async def _load_picked(self, path: Path) -> None:
        """Show the picked module once it has loaded, first in a child (trial.py): it may hang or exit at import."""
        try:
            module = await self._load(path)
            module.make_params()  # its defaults: a Params that refuses them cannot be shown
        except SmartviewError as exc:
            self.notify(exc.message, severity="error", title="module does not load")
            return
        refused = init_error(module, {})
        if refused is not None:
            self.notify(refused, severity="error", title="init refused the default values")
        self._use_module(module)

    async def _load(self, path: Path) -> Module:
        """The module at `path`, imported here only after a child imported it in time without ending."""
        from ..core.modules.trial import try_import

        problem = await asyncio.to_thread(try_import, path)
        if problem is not None:
            raise SmartviewError(problem)
        return module_mod.load(path)

    def _use_module(self, module: Module | None) -> None:
        """Show the topic through this one module (replacing a whole chain), from its defaults."""
        self.stages = [(module, {})] if module is not None else []
        self.query_one("#banner").remove_class("-shown")
        self.panel.show_modules(self._groups())
        self._remap()
        if self.watch and module is not None:
            self._modules_loaded = time.time()
            self._watch_modules()

    @work(exclusive=True, group="module-watch")
    async def _watch_modules(self) -> None:
        """Reload a module when its file changes; a broken edit keeps the last good version running."""
        from ..core.sources import follow

        paths = [module.path for module, _ in self.stages]
        loaded, self._modules_loaded = self._modules_loaded, time.time()
        for number, path in enumerate(paths):
            try:
                edited = path.stat().st_mtime > loaded
            except OSError:
                edited = False
            if edited and [module.path for module, _ in self.stages] == paths:
                await self._reload(number, path)
        async for changed in follow.achanges_of(paths):
            for path in changed:
                if path.exists() and [module.path for module, _ in self.stages] == paths:
                    await self._reload(paths.index(path), path)

    async def _reload(self, stage: int, path: Path) -> None:
        module, values = self.stages[stage]
        try:
            reloaded = await self._load(path)
            if stage >= len(self.stages) or self.stages[stage][0] is not module:  # another was picked meanwhile
                return
            names = {s.name for s in reloaded.specs}
            wasm = getattr(reloaded, "runtime", "python") == "wasm"  # takes keys its metadata does not list
            kept = {k: v for k, v in values.items() if k in names or wasm}
            reloaded = _with_params(reloaded, kept)
            build_mapper([(reloaded, kept)])  # its parameters parse and its init takes them
        except SmartviewError as exc:
            banner = self.query_one("#banner", Static)
            banner.update(Content(f"{printable(exc.message)}\nStill running the last version that loaded."))
            banner.add_class("-shown")
            return
        self.query_one("#banner").remove_class("-shown")
        # The panel shows the kind, the description and each parameter's doc: rebuild it when any changed
        # (a rebuilt .wasm may export another transform), else keep its boxes and what is typed in them.
        same_params = _panel_facts(reloaded) == _panel_facts(module)
        self.stages[stage] = (reloaded, kept)
        if same_params:
            self._apply()
        else:
            self.panel.show_modules(self._groups())
            self._remap()
        self.notify(f"reloaded {path.name}")

    # -- the whole-topic error count ----------------------------------------------------------------

    def _stop_error_pass(self) -> None:
        if self._census is not None:
            self._census.cancel()
            self._census = None

    def _start_error_pass(self) -> None:
        """Count failures over the whole topic in a child process that then follows the file.

        A new one replaces any running one (new parameters, another module, a rewritten file).
        """
        self._stop_error_pass()
        self.failures = 0
        self.checked = 0
        self.status.passed = self.status.rows = None  # until the new modules' pass says (a map has neither)
        self.status.matched = None
        if not self.mapped.stages:
            self.checked = self.index.count
        elif self.mapped.outputs is not None:
            # Not one row per record: the pass that counts rows counts failures too, and says when it has
            # news (`_outputs_changed`); what it counted before the app was listening is taken in now.
            self._take_outputs_figures()
        else:
            from ..core.runs.census import Census

            self._census = Census(self.index.source, self.module.path, self.values)
            self._census_timer.resume()
        self._start_find_count()
        self._show_status()

    def _take_outputs_figures(self) -> None:
        outputs = self.mapped.outputs
        if outputs is None:
            return
        self.failures = outputs.failures
        self.checked = outputs.done
        kinds = {module.kind for module, _ in self.stages}
        self.status.passed = outputs.passed if kinds & {"filter", "filter_map"} else None
        self.status.rows = outputs.count if "array_map" in kinds else None
        self.status.quick = self.quick or ""
        self.status.matched = (outputs.passed, outputs.done) if self.quick else None
        if self._indexed.is_set():  # until then the bar shows the count's progress (`_poll_index`)
            self.query_one(StatusBar).progress(None if self.checked >= self.index.count else
                                               self.checked / max(self.index.count, 1))
        if outputs.error is not None and outputs.finished:
            self.notify(outputs.error, title="rows are not being counted", severity="error")
            outputs.error = None

    def _poll_census(self) -> None:
        census = self._census
        if census is None:
            self._census_timer.pause()
            return
        progress = census.poll()
        self.failures = progress.failures
        self.checked = progress.done
        if progress.finished:  # it ended: the module no longer loads from disk, or it crashed
            census.cancel()
            self._census = None
            self.notify(progress.error or "the counting process ended", title="the error count is incomplete",
                        severity="warning")
        self._show_status()

    def _show_status(self) -> None:
        if not self.query("#stream"):  # a timer firing while the app closes
            return
        self.status.records = self.index.count
        # A large file shows its last rows before its count arrives: "0 records" would be wrong meanwhile.
        self.status.counting = not self._indexed.is_set() and not self.index.count
        self.status.errors = self.failures
        self.status.checked = self.checked
        self.status.following = self.stream.following
        self.status.new = self.stream.new_while_paused
        self.query_one(StatusBar).show(self.status)
        message = self._empty_message()
        if message != self.stream.empty_message:
            self.stream.empty_message = message
            if self.stream._count == 0:
                self.stream.refresh()

    def _empty_message(self) -> str:
        """What an empty stream says: waiting for records, or how many were read and that none gave a row."""
        read = self.index.count
        if read == 0:
            return f"Waiting for records in {printable(self.topic_name)}…"
        records = "1 record" if read == 1 else f"{read:,} records"
        if self.quick is not None:
            matching = f"no row matches \\{printable(self.quick)}"
            if self.checked < read:
                return f"Read {records}; {matching} so far (checking {100 * self.checked // read}%)"
            return f"Read {records}; {matching}"
        kinds = {module.kind for module, _ in self.stages}
        outcome = "passed the filter" if kinds & {"filter", "filter_map"} else "gave a row"
        if self.checked < read:
            return f"Read {records}; none {outcome} so far (checking {100 * self.checked // read}%)"
        return f"Read {records}; none {outcome} ({printable(' → '.join(module.name for module, _ in self.stages))})"

    def on_stream_view_follow_changed(self, event: StreamView.FollowChanged) -> None:
        self._show_status()

    # -- detail, find, copy, panel ------------------------------------------------------------------

    def on_stream_view_selected(self, event: StreamView.Selected) -> None:
        if getattr(self.mapped.index, "provisional", False):  # the last rows, shown before the count
            self.notify("the topic is still being counted: the record's offset is not known yet")
            return
        rows = self.mapped.window(event.row, event.row + 1, wait=0.2)
        if not rows or rows[0] is None:
            self.notify(f"offset {self.mapped.offset_of(event.row)} is still being mapped", severity="warning")
            return
        from . import headers as headers_view
        from .detail import DetailScreen

        row = self.mapped.explained(rows[0])  # a failure's traceback is made for the row shown only
        screen = DetailScreen(row, self.mapped.value(event.row), self.topic_name)
        self.push_screen(screen)
        if self.kafka:  # file records have no headers
            records = self.index.read_records(rows[0].offset, rows[0].offset + 1)
            headers_view.attach(screen, records[0].headers if records else [])

    def action_help(self) -> None:
        from .detail import DetailScreen
        from .help import HelpScreen
        from .picker import ModulePicker

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen([DetailScreen, ModulePicker]))

    def action_toggle_panel(self) -> None:
        self.panel.display = not self.panel.display

    async def action_find(self) -> None:
        await self._hidden_parts()
        find = self.query_one("#find", Input)
        find.add_class("-shown")
        self.screen.set_focus(find)  # at once: keys typed right after the slash go into the line

    async def action_quick_filter(self) -> None:
        """Open the quick filter's line, holding the pattern applied now (enter applies, empty shows all)."""
        await self._hidden_parts()
        quick = self.query_one("#quick", Input)
        quick.value = self.quick or ""
        quick.add_class("-shown")
        self.screen.set_focus(quick)  # at once: keys typed right after the backslash go into the line

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id not in ("find", "quick"):
            return
        from ..core.pattern import PatternError, parse as parse_pattern

        try:
            pattern = parse_pattern(event.value) if event.value else None
        except PatternError as exc:  # the line stays open, holding what was typed, to be corrected
            self.notify(exc.message, severity="error", title="the pattern does not read")
            return
        event.input.remove_class("-shown")
        self.stream.focus()
        if event.input.id == "quick":
            self._set_quick(event.value or None)
        else:
            self._set_find(pattern)

    def on_key(self, event) -> None:
        for line in self.query("#find, #quick").results(Input):
            if event.key == "escape" and line.has_class("-shown"):
                line.remove_class("-shown")
                self.stream.focus()
                event.stop()

    def _highlights(self) -> tuple[Pattern, ...]:
        quick = None
        if self.quick:  # imported only then: the first frame asks too, and making its dataclass costs ~1 ms
            from ..core.pattern import parse as parse_pattern

            quick = parse_pattern(self.quick)
        return tuple(pattern for pattern in (self.find_pattern, quick) if pattern is not None)

    # -- the quick filter ---------------------------------------------------------------------------

    def _set_quick(self, text: str | None) -> None:
        """Show only the rows matching `text` (all rows for None), keeping the cursor's record in place."""
        if text == self.quick:
            return
        stream = self.stream
        anchor = None
        if not stream.following and self.mapped.count:
            anchor = (self.mapped.offset_of(stream.cursor), stream.cursor - int(stream.scroll_y))
        self.quick = text
        self._anchor = None
        self.stream.search = self._highlights()
        self._remap()
        self._anchor = anchor
        self._settle_anchor()
        self._show_status()

    def _settle_anchor(self) -> None:
        """Once the rows up to the anchored record are counted, put the cursor on it (or the next row shown)."""
        if self._anchor is None:
            return
        offset, y = self._anchor
        outputs = self.mapped.outputs
        if outputs is None:
            row = offset
        elif outputs.done > offset or outputs.finished:
            row = outputs.row_of(offset)
        else:
            return  # not counted that far yet: the pass's next news comes back here
        self._anchor = None
        count = self.mapped.count
        if count == 0:
            return
        if self.stream._count != count:  # the rows shown take in the pass's news only so often
            self.stream.update_count(arrived=False)
        row = min(row, count - 1)
        self.stream.move_to(row)
        self.stream.scroll_to(y=max(0, row - y), animate=False, immediate=True)

    # -- find ---------------------------------------------------------------------------------------

    def _set_find(self, pattern: Pattern | None) -> None:
        self.find_pattern = pattern
        self.find_text = pattern.source if pattern is not None else None
        self._drop_find_notice()
        self.stream.search = self._highlights()
        self.stream.remap()
        self._start_find_count()
        if pattern is not None:
            self._find(pattern, self.stream.cursor, 1, include_start=True)

    def action_find_next(self, direction: int) -> None:
        if self.find_pattern is not None:
            self._find(self.find_pattern, self.stream.cursor, direction)

    def _start_find_count(self) -> None:
        """Count find's matches over every row in the background: the rows shown, through find's pattern."""
        if self._find_count is not None:
            self._find_count.cancel()
            self._find_count = None
        if self.find_pattern is not None:
            stages = [(module.path, values) for module, values in self.mapped.stages]
            from ..core.modules import grep
            from ..core.runs.outputs import OutputIndex

            stages.append((grep.PATH, {"pattern": self.find_pattern.source}))
            self._find_count = OutputIndex(self.index.source, stages, self.initial, on_progress=self._callbacks[2])
        self._show_find()

    def _find_counted(self) -> None:
        self._find_news = False
        if self.query("#stream"):
            self._show_find()

    def _show_find(self) -> None:
        """The status bar's word on find: how many rows match (so far), and where the last jump went."""
        counter, pattern = self._find_count, self.find_pattern
        if pattern is None:
            self.status.find = ""
        else:
            parts = [f"find {_short(pattern.source)}"]
            if counter is not None:
                matches = counter.count - counter.failures
                total = max(self.index.count, 1)
                counting = not counter.finished and counter.done < self.index.count
                noun = "match" if matches == 1 else "matches"
                parts.append(f"{matches:,} {noun}" + (f" ({100 * counter.done // total}%)" if counting else ""))
            self.status.find = ": ".join(parts)
        self._show_status()

    def _found(self, row: int | None, note: str) -> None:
        """Go to what find found; a notice says when it wrapped around or found nothing.

        The notice is kept so that the next search can take it away: an old "not found" next to a new
        search's result would say the wrong thing.
        """
        if row is not None:
            self.stream.move_to(row)
        self._drop_find_notice()
        if note:
            shown = f"{_short(self.find_text or '')!r} not found" if row is None else f"search {note}"
            notice = Notification(printable(shown), "", "warning" if row is None else "information",
                                  self.NOTIFICATION_TIMEOUT, markup=False)
            self._find_notice = notice
            self.post_message(Notify(notice))

    def _drop_find_notice(self) -> None:
        # Textual offers no public way to take back one notification (clear_notifications takes all).
        notice, self._find_notice = self._find_notice, None
        if notice is not None and notice in self._notifications:
            self._unnotify(notice)

    @work(thread=True, exclusive=True, group="find")
    def _find(self, pattern: Pattern, origin: int, direction: int, include_start: bool = False) -> None:
        """Search the mapped rows from the cursor, wrapping around once.

        Rows are mapped by the same child process as the screen's, a batch at a time, so module code
        never runs in the viewer's process, even while finding.
        """
        worker = get_current_worker()
        count = self.mapped.count
        if count == 0:
            self.call_from_thread(self._found, None, "not found")
            return
        first = (origin if include_start else origin + direction) % count
        if direction > 0:
            spans = [range(first, count), range(0, first)]
        else:
            spans = [range(first, -1, -1), range(count - 1, first, -1)]
        wrapped = (not include_start and ((direction > 0 and first < origin) or (direction < 0 and first > origin)))
        for number_of_span, span in enumerate(spans):
            while span := self._worth_searching(span, direction):  # asked again as the pass goes on
                chunk, span = span[:FIND_BATCH], span[FIND_BATCH:]
                low = min(chunk[0], chunk[-1])
                rows = self._mapped_rows(worker, low, max(chunk[0], chunk[-1]) + 1)
                if rows is None:
                    return
                for number in chunk:
                    row = rows[number - low]
                    if row is not None and row_matches(pattern, row):
                        around = wrapped or number_of_span == 1
                        note = ("wrapped to the top" if direction > 0 else "wrapped to the bottom") if around else ""
                        self.call_from_thread(self._found, number, note)
                        return
        self.call_from_thread(self._found, None, "not found")

    def _worth_searching(self, span: range, direction: int) -> range:
        """`span` from its first row that may match, as far as the pass counting find's matches knows.

        Rows are mapped only from there: a rare string far away is found once the pass has counted its
        record, instead of after mapping every row in between.
        """
        counter = self._find_count
        if counter is None or not span:
            return span
        record = counter.nearest(self.mapped.offset_of(span[0]), direction)
        if direction > 0:
            return range(max(span.start, min(self.mapped.row_of(record), span.stop)), span.stop)
        if record < 0:
            return range(span.stop, span.stop, -1)
        return range(min(span.start, max(self.mapped.row_of(record + 1) - 1, span.stop)), span.stop, -1)

    def _mapped_rows(self, worker, first: int, last: int) -> list[Row | None] | None:
        """Rows [first, last) once all are mapped; None if the search was cancelled meanwhile."""
        generation = self.mapped.generation
        while not worker.is_cancelled and generation == self.mapped.generation:
            rows = self.mapped.window(first, last, wait=0.5)
            if all(row is not None for row in rows):
                return rows
        return None

    # -- moving: to an offset, to the next error row -------------------------------------------------

    async def action_goto(self) -> None:
        await self._hidden_parts()
        self.query_one("#goto", Input).open()

    def _go_to_offset(self, offset: int) -> None:
        """Put the cursor on the record at `offset`, or say why it is somewhere else."""
        count = self.mapped.count
        if count == 0:
            self.notify("there are no rows yet", severity="warning")
            return
        row = self.mapped.row_of(offset)
        if row >= count:
            row = count - 1
            self.notify(f"offset {offset:,} is past the last row (offset {self.mapped.offset_of(row):,})",
                        severity="warning")
        elif self.mapped.offset_of(row) != offset:
            self.notify(f"offset {offset:,} gives no row: showing offset {self.mapped.offset_of(row):,}",
                        severity="warning")
        self.stream.jump_to(row)
        self._show_status()

    def _failed_offsets(self):
        """The offsets of the failing records the background pass has found so far, in order."""
        if self._census is not None:
            return self._census.failed
        return self.mapped.failed_offsets() or []

    def action_next_error(self, direction: int) -> None:
        """Move to the next (1) or previous (-1) error row, wrapping around once with a notice."""
        offsets = self._failed_offsets()
        checked = "" if self.checked >= self.index.count else f" among the {self.checked:,} records checked so far"
        if not offsets:
            self.notify(f"no error rows{checked}")
            return
        current = self.mapped.offset_of(self.stream.cursor) if self.mapped.count else 0
        if direction > 0:
            k = bisect.bisect_right(offsets, current)
            wrapped, k = (True, 0) if k == len(offsets) else (False, k)
        else:
            k = bisect.bisect_left(offsets, current) - 1
            wrapped, k = (True, len(offsets) - 1) if k < 0 else (False, k)
        row = self.mapped.row_of(offsets[k])
        if row >= self.mapped.count:
            return
        self.stream.jump_to(row)
        self._show_status()
        if wrapped:
            where = "first" if direction > 0 else "last"
            self.notify(f"wrapped to the {where} error row{checked}")

    # -- the bar chart of an aggregate ---------------------------------------------------------------

    async def action_toggle_chart(self) -> None:
        """Show the newest output of an aggregate as bars in place of the rows, or the rows again."""
        await self._hidden_parts()
        self._show_chart_or_rows(not self.query_one("#chart").has_class("-shown"))

    def _show_chart_or_rows(self, shown: bool) -> None:
        chart = self.query_one("#chart")
        chart.set_class(shown, "-shown")
        self.stream.display = not shown
        if shown:
            self._show_chart()
            self._chart_timer.resume()
            chart.focus()
        else:
            self._chart_timer.pause()
            self.stream.focus()

    def _show_chart(self) -> None:
        """Draw the newest row (four times a second while shown): the pass and new records move it on.

        The row is asked for without waiting; one being mapped is drawn on the next tick. A parameter
        change starts a new generation of rows, so the chart starts again from what the new pass counts.
        """
        chart = self.query_one("#chart")
        if not any(module.kind == "aggregate" for module, _ in self.stages):
            self._show_chart_or_rows(False)
            return
        count = self.mapped.count
        row = None
        if count:
            rows = self.mapped.window(count - 1, count, wait=0)
            row = rows[0] if rows else None
        if row is None and chart.generation == self.mapped.generation and count:
            return  # the newest row is being mapped: keep the bars of the previous one meanwhile
        chart.generation = self.mapped.generation
        total = self.index.count
        progress = "" if self.checked >= total else f" · {self.checked:,} of {total:,} records counted"
        where = f"after offset {row.offset}" if row is not None else "waiting for the first output"
        chart.show(row, f"{self._module_label()} · {where}{progress} · b shows the rows",
                   "counting…" if total else "waiting for records…")

    def headless_command(self) -> str:
        """The `--print` command that gives what the screen shows."""
        words = ["smartview", self._address() if self.kafka else self.topic_name]
        for module, _ in self.stages:
            words += ["--map", module.name if self._found_by_name(module) else str(module.path)]
        for module, values in self.stages:
            params = module.make_params(values)
            prefix = f"{module.name}." if len(self.stages) > 1 else ""
            given = (dict(values) if getattr(module, "runtime", "python") == "wasm"  # keys beyond its metadata too
                     else changed_from_default(params, list(module.specs)))
            for name, text in given.items():
                words += ["-e", f"{prefix}{name}={text}"]
        if self.initial is not None and any(module.kind == "aggregate" for module, _ in self.stages):
            words += ["--aggregate-initial", self.initial]
        if self.quick:
            words += ["--grep-v", self.quick[1:]] if self.quick.startswith("!") else ["--grep", self.quick]
        words.append("--print")
        import shlex

        return shlex.join(words)

    def _found_by_name(self, module: Module) -> bool:
        """Whether `--map NAME` finds this module without the --modules-dir flags this run was given.

        The folders are the ones found when smartview started: a module may have changed the working
        directory since.
        """
        dirs = self.selection.named_dirs
        if dirs is None:
            dirs = tuple(config_mod.modules_dirs(None, config_mod.load_config()))
        try:
            return module_mod.find(module.name, list(dirs)).resolve() == module.path.resolve()
        except SmartviewError:
            return False

    def _address(self) -> str:
        """The Kafka address of what the screen shows: the topic's, with the partition shown."""
        topic = self.selection.topic
        if topic.partition is None and len(self.index.partitions) > 1:
            return f"{topic.address}?partition={self.index.partition}"
        return topic.address

    def action_copy_command(self) -> None:
        command = self.headless_command()
        self.copy_to_clipboard(command)
        self.notify(command, title="copied to the clipboard")

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pick module", "Choose another module from the module folders", self.action_pick_module)
        yield SystemCommand("Reset parameters", "Set every parameter back to its default", self.action_reset)
        yield SystemCommand("Copy headless command", "Copy the equivalent smartview --print command", self.action_copy_command)
        yield SystemCommand("Toggle panel", "Show or hide the parameter panel", self.action_toggle_panel)
        yield SystemCommand("Follow", "Jump to the end and follow new records", self.stream.action_follow)
        yield SystemCommand("Find", "Find text in the mapped output", self.action_find)
        yield SystemCommand("Quick filter", "Show only the rows matching a pattern (\\)", self.action_quick_filter)




def row_matches(pattern: Pattern, row: Row) -> bool:
    """Whether find's pattern picks a row: its mapped value, or the error of a failed row."""
    if isinstance(row.result, Failure):
        return pattern.matches(row.result.error.encode("utf-8", "replace"))
    return pattern.matches(row.result.value)


def _short(pattern: str, limit: int = 24) -> str:
    return pattern if len(pattern) <= limit else pattern[: limit // 2 - 1] + "…" + pattern[-(limit // 2):]


def run_viewer(
    selection: Selection,
    index: tuple[LineIndex, threading.Event] | None = None,
    initial: str | None = None,
    process: RowProcess | None = None,
) -> int:
    app = SmartviewApp(selection, index=index, initial=initial, process=process)
    app.run()
    return app.return_code or 0
