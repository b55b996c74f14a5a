"""The orjson case: the orjson versions around the cap in pyproject.toml, side by side on this machine.

Each version is installed once into a venv of its own under the data folder (`pip install orjson==V`,
through pip's configured index), and `orjson_probe.py` runs with that venv's Python: dumps and loads
of 500,000 small dicts, best of 5 inside each run, the versions one after the other in each round. The
cap stays while a newer version is measured slower here; the ratios say by how much.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from cases import Context
from measure import Samples, clean_env, paired_ratios
from report import Row, Target

PROBE = Path(__file__).resolve().parent / "orjson_probe.py"
CAPPED = "3.11.9"  # the newest version the cap allows
NEWER = ["3.12.0", "3.13.0"]


def case_orjson(ctx: Context) -> list[Row]:
    count = 20_000 if ctx.quick else 500_000
    versions = [CAPPED, *NEWER]
    pythons: dict[str, Path | str] = {v: _venv(ctx, v) for v in versions}
    times = {(v, op): Samples() for v in versions for op in ("dumps", "loads")}
    ctx.log(f"  {len(versions)} orjson versions x {ctx.repeat} rounds, each best of 5, side by side")
    for _ in range(ctx.repeat):
        for version, python in pythons.items():
            if isinstance(python, str):
                for op in ("dumps", "loads"):
                    times[(version, op)].error = python
                continue
            proc = subprocess.run([str(python), str(PROBE), str(count)], capture_output=True, text=True,
                                  env=clean_env(), timeout=600)
            if proc.returncode != 0:
                for op in ("dumps", "loads"):
                    times[(version, op)].error = proc.stderr.strip()[-200:]
                continue
            result = json.loads(proc.stdout)
            for op in ("dumps", "loads"):
                times[(version, op)].values.append(result[op])
    case = f"orjson {count // 1000}k dicts"
    rows = []
    for op in ("dumps", "loads"):
        for version in versions:
            rows.append(Row(case, f"{op}, orjson {version} (best of 5)", samples=times[(version, op)]))
        for version in NEWER:
            rows.append(Row(case, f"{op}: orjson {version} / {CAPPED}", "x",
                            paired_ratios(times[(version, op)], times[(CAPPED, op)]),
                            target=Target("<=", 1.1, "<= 1.1x: else the cap stays")))
    return rows


def _venv(ctx: Context, version: str) -> Path | str:
    """The Python of a venv holding orjson `version`, made once; or why there is none."""
    folder = ctx.data_dir / f"venv-orjson-{version}"
    python = folder / "bin" / "python"
    if python.exists():
        return python
    try:
        subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True, capture_output=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", f"orjson=={version}"], check=True,
                       capture_output=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"orjson {version} could not be installed: {getattr(exc, 'stderr', b'')!r:.200}"
    return python
