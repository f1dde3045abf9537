"""Minimal 32-bit float WAV writer/reader (the stdlib ``wave`` module is PCM only)."""

from __future__ import annotations

import os
import struct
from typing import Any, Tuple, Union

__all__ = ["write_wav_float", "read_wav_info"]

WAVE_FORMAT_IEEE_FLOAT = 3


def write_wav_float(path: Union[str, "os.PathLike[str]"], data: Any, rate: int) -> None:
    """Write ``data`` as a 32-bit IEEE float WAV file.

    Parameters
    ----------
    path : str or path-like
        Output file (written atomically: temp file + rename).
    data : array_like, shape (frames, channels) or (frames,)
        Samples, nominally in -1..1.
    rate : int
        Sample rate in Hz.

    Notes
    -----
    Layout: ``RIFF``/``WAVE``, an 18-byte ``fmt `` chunk with format tag 3
    (``WAVE_FORMAT_IEEE_FLOAT``, ``cbSize`` 0), a ``fact`` chunk (frame count)
    as the spec requires for non-PCM data, then ``data``.
    """
    import numpy as np

    a = np.asarray(data, dtype="<f4")
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2:
        raise ValueError("data must be (frames,) or (frames, channels)")
    frames, channels = a.shape
    payload = np.ascontiguousarray(a).tobytes()
    block_align = 4 * channels
    fmt = struct.pack(
        "<HHIIHHH",
        WAVE_FORMAT_IEEE_FLOAT,
        channels,
        int(rate),
        int(rate) * block_align,
        block_align,
        32,
        0,  # cbSize
    )
    fact = struct.pack("<I", frames)
    chunks = (
        b"fmt " + struct.pack("<I", len(fmt)) + fmt
        + b"fact" + struct.pack("<I", len(fact)) + fact
        + b"data" + struct.pack("<I", len(payload))
    )
    riff_size = 4 + len(chunks) + len(payload) + (len(payload) & 1)
    tmp = "%s.tmp%d" % (os.fspath(path), os.getpid())
    with open(tmp, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", riff_size) + b"WAVE")
        f.write(chunks)
        f.write(payload)
        if len(payload) & 1:
            f.write(b"\0")
    os.replace(tmp, path)


def read_wav_info(path: Union[str, "os.PathLike[str]"]) -> Tuple[int, int, int, int]:
    """Read a WAV header.

    Returns
    -------
    (format_tag, channels, rate, frames)
    """
    with open(path, "rb") as f:
        head = f.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise ValueError("%s: not a RIFF/WAVE file" % os.fspath(path))
        tag = channels = rate = bits = 0
        while True:
            ch = f.read(8)
            if len(ch) < 8:
                raise ValueError("%s: no data chunk" % os.fspath(path))
            cid, size = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                body = f.read(size)
                tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            elif cid == b"data":
                return tag, channels, rate, size // (channels * bits // 8)
            else:
                f.seek(size, 1)
            if size & 1:
                f.seek(1, 1)
