"""Read the pixels of a PNG that Chromium wrote (8-bit RGB/RGBA, not interlaced), without Pillow.

Enough PNG to let screenshot tests count pixels of a colour: the zlib stream is inflated and
each scanline unfiltered (None, Sub, Up with numpy; Average and Paeth per byte).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np


def read_png(path: Path) -> np.ndarray:
    """The image as an (height, width, channels) uint8 array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat = 8, []
    width = height = channels = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and interlace == 0 and colour in (2, 6), "only 8-bit RGB/RGBA, not interlaced"
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), dtype=np.uint8)
    stride = width * channels
    rows = raw.reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    previous = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = rows[y, 0], rows[y, 1:]
        if kind == 0:
            current = line.copy()
        elif kind == 1:
            current = _sub(line, channels)
        elif kind == 2:
            current = (line.astype(np.uint16) + previous).astype(np.uint8)
        else:
            current = _slow(kind, line, previous, channels)
        out[y] = current
        previous = current
    return out.reshape(height, width, channels)


def _sub(line: np.ndarray, channels: int) -> np.ndarray:
    cells = line.reshape(-1, channels).astype(np.int64)
    return (np.cumsum(cells, axis=0) % 256).astype(np.uint8).reshape(-1)


def _slow(kind: int, line: np.ndarray, previous: np.ndarray, channels: int) -> np.ndarray:
    current = bytearray(len(line))
    up = previous.tolist()
    raw = line.tolist()
    for i in range(len(raw)):
        a = current[i - channels] if i >= channels else 0
        b = up[i]
        if kind == 3:
            current[i] = (raw[i] + ((a + b) >> 1)) & 0xFF
        else:
            c = up[i - channels] if i >= channels else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            current[i] = (raw[i] + pred) & 0xFF
    return np.frombuffer(bytes(current), dtype=np.uint8)


def count_colour(image: np.ndarray, hex_colour: str, *, tolerance: int = 6) -> int:
    """Pixels within ``tolerance`` of ``#rrggbb`` in every channel."""
    target = np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)
    diff = np.abs(image[..., :3].astype(np.int16) - target)
    return int((diff <= tolerance).all(axis=-1).sum())
