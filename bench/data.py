"""Benchmark data: user events like the sample topic, from a fixed seed, written once and reused."""

from __future__ import annotations

import random
from pathlib import Path

import orjson

TYPES = ("register", "login", "logout", "home_page", "play_demo", "action_a", "action_b")
CLIENTS = ("safari", "firefox", "chrome", "edge")


def user_events(count: int, seed: int = 7) -> bytes:
    rng = random.Random(seed)
    timestamp = 1640878631
    lines = []
    for _ in range(count):
        timestamp += rng.randint(0, 90)
        event = {
            "type": rng.choice(TYPES),
            "account_id": str(rng.randint(1, 99999)),
            "timestamp": timestamp,
            "user_client": rng.choice(CLIENTS),
        }
        lines.append(orjson.dumps(event))
    lines.append(b"")
    return b"\n".join(lines)


def ensure(path: Path, count: int) -> Path:
    """Write `count` events to `path` unless a file of that many records is already there."""
    if path.exists() and path.stat().st_size > 0:
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        done = 0
        while done < count:
            step = min(500_000, count - done)
            out.write(user_events(step, seed=7 + done))
            done += step
    tmp.rename(path)
    return path


def concatenate(path: Path, part: Path, times: int) -> Path:
    """Write `times` copies of `part` to `path` (the 100M topic: ten 10M ones, in seconds rather than an hour)."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for _ in range(times):
            with open(part, "rb") as source:
                while chunk := source.read(64 << 20):
                    out.write(chunk)
    tmp.rename(path)
    return path
