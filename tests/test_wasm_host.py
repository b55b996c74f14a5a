"""The SmartModule host below the command: memory renewal, look_back, and the encoding against
Fluvio's own bytes. (The command-level behaviour is in test_wasm.py.)"""

from __future__ import annotations

from pathlib import Path

from smartview.core.modules.wasm import encoding, host
from smartview.core.modules.wasm.module import WasmMapper, load
from smartview.core.modules.lookback import Lookback
from smartview.core.record import Record

WASM = Path(__file__).resolve().parent / "wasm"


def test_an_instance_past_the_memory_limit_is_replaced_and_an_aggregate_keeps_its_sum(monkeypatch) -> None:
    module = load(WASM / "aggregate_sum.wasm")
    mapper = WasmMapper(module, module.make_params({}))
    first = mapper._live()
    monkeypatch.setattr(host, "RENEW_AT", first.memory_size())  # the next call finds it "too big"
    records = [Record(n, None, b"1" * 1 + b"0" * 3) for n in range(2000)]  # 1000 each
    results = mapper.apply_block(records[:1000])
    assert mapper._live() is not first
    results += mapper.apply_block(records[1000:])
    assert results[-1][0].value == b"2000000"


def test_look_back_records_reach_the_instance_that_maps() -> None:
    module = load(WASM / "look_back_count.wasm")
    assert module.look_back is not None and load(WASM / "map_upper.wasm").look_back is None
    mapper = WasmMapper(module, module.make_params({}), lookback=Lookback(last=5))
    before = [Record(n, None, b"old") for n in range(8)]
    mapper.look_back(lambda lookback: lookback.select(before, 0))
    assert mapper.apply_many(Record(5, None, b"new"))[0].value == b"6 new"


def test_a_record_encodes_as_fluvio_encodes_it() -> None:
    # Record::new("apple") with offset delta 1, encoded by fluvio-protocol: length 11 (zigzag 22), attributes 0,
    # timestamp delta 0, offset delta 1 (zigzag 2), no key, value length 5 (zigzag 10), no headers.
    assert encoding.encode_records([(11, None, b"apple")], 10) == b"\x00\x00\x00\x01" + bytes(
        [22, 0, 0, 2, 0, 10]) + b"apple" + b"\x00"
    assert encoding.varint(300) == bytes([0xD8, 0x04])  # zigzag 600


def test_look_back_checkpoints_stay_within_their_budget_and_restore_the_modules_state(tmp_path, monkeypatch) -> None:
    """The background pass's checkpoints copy the module's memory; past the budget they thin out (one
    every 2,048, 4,096... records), and a mapper restored from any of them goes on as `--print` does."""
    import pickle
    import time

    from smartview.core.runs import outputs

    topic = tmp_path / "numbers"
    topic.write_text("".join(f"{n}\n" for n in range(20000)))
    module = load(WASM / "look_back_count.wasm")
    monkeypatch.setattr(outputs, "CHECKPOINT_BUDGET", 400_000)
    index = outputs.OutputIndex(str(topic), [(module.path, {})])
    deadline = time.monotonic() + 60
    while index.done < 20000 and index.error is None and time.monotonic() < deadline:
        time.sleep(0.1)
    index.cancel()
    assert index.error is None and index.done == 20000
    kept = index._checkpoints
    assert sum(len(state) for _, state in kept) <= 400_000 and index.checkpoint_every > outputs.CHECKPOINT_EVERY
    assert all(offset % index.checkpoint_every == 0 for offset, _ in kept) and len(kept) >= 2
    low, state = index.checkpoint(17300)
    assert 0 < low <= 17300 and low > 17300 - index.checkpoint_every
    mapper = WasmMapper(module, module.make_params({}))
    mapper.initialize()
    outputs.restore(mapper, pickle.loads(state))
    results = mapper.apply_block([Record(n, None, str(n).encode()) for n in range(low, 17301)])
    assert results[-1][0].value == b"17301 17300"
