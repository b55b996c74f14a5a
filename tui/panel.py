"""The parameter panel: one control per module parameter, each showing its default.

The panel only reports what the person typed or toggled (as the string `-e` would take); the app
parses it with the core and tells the panel whether it was applied or invalid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Input, Label, Select, Static

from ..core.module import Module
from ..core.params import ParamSpec, format_value

TOGGLE_KEYS = 9


def control_id(name: str) -> str:
    return f"param-{name}"


class ParamPanel(VerticalScroll, can_focus=False):
    """Form controls for a module's parameters, in declaration order."""

    DEFAULT_CSS = """
    ParamPanel {
        width: 34;
        border-left: solid $primary 50%;
        padding: 0 1;
        background: $panel;
    }
    ParamPanel .panel-title { text-style: bold; color: $text-primary; }
    ParamPanel .panel-summary { color: $text-muted; margin-bottom: 1; }
    ParamPanel .param-default { color: $text-muted; margin-bottom: 1; padding-left: 1; }
    ParamPanel .param-default.-changed { color: $text-warning; }
    ParamPanel .param-label { margin-top: 0; }
    ParamPanel Checkbox { border: none; padding: 0; background: transparent; }
    ParamPanel Checkbox.-changed { text-style: bold; }
    ParamPanel Input.-invalid { border: tall $error; }
    ParamPanel Input { margin: 0; }
    ParamPanel .panel-empty { color: $text-muted; }
    """

    @dataclass
    class Changed(Message):
        """A control changed: `text` is the new value as `-e NAME=TEXT` would give it."""

        name: str
        text: str

    def __init__(self, module: Module | None, values: dict[str, Any], *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.module = module
        self.values = values

    def compose(self) -> ComposeResult:
        if self.module is None:
            yield Label("No module selected", classes="panel-title")
            yield Static("Records are shown as they are.\nPress m to pick a module.", classes="panel-empty")
            return
        yield Label(self.module.name, classes="panel-title")
        if self.module.summary:
            yield Static(self.module.summary, classes="panel-summary")
        if not self.module.specs:
            yield Static("This module takes no parameters.", classes="panel-empty")
        toggle = 0
        for spec in self.module.specs:
            value = self.values.get(spec.name, spec.default)
            if spec.kind == "bool":
                toggle += 1
                digit = f"{toggle} " if toggle <= TOGGLE_KEYS else ""
                yield Checkbox(f"{digit}{spec.name}", value=bool(value), id=control_id(spec.name))
            else:
                yield Label(f"{spec.name} ({spec.kind})", classes="param-label")
                yield self._input_for(spec, value)
            shown = format_value(spec.default) or '""'
            yield Static(f"default: {shown}", classes="param-default", id=f"default-{spec.name}")

    def _input_for(self, spec: ParamSpec, value: Any):
        if spec.kind == "choice":
            options = [(format_value(choice), choice) for choice in spec.choices]
            return Select(options, value=value, allow_blank=False, id=control_id(spec.name))
        kind = {"int": "integer", "float": "number"}.get(spec.kind, "text")
        return Input(format_value(value), type=kind, id=control_id(spec.name), valid_empty=spec.kind == "str")

    def on_mount(self) -> None:
        self.show_values(self.values)

    def show_module(self, module: Module | None, values: dict[str, Any]) -> None:
        """Replace the controls with those of another module (or of a reloaded one)."""
        self.module = module
        self.values = values
        self.refresh(recompose=True)
        self.call_after_refresh(self.show_values, values)

    def show_values(self, values: dict[str, Any]) -> None:
        """Reflect applied values in the controls (after `r` or a key toggle) and mark non-defaults."""
        if self.module is None:
            return
        for spec in self.module.specs:
            value = values.get(spec.name, spec.default)
            control = self.query_one(f"#{control_id(spec.name)}")
            with self.prevent(Checkbox.Changed, Input.Changed, Select.Changed):
                if isinstance(control, Checkbox) and control.value != value:
                    control.value = bool(value)
                elif isinstance(control, Select) and control.value != value:
                    control.value = value
                elif isinstance(control, Input) and not control.has_class("-invalid"):
                    if control.value != format_value(value):
                        control.value = format_value(value)
            changed = value != spec.default
            control.set_class(changed, "-changed")
            self.query_one(f"#default-{spec.name}").set_class(changed, "-changed")

    def mark_invalid(self, name: str, invalid: bool) -> None:
        self.query_one(f"#{control_id(name)}").set_class(invalid, "-invalid")

    def bool_names(self) -> list[str]:
        """The boolean parameters that the number keys toggle, in order."""
        if self.module is None:
            return []
        return [spec.name for spec in self.module.specs if spec.kind == "bool"][:TOGGLE_KEYS]

    def toggle(self, name: str) -> None:
        checkbox = self.query_one(f"#{control_id(name)}", Checkbox)
        checkbox.toggle()

    def _name_of(self, control_id_: str | None) -> str | None:
        if control_id_ and control_id_.startswith("param-"):
            return control_id_[len("param-") :]
        return None

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        if name := self._name_of(event.checkbox.id):
            self.post_message(self.Changed(name, format_value(event.value)))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if name := self._name_of(event.input.id):
            self.post_message(self.Changed(name, event.value))

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if name := self._name_of(event.select.id):
            self.post_message(self.Changed(name, format_value(event.value)))
