"""Kafka headers: `record.headers` for modules, `{{headers}}` in -F, the detail view; against a real broker."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

from conftest import Workspace
from test_kafka_viewer import kafka_app
from test_viewer import run, wait_for
from viewer_support import settle

if TYPE_CHECKING:
    from kafka_broker import Broker

pytest_plugins = ["kafka_broker"]

# Keys repeat and values may be null, in the order the producer gave them.
HEADERS = [("trace-id", b"abc-123"), ("retry", b"1"), ("trace-id", b"def-456"), ("empty", None)]

EVIL = b"\x1b]0;pwned\x07[b]x[/b]"  # retitles a terminal; Textual markup
SHOW_HEADERS = '''"""Each record's value and headers, as the module sees them."""
import json


def map(record):
    pairs = [[key, None if value is None else value.decode(errors="replace")] for key, value in record.headers]
    assert all(isinstance(key, str) and isinstance(value, (bytes, type(None))) for key, value in record.headers)
    return json.dumps({"value": record.value.decode(), "headers": pairs, "type": type(record.headers).__name__})
'''


def topic_with_headers(broker: Broker) -> str:
    """Three records: headers, none at all, and a single header that is not UTF-8."""
    from confluent_kafka import Producer

    name = f"h-{uuid.uuid4().hex[:10]}"
    broker.create_topic(name, 1)
    producer = Producer({"bootstrap.servers": broker.bootstrap, "log_level": 0})
    producer.produce(name, value=b'{"n":0}', key=b"k0", headers=HEADERS)
    producer.produce(name, value=b'{"n":1}', key=b"k1")
    producer.produce(name, value=b'{"n":2}', key=b"k2", headers=[("bin", b"\xff\xfeok"), ("evil", EVIL)])
    assert producer.flush(10) == 0
    return name


def test_modules_get_headers_in_broker_order(kafka_broker: Broker, ws: Workspace) -> None:
    name = topic_with_headers(kafka_broker)
    ws.module("show_headers", SHOW_HEADERS)
    address = f"kafka://{kafka_broker.bootstrap}/{name}"
    result = ws.run(address, "--modules-dir", str(ws.modules), "--map", "show_headers", "--print")
    assert result.code == 0, result.err
    outputs = [json.loads(line) for line in result.out.splitlines()]
    assert outputs[0]["headers"] == [["trace-id", "abc-123"], ["retry", "1"], ["trace-id", "def-456"], ["empty", None]]
    assert outputs[1]["headers"] == [] and outputs[1]["type"] == "list"
    # In a chain, the second module sees the record's headers too.
    chained = ws.run(address, "--modules-dir", str(ws.modules), "--map", "fields", "--map", "show_headers", "--print",
                     "--count", "1")
    assert json.loads(chained.out)["headers"][0] == ["trace-id", "abc-123"], chained.err
    # File records have none: an empty list.
    ws.topic("plain", '{"n":0}\n')
    on_file = ws.run("plain", "--modules-dir", str(ws.modules), "--map", "show_headers", "--print")
    assert json.loads(on_file.out) == {"value": '{"n":0}', "headers": [], "type": "list"}


def test_headers_placeholder_is_a_json_array_of_pairs(kafka_broker: Broker, ws: Workspace) -> None:
    name = topic_with_headers(kafka_broker)
    address = f"kafka://{kafka_broker.bootstrap}/{name}"
    result = ws.run(address, "--print", "-F", "{{offset}} {{headers}}")
    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == '0 [["trace-id","abc-123"],["retry","1"],["trace-id","def-456"],["empty",null]]'
    assert lines[1] == "1 []"
    # Bytes that are not UTF-8 show as U+FFFD; JSON escapes the control characters.
    assert lines[2] == '2 [["bin","\ufffd\ufffdok"],["evil","\\u001b]0;pwned\\u0007[b]x[/b]"]]'
    # Mapped outputs carry their record's headers, and a file topic's are [].
    mapped = ws.run(address, "--map", "fields", "--print", "-F", "{{headers}}", "--count", "1")
    assert mapped.out == '[["trace-id","abc-123"],["retry","1"],["trace-id","def-456"],["empty",null]]\n'
    ws.topic("plain", '{"n":0}\n')
    assert ws.run("plain", "--print", "-F", "{{offset}} {{headers}}").out == "0 []\n"
    # --grep on a Kafka topic, with the headers of the records it keeps.
    kept = ws.run(address, "--print", "--grep", ".n>=1", "-F", "{{offset}} {{headers}}")
    assert [line.split()[0] for line in kept.out.splitlines()] == ["1", "2"], kept.err


def test_detail_view_shows_the_headers(kafka_broker: Broker) -> None:
    name = topic_with_headers(kafka_broker)

    async def scenario():
        app = kafka_app(kafka_broker, name, module=None)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("home", "enter")
            await wait_for(pilot, lambda: bool(app.screen.query("#detail-headers")))
            shown = str(app.screen.query_one("#detail-headers").render())
            assert shown.splitlines() == ["Headers (4)", "trace-id: abc-123", "retry: 1", "trace-id: def-456",
                                          "empty: null"]
            await pilot.press("escape", "down", "enter")  # a record without headers: no headers part
            await pilot.pause(0.3)
            assert not app.screen.query("#detail-headers")
            await pilot.press("escape", "down", "enter")  # outside text: escaped, never markup
            await wait_for(pilot, lambda: bool(app.screen.query("#detail-headers")))
            shown = str(app.screen.query_one("#detail-headers").render())
            assert shown.splitlines()[1:] == ["bin: \ufffd\ufffdok", "evil: \\x1b]0;pwned\\x07[b]x[/b]"]

    run(scenario())
