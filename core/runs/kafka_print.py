"""`--print` on a Kafka topic: the Printer's reading path for a `KafkaTopic`.

The range asked for (-B, --start, -H, -T, --end) is read up to each partition's end as found when the
run starts (`kafka.find_ends`), merged across partitions in timestamp order (ties by partition, then
offset), mapped and written. With `--follow`, records produced afterwards are printed as they arrive,
partition by partition in the order they are fetched. The start and stop flags apply to each
partition's offsets: `-H 2` starts two records after each partition's first, `--count 2` prints two
records of every partition.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..sources.kafka import (
    ERR_ALL_BROKERS_DOWN,
    ERR_AUTO_OFFSET_RESET,
    ERR_PARTITION_EOF,
    ERR_TRANSPORT,
    ERR_UNKNOWN_TOPIC,
    BrokerErrors,
    KafkaRecord,
    KafkaTopic,
    connect,
    describe_error,
    find_ends,
    new_consumer,
    take,
    to_record,
    watermarks,
)
from ..modules.lookback import Lookback
from ..modules.runner import Failure
from ..modules.watchdog import Watchdog

if TYPE_CHECKING:
    from .printer import PrintResult, Printer, Range

BATCH = 2000
# A partition with this many records waiting for the merge is paused until the merge takes half of them:
# a partition that delivers much faster than the others cannot fill the memory.
BUFFER_CAP = 20_000
POLL_SECONDS = 0.1
# While the broker is away, how often to ask whether it is back.
RECHECK_SECONDS = 0.5


@dataclass
class Plan:
    """What to print of one partition: offsets from `start` up to (not including) `stop` (None: no stop)."""

    start: int
    stop: int | None
    end: int  # the partition's end when the run started


def make_plans(selection: Range, marks: dict[int, tuple[int, int]], ends: dict[int, int]) -> dict[int, Plan]:
    """Each partition's offsets to print, from the flags, as `Printer._position` does for a file."""
    plans = {}
    for partition, (low, _) in marks.items():
        end = ends[partition]
        if selection.tail is not None:
            start = max(low, end - selection.tail)
        elif selection.start is not None:
            start = max(low, selection.start)
        elif selection.head is not None:
            start = low + selection.head  # Fluvio's Offset::from_beginning: N after the first kept record
        else:
            start = low
        stop = None if selection.count is None else start + selection.count
        if selection.end is not None:
            stop = selection.end + 1 if stop is None else min(stop, selection.end + 1)
        plans[partition] = Plan(start, stop, end)
    return plans


def run_kafka(printer: Printer, selection: Range, follow: bool, stop: threading.Event) -> PrintResult:
    """Print a Kafka topic's range (and follow it): the Kafka counterpart of `Printer.run`."""
    topic: KafkaTopic = printer.topic  # type: ignore[assignment]
    errors = BrokerErrors()
    consumer = new_consumer(topic.settings, errors)
    try:
        partitions = connect(topic, consumer, errors)
        marks = watermarks(topic, consumer, partitions)
        ends = find_ends(topic, consumer, {p: marks[p][1] for p in partitions})
        plans = make_plans(selection, marks, ends)
        with contextlib.ExitStack() as stack:
            stack.enter_context(contextlib.redirect_stdout(sys.stderr))  # module prints go to stderr
            watch = stack.enter_context(Watchdog(printer.timeout)) if printer.timeout is not None else None
            writer = _Writer(printer, topic, watch)
            reader = _Reader(topic, consumer, errors, printer.err, stop)
            if printer.wants_look_back:
                _look_back(printer, reader, plans, marks)
            for batch in reader.range(plans):
                if not writer.write(batch):
                    return printer.result
            if follow:
                for batch in reader.follow(plans):
                    if not writer.write(batch):
                        break
    finally:
        consumer.close()
    return printer.result


def _look_back(printer: Printer, reader: _Reader, plans: dict[int, Plan], marks: dict[int, tuple[int, int]]) -> None:
    """Feed look_back hooks the records before each partition's start, merged in timestamp order."""

    def fetch(lookback: Lookback) -> list[KafkaRecord]:
        before = {}
        for partition, plan in plans.items():
            low = marks[partition][0]
            first = low if lookback.last == 0 else max(low, plan.start - lookback.last)
            before[partition] = Plan(first, plan.start, plan.end)
        records = [record for batch in reader.range(before) for record in batch]
        now = int(time.time() * 1000)
        chosen = [r for p in plans for r in lookback.select([r for r in records if r.partition == p], now)]
        return sorted(chosen, key=lambda r: (r.timestamp, r.partition, r.offset))  # as the range merges them

    assert printer.mapper is not None
    printer.mapper.look_back(fetch)


class _Writer:
    """Maps records and writes their outputs; reports failures with topic, partition and offset."""

    def __init__(self, printer: Printer, topic: KafkaTopic, watch: Watchdog | None) -> None:
        self.printer = printer
        self.topic = topic
        self.watch = watch
        self.mapper = printer.mapper
        self.keep_key = self.mapper is not None and not any(m.kind == "aggregate" for m, _ in printer.stages)
        self.count = 0

    def write(self, records: list[KafkaRecord]) -> bool:
        """Write the outputs of `records`; False once the run must end (stop on error)."""
        printer = self.printer
        out = bytearray()
        fmt = printer.fmt
        failures: list[tuple[int, Failure]] = []
        for record in records:
            if self.mapper is None:
                out += fmt.line(record.offset, record.key, record.value, record.partition, record.timestamp,
                                record.headers)
                out += b"\n"
                continue
            if self.watch is not None:
                self.count += 1
                self.watch.offset = self.count  # a new number per record, even across partitions
            partition, timestamp, key, headers = record.partition, record.timestamp, record.key, record.headers
            results = self.mapper.apply_many(record)
            if isinstance(results, Failure):
                failures.append((partition, results))
                if printer.stop_on_error:
                    printer.result.stopped = True
                    break
                continue
            for output in results:
                # An output without a key of its own keeps the record's key, so -k still shows it.
                shown = output.key if output.key is not None or not self.keep_key else key
                out += fmt.line(output.offset, shown, output.value, partition, timestamp, headers)
                out += b"\n"
        if self.watch is not None:
            self.watch.offset = -1
        self._emit(bytes(out), failures)
        return not printer.result.stopped

    def _emit(self, data: bytes, failures: list[tuple[int, Failure]]) -> None:
        from ..text import printable_bytes

        printer = self.printer
        if data:
            printer.out.write(printable_bytes(data) if printer.escape else data)
            printer.out.flush()
        for partition, failure in failures:
            printer.result.failed += 1
            printer.err.write(failure.report(self.topic.where(partition)) + "\n")
        if failures:
            printer.err.flush()


class _Reader:
    """Reads assigned partitions with one consumer: the range first, then (optionally) what follows."""

    def __init__(self, topic: KafkaTopic, consumer: Any, errors: BrokerErrors, err: Any, stop: threading.Event):
        self.topic = topic
        self.consumer = consumer
        self.errors = errors
        self.err = err
        self.stop = stop
        self.down = False
        self._missing = False
        self._verify = False  # after an outage: check that the positions still exist
        self._checked = 0.0

    def range(self, plans: dict[int, Plan]) -> Iterator[list[KafkaRecord]]:
        """The records of every partition's range, merged in timestamp order."""
        from confluent_kafka import TopicPartition

        limits = {p: plan.end if plan.stop is None else min(plan.stop, plan.end) for p, plan in plans.items()}
        active = {p for p, plan in plans.items() if plan.start < limits[p]}
        if not active:
            return
        self.consumer.assign([TopicPartition(self.topic.topic, p, plans[p].start) for p in sorted(active)])
        buffers: dict[int, deque[KafkaRecord]] = {p: deque() for p in active}
        open_ = set(active)  # partitions that may still deliver records of the range
        paused: set[int] = set()
        while open_ and not self.stop.is_set():
            for message in take(self.consumer, POLL_SECONDS, BATCH):
                partition = message.partition()
                if partition not in open_:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() in (ERR_PARTITION_EOF, ERR_AUTO_OFFSET_RESET):
                        open_.discard(partition)  # nothing more there: never wait on it
                    else:
                        self._say_problem(error)
                    continue
                offset = message.offset()
                if offset >= limits[partition]:
                    open_.discard(partition)
                    continue
                buffers[partition].append(to_record(message))
                if offset + 1 >= limits[partition]:
                    open_.discard(partition)
            self._watch_broker()
            ready = _merge(buffers, open_)
            self._pace(buffers, open_, paused)
            if ready:
                yield ready
        if not self.stop.is_set():
            rest = _merge(buffers, set())
            if rest:
                yield rest

    def _pace(self, buffers: dict[int, deque[KafkaRecord]], open_: set[int], paused: set[int]) -> None:
        """Pause partitions far ahead of the merge, and resume them once it has caught up."""
        from confluent_kafka import TopicPartition

        ahead = {p for p in open_ if len(buffers[p]) >= BUFFER_CAP} - paused
        behind = {p for p in paused if len(buffers[p]) < BUFFER_CAP // 2 or p not in open_}
        if ahead:
            self.consumer.pause([TopicPartition(self.topic.topic, p) for p in sorted(ahead)])
            paused |= ahead
        if behind:
            self.consumer.resume([TopicPartition(self.topic.topic, p) for p in sorted(behind)])
            paused -= behind

    def follow(self, plans: dict[int, Plan]) -> Iterator[list[KafkaRecord]]:
        """Records produced after the range, as they arrive, until `stop` or every partition's stop."""
        from confluent_kafka import TopicPartition

        floor = {p: plan.start for p, plan in plans.items()}
        stops = {p: plan.stop for p, plan in plans.items() if plan.stop is None or plan.stop > plan.end}
        if not stops:
            return
        positions = {p: plans[p].end for p in stops}
        self.consumer.assign([TopicPartition(self.topic.topic, p, positions[p]) for p in sorted(stops)])
        while stops and not self.stop.is_set():
            batch: list[KafkaRecord] = []
            for message in take(self.consumer, POLL_SECONDS, BATCH):
                partition = message.partition()
                if partition not in stops:
                    continue
                error = message.error()
                if error is not None:
                    if error.code() == ERR_AUTO_OFFSET_RESET:
                        self._restart([partition], positions, stops, floor)
                    elif error.code() != ERR_PARTITION_EOF:
                        self._say_problem(error)
                    continue
                offset = message.offset()
                positions[partition] = offset + 1
                self._back()
                limit = stops[partition]
                if offset < floor[partition]:
                    continue
                if limit is not None and offset >= limit:
                    del stops[partition]
                    continue
                batch.append(to_record(message))
                if limit is not None and offset + 1 >= limit:
                    del stops[partition]
            self._watch_broker()
            if self._verify and not self.down and not self._missing:
                self._verify_positions(positions, stops, floor)
            if batch:
                yield batch

    def _restart(
        self, partitions: list[int], positions: dict[int, int], stops: dict[int, int | None], floor: dict[int, int]
    ) -> None:
        """Positions that are gone (records deleted, topic recreated): read those partitions from their start."""
        from confluent_kafka import OFFSET_BEGINNING, TopicPartition

        for partition in partitions:
            self._say(
                f"topic {self.topic.name} partition {partition}: offset {positions[partition]} is not there any "
                "more (records deleted or the topic recreated); reading it again from its beginning"
            )
            positions[partition] = OFFSET_BEGINNING
            floor[partition] = 0
        self._back()
        self.consumer.assign([TopicPartition(self.topic.topic, p, positions[p]) for p in sorted(stops)])

    def _verify_positions(
        self, positions: dict[int, int], stops: dict[int, int | None], floor: dict[int, int]
    ) -> None:
        """After an outage, a partition whose end is now below our position was recreated or truncated.

        Some brokers (Tansu) answer a fetch past the end with nothing rather than an out-of-range
        error, so the end is compared here; until it can be read, the check is tried again.
        """
        from confluent_kafka import KafkaException, TopicPartition

        gone = []
        for partition in stops:
            try:
                _, high = self.consumer.get_watermark_offsets(
                    TopicPartition(self.topic.topic, partition), timeout=1, cached=False
                )
            except KafkaException:
                return
            if 0 <= high < positions[partition]:
                gone.append(partition)
        self._verify = False
        if gone:
            self._restart(gone, positions, stops, floor)

    def _watch_broker(self) -> None:
        """Notice a broker that went away (say so once) and one that came back (say so, read on)."""
        trouble = [e for e in self.errors.take() if e.code() in (ERR_TRANSPORT, ERR_ALL_BROKERS_DOWN)]
        now = time.monotonic()
        due = (self.down or self._missing) and now - self._checked >= RECHECK_SECONDS
        if not trouble and not due:
            return
        self._checked = now
        reachable = self._reachable()
        if not reachable and not self.down:
            self.down = True
            self._verify = True
            reason = describe_error(trouble[-1]) if trouble else "no answer"
            self._say(
                f"Kafka broker {self.topic.settings.bootstrap} cannot be reached ({reason}); "
                "waiting for it to return"
            )
        elif reachable:
            self._back()

    def _reachable(self) -> bool:
        from confluent_kafka import KafkaException

        try:
            metadata = self.consumer.list_topics(self.topic.topic, timeout=0.25)
        except KafkaException:
            return False
        entry = metadata.topics.get(self.topic.topic)
        missing = entry is None or (entry.error is not None and entry.error.code() == ERR_UNKNOWN_TOPIC)
        if missing and not self._missing:
            self._say(f"topic {self.topic.name} is not on {self.topic.settings.bootstrap} now; waiting for it")
            self._verify = True
        self._missing = missing
        return True

    def _back(self) -> None:
        if self.down:
            self.down = False
            self._say(f"Kafka broker {self.topic.settings.bootstrap} is back; reading on")

    def _say_problem(self, error: Any) -> None:
        if error.code() == ERR_UNKNOWN_TOPIC:
            if not self._missing:
                self._missing = True
                self._verify = True
                self._say(f"topic {self.topic.name} is not on {self.topic.settings.bootstrap} now; waiting for it")
            return
        if error.code() in (ERR_TRANSPORT, ERR_ALL_BROKERS_DOWN):
            self.errors(error)
            return
        self._say(f"topic {self.topic.name}: {describe_error(error)}")

    def _say(self, text: str) -> None:
        from ..text import printable

        self.err.write(f"smartview: {printable(text)}\n")
        self.err.flush()


def _merge(buffers: dict[int, deque[KafkaRecord]], open_: set[int]) -> list[KafkaRecord]:
    """Take records in timestamp order while every partition still open has one waiting.

    A partition that is still open but has nothing buffered might yet deliver an earlier record, so
    merging pauses there; closed partitions only give what they hold.
    """
    if len(buffers) == 1:
        (only,) = buffers.values()
        taken = list(only)
        only.clear()
        return taken
    taken = []
    while True:
        if any(not buffers[p] for p in open_):
            return taken
        heads = [(b[0].timestamp, p, b[0].offset) for p, b in buffers.items() if b]
        if not heads:
            return taken
        taken.append(buffers[min(heads)[1]].popleft())
