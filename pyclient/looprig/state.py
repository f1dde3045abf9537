"""Reading the engine's state from the segment: meter snapshots, live meter
views, param values in force, engine facts and the status dict.

Nothing here sends a command. :class:`StateReader` copies the meter area
consistently (``lr_client_read_meters``, retried while the engine is
mid-update) and reads the header; the formatting of what it reads for people
is :mod:`looprig.display`'s.
"""

from __future__ import annotations

import time
from typing import Any, Dict, Optional, Union

from . import meters as _meters
from . import params as _params
from ._ffi import ffi
from ._names import SESSION_STATE_NAMES
from .connection import Connection
from .errors import LooprigError
from .meters import Meters
from .params import Param

__all__ = ["StateReader", "session_info"]

#: Seconds meters() keeps retrying while the engine is mid-update.
_METER_RETRY_SECONDS = 1.0


def session_info(h: Any) -> Dict[str, Any]:
    """``{"state": "none"|"clean"|"dirty", "saves": N}`` from ``lr_header.session_state`` /
    ``session_saves`` (an unknown state reads ``"unknown(N)"``)."""
    state = int(h.session_state)
    return {"state": SESSION_STATE_NAMES.get(state, "unknown(%d)" % state), "saves": int(h.session_saves)}


class StateReader:
    """The readable state of one attached engine.

    Parameters
    ----------
    conn : Connection
        The attachment (its lock serialises the reads with everything else).
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def snapshot(self) -> bytearray:
        """A consistent copy of the whole meter area.

        Raises
        ------
        EngineNotRunning
            The engine process is gone (its meters would be stale).
        LooprigError
            No consistent copy within a second (engine stuck mid-update).
        """
        conn = self.conn
        buf = bytearray(conn.meter_size)
        # lr_client_read_meters spins a bounded number of times; if the engine
        # was preempted mid-update (busy machine, no realtime scheduling), give
        # it time to finish rather than failing at once.
        deadline = time.monotonic() + _METER_RETRY_SECONDS
        sleep = 0.0005
        while True:
            with conn.lock:
                conn.check()
                conn.check_engine(None)
                rc = conn.read_meters(buf)
            if rc == 0:
                return buf
            if time.monotonic() >= deadline:
                with conn.lock:
                    note = conn.stall_note()
                raise LooprigError("looprig: could not read a consistent meter snapshot (%s)" % note)
            time.sleep(sleep)
            sleep = min(sleep * 2, 0.01)

    def meters(self) -> Meters:
        """A :class:`Meters` over a fresh :meth:`snapshot`."""
        c = self.conn
        return Meters(self.snapshot(), c.slot_meters_offset, c.slot_infos_offset, c.slot_count,
                      mix_meter_offset=c.mix_meter_offset, slot_params_offset=c.slot_params_offset)

    def meter_view(self, owner: Any) -> Meters:
        """Live, zero-copy views of the meter area in the segment (kept valid by ``owner``)."""
        c = self.conn
        c.check()
        if _meters._np is None:
            raise LooprigError("looprig: meter_view() needs NumPy; use meters()")
        ptr = ffi.cast("char *", c.base) + c.meters_offset
        buf = ffi.buffer(ptr, c.meter_size)
        return Meters(buf, c.slot_meters_offset, c.slot_infos_offset, c.slot_count, live=True, owner=owner,
                      ptr=ptr, mix_meter_offset=c.mix_meter_offset, slot_params_offset=c.slot_params_offset)

    def meter_header(self) -> Any:
        """A consistent copy of ``lr_meter_header`` (cffi struct)."""
        buf = self.snapshot()
        hdr = ffi.new("lr_meter_header *")
        ffi.memmove(hdr, ffi.from_buffer(buf), ffi.sizeof("lr_meter_header"))
        return hdr

    def param_value(self, name_or_id: Union[str, int, Param], slot: Optional[int] = None,
                    group: Optional[int] = None) -> float:
        """The value in force of a param, read from the segment (see :meth:`Rig.param_value`)."""
        p = _params.lookup(name_or_id)
        slot, group = _params.check_target(p, slot, group)
        c = self.conn
        c.check()
        base = ffi.cast("char *", c.base) + c.meters_offset
        mix = ffi.cast("lr_mix_meter *", base + c.mix_meter_offset)
        if not any(float(v) != 0.0 for v in mix.global_params):
            raise LooprigError("looprig: engine %r publishes no param values (does it have the mixer?)" % c.name)
        if p.target == "slot":
            assert slot is not None
            if not 0 <= slot < c.slot_count:
                raise ValueError("slot %d out of range (0..%d)" % (slot, c.slot_count - 1))
            sp = ffi.cast("lr_slot_params *", base + c.slot_params_offset)
            return float(sp[slot].value[p.index])
        if p.target == "group":
            assert group is not None
            if not 0 <= group < _params.GROUPS:
                raise ValueError("group %d out of range (0..%d)" % (group, _params.GROUPS - 1))
            return float(mix.group_params[group][p.index])
        return float(mix.global_params[p.index])

    def engine_info(self) -> Dict[str, Any]:
        """Engine facts from the segment header, as a JSON-serialisable dict."""
        c = self.conn
        c.check()
        h = c.hdr
        rate = int(h.sample_rate)
        return {
            "name": c.name,
            "segment": c.segment_name,
            "pid": int(h.engine_pid),
            "alive": c.alive,
            "state": c.engine_state,
            "abi_version": int(h.abi_version),
            "jack_client_name": ffi.string(h.jack_client_name).decode("utf-8", "replace"),
            "jack_server_name": ffi.string(h.jack_server_name).decode("utf-8", "replace"),
            "sample_rate": rate,
            "buffer_size": int(h.buffer_size),
            "slot_count": int(h.slot_count),
            "max_clients": int(h.max_clients),
            "client_index": c.client_index,
            "declick_frames": int(h.declick_frames),
            "declick_ms": (1000.0 * int(h.declick_frames) / rate) if rate else None,
            "smooth_frames": int(h.smooth_frames),
            "smooth_ms": (1000.0 * int(h.smooth_frames) / rate) if rate else None,
            "frame_time": int(h.frame_time),
            "heartbeat": int(h.heartbeat),
            "heartbeat_age": c.heartbeat_age,
            "rt_violations": int(h.rt_violations),
            "segment_size": int(h.segment_size),
            "session": session_info(h),
        }

    def status(self, all_slots: bool = True) -> Dict[str, Any]:
        """Engine info, meters, mixer and slots (see :meth:`Rig.status`)."""
        info = self.engine_info()
        m = self.meters().to_dict(all_slots=all_slots)
        slots = m.pop("slots")
        mixer = m.pop("mixer")
        return {"engine": info, "meters": m, "mixer": mixer, "slots": slots}
