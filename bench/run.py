"""smartview's benchmark: every speed target of the core and viewer issues, measured on real processes.

    python bench/run.py                    # 100k and 1M records, 5 runs each after a warm-up
    python bench/run.py --10m              # also 10M records (about 880 MB of data, generated once)
    python bench/run.py --only open --100m # the open case also on 100M records (8.6 GB, ten copies of 10M)
    python bench/run.py --only print,startup --repeat 3
    python bench/run.py --quick            # tiny data, one run: a smoke test of the harness itself

Data is generated once (fixed seed) into --data-dir. jq and toolong are compared when installed. The
table shows each figure's median, its min-max spread, its target and whether the target is met.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cases import CASES, Context, toolong_command  # noqa: E402
from report import Row, markdown_table, text_table, write_json  # noqa: E402

BENCH = Path(__file__).resolve().parent


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    digits = text[:-1] if factor > 1 else text
    try:
        value = int(float(digits) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size like 100k or 1m") from None
    if value < 10:
        raise argparse.ArgumentTypeError(f"{text!r}: a size needs at least 10 records")
    return value


def parse_sizes(text: str) -> list[int]:
    return [parse_size(part) for part in text.split(",") if part.strip()]


def parse_only(text: str) -> list[str]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in CASES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown case {', '.join(unknown)}; cases: {', '.join(CASES)}")
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python bench/run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=parse_sizes, default=None, metavar="LIST",
                   help="topic sizes for open and index (default 100k,1m; --quick: 1k,10k)")
    p.add_argument("--10m", dest="ten_million", action="store_true", help="add the 10M-record case (~880 MB)")
    p.add_argument("--100m", dest="hundred_million", action="store_true",
                   help="add the open case on 100M records (8.6 GB, ten copies of the 10M topic; implies --10m's data)")
    p.add_argument("--repeat", type=int, default=None, metavar="N", help="measured runs after the warm-up (default 5)")
    p.add_argument("--quick", action="store_true", help="tiny data and one run: checks the harness, not the speed")
    p.add_argument("--only", type=parse_only, default=list(CASES), metavar="CASES",
                   help=f"comma-separated subset of: {','.join(CASES)}")
    p.add_argument("--data-dir", type=Path, default=BENCH / "data", help="where generated data goes (default bench/data)")
    p.add_argument("--json", type=Path, metavar="FILE", help="also write every sample and figure as JSON")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown (for the README)")
    p.add_argument("--strict", action="store_true", help="exit 1 if any figure misses its target")
    return p


def machine() -> dict:
    def version(command: list[str]) -> str | None:
        if shutil.which(command[0]) is None:
            return None
        result = subprocess.run(command, capture_output=True, text=True)
        return (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else None

    def package(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    tl = toolong_command()
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "smartview": package("smartview"),
        "orjson": package("orjson"),
        "textual": package("textual"),
        "jq": version(["jq", "--version"]),
        "tmux": version(["tmux", "-V"]),
        "toolong": (version([*tl, "--version"]) or "installed") if tl else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 5)
    sizes = args.sizes or ([1_000, 10_000] if args.quick else [100_000, 1_000_000])
    if args.ten_million and 10_000_000 not in sizes:
        sizes.append(10_000_000)
    ctx = Context(
        data_dir=args.data_dir.resolve(),
        repeat=max(1, repeat),
        sizes=sorted(set(sizes)),
        print_count=2_000 if args.quick else 500_000,
        quick=args.quick,
        hundred_million=args.hundred_million,
        log=lambda message: print(message, file=sys.stderr, flush=True),
    )
    ctx.data_dir.mkdir(parents=True, exist_ok=True)
    meta = machine()
    command = "python bench/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    meta["command"] = command.strip()
    rows: list[Row] = []
    crashed = False
    started = time.perf_counter()
    try:
        for name in args.only:
            ctx.log(f"== {name}")
            case_start = time.perf_counter()
            try:
                rows += CASES[name](ctx)
            except Exception as exc:  # one broken case must not hide the others' figures
                crashed = True
                traceback.print_exc()
                rows.append(Row(name, "the harness failed in this case", text=f"{type(exc).__name__}: {exc}"[:120], ok=False))
            ctx.log(f"   {time.perf_counter() - case_start:.1f} s")
    finally:
        ctx.close()
    meta["seconds"] = round(time.perf_counter() - started, 1)

    print(f"smartview benchmark, {meta['date']}: {meta['cores']} cores ({meta['cpu'] or 'unknown cpu'}), "
          f"Python {meta['python']}, smartview {meta['smartview']}, orjson {meta['orjson']}, textual {meta['textual']}")
    print(f"peers: jq {meta['jq'] or 'missing'}, toolong {meta['toolong'] or 'missing'}, "
          f"tmux {meta['tmux'] or 'missing'}; {ctx.repeat} run(s) after a warm-up"
          + ("; QUICK: tiny data, the targets are for the full sizes" if args.quick else ""))
    print(f"command: {meta['command']}  ({meta['seconds']} s)")
    print()
    print(markdown_table(rows) if args.markdown else text_table(rows))
    misses = [r for r in rows if r.mark == "MISS"]
    print()
    print(f"{len(misses)} figure(s) miss their target" if misses else "every target is met")
    if args.json:
        write_json(args.json, meta, rows)
    if crashed:
        return 3
    return 1 if args.strict and misses else 0


if __name__ == "__main__":
    sys.exit(main())
