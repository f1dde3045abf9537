"""A Rig attached to nothing: :class:`Wire` stands in for the
:class:`looprig.connection.Connection` (the only part of a Rig that calls
``lr_client_*``). It records the bytes of every command pushed and answers each
with an ACK (frame = ``at_frame``, or ``FRAME_TIME + PERIOD`` without AT), or
an ERROR for the commands listed in ``reject``; a bytearray laid out like the
engine's meter area stands in for the segment.
"""

from __future__ import annotations

import collections
import os
import threading

import looprig
from looprig._ffi import ffi, get_lib
from looprig.meters import area_layout

FRAME_TIME = 1_000_000
PERIOD = 256


class Wire:
    """The stand-in connection (see the module docstring).

    Attributes
    ----------
    cmds : list of bytes
        The raw ``lr_command`` of every command pushed, in order.
    reject : dict
        Index of a command (in ``cmds``) -> the engine's message (``LR_E_BAD_VALUE``), or
        ``(code name, message)``: answered with an ERROR.
    acks : dict
        Index of a command -> what its ACK carries besides the defaults: ``value``
        (two floats), ``message``, ``frame``.
    order : list of str
        ``"push i"`` when command i enters the ring, ``"answer i"`` when its
        answer is read: every push of a call before its first answer.
    full : bool
        True: the command ring is full (sends fail with ``LR_SEND_FULL``).
    alive : bool
        False: the engine is gone (``engine_problem`` says so).
    batches : list of int
        The size of each batch sent (``send_batch``).
    """

    def __init__(self, slot_count=4, meter_area=None):
        self.name = "fake"
        self.segment_name = "/looprig-fake"
        self.stall_seconds = 2.0
        self.lock = threading.RLock()
        self.lib = get_lib()
        self.client = ffi.NULL
        self.attach_state = {"attached": True, "pid": os.getpid()}
        hdr = ffi.new("lr_header *")
        hdr.frame_time = FRAME_TIME
        hdr.buffer_size = PERIOD
        hdr.slot_count = slot_count
        hdr.sample_rate = 48000
        self.hdr = hdr
        lay = area_layout(slot_count)
        if meter_area is None:
            meter_area = bytearray(lay["size"])
        self.area = meter_area
        self.base = ffi.from_buffer(meter_area)
        self.meters_offset = 0
        self.meter_size = lay["size"]
        self.slot_meters_offset, self.slot_infos_offset = lay["slot_meters"], lay["slot_infos"]
        self.mix_meter_offset, self.slot_params_offset = lay["mix_meter"], lay["slot_params"]
        self.slot_count = slot_count
        self.cmds = []
        self.reject = {}
        self.acks = {}
        self.order = []
        self.full = False
        self.alive = True
        self.batches = []  # the size of each batch sent
        self._events = collections.deque()

    # -- what a Connection does -------------------------------------------------
    @property
    def closed(self):
        return not self.attach_state["attached"]

    def close(self):
        self.attach_state["attached"] = False

    def check(self):
        if self.closed:
            raise looprig.LooprigError("looprig: this Rig is closed")
        return self.client

    def send(self, cmd):
        if self.full:
            return get_lib().LR_SEND_FULL
        return self._record(cmd[0])

    def send_batch(self, arr, n):
        if self.full:
            return get_lib().LR_SEND_FULL
        self.batches.append(n)
        for i in range(n):
            arr[i].id = self._record(arr[i])
        return n

    def _record(self, c):
        lib = get_lib()
        raw = bytes(ffi.buffer(ffi.addressof(c), ffi.sizeof("lr_command")))
        i = len(self.cmds)
        self.cmds.append(raw)
        self.order.append("push %d" % i)
        cid = 100 + i
        at = int(c.at_frame) if c.flags & lib.LR_CMD_F_AT else FRAME_TIME + PERIOD
        if i in self.reject:
            code, message = self.reject[i] if isinstance(self.reject[i], tuple) else ("LR_E_BAD_VALUE",
                                                                                      self.reject[i])
            self._events.append((i, cid, lib.LR_EVT_ERROR, int(c.type), int(c.slot), getattr(lib, code), 0,
                                 message, (0.0, 0.0)))
        else:
            ack = self.acks.get(i, {})
            self._events.append((i, cid, lib.LR_EVT_ACK, int(c.type), int(c.slot), 0, ack.get("frame", at),
                                 ack.get("message", ""), ack.get("value", (0.0, 0.0))))
        return cid

    def poll(self, ev):
        if not self._events:
            return False
        i, cid, typ, command, slot, code, frame, message, value = self._events.popleft()
        self.order.append("answer %d" % i)
        ev.id, ev.type, ev.command, ev.slot, ev.code, ev.frame = cid, typ, command, slot, code, frame
        ev.value[0], ev.value[1] = value
        ev.seq = i + 1
        data = message.encode()
        ffi.memmove(ev.message, data + b"\0", len(data) + 1)
        return True

    def read_meters(self, buf):
        buf[:] = self.area[:len(buf)]
        return 0

    @property
    def frame_time(self):
        return int(self.hdr.frame_time)

    @property
    def engine_state(self):
        return "running"

    @property
    def client_index(self):
        return 0

    def heartbeat_age_usecs(self):
        return 0

    @property
    def heartbeat_age(self):
        return 0.0

    def engine_gone(self):
        return looprig.EngineNotRunning("looprig engine 'fake' (pid 0) is not running any more: killed or crashed",
                                        name="fake", pid=0)

    def stall_note(self):
        return "fake engine"

    def engine_problem(self, waited):
        return None if self.alive else self.engine_gone()

    def check_engine(self, waited):
        problem = self.engine_problem(waited)
        if problem is not None:
            raise problem

    # -- for the tests ----------------------------------------------------------
    def decoded(self):
        """The recorded commands as dicts of their fields."""
        out = []
        for raw in self.cmds:
            keep = bytearray(raw)
            c = ffi.cast("lr_command *", ffi.from_buffer(keep))
            out.append({
                "type": int(c.type), "flags": int(c.flags), "slot": int(c.slot), "param": int(c.param),
                "value": float(c.value[0]), "values": (float(c.value[0]), float(c.value[1])),
                "at": int(c.at_frame), "quantize": int(c.quantize), "quantize_arg": int(c.quantize_arg),
                "text": bytes(ffi.buffer(c.text, int(c.text_len))),
            })
        return out

    def clear(self):
        self.cmds.clear()
        self.order.clear()


class FakeRig(looprig.Rig):
    """A Rig over a :class:`Wire`; repr must not call into the C library."""

    def __repr__(self):
        return "<FakeRig>"


def make_rig(wire=None, meter_area=None, slot_count=4):
    """A Rig attached to nothing: its connection is ``wire`` (a new :class:`Wire` by default)."""
    if wire is None:
        wire = Wire(slot_count, meter_area)
    return FakeRig._over(wire, timeout=1.0)
