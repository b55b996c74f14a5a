"""A smoke run of the benchmark harness (bench/run.py) on tiny data, so it cannot rot unnoticed.

It checks that the harness runs and prints its table, not any speed: the real benchmark is too long and
noisy for the test suite. Needs neither jq nor tmux: missing peers are reported, not required.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUN = REPO / "bench" / "run.py"


def run_bench(tmp_path: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTVIEW_")}
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, str(RUN), "--quick", "--data-dir", str(tmp_path / "data"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def test_quick_run_prints_the_table(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    proc = run_bench(tmp_path, "--only", "print,startup,index", "--json", str(results))
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["case", "figure", "median"])
    assert all(word in lines[header] for word in ("spread", "target", "mark"))
    cases = {line.split()[0] for line in lines[header + 2 :] if line.strip()}
    assert {"print", "startup", "index"} <= cases
    assert "time smartview / bare loop" in proc.stdout
    assert "smartview tiny-topic --print" in proc.stdout
    assert "index memory_bytes() / count" in proc.stdout
    # the checks whose answer does not depend on the machine's speed
    for figure in ("output of identity module == input", "textual imported by main", "output of smartview =="):
        row = next(line for line in lines if figure in line)
        assert row.rstrip().endswith("ok"), row
    dumped = json.loads(results.read_text())
    assert {row["case"].split()[0] for row in dumped["rows"]} == {"print", "startup", "index"}
    assert dumped["meta"]["cores"] >= 1


def test_missing_peers_are_reported_with_how_to_install(tmp_path: Path) -> None:
    # a PATH with only this Python's folder: no jq, no tmux
    proc = run_bench(tmp_path, "--only", "print,open", path=str(Path(sys.executable).parent))
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert "missing (install: apt-get install jq)" in proc.stdout
    assert "missing (install: apt-get install tmux)" in proc.stdout


def test_unknown_case_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--only", "nope")
    assert proc.returncode == 2
    assert "unknown case nope" in proc.stderr


def test_quick_kinds_and_kafka_cases_measure_something(tmp_path: Path) -> None:
    import shutil

    import pytest

    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    proc = run_bench(tmp_path, "--only", "kinds,kafka")
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stderr
    for figure in ("filter where equals=login: launch -> first rows", "aggregate count_by: page up",
                   "--print --follow: produce -> line on stdout", "viewer on kafka://…: produce -> visible"):
        row = next((line for line in proc.stdout.splitlines() if figure in line), None)
        assert row is not None, f"no row for {figure!r}:\n{proc.stdout}"
        assert " ms" in row or " s " in row, row  # a measured time, not "failed" or "not available"


def test_quick_wasm_case_measures_and_compares_outputs(tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--only", "wasm")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for figure in ("output of floor == input", "output of identity.wasm == input", "output of upper.wasm == upper.py",
                   "time identity.wasm / floor", "the same map in Python"):
        row = next((line for line in proc.stdout.splitlines() if figure in line), None)
        assert row is not None, f"no row for {figure!r}:\n{proc.stdout}"
        if figure.startswith("output"):
            assert "identical" in row, row


def test_quick_failures_case_measures_both_runs_and_counts_every_report(tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--only", "failures")
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for figure in ("records that each fail (stderr to a file)", "time failing / passing",
                   "first report on stderr", "census failing / passing", "peak memory (max RSS), 2k failing"):
        row = next((line for line in lines if figure in line), None)
        assert row is not None, f"no row for {figure!r}:\n{proc.stdout}"
        assert "failed" not in row and "no samples" not in row, row
    counted = next(line for line in lines if "report lines == records" in line)
    assert "2,000 of 2,000" in counted and counted.rstrip().endswith("ok"), counted


def test_quick_passes_case_times_each_pass_both_ways_and_compares_results(tmp_path: Path) -> None:
    proc = run_bench(tmp_path, "--only", "passes")
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    for name in ("error count (census)", "filter: where", "chain: where | fields", "quick filter", "find (count)"):
        rows = [line for line in lines if name in line]
        ratio = next((line for line in rows if "auto / one process" in line), None)
        assert ratio is not None and "x" in ratio and "failed" not in ratio, f"{name}:\n{proc.stdout}"
        same = next(line for line in rows if "same results" in line)
        assert "identical" in same and same.rstrip().endswith("ok"), same
