"""Bits of H.264 and HEVC NAL units: emulation prevention, reading Exp-Golomb codes and fixed
fields, and writing them back (processor.h264 and processor.hevc rewrite slice headers)."""

from __future__ import annotations

import re

NEEDS_ESCAPE = re.compile(rb"\x00\x00(?=[\x00-\x03])")
HEADER_BYTES = 256  # of a slice read as bits: far more than any slice header


def unescaped(payload: bytes) -> bytes:
    """A NAL unit's payload without its emulation-prevention bytes (00 00 03 → 00 00; a valid
    payload never holds 00 00 00, so the matches cannot overlap)."""
    return payload.replace(b"\x00\x00\x03", b"\x00\x00")


def escaped(rbsp: bytes) -> bytes:
    """The inverse: an emulation-prevention byte before any 00, 01, 02 or 03 after two zeros."""
    return NEEDS_ESCAPE.sub(b"\x00\x00\x03", rbsp)


class BitReader:
    def __init__(self, data: bytes) -> None:
        self.bits = "".join(f"{byte:08b}" for byte in data)
        self.position = 0

    def u(self, count: int) -> int:
        if self.position + count > len(self.bits):
            raise ValueError("a header runs past its NAL unit")
        value = int(self.bits[self.position : self.position + count] or "0", 2)
        self.position += count
        return value

    def flag(self) -> bool:
        return bool(self.u(1))

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("an Exp-Golomb code is too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        value = self.ue()
        return (value + 1) // 2 if value % 2 else -(value // 2)


def ue_bits(value: int) -> str:
    code = value + 1
    return "0" * (code.bit_length() - 1) + f"{code:b}"


def to_bytes(bits: str) -> bytes:
    return int(bits, 2).to_bytes(len(bits) // 8, "big") if bits else b""


def trailing_start(bits: str) -> int:
    """Where an RBSP's trailing bits (a 1, then zeros) start."""
    end = bits.rstrip("0")
    if not end:
        raise ValueError("no RBSP trailing bits")
    return len(end) - 1


def nal_units(packet: bytes) -> list[bytes]:
    """The NAL units of a packet with 4-byte lengths (MP4's framing of H.264 and HEVC);
    ValueError when malformed."""
    units, position = [], 0
    while position + 4 <= len(packet):
        size = int.from_bytes(packet[position : position + 4], "big")
        position += 4
        if size <= 0 or position + size > len(packet):
            raise ValueError("a malformed packet (its NAL lengths do not add up)")
        units.append(packet[position : position + size])
        position += size
    return units


def packet_of(units: list[bytes]) -> bytes:
    return b"".join(len(unit).to_bytes(4, "big") + unit for unit in units)
