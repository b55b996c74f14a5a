"""orjson's dumps and loads over 500,000 small dicts (user events), best of 5: seconds as JSON on stdout.

Run by the `orjson` case with the Python of a venv holding one orjson version, so that versions are
compared side by side on the machine at hand.
"""

import json
import random
import sys
import time

import orjson

COUNT = int(sys.argv[1]) if len(sys.argv) > 1 else 500_000
RUNS = 5


def events(count: int) -> list[dict]:
    rng = random.Random(7)
    kinds = ["login", "logout", "action_a", "action_b", "play_demo", "register"]
    clients = ["safari", "firefox", "chrome", "edge"]
    return [{"type": rng.choice(kinds), "account_id": str(rng.randrange(100_000)),
             "timestamp": 1640878672 + n, "user_client": rng.choice(clients)} for n in range(count)]


def best(work) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    dicts = events(COUNT)
    dumps, loads = orjson.dumps, orjson.loads
    texts = [dumps(d) for d in dicts]
    result = {
        "version": orjson.__version__,
        "dumps": best(lambda: [dumps(d) for d in dicts]),
        "loads": best(lambda: [loads(t) for t in texts]),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
