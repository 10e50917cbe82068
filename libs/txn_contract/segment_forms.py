"""How a per-event field reaches a :class:`~txn_contract.segmented.SegmentLayout`'s join function.

Each form checks that it can carry a field of the version's generated encoder and writes the
code that turns the join function's argument into the field's bytes. The fast ones carry the
producer's measured tricks (docs/performance.md, "Producer"): a timestamp encoded once per
millisecond, a UUID's hex regrouped by slicing, a decimal and its length made by one
``to_bytes``, a status chosen from values encoded in advance.
"""

from __future__ import annotations

from binascii import hexlify
from dataclasses import dataclass, field
from typing import Any

from .segments import AvroField, encode_decimal_unscaled, encode_long

__all__ = [
    "ENCODED",
    "MILLIS",
    "UUID_BITS",
    "VALUE",
    "VALUE_ERRORS",
    "Code",
    "Form",
    "OneOf",
    "Unscaled",
]

# Errors a getter or a field encoder raises on a value it cannot take.
VALUE_ERRORS = (KeyError, ValueError, TypeError, AttributeError, OverflowError, IndexError)


@dataclass
class Code:
    """What a form adds to the join function: per-event statements, the pieces it puts into the
    joined bytes (expressions, or constant bytes), and the objects they refer to by name (a name
    rebound by a statement is state kept between events)."""

    statements: list[str] = field(default_factory=list)
    pieces: list[str | bytes] = field(default_factory=list)
    names: dict[str, Any] = field(default_factory=dict)
    state: tuple[str, ...] = ()


class Form:
    """How a per-event field's value is handed to the join function: :data:`VALUE`,
    :data:`ENCODED`, :data:`MILLIS`, :data:`UUID_BITS`, :class:`Unscaled` or :class:`OneOf`."""

    label = "Form"

    def __repr__(self) -> str:
        return self.label

    def refusal(self, f: AvroField) -> str | None:
        """Why this form cannot carry field ``f``; None when it can."""
        return None

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        """The code that turns argument ``arg`` into field ``f``'s bytes (``n`` makes its names
        unique)."""
        raise NotImplementedError


class _Value(Form):
    label = "VALUE"

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        return Code(pieces=[f"_encode{n}({arg})"], names={f"_encode{n}": f.encode})


class _Encoded(Form):
    label = "ENCODED"

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        return Code(pieces=[arg])


class _Millis(Form):
    label = "MILLIS"

    def refusal(self, f: AvroField) -> str | None:
        if f.avro_type in ("long", "int", "timestamp-millis"):
            return None
        return f"MILLIS needs a long or timestamp-millis field, and it is {f.avro_type}"

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        # At full speed a hundred events share a millisecond: encode each value once.
        last, encoded = f"_last{n}", f"_encoded{n}"
        return Code(
            statements=[f"if {arg} != {last}:", f"    {last}, {encoded} = {arg}, _long({arg})"],
            pieces=[encoded],
            names={last: None, encoded: b"", "_long": encode_long},
            state=(last, encoded),
        )


class _UuidBits(Form):
    label = "UUID_BITS"

    def refusal(self, f: AvroField) -> str | None:
        return None if f.avro_type == "string" else f"UUID_BITS needs a string, not {f.avro_type}"

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        # Hex in 2-byte groups, "aaaa-bbbb-cccc-dddd-eeee-ffff-gggg-hhhh", regrouped by slicing
        # into the canonical 8-4-4-4-12 form (cheaper than formatting). It is always 36 ASCII
        # characters, so its length prefix is a constant.
        h = f"_hex{n}"
        return Code(
            statements=[f'{h} = _hexlify({arg}.to_bytes(16, "big"), b"-", -2)'],
            pieces=[encode_long(36), *[f"{h}{s}" for s in _UUID_SLICES]],
            names={"_hexlify": hexlify},
        )


_UUID_SLICES = ("[:4]", "[5:25]", "[25:29]", "[30:34]", "[35:]")
# A bytes decimal is its byte length (a zig-zag varint, the one byte 2 * width below 64 bytes)
# then its two's-complement bytes: for a value >= 0, one to_bytes of (length << 8 * width | n).
_WITH_LENGTH = tuple((2 * width) << (8 * width) for width in range(64))


@dataclass(frozen=True)
class Unscaled(Form):
    """A decimal field handed over as its unscaled int at ``scale`` (cents for scale 2); the
    field's scale must be the same. Keeping within the precision is the caller's part."""

    scale: int

    def refusal(self, f: AvroField) -> str | None:
        if f.scale == self.scale:
            return None
        return f"{self!r} needs a decimal of scale {self.scale}, and it is {f.avro_type}"

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        width, out = f"_width{n}", f"_decimal{n}"
        return Code(
            statements=[
                f"{width} = ({arg}.bit_length() + 8) >> 3",
                "try:",
                f'    {out} = _to_bytes(_with_length[{width}] | {arg}, {width} + 1, "big")',
                "except (IndexError, OverflowError):  # negative, or 64 bytes wide or more",
                f"    {out} = _unscaled({arg})",
            ],
            pieces=[out],
            names={
                "_to_bytes": int.to_bytes,
                "_with_length": _WITH_LENGTH,
                "_unscaled": encode_decimal_unscaled,
            },
        )


@dataclass(frozen=True)
class OneOf(Form):
    """A field whose value is one of a few known ``values``, handed over as the value's index
    (a bool indexes a pair); each value is encoded once, when the join is built."""

    values: tuple[Any, ...]

    def refusal(self, f: AvroField) -> str | None:
        for v in self.values:
            try:
                f.encode(v)
            except VALUE_ERRORS as exc:
                return f"it cannot hold {v!r} ({type(exc).__name__}: {exc})"
        return None

    def code(self, arg: str, f: AvroField, n: int) -> Code:
        choices = f"_choices{n}"
        return Code(
            pieces=[f"{choices}[{arg}]"], names={choices: tuple(map(f.encode, self.values))}
        )


VALUE: Form = _Value()
"""The Avro value as fastavro takes it; the generated field encoder writes it per event."""
ENCODED: Form = _Encoded()
"""The field's Avro bytes, already encoded by the caller."""
MILLIS: Form = _Millis()
"""An int (milliseconds, for timestamp-millis); consecutive equal values are encoded once."""
UUID_BITS: Form = _UuidBits()
"""A string field handed over as a UUID's 128 bits (an int): written as its canonical lowercase
36-character text."""
