"""The parameter panel: one control per module parameter, each showing its default.

The panel only reports what the person typed or toggled (as the string `-e` would take); the app
parses it with the core and tells the panel whether it was applied or invalid. For a chain, each
module's parameters form a group under its name, numbered in chain order; the number keys toggle the
booleans of all groups, counted from the top.

Names, docstrings, defaults and choices come from the module, values from `-e` or a config file: all are
shown as plain text with control characters escaped (core/text.py), never as markup. An input whose
value holds such characters shows them escaped; until it is edited it stands for the value it was given.
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widget import AwaitMount
from textual.widgets import Input, Static

from ..core.modules.module import Module
from ..core.modules.params import ParamSpec, format_value
from ..core.text import printable

TOGGLE_KEYS = 9

# Each module's values as parsed (name -> value), in chain order, alongside the modules themselves.
Groups = list[tuple[Module, dict[str, Any]]]


def control_id(stage: int, name: str) -> str:
    """A widget id for the parameter: its name where the name is ASCII, else with `-XXXX-` for each other letter.

    Widget ids take ASCII letters, digits, `_` and `-` only, while a Python name may be `café`; a name never
    holds `-`, so the encoded forms cannot meet a real name.
    """
    safe = "".join(c if c.isascii() and (c.isalnum() or c == "_") else f"-{ord(c):x}-" for c in name)
    return f"param-{stage}-{safe}"


def _default_id(stage: int, name: str) -> str:
    return "default" + control_id(stage, name).removeprefix("param")


def _plain(text: str) -> Content:
    return Content(printable(text))


def _is_wasm(module: Any) -> bool:
    return getattr(module, "runtime", "python") == "wasm"


def _kind_text(module: Any, spec: ParamSpec) -> str:
    """A Python parameter shows its type; a SmartModule's (all strings) whether it is required."""
    if not _is_wasm(module):
        return spec.kind
    return "required" if spec.required else "optional"


def _default_text(module: Any, spec: ParamSpec, value: Any) -> str:
    if _is_wasm(module):
        if spec.required and not str(value):
            return "no value: the module needs one"
        return "default: none (not passed)" if not spec.required else "required"
    return f"default: {format_value(spec.default) or chr(34) * 2}"


class ParamPanel(VerticalScroll, can_focus=False):
    """Form controls for the parameters of each module in the chain, grouped by module, in declaration order.

    Escape leaves whichever control has the focus, so that the number keys toggle again rather than type.
    """

    BINDINGS = [Binding("escape", "leave", "Back to the stream", show=False)]

    DEFAULT_CSS = """
    ParamPanel {
        width: 34;
        border-left: solid $primary 50%;
        padding: 0 1;
        background: $panel;
    }
    ParamPanel .panel-title { text-style: bold; color: $text-primary; }
    ParamPanel .panel-kind { color: $text-muted; }
    ParamPanel .panel-summary { color: $text-muted; margin-bottom: 1; }
    ParamPanel .param-default { color: $text-muted; margin-bottom: 1; padding-left: 1; }
    ParamPanel .param-default.-changed { color: $text-warning; }
    ParamPanel .param-default.-missing { color: $text-error; text-style: bold; }
    ParamPanel .param-doc { color: $text-muted; }
    ParamPanel .param-label { margin-top: 0; }
    ParamPanel Checkbox { border: none; padding: 0; background: transparent; }
    ParamPanel Checkbox.-changed { text-style: bold; }
    ParamPanel Input.-invalid { border: tall $error; }
    ParamPanel .panel-init-error { display: none; color: $error; }
    ParamPanel .panel-init-error.-shown { display: block; }
    ParamPanel Checkbox.-invalid { color: $text-error; }
    ParamPanel Input { margin: 0; }
    ParamPanel .panel-empty { color: $text-muted; }
    ParamPanel .param-doc { color: $text-muted; text-style: italic; padding-left: 1; }
    ParamPanel #panel-more { dock: bottom; width: 1fr; height: 1; display: none; background: $panel;
                             color: $text-accent; text-align: center; }
    ParamPanel #panel-more.-shown { display: block; }
    """

    # Messages written out rather than as dataclasses: each dataclass costs the start half a millisecond.
    class Changed(Message):
        """A control changed: `text` is the new value as `-e NAME=TEXT` would give it, for module `stage`."""

        def __init__(self, stage: int, name: str, text: str) -> None:
            super().__init__()
            self.stage, self.name, self.text = stage, name, text

    class Left(Message):
        """Escape was pressed in a control: the focus goes back to the stream."""

    def __init__(self, groups: Groups, *, id: str | None = None, later: bool = False) -> None:
        super().__init__(id=id)
        self.groups = groups
        # Each input's escaped text and the value it stands for, while the two differ.
        self._escaped: dict[str, tuple[str, str]] = {}
        # With `later`, the controls wait for `fill`: the viewer's first frame shows the rows without them
        # (their widgets' styles, layout and drawing are a fifth of that frame's work).
        self._waiting = later
        self._filled: AwaitMount | None = None

    def compose(self) -> ComposeResult:
        yield Static("▼ more below", id="panel-more")
        if not self._waiting:
            yield from self._controls()

    async def fill(self, groups: Groups | None = None) -> None:
        """Mount the controls of a panel made `later` (for `groups`, the values as they are now); return
        once they are mounted, whoever asked first."""
        if self._waiting and self._filled is None:
            self.groups = groups if groups is not None else self.groups
            self._filled = self.mount_all(list(self._controls()))
            await self._filled
            self._waiting = False
            self.show_values([values for _, values in self.groups])
        elif self._filled is not None:
            await self._filled

    def _controls(self) -> ComposeResult:
        from textual.widgets import Label

        from .controls import ParamCheckbox

        if not self.groups:
            yield Label("No module selected", classes="panel-title")
            yield Static("Records are shown as they are.\nPress m to pick a module.", classes="panel-empty")
            return
        toggle = 0
        chained = len(self.groups) > 1
        for stage, (module, values) in enumerate(self.groups):
            title = f"{stage + 1}. {module.name}" if chained else module.name
            yield Label(_plain(title), classes="panel-title")
            if module.kind != "map":
                yield Label(f"({module.kind})", classes="panel-kind")
            if module.summary:
                yield Static(_plain(module.summary), classes="panel-summary")
            if not module.specs:
                empty = "No parameters in its metadata." if _is_wasm(module) else "This module takes no parameters."
                yield Static(empty, classes="panel-empty")
            for spec in module.specs:
                value = values.get(spec.name, spec.default)
                if spec.kind == "bool":
                    toggle += 1
                    digit = f"{toggle} " if toggle <= TOGGLE_KEYS else ""
                    yield ParamCheckbox(_plain(f"{digit}{spec.name}"), value=bool(value), id=control_id(stage, spec.name))
                else:
                    yield Label(_plain(f"{spec.name} ({_kind_text(module, spec)})"), classes="param-label")
                    yield self._input_for(stage, spec, value)
                if spec.doc:
                    yield Static(_plain(spec.doc), classes="param-doc")
                yield Static(_plain(_default_text(module, spec, value)), classes="param-default",
                             id=_default_id(stage, spec.name))
            if module.init is not None:
                yield Static("", classes="panel-init-error", id=f"init-error-{stage}", markup=False)
            if _is_wasm(module):  # its metadata may not list every parameter its init reads
                yield Label("add a parameter", classes="param-label")
                yield Input(placeholder="name=value, then Enter", id=f"add-param-{stage}", classes="param-add")

    def _input_for(self, stage: int, spec: ParamSpec, value: Any):
        from textual.widgets import Select

        if spec.kind == "choice":
            options = [(_plain(format_value(choice)), choice) for choice in spec.choices]
            return Select(options, value=value, allow_blank=False, id=control_id(stage, spec.name))
        kind = {"int": "integer", "float": "number"}.get(spec.kind, "text")
        return Input(self._shown(stage, spec.name, format_value(value)), type=kind, id=control_id(stage, spec.name),
                     valid_empty=spec.kind == "str")

    def _shown(self, stage: int, name: str, text: str) -> str:
        """What an input shows for `text`: escaped if need be, remembering what the escaped form stands for."""
        shown = printable(text)
        if shown != text:
            self._escaped[control_id(stage, name)] = (shown, text)
        else:
            self._escaped.pop(control_id(stage, name), None)
        return shown

    def on_mount(self) -> None:
        if not self._waiting:
            self.show_values([values for _, values in self.groups])
        self.watch(self, "scroll_y", self._show_more, init=False)
        self.watch(self, "virtual_size", self._show_more, init=False)

    def on_resize(self) -> None:
        self._show_more()

    def _show_more(self) -> None:
        """Say that controls are hidden below, as long as some are: a panel cut at the bottom looks complete."""
        for hint in self.query("#panel-more"):
            hint.set_class(self.scroll_y < self.max_scroll_y, "-shown")

    def action_leave(self) -> None:
        self.post_message(self.Left())

    def show_modules(self, groups: Groups) -> None:
        """Replace the controls with those of other modules (or of a reloaded one)."""
        self.groups = groups
        self._waiting = False
        self.refresh(recompose=True)
        self.call_after_refresh(self.show_values, [values for _, values in groups])

    def show_values(self, values: list[dict[str, Any]]) -> None:
        """Reflect applied values in the controls (after `r` or a key toggle) and mark non-defaults."""
        if self._waiting:  # `fill` shows the values of its time
            return
        from textual.widgets import Checkbox, Select

        for stage, ((module, _), stage_values) in enumerate(zip(self.groups, values)):
            for spec in module.specs:
                value = stage_values.get(spec.name, spec.default)
                control = self.query_one(f"#{control_id(stage, spec.name)}")
                with self.prevent(Checkbox.Changed, Input.Changed, Select.Changed):
                    if isinstance(control, Checkbox) and control.value != value:
                        control.value = bool(value)
                    elif isinstance(control, Select) and control.value != value:
                        control.value = value
                    elif isinstance(control, Input) and not control.has_class("-invalid") and not control.has_focus:
                        # A box being typed in is never rewritten: the value applied may be the echo of
                        # an earlier key, and keys typed since are already in the box.
                        if self._meant(control.id, control.value) != format_value(value):
                            control.value = self._shown(stage, spec.name, format_value(value))
                changed = value != spec.default
                control.set_class(changed, "-changed")
                default = self.query_one(f"#{_default_id(stage, spec.name)}", Static)
                default.set_class(changed, "-changed")
                if _is_wasm(module):
                    default.update(_plain(_default_text(module, spec, value)))
                    default.set_class(spec.required and not str(value), "-missing")

    def mark_invalid(self, stage: int, name: str, invalid: bool) -> None:
        if self._waiting:  # no control yet: nothing typed in one can be invalid
            return
        self.query_one(f"#{control_id(stage, name)}").set_class(invalid, "-invalid")

    def show_init_error(self, stage: int, message: str | None) -> None:
        """What the module's init said of the values typed, or nothing once it accepts them."""
        for notice in self.query(f"#init-error-{stage}").results(Static):
            notice.update(f"init refused these values: {printable(message)}\nStill running the last values it took."
                          if message else "")
            notice.set_class(message is not None, "-shown")

    def bool_names(self) -> list[tuple[int, str]]:
        """The boolean parameters that the number keys toggle, in order: (module number, name)."""
        found = [(stage, spec.name) for stage, (module, _) in enumerate(self.groups)
                 for spec in module.specs if spec.kind == "bool"]
        return found[:TOGGLE_KEYS]

    def toggle(self, stage: int, name: str) -> None:
        from textual.widgets import Checkbox

        checkbox = self.query_one(f"#{control_id(stage, name)}", Checkbox)
        checkbox.toggle()

    def _meant(self, control_id_: str | None, text: str) -> str:
        """The value an input's text stands for: the original of an escaped value shown unedited."""
        shown, meant = self._escaped.get(control_id_ or "", ("", ""))
        return meant if text == shown and shown else text

    def _changed(self, control_id_: str | None, text: str) -> None:
        for stage, (module, _) in enumerate(self.groups):
            for spec in module.specs:
                if control_id(stage, spec.name) == control_id_:
                    self.post_message(self.Changed(stage, spec.name, self._meant(control_id_, text)))
                    return

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self._changed(event.checkbox.id, format_value(event.value))

    class Added(Message):
        """`name=value` typed into a SmartModule's "add a parameter" field, for module `stage`."""

        def __init__(self, stage: int, text: str) -> None:
            super().__init__()
            self.stage, self.text = stage, text

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id and event.input.id.startswith("add-param-"):
            event.stop()
            self.post_message(self.Added(int(event.input.id[len("add-param-"):]), event.value))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._changed(event.input.id, event.value)

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._changed(event.select.id, format_value(event.value))
