"""`smartview produce` and `smartview topics`: records land whole, even from concurrent producers."""

from __future__ import annotations

import subprocess

from conftest import Workspace, smartview_command


def test_produce_creates_topic_and_appends(ws: Workspace) -> None:
    assert ws.run("produce", "fresh", input="a\nb\nc").code == 0
    assert ws.run("produce", "fresh", input="d\n").code == 0
    assert (ws.topics / "fresh.jsonl").read_text() == "a\nb\nc\nd\n"
    assert ws.run("fresh", "--print").out == "a\nb\nc\nd\n"


def test_produce_from_file(ws: Workspace) -> None:
    source = ws.root / "input.txt"
    source.write_text('{"n":1}\n{"n":2}\n')
    assert ws.run("produce", "from-file", "-f", str(source)).code == 0
    assert ws.run("topics").out.splitlines()[1].split()[:2] == ["from-file", "2"]
    missing = ws.run("produce", "from-file", "-f", "nope.txt")
    assert missing.code == 2 and "nope.txt does not exist" in missing.err


def test_produce_checks_the_topic_name(ws: Workspace) -> None:
    result = ws.run("produce", "Bad_Name", input="x\n")
    assert result.code == 2 and "invalid topic name 'Bad_Name'" in result.err
    assert list(ws.topics.iterdir()) == []


def test_produce_closes_a_torn_line_left_by_another_writer(ws: Workspace) -> None:
    path = ws.topic("torn", "1\n2")
    ws.run("produce", "torn", input="3\n")
    assert path.read_text() == "1\n2\n3\n"


def test_concurrent_producers_never_interleave(ws: Workspace) -> None:
    writers = 6
    per_writer = 20_000
    procs = []
    for w in range(writers):
        payload = "".join(f'{{"writer":{w},"seq":{i},"pad":"{"x" * (i % 300)}"}}\n' for i in range(per_writer))
        proc = subprocess.Popen(
            [*smartview_command(), "produce", "shared"], stdin=subprocess.PIPE, cwd=ws.root, env=ws.env()
        )
        procs.append((proc, payload.encode()))
    for proc, payload in procs:
        proc.stdin.write(payload)
        proc.stdin.close()
    assert all(proc.wait(timeout=120) == 0 for proc, _ in procs)
    import orjson

    seen: dict[int, list[int]] = {w: [] for w in range(writers)}
    for line in (ws.topics / "shared.jsonl").read_bytes().splitlines():
        record = orjson.loads(line)  # a torn or interleaved line would not parse
        seen[record["writer"]].append(record["seq"])
    assert all(seqs == list(range(per_writer)) for seqs in seen.values())


def test_topics_lists_names_and_counts(ws: Workspace) -> None:
    ws.topic("alpha", "1\n2\n3\n")
    ws.topic("beta", "1\n2")
    (ws.topics / "Not_A_Topic.jsonl").write_text("x\n")
    out = ws.run("topics").out.splitlines()
    assert out[0].split() == ["TOPIC", "RECORDS", "SIZE"]
    assert [line.split()[:2] for line in out[1:]] == [["alpha", "3"], ["beta", "2"]]


def test_a_full_disk_is_reported_and_leaves_no_torn_line(ws: Workspace) -> None:
    import resource
    import signal

    def small_disk() -> None:  # the file may not grow past 1000 bytes: writes beyond fail with EFBIG
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    source = ws.root / "many.txt"
    source.write_text("".join(f'{{"n":{n:04d}}}\n' for n in range(200)))  # 11 bytes a record
    proc = subprocess.run(
        [*smartview_command(), "produce", "full", "-f", str(source)],
        cwd=ws.root, env=ws.env(), capture_output=True, text=True, preexec_fn=small_disk,
    )
    assert proc.returncode == 1
    assert "cannot append to" in proc.stderr and "nothing partial was left in the file" in proc.stderr
    data = (ws.topics / "full.jsonl").read_bytes()
    assert data == b"" or data.endswith(b"\n")
    assert all(line.startswith(b'{"n":') and line.endswith(b"}") for line in data.splitlines())
