"""Moving around and the detail view in a real terminal (tmux), as a person uses them."""

from __future__ import annotations

from conftest import Workspace
from test_terminal import terminal  # noqa: F401  (the fixture)
from tmux_window import needs_tmux

pytestmark = needs_tmux


def records() -> str:
    """Long rows, a line that is not JSON at offset 40, and a big number written as the file has it."""
    lines = []
    for n in range(60):
        if n == 40:
            lines.append("not json at all")
            continue
        words = " ".join(f"w{n}-{k}" for k in range(40))
        lines.append(f'{{"n":{n},"big":123456789012345678901234567890,"price":1.10,"text":"{words}","end":"END{n}"}}')
    return "\n".join(lines) + "\n"

def go_to(term, offset: str) -> None:
    """`g`, then the offset once the prompt shows (as a person sees it before typing), then Enter."""
    term.keys("g")
    term.wait_for(lambda s: "go to offset" in s)
    term.keys(*offset, "Enter")

def test_go_to_error_scroll_wrap_and_detail_in_a_terminal(ws: Workspace, terminal) -> None:  # noqa: F811
    ws.topic("long", records())
    term = terminal("long", "--map", "fields", "-e", "drop=price")
    term.wait_for(lambda s: "59 {" in s and "1 error" in s)
    go_to(term, "12")
    term.wait_for(lambda s: "12 {" in s and "59 {" not in s)
    term.keys("e")  # the next error row, from offset 12
    term.wait_for(lambda s: "40 ✖" in s)
    term.keys("Right", "Right")  # sideways: the offsets stay, the value starts with …
    term.wait_for(lambda s: "\n39 …" in s and '"w39-0' in s and "\n40 …" in s and "\n39 {" not in s)
    term.keys("Left", "Left", "w")  # wrapped onto several lines
    term.keys("p")  # the panel hidden: room for the rows
    go_to(term, "5")
    term.wait_for(lambda s: "\n 5 {" in s)
    term.keys("Enter")  # the detail of offset 5: the input as written, wrapped to its pane
    screen = term.wait_for(lambda s: "offset 5" in s and '"big": 123456789012345678901234567890' in s)
    assert '  "big": 123456789012345678901234567890' in screen  # the module kept it as written: unchanged
    assert '- "price": 1.10,' in screen and '  "text": "w5-0' in screen
    term.keys("Escape")
    term.wait_for(lambda s: "offset 5" not in s)
    term.keys("q")
    term.wait_for(lambda s: "1 error" not in s)
