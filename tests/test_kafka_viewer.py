"""The viewer on a Kafka topic, against a real broker (Tansu, in memory): the same screen as for a file."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING

from conftest import REPO
from smartview.cli import Selection
from smartview.core.modules import module as module_mod
from smartview.core.config import SHIPPED_MODULES_DIR
from smartview.core.sources.kafka import parse_address
from smartview.core.sources.kafka_index import KafkaIndex
from smartview.tui.app import SmartviewApp
from test_viewer import run, wait_for
from viewer_support import screen_text, settle

if TYPE_CHECKING:
    from kafka_broker import Broker

pytest_plugins = ["kafka_broker"]

EVENTS = (REPO / "sample-topics" / "user-events.jsonl").read_bytes().splitlines()


def topic_of(broker: Broker, records: list[bytes], partitions: int = 1, one_by_one: bool = False) -> str:
    """A new topic holding `records`, produced in one batch unless asked otherwise.

    After a batch, Tansu's high watermark lags behind (a real Kafka's never does), so the viewer must
    find the real end by reading from the reported one: that is what most tests want to exercise.
    """
    name = f"v-{uuid.uuid4().hex[:10]}"
    broker.create_topic(name, partitions)
    if records:
        produced = [(f"k{n}".encode(), value) for n, value in enumerate(records)]
        broker.produce(name, produced, partition=0, one_by_one=one_by_one)
    return name


def kafka_app(broker: Broker, name: str, module: str | None = "user_events", watch: bool = False) -> SmartviewApp:
    """The app as `smartview kafka://BROKER/NAME --map MODULE` builds it."""
    topic = parse_address(f"kafka://{broker.bootstrap}/{name}")
    index = KafkaIndex(topic)
    loaded = module_mod.load(module_mod.find(module, [SHIPPED_MODULES_DIR])) if module else None
    stages = ((loaded, {}),) if loaded else ()
    selection = Selection(topic, loaded, {}, [SHIPPED_MODULES_DIR], stages)
    app = SmartviewApp(selection, watch=watch, index=(index, index.build_in_background()))
    app.animation_level = "none"
    return app


def test_snapshot_of_a_kafka_topic(snap_compare, kafka_broker: Broker) -> None:
    name = topic_of(kafka_broker, EVENTS)
    app = kafka_app(kafka_broker, name)
    app.topic_name = app.status.topic = "user-events"  # the topic's random name would change the picture

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("1")
        await settle(pilot)

    assert snap_compare(app, run_before=run_before, terminal_size=(120, 30))


def test_opens_at_the_end_reading_only_what_is_shown(kafka_broker: Broker) -> None:
    # Record by record, so that the broker's end offset is right from the start, as a real Kafka's is:
    # reading from a lagging one to the real end would rightly cache the records on the way.
    name = topic_of(kafka_broker, [b'{"n":%d}' % n for n in range(5000)], one_by_one=True)

    async def scenario():
        app = kafka_app(kafka_broker, name, module="fields")
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            lines = screen_text(app).splitlines()
            assert lines[-1].split()[:3] == ["4999", "[k4999]", '{"n":4999}']
            # Of twenty windows of 256 offsets, only those holding the screen's rows were fetched.
            assert len(app.index._windows) <= 2
            await pilot.press("home")
            await wait_for(pilot, lambda: screen_text(app).splitlines()[0].split()[:2] == ["0", "[k0]"])

    run(scenario())


def test_toggles_remap_and_new_records_follow_with_their_keys(kafka_broker: Broker) -> None:
    name = topic_of(kafka_broker, EVENTS)

    async def scenario():
        app = kafka_app(kafka_broker, name, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert screen_text(app).count('"account_id"') == 5
            await pilot.press("1")
            await wait_for(pilot, lambda: '"account_id"' not in screen_text(app))
            kafka_broker.produce(name, [(b"late", EVENTS[0].replace(b'"1"', b'"42"'))], partition=0)
            await wait_for(pilot, lambda: "5 [late] {\"type\":\"login\",\"timestamp\"" in screen_text(app))
            assert app.status.records == 6
            assert app.headless_command() == (
                f"smartview kafka://{kafka_broker.bootstrap}/{name} --map user_events -e show_account_id=false --print"
            )

    run(scenario())


def test_a_broker_that_goes_away_is_reported_and_reading_resumes(own_broker: Broker) -> None:
    name = topic_of(own_broker, EVENTS[:2])

    async def scenario():
        app = kafka_app(own_broker, name, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            own_broker.stop()
            await wait_for(pilot, lambda: "cannot be reached" in app.status.trouble, timeout=20)
            own_broker.start()
            own_broker.create_topic(name)  # Tansu keeps nothing across a restart: the topic is new and empty
            time.sleep(0.5)
            own_broker.produce(name, [(b"again", EVENTS[4])], partition=0)
            await wait_for(pilot, lambda: "[again]" in screen_text(app), timeout=20)
            assert app.status.trouble == ""

    run(scenario())


def test_partitions_are_shown_one_at_a_time_and_switched_with_brackets(kafka_broker: Broker) -> None:
    name = f"v-{uuid.uuid4().hex[:10]}"
    kafka_broker.create_topic(name, 3)
    kafka_broker.produce(name, [(b"a", b'{"p":0,"n":0}'), (b"b", b'{"p":0,"n":1}')], partition=0)
    kafka_broker.produce(name, [(b"c", b'{"p":1,"n":%d}' % n) for n in range(3)], partition=1)

    async def scenario():
        app = kafka_app(kafka_broker, name, module=None, watch=True)
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            assert app.status.topic == f"{name} · partition 0 of 0-2"
            assert [line.split()[:3] for line in screen_text(app).splitlines()[:2]] == [
                ["0", "[a]", '{"p":0,"n":0}'], ["1", "[b]", '{"p":0,"n":1}']]
            await pilot.press("right_square_bracket")
            await wait_for(pilot, lambda: '2 [c] {"p":1,"n":2}' in screen_text(app))
            assert app.status.topic == f"{name} · partition 1 of 0-2" and app.status.records == 3
            assert f"/{name}?partition=1' --print" in app.headless_command()  # quoted: ? is a shell glob
            kafka_broker.produce(name, [(b"d", b'{"p":1,"n":3}')], partition=1)  # followed in the new partition
            await wait_for(pilot, lambda: '3 [d] {"p":1,"n":3}' in screen_text(app))
            await pilot.press("left_square_bracket")
            await wait_for(pilot, lambda: '1 [b] {"p":0,"n":1}' in screen_text(app))
            assert app.status.records == 2

    run(scenario())
