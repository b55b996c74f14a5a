"""The physical floor for a Python map: one process, orjson loads, drop a key, dumps into a bytearray.

    python bench/loop_map.py FILE > out

Does the same work as `smartview FILE --map user_events -e show_account_id=false --print`.
"""

import sys

import orjson


def main(path: str) -> None:
    loads, dumps = orjson.loads, orjson.dumps
    out = bytearray()
    with open(path, "rb") as f:
        for line in f:
            event = loads(line)
            event.pop("account_id", None)
            out += dumps(event)
            out += b"\n"
    sys.stdout.buffer.write(out)


if __name__ == "__main__":
    main(sys.argv[1])
