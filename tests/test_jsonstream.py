"""The piecewise reader of bundles: the same items as json.loads, whatever the chunk size."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from store.jsonstream import JsonStreamError, read_lists

KEYS = ("campaigns", "outplans", "campaigncalls")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
bundles = st.dictionaries(st.sampled_from(KEYS), st.lists(json_values, max_size=6))


def items(data: bytes, chunk: int) -> list[tuple[str, int, Any]]:
    stream = io.BytesIO(data)
    return [(i.key, i.index, i.value) for i in read_lists(stream, KEYS, chunk_chars=chunk)]


def expected(bundle: dict[str, list[Any]]) -> list[tuple[str, int, Any]]:
    return [(key, n, value) for key, values in bundle.items() for n, value in enumerate(values)]


@settings(max_examples=300, deadline=None)
@given(bundle=bundles, chunk=st.integers(1, 23), indent=st.sampled_from([None, 1, 4]),
       ascii_only=st.booleans())  # fmt: skip
def test_every_chunk_size_reads_what_json_loads_reads(
    bundle: dict[str, list[Any]], chunk: int, indent: int | None, ascii_only: bool
) -> None:
    data = json.dumps(bundle, indent=indent, ensure_ascii=ascii_only).encode()
    assert items(data, chunk) == expected(bundle)


@settings(max_examples=200, deadline=None)
@given(bundle=bundles, chunk=st.integers(1, 23), cut=st.integers(0, 10_000))
def test_a_file_cut_short_is_an_error_at_any_point(
    bundle: dict[str, list[Any]], chunk: int, cut: int
) -> None:
    data = json.dumps(bundle, ensure_ascii=False).encode()
    data = data[: cut % max(len(data), 1)]
    with pytest.raises(JsonStreamError):
        items(data, chunk)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "is not JSON: the file is empty"),
        ("  \n ", "is not JSON: the file is empty"),
        ("[1, 2]", "is not a bundle: expected an object with lists campaigns, outplans,"),
        ('"x"', "got str"),
        ("42", "got number"),
        ("nope", "is not JSON: Expecting value at line 1 column 1"),
        ('{"calls": []}', "has a bad record: calls: Extra inputs are not permitted"),
        ('{"campaigns": {}}', "campaigns: Input should be a valid array"),
        ('{"campaigns": [], "campaigns": []}', "has campaigns twice"),
        ('{"campaigns": [1 2]}', "Expecting ',' delimiter at line 1 column 18"),
        ('{"campaigns": [1]} x', "Extra data at line 1 column 20"),
        ('{"campaigns": [{"a":\n\n  tru}]}', "Expecting value at line 3 column 3"),
        ('{"campaigns": [' + "[" * 100_000 + "]" * 100_000 + "]}", "nested too deeply"),
        ("{campaigns: []}", "Expecting property name enclosed in double quotes at line 1"),
    ],
)
@pytest.mark.parametrize("chunk", [1, 5, 4096])
def test_what_is_wrong_is_said_with_its_place(text: str, message: str, chunk: int) -> None:
    with pytest.raises(JsonStreamError) as raised:
        items(text.encode(), chunk)
    assert message in str(raised.value)


@pytest.mark.parametrize("chunk", [1, 3, 4096])
def test_lines_and_columns_agree_with_json_loads_far_into_the_file(chunk: int) -> None:
    records = [{"n": n, "name": "é" * (n % 5)} for n in range(300)]
    good = json.dumps({"campaigns": records}, indent=2)
    bad = good.replace('"n": 250', '"n": 250,,', 1)
    with pytest.raises(json.JSONDecodeError) as truth:
        json.loads(bad)
    with pytest.raises(JsonStreamError) as raised:
        items(bad.encode(), chunk)
    assert f"at line {truth.value.lineno} column {truth.value.colno}" in str(raised.value)


@pytest.mark.parametrize("chunk", [1, 2, 7, 4096])
def test_a_bad_byte_is_placed_exactly_even_when_a_chunk_cuts_a_character(chunk: int) -> None:
    data = '{"campaigns": ["가나다'.encode() + b"\xff" + b'"]}'
    with pytest.raises(JsonStreamError) as raised:
        items(data, chunk)
    bad = data.index(b"\xff")
    assert str(raised.value) == f"is not UTF-8 text (byte {bad})"


class CountingReader(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int | None = -1) -> bytes:
        piece = super().read(size)
        self.taken += len(piece)
        return piece


def test_an_error_early_in_a_big_file_is_found_without_reading_the_rest() -> None:
    data = b'{"campaigns": [{"a": 1}, {"a": 2,, "b": 3}, ' + b'{"a": 1}, ' * 1_000_000 + b"1]}"
    stream = CountingReader(data)
    with pytest.raises(JsonStreamError, match="Expecting property name"):
        list(read_lists(stream, KEYS, chunk_chars=4096))
    assert stream.taken <= 3 * 4096


# The reader's own memory over a 60 MB file: a few chunks, not the file.
PEAK = """
import resource, sys
from store.jsonstream import read_lists
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(sys.argv[1], "rb") as stream:
    n = sum(1 for _ in read_lists(stream, ("campaigncalls",)))
grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024
print(n, grown)
"""


def test_reading_a_big_file_holds_little_of_it(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    record = json.dumps({"id": "x" * 36, "name": "김민준 " * 20}, ensure_ascii=False)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"campaigncalls": [')
        out.write(", ".join([record] * 200_000))
        out.write("]}")
    assert path.stat().st_size > 50_000_000
    done = subprocess.run([sys.executable, "-c", PEAK, str(path)], capture_output=True, text=True,
                          timeout=120, check=True)  # fmt: skip
    count, grown_mib = map(int, done.stdout.split())
    assert count == 200_000 and grown_mib < 40
