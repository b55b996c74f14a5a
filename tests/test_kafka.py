"""Kafka topics through the real `smartview` command, against a real broker (Tansu, in memory)."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import re
import time
import uuid

import pytest

from typing import TYPE_CHECKING

from conftest import RANGE_CASES, REPO, Workspace

if TYPE_CHECKING:
    from kafka_broker import Broker

pytest_plugins = ["kafka_broker"]

EVENTS = (REPO / "sample-topics" / "user-events.jsonl").read_bytes().splitlines()


def new_topic(broker: Broker, partitions: int = 1) -> str:
    name = f"t-{uuid.uuid4().hex[:10]}"
    broker.create_topic(name, partitions)
    return name


def address(broker: Broker, topic: str, partition: int | None = None) -> str:
    tail = "" if partition is None else f"?partition={partition}"
    return f"kafka://{broker.bootstrap}/{topic}{tail}"


def numbers(count: int, start: int = 0) -> list[tuple[bytes | None, bytes]]:
    return [(f"k{n}".encode(), str(n).encode()) for n in range(start, start + count)]


@pytest.mark.parametrize(
    "params",
    [[], ["-e", "show_account_id=false"], ["-e", "show_account_id=false", "-e", "show_user_client=false"]],
    ids=["unchanged", "no-account-id", "type-and-timestamp"],
)
def test_founding_runs_match_the_file_topic(kafka_broker: Broker, ws: Workspace, params: list[str]) -> None:
    topic = new_topic(kafka_broker)
    # Produced in one batch on purpose: Tansu's high watermark then lags (5 records give 1), and
    # smartview must still print all five.
    kafka_broker.produce(topic, [(None, value) for value in EVENTS])
    on_kafka = ws.run(address(kafka_broker, topic), "--map", "user_events", "--print", *params)
    on_file = ws.run(str(REPO / "sample-topics" / "user-events.jsonl"), "--map", "user_events", "--print", *params)
    assert on_kafka.code == 0, on_kafka.err
    assert on_kafka.err == ""
    assert on_kafka.out == on_file.out
    assert len(on_kafka.out.splitlines()) == 5


def test_keys_partition_and_timestamp(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker)
    kafka_broker.produce(topic, [(b"user-1", b"a"), (None, b"b")])
    result = ws.run(address(kafka_broker, topic), "--print", "-k")
    assert result.out == "[user-1] a\n[null] b\n"
    template = ws.run(address(kafka_broker, topic), "--print", "-F", "{{partition}}:{{offset}}:{{key}}:{{timestamp}}")
    first, second = template.out.splitlines()
    assert first.startswith("0:0:user-1:") and second.startswith("0:1:null:")
    assert abs(int(first.rsplit(":", 1)[1]) / 1000 - time.time()) < 60
    # A map module's output without a key of its own keeps the record's key.
    mapped = ws.run(address(kafka_broker, topic), "--print", "-k", "--map", "fields", "--count", "1")
    assert mapped.code == 1 and mapped.out == "" and "partition 0 offset 0" in mapped.err


@pytest.mark.parametrize("flags, expected", RANGE_CASES)
def test_start_and_stop_flags(kafka_broker: Broker, ws: Workspace, flags: list[str], expected: list[int]) -> None:
    topic = new_topic(kafka_broker)
    kafka_broker.produce(topic, numbers(10))  # one batch: -T must not trust the lagging watermark
    result = ws.run(address(kafka_broker, topic), "--map", "double", "--print", *flags)
    assert result.code == 0, result.err
    assert result.out.splitlines() == [str(2 * n) for n in expected]


def test_lookback_and_time_on_a_kafka_topic(kafka_broker: Broker, ws: Workspace) -> None:
    """The same range flags and lookback as on a file topic; Kafka records also have a {{time}}."""
    topic = new_topic(kafka_broker)
    kafka_broker.produce(topic, [(None, str(n).encode()) for n in [1, 5, 3, 8, 2, 9, 4, 10]])
    module = ws.module("rising", "PREV = 0\ndef filter(record, params):\n    global PREV\n"
                       "    if int(record.value) > PREV:\n        PREV = int(record.value)\n        return True\n"
                       "    return False\ndef look_back(record, params):\n    global PREV\n    PREV = int(record.value)\n")
    base = [address(kafka_broker, topic), "--map", str(module), "--print", "--start", "4"]
    assert ws.run(*base).out.splitlines() == ["2", "9", "10"]
    assert ws.run(*base, "--lookback-last", "1").out.splitlines() == ["9", "10"]  # fed 8 (offset 3)
    young = ws.root / "young.yaml"
    young.write_text(f"transforms:\n  - uses: {module}\n    lookback: {{age: 1h}}\n")
    aged = ws.run(address(kafka_broker, topic), "--transforms", str(young), "--print", "-H", "6")
    assert aged.code == 0 and aged.out.splitlines() == ["10"]  # fed every record before offset 6: 9 is the last
    timed = ws.run(address(kafka_broker, topic), "--print", "-F", "{{offset}} {{time}}", "--count", "1")
    assert re.fullmatch(r"0 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\n", timed.out), timed.out


def test_several_partitions_merge_by_timestamp(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker, partitions=3)
    # One by one, each partition in turn, so that the timestamps order the records 0..8.
    for n in range(9):
        kafka_broker.produce(topic, [(None, str(n).encode())], partition=n % 3)
        time.sleep(0.003)
    result = ws.run(address(kafka_broker, topic), "--print", "-F", "{{partition}}/{{offset}} {{value}}")
    assert result.out.splitlines() == [f"{n % 3}/{n // 3} {n}" for n in range(9)]
    one = ws.run(address(kafka_broker, topic, partition=2), "--print")
    assert one.out.splitlines() == ["2", "5", "8"]
    per_partition = ws.run(address(kafka_broker, topic), "--print", "-T", "1")
    assert sorted(per_partition.out.splitlines()) == ["6", "7", "8"]


def test_a_partition_far_ahead_is_paused_and_nothing_is_lost(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker, partitions=2)
    kafka_broker.produce(topic, [(None, b"a%d" % n) for n in range(300)], partition=0)
    time.sleep(0.01)  # every record of partition 1 is later than all of partition 0's
    kafka_broker.produce(topic, [(None, b"b%d" % n) for n in range(300)], partition=1)
    # The real command, with the merge's buffer cap made tiny so that partition 0 is paused often.
    code = (
        "import sys\nimport smartview.core.runs.kafka_print as kp\nkp.BUFFER_CAP = 8\n"
        "from smartview.cli import main\nsys.exit(main(sys.argv[1:]))\n"
    )
    capped = subprocess.run([sys.executable, "-c", code, address(kafka_broker, topic), "--print"],
                            capture_output=True, text=True, timeout=60, env=ws.env(), cwd=ws.root)
    assert capped.returncode == 0, capped.stderr
    assert capped.stdout.splitlines() == [f"a{n}" for n in range(300)] + [f"b{n}" for n in range(300)]


def test_bootstrap_server_flag_and_config(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker)
    kafka_broker.produce(topic, numbers(2))
    flag = ws.run(f"kafka:{topic}", "--bootstrap-server", kafka_broker.bootstrap, "--print")
    assert flag.out == "0\n1\n"
    (ws.root / "smartview.toml").write_text(f'kafka-bootstrap = "{kafka_broker.bootstrap}"\n')
    configured = ws.run(f"kafka:///{topic}", "--print")
    assert configured.out == "0\n1\n", configured.err


def test_produce_with_key_separator(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker)
    produced = ws.run("produce", address(kafka_broker, topic), "--key-separator", "=", input="a=1\nb=2=3\nplain\n")
    assert produced.code == 0, produced.err
    result = ws.run(address(kafka_broker, topic), "--print", "-k")
    assert result.out == "[a] 1\n[b] 2=3\n[null] plain\n"
    ws.topic("input", "x\ny\n")
    from_file = ws.run("produce", address(kafka_broker, topic), "-f", str(ws.topics / "input.jsonl"))
    assert from_file.code == 0
    assert ws.run(address(kafka_broker, topic), "--print", "-T", "2").out == "x\ny\n"


@pytest.mark.parametrize("mode", [["--print"], []], ids=["print", "viewer"])
def test_unreachable_broker_fails_fast(ws: Workspace, mode: list[str]) -> None:
    started = time.monotonic()
    result = ws.run(f"kafka://127.0.0.1:{free_port_nobody_listens()}/events", *mode)
    assert result.code == 2
    assert time.monotonic() - started < 6
    assert result.err.count("\n") == 1 and "cannot be reached" in result.err


def free_port_nobody_listens() -> int:
    from kafka_broker import free_port

    return free_port()


def test_unknown_topic_partition_and_bad_addresses(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker, partitions=2)
    missing = ws.run(address(kafka_broker, "no-such-topic"), "--print")
    assert missing.code == 2 and missing.err == f"smartview: topic 'no-such-topic' does not exist on {kafka_broker.bootstrap}\n"
    partition = ws.run(address(kafka_broker, topic, partition=5), "--print")
    assert partition.code == 2 and "has no partition 5 (it has partitions 0-1)" in partition.err
    no_broker = ws.run(f"kafka:///{topic}", "--print")
    assert no_broker.code == 2 and "names no broker" in no_broker.err
    bad_option = ws.run(address(kafka_broker, topic), "--print", "-X", "no.such.property=1")
    assert bad_option.code == 2 and "no.such.property" in bad_option.err and bad_option.err.count("\n") == 1


def read_line(proc: subprocess.Popen, seconds: float) -> str:
    """One line of the process's stdout, or '' when none comes within `seconds`."""
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    if not selector.select(seconds):
        return ""
    return proc.stdout.readline().decode()


def test_follow_sees_new_records_and_stops_on_sigterm(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker)
    kafka_broker.produce(topic, numbers(2))
    proc = ws.popen(address(kafka_broker, topic), "--print", "--follow", "--map", "double",
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        assert read_line(proc, 10) == "0\n"
        assert read_line(proc, 5) == "2\n"
        latencies = []
        for n in range(2, 12):
            sent = time.monotonic()
            kafka_broker.produce(topic, [(None, str(n).encode())])
            assert read_line(proc, 5) == f"{2 * n}\n"
            latencies.append(time.monotonic() - sent)
        assert sorted(latencies)[len(latencies) // 2] < 0.5
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr.read() == b""


def test_broker_restart_while_following(own_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(own_broker)
    own_broker.produce(topic, numbers(3))
    proc = ws.popen(address(own_broker, topic), "--print", "--follow",
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    try:
        assert [read_line(proc, 10) for _ in range(3)] == ["0\n", "1\n", "2\n"]
        own_broker.stop()
        os.set_blocking(proc.stderr.fileno(), False)
        assert wait_for_stderr(proc, "cannot be reached", 10)
        own_broker.start()
        own_broker.create_topic(topic)  # Tansu keeps nothing across a restart: the topic is new and empty
        own_broker.produce(topic, [(None, b"after")])
        assert read_line(proc, 15) == "after\n"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def wait_for_stderr(proc: subprocess.Popen, text: str, seconds: float) -> bool:
    seen = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        chunk = proc.stderr.read() or b""
        seen += chunk
        if text.encode() in seen:
            return True
        time.sleep(0.05)
    return False


def test_print_never_loads_the_kafka_client_for_files(ws: Workspace) -> None:
    ws.topic("plain", "1\n")
    probe = (
        "import sys, runpy; sys.argv = ['smartview', 'plain', '--print'];\n"
        "from smartview.cli import main; code = main();\n"
        "assert 'confluent_kafka' not in sys.modules, 'confluent_kafka was imported'; sys.exit(code)"
    )
    import sys as _sys

    proc = subprocess.run([_sys.executable, "-c", probe], cwd=ws.root, env=ws.env(), capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr.decode()


def test_refused_credentials_fail_fast(kafka_broker: Broker, ws: Workspace) -> None:
    topic = new_topic(kafka_broker)
    started = time.monotonic()
    result = ws.run(address(kafka_broker, topic), "--print", "--sasl-username", "someone",
                    SMARTVIEW_KAFKA_SASL_PASSWORD="wrong")
    assert result.code == 2 and time.monotonic() - started < 6
    assert "refused the connection's credentials" in result.err and result.err.count("\n") == 1
