"""`--print`: ranges, formats, failures, pipes and the parallel path, through the real command."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter

import orjson
import pytest

from conftest import RANGE_CASES, Workspace, smartview_command

NUMBERS = "".join(f"{n}\n" for n in range(10))


@pytest.fixture
def numbers(ws: Workspace) -> Workspace:
    ws.topic("numbers", NUMBERS)
    return ws


def lines(result) -> list[str]:
    assert "Traceback" not in result.err
    return result.out.splitlines()


@pytest.mark.parametrize("flags, expected", RANGE_CASES)
def test_start_and_stop_flags(numbers: Workspace, flags: list[str], expected: list[int]) -> None:
    result = numbers.run("numbers", "--map", "double", "--print", *flags)
    assert result.code == 0
    assert lines(result) == [str(2 * n) for n in expected]


def test_no_module_prints_records_as_they_are(ws: Workspace) -> None:
    ws.topic("raw", b'{"a": 1}\r\nplain text\n\n{"b":2}')
    result = ws.run("raw", "--print")
    assert result.out == '{"a": 1}\nplain text\n\n{"b":2}\n'


def test_key_value_and_format(numbers: Workspace) -> None:
    kv = numbers.run("numbers", "--map", "double", "--print", "-k", "--count", "2")
    assert kv.out == "[null] 0\n[null] 2\n"
    template = numbers.run("numbers", "--map", "double", "--print", "-F", "{{offset}}:{{key}}={{value}}", "-T", "1")
    assert template.out == "9:null=18\n"
    bad = numbers.run("numbers", "--print", "-F", "{{time}} {{nope}}")
    assert bad.code == 2 and "unknown placeholder {{nope}}" in bad.err
    # File records have no timestamp: Fluvio prints NA for {{time}} then.
    timed = numbers.run("numbers", "--print", "-F", "{{offset}} {{time}}", "-T", "1")
    assert timed.out == "9 NA\n"


def test_returning_key_value_tuple(ws: Workspace) -> None:
    ws.topic("pairs", '{"id": "a", "n": 1}\n{"id": "b", "n": 2}\n')
    module = ws.module("keyed", "import json\ndef map(record, params):\n    e = json.loads(record.value)\n    return e['id'], {'n': e['n'] * 10}\n")
    result = ws.run("pairs", "--map", str(module), "--print", "-k")
    assert result.out == '[a] {"n":10}\n[b] {"n":20}\n'


BROKEN_EVENTS = (
    '{"type":"login","account_id":"1","timestamp":1,"user_client":"safari"}\n'
    "not json at all\n"
    '{"type":"teleport","account_id":"1","timestamp":2,"user_client":"safari"}\n'
    '{"type":"logout","account_id":"1","timestamp":3,"user_client":"safari"}\n'
)


def test_failed_records_are_reported_and_the_run_goes_on(ws: Workspace) -> None:
    ws.topic("events", BROKEN_EVENTS)
    result = ws.run("events", "--map", "user_events", "--print", "-e", "show_account_id=false")
    assert result.code == 1
    assert [orjson.loads(line)["type"] for line in lines(result)] == ["login", "logout"]
    errors = result.err.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("smartview: events offset 1: map raised JSONDecodeError")
    assert "user_events.py:" in errors[0] and "value: not json at all" in errors[0]
    assert "offset 2" in errors[1] and "unknown event type 'teleport'" in errors[1]


def test_on_error_stop_prints_what_came_before(ws: Workspace) -> None:
    ws.topic("events", BROKEN_EVENTS)
    result = ws.run("events", "--map", "user_events", "--print", "--on-error", "stop")
    assert result.code == 1
    assert len(lines(result)) == 1
    assert result.err.count("\n") == 1 and "offset 1" in result.err


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("return None", "map returned NoneType; expected bytes, str, dict, list or a (key, value) tuple"),
        ("return 42", "map returned int"),
        ("return (1, 2, 3)", "tuple of 3 items"),
        ("return {1: 'x'}", "TypeError"),
    ],
)
def test_wrong_return_types_are_failures(numbers: Workspace, body: str, fragment: str) -> None:
    module = numbers.module("wrong", f"def map(record, params):\n    {body}\n")
    result = numbers.run("numbers", "--map", str(module), "--print", "--count", "2")
    assert result.code == 1
    assert result.out == ""
    assert result.err.count(fragment) == 2, result.err


def test_unfinished_last_line_is_the_last_record(ws: Workspace) -> None:
    ws.topic("partial", "1\n2\n3")
    assert ws.run("partial", "--map", "double", "--print").out == "2\n4\n6\n"
    assert ws.run("partial", "--map", "double", "--print", "-T", "1").out == "6\n"


def test_crlf_line_endings_are_not_part_of_the_value(ws: Workspace) -> None:
    ws.topic("crlf", "1\r\n2\r\n")
    assert ws.run("crlf", "--map", "double", "--print").out == "2\n4\n"


def test_any_jsonl_file_opens_by_path(ws: Workspace) -> None:
    path = ws.root / "Some_Log.JSONL"
    path.write_text("5\n")
    assert ws.run(str(path), "--map", "double", "--print").out == "10\n"
    assert ws.run("Some_Log.JSONL", "--map", "double", "--print").out == "10\n"


def test_closed_pipe_ends_quietly(ws: Workspace) -> None:
    ws.topic("many", "".join(f'{{"n":{n}}}\n' for n in range(200_000)))
    producer = subprocess.Popen(
        [*smartview_command(), "many", "--map", "fields", "-e", "drop=x", "--print"],
        cwd=ws.root, env=ws.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    head = subprocess.run(["head", "-n", "3"], stdin=producer.stdout, capture_output=True, timeout=60)
    producer.stdout.close()
    err = producer.stderr.read().decode()
    code = producer.wait(timeout=60)
    assert head.stdout.decode().splitlines() == ['{"n":0}', '{"n":1}', '{"n":2}']
    assert err == "" and code == 0


@pytest.mark.parametrize("jobs", ["1", "2", "3"])
def test_parallel_output_is_identical(ws: Workspace, jobs: str) -> None:
    records = [f'{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"c"}}' for n in range(60_000)]
    records[12_345] = "broken"
    records[50_001] = '{"type":"nope","account_id":"1","timestamp":1,"user_client":"c"}'
    ws.topic("big", "\n".join(records) + "\n")
    result = ws.run("big", "--map", "user_events", "-e", "show_account_id=false", "--print", "--jobs", jobs)
    reference = ws.run("big", "--map", "user_events", "-e", "show_account_id=false", "--print", "--jobs", "1")
    assert result.code == 1
    assert result.out == reference.out
    assert len(result.out.splitlines()) == 60_000 - 2
    assert [line.split(":")[0] for line in result.err.splitlines()] == ["smartview", "smartview"]
    assert "offset 12345" in result.err.splitlines()[0] and "offset 50001" in result.err.splitlines()[1]


def _events(count: int, broken: dict[int, str]) -> str:
    records = [f'{{"type":"login","account_id":"{n}","timestamp":{n},"user_client":"firefox"}}' for n in range(count)]
    for offset, text in broken.items():
        records[offset] = text
    return "\n".join(records) + "\n"


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@pytest.mark.skipif(_cores() < 2, reason="automatic --jobs maps on one process with one core")
def test_a_large_topic_is_mapped_on_every_core_by_default_with_the_output_of_one_process(ws: Workspace) -> None:
    broken = {7: "broken", 20_000: '{"type":"nope","account_id":"1","timestamp":1,"user_client":"c"}',
              70_000: "[1]", 129_998: "{"}
    path = ws.topic("big", _events(130_000, broken))  # 11 MB: above the size where a second process pays
    assert path.stat().st_size > 8 << 20
    default = ws.run("big", "--map", "user_events", "-e", "show_account_id=false", "--print")
    one = ws.run("big", "--map", "user_events", "-e", "show_account_id=false", "--print", "--jobs", "1")
    assert default.code == one.code == 1
    assert default.out == one.out and default.out.count("\n") == 130_000 - 4
    assert default.err == one.err
    assert [int(line.split(" offset ")[1].split(":")[0]) for line in default.err.splitlines()] == sorted(broken)
    pids = ws.module("pid", "import os\ndef map(record, params):\n    return str(os.getpid())\n")
    shown = ws.run("big", "--map", str(pids), "--print")
    assert shown.code == 0 and len(set(shown.out.splitlines())) == min(_cores(), 4)  # every process maps a share


@pytest.mark.skipif(_cores() < 2, reason="automatic --jobs maps on one process with one core")
def test_every_process_maps_up_to_the_end_of_the_topic(ws: Workspace) -> None:
    # 11 MB: blocks of 1 MiB shared in turn would leave the last whole block, about 12,000 records
    # here, to one process while the other waits; the last blocks are smaller, so both map to the end.
    ws.topic("big", _events(130_000, {}))
    pids = ws.module("pid", "import os\ndef map(record, params):\n    return str(os.getpid())\n")
    shown = ws.run("big", "--map", str(pids), "--print", "--jobs", "2")
    assert shown.code == 0, shown.err
    last = shown.out.splitlines()[-6_000:]
    assert len(set(last)) == 2
    runs = 1 + sum(1 for a, b in zip(last, last[1:]) if a != b)
    assert runs >= 4  # blocks of a few hundred records, in turn


def test_a_process_held_up_does_not_change_the_order_or_the_output(ws: Workspace) -> None:
    ws.topic("big", _events(80_000, {3: "broken", 75_000: "broken"}))
    # The second process sleeps at its first block: the first maps blocks ahead of their turn meanwhile.
    slow = ws.module("slow", "import time\nimport orjson\ndef map(record, params):\n"
                     "    if record.offset == 20_000:\n        time.sleep(0.5)\n"
                     "    return orjson.loads(record.value)['account_id']\n")
    many = ws.run("big", "--map", str(slow), "--print", "--jobs", "2")
    one = ws.run("big", "--map", str(slow), "--print", "--jobs", "1")
    assert many.code == one.code == 1
    assert many.out == one.out and many.out.splitlines()[:3] == ["0", "1", "2"]
    assert many.err == one.err and many.err.count("\n") == 2


SLOW_WORKER = """import os, time
FIRST = os.getpid()  # the process that loaded the module; the worker forked from it has another pid

def map(record, params):
    if os.getpid() != FIRST and record.offset % 100 == 0:
        time.sleep(0.001)  # the worker's core is shared with another program: it maps several times slower
    return OUTPUT
"""


def test_a_slower_process_maps_fewer_blocks_and_the_output_stays_the_same(ws: Workspace) -> None:
    text = "".join(f'{{"n":{n},"pad":"{n:040d}"}}\n' for n in range(200_000))  # 13 MB: 33 blocks, 4 of them 1 MiB
    ws.topic("big", text)
    same = ws.module("same", SLOW_WORKER.replace("OUTPUT", "record.value"))
    many = ws.run("big", "--map", str(same), "--print", "--jobs", "2")
    one = ws.run("big", "--map", str(same), "--print", "--jobs", "1")
    assert many.code == one.code == 0, many.err
    assert many.out == one.out == text
    # Blocks are taken as each process is ready for one: the slowed worker maps far fewer of them, where
    # a fixed share would have given it every other block, half the records, and made the other wait.
    pids = ws.module("pids", SLOW_WORKER.replace("OUTPUT", "str(os.getpid())"))
    shown = ws.run("big", "--map", str(pids), "--print", "--jobs", "2")
    assert shown.code == 0, shown.err
    counts = Counter(shown.out.splitlines())
    calling = shown.out.split("\n", 1)[0]  # block 0 is the calling process's
    assert len(counts) == 2 and sum(counts.values()) == 200_000
    # The worker maps its first block, then one block for every AHEAD (4) the other maps ahead of it.
    assert 0 < 200_000 - counts[calling] < 70_000


def test_parallel_stop_on_error_matches_one_process(ws: Workspace) -> None:
    records = [f'{{"n":{n}}}' for n in range(60_000)]
    records[30_000] = "[1, 2]"
    ws.topic("big", "\n".join(records) + "\n")
    one = ws.run("big", "--map", "fields", "-e", "drop=n", "--print", "--jobs", "1", "--on-error", "stop")
    many = ws.run("big", "--map", "fields", "-e", "drop=n", "--print", "--jobs", "2", "--on-error", "stop")
    assert one.code == many.code == 1
    assert one.out == many.out and one.out.count("\n") == 30_000
    assert one.err == many.err


@pytest.mark.parametrize("flags", [[], ["-T", "70000"], ["--start", "12345"], ["--count", "90000"], ["-H", "5"],
                                   ["--start", "7", "--end", "99999"]])
def test_parallel_ranges_and_offsets_match_one_process(ws: Workspace, flags: list[str]) -> None:
    ws.topic("big", "".join(f'{{"n":{n},"pad":"{n:020d}"}}\r\n' for n in range(120_000)) + '{"n":"last"}')
    args = ["big", "--map", "fields", "-e", "drop=pad", "-F", "{{offset}} {{value}}", "--print", *flags]
    one, two = ws.run(*args, "--jobs", "1"), ws.run(*args, "--jobs", "2")
    assert one.code == two.code == 0, two.err
    assert one.out == two.out and one.out.count("\n") > 60_000
    last = "99999" if "--end" in flags else "89999" if "--count" in flags else "120000"
    assert one.out.splitlines()[-1].split()[0] == last


@pytest.mark.parametrize("status", [9, 0])
def test_a_worker_ending_its_process_stops_the_run_without_hanging(ws: Workspace, status: int) -> None:
    ws.topic("big", "".join(f'{{"n":{n}}}\n' for n in range(200_000)))
    # The worker (not the process that loaded the module) ends at its first record from 150,000 on;
    # with status 0 too, the blocks it took and never wrote are missed.
    module = ws.module("exits", "import os\nFIRST = os.getpid()\ndef map(record, params):\n"
                       f"    if record.offset >= 150_000 and os.getpid() != FIRST:\n        os._exit({status})\n"
                       "    return record.value\n")
    result = ws.run("big", "--map", str(module), "--print", "--jobs", "2", timeout=30)
    assert result.code == 1
    assert f"worker process 1 ended (exit status {status})" in result.err
    assert "the output stops there" in result.err
    printed = result.out.splitlines()
    assert printed == [f'{{"n":{n}}}' for n in range(len(printed))]  # in order, nothing torn
    assert 100_000 < len(printed) < 200_000
    assert f"before writing the records from offset {len(printed)};" in result.err


def test_a_worker_ending_while_a_process_it_forked_lives_on_stops_the_run_without_hanging(ws: Workspace) -> None:
    # The worker forks a child that stays in the module's code (sleeping, as a daemon would), holding a
    # copy of every descriptor the worker had, then ends: the run must still see the worker gone.
    ws.topic("big", "".join(f'{{"n":{n}}}\n' for n in range(200_000)))
    module = ws.module("forks", "import os, time\nFIRST = os.getpid()\ndef map(record, params):\n"
                       "    if record.offset >= 150_000 and os.getpid() != FIRST:\n"
                       "        if os.fork() == 0:\n            time.sleep(60)\n        os._exit(3)\n"
                       "    return record.value\n")
    started = time.monotonic()
    result = ws.run("big", "--map", str(module), "--print", "--jobs", "2", timeout=40)
    assert time.monotonic() - started < 20  # not the child's 60 s
    assert result.code == 1
    assert "worker process 1 ended (exit status 3)" in result.err and "the output stops there" in result.err
    printed = result.out.splitlines()
    assert printed == [f'{{"n":{n}}}' for n in range(len(printed))]


KEEPER = """
kept = []

def map(record, params):
    key = record.key
    record.key = b"changed"  # a module may change the record it was given
    kept.append(record)
    return f"{kept[0].offset} {kept[-1].offset} {key}"
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_record_a_module_keeps_is_never_changed_under_it(ws: Workspace, jobs: str) -> None:
    ws.topic("big", "".join(f"{n:011d}\n" for n in range(300_000)))  # 3.6 MB: several blocks
    module = ws.module("keeper", KEEPER)
    result = ws.run("big", "--map", str(module), "--print", "--jobs", jobs)
    assert result.code == 0, result.err
    lines = [line.split() for line in result.out.splitlines()]
    assert len(lines) == 300_000
    assert all(last == str(n) and key == "None" for n, (_, last, key) in enumerate(lines))
    # The first record each process kept still says what it said when it was kept.
    firsts = sorted({int(first) for first, _, _ in lines})
    assert firsts[0] == 0 and len(firsts) == int(jobs)


def test_print_does_not_import_textual(ws: Workspace) -> None:
    ws.topic("tiny", '{"type":"login","account_id":"1","timestamp":1,"user_client":"safari"}\n')
    code = (
        "import sys\nfrom smartview.cli import main\n"
        "rc = main(['tiny', '--map', 'user_events', '--print'])\n"
        "assert 'textual' not in sys.modules, 'textual was imported'\nsys.exit(rc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ws.root, env=ws.env(), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '"type":"login"' in proc.stdout


def test_control_sequences_are_escaped_on_a_terminal_only(ws: Workspace) -> None:
    ws.topic("nasty", "clear\x1b[2J here\n")
    piped = ws.run("nasty", "--print")
    assert piped.out == "clear\x1b[2J here\n"  # a pipe gets the bytes unchanged
    from smartview.core.text import printable_bytes

    assert printable_bytes(b"clear\x1b[2J\x07 title\xc2\x9b") == b"clear\\x1b[2J\\x07 title\\x9b"


SLOW = '''import time

def map(record, params):
    if record.offset == int(params_offset):
        time.sleep(60)
    if record.offset == int(params_offset) + 2:
        while True:  # busy, never sleeps
            pass
    return record.value
'''


@pytest.mark.parametrize("jobs, count, stuck", [("1", 10, 3), ("2", 60_000, 45_000)])
def test_timeout_turns_a_stuck_record_into_a_failure(ws: Workspace, jobs: str, count: int, stuck: int) -> None:
    ws.topic("slow", "".join(f"{n}\n" for n in range(count)))
    module = ws.module("slow", SLOW.replace("params_offset", str(stuck)))
    result = ws.run("slow", "--map", str(module), "--print", "--timeout", "0.5", "--jobs", jobs, timeout=30)
    assert result.code == 1
    printed = result.out.splitlines()
    assert len(printed) == count - 2 and str(stuck) not in printed and str(stuck + 2) not in printed
    assert printed[stuck] == str(stuck + 1)
    errors = result.err.splitlines()
    assert len(errors) == 2
    assert f"offset {stuck}: map took longer than 0.5 s (--timeout)" in errors[0]
    assert f"offset {stuck + 2}: map took longer than 0.5 s" in errors[1]


def test_module_output_and_exit_do_not_reach_stdout(ws: Workspace) -> None:
    ws.topic("noisy", "1\n2\n3\n")
    module = ws.module("noisy", "import sys\ndef map(record, params):\n    print('debug', record.offset)\n"
                                "    if record.offset == 1:\n        sys.exit(4)\n    return record.value\n")
    result = ws.run("noisy", "--map", str(module), "--print")
    assert result.out == "1\n3\n"
    assert "debug 0" in result.err and "offset 1: map raised SystemExit: 4" in result.err
    assert result.code == 1


@pytest.mark.parametrize("jobs, count", [("1", 3), ("2", 60_000)])
def test_writes_to_descriptor_one_do_not_reach_the_records(ws: Workspace, jobs: str, count: int) -> None:
    ws.topic("fd", "".join(f"{n}\n" for n in range(count)))
    module = ws.module("fdnoise", "import os\nprint('loading')\n\ndef map(record, params):\n"
                                  "    if record.offset == 1:\n        os.write(1, b'NOISE\\n')\n    return record.value\n")
    result = ws.run("fd", "--map", str(module), "--print", "--jobs", jobs)
    assert result.code == 0
    assert result.out == "".join(f"{n}\n" for n in range(count))
    assert "NOISE" in result.err and "loading" in result.err


def test_failure_report_uses_the_record_as_read_and_escapes_the_error(ws: Workspace) -> None:
    ws.topic("evil", '{"msg": "\\u001b]0;PWNED\\u0007\\u001b[2J boom"}\n')
    module = ws.module("mut", "import json\ndef map(record, params):\n    message = json.loads(record.value)['msg']\n"
                              "    record.offset = 999\n    record.value = b'zzz'\n    raise ValueError(message)\n")
    result = ws.run("evil", "--map", str(module), "--print")
    assert result.code == 1
    assert "offset 0:" in result.err and "offset 999" not in result.err and "zzz" not in result.err
    assert "\x1b" not in result.err and "\\x1b]0;PWNED" in result.err
