"""`smartview produce kafka://…/TOPIC`: one Kafka record per input line, each one waited for.

A line is the record's value; with a key separator, the text before the first separator is its key (a
line without the separator gets no key). Every record's delivery is confirmed by the broker before the
command ends, and each one that fails is reported with its line number.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from ..errors import SmartviewError
from .kafka import CONNECT_SECONDS, BrokerErrors, KafkaSourceError, KafkaTopic, connect, describe_error, settings_problem

# A record the broker has not confirmed within this time is reported as not delivered.
DELIVERY_SECONDS = 15


def produce_file(topic: KafkaTopic, file: str | None, separator: str | None, err: IO[str]) -> int:
    """Produce the lines of `file` (stdin when None); 0 when all were delivered, 1 when some were not."""
    if separator == "":
        raise SmartviewError("--key-separator must not be empty")
    try:
        source: BinaryIO = sys.stdin.buffer if file is None else open(file, "rb")
    except FileNotFoundError:
        raise SmartviewError(f"input file {file} does not exist") from None
    with source:
        return _produce(topic, source, separator.encode() if separator else None, err)


def _produce(topic: KafkaTopic, source: BinaryIO, separator: bytes | None, err: IO[str]) -> int:
    from confluent_kafka import Producer

    errors = BrokerErrors()
    config = {
        "error_cb": errors,
        "linger.ms": 5,
        "message.timeout.ms": DELIVERY_SECONDS * 1000,
        **topic.settings.client_config(),
    }
    try:
        producer = Producer(config)
    except Exception as exc:
        raise KafkaSourceError(f"Kafka client settings: {settings_problem(exc)}") from None
    connect(topic, producer, errors, CONNECT_SECONDS)
    tally = _Tally(topic, err)
    for number, (key, value) in enumerate(_records(source, separator), 1):
        _send(producer, topic, key, value, tally.callback(number))
    left = producer.flush(DELIVERY_SECONDS + 5)
    if left:
        tally.failed += left
        err.write(f"smartview: topic {topic.name}: {left} records were not confirmed by the broker in time\n")
    return 1 if tally.failed else 0


class _Tally:
    """Counts and reports failed deliveries, one line per record."""

    def __init__(self, topic: KafkaTopic, err: IO[str]) -> None:
        self.topic = topic
        self.err = err
        self.failed = 0

    def callback(self, number: int):
        def delivered(error: Any, message: Any) -> None:
            if error is not None:
                self.failed += 1
                self.err.write(
                    f"smartview: topic {self.topic.name} record {number} (line {number}) was not delivered: "
                    f"{describe_error(error)}\n"
                )
                self.err.flush()

        return delivered


def _send(producer: Any, topic: KafkaTopic, key: bytes | None, value: bytes, callback: Any) -> None:
    """Queue one record, waiting for room when librdkafka's queue is full."""
    extra = {} if topic.partition is None else {"partition": topic.partition}
    while True:
        try:
            producer.produce(topic.topic, value=value, key=key, on_delivery=callback, **extra)
            break
        except BufferError:
            producer.poll(0.1)
    producer.poll(0)


def _records(source: BinaryIO, separator: bytes | None) -> Iterator[tuple[bytes | None, bytes]]:
    for line in source:
        if line.endswith(b"\n"):
            line = line[:-2] if line.endswith(b"\r\n") else line[:-1]
        if separator is not None and separator in line:
            key, _, value = line.partition(separator)
            yield key, value
        else:
            yield None, line
