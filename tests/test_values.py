"""Shipped modules change only what they are asked to: numbers keep their text, whatever orjson would make
of them; and what a module returns reaches the output as it is, or fails its record."""

from __future__ import annotations

import pytest

from conftest import Workspace

BIG = "18446744073709551616"  # 2**64: one past the largest 64-bit integer
# Numbers orjson alone would change: a float for a big integer, 1.1 for 1.10, 100.0 for 1e2, 0 for -0.
NUMBERS = f'{{"id":{BIG},"neg":-{BIG}9,"f":1.10,"e":1e2,"E":2.5E-3,"z":-0,"zf":-0.0,"n":7,"s":"x","drop":1}}'


def test_fields_writes_back_every_number_it_keeps_as_written(ws: Workspace) -> None:
    ws.topic("numbers", NUMBERS + "\n")
    result = ws.run("numbers", "--map", "fields", "-e", "drop=drop", "--print")
    assert result.code == 0, result.err
    assert result.out == NUMBERS.replace(',"drop":1', "") + "\n"


def test_fields_keep_keeps_nested_numbers_as_written(ws: Workspace) -> None:
    ws.topic("nested", f'{{"user":{{"id":{BIG},"score":0.50}},"other":1}}\n')
    result = ws.run("nested", "--map", "fields", "-e", "keep=user.id,user.score", "--print")
    assert result.out == f'{{"user":{{"id":{BIG},"score":0.50}}}}\n', result.err


def test_records_without_such_numbers_are_written_as_orjson_writes_them(ws: Workspace) -> None:
    # Normalised, as documented: whitespace, string escapes (same characters), a repeated name's last value.
    ws.topic("plain", '{ "a" : 1, "b":"caf\\u00e9 \\/", "a": 2, "drop": 0 }\n')
    result = ws.run("plain", "--map", "fields", "-e", "drop=drop", "--print")
    assert result.out == '{"a":2,"b":"café /"}\n', result.err


def test_where_finds_an_integer_beyond_64_bits_and_a_number_as_written(ws: Workspace) -> None:
    near = str(2**64 + 1)
    lines = [f'{{"id":{BIG},"f":1.10}}', f'{{"id":{near},"f":1.1}}', '{"id": 5, "f": 1.10 }']
    ws.topic("ids", "\n".join(lines) + "\n")
    result = ws.run("ids", "--map", "where", "-e", "field=id", "-e", f"equals={BIG}", "--print")
    assert result.out.splitlines() == [lines[0]], result.err
    result = ws.run("ids", "--map", "where", "-e", "field=f", "-e", "equals=1.10", "--print")
    assert result.out.splitlines() == [lines[0], lines[2]]  # kept records pass as they were read


def test_count_by_counts_big_integers_apart(ws: Workspace) -> None:
    near = str(2**64 + 1)  # the same float as 2**64: counted together before
    ws.topic("ids", f'{{"id":{BIG}}}\n{{"id":{near}}}\n{{"id":1.50}}\n')
    result = ws.run("ids", "--map", "count_by", "-e", "field=id", "--print")
    assert result.out.splitlines()[-1] == f'{{"{BIG}":1,"{near}":1,"1.50":1}}', result.err


def test_explode_writes_elements_and_parents_as_written(ws: Workspace) -> None:
    ws.topic("orders", f'{{"order":{BIG},"items":[{BIG},1.10,"a"]}}\n')
    result = ws.run("orders", "--map", "explode", "--print")
    assert result.out.splitlines() == [BIG, "1.10", "a"], result.err
    result = ws.run("orders", "--map", "explode", "-e", "keep_parent=true", "--print")
    assert result.out.splitlines()[1] == f'{{"parent":{{"order":{BIG}}},"item":1.10}}'


def test_user_events_names_an_out_of_range_timestamp_as_written(ws: Workspace) -> None:
    ws.topic("events", f'{{"type":"login","account_id":"1","timestamp":{BIG},"user_client":"safari"}}\n')
    result = ws.run("events", "--map", "user_events", "--print")
    assert result.code == 1
    assert f"field `timestamp` must be a 64-bit integer, got {BIG} (at " in result.err


@pytest.mark.parametrize("value", [" 21", "2_1", "+21", "21.0", "٢١", ""])
def test_double_refuses_what_is_not_plain_integer_text(ws: Workspace, value: str) -> None:
    ws.topic("numbers", f"{value}\n{2**70}\n")
    result = ws.run("numbers", "--map", "double", "--print")
    assert result.out == f"{2**71}\n"
    assert "offset 0: map raised ValueError: not an integer" in result.err


def test_nan_and_infinity_in_a_record_are_errors_not_nulls(ws: Workspace) -> None:
    ws.topic("odd", '{"a":NaN,"drop":1}\n{"a":Infinity}\n{"a":1}\n')
    result = ws.run("odd", "--map", "fields", "-e", "drop=drop", "--print")
    assert result.out == '{"a":1}\n'
    assert [line.split(" offset ")[1][:1] for line in result.err.splitlines()] == ["0", "1"]


SUBCLASSES = '''
class Text(str):
    def __str__(self):
        return "not this"

    def encode(self, *args, **kwargs):
        return b"nor this"


class Raw(bytes):
    def __bytes__(self):
        return b"not this"


def map(record):
    if record.value == b"t":
        return Text("text as it is")
    if record.value == b"k":
        return (Text("key"), Raw(b"raw as it is"))
    return Raw(b"raw as it is")
'''


def test_a_returned_str_or_bytes_subclass_is_written_as_its_base_value(ws: Workspace) -> None:
    module = ws.module("subclasses", SUBCLASSES)
    ws.topic("kinds", "t\nb\nk\n")
    result = ws.run("kinds", "--map", str(module), "--print", "-k")
    assert result.out.splitlines() == ["[null] text as it is", "[null] raw as it is", "[key] raw as it is"], result.err


LINE_BREAKS = '''
def map(record):
    if record.value == b"s":
        return "two\\nlines"
    if record.value == b"b":
        return b"two\\nlines"
    if record.value == b"list":
        return ["two\\nlines"]  # JSON escapes it: one line
    return record.value
'''


def test_a_returned_value_with_a_line_break_fails_its_record(ws: Workspace) -> None:
    module = ws.module("breaks", LINE_BREAKS)
    ws.topic("values", "s\nb\nlist\nplain\n")
    result = ws.run("values", "--map", str(module), "--print")
    assert result.code == 1
    assert result.out.splitlines() == ['["two\\nlines"]', "plain"]
    errors = result.err.splitlines()
    assert len(errors) == 2
    for offset, line in zip((0, 1), errors):
        assert f"offset {offset}: map returned a value with a line break at byte 3" in line


NON_FINITE = '''
def map(record):
    n = int(record.value)
    if n == 3:
        return {"n": n, "ratio": float("nan")}
    if n == 5:
        return [{"deep": [float("-inf")]}]
    if n == 6:
        return {"n": n, "ratio": None}  # a null of the module's own
    return {"n": n}
'''


def test_nan_or_infinity_in_a_returned_value_fails_its_record_instead_of_printing_null(ws: Workspace) -> None:
    module = ws.module("ratios", NON_FINITE)
    ws.topic("numbers", "".join(f"{n}\n" for n in range(200)))
    result = ws.run("numbers", "--map", str(module), "--print")
    assert result.code == 1
    printed = result.out.splitlines()
    assert len(printed) == 198 and '{"n":6,"ratio":null}' in printed and '{"n":3,"ratio":null}' not in printed
    errors = result.err.splitlines()
    assert [line.split(" offset ")[1].split(":")[0] for line in errors] == ["3", "5"]
    assert all("returned NaN or an infinity, which JSON cannot hold" in line for line in errors)
    # The same through the general path (-k), and --on-error stop stops at the first of them.
    keyed = ws.run("numbers", "--map", str(module), "--print", "-k")
    assert [line.split(" offset ")[1].split(":")[0] for line in keyed.err.splitlines()] == ["3", "5"]
    stopped = ws.run("numbers", "--map", str(module), "--print", "--on-error", "stop")
    assert stopped.out.splitlines() == ['{"n":0}', '{"n":1}', '{"n":2}']
    assert len(stopped.err.splitlines()) == 1 and " offset 3: " in stopped.err
