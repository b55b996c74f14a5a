"""Kafka topics as a source: addresses, client settings, records with keys and timestamps, and ends.

A Kafka topic is named by an address, `kafka://HOST:PORT/TOPIC` (several brokers: `HOST:PORT,HOST:PORT`),
optionally `?partition=N`. Without a host (`kafka:///TOPIC` or `kafka:TOPIC`) the broker comes from
`--bootstrap-server`, the environment variable SMARTVIEW_KAFKA_BOOTSTRAP, or `kafka-bootstrap` in the
config file, in that order.

smartview only ever reads by explicit partition assignment at offsets: it never subscribes, never
joins a consumer group and never commits, so looking at a topic cannot disturb the topic's consumers.

This module imports `confluent_kafka` only inside functions: file topics never pay for loading
librdkafka. Everything here is independent of Textual, like the rest of `core`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ..errors import SmartviewError
from ..record import Record
from .topic import KAFKA_SCHEME

BOOTSTRAP_ENV = "SMARTVIEW_KAFKA_BOOTSTRAP"
# Security settings may come from the environment, so that a password need not be on a command line.
SECURITY_ENV = {
    "sasl_mechanism": "SMARTVIEW_KAFKA_SASL_MECHANISM",
    "sasl_username": "SMARTVIEW_KAFKA_SASL_USERNAME",
    "sasl_password": "SMARTVIEW_KAFKA_SASL_PASSWORD",
    "tls_ca": "SMARTVIEW_KAFKA_TLS_CA",
}
# How long a broker may take to answer before smartview says it cannot be reached.
CONNECT_SECONDS = 5.0
# How long finding a partition's real end may take (see `find_ends`).
PROBE_SECONDS = 5.0
# librdkafka waits this long (ms) on the broker for new records in each fetch: low for follow latency.
FETCH_WAIT_MS = 10
# librdkafka error codes smartview reacts to (confluent_kafka.KafkaError constants, kept here so the
# names can be used without importing librdkafka).
ERR_PARTITION_EOF = -191
ERR_ALL_BROKERS_DOWN = -187
ERR_RESOLVE = -193
ERR_TRANSPORT = -195
ERR_AUTHENTICATION = -169
ERR_SSL = -181
ERR_AUTO_OFFSET_RESET = -140
ERR_UNKNOWN_TOPIC = 3
ERR_SASL_AUTHENTICATION_FAILED = 58
FATAL_AT_START = {ERR_ALL_BROKERS_DOWN, ERR_RESOLVE, ERR_AUTHENTICATION, ERR_SSL, ERR_SASL_AUTHENTICATION_FAILED}


class KafkaSourceError(SmartviewError):
    """A Kafka address, setting, broker, topic or partition that cannot be used: exit status 2."""


@dataclass(frozen=True)
class KafkaSettings:
    """Where the cluster is and how to talk to it: passed to librdkafka as its configuration.

    `extra` holds `-X key=value` properties, which go to librdkafka as they are and win over
    everything smartview sets itself.
    """

    bootstrap: str
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    tls_ca: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def client_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "bootstrap.servers": self.bootstrap,
            # librdkafka's own log lines would interleave with records and reports: smartview reports
            # broker trouble itself, once, from the error callback.
            "log_level": 0,
            "socket.connection.setup.timeout.ms": int(CONNECT_SECONDS * 1000),
        }
        sasl = self.sasl_mechanism or (self.sasl_username and "PLAIN")
        if sasl:
            config["sasl.mechanism"] = sasl
            if self.sasl_username is not None:
                config["sasl.username"] = self.sasl_username
            if self.sasl_password is not None:
                config["sasl.password"] = self.sasl_password
        if self.tls_ca:
            config["ssl.ca.location"] = self.tls_ca
        if sasl or self.tls_ca:
            config["security.protocol"] = ("SASL_" if sasl else "") + ("SSL" if self.tls_ca else "PLAINTEXT")
        config.update(self.extra)
        return config


@dataclass(frozen=True)
class KafkaTopic:
    """A Kafka topic to read: `name` is what messages call it, `partition` None means all partitions.

    It stands where a file `Topic` stands in a Selection; `kafka` tells the two apart without an import.
    """

    name: str
    topic: str
    partition: int | None
    settings: KafkaSettings
    kafka: bool = True

    @property
    def address(self) -> str:
        tail = "" if self.partition is None else f"?partition={self.partition}"
        return f"kafka://{self.settings.bootstrap}/{self.topic}{tail}"

    @property
    def path(self) -> str:
        """What the viewer shows where a file topic has its path."""
        return self.address

    def where(self, partition: int) -> str:
        """How failure reports name a partition: `TOPIC partition N`."""
        return f"{self.name} partition {partition}"


class KafkaRecord(Record):
    """A Kafka record: a `Record` with the partition, the timestamp (ms since the epoch, or -1) and headers.

    Modules receive it as they receive any record; `record.partition`, `record.timestamp` and
    `record.headers` (`(str, bytes | None)` pairs in the broker's order) are there for modules that want them.
    """

    __slots__ = ("partition", "timestamp", "headers")

    def __init__(self, offset: int, key: bytes | None, value: bytes, partition: int, timestamp: int,
                 headers: list[tuple[str, bytes | None]] | None = None) -> None:
        super().__init__(offset, key, value)
        self.partition = partition
        self.timestamp = timestamp
        self.headers = [] if headers is None else headers

    def derive(self, key: bytes | None, value: bytes) -> KafkaRecord:
        """An output as the next module of a chain receives it: partition, timestamp and headers kept."""
        return KafkaRecord(self.offset, key, value, self.partition, self.timestamp, list(self.headers))

    def __repr__(self) -> str:
        return (
            f"KafkaRecord(partition={self.partition}, offset={self.offset}, timestamp={self.timestamp}, "
            f"key={self.key!r}, value={self.value!r})"
        )


def parse_address(
    arg: str,
    bootstrap_flag: str | None = None,
    config_bootstrap: str | None = None,
    security: dict[str, str | None] | None = None,
    extra: dict[str, str] | None = None,
) -> KafkaTopic:
    """The KafkaTopic an address names, with its broker from the address, flag, environment or config."""
    parts = urlsplit(arg) if arg.startswith("kafka://") else urlsplit("kafka:///" + arg[len(KAFKA_SCHEME) :].lstrip("/"))
    topic = parts.path.lstrip("/")
    if not topic or "/" in topic:
        raise KafkaSourceError(f"Kafka address {arg!r}: expected kafka://HOST:PORT/TOPIC or kafka:///TOPIC")
    _check_topic_name(arg, topic)
    host = parts.netloc
    if host and bootstrap_flag and bootstrap_flag != host:
        raise KafkaSourceError(
            f"Kafka address {arg!r} names broker {host} and --bootstrap-server says {bootstrap_flag}: give one"
        )
    bootstrap = host or bootstrap_flag or os.environ.get(BOOTSTRAP_ENV) or config_bootstrap
    if not bootstrap:
        raise KafkaSourceError(
            f"Kafka address {arg!r} names no broker: write kafka://HOST:PORT/{topic}, or give "
            f"--bootstrap-server HOST:PORT, {BOOTSTRAP_ENV}, or kafka-bootstrap in the config file"
        )
    partition = _partition(arg, parse_qs(parts.query, keep_blank_values=True))
    settings = _settings(bootstrap, security or {}, extra or {})
    return KafkaTopic(topic, topic, partition, settings)


def _check_topic_name(arg: str, topic: str) -> None:
    import re

    if len(topic) > 249 or not re.fullmatch(r"[A-Za-z0-9._-]+", topic):
        raise KafkaSourceError(
            f"Kafka address {arg!r}: {topic!r} is not a valid Kafka topic name "
            "(letters, digits, '.', '_' and '-', at most 249)"
        )


def _partition(arg: str, query: dict[str, list[str]]) -> int | None:
    unknown = sorted(set(query) - {"partition"})
    if unknown:
        raise KafkaSourceError(f"Kafka address {arg!r}: unknown option {unknown[0]!r}; the only one is ?partition=N")
    if "partition" not in query:
        return None
    text = query["partition"][-1]
    if not text.isdigit():
        raise KafkaSourceError(f"Kafka address {arg!r}: partition {text!r} is not a whole number")
    return int(text)


def _settings(bootstrap: str, security: dict[str, str | None], extra: dict[str, str]) -> KafkaSettings:
    values = {name: security.get(name) or os.environ.get(env) or None for name, env in SECURITY_ENV.items()}
    if values["tls_ca"] and not os.path.isfile(values["tls_ca"]):
        raise KafkaSourceError(f"TLS CA file {values['tls_ca']} does not exist")
    mechanism = values["sasl_mechanism"]
    if mechanism and mechanism.upper() not in {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER", "GSSAPI"}:
        raise KafkaSourceError(
            f"SASL mechanism {mechanism!r} is not one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, GSSAPI"
        )
    if mechanism:
        values["sasl_mechanism"] = mechanism.upper()
    return KafkaSettings(bootstrap, extra=dict(extra), **values)


def parse_options(assignments: Iterable[str]) -> dict[str, str]:
    """`-X key=value` librdkafka properties."""
    options = {}
    for text in assignments:
        key, equals, value = text.partition("=")
        if not equals or not key:
            raise KafkaSourceError(f"-X {text!r}: expected a librdkafka property as KEY=VALUE")
        options[key.strip()] = value
    return options


def config_bootstrap(config_path: Any) -> str | None:
    """`kafka-bootstrap` from the config file that `config.load_config` found (None when absent)."""
    if config_path is None:
        return None
    import tomllib

    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # load_config already reported a file it cannot read
    table = data.get("tool", {}).get("smartview", {}) if config_path.name == "pyproject.toml" else data
    value = table.get("kafka-bootstrap")
    return value if isinstance(value, str) and value else None


# --- clients -------------------------------------------------------------------------------------


class BrokerErrors:
    """Collects the errors librdkafka reports from its background threads (the `error_cb`).

    librdkafka retries on its own; the callback is how smartview learns that a broker is down (to say
    so once) or that credentials were refused (to stop at once instead of waiting out a timeout).
    """

    def __init__(self) -> None:
        self.errors: list[Any] = []

    def __call__(self, error: Any) -> None:
        self.errors.append(error)

    def take(self) -> list[Any]:
        taken, self.errors = self.errors, []
        return taken


def new_consumer(settings: KafkaSettings, errors: BrokerErrors) -> Any:
    """A consumer that only reads by assignment: no group is joined and no offset is ever committed.

    librdkafka insists on a `group.id` even for assigned reading; without `subscribe` and with
    auto-commit off, the group is never joined. `auto.offset.reset=error` makes a position that is
    no longer there (records deleted, topic recreated) an event smartview reports, not a silent jump.
    """
    from confluent_kafka import Consumer

    config = {
        "group.id": "smartview-reader",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "error",
        "enable.partition.eof": True,
        "fetch.wait.max.ms": FETCH_WAIT_MS,
        "error_cb": errors,
        **settings.client_config(),
    }
    try:
        return Consumer(config)
    except Exception as exc:  # librdkafka rejects a bad -X property here
        raise KafkaSourceError(f"Kafka client settings: {settings_problem(exc)}") from None


def settings_problem(exc: Exception) -> str:
    """What librdkafka said about a configuration it refused, without the KafkaError wrapping."""
    first = exc.args[0] if exc.args else exc
    return describe_error(first) if hasattr(first, "str") else str(first)


def describe_error(error: Any) -> str:
    """A KafkaError as one readable line, without librdkafka's prefixes."""
    text = error.str() if hasattr(error, "str") else str(error)
    return text.replace("Local: ", "").strip()


def connect(topic: KafkaTopic, consumer: Any, errors: BrokerErrors, seconds: float = CONNECT_SECONDS) -> list[int]:
    """Check the broker, the topic and the partition; return the partitions to read, sorted.

    Raises KafkaSourceError within `seconds` for an unreachable broker, refused credentials, an unknown
    topic or partition: each names the broker and the topic.
    """
    metadata = _metadata(topic, consumer, errors, seconds)
    entry = metadata.topics.get(topic.topic)
    if entry is None or (entry.error is not None and entry.error.code() == ERR_UNKNOWN_TOPIC):
        raise KafkaSourceError(f"topic {topic.topic!r} does not exist on {topic.settings.bootstrap}")
    if entry.error is not None:
        raise KafkaSourceError(f"topic {topic.topic!r} on {topic.settings.bootstrap}: {describe_error(entry.error)}")
    partitions = sorted(entry.partitions)
    if topic.partition is not None:
        if topic.partition not in partitions:
            raise KafkaSourceError(
                f"topic {topic.topic!r} on {topic.settings.bootstrap} has no partition {topic.partition} "
                f"(it has {_partition_names(partitions)})"
            )
        return [topic.partition]
    return partitions


def _partition_names(partitions: list[int]) -> str:
    if not partitions:
        return "none"
    if partitions == list(range(len(partitions))):
        return "partition 0" if len(partitions) == 1 else f"partitions 0-{len(partitions) - 1}"
    return "partitions " + ", ".join(map(str, partitions))


def _metadata(topic: KafkaTopic, client: Any, errors: BrokerErrors, seconds: float) -> Any:
    from confluent_kafka import KafkaException

    deadline = time.monotonic() + seconds
    last = None
    while True:
        try:
            return client.list_topics(topic.topic, timeout=min(0.25, max(0.01, deadline - time.monotonic())))
        except KafkaException as exc:
            last = exc.args[0] if exc.args else exc
        client.poll(0)  # runs the error callback
        for error in errors.take():
            if error.code() in FATAL_AT_START:
                raise KafkaSourceError(_unreachable(topic, error)) from None
            last = error
        if time.monotonic() >= deadline:
            raise KafkaSourceError(_unreachable(topic, last)) from None


def _unreachable(topic: KafkaTopic, error: Any) -> str:
    code = error.code() if hasattr(error, "code") else None
    where = topic.settings.bootstrap
    if code in (ERR_AUTHENTICATION, ERR_SASL_AUTHENTICATION_FAILED, ERR_SSL):
        return f"Kafka broker {where} refused the connection's credentials: {describe_error(error)}"
    reason = describe_error(error) if error is not None else "no answer"
    return f"Kafka broker {where} cannot be reached ({reason}); is it running, and is the address right?"


# --- offsets and ends ----------------------------------------------------------------------------


def watermarks(topic: KafkaTopic, consumer: Any, partitions: list[int]) -> dict[int, tuple[int, int]]:
    """(low, high) offsets of each partition as the broker reports them (high may lag: see `find_ends`)."""
    from confluent_kafka import KafkaException, TopicPartition

    marks = {}
    for partition in partitions:
        try:
            marks[partition] = consumer.get_watermark_offsets(
                TopicPartition(topic.topic, partition), timeout=CONNECT_SECONDS, cached=False
            )
        except KafkaException as exc:
            raise KafkaSourceError(
                f"topic {topic.topic!r} partition {partition} on {topic.settings.bootstrap}: "
                f"cannot read its offsets: {describe_error(exc.args[0])}"
            ) from None
    return marks


def take(consumer: Any, seconds: float, most: int = 2000) -> list[Any]:
    """What the consumer has, waiting at most `seconds` for the first message only.

    `consume(n, timeout)` waits for the whole timeout unless n messages arrive, which would add up to
    `timeout` to every followed record; `poll` returns as soon as one is there, and the rest that are
    already fetched are taken without waiting.
    """
    first = consumer.poll(seconds)
    if first is None:
        return []
    return [first, *consumer.consume(most - 1, 0)]


def to_record(message: Any) -> KafkaRecord:
    value = message.value()
    return KafkaRecord(message.offset(), message.key(), b"" if value is None else value,
                       message.partition(), message.timestamp()[1], message.headers() or [])


def find_ends(
    topic: KafkaTopic,
    consumer: Any,
    highs: dict[int, int],
    seconds: float = PROBE_SECONDS,
    keep: Callable[[KafkaRecord], None] | None = None,
) -> dict[int, int]:
    """The real end offset of each partition: one past its last record.

    A correct Kafka reports the end as the high watermark, but some Kafka-compatible brokers (Tansu)
    report one that lags behind records produced in a batch. So the answer is not trusted blindly: each
    partition is read from its reported high watermark until the broker says it has nothing more (the
    end-of-partition event, which carries the fetch's own high watermark). With a correct broker that
    is one empty fetch; with a lagging one it reads just the records past the reported end. Records
    read on the way go to `keep` (the viewer caches them). Never waits longer than `seconds`: a
    partition that does not answer keeps the highest offset seen.
    """
    from confluent_kafka import TopicPartition

    ends = dict(highs)
    waiting = set(highs)
    consumer.assign([TopicPartition(topic.topic, p, highs[p]) for p in highs])
    deadline = time.monotonic() + seconds
    while waiting and time.monotonic() < deadline:
        for message in take(consumer, 0.05):
            partition = message.partition()
            error = message.error()
            if error is None:
                ends[partition] = max(ends[partition], message.offset() + 1)
                if keep is not None:
                    keep(to_record(message))
            elif error.code() == ERR_PARTITION_EOF:
                ends[partition] = max(ends[partition], message.offset())
                waiting.discard(partition)
            elif error.code() == ERR_AUTO_OFFSET_RESET:
                waiting.discard(partition)  # the reported end is past the records: keep it
    consumer.unassign()
    return ends
