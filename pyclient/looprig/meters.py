"""Meter snapshots and live meter views.

The engine publishes, every period, a *meter area*::

    [lr_meter_header][lr_slot_meter x slot_count][lr_slot_info x slot_count]
    [lr_mix_meter][lr_slot_params x slot_count]

(the mix meter holds the group, send and return bus meters and the values in
force of the group and global params; ``lr_slot_params`` the values of each
slot's params).

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
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Union

from ._ffi import ffi, get_lib
from ._names import MODE_NAMES, RENDER_STATE_NAMES, SLOT_FLAGS, SLOT_STATE_NAMES, TRANSPORT_MODE_NAMES
from . import params as _params

try:  # NumPy is the normal path; plain lists without it.
    import numpy as _np
except ImportError:  # pragma: no cover - exercised by monkeypatching in tests
    _np = None  # type: ignore[assignment]

__all__ = [
    "Meters",
    "BusMeters",
    "Loudness",
    "to_dbfs",
    "dbfs",
    "SILENCE_DBFS",
    "area_layout",
    "SLOT_METER_FIELDS",
    "SLOT_INFO_FIELDS",
    "BUS_FIELDS",
]

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
    "peak_hold",
    "group",
)
#: Per-slot array attributes taken from ``lr_slot_info``.
SLOT_INFO_FIELDS = ("channels", "source_rate", "source_frames", "load_count")
#: Array attributes of each :class:`BusMeters` (from ``lr_bus_meter``).
BUS_FIELDS = ("peak", "rms", "peak_hold")

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


#: Levels at or below this many dBFS are silence: :func:`to_dbfs` and
#: :func:`dbfs` give ``-inf`` for them, ``status``/``meters --json`` ``null``
#: and the CLI ``-inf`` (the residue of a decayed filter or a muted ramp,
#: e.g. 1e-15 = -300 dBFS, means nothing). The same -120 dB as a level that
#: is "off" (:data:`looprig.params.OFF_DB`).
SILENCE_DBFS: float = _params.OFF_DB


def to_dbfs(x: float, floor: Optional[float] = None) -> float:
    """Convert a linear amplitude to dBFS.

    Parameters
    ----------
    x : float
        Linear amplitude (1.0 = full scale).
    floor : float, optional
        Returned instead of ``-inf`` for silence and as a lower bound.

    Returns
    -------
    float
        ``20 * log10(x)``; ``-inf`` (or ``floor``) for silence: ``x`` at or
        below :data:`SILENCE_DBFS` (-120 dBFS), zero, negative or NaN.
    """
    x = float(x)
    if x > 0.0 and math.isfinite(x):
        db = 20.0 * math.log10(x)
        if db <= SILENCE_DBFS:
            return -math.inf if floor is None else floor
        return db if floor is None else max(db, floor)
    if x > 0.0:  # inf
        return x
    return -math.inf if floor is None else floor


def dbfs(x: Any, floor: Optional[float] = None) -> Any:
    """Convert linear amplitudes to dBFS, element-wise.

    Parameters
    ----------
    x : float, sequence or ndarray
        Linear amplitudes (1.0 = full scale).
    floor : float, optional
        Lower bound; also returned for silence instead of ``-inf``.

    Returns
    -------
    float, list or ndarray
        Same shape as ``x`` (an ndarray of float64 for array input with
        NumPy, nested lists without it); silence (at or below
        :data:`SILENCE_DBFS`) is ``-inf``, as for :func:`to_dbfs`.
    """
    if isinstance(x, (int, float)) or (_np is not None and _np.isscalar(x)):
        return to_dbfs(float(x), floor)
    if _np is not None:
        a = _np.asarray(x, dtype=_np.float64)
        with _np.errstate(divide="ignore", invalid="ignore"):
            db = 20.0 * _np.log10(_np.where(a > 0.0, a, 0.0))
        db = _np.where((a > 0.0) & (db > SILENCE_DBFS), db, -_np.inf)
        if floor is not None:
            db = _np.maximum(db, floor)
        return db
    return [dbfs(v, floor) for v in x]



def area_layout(slot_count: int) -> Dict[str, int]:
    """Offsets of the meter area's parts, relative to its start, for ``slot_count`` slots.

    The engine writes the real offsets into ``lr_header`` (the
    :class:`~looprig.Rig` uses those); this is the same rule (each part starts
    on a multiple of 64 bytes), for synthetic buffers in tests and tools.

    Returns
    -------
    dict
        ``slot_meters``, ``slot_infos``, ``mix_meter``, ``slot_params`` offsets
        and ``size`` (bytes of the whole area).
    """
    out = ffi.new("lr_meter_area_layout *")
    if get_lib().lr_meter_area_layout_of(int(slot_count), out) != 0:
        raise ValueError("slot_count must be 0..%d, got %r" % (get_lib().LR_MAX_SLOTS, slot_count))
    return {"slot_meters": out.slot_meters, "slot_infos": out.slot_infos, "mix_meter": out.mix_meter,
            "slot_params": out.slot_params, "size": out.size}


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


def _nested_view(buf: Any, offset: int, ctype: Any, writeable: bool) -> Any:
    """NumPy view of a (nested) C array type at ``offset``: ``float[8][4]`` -> shape (8, 4)."""
    shape = []
    t = ctype
    while t.kind == "array":
        shape.append(t.length)
        t = t.item
    dtype = _np.dtype(_DTYPES[t.cname])
    arr = _np.ndarray(shape=tuple(shape), dtype=dtype, buffer=buf, offset=offset)
    if not writeable:
        arr.flags.writeable = False
    return arr


def _nested_list(cdata: Any) -> Any:
    if isinstance(cdata, ffi.CData) and ffi.typeof(cdata).kind == "array":
        return [_nested_list(v) for v in cdata]
    return cdata


def _header_view(buf: Any, name: str, writeable: bool) -> Any:
    f = _field("lr_meter_header", name)
    t = f.type
    dtype = _np.dtype(_DTYPES[t.item.cname])
    arr = _np.ndarray(shape=(t.length,), dtype=dtype, buffer=buf, offset=f.offset)
    if not writeable:
        arr.flags.writeable = False
    return arr


class Loudness(NamedTuple):
    """EBU R128 loudness of the master in LUFS.

    Each value is ``None`` while the loudness meter has not measured anything
    yet (``loudness_periods`` 0) and ``-inf`` for silence (integrated: nothing
    above the gates yet).
    """

    momentary: Optional[float]
    short_term: Optional[float]
    integrated: Optional[float]


class BusMeters:
    """Meters of a set of buses (the groups, the sends or the effect returns).

    Attributes
    ----------
    kind : str
        ``"groups"``, ``"sends"`` or ``"returns"``.
    count : int
        Number of buses (rows).
    peak, rms, peak_hold : ndarray, shape (count, 2), float32
        Linear L/R after the bus's own gain: peak of the last period, RMS
        (300 ms window), largest peak of the last 2 s. Lists without NumPy.
    """

    def __init__(self, kind: str, buf: Any, offset: int, count: int, writeable: bool, cdata: Any) -> None:
        self.kind = kind
        self.count = int(count)
        for name in BUS_FIELDS:
            if _np is not None:
                setattr(self, name, _array_view(buf, offset, "lr_bus_meter", name, self.count, writeable))
            else:
                setattr(self, name, [list(getattr(cdata[i], name)) for i in range(self.count)])

    def __len__(self) -> int:
        return self.count

    def peak_dbfs(self) -> Any:
        """``peak`` in dBFS (``-inf`` = silence)."""
        return dbfs(self.peak)  # type: ignore[attr-defined]

    def rms_dbfs(self) -> Any:
        """``rms`` in dBFS."""
        return dbfs(self.rms)  # type: ignore[attr-defined]

    def peak_hold_dbfs(self) -> Any:
        """``peak_hold`` in dBFS."""
        return dbfs(self.peak_hold)  # type: ignore[attr-defined]

    def to_list(self) -> List[Dict[str, Any]]:
        """One JSON-serialisable dict per bus (``dbfs`` values ``None`` for silence)."""
        out = []
        for i in range(self.count):
            d: Dict[str, Any] = {"index": i}
            for name in BUS_FIELDS:
                vals = [float(v) for v in getattr(self, name)[i]]
                d[name] = [_json_float(v) for v in vals]
                d[name + "_dbfs"] = [_dbfs_json(v) for v in vals]
            out.append(d)
        return out

    def __repr__(self) -> str:
        return "<looprig.BusMeters %s x%d>" % (self.kind, self.count)


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
    peak_hold : ndarray, shape (slot_count, 2), float32
        Linear: largest peak of the last 2 s (the hold time) per slot.
    group : ndarray, shape (slot_count,), int32
        The group bus each slot feeds, -1 = straight to the master.
    master_peak_hold : ndarray, shape (2,), float32
        Master L/R peak hold (2 s), linear.
    loudness : Loudness
        EBU R128 loudness of the master: ``momentary`` (400 ms),
        ``short_term`` (3 s), ``integrated`` (gated, since start or
        :meth:`~looprig.Rig.meter_reset`), in LUFS; ``None`` until measured,
        ``-inf`` for silence. Also ``lufs_momentary``, ``lufs_short_term``,
        ``lufs_integrated`` (raw floats) and ``loudness_periods``.
    groups, sends, returns : BusMeters
        Bus meters (``peak``, ``rms``, ``peak_hold``, each shape (n, 2)) of
        the 8 group buses, the 2 send buses (what feeds the delay and the
        reverb) and the 2 effect returns (after their return level).
    slot_params : ndarray, shape (slot_count, LR_SLOT_PARAMS), float32
        Values in force of each slot's params, ``slot_params[slot, id]``.
    group_params : ndarray, shape (LR_GROUPS, LR_GROUP_PARAMS), float32
        ``group_params[g, id - LR_P_GROUP_BASE]``.
    global_params : ndarray, shape (LR_GLOBAL_PARAMS,), float32
        ``global_params[id - LR_P_GLOBAL_BASE]``.
    delay_frames : int
        The delay time in force, in frames.
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
        mix_meter_offset: Optional[int] = None,
        slot_params_offset: Optional[int] = None,
    ) -> None:
        self._buf = buf  # keeps the private copy (or the segment buffer) alive
        self._owner = owner  # keeps the Rig alive while a live view exists
        self.live = live
        self.slot_count = int(slot_count)
        layout = area_layout(self.slot_count)
        if mix_meter_offset is None:
            mix_meter_offset = layout["mix_meter"]
        if slot_params_offset is None:
            slot_params_offset = layout["slot_params"]
        need = slot_params_offset + self.slot_count * ffi.sizeof("lr_slot_params")
        if len(buf) < need:
            raise ValueError("looprig: meter buffer of %d bytes is too small for %d slots (%d bytes needed)"
                             % (len(buf), self.slot_count, need))
        if ptr is None:
            ptr = ffi.from_buffer(buf)
        base = ffi.cast("char *", ptr)
        self._base = base
        self._hdr = ffi.cast("lr_meter_header *", base)
        self._infos = ffi.cast("lr_slot_info *", base + slot_infos_offset)
        self._mix = ffi.cast("lr_mix_meter *", base + mix_meter_offset)
        self._sm_off = slot_meters_offset
        self._si_off = slot_infos_offset
        self._mix_off = mix_meter_offset
        self._sp_off = slot_params_offset
        n = self.slot_count
        mix_fields = dict(ffi.typeof("lr_mix_meter").fields)
        if _np is not None:
            wr = not live
            for name in SLOT_METER_FIELDS:
                setattr(self, name, _array_view(buf, slot_meters_offset, "lr_slot_meter", name, n, wr))
            for name in SLOT_INFO_FIELDS:
                setattr(self, name, _array_view(buf, slot_infos_offset, "lr_slot_info", name, n, wr))
            self.master_peak = _header_view(buf, "master_peak", wr)
            self.master_rms = _header_view(buf, "master_rms", wr)
            self.master_peak_hold = _header_view(buf, "master_peak_hold", wr)
            self.slot_params = _array_view(buf, slot_params_offset, "lr_slot_params", "value", n, wr)
            for name in ("group_params", "global_params"):
                f = mix_fields[name]
                setattr(self, name, _nested_view(buf, mix_meter_offset + f.offset, f.type, wr))
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
            self.master_peak_hold = list(self._hdr.master_peak_hold)
            sp = ffi.cast("lr_slot_params *", base + slot_params_offset)
            self.slot_params = [list(sp[i].value) for i in range(n)]
            self.group_params = _nested_list(self._mix.group_params)
            self.global_params = _nested_list(self._mix.global_params)
        wr = not live
        self.groups = BusMeters("groups", buf, mix_meter_offset + mix_fields["groups"].offset,
                                _params.GROUPS, wr, self._mix.groups)
        self.sends = BusMeters("sends", buf, mix_meter_offset + mix_fields["sends"].offset,
                               _params.SENDS, wr, self._mix.sends)
        self.returns = BusMeters("returns", buf, mix_meter_offset + mix_fields["returns"].offset,
                                 _params.SENDS, wr, self._mix.returns)

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
        return TRANSPORT_MODE_NAMES.get(int(self._hdr.transport_mode), "?")

    @property
    def transport_rolling(self) -> bool:
        """True while the JACK transport rolls (in follow or master mode)."""
        return bool(self._hdr.transport_rolling)

    @property
    def lufs_momentary(self) -> float:
        """Momentary loudness (400 ms) of the master in LUFS, raw (see :attr:`loudness`)."""
        return float(self._hdr.lufs_momentary)

    @property
    def lufs_short_term(self) -> float:
        """Short-term loudness (3 s) in LUFS, raw."""
        return float(self._hdr.lufs_short_term)

    @property
    def lufs_integrated(self) -> float:
        """Integrated (gated) loudness in LUFS, raw."""
        return float(self._hdr.lufs_integrated)

    @property
    def loudness_periods(self) -> int:
        """Periods the loudness meter has measured (0: not running yet)."""
        return int(self._hdr.loudness_periods)

    @property
    def loudness(self) -> Loudness:
        """Master loudness in LUFS; ``None`` values until the meter has measured."""
        if self.loudness_periods == 0:
            return Loudness(None, None, None)
        return Loudness(self.lufs_momentary, self.lufs_short_term, self.lufs_integrated)

    @property
    def delay_frames(self) -> int:
        """The delay time in force, in frames."""
        return int(self._mix.delay_frames)

    # -- params ---------------------------------------------------------------
    @property
    def params_published(self) -> bool:
        """True if the engine publishes param values (an engine without the
        mixer leaves the area zeroed; several global defaults are nonzero)."""
        return any(float(v) != 0.0 for v in self.global_params)  # type: ignore[attr-defined]

    def param(self, name_or_id: Union[str, int, "_params.Param"], slot: Optional[int] = None,
              group: Optional[int] = None) -> float:
        """Value in force of a param in this snapshot.

        Parameters
        ----------
        name_or_id : str, int or Param
            ``"hp-freq"``, an ``lr_param`` id, ...
        slot : int, optional
            The slot, for slot params.
        group : int, optional
            The group bus 0..7, for group params.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            Unknown param, missing/extra slot or group, or one out of range.
        """
        p = _params.lookup(name_or_id)
        slot, group = _params.check_target(p, slot, group)
        if p.target == "slot":
            if not 0 <= slot < self.slot_count:  # type: ignore[operator]
                raise ValueError("slot %d out of range (0..%d)" % (slot, self.slot_count - 1))
            return float(self.slot_params[slot][p.index])  # type: ignore[index]
        if p.target == "group":
            if not 0 <= group < _params.GROUPS:  # type: ignore[operator]
                raise ValueError("group %d out of range (0..%d)" % (group, _params.GROUPS - 1))
            return float(self.group_params[group][p.index])  # type: ignore[index]
        return float(self.global_params[p.index])  # type: ignore[index]

    def slot_settings(self, slot: int, all: bool = False, mixer_only: bool = False) -> Dict[str, float]:
        """Slot params of ``slot`` that differ from their defaults (``all``: every one).

        Every per-slot setting is a param (filters, EQ, sends, group, and the
        level and timing settings gain .. loop-beats); ``mixer_only`` leaves
        out the latter (they have their own keys in :meth:`slot_dict`).

        Returns
        -------
        dict
            ``{"hp-freq": 120.0, ...}`` in table order; empty when the engine
            does not publish param values.
        """
        if not self.params_published:
            return {}
        row = self.slot_params[slot]  # type: ignore[index]
        return {p.name: float(row[p.index]) for p in _params.param_table()
                if p.target == "slot" and (p.is_mixer or not mixer_only)
                and (all or not _params.is_default(p, row[p.index]))}

    def group_settings(self, group: int, all: bool = True) -> Dict[str, float]:
        """Group params of bus ``group`` (``all=False``: only those differing from defaults)."""
        if not self.params_published:
            return {}
        row = self.group_params[group]  # type: ignore[index]
        return {p.name: float(row[p.index]) for p in _params.param_table()
                if p.target == "group" and (all or not _params.is_default(p, row[p.index]))}

    def global_settings(self, all: bool = True) -> Dict[str, float]:
        """Global params (effects, master) (``all=False``: only those differing from defaults)."""
        if not self.params_published:
            return {}
        row = self.global_params
        return {p.name: float(row[p.index]) for p in _params.param_table()  # type: ignore[index]
                if p.target == "global" and (all or not _params.is_default(p, row[p.index]))}  # type: ignore[index]

    @property
    def names(self) -> List[str]:
        """File names of the slots (``""`` when empty)."""
        return [
            ffi.string(self._infos[i].name).decode("utf-8", "replace") for i in range(self.slot_count)
        ]

    @property
    def paths(self) -> List[str]:
        """Absolute paths the slots' files were loaded from, as given to the load (``""`` when empty)."""
        return [
            ffi.string(self._infos[i].path).decode("utf-8", "replace") for i in range(self.slot_count)
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
        hold = [float(v) for v in self.peak_hold[i]]  # type: ignore[index]
        group = int(self.group[i])  # type: ignore[index]
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
            "peak_hold": [_json_float(v) for v in hold],
            "peak_hold_dbfs": [_dbfs_json(v) for v in hold],
            "group": group if group >= 0 else None,
            "mixer": {k: _json_float(v) for k, v in self.slot_settings(i, mixer_only=True).items()},
            # Everything a session restores besides the file: every slot param, defaults too.
            "settings": {k: _json_float(v) for k, v in self.slot_settings(i, all=True).items()},
            "path": ffi.string(self._infos[i].path).decode("utf-8", "replace"),
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
        mh = [float(v) for v in self.master_peak_hold]  # type: ignore[attr-defined]
        loud = self.loudness
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
                "peak_hold": [_json_float(v) for v in mh],
                "peak_hold_dbfs": [_dbfs_json(v) for v in mh],
            },
            "loudness": {
                "momentary": _lufs_json(loud.momentary),
                "short_term": _lufs_json(loud.short_term),
                "integrated": _lufs_json(loud.integrated),
                "periods": self.loudness_periods,
            },
            "buses": {
                "groups": self.groups.to_list(),
                "sends": self.sends.to_list(),
                "returns": self.returns.to_list(),
            },
            "mixer": {
                "published": self.params_published,
                "global": {k: _json_float(v) for k, v in self.global_settings().items()},
                "groups": [{k: _json_float(v) for k, v in self.group_settings(g).items()}
                           for g in range(len(self.groups))],
                "delay_frames": self.delay_frames,
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


def _lufs_json(v: Optional[float]) -> Optional[float]:
    return round(v, 2) if v is not None and math.isfinite(v) else None


def _dbfs_json(v: Any) -> Optional[float]:
    db = to_dbfs(v)
    return round(db, 2) if math.isfinite(db) else None
