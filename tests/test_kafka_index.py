"""KafkaIndex, the viewer's reading of a Kafka partition by offset, against a real broker."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from smartview.core.sources.kafka import parse_address
from smartview.core.sources.kafka_index import KafkaIndex

if TYPE_CHECKING:
    from kafka_broker import Broker

pytest_plugins = ["kafka_broker"]


def topic_with(broker: Broker, count: int, partitions: int = 1) -> str:
    name = f"ix-{uuid.uuid4().hex[:10]}"
    broker.create_topic(name, partitions)
    if count:
        # One batch on purpose: Tansu's high watermark then lags, and the index must find the real end.
        broker.produce(name, [(f"k{n}".encode(), f"v{n}".encode()) for n in range(count)], partition=0)
    return name


def open_index(broker: Broker, name: str, **kwargs) -> KafkaIndex:
    return KafkaIndex(parse_address(f"kafka://{broker.bootstrap}/{name}"), **kwargs)


def wait_for(index: KafkaIndex, count: int, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while index.count < count and time.monotonic() < deadline:
        index.update()
        time.sleep(0.01)
    assert index.count == count


def test_opens_at_the_real_end_and_reads_windows(kafka_broker: Broker) -> None:
    name = topic_with(kafka_broker, 1000)
    index = open_index(kafka_broker, name, window=64, cache_windows=4)
    try:
        assert (index.first, index.count) == (0, 1000)
        assert index.read(998, 1005) == [b"v998", b"v999"]
        assert index.read(0, 3) == [b"v0", b"v1", b"v2"]
        records = index.read_records(500, 502)
        assert [(r.offset, r.key, r.value, r.partition) for r in records] == [
            (500, b"k500", b"v500", 0), (501, b"k501", b"v501", 0)
        ]
        assert records[0].timestamp > 0
        assert index.read(60, 70) == [f"v{n}".encode() for n in range(60, 70)]  # across two windows
        for start in range(0, 1000, 64):  # more windows than the cache holds: old ones are evicted
            assert index.read_one(start) == f"v{start}".encode()
        assert len(index._windows) <= 4
        assert index.unfinished() == 0 and index.change() is None and index.status is None
    finally:
        index.close()


def test_update_picks_up_new_records(kafka_broker: Broker) -> None:
    name = topic_with(kafka_broker, 3)
    index = open_index(kafka_broker, name)
    try:
        assert index.count == 3 and index.update() == 0
        kafka_broker.produce(name, [(b"new", b"v3"), (None, b"v4")], partition=0)
        wait_for(index, 5)
        assert index.read(0, 10) == [b"v0", b"v1", b"v2", b"v3", b"v4"]
        assert [r.key for r in index.read_records(3, 5)] == [b"new", None]
    finally:
        index.close()


def test_empty_topic_then_records(kafka_broker: Broker) -> None:
    name = topic_with(kafka_broker, 0)
    index = open_index(kafka_broker, name)
    try:
        assert index.count == 0 and index.read(0, 10) == []
        kafka_broker.produce(name, [(None, b"first")])
        wait_for(index, 1)
        assert index.read_one(0) == b"first"
    finally:
        index.close()


def test_partition_choice(kafka_broker: Broker) -> None:
    name = topic_with(kafka_broker, 2, partitions=3)
    first = open_index(kafka_broker, name)  # none chosen: the first, and the others are listed
    try:
        assert first.partition == 0 and first.partitions == [0, 1, 2] and first.count == 2
    finally:
        first.close()
    index = KafkaIndex(parse_address(f"kafka://{kafka_broker.bootstrap}/{name}?partition=0"))
    try:
        assert index.count == 2 and index.partition == 0
    finally:
        index.close()
    other = open_index(kafka_broker, name, partition=2)
    try:
        assert other.count == 0
    finally:
        other.close()


def test_broker_away_and_back(own_broker: Broker) -> None:
    name = topic_with(own_broker, 3)
    index = open_index(own_broker, name)
    try:
        own_broker.stop()
        deadline = time.monotonic() + 10
        while index.status is None and time.monotonic() < deadline:
            index.update()
            time.sleep(0.05)
        assert index.status is not None and "cannot be reached" in index.status
        own_broker.start()
        own_broker.create_topic(name)  # Tansu keeps nothing across a restart
        own_broker.produce(name, [(None, b"again")])
        deadline = time.monotonic() + 15
        while index.change() is None and time.monotonic() < deadline:
            index.update()
            time.sleep(0.05)
        assert index.change() == "truncated" and index.status is None
        index.reset()
        assert index.count == 1 and index.read(0, 5) == [b"again"]
    finally:
        index.close()
