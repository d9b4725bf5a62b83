"""The CBOR codec against the byte examples of the spec (§3.1) and serde_cbor's encodings."""

from __future__ import annotations

import pytest

from pravega.protocol import cbor


def test_text_keys_as_the_official_client_writes_them() -> None:
    # Spec §3.1: key "06config/default" is these 17 bytes.
    assert cbor.dumps("06config/default") == bytes.fromhex("70 30 36 63 6f 6e 66 69 67 2f 64 65 66 61 75 6c 74")
    assert cbor.dumps("a" * 23)[:1] == b"\x77"
    assert cbor.dumps("a" * 24)[:2] == b"\x78\x18"
    assert cbor.dumps("a" * 300)[:3] == b"\x79\x01\x2c"
    assert cbor.loads(cbor.dumps("17assigned_segments/r1")) == "17assigned_segments/r1"


def test_synchronizer_values() -> None:
    # A version marker {"type_id": "blob", "data": [0]}: data is an array of small ints.
    marker = cbor.dumps({"type_id": "blob", "data": [0]})
    assert marker == b"\xa2\x67type_id\x64blob\x64data\x81\x00"
    # A tombstone's data is the CBOR of an empty map: [0xa0] -> array of one int >= 24.
    assert cbor.dumps([0xA0]) == b"\x81\x18\xa0"
    assert cbor.loads(b"\xa2\x67type_id\x69tombstone\x64data\x81\x18\xa0") == {"type_id": "tombstone", "data": [160]}


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (23, "17"),
        (24, "1818"),
        (255, "18ff"),
        (256, "190100"),
        (65536, "1a00010000"),
        ((1 << 64) - 1, "1bffffffffffffffff"),  # u64::MAX: distance_to_tail of a new reader
        (-1, "20"),
        (-25, "3818"),
        (-(1 << 63), "3b7fffffffffffffff"),
        (None, "f6"),
        (True, "f5"),
        (False, "f4"),
        ("", "60"),
        (b"\x01\x02", "420102"),
        ([], "80"),
        ({}, "a0"),
        ({"read": 40}, "a164726561641828"),  # Offset {read: 40}
    ],
)
def test_integers_and_simple_values(value: object, encoded: str) -> None:
    assert cbor.dumps(value) == bytes.fromhex(encoded)
    assert cbor.loads(bytes.fromhex(encoded)) == value


def test_maps_as_keys_decode_to_hashable_maps() -> None:
    segment = {"scope": {"name": "sc"}, "stream": {"name": "st"}, "segment": {"number": 3, "tx_id": None}}
    encoded = cbor.dumps({cbor.FrozenMap(segment): {"read": 7}})
    assert encoded[:1] == b"\xa1"
    decoded = cbor.loads(encoded)
    (key,) = decoded
    assert isinstance(key, cbor.FrozenMap) and key == segment
    assert decoded[key] == {"read": 7}
    assert hash(key) == hash(cbor.FrozenMap(segment))
    with pytest.raises(TypeError):
        key["scope"] = {}


def test_indefinite_lengths_and_floats_are_read() -> None:
    assert cbor.loads(bytes.fromhex("9f0102ff")) == [1, 2]
    assert cbor.loads(bytes.fromhex("bf6161 01 ff")) == {"a": 1}
    assert cbor.loads(bytes.fromhex("7f 6161 6162 ff")) == "ab"
    assert cbor.loads(bytes.fromhex("f93c00")) == 1.0
    assert cbor.loads(bytes.fromhex("fb3ff8000000000000")) == 1.5


@pytest.mark.parametrize("bad", ["", "18", "62 61", "a1 61 61", "0000", "fc", "1c", "62 ff fe"])
def test_bad_input_is_a_clear_error(bad: str) -> None:
    with pytest.raises(cbor.CborError):
        cbor.loads(bytes.fromhex(bad))


def test_unencodable_value() -> None:
    with pytest.raises(cbor.CborError):
        cbor.dumps(object())
    with pytest.raises(cbor.CborError):
        cbor.dumps(1 << 64)


@pytest.mark.parametrize(
    "value",
    [list(range(256)), [0, 24, 255, 23], [1, 300, "a"], [255, -1], [[1, 2], 3], [24] * 1000, [1, 2, 256]],
)
def test_arrays_of_small_integers_and_mixed_arrays(value: list) -> None:
    # serde_cbor writes Vec<u8> as an array of small integers: decoded in one pass, with
    # the general path for anything else.
    assert cbor.loads(cbor.dumps(value)) == value
    assert cbor.loads(cbor.dumps({"data": value, "after": 1})) == {"data": value, "after": 1}


def test_truncated_array_of_small_integers() -> None:
    with pytest.raises(cbor.CborError):
        cbor.loads(bytes.fromhex("83 01 18"))
