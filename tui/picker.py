"""The module picker: every module in the module folders, with the first line of its docstring.

The list is read from the modules' source (core/modules/listing.py): no module runs until it is chosen.
Names, summaries and load errors come from module files: each entry is a plain Text (control characters
escaped), never markup.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from ..core.modules import module as module_mod
from ..core.modules.listing import ModuleEntry, describe
from ..core.text import printable

NO_MODULE = "-"


class ModulePicker(ModalScreen[Path | str | None]):
    """Dismisses with the chosen module's path, NO_MODULE for none, or None when cancelled."""

    DEFAULT_CSS = """
    ModulePicker { align: center middle; }
    ModulePicker > Vertical { width: 80%; max-width: 100; height: auto; max-height: 80%; border: round $primary; background: $surface; padding: 0 1; }
    ModulePicker OptionList { height: auto; max-height: 20; border: none; }
    ModulePicker .picker-help { color: $text-muted; }
    """

    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, dirs: list[Path], current: Path | None, given: list[Path] = ()) -> None:
        super().__init__()
        self.dirs = dirs
        self.current = current
        self.given = list(given)  # modules named by path on the command line, wherever they are

    def compose(self) -> ComposeResult:
        none_mark = "● " if self.current is None else "  "
        options = [Option(f"{none_mark}(no module) records as they are", id=NO_MODULE)]
        in_folders = set(module_mod.available_paths(self.dirs))
        for path in self._paths():
            text = self._describe(describe(path))
            if path not in in_folders:
                text.append(f"  ({printable(str(path))})", style="dim italic")
            options.append(Option(text, id=str(path)))
        # The cursor starts on what is shown now, so enter alone keeps it and a neighbour is one key away.
        current = [n for n, option in enumerate(options) if self._is_current(option.id)]
        with Vertical() as box:
            box.border_title = "Pick a module"
            picker = OptionList(*options)
            picker.highlighted = current[0] if current else 0
            yield picker
            yield Label("enter picks · esc cancels · `smartview modules` lists where each comes from", classes="picker-help")

    def _paths(self) -> list[Path]:
        """The modules of the folders, then those given by path that no folder holds."""
        found = module_mod.available_paths(self.dirs)
        seen = {path.resolve() for path in found}
        for path in self.given:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(path)
        return found

    def _is_current(self, option: str | None) -> bool:
        if self.current is None:
            return option == NO_MODULE
        return option != NO_MODULE and Path(option).resolve() == self.current.resolve()

    def _describe(self, entry: ModuleEntry) -> Text:
        path = entry.path
        mark = "● " if self._is_current(str(path)) else "  "
        text = Text(mark)
        text.append(printable(path.stem), style="bold")
        if entry.error is not None:
            text.append(f"  (does not load: {printable(entry.error)})", style="dim")
            return text
        if entry.kind != "map":
            text.append(f" ({entry.kind})", style="dim")
        text.append(f"  {printable(entry.summary)}", style="dim")
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        chosen = event.option.id
        self.dismiss(NO_MODULE if chosen == NO_MODULE else Path(chosen))

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
