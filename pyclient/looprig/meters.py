"""Meter snapshots and live meter views.

The engine publishes, every period, a *meter area*::

    [lr_meter_header][lr_slot_meter x slot_count][lr_slot_info x slot_count]

:class:`Meters` wraps one copy of that area made by ``lr_client_read_meters``
(a consistent snapshot: one copy under the engine's sequence lock) in a private
buffer; the NumPy arrays are views onto that buffer, built from the offsets and
sizes cffi computes from the C layout (nothing is hand-written here).

A *live* :class:`Meters` (``Rig.meter_view()``) has the same attributes but
views the shared segment itself: values change under your feet every period
and a row may mix two periods (no synchronisation).  It is only valid while the
:class:`~looprig.Rig` is open.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Sequence

from ._ffi import ffi
from ._names import MODE_NAMES, RENDER_STATE_NAMES, SLOT_FLAGS, SLOT_STATE_NAMES

try:  # NumPy is the normal path; plain lists without it.
    import numpy as _np
except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
    _np = None  # type: ignore[assignment]

__all__ = ["Meters", "to_dbfs", "SLOT_METER_FIELDS", "SLOT_INFO_FIELDS"]

#: Per-slot array attributes taken from ``lr_slot_meter``.
SLOT_METER_FIELDS = (
    "peak",
    "rms",
    "playhead",
    "length",
    "start_frame",
    "state",
    "flags",
    "gain_db",
    "pan",
    "loop_bpm",
    "loop_beats",
    "pitch",
    "mode",
    "render",
)
#: Per-slot array attributes taken from ``lr_slot_info``.
SLOT_INFO_FIELDS = ("channels", "source_rate", "source_frames", "load_count")

_HEADER_SCALARS = (
    "seq",
    "nframes",
    "period",
    "frame_time",
    "callback_load",
    "callback_load_max",
    "xruns",
    "slot_count",
    "tempo_bpm",
    "beat",
    "beats_per_bar",
    "renders_pending",
    "transport_mode",
    "transport_rolling",
)

# C primitive name -> NumPy dtype name.
_DTYPES = {
    "float": "float32",
    "double": "float64",
    "int8_t": "int8",
    "uint8_t": "uint8",
    "int16_t": "int16",
    "uint16_t": "uint16",
    "int32_t": "int32",
    "uint32_t": "uint32",
    "int64_t": "int64",
    "uint64_t": "uint64",
}


def to_dbfs(x: float, floor: Optional[float] = None) -> float:
    """Convert a linear amplitude to dBFS.

    Parameters
    ----------
    x : float
        Linear amplitude (1.0 = full scale).
    floor : float, optional
        Returned instead of ``-inf`` for silence (``x <= 0``) and as a lower
        bound.

    Returns
    -------
    float
        ``20 * log10(x)``, ``-inf`` (or ``floor``) for silence.
    """
    x = float(x)
    if x > 0.0 and math.isfinite(x):
        db = 20.0 * math.log10(x)
        return db if floor is None else max(db, floor)
    if x > 0.0:  # inf
        return x
    return -math.inf if floor is None else floor


def _field(struct: str, name: str) -> Any:
    for fname, f in ffi.typeof(struct).fields:
        if fname == name:
            return f
    raise KeyError("%s.%s" % (struct, name))


def _array_view(buf: Any, base: int, struct: str, name: str, count: int, writeable: bool) -> Any:
    """NumPy view of field ``name`` of ``count`` consecutive ``struct`` at ``base``."""
    f = _field(struct, name)
    t = f.type
    stride = ffi.sizeof(struct)
    if t.kind == "array":
        item, length = t.item, t.length
        dtype = _np.dtype(_DTYPES[item.cname])
        shape = (count, length)
        strides = (stride, dtype.itemsize)
    else:
        dtype = _np.dtype(_DTYPES[t.cname])
        shape = (count,)
        strides = (stride,)
    assert dtype.itemsize == ffi.sizeof(t.item if t.kind == "array" else t)
    arr = _np.ndarray(shape=shape, dtype=dtype, buffer=buf, offset=base + f.offset, strides=strides)
    if not writeable:
        arr.flags.writeable = False
    return arr


def _header_view(buf: Any, name: str, writeable: bool) -> Any:
    f = _field("lr_meter_header", name)
    t = f.type
    dtype = _np.dtype(_DTYPES[t.item.cname])
    arr = _np.ndarray(shape=(t.length,), dtype=dtype, buffer=buf, offset=f.offset)
    if not writeable:
        arr.flags.writeable = False
    return arr


class Meters:
    """Meters of the engine: master, per-slot levels, positions and states.

    Attributes
    ----------
    slot_count : int
        Number of slots (rows of every per-slot array).
    peak, rms : ndarray, shape (slot_count, 2), float32
        Linear peak (last period) and RMS (300 ms window) per slot, L/R,
        after gain/pan/mute.
    playhead, length, start_frame : ndarray, shape (slot_count,), uint64
        Frame within the loop, loop length in frames (0 = empty), JACK frame
        where the current play began.
    state, flags : ndarray, shape (slot_count,), uint32
        ``lr_slot_state`` and ``lr_slot_flags`` per slot.
    gain_db, pan : ndarray, shape (slot_count,), float32
        Current gain (dB) and pan (-1..+1).
    loop_bpm, loop_beats : ndarray, shape (slot_count,), float32
        The loop's own tempo and its length in beats while it follows the
        master tempo; ``loop_bpm`` 0 = not following (plays at its own speed).
    pitch : ndarray, shape (slot_count,), float32
        Transposition in semitones (fractions are cents).
    mode, render : ndarray, shape (slot_count,), uint32
        ``lr_slot_mode`` (0 stretch, 1 varispeed) and ``lr_render_state``
        (0 none, 1 pending, 2 ready); see :meth:`mode_name`,
        :meth:`render_name`.
    channels, source_rate, source_frames, load_count : ndarray, shape (slot_count,)
        From ``lr_slot_info``: the loaded file's channel count, sample rate and
        frame count; number of buffers installed so far.
    names : list of str
        File names of the loaded slots (``""`` for empty slots).
    master_peak, master_rms : ndarray, shape (2,), float32
        Master L/R, linear.
    callback_load, callback_load_max : float
        Callback time / period time, last period and maximum since start.
    xruns, frame_time, period, nframes, seq : int
        Engine xrun count, JACK frame time at the start of the described
        period, that period's number (heartbeat), its length in frames, and
        the meter sequence number.
    tempo_bpm, beat : float
        Master tempo, and the master beat position at ``frame_time``
        (0 = first beat).
    beats_per_bar, renders_pending : int
        Master meter; slots waiting for a steady-state render.
    live : bool
        True for a live view of the segment (``Rig.meter_view()``).

    Notes
    -----
    Without NumPy the array attributes are (nested) lists and ``live`` views
    are not available.
    """

    def __init__(
        self,
        buf: Any,
        slot_meters_offset: int,
        slot_infos_offset: int,
        slot_count: int,
        live: bool = False,
        owner: Any = None,
        ptr: Any = None,
    ) -> None:
        self._buf = buf  # keeps the private copy (or the segment buffer) alive
        self._owner = owner  # keeps the Rig alive while a live view exists
        self.live = live
        self.slot_count = int(slot_count)
        if ptr is None:
            ptr = ffi.from_buffer(buf)
        base = ffi.cast("char *", ptr)
        self._base = base
        self._hdr = ffi.cast("lr_meter_header *", base)
        self._infos = ffi.cast("lr_slot_info *", base + slot_infos_offset)
        self._sm_off = slot_meters_offset
        self._si_off = slot_infos_offset
        n = self.slot_count
        if _np is not None:
            wr = not live
            for name in SLOT_METER_FIELDS:
                setattr(self, name, _array_view(buf, slot_meters_offset, "lr_slot_meter", name, n, wr))
            for name in SLOT_INFO_FIELDS:
                setattr(self, name, _array_view(buf, slot_infos_offset, "lr_slot_info", name, n, wr))
            self.master_peak = _header_view(buf, "master_peak", wr)
            self.master_rms = _header_view(buf, "master_rms", wr)
        else:
            if live:
                raise RuntimeError("looprig: live meter views need NumPy")
            sm = ffi.cast("lr_slot_meter *", base + slot_meters_offset)
            for name in SLOT_METER_FIELDS:
                vals: List[Any] = []
                for i in range(n):
                    v = getattr(sm[i], name)
                    vals.append(list(v) if isinstance(v, ffi.CData) else v)
                setattr(self, name, vals)
            for name in SLOT_INFO_FIELDS:
                setattr(self, name, [getattr(self._infos[i], name) for i in range(n)])
            self.master_peak = list(self._hdr.master_peak)
            self.master_rms = list(self._hdr.master_rms)

    # -- scalars of lr_meter_header (read through cffi: live for live views) --
    @property
    def seq(self) -> int:
        return int(self._hdr.seq)

    @property
    def nframes(self) -> int:
        return int(self._hdr.nframes)

    @property
    def period(self) -> int:
        return int(self._hdr.period)

    @property
    def frame_time(self) -> int:
        return int(self._hdr.frame_time)

    @property
    def callback_load(self) -> float:
        return float(self._hdr.callback_load)

    @property
    def callback_load_max(self) -> float:
        return float(self._hdr.callback_load_max)

    @property
    def xruns(self) -> int:
        return int(self._hdr.xruns)

    @property
    def tempo_bpm(self) -> float:
        return float(self._hdr.tempo_bpm)

    @property
    def beat(self) -> float:
        return float(self._hdr.beat)

    @property
    def beats_per_bar(self) -> int:
        return int(self._hdr.beats_per_bar)

    @property
    def renders_pending(self) -> int:
        return int(self._hdr.renders_pending)

    @property
    def transport(self) -> str:
        """JACK transport mode in force: "off", "follow" or "master"."""
        return {0: "off", 1: "follow", 2: "master"}.get(int(self._hdr.transport_mode), "?")

    @property
    def transport_rolling(self) -> bool:
        """True while the JACK transport rolls (in follow or master mode)."""
        return bool(self._hdr.transport_rolling)

    @property
    def names(self) -> List[str]:
        """File names of the slots (``""`` when empty)."""
        return [
            ffi.string(self._infos[i].name).decode("utf-8", "replace") for i in range(self.slot_count)
        ]

    # -- convenience --------------------------------------------------------
    def _flag(self, flag: str) -> Sequence[bool]:
        bit = SLOT_FLAGS[flag]
        if _np is not None:
            return (self.flags & bit) != 0  # type: ignore[operator]
        return [bool(f & bit) for f in self.flags]  # type: ignore[attr-defined]

    @property
    def muted(self) -> Sequence[bool]:
        """Per-slot mute flag (bool array)."""
        return self._flag("muted")

    @property
    def soloed(self) -> Sequence[bool]:
        """Per-slot solo flag (bool array)."""
        return self._flag("soloed")

    @property
    def audible(self) -> Sequence[bool]:
        """Per-slot: not muted and not silenced by another slot's solo."""
        return self._flag("audible")

    def state_name(self, slot: int) -> str:
        """``"empty"``, ``"stopped"`` or ``"playing"`` for ``slot``."""
        return SLOT_STATE_NAMES.get(int(self.state[slot]), "unknown(%d)" % int(self.state[slot]))  # type: ignore[index]

    def mode_name(self, slot: int) -> str:
        """``"stretch"`` or ``"varispeed"`` for ``slot``."""
        v = int(self.mode[slot])  # type: ignore[index]
        return MODE_NAMES.get(v, "unknown(%d)" % v)

    def render_name(self, slot: int) -> str:
        """``"none"``, ``"pending"`` or ``"ready"`` for ``slot``."""
        v = int(self.render[slot])  # type: ignore[index]
        return RENDER_STATE_NAMES.get(v, "unknown(%d)" % v)

    def slot_dict(self, slot: int) -> Dict[str, Any]:
        """Return one slot's meters and state as a JSON-serialisable dict."""
        i = slot
        flags = int(self.flags[i])  # type: ignore[index]
        peak = [float(v) for v in self.peak[i]]  # type: ignore[index]
        rms = [float(v) for v in self.rms[i]]  # type: ignore[index]
        return {
            "slot": i,
            "state": self.state_name(i),
            "name": ffi.string(self._infos[i].name).decode("utf-8", "replace"),
            "length": int(self.length[i]),  # type: ignore[index]
            "playhead": int(self.playhead[i]),  # type: ignore[index]
            "start_frame": int(self.start_frame[i]),  # type: ignore[index]
            "gain_db": _json_float(self.gain_db[i]),  # type: ignore[index]
            "pan": _json_float(self.pan[i]),  # type: ignore[index]
            "loop_bpm": _json_float(self.loop_bpm[i]),  # type: ignore[index]
            "loop_beats": _json_float(self.loop_beats[i]),  # type: ignore[index]
            "pitch": _json_float(self.pitch[i]),  # type: ignore[index]
            "mode": self.mode_name(i),
            "render": self.render_name(i),
            "muted": bool(flags & SLOT_FLAGS["muted"]),
            "soloed": bool(flags & SLOT_FLAGS["soloed"]),
            "audible": bool(flags & SLOT_FLAGS["audible"]),
            "start_pending": bool(flags & SLOT_FLAGS["start_pending"]),
            "stop_pending": bool(flags & SLOT_FLAGS["stop_pending"]),
            "flags": flags,
            "peak": [_json_float(v) for v in peak],
            "rms": [_json_float(v) for v in rms],
            "peak_dbfs": [_dbfs_json(v) for v in peak],
            "rms_dbfs": [_dbfs_json(v) for v in rms],
            "channels": int(self.channels[i]),  # type: ignore[index]
            "source_rate": int(self.source_rate[i]),  # type: ignore[index]
            "source_frames": int(self.source_frames[i]),  # type: ignore[index]
            "load_count": int(self.load_count[i]),  # type: ignore[index]
        }

    def to_dict(self, all_slots: bool = True) -> Dict[str, Any]:
        """Return the whole snapshot as a JSON-serialisable dict.

        Parameters
        ----------
        all_slots : bool
            Include empty slots too (default); else only loaded ones.

        Returns
        -------
        dict
            Plain Python ints/floats/lists; silence in dBFS is ``None``
            (JSON has no infinity).
        """
        mp = [float(v) for v in self.master_peak]  # type: ignore[attr-defined]
        mr = [float(v) for v in self.master_rms]  # type: ignore[attr-defined]
        slots = [
            self.slot_dict(i)
            for i in range(self.slot_count)
            if all_slots or int(self.length[i]) != 0 or int(self.state[i]) != 0  # type: ignore[index]
        ]
        return {
            "seq": self.seq,
            "period": self.period,
            "frame_time": self.frame_time,
            "nframes": self.nframes,
            "callback_load": _json_float(self.callback_load),
            "callback_load_max": _json_float(self.callback_load_max),
            "xruns": self.xruns,
            "slot_count": self.slot_count,
            "tempo_bpm": _json_float(self.tempo_bpm),
            "beat": _json_float(self.beat),
            "beats_per_bar": self.beats_per_bar,
            "renders_pending": self.renders_pending,
            "transport": self.transport,
            "transport_rolling": self.transport_rolling,
            "master": {
                "peak": [_json_float(v) for v in mp],
                "rms": [_json_float(v) for v in mr],
                "peak_dbfs": [_dbfs_json(v) for v in mp],
                "rms_dbfs": [_dbfs_json(v) for v in mr],
            },
            "slots": slots,
        }

    def __repr__(self) -> str:
        kind = "live" if self.live else "snapshot"
        return "<looprig.Meters %s period=%d frame_time=%d slots=%d>" % (
            kind,
            self.period,
            self.frame_time,
            self.slot_count,
        )


def _json_float(v: Any) -> Optional[float]:
    f = float(v)
    return f if math.isfinite(f) else None


def _dbfs_json(v: Any) -> Optional[float]:
    db = to_dbfs(v)
    return round(db, 2) if math.isfinite(db) else None
