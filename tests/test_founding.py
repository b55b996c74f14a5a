"""The founding document's three runs, exactly, from the repository root with its sample config."""

import subprocess

import orjson
import pytest

from conftest import REPO, smartview_command

EVENTS = [
    ("login", 1640878631),
    ("home_page", 1640878637),
    ("play_demo", 1640878650),
    ("action_a", 1640878731),
    ("action_b", 1640878763),
]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*smartview_command(), *args], cwd=REPO, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "params, fields",
    [
        ([], ("account_id", "timestamp", "user_client")),
        (["-e", "show_account_id=false"], ("timestamp", "user_client")),
        (["-e", "show_account_id=false", "-e", "show_user_client=false"], ("timestamp",)),
    ],
    ids=["unchanged", "no-account-id", "type-and-timestamp"],
)
def test_founding_runs(params: list[str], fields: tuple[str, ...]) -> None:
    result = run("user-events", "--print", *params)
    assert result.returncode == 0, result.stderr
    expected = []
    for kind, timestamp in EVENTS:
        full = {"type": kind, "account_id": "1", "timestamp": timestamp, "user_client": "safari"}
        expected.append(orjson.dumps({k: v for k, v in full.items() if k == "type" or k in fields}).decode())
    assert result.stdout.splitlines() == expected
    assert result.stderr == ""


def test_sample_config_selects_user_events_module() -> None:
    # The same topic with an explicit --map gives the same output as the configured default.
    configured = run("user-events", "--print", "-e", "show_timestamp=off")
    explicit = run("sample-topics/user-events.jsonl", "--map", "user_events", "--print", "-e", "show_timestamp=off")
    assert configured.stdout == explicit.stdout
    assert '"timestamp"' not in configured.stdout
    assert configured.stdout.count("\n") == 5
