"""The viewer: a topic mapped live through a module, with its parameters in a side panel.

The app owns the wiring only. Reading, indexing and mapping belong to the core; the widgets draw what
the app hands them. Slow work never holds the screen: a large file is indexed in the background, the
whole-topic error count runs in a child process, and find runs in a thread worker.
"""

from __future__ import annotations

import asyncio
import gc
import shlex
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import get_current_worker

from ..core import config as config_mod
from ..core import follow
from ..core import module as module_mod
from ..core.errors import SmartviewError
from ..core.index import LineIndex
from ..core.module import Module
from ..core.params import changed_from_default, format_value
from ..core.record import Record
from ..core.census import Census
from ..core.rows import MappedTopic
from ..core.runner import Failure, Identity, Mapper
from .detail import DetailScreen
from .panel import ParamPanel
from .picker import NO_MODULE, ModulePicker
from .render import decode
from .status import Status, StatusBar
from .stream import StreamView

if TYPE_CHECKING:
    from ..cli import Selection

FIND_BATCH = 2048
BURST_RECORDS = 1000
BURST_PAUSE = 0.05


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
    #banner { display: none; background: $error 30%; color: $text; padding: 0 1; height: auto; }
    #banner.-shown { display: block; }
    #find { dock: bottom; display: none; }
    #find.-shown { display: block; }
    """

    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_panel", "Panel"),
        Binding("m", "pick_module", "Module"),
        Binding("r", "reset", "Reset"),
        Binding("slash", "find", "Find"),
        Binding("n", "find_next(1)", "Next", show=False),
        Binding("N", "find_next(-1)", "Previous", show=False),
        Binding("c", "copy_command", "Copy cmd"),
        *[Binding(str(n), f"toggle({n})", f"Toggle {n}", show=False) for n in range(1, 10)],
    ]

    def __init__(
        self,
        selection: Selection,
        watch: bool = True,
        index: tuple[LineIndex, threading.Event] | None = None,
    ) -> None:
        super().__init__()
        self.selection = selection
        self.topic_name = selection.topic.name
        self.watch = watch
        self.module: Module | None = selection.module
        self.values: dict[str, str] = dict(selection.values)
        if index is None:
            built = LineIndex(selection.topic.path)
            index = (built, built.build_in_background())
        self.index, self._indexed = index
        self.mapped = MappedTopic(self.index, self._mapper(), self.values)
        self.status = Status(self.topic_name, self._module_label())
        self.failures = 0
        self.checked = 0
        self.find_text: str | None = None
        self._rate_count = 0
        self._census: Census | None = None
        self._missing = False

    # -- layout -------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static(id="banner")
        with Horizontal(id="main"):
            yield StreamView(self.mapped, id="stream")
            yield ParamPanel(self.module, self._parsed_values(), id="panel")
        yield Input(placeholder="find in mapped output (enter searches, esc closes)", id="find")
        yield StatusBar()
        yield Footer()

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

        self.mapped.on_ready = rows_ready
        self.stream.empty_message = f"Waiting for records in {self.topic_name}…"
        self.stream.focus()
        self._show_status()
        self._index_timer = self.set_interval(0.02, self._poll_index, name="index-poll")
        self._census_timer = self.set_interval(0.1, self._poll_census, name="census", pause=True)
        self.set_interval(0.25, self._show_busy, name="busy")

    def _rows_ready(self) -> None:
        """Rows that a slow module held back are mapped now."""
        if not self.query("#stream"):  # the app is closing
            return
        self.stream.refresh()
        self._show_busy()

    def _show_busy(self) -> None:
        """Name the record a slow module is working on (checked four times a second)."""
        busy = self.mapped.busy_offset
        text = f"[$text-warning]mapping offset {busy}…[/]" if busy is not None else ""
        if text != self.status.busy:
            self.status.busy = text
            self._show_status()

    def on_unmount(self) -> None:
        self._stop_error_pass()
        self.mapped.close()

    # -- the topic ----------------------------------------------------------------------------------

    def _poll_index(self) -> None:
        """Until the first full index is built, show its progress; then start following."""
        done = self._indexed.is_set()
        size = max(self.index.size(), 1)
        self.query_one(StatusBar).progress(None if done else self.index.scanned / size)
        if not done:
            return
        self._index_timer.stop()
        self._rate_count = self.index.count
        self._records_changed()
        self.call_after_refresh(self._start_error_pass)  # the first rows never wait for the count
        # The app's objects are built by now: freezing them keeps full garbage collections (tens of
        # milliseconds over a Textual app's heap) out of the path of each appended record.
        gc.freeze()
        if self.watch:
            self.set_interval(1.0, self._sample_rate, name="rate")
            self._follow_topic()
            if self.module is not None:
                self._watch_module()

    def _records_changed(self, unfinished: int | None = None) -> None:
        self.stream.unfinished = self.index.unfinished() if unfinished is None else unfinished
        self.stream.update_count()
        self.status.records = self.index.count
        if self.module is None:
            self.checked = self.index.count  # records shown as they are cannot fail
        self._show_status()

    @work(exclusive=True, group="follow")
    async def _follow_topic(self) -> None:
        async for _ in follow.achanges(self.index.path):
            change = self.index.change()
            if change == "deleted":
                if not self._missing:
                    self._missing = True
                    self.notify(f"{self.topic_name} was deleted; waiting for it to return", severity="warning")
                continue
            self._missing = False
            if change is not None:
                self.index.reset()
                self.mapped.forget()
                self._start_error_pass()
                self.notify(f"{self.topic_name} was {change}; showing it again from offset 0", severity="warning")
                self.stream.action_follow()
            added = self.index.update()
            unfinished = self.index.unfinished()
            if added or change is not None or unfinished != self.stream.unfinished:
                self._records_changed(unfinished)
            if added > BURST_RECORDS:
                # A burst: take in what arrived at most every BURST_PAUSE seconds, so that drawing the
                # newest rows never crowds out the keys; a single record is still shown at once.
                await asyncio.sleep(BURST_PAUSE)

    def _sample_rate(self) -> None:
        count = self.index.count
        self.query_one(StatusBar).add_rate_sample(max(0, count - self._rate_count))
        self._rate_count = count

    # -- the module and its parameters --------------------------------------------------------------

    def _module_label(self) -> str:
        return self.module.name if self.module else "no module"

    def _parsed_values(self) -> dict[str, Any]:
        if self.module is None:
            return {}
        params = self.module.make_params(self.values)
        return {spec.name: getattr(params, spec.name) for spec in self.module.specs}

    def _mapper(self) -> Mapper | Identity:
        if self.module is None:
            return Identity()
        return Mapper(self.module, self.module.make_params(self.values))

    def _apply(self) -> None:
        """New values: re-map everything from the start, keeping the scroll position."""
        self._remap()
        self.panel.show_values(self._parsed_values())

    def _remap(self) -> None:
        """Map every row again with the current module and values, and restart the error count."""
        self.mapped.set_mapper(self._mapper(), self.values)
        self.stream.remap()
        self.status.module = self._module_label()
        self._start_error_pass()

    def on_param_panel_changed(self, event: ParamPanel.Changed) -> None:
        assert self.module is not None
        spec = next(s for s in self.module.specs if s.name == event.name)
        try:
            value = spec.parse(event.text)
        except SmartviewError:
            self.panel.mark_invalid(event.name, True)
            return
        self.panel.mark_invalid(event.name, False)
        if value == spec.default:
            self.values.pop(event.name, None)
        else:
            self.values[event.name] = format_value(value)
        self._apply()

    def action_toggle(self, number: int) -> None:
        names = self.panel.bool_names()
        if 0 < number <= len(names):
            self.panel.toggle(names[number - 1])

    def action_reset(self) -> None:
        if self.module is None or not self.values:
            return
        self.values.clear()
        for spec in self.module.specs:
            self.panel.mark_invalid(spec.name, False)
        self._apply()

    def action_pick_module(self) -> None:
        current = self.module.path if self.module else None
        self.push_screen(ModulePicker(self.selection.modules_dirs, current), self._module_picked)

    def _module_picked(self, choice: Path | str | None) -> None:
        if choice is None:
            return
        if choice == NO_MODULE:
            self._use_module(None)
            return
        try:
            module = module_mod.load(Path(choice))
        except SmartviewError as exc:
            self.notify(exc.message, severity="error", title="module does not load")
            return
        if module.kind != "map":
            self.notify(f"{module.name} is a {module.kind} module: run it with --print", severity="warning",
                        title="the viewer shows map modules for now")
            return
        self._use_module(module)

    def _use_module(self, module: Module | None) -> None:
        self.module = module
        self.values = {}
        self.query_one("#banner").remove_class("-shown")
        self.panel.show_module(module, self._parsed_values())
        self._remap()
        if self.watch and module is not None:
            self._watch_module()

    @work(exclusive=True, group="module-watch")
    async def _watch_module(self) -> None:
        """Reload the module when its file changes; a broken edit keeps the last good version running."""
        assert self.module is not None
        path = self.module.path
        async for changed in follow.achanges(path):
            if not changed or self.module is None or self.module.path != path or not path.exists():
                continue
            try:
                module = module_mod.load(path)
                module.make_params({k: v for k, v in self.values.items() if k in {s.name for s in module.specs}})
            except SmartviewError as exc:
                banner = self.query_one("#banner", Static)
                banner.update(f"{exc.message}\nStill running the last version that loaded.")
                banner.add_class("-shown")
                continue
            self.query_one("#banner").remove_class("-shown")
            names = {s.name for s in module.specs}
            same_params = [s.name for s in module.specs] == [s.name for s in self.module.specs]
            self.module = module
            self.values = {k: v for k, v in self.values.items() if k in names}
            if same_params:
                self._apply()
            else:
                self.panel.show_module(module, self._parsed_values())
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
        if self.module is None:
            self.checked = self.index.count
            self._show_status()
            return
        self._census = Census(self.index.path, self.module.path, self.values)
        self._census_timer.resume()
        self._show_status()

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
        self.status.errors = self.failures
        self.status.checked = self.checked
        self.status.following = self.stream.following
        self.status.new = self.stream.new_while_paused
        self.query_one(StatusBar).show(self.status)

    def on_stream_view_follow_changed(self, event: StreamView.FollowChanged) -> None:
        self._show_status()

    # -- detail, find, copy, panel ------------------------------------------------------------------

    def on_stream_view_selected(self, event: StreamView.Selected) -> None:
        rows = self.mapped.window(event.offset, event.offset + 1, wait=0.2)
        if not rows or rows[0] is None:
            self.notify(f"offset {event.offset} is still being mapped", severity="warning")
            return
        self.push_screen(DetailScreen(rows[0], self.mapped.value(event.offset), self.topic_name))

    def action_toggle_panel(self) -> None:
        self.panel.display = not self.panel.display

    def action_find(self) -> None:
        find = self.query_one("#find", Input)
        find.add_class("-shown")
        find.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "find":
            return
        event.input.remove_class("-shown")
        self.find_text = event.value or None
        self.stream.search = self.find_text
        self.stream.remap()
        self.stream.focus()
        if self.find_text:
            self._find(self.find_text, self.stream.cursor, 1, include_start=True)

    def on_key(self, event) -> None:
        find = self.query_one("#find", Input)
        if event.key == "escape" and find.has_class("-shown"):
            find.remove_class("-shown")
            self.stream.focus()
            event.stop()

    def action_find_next(self, direction: int) -> None:
        if self.find_text:
            self._find(self.find_text, self.stream.cursor, direction)

    @work(thread=True, exclusive=True, group="find")
    def _find(self, text: str, origin: int, direction: int, include_start: bool = False) -> None:
        """Search the mapped output record by record from the cursor, in a thread; wraps around once."""
        worker = get_current_worker()
        mapper = self.mapped.mapper
        count = self.index.count
        if count == 0:
            return
        needle = text.lower()
        offset = origin if include_start else origin + direction
        for step in range(0, count, FIND_BATCH):
            if worker.is_cancelled:
                return
            batch = [(offset + direction * i) % count for i in range(min(FIND_BATCH, count - step))]
            offset = (batch[-1] + direction) % count
            for candidate in batch:
                if needle in self._searchable(mapper, candidate):
                    self.call_from_thread(self.stream.move_to, candidate)
                    self.call_from_thread(self._show_status)
                    return
        self.call_from_thread(self.notify, f"{text!r} not found", severity="warning")

    def _searchable(self, mapper: Mapper | Identity, offset: int) -> str:
        value = self.index.read(offset, offset + 1)
        if not value:
            return ""
        result = mapper.apply(Record(offset, None, value[0]))
        if isinstance(result, Failure):
            return result.error.lower()
        return decode(result.value, None).lower()

    def headless_command(self) -> str:
        """The `--print` command that gives what the screen shows."""
        words = ["smartview", self.topic_name]
        if self.module is not None:
            words += ["--map", self.module.name if self._module_is_found_by_name() else str(self.module.path)]
            params = self.module.make_params(self.values)
            for name, text in changed_from_default(params, list(self.module.specs)).items():
                words += ["-e", f"{name}={text}"]
        words.append("--print")
        return shlex.join(words)

    def _module_is_found_by_name(self) -> bool:
        """Whether `--map NAME` finds this module without the --modules-dir flags this run was given."""
        assert self.module is not None
        try:
            dirs = config_mod.modules_dirs(None, config_mod.load_config())
            return module_mod.find(self.module.name, dirs).resolve() == self.module.path.resolve()
        except SmartviewError:
            return False

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


def run_viewer(selection: Selection, index: tuple[LineIndex, threading.Event] | None = None) -> int:
    app = SmartviewApp(selection, index=index)
    app.run()
    return app.return_code or 0
