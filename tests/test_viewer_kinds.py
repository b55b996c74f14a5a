"""The viewer with modules that are not one record in, one record out: filters, array_maps, aggregates, chains."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import smartview_command
from smartview.tui.detail import DetailScreen
from test_viewer import EVENT, append, run, wait_for
from viewer_support import make_app, screen_text, settle

TYPES = ("login", "logout", "home_page", "play_demo")


def events(count: int) -> str:
    """Events whose type cycles through TYPES: every fourth one is a login."""
    return "".join(EVENT.format(n=n).replace('"login"', f'"{TYPES[n % 4]}"') for n in range(count))


def print_lines(topic: Path, *args: str) -> list[str]:
    """What `smartview TOPIC ... --print` writes: the viewer must agree with it row for row."""
    done = subprocess.run([*smartview_command(), str(topic), *args, "--print"], capture_output=True, text=True)
    return done.stdout.splitlines()


def rows(app) -> list[list[str]]:
    """The visible rows as (label, value) pairs, without the panel."""
    width = app.stream.size.width
    lines = [line[:width].strip() for line in screen_text(app).splitlines()]
    return [line.split(maxsplit=1) for line in lines if line]


def test_filter_shows_passing_records_with_their_offsets_and_the_passed_count(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(40))

    async def scenario():
        app = make_app(topic, module="where", values={"equals": "login"})
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            shown = rows(app)
            assert [label for label, _ in shown] == [str(n) for n in range(0, 40, 4)]
            assert all('"type":"login"' in value for _, value in shown)
            assert app.status.passed == 10 and app.status.records == 40
            # A new parameter value runs the filter again from the first record.
            field = app.query_one("#param-0-equals")
            field.value = "logout"
            await wait_for(pilot, lambda: [r[0] for r in rows(app)] == [str(n) for n in range(1, 40, 4)])
            await settle(pilot)
            assert app.status.passed == 10
            assert app.headless_command() == "smartview events --map where -e equals=logout --print"

    run(scenario())


def test_filter_follows_appended_records(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(8))

    async def scenario():
        app = make_app(topic, module="where", values={"equals": "login"}, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert [r[0] for r in rows(app)] == ["0", "4"]
            append(topic, events(12)[len(events(8)):])
            await wait_for(pilot, lambda: [r[0] for r in rows(app)] == ["0", "4", "8"])
            await wait_for(pilot, lambda: app.status.passed == 3 and app.status.records == 12)

    run(scenario())


def test_array_map_rows_are_numbered_offset_dot_index(tmp_path: Path) -> None:
    topic = tmp_path / "orders.jsonl"
    topic.write_text(
        '{"order":1,"items":["a","b","c"]}\n'
        '{"order":2,"items":[]}\n'
        "not json\n"
        '{"order":4,"items":["d"]}\n'
    )

    async def scenario():
        app = make_app(topic, module="explode")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            shown = rows(app)
            assert [label for label, _ in shown] == ["0.0", "0.1", "0.2", "2.0", "3.0"]
            assert [value.strip() for _, value in shown[:3]] == ["a", "b", "c"]  # strings as they are
            assert "array_map raised JSONDecodeError" in shown[3][1]
            assert app.status.rows == 5 and app.failures == 1
            await pilot.press("1")  # keep_parent
            await wait_for(pilot, lambda: '"parent":{"order":1}' in screen_text(app))
            assert [r[0] for r in rows(app)] == ["0.0", "0.1", "0.2", "2.0", "3.0"]
            # Enter opens the record the row came from.
            app.stream.move_to(4)
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen))
            assert b'"order":4' in app.screen.value
            assert app.screen.query_one("#detail").border_title == "orders · offset 3 · output 1 of the record"

    run(scenario())


AUDITED = '''
import os
from dataclasses import dataclass

INITIAL = "0"

@dataclass
class Params:
    log: str = ""

def aggregate(acc, record, params):
    with open(params.log, "a") as out:
        out.write(f"{os.getpid()} {record.offset}\\n")
    return str(int(acc) + int(record.value))
'''


def test_aggregate_rows_match_print_and_scrolling_back_starts_from_a_checkpoint(tmp_path: Path) -> None:
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("".join(f"{n}\n" for n in range(6000)))
    log = tmp_path / "calls.log"
    (tmp_path / "total.py").write_text(AUDITED)

    async def scenario():
        app = make_app(topic, module="total", values={"log": str(log)}, modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert rows(app)[-1] == ["5999", str(sum(range(6000)))]
            log.write_text("")
            app.stream.move_to(4500)
            await wait_for(pilot, lambda: ["4500", str(sum(range(4501)))] in rows(app))
            # The rows on screen were mapped from the checkpoint before them, not from offset 0.
            offsets = [int(line.split()[1]) for line in log.read_text().splitlines()]
            assert offsets and min(offsets) >= 4500 - 1024 - 30
            return rows(app)

    shown = run(scenario())
    expected = print_lines(topic, "--map", str(tmp_path / "total.py"), "-e", f"log={os.devnull}")
    assert all(expected[int(label)] == value for label, value in shown)


def test_chain_panel_groups_parameters_by_module(tmp_path: Path) -> None:
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(12))

    async def scenario():
        app = make_app(topic, chain=[("where", {"equals": "login"}), ("user_events", {})])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            panel = app.panel
            titles = [str(label.render()) for label in panel.query(".panel-title")]
            assert titles == ["1. where", "2. user_events"]
            assert [r[0] for r in rows(app)] == ["0", "4", "8"]
            assert all('"account_id"' in value for _, value in rows(app))
            await pilot.press("1")  # the first boolean of the chain: user_events' show_account_id
            # The three rows again, not the "Waiting for records" shown while the new pass starts counting.
            await wait_for(pilot, lambda: [r[0] for r in rows(app)] == ["0", "4", "8"]
                           and not any('"account_id"' in v for _, v in rows(app)))
            assert app.headless_command() == (
                "smartview events --map where --map user_events -e where.equals=login "
                "-e user_events.show_account_id=false --print"
            )
            return rows(app)

    shown = run(scenario())
    expected = print_lines(topic, "--map", "where", "--map", "user_events", "-e", "where.equals=login",
                           "-e", "user_events.show_account_id=false", "-F", "{{offset}} {{value}}")
    assert [" ".join(row) for row in shown] == expected


ODD = '''"""Ten times the odd numbers; the even ones are dropped (a filter_map)."""


def filter_map(record, params):
    n = int(record.value)
    return str(n * 10) if n % 2 else None
'''


def test_filter_map_shows_mapped_survivors_at_their_offsets(tmp_path: Path) -> None:
    topic = tmp_path / "numbers.jsonl"
    topic.write_text("1\n2\n3\nfour\n5\n")
    (tmp_path / "odd.py").write_text(ODD)

    async def scenario():
        app = make_app(topic, module="odd", modules_dirs=[tmp_path])
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            shown = rows(app)
            assert [label for label, _ in shown] == ["0", "2", "3", "4"]
            assert [shown[0][1], shown[1][1], shown[3][1]] == ["10", "30", "50"]
            assert "filter_map raised ValueError" in shown[2][1]
            assert app.status.passed == 3 and app.failures == 1

    run(scenario())


def _background(pid: int) -> tuple[bool, int, str]:
    """Whether `pid` left this session, its nice value, and its scheduling group as /proc tells it."""
    group = Path(f"/proc/{pid}/autogroup")
    return os.getsid(pid) != os.getsid(0), os.getpriority(os.PRIO_PROCESS, pid), group.read_text().strip() if group.exists() else ""


def test_background_passes_run_in_a_low_priority_group_of_their_own(tmp_path: Path) -> None:
    """The error count and a filter's row count take the processor only when the viewer leaves it: in a
    session of their own (Linux shares the processor between sessions first), niced, and with their
    group niced where the kernel has autogroups; an aggregate's row count too, once it has reported its
    first rows. Run in the test's own session, as the viewer would be."""
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(40))

    async def scenario(module: str, values: dict, process, nice: int):
        app = make_app(topic, module=module, values=values, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            pid = process(app).pid
            await wait_for(pilot, lambda: _background(pid)[:2] == (True, nice))
            group = _background(pid)[2]
            assert not group or group.endswith(f"nice {nice}")

    run(scenario("user_events", {}, lambda app: app._census._process, 19))
    run(scenario("where", {"equals": "login"}, lambda app: app.mapped.outputs._process, 19))
    run(scenario("count_by", {}, lambda app: app.mapped.outputs._process, 19))


def test_opening_a_module_with_text_parameters_maps_and_counts_once(tmp_path: Path) -> None:
    """The panel's text and choice fields report their first value when they mount; that is no change:
    the rows are not mapped again and the background pass is not restarted (a page key pressed during a
    restart found the rows counted anew from zero and jumped to the top)."""
    topic = tmp_path / "events.jsonl"
    topic.write_text(events(40))

    async def scenario():
        app = make_app(topic, module="count_by", watch=True)
        passes = []
        start = app._start_error_pass
        app._start_error_pass = lambda: (passes.append(app.mapped.outputs), start())[1]
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.pause(0.3)
            assert len(passes) == 1 and app.mapped.outputs is passes[0]
            app.query_one("#param-0-field").value = "user_client"  # a real change still maps again
            await wait_for(pilot, lambda: len(passes) == 2)

    run(scenario())
