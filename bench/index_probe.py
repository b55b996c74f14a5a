"""Builds the viewer's offset index of a file once and prints what it took, as JSON:

    python bench/index_probe.py FILE
    {"seconds": 0.05, "count": 1000000, "memory_bytes": 128}
"""

import json
import sys
import time
from pathlib import Path

from smartview.core.sources.index import LineIndex


def main(path: str) -> None:
    start = time.perf_counter()
    index = LineIndex(Path(path))
    index.update()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "count": index.count, "memory_bytes": index.memory_bytes()}))
    index.close()


if __name__ == "__main__":
    main(sys.argv[1])
