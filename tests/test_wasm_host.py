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
