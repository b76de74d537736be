"""Biometric capture devices behind one protocol; a deterministic simulated device ships.

A real camera or fingerprint scanner plugs in by implementing ``CaptureDevice``
(usually on the capture station, reporting through the same upload as a mobile
team). The simulated device draws a synthetic face (a PNG) and ISO/IEC
19794-2-style minutiae templates from a seed, so the same person always gives
the same capture and tests can recognise the bytes wherever they might leak.
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
import zlib
from dataclasses import dataclass
from typing import Protocol

FINGERS = ("right_thumb", "right_index", "left_thumb", "left_index")
FACE_WIDTH, FACE_HEIGHT = 96, 120


@dataclass(frozen=True)
class FaceCapture:
    image_png: bytes
    quality: int  # 0-100, as ISO/IEC 29794-5 style quality scores


@dataclass(frozen=True)
class FingerprintCapture:
    finger: str
    template: bytes
    quality: int


@dataclass(frozen=True)
class BiometricCapture:
    device_id: str
    face: FaceCapture
    fingerprints: tuple[FingerprintCapture, ...]


class CaptureDevice(Protocol):
    device_id: str

    def capture(self, subject_hint: str) -> BiometricCapture:
        """Take a face image and fingerprint templates of the person in front of the device.

        ``subject_hint`` identifies the sitting for the device's own log (a real
        device ignores it for the biometrics themselves)."""
        ...


def _png(width: int, height: int, gray_rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + row for row in gray_rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _synthetic_face(rng: random.Random) -> bytes:
    """An oval face with eyes and mouth whose proportions vary with the seed."""
    cx, cy = FACE_WIDTH / 2, FACE_HEIGHT / 2 + 4
    rx, ry = rng.uniform(30, 38), rng.uniform(40, 48)
    eye_y, eye_dx, eye_r = cy - rng.uniform(10, 16), rng.uniform(11, 16), rng.uniform(3, 5)
    mouth_y, mouth_w = cy + rng.uniform(16, 24), rng.uniform(8, 14)
    skin, background = rng.randint(150, 215), rng.randint(225, 250)
    rows = []
    for y in range(FACE_HEIGHT):
        row = bytearray()
        for x in range(FACE_WIDTH):
            value = background
            if ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1:
                value = skin
                if any(math.hypot(x - (cx + side * eye_dx), y - eye_y) <= eye_r for side in (-1, 1)):
                    value = 40
                elif abs(y - mouth_y) <= 1.5 and abs(x - cx) <= mouth_w:
                    value = 90
            row.append(value)
        rows.append(bytes(row))
    return _png(FACE_WIDTH, FACE_HEIGHT, rows)


def _minutiae_template(rng: random.Random, finger: str) -> bytes:
    """A finger minutiae record: header, then (type, x, y, angle, quality) per minutia."""
    count = rng.randint(28, 46)
    body = b"".join(
        struct.pack(">BHHBB", rng.choice((1, 2)), rng.randrange(500), rng.randrange(500), rng.randrange(256),
                    rng.randint(40, 100))
        for _ in range(count)
    )
    return b"FMR\x00 20\x00" + struct.pack(">BB", FINGERS.index(finger), count) + body


class SimulatedCaptureDevice:
    """Deterministic: the same hint gives the same face and templates."""

    def __init__(self, device_id: str = "sim-0001") -> None:
        self.device_id = device_id

    def capture(self, subject_hint: str) -> BiometricCapture:
        seed = int.from_bytes(hashlib.sha256(f"dancu-sim|{subject_hint}".encode()).digest()[:8], "big")
        rng = random.Random(seed)
        face = FaceCapture(image_png=_synthetic_face(rng), quality=rng.randint(70, 98))
        prints = tuple(FingerprintCapture(finger=f, template=_minutiae_template(rng, f), quality=rng.randint(60, 99))
                       for f in FINGERS)
        return BiometricCapture(device_id=self.device_id, face=face, fingerprints=prints)
