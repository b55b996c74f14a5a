"""Reading a topic from an offset on and following it, for the background passes of the viewer.

The whole-topic passes (census.py, outputs.py) run in child processes and read the topic for
themselves. What they are told to read is a *source*: the path of a topic file (a str), or a Kafka
topic and partition (a `(KafkaTopic, partition)` pair). Both indexes the viewer uses say which with
their `source` attribute, so the passes never need to know what kind of topic they read.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..record import Record

FILE_BLOCK = 128 << 10  # bytes read at a time: about 1,500 records, so a pass holds little in memory
KAFKA_BATCH = 1024
KAFKA_WAIT = 0.2  # seconds a caught-up pass waits for new Kafka records before looking again


def follow_records(source: Any, start: int = 0) -> Iterator[tuple[int, list[Record]]]:
    """(offset of the next record, records from there) from `start` on, forever.

    Once caught up it yields `(next offset, [])` on every wake-up (at least once a second), so the caller
    can report progress and check that its viewer is still there.
    """
    if isinstance(source, str):
        return _file_records(Path(source), start)
    topic, partition = source
    return _kafka_records(topic, partition, start)


def _file_records(path: Path, start: int) -> Iterator[tuple[int, list[Record]]]:
    from .reader import TopicReader

    reader = TopicReader(path, block_size=FILE_BLOCK)
    reader.skip(start)
    return follow_reader(reader)


def follow_reader(reader: Any) -> Iterator[tuple[int, list[Record]]]:
    """`follow_records` for a file from where its TopicReader stands."""
    from . import follow
    from ..runs.batch import split_lines

    path = reader.path
    stop = threading.Event()
    while True:
        # A line still being written waits for its newline.
        for block in reader.blocks():
            first = block.first_offset
            if block.data is None:  # a record too long to read: the viewer's rows report it
                continue
            yield first, [Record(first + i, None, value) for i, value in enumerate(split_lines(block.data))]
        yield reader.offset, []
        for _ in follow.changes(path, stop):
            if os.path.getsize(path) > reader.byte:
                break
            yield reader.offset, []


def _kafka_records(topic: Any, partition: int, start: int) -> Iterator[tuple[int, list[Record]]]:
    from .kafka_index import KafkaIndex

    index = KafkaIndex(topic, partition)
    offset = max(start, index.first)
    while True:
        while offset < index.count:
            last = min(offset + KAFKA_BATCH, index.count)
            yield offset, list(index.read_records(offset, last))
            offset = last
        yield offset, []
        index.update(wait=KAFKA_WAIT)
