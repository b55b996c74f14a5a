"""A plain Python pass-through: iterate the lines of a file and write them. Set against smartview with
an identity module, the difference is smartview's own cost per record.

    python bench/loop_pass.py FILE > out
"""

import sys


def main(path: str) -> None:
    write = sys.stdout.buffer.write
    with open(path, "rb") as f:
        for line in f:
            write(line)


if __name__ == "__main__":
    main(sys.argv[1])
