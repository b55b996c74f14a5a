"""The panel's controls that its first frame goes without: their widgets' modules are imported when it is filled."""

from __future__ import annotations

from textual.widgets import Checkbox


class ParamCheckbox(Checkbox):
    """A checkbox whose state is in its glyph (X or blank), not only in the colour of the X."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # Textual reads it on every render
        return "X" if self.value else " "
