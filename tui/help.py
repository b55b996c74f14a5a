"""The `?` screen: every key of the viewer, read from the bindings themselves.

Nothing here lists keys by hand: each section is the `BINDINGS` declared by the app's own classes (the
app, every widget of the main screen, and the screens it opens; Textual's base classes are left out), so
a key added to any of them is listed the moment it exists. Only keys Textual itself provides are named here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

FRAMEWORKS = ("textual", "rich", "builtins")

# What a section of keys is called, by the class whose BINDINGS it shows; another class is named by its own name.
TITLES = {
    "SmartviewApp": "Anywhere in the viewer",
    "StreamView": "The stream",
    "ParamPanel": "The parameter panel (tab moves into it)",
    "GotoBar": "The go-to bar (g or :)",
    "DetailScreen": "The detail view (enter)",
    "ModulePicker": "The module picker (m)",
}

# Keys that Textual gives every app, which no BINDINGS of smartview's own declares.
TEXTUAL_KEYS = [
    ("tab / shift+tab", "Move between the stream and the parameters"),
    ("space", "Toggle the checkbox in focus"),
    ("ctrl+p", "Command palette"),
    ("ctrl+q", "Quit"),
]


def own_bindings(cls: type) -> list[Binding]:
    """The bindings that the app's own classes in `cls`'s ancestry declare (not the ones Textual's add)."""
    found: list[Binding] = []
    for klass in reversed(cls.__mro__):
        if klass.__module__.split(".")[0] in FRAMEWORKS:
            continue
        for item in klass.__dict__.get("BINDINGS", []):
            found.extend(Binding.make_bindings([item]))
    return found


def rows(app: App, bindings: Iterable[Binding]) -> list[tuple[str, str]]:
    """(keys, description) per action: the keys of one action together (`Toggle 1`…`Toggle 9` as `1-9`)."""
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for binding in bindings:
        action = binding.action.split("(")[0]
        descriptions, keys = grouped.setdefault(action, ([], []))
        description = binding.description or binding.tooltip or action.replace("_", " ").capitalize()
        if description not in descriptions:
            descriptions.append(description)
        for key in app.get_key_display(binding).split():
            if key not in keys:
                keys.append(key)
    result = []
    for descriptions, keys in grouped.values():
        if len(keys) > 2 and all(key.isdigit() for key in keys):
            result.append((f"{keys[0]}-{keys[-1]}", re.sub(r"\d+", "N", descriptions[0])))
        else:
            result.append((" ".join(keys), " / ".join(descriptions)))
    return result


def sections(app: App, screens: Iterable[type]) -> list[tuple[str, list[tuple[str, str]]]]:
    """Each of smartview's classes with keys, as (title, rows): the app, the main screen's widgets, the other screens."""
    classes: list[type] = [type(app)]
    main = app.screen_stack[0] if app.screen_stack else app.screen
    for node in main.walk_children():
        if type(node) not in classes:
            classes.append(type(node))
    classes += [screen for screen in screens if screen not in classes]
    found = []
    for cls in classes:
        bindings = own_bindings(cls)
        if bindings:
            found.append((_title(cls), rows(app, bindings)))
    found.append(("Textual", TEXTUAL_KEYS))
    return found


def _title(cls: type) -> str:
    """The section's title: that of the nearest class in the ancestry that has one, else the class's name."""
    return next((TITLES[klass.__name__] for klass in cls.__mro__ if klass.__name__ in TITLES), cls.__name__)


class HelpScreen(ModalScreen[None]):
    """Every key, by where it works; escape, q or ? closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 72; max-width: 100%; height: auto; max-height: 100%; border: round $primary;
                            background: $surface; padding: 0 1; }
    HelpScreen VerticalScroll { height: auto; max-height: 100%; }
    HelpScreen .help-title { text-style: bold; color: $text-primary; margin-top: 1; }
    HelpScreen .help-close { color: $text-muted; }
    """

    BINDINGS = [Binding("escape,q,question_mark", "dismiss", "Close", show=False)]

    def __init__(self, screens: Iterable[type] = ()) -> None:
        super().__init__()
        self.screens = list(screens)

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Keys"
            with VerticalScroll():
                for title, entries in sections(self.app, self.screens):
                    yield Label(title, classes="help-title", markup=False)
                    width = max(len(keys) for keys, _ in entries)
                    table = Text()
                    for number, (keys, description) in enumerate(entries):
                        table.append(("\n" if number else "") + keys.ljust(width), style="bold")
                        table.append(f"  {description}")
                    yield Static(table)
            yield Label("escape, q or ? closes this", classes="help-close")
