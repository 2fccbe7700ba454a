"""Small real images for the photo tests, made here (no image library needed)."""

from __future__ import annotations

import struct
import zlib


def png(width: int, height: int, *, seed: int = 7) -> bytes:
    """A valid RGB PNG of `width` x `height` with a pattern (so its bytes are not all alike)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes((x * seed + y * 3 + c) % 256 for x in range(width) for c in range(3))
                    for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def jpeg_header() -> bytes:
    """The first bytes of a JPEG (SOI + APP0 JFIF): enough for a type check, not a picture."""
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + bytes(range(64))
