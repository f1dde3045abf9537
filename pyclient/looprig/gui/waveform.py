"""Waveform overviews of audio files (no Qt): min/max per column, read off the GUI thread.

Files are read with libsndfile (the engine's own decoder, through cffi in ABI
mode), so every format the engine loads has an overview. An overview is
``(mins, maxs)``: two float32 arrays of ``columns`` values, the channels'
extremes over each column's span of the file.
"""

from __future__ import annotations

import threading
from typing import Any, Optional, Tuple

import numpy as np

_CDEF = """
typedef int64_t sf_count_t;
typedef struct SF_INFO { sf_count_t frames; int samplerate; int channels; int format; int sections; int seekable; } SF_INFO;
typedef struct SNDFILE_tag SNDFILE;
SNDFILE* sf_open(const char *path, int mode, SF_INFO *sfinfo);
sf_count_t sf_readf_float(SNDFILE *sndfile, float *ptr, sf_count_t frames);
int sf_close(SNDFILE *sndfile);
const char* sf_strerror(SNDFILE *sndfile);
"""
_SFM_READ = 0x10
_lock = threading.Lock()
_sf: Any = None
_ffi: Any = None


def _lib() -> Tuple[Any, Any]:
    global _sf, _ffi
    with _lock:
        if _sf is None:
            import cffi
            ffi = cffi.FFI()
            ffi.cdef(_CDEF)
            _sf = ffi.dlopen("libsndfile.so.1")
            _ffi = ffi
    return _ffi, _sf


def overview(path: str, columns: int = 1200, block: int = 65536) -> Tuple[np.ndarray, np.ndarray]:
    """Read ``path`` and return ``(mins, maxs)`` over ``columns`` columns.

    Raises ``OSError`` with libsndfile's message when the file cannot be read.
    """
    ffi, sf = _lib()
    info = ffi.new("SF_INFO *")
    handle = sf.sf_open(path.encode("utf-8", "surrogateescape"), _SFM_READ, info)
    if handle == ffi.NULL:
        raise OSError("cannot read %s: %s" % (path, ffi.string(sf.sf_strerror(ffi.NULL)).decode("utf-8", "replace")))
    try:
        frames, channels = int(info.frames), max(1, int(info.channels))
        columns = max(1, min(columns, frames or 1))
        mins = np.zeros(columns, np.float32)
        maxs = np.zeros(columns, np.float32)
        if frames <= 0:
            return mins, maxs
        edges = (np.arange(columns + 1, dtype=np.int64) * frames) // columns
        buf = np.empty((block, channels), np.float32)
        pos = 0
        while pos < frames:
            n = int(sf.sf_readf_float(handle, ffi.cast("float *", buf.ctypes.data), block))
            if n <= 0:
                break
            chunk = buf[:n]
            lo_c = np.searchsorted(edges, pos, side="right") - 1
            hi_c = np.searchsorted(edges, pos + n, side="left")
            for c in range(max(0, lo_c), min(columns, hi_c)):
                a = max(edges[c], pos) - pos
                b = min(edges[c + 1], pos + n) - pos
                if b <= a:
                    continue
                part = chunk[a:b]
                mn, mx = float(part.min()), float(part.max())
                if a == 0 and edges[c] < pos:  # the column began in the previous block
                    mn, mx = min(mn, mins[c]), max(mx, maxs[c])
                mins[c], maxs[c] = mn, mx
            pos += n
        return mins, maxs
    finally:
        sf.sf_close(handle)


class OverviewCache:
    """Overviews by (path, load count), made on a worker thread.

    ``get(path, key)`` returns the overview when it is ready, else ``None``
    (and starts making it); ``error(path, key)`` the reason one failed.
    """

    def __init__(self, columns: int = 1200) -> None:
        self.columns = columns
        self._done: dict = {}
        self._busy: set = set()
        self._mutex = threading.Lock()

    def get(self, path: str, key: Any) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        k = (path, key)
        with self._mutex:
            if k in self._done:
                v = self._done[k]
                return v if isinstance(v, tuple) else None
            if k in self._busy or not path:
                return None
            self._busy.add(k)
        threading.Thread(target=self._make, args=(k,), name="lr-gui-waveform", daemon=True).start()
        return None

    def error(self, path: str, key: Any) -> Optional[str]:
        with self._mutex:
            v = self._done.get((path, key))
        return v if isinstance(v, str) else None

    def _make(self, k: Tuple[str, Any]) -> None:
        try:
            v: Any = overview(k[0], self.columns)
        except Exception as e:  # noqa: BLE001 - shown in the window, never raised
            v = str(e)
        with self._mutex:
            self._busy.discard(k)
            if len(self._done) > 256:
                self._done.clear()
            self._done[k] = v
