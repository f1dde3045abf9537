"""The :class:`Rig`: one attachment to a running looprigd.

Every command method sends one ``lr_command`` through this client's command
ring and (by default) waits for its answer event: an ACK returns (with the JACK
frame at which the command takes effect), an ERROR raises
:class:`~looprig.errors.CommandRejected` carrying the engine's own message.
"""

from __future__ import annotations

import collections
import math
import operator
import os
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Mapping, Optional, Sequence, Tuple, Union, overload

from . import meters as _meters
from . import params as _params
from ._ffi import ffi, get_lib
from ._names import (
    ATTACH_ERRORS,
    COMMAND_NAMES,
    COMMANDS,
    ENGINE_STATE_NAMES,
    ENGINE_STATES,
    ERROR_NAMES,
    ERRORS,
    EVENT_TYPE_NAMES,
    EVENT_TYPES,
    MODES,
    TRANSPORT_MODES,
    QUANTIZE,
    SEND_ERRORS,
    SLOT_STATES,
)
from .errors import (
    AttachError,
    CommandRejected,
    Detached,
    EngineNotRunning,
    EngineStalled,
    LooprigError,
    RingFull,
    Timeout,
)
from .meters import Meters
from .params import Param

__all__ = [
    "Rig",
    "attach",
    "Event",
    "LoadResult",
    "parse_quantize",
    "segment_name",
    "default_name",
    "TEXT_MAX",
    "DEFAULT_TIMEOUT",
    "LOAD_TIMEOUT",
    "PARAM_MARGIN_PERIODS",
    "STALL_SECONDS",
    "BATCH_MAX",
]

#: Default seconds to wait for a command's answer.
DEFAULT_TIMEOUT = 5.0
#: Default seconds to wait for a LOAD's answer (the engine answers when loaded).
LOAD_TIMEOUT = 30.0

TEXT_MAX: int = dict(ffi.typeof("lr_command").fields)["text"].type.length
_VALUE_COUNT: int = dict(ffi.typeof("lr_command").fields)["value"].type.length
#: A call that sets several params without ``at=`` schedules them all at
#: ``frame_time + PARAM_MARGIN_PERIODS * buffer_size``, so they change in the
#: same audio frame (1..2 periods from now).
PARAM_MARGIN_PERIODS = 2
#: Most commands in one batch (:meth:`Rig.send_batch`): ``LR_CMD_RING_SIZE``.
BATCH_MAX: int = dict(ffi.typeof("lr_client_slot").fields)["commands"].type.length
_STASH_MAX = 4096
#: Seconds without a heartbeat (the engine runs no period) after which a call
#: that waits on the engine raises :class:`EngineStalled` instead of waiting
#: out its whole timeout (``Rig.stall_seconds`` per Rig). Not applied while
#: the engine waits for its JACK server (engine state ``"jack_lost"``).
STALL_SECONDS = 2.0
#: A wait reports a stall only after it has itself waited this long (an
#: engine that was just continued after SIGSTOP gets time to run a period).
_STALL_GRACE = 0.25
#: Seconds attach(wait=...) retries a segment whose header is not valid yet (an engine starting).
_BAD_SEGMENT_GRACE = 2.0
#: Seconds meters() keeps retrying while the engine is mid-update.
_METER_RETRY_SECONDS = 1.0
_INT32 = (-(2**31), 2**31 - 1)
_NOT_GIVEN: Any = object()  # send(): tells the effect-send form from the general one
_UINT64_MAX = 2**64 - 1

QuantizeSpec = Union[None, str, Tuple[str, int]]
#: One slot, several slots, or ``"all"`` (see :meth:`Rig.play`).
Slots = Union[Sequence[int], str]
#: One command of a batch: ``(command, slot)``, ``(command, slot, value)`` or a
#: mapping of :meth:`Rig.send`'s arguments (``command``, ``slot``, ``value``,
#: ``text``, ``at``, ``quantize``).
BatchItem = Union[Tuple[Any, ...], Mapping[str, Any]]


def default_name() -> str:
    """Engine name used when none is given: ``$LOOPRIG_NAME`` or ``"looprig"``."""
    return os.environ.get("LOOPRIG_NAME") or "looprig"


def segment_name(name: Optional[str] = None) -> str:
    """Shared-memory object name of engine ``name`` for this user.

    Parameters
    ----------
    name : str, optional
        Engine name (default: :func:`default_name`).

    Returns
    -------
    str
        E.g. ``"/looprig-1000-looprig"``.

    Raises
    ------
    ValueError
        If the name is invalid (empty, contains ``/``, too long).
    """
    name = default_name() if name is None else name
    lib = get_lib()
    out = ffi.new("char[]", 256)
    n = lib.lr_segment_name(name.encode("utf-8"), out, 256)
    if n < 0:
        raise ValueError("looprig: invalid engine name %r" % name)
    return ffi.string(out).decode("utf-8")


_QUANTIZE_HELP = "none, slot:K, frames:N, beat, beat:N, bar or bar:N"
#: Kinds whose argument may be left out (it defaults to 1: every beat / bar).
_GRID_KINDS = ("beat", "bar")
_ARG_KINDS = ("slot", "frames") + _GRID_KINDS


def parse_quantize(q: QuantizeSpec) -> Tuple[int, int]:
    """Parse a quantize specification.

    Parameters
    ----------
    q : None, str or tuple
        ``None`` / ``"none"``; ``"slot:K"`` (start/stop at the next loop
        start of playing slot K); ``"frames:N"`` (at the next multiple of N
        frames of JACK frame time); ``"beat"`` / ``"beat:N"`` (the next beat
        of the master grid, every N beats); ``"bar"`` / ``"bar:N"`` (the next
        bar start, every N bars); N defaults to 1. Or the tuples
        ``("slot", K)``, ``("frames", N)``, ``("beat", N)``, ``("bar", N)``,
        ``("none", 0)``.

    Returns
    -------
    (int, int)
        ``(lr_quantize mode, quantize_arg)``.

    Raises
    ------
    ValueError
        For anything else (the argument must be a non-negative integer; its
        range is checked by the engine).
    """
    if q is None:
        return QUANTIZE["none"], 0
    if isinstance(q, str):
        s = q.strip().lower()
        if s == "none" or s == "":
            return QUANTIZE["none"], 0
        kind, sep, arg = s.partition(":")
        kind = kind.strip()
        arg = arg.strip()
        if not sep and kind in _GRID_KINDS:
            return QUANTIZE[kind], 1
        if not sep:
            raise ValueError("bad quantize %r: expected %s" % (q, _QUANTIZE_HELP))
        if kind not in _ARG_KINDS or not (arg.isascii() and arg.isdigit()):
            raise ValueError("bad quantize %r: expected %s (K, N integers >= 0)" % (q, _QUANTIZE_HELP))
        return QUANTIZE[kind], int(arg)
    if isinstance(q, (tuple, list)) and len(q) == 2 and isinstance(q[0], str):
        kind = q[0].strip().lower()
        if kind == "none":
            return QUANTIZE["none"], 0
        if kind not in _ARG_KINDS:
            raise ValueError("bad quantize %r: kind must be one of 'none', %s"
                             % (q, ", ".join(repr(k) for k in _ARG_KINDS)))
        try:
            arg = operator.index(q[1])
        except TypeError:
            raise ValueError("bad quantize %r: argument must be an integer" % (q,)) from None
        if arg < 0 or arg > _UINT64_MAX:
            raise ValueError("bad quantize %r: argument must be >= 0" % (q,))
        return QUANTIZE[kind], arg
    raise ValueError("bad quantize %r: expected None, %s or a (kind, arg) tuple" % (q, _QUANTIZE_HELP))


@dataclass(frozen=True)
class Event:
    """One answer (or notice) from the engine (a copy of ``lr_event``).

    Attributes
    ----------
    id : int
        Id of the command answered (0 for unsolicited notices).
    type : int
        ``lr_event_type`` (see :attr:`type_name`).
    command : int
        ``lr_command_type`` answered (see :attr:`command_name`).
    slot : int
        Slot of the command.
    code : int
        ``lr_error`` (0 for ACK).
    frame : int
        Frame at which the command takes/took effect (PING: now).
    value : tuple of float
        LOAD: ``(frames, source_rate)``.
    seq : int
        Per-client event sequence number.
    message : str
        Engine's human-readable text.
    """

    id: int
    type: int
    command: int
    slot: int
    code: int
    frame: int
    value: Tuple[float, float]
    seq: int
    message: str

    @property
    def type_name(self) -> str:
        """``"ack"``, ``"error"`` or ``"info"``."""
        return EVENT_TYPE_NAMES.get(self.type, "unknown(%d)" % self.type)

    @property
    def command_name(self) -> str:
        """``"play"``, ``"load"``, ..."""
        return COMMAND_NAMES.get(self.command, "unknown(%d)" % self.command)

    @property
    def code_name(self) -> str:
        """``"LR_OK"``, ``"LR_E_BAD_SLOT"``, ..."""
        return _error_name(self.code)

    @property
    def ok(self) -> bool:
        """True for an ACK."""
        return self.type == EVENT_TYPES["ack"]

    def to_dict(self) -> Dict[str, Any]:
        """JSON-serialisable dict of this event."""
        return {
            "id": self.id,
            "type": self.type_name,
            "command": self.command_name,
            "slot": self.slot,
            "code": self.code,
            "code_name": self.code_name,
            "frame": self.frame,
            "value": [v if math.isfinite(v) else None for v in self.value],
            "seq": self.seq,
            "message": self.message,
        }


@dataclass(frozen=True)
class LoadResult:
    """Answer to :meth:`Rig.load`.

    Attributes
    ----------
    slot : int
        Slot loaded.
    frames : int
        Loop length in frames **at the engine (JACK) sample rate**, after
        conversion (the ACK's ``value[0]``).
    source_rate : int
        Sample rate of the file (the ACK's ``value[1]``).
    message : str
        Engine's text.
    frame : int
        Frame at which the new buffer was installed.
    source_frames : int
        Length of the file in frames at its own rate, ``source_rate`` (from
        the slot's info in the meters; 0 if unknown).
    rate : int
        The engine's sample rate, the rate of ``frames``.

    Notes
    -----
    ``str(result)`` / :meth:`describe` says both: ``"176400 frames at 44100
    Hz -> 192000 frames at 48000 Hz"`` (a file at the engine's rate:
    ``"48000 frames at 48000 Hz"``).
    """

    slot: int
    frames: int
    source_rate: int
    message: str
    frame: int = 0
    source_frames: int = 0
    rate: int = 0

    def describe(self) -> str:
        """The file's frames at its rate and, if converted, the loop's frames at the engine's rate."""
        if not self.rate or self.source_rate == self.rate:
            return "%d frames at %d Hz" % (self.source_frames or self.frames, self.source_rate)
        if not self.source_frames:  # the file's own length is unknown
            return "a %d Hz file -> %d frames at %d Hz" % (self.source_rate, self.frames, self.rate)
        return "%d frames at %d Hz -> %d frames at %d Hz" % (self.source_frames, self.source_rate, self.frames,
                                                            self.rate)

    def __str__(self) -> str:
        return self.describe()


def _error_name(code: int) -> str:
    name = ERROR_NAMES.get(code)
    if name is not None:
        return name
    try:
        return ffi.string(get_lib().lr_error_name(code)).decode("ascii", "replace")
    except Exception:  # pragma: no cover
        return "LR_E_?"


def _event_from_c(ev: Any) -> Event:
    return Event(
        id=int(ev.id),
        type=int(ev.type),
        command=int(ev.command),
        slot=int(ev.slot),
        code=int(ev.code),
        frame=int(ev.frame),
        value=(float(ev.value[0]), float(ev.value[1])),
        seq=int(ev.seq),
        message=ffi.string(ev.message, len(ev.message)).decode("utf-8", "replace"),
    )


def _detach(lib: Any, handle: Any, state: Dict[str, Any]) -> None:
    """Finalizer: release the client place once (close() or garbage collection).

    A forked child that inherited the Rig never releases the parent's place.
    """
    if state.get("attached"):
        state["attached"] = False
        if state.get("pid") == os.getpid():
            lib.lr_client_detach(handle)


class Rig:
    """A client attached to a running looprigd.

    Parameters
    ----------
    name : str, optional
        Engine name (``looprigd --name``). Default ``$LOOPRIG_NAME`` or
        ``"looprig"``.
    timeout : float
        Default seconds to wait for each command's answer.
    wait : float
        Seconds to keep retrying if the engine is not (yet) running; 0 fails
        at once.

    Raises
    ------
    EngineNotRunning
        No engine of that name is running (or its segment is stale).
    AttachError
        The segment is unusable (ABI mismatch, permissions, no free client
        place).
    LibraryNotFound
        ``liblooprig-shm.so`` could not be loaded.

    Notes
    -----
    A Rig may be used from several threads (sends and polls are serialised
    by an internal lock). Use it as a context manager, or call
    :meth:`close`; the client place is also released when the Rig is
    garbage collected.
    """

    def __init__(self, name: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT, wait: float = 0.0) -> None:
        self.name: str = default_name() if name is None else name
        self.timeout = float(timeout)
        #: See :data:`STALL_SECONDS`.
        self.stall_seconds = STALL_SECONDS
        self._lib = get_lib()
        self._lock = threading.RLock()
        self._stash: "collections.OrderedDict[int, Event]" = collections.OrderedDict()
        #: Unsolicited INFO events (id 0), most recent last (bounded).
        self.notices: Deque[Event] = collections.deque(maxlen=256)
        self._evbuf = ffi.new("lr_event *")
        self._state: Dict[str, Any] = {"attached": False, "pid": os.getpid()}
        self.segment_name = segment_name(self.name)

        deadline = time.monotonic() + max(0.0, float(wait))
        pp = ffi.new("lr_client **")
        err = ffi.new("char[]", 512)
        delay = 0.02
        bad_until: Optional[float] = None
        while True:
            rc = self._lib.lr_client_attach(self.name.encode("utf-8"), pp, err, 512)
            if rc >= 0:
                break
            msg = ffi.string(err).decode("utf-8", "replace") or "attach failed (%d)" % rc
            if rc == ATTACH_ERRORS["LR_ATTACH_BAD_SEGMENT"] and time.monotonic() < deadline:
                # An engine that is creating its segment has not written the
                # header's magic yet: while waiting, give it a moment (bounded,
                # so that a segment that stays unusable is reported soon).
                now = time.monotonic()
                if bad_until is None:
                    bad_until = now + _BAD_SEGMENT_GRACE
                if now < bad_until:
                    time.sleep(0.01)
                    continue
            if rc in (ATTACH_ERRORS["LR_ATTACH_NO_ENGINE"], ATTACH_ERRORS["LR_ATTACH_ENGINE_DEAD"]):
                if time.monotonic() < deadline:
                    time.sleep(delay)
                    delay = min(delay * 1.5, 0.2)
                    continue
                raise EngineNotRunning(
                    "%s; start it with `looprig --name %s engine`" % (msg, self.name),
                    name=self.name,
                )
            raise AttachError("looprig: cannot attach to engine %r: %s" % (self.name, msg), rc)
        self._client = pp[0]
        self._state["attached"] = True
        self._finalizer = weakref.finalize(self, _detach, self._lib, self._client, self._state)
        self._base = self._lib.lr_client_base(self._client)
        self._seg_size = int(self._lib.lr_client_segment_size(self._client))
        self._hdr = ffi.cast("lr_header *", self._base)
        h = self._hdr
        self._meters_offset = int(h.meters_offset)
        self._meter_size = int(h.meter_area_size)
        self._sm_off = int(h.slot_meters_offset) - self._meters_offset
        self._si_off = int(h.slot_infos_offset) - self._meters_offset
        self._mix_off = int(h.mix_meter_offset) - self._meters_offset
        self._sp_off = int(h.slot_params_offset) - self._meters_offset
        self._slot_count = int(h.slot_count)

    # -- lifetime -------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return not self._state["attached"]

    def close(self) -> None:
        """Release the client place and unmap the segment (idempotent).

        Live views from :meth:`meter_view` must not be used afterwards.
        """
        with self._lock:
            self._finalizer()

    def __enter__(self) -> "Rig":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<looprig.Rig %r closed>" % self.name
        return "<looprig.Rig %r pid=%d client=%d %d Hz/%d>" % (
            self.name,
            self.engine_pid,
            self.client_index,
            self.sample_rate,
            self.buffer_size,
        )

    def _check(self) -> Any:
        if not self._state["attached"]:
            raise LooprigError("looprig: this Rig is closed")
        return self._client

    # -- live header ----------------------------------------------------------
    @property
    def header(self) -> Any:
        """The live ``lr_header *`` of the segment (cffi; read-only use)."""
        self._check()
        return self._hdr

    @property
    def frame_time(self) -> int:
        """The engine's frame time at the start of its last period.

        JACK's frame time, continued across a JACK server restart (see
        ``jack_frame_offset`` in docs/PROTOCOL.md)."""
        return int(self._lib.lr_client_frame_time(self._check()))

    @property
    def sample_rate(self) -> int:
        """Engine sample rate (Hz)."""
        self._check()
        return int(self._hdr.sample_rate)

    @property
    def buffer_size(self) -> int:
        """JACK period size (frames)."""
        self._check()
        return int(self._hdr.buffer_size)

    @property
    def slot_count(self) -> int:
        """Number of loop slots."""
        self._check()
        return int(self._hdr.slot_count)

    @property
    def engine_pid(self) -> int:
        """Process id of looprigd."""
        self._check()
        return int(self._hdr.engine_pid)

    @property
    def engine_state(self) -> str:
        """``"starting"``, ``"running"``, ``"stopping"`` or ``"jack_lost"``."""
        self._check()
        s = int(self._hdr.engine_state)
        return ENGINE_STATE_NAMES.get(s, "unknown(%d)" % s)

    @property
    def heartbeat(self) -> int:
        """Periods processed by the engine so far."""
        self._check()
        return int(self._hdr.heartbeat)

    @property
    def declick_frames(self) -> int:
        """Current declick ramp length in frames."""
        self._check()
        return int(self._hdr.declick_frames)

    @property
    def smooth_frames(self) -> int:
        """Ramp length of mixer/effect param changes in frames (``looprigd --smooth-ms``)."""
        self._check()
        return int(self._hdr.smooth_frames)

    @property
    def client_index(self) -> int:
        """This client's place in the segment (0..LR_MAX_CLIENTS-1)."""
        return int(self._lib.lr_client_index(self._check()))

    @property
    def alive(self) -> bool:
        """True while the engine process is alive (also while it waits for its JACK server)."""
        return bool(self._lib.lr_client_engine_alive(self._check()))

    @property
    def heartbeat_age(self) -> Optional[float]:
        """Seconds since the engine last ran a period (None before its first)."""
        age = int(self._lib.lr_client_heartbeat_age_usecs(self._check()))
        return None if age == _UINT64_MAX else age / 1e6

    def _engine_gone(self) -> EngineNotRunning:
        pid = int(self._hdr.engine_pid)
        state = int(self._hdr.engine_state)
        if state == ENGINE_STATES["jack_lost"]:
            why = "lost its JACK server and exited"
        elif state == ENGINE_STATES["stopping"]:
            why = "was stopped (it shut down)"
        else:
            why = "is not running any more: killed or crashed"
        return EngineNotRunning("looprig engine %r (pid %d) %s" % (self.name, pid, why), name=self.name, pid=pid)

    def _stall_note(self) -> str:
        """Why the engine might not answer: its state and heartbeat age (for messages)."""
        age = int(self._lib.lr_client_heartbeat_age_usecs(self._client))
        state = int(self._hdr.engine_state)
        pid = int(self._hdr.engine_pid)
        if state == ENGINE_STATES["jack_lost"]:
            return "engine pid %d is waiting for the JACK server" % pid
        if age == _UINT64_MAX:
            return "engine pid %d has run no period yet (state: %s)" % (pid, self.engine_state)
        return "engine pid %d alive, state %s, last period %.3g s ago" % (pid, self.engine_state, age / 1e6)

    def _check_engine(self, waited: Optional[float]) -> None:
        """Raise EngineNotRunning if the engine process is gone and, once a
        wait has lasted ``waited`` >= a short grace, EngineStalled if the
        engine runs but its heartbeat stopped more than ``stall_seconds``
        ago. Caller holds the lock."""
        client = self._client
        if not self._lib.lr_client_engine_alive(client):
            raise self._engine_gone()
        if waited is None or waited < _STALL_GRACE or int(self._hdr.engine_state) != ENGINE_STATES["running"]:
            return
        age = int(self._lib.lr_client_heartbeat_age_usecs(client))
        if age != _UINT64_MAX and age > self.stall_seconds * 1e6:
            pid = int(self._hdr.engine_pid)
            raise EngineStalled(
                "looprig engine %r (pid %d) is alive but has run no audio period for %.1f s: "
                "stopped (SIGSTOP), stuck, or its JACK server is stalled" % (self.name, pid, age / 1e6),
                pid=pid, seconds=age / 1e6)

    # -- events ---------------------------------------------------------------
    def _drain(self) -> int:
        """Move every pending event into the stash / notices. Caller holds the lock."""
        n = 0
        ev = self._evbuf
        while self._lib.lr_client_poll(self._client, ev) == 1:
            e = _event_from_c(ev)
            n += 1
            if e.id == 0:
                self.notices.append(e)
            else:
                self._stash[e.id] = e
                if len(self._stash) > _STASH_MAX:
                    self._stash.popitem(last=False)
        return n

    def poll(self) -> List[Event]:
        """Read pending events now; return the unsolicited notices among them.

        Answers to commands stay stashed for :meth:`wait`.
        """
        with self._lock:
            self._check()
            before = len(self.notices)
            self._drain()
            got = list(self.notices)[before:] if len(self.notices) > before else []
        return got

    def wait(self, cid: int, timeout: Optional[float] = None, raise_on_error: bool = True) -> Event:
        """Wait for the answer to command ``cid``.

        Parameters
        ----------
        cid : int
            Id returned by :meth:`send`.
        timeout : float, optional
            Seconds (default: the Rig's ``timeout``).
        raise_on_error : bool
            Raise :class:`CommandRejected` for an ERROR answer (default);
            else return it.

        Returns
        -------
        Event
            The ACK (or ERROR, with ``raise_on_error=False``).

        Raises
        ------
        CommandRejected
            The engine rejected the command (its message is kept).
        Timeout
            No answer in time.
        EngineNotRunning
            The engine process went away while waiting (noticed within
            milliseconds).
        EngineStalled
            The engine lives but ran no period for ``stall_seconds``.
        """
        timeout = self.timeout if timeout is None else float(timeout)
        started = time.monotonic()
        deadline = started + timeout
        sleep = 0.0002
        while True:
            with self._lock:
                self._check()
                ev = self._stash.pop(cid, None)
                if ev is None:
                    self._drain()
                    ev = self._stash.pop(cid, None)
                if ev is None:
                    self._check_engine(time.monotonic() - started)
                    # An answer may have landed between the drain and the check.
                    self._drain()
                    ev = self._stash.pop(cid, None)
            if ev is not None:
                if raise_on_error and not ev.ok:
                    raise CommandRejected(ev.code, ev.code_name, ev.message, ev.slot, ev.command_name, ev.id)
                return ev
            now = time.monotonic()
            if now >= deadline:
                with self._lock:
                    note = self._stall_note()
                raise Timeout(
                    "looprig: no answer to command %d from engine %r within %.3g s (%s)"
                    % (cid, self.name, timeout, note)
                )
            time.sleep(min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 1.5, 0.002)

    # -- commands -------------------------------------------------------------
    def send(
        self,
        command: Union[str, int],
        slot: Any = 0,
        level_db: Any = _NOT_GIVEN,
        pre: Optional[bool] = None,
        *,
        value: Union[None, float, Tuple[float, ...], List[float]] = None,
        text: Union[None, str, bytes] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        wait: bool = False,
        timeout: Optional[float] = None,
    ) -> Any:
        """Queue one command (the general/asynchronous form), or set an effect send.

        Two forms, told apart by the third argument:

        - ``send(command, slot=0, *, value=None, text=None, at=None,
          quantize=None, wait=False, timeout=None)``: the general form below.
        - ``send(slot, bus, level_db, pre=None, *, at=None, quantize=None,
          timeout=None)`` (a third argument, or ``level_db=`` / ``pre=``): how
          much of ``slot`` feeds send bus ``bus`` (1/"delay", 2/"reverb");
          the same as :meth:`fx_send`, returning the frame it takes effect at.

        Parameters
        ----------
        command : str or int
            ``"play"``, ``"stop"``, ``"load"``, ``"loop_tempo"`` (or
            ``"loop-tempo"``), ... or an ``lr_command_type``.
        slot : int
            Slot index (passed through: the engine validates it).
        value : float or sequence of float, optional
            ``value[0..3]`` of the command (passed through unchecked).
        text : str or bytes, optional
            Command text (LOAD: the file path, sent as given).
        at : int, optional
            Frame of the engine's timeline (``frame_time``) at which the command takes effect.
        quantize : None, str or tuple, optional
            See :func:`parse_quantize`.
        wait : bool
            False (default): return the command id at once; True: wait for
            the answer and return the :class:`Event`.
        timeout : float, optional
            Seconds to wait for room in the ring and (with ``wait``) for the
            answer; default the Rig's ``timeout``.

        Returns
        -------
        int or Event
            The command id, or the answer event with ``wait=True``.

        Raises
        ------
        ValueError
            Unknown command, bad quantize, text too long, ``at`` negative.
        RingFull
            The command ring stayed full for the whole timeout.
        EngineNotRunning, Detached, CommandRejected, Timeout
        """
        if level_db is not _NOT_GIVEN or pre is not None:
            if value is not None or text is not None or wait:
                raise TypeError("send(slot, bus, level_db, pre): the effect-send form takes no value, text or wait")
            return self.fx_send(command, slot, None if level_db is _NOT_GIVEN else level_db, pre,  # type: ignore[arg-type]
                                at=at, quantize=quantize, timeout=timeout)
        timeout = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + timeout
        cmd = self._build(command, slot, value, text, at, quantize)
        cid = self._push(cmd, deadline, timeout)
        if not wait:
            return cid
        return self.wait(cid, max(0.0, deadline - time.monotonic()) if timeout > 0 else 0.0)

    def _build(
        self,
        command: Union[str, int],
        slot: int,
        value: Any,
        text: Union[None, str, bytes],
        at: Optional[int],
        quantize: QuantizeSpec,
    ) -> Any:
        if isinstance(command, str):
            try:
                ctype = COMMANDS[command.lower().replace("-", "_")]
            except KeyError:
                raise ValueError("unknown command %r (one of %s)" % (command, ", ".join(COMMANDS))) from None
        else:
            ctype = operator.index(command)
        slot = operator.index(slot)
        if not _INT32[0] <= slot <= _INT32[1]:
            raise ValueError("slot %d does not fit the command's int32 field" % slot)
        cmd = ffi.new("lr_command *")
        cmd.type = ctype
        cmd.slot = slot
        if at is not None:
            at = operator.index(at)
            if not 0 <= at <= _UINT64_MAX:
                raise ValueError("at=%d is not a frame time (must be >= 0)" % at)
            cmd.flags |= self._lib.LR_CMD_F_AT
            cmd.at_frame = at
        mode, arg = parse_quantize(quantize)
        cmd.quantize = mode
        cmd.quantize_arg = arg
        if value is not None:
            vals = [value] if not isinstance(value, (tuple, list)) else list(value)
            if len(vals) > _VALUE_COUNT:
                raise ValueError("at most %d values" % _VALUE_COUNT)
            for i, v in enumerate(vals):
                cmd.value[i] = float(v)
        if text is not None:
            data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
            if len(data) > TEXT_MAX:
                raise ValueError("text is %d bytes, more than LR_TEXT_MAX (%d)" % (len(data), TEXT_MAX))
            ffi.memmove(cmd.text, data, len(data))
            cmd.text_len = len(data)
        return cmd

    def _push(self, cmd: Any, deadline: float, timeout: float) -> int:
        sleep = 0.0005
        started = time.monotonic()
        while True:
            with self._lock:
                client = self._check()
                self._check_engine(None)
                rc = int(self._lib.lr_client_send(client, cmd))
                if rc == SEND_ERRORS["LR_SEND_FULL"]:
                    self._drain()  # keep answers flowing; they stay stashed
                    self._check_engine(time.monotonic() - started)
            if rc > 0:
                return rc
            if rc == SEND_ERRORS["LR_SEND_DETACHED"]:
                raise Detached("looprig: the engine reclaimed this client's place; attach again")
            if rc == SEND_ERRORS["LR_SEND_TOO_LONG"]:
                raise ValueError("command text longer than LR_TEXT_MAX (%d)" % TEXT_MAX)
            if rc != SEND_ERRORS["LR_SEND_FULL"]:
                raise LooprigError("looprig: lr_client_send failed (%d)" % rc)
            now = time.monotonic()
            if now >= deadline:
                with self._lock:
                    note = self._stall_note()
                raise RingFull(
                    "looprig: command ring of engine %r stayed full for %.3g s (%s)"
                    % (self.name, timeout, note)
                )
            time.sleep(min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 2, 0.005)

    def _do(self, command: str, slot: int, timeout: Optional[float], **kw: Any) -> Event:
        return self.send(command, slot, wait=True, timeout=timeout, **kw)  # type: ignore[no-any-return]

    def ping(self, timeout: Optional[float] = None) -> int:
        """Round trip to the engine.

        Returns
        -------
        int
            The engine's frame time when it handled the ping.
        """
        return self._do("ping", 0, timeout).frame

    def load(self, slot: int, path: Union[str, "os.PathLike[str]"], timeout: Optional[float] = None) -> LoadResult:
        """Load an audio file into ``slot`` (replacing what is there).

        The engine answers when loading has finished.

        Parameters
        ----------
        slot : int
            Slot index.
        path : str or path-like
            File to load; sent as an absolute path.
        timeout : float, optional
            Seconds (default 30).

        Returns
        -------
        LoadResult
            ``(slot, frames, source_rate, message, frame, source_frames,
            rate)``: ``frames`` is the loop's length at the engine's rate
            ``rate``, ``source_frames`` the file's at its rate
            ``source_rate``.
        """
        return self._load(slot, path, timeout)[1]

    def _load(self, slot: int, path: Union[str, "os.PathLike[str]"], timeout: Optional[float]
              ) -> Tuple[Event, LoadResult]:
        """Load; the answer event and its :class:`LoadResult`."""
        data = os.fsencode(os.path.abspath(os.fspath(path)))
        if len(data) > TEXT_MAX:
            raise ValueError("path is %d bytes, more than LR_TEXT_MAX (%d)" % (len(data), TEXT_MAX))
        ev = self._do("load", slot, LOAD_TIMEOUT if timeout is None else timeout, text=data)
        frames = int(ev.value[0]) if math.isfinite(ev.value[0]) else 0
        source_rate = int(ev.value[1]) if math.isfinite(ev.value[1]) else 0
        # The file's own length is in the slot's info; the meters read after an
        # answer include its effect.
        source_frames = 0
        try:
            m = self.meters()
        except LooprigError:  # the load is done; only its description lacks the file's length
            m = None
        if m is not None and 0 <= ev.slot < m.slot_count and int(m.source_rate[ev.slot]) == source_rate:
            source_frames = int(m.source_frames[ev.slot])
        return ev, LoadResult(slot=ev.slot, frames=frames, source_rate=source_rate, message=ev.message,
                              frame=ev.frame, source_frames=source_frames, rate=self.sample_rate)

    def unload(self, slot: int, timeout: Optional[float] = None) -> int:
        """Empty ``slot`` (it stops first). Returns the frame it takes effect at."""
        return self._do("unload", slot, timeout).frame

    def send_batch(
        self,
        commands: Sequence[BatchItem],
        *,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        wait: bool = False,
        timeout: Optional[float] = None,
        raise_on_error: bool = True,
    ) -> Union[List[int], List[Event]]:
        """Queue several commands as one batch: the engine reads them in one period.

        The commands are written to the ring and published together
        (``lr_client_send_batch``), with ``LR_CMD_F_BATCH`` on all but the
        last, so the engine never sees part of a batch and handles all of it
        in the same period: commands without ``at`` take effect on that
        period's first frame, together; ``at``/``quantize`` are resolved in
        that period, so equal specs give equal frames.

        Parameters
        ----------
        commands : sequence of tuple or mapping
            Each ``(command, slot)``, ``(command, slot, value)`` or a mapping
            with the keys of :meth:`send` (``command``, ``slot``, ``value``,
            ``text``, ``at``, ``quantize``). At most :data:`BATCH_MAX`
            (``LR_CMD_RING_SIZE``) commands.
        at : int, optional
            Frame for every command that gives none itself.
        quantize : None, str or tuple, optional
            Quantize for every command that gives none itself.
        wait : bool
            False: return the ids at once; True: wait for every answer and
            return the events (in the order of ``commands``).
        timeout : float, optional
            Seconds to wait for room in the ring (the batch needs
            ``len(commands)`` free places) and for the answers.
        raise_on_error : bool
            With ``wait``: after all answers are in, raise the first refusal
            as :class:`CommandRejected` (default); else return it among the
            events.

        Returns
        -------
        list of int or list of Event
            The command ids, or (``wait=True``) the answers.

        Raises
        ------
        ValueError
            An empty batch, more than :data:`BATCH_MAX` commands, or a bad
            command (nothing is sent).
        RingFull
            The ring did not have room for the whole batch within the timeout
            (nothing was sent).
        CommandRejected, Timeout, EngineNotRunning, Detached
        """
        if len(commands) == 0:
            raise ValueError("send_batch: no commands")
        if len(commands) > BATCH_MAX:
            raise ValueError("send_batch: %d commands, at most %d (LR_CMD_RING_SIZE) in one batch"
                             % (len(commands), BATCH_MAX))
        cmds = []
        for item in commands:
            if isinstance(item, Mapping):
                kw = dict(item)
                unknown = set(kw) - {"command", "slot", "value", "text", "at", "quantize"}
                if unknown or "command" not in kw:
                    raise ValueError("send_batch: bad command %r" % (item,))
                cmds.append(self._build(kw["command"], kw.get("slot", 0), kw.get("value"), kw.get("text"),
                                        kw.get("at", at), kw.get("quantize", quantize)))
            else:
                if not 2 <= len(item) <= 3:
                    raise ValueError("send_batch: bad command %r: (command, slot[, value])" % (item,))
                cmds.append(self._build(item[0], item[1], item[2] if len(item) > 2 else None, None, at, quantize))
        timeout = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + timeout
        ids = self._push_batch(cmds, deadline, timeout)
        if not wait:
            return ids
        return self._wait_all(ids, deadline, raise_on_error)

    def _wait_all(self, ids: List[int], deadline: float, raise_on_error: bool = True) -> List[Event]:
        """Every answer of ``ids``; the first refusal is raised once all are in."""
        events = [self.wait(cid, max(0.0, deadline - time.monotonic()), raise_on_error=False) for cid in ids]
        if raise_on_error:
            for ev in events:
                if not ev.ok:
                    raise CommandRejected(ev.code, ev.code_name, ev.message, ev.slot, ev.command_name, ev.id)
        return events

    def _push_batch(self, cmds: List[Any], deadline: float, timeout: float) -> List[int]:
        n = len(cmds)
        arr = ffi.new("lr_command[]", n)
        for i, c in enumerate(cmds):
            arr[i] = c[0]
        sleep = 0.0005
        started = time.monotonic()
        while True:
            with self._lock:
                client = self._check()
                self._check_engine(None)
                rc = int(self._lib.lr_client_send_batch(client, arr, n))
                if rc == SEND_ERRORS["LR_SEND_FULL"]:
                    self._drain()
                    self._check_engine(time.monotonic() - started)
            if rc > 0:
                return [int(arr[i].id) for i in range(n)]
            if rc == SEND_ERRORS["LR_SEND_DETACHED"]:
                raise Detached("looprig: the engine reclaimed this client's place; attach again")
            if rc == SEND_ERRORS["LR_SEND_TOO_LONG"]:
                raise ValueError("command text longer than LR_TEXT_MAX (%d)" % TEXT_MAX)
            if rc == SEND_ERRORS["LR_SEND_BAD_BATCH"]:
                raise ValueError("send_batch: %d commands, 1..%d in one batch" % (n, BATCH_MAX))
            if rc != SEND_ERRORS["LR_SEND_FULL"]:
                raise LooprigError("looprig: lr_client_send_batch failed (%d)" % rc)
            now = time.monotonic()
            if now >= deadline:
                with self._lock:
                    note = self._stall_note()
                raise RingFull(
                    "looprig: command ring of engine %r had no room for a batch of %d within %.3g s (%s)"
                    % (self.name, n, timeout, note)
                )
            time.sleep(min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 2, 0.005)

    def resolve_slots(self, command: str, slots: Slots) -> List[int]:
        """The slots a multi-slot :meth:`play` / :meth:`stop` addresses.

        Parameters
        ----------
        command : {"play", "stop"}
        slots : sequence of int or "all"
            ``"all"``: for ``play`` every loaded slot, for ``stop`` every
            playing slot (from a meter snapshot), in slot order.

        Returns
        -------
        list of int

        Raises
        ------
        ValueError
            A slot given twice, not an integer, or a string other than ``"all"``.
        """
        if isinstance(slots, str):
            if slots.strip().lower() != "all":
                raise ValueError("%s: slots must be integers or 'all', got %r" % (command, slots))
            m = self.meters()
            want = SLOT_STATES["playing"] if command == "stop" else None
            return [i for i in range(m.slot_count)
                    if (int(m.state[i]) == want if want is not None else int(m.state[i]) != SLOT_STATES["empty"])]
        out: List[int] = []
        for s in slots:
            if isinstance(s, bool):
                raise ValueError("%s: slot must be an integer, got %r" % (command, s))
            i = operator.index(s)
            if i in out:
                raise ValueError("%s: slot %d given twice" % (command, i))
            out.append(i)
        return out

    def _slot_batch(self, command: str, slots: Slots, at: Optional[int], quantize: QuantizeSpec,
                    timeout: Optional[float]) -> Tuple[List[int], List[Event]]:
        """Play/stop several slots on one frame: (slots, answers)."""
        targets = self.resolve_slots(command, slots)
        if not targets:
            return [], []
        parse_quantize(quantize)  # a bad spec raises before anything is sent
        m = self.meters()
        for s in targets:
            if not 0 <= s < m.slot_count:
                code = ERRORS["LR_E_BAD_SLOT"]
                raise CommandRejected(code, _error_name(code), "slot %d out of range (0..%d) (nothing sent)"
                                      % (s, m.slot_count - 1), s, command, 0)
            if command == "play" and int(m.state[s]) == SLOT_STATES["empty"]:
                code = ERRORS["LR_E_NOT_LOADED"]
                raise CommandRejected(code, _error_name(code), "slot %d is empty: load a file first (nothing sent)"
                                      % s, s, command, 0)
        timeout = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + timeout
        chunks = [targets[i:i + BATCH_MAX] for i in range(0, len(targets), BATCH_MAX)]
        if len(chunks) > 1 and at is None:
            # More than one ring: several batches, all on one frame far enough ahead.
            self._check()
            at = int(self._hdr.frame_time) + (PARAM_MARGIN_PERIODS + 2 * len(chunks)) * max(1, int(self._hdr.buffer_size))
        ids: List[int] = []
        for chunk in chunks:
            ids += self._push_batch([self._build(command, s, None, None, at, quantize) for s in chunk],
                                    deadline, timeout)
        return targets, self._wait_all(ids, deadline)

    @overload
    def play(self, slot: int, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> int: ...

    @overload
    def play(self, slot: Slots, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> List[int]: ...

    def play(self, slot: Union[int, Slots], at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> Union[int, List[int]]:
        """Start ``slot`` from the loop start, or several slots on the same frame.

        Parameters
        ----------
        slot : int, sequence of int, or "all"
            One slot; or several (``[0, 1, 2]``) / ``"all"`` (every loaded
            slot), sent as one batch (:meth:`send_batch`) so that they start
            on the same frame. Before anything is sent, every listed slot must
            be in range and loaded (else :class:`CommandRejected`, ``(nothing
            sent)``).
        at : int, optional
            Frame of the engine's timeline (``frame_time``) to start at (else the next period).
        quantize : None, str or tuple, optional
            ``"slot:K"`` / ``"frames:N"`` / ``"beat[:N]"`` / ``"bar[:N]"``:
            start on that grid (after ``at``); see :func:`parse_quantize`.

        Returns
        -------
        int or list of int
            Frame at which the slot starts (the ACK's frame); for several
            slots one frame per slot, in the order given (slot order for
            ``"all"``; ``[]`` if there is none).
        """
        if _is_one_slot(slot):
            return self._do("play", slot, timeout, at=at, quantize=quantize).frame  # type: ignore[arg-type]
        return [ev.frame for ev in self._slot_batch("play", slot, at, quantize, timeout)[1]]  # type: ignore[arg-type]

    @overload
    def stop(self, slot: int, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> int: ...

    @overload
    def stop(self, slot: Slots, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> List[int]: ...

    def stop(self, slot: Union[int, Slots], at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> Union[int, List[int]]:
        """Stop ``slot``, or several slots on the same frame; scheduling as :meth:`play`.

        ``slot`` may be a sequence of slots or ``"all"`` (every playing slot;
        ``[]`` and nothing sent if none plays). Returns the stop frame, or one
        per slot.
        """
        if _is_one_slot(slot):
            return self._do("stop", slot, timeout, at=at, quantize=quantize).frame  # type: ignore[arg-type]
        return [ev.frame for ev in self._slot_batch("stop", slot, at, quantize, timeout)[1]]  # type: ignore[arg-type]

    def gain(self, slot: int, db: float, at: Optional[int] = None, timeout: Optional[float] = None) -> int:
        """Set the gain of ``slot`` in dB (passed through: the engine validates)."""
        return self._do("gain", slot, timeout, value=float(db), at=at).frame

    def pan(self, slot: int, pan: float, at: Optional[int] = None, timeout: Optional[float] = None) -> int:
        """Set the pan of ``slot``: -1 (left) .. +1 (right)."""
        return self._do("pan", slot, timeout, value=float(pan), at=at).frame

    def mute(self, slot: int, on: Union[bool, float] = True, at: Optional[int] = None, timeout: Optional[float] = None) -> int:
        """Mute (``on=True``) or unmute ``slot``."""
        return self._do("mute", slot, timeout, value=_boolish(on), at=at).frame

    def solo(self, slot: int, on: Union[bool, float] = True, at: Optional[int] = None, timeout: Optional[float] = None) -> int:
        """Solo (``on=True``) or unsolo ``slot``."""
        return self._do("solo", slot, timeout, value=_boolish(on), at=at).frame

    def declick(self, ms: float, timeout: Optional[float] = None) -> int:
        """Set the engine-wide declick ramp length in milliseconds (0 = exact, no ramps)."""
        return self._do("declick", 0, timeout, value=float(ms)).frame

    # -- musical time -----------------------------------------------------------
    def tempo(
        self, bpm: float, at: Optional[int] = None, quantize: QuantizeSpec = None, timeout: Optional[float] = None
    ) -> int:
        """Set the master tempo.

        Parameters
        ----------
        bpm : float
            Beats per minute (the engine accepts 20..400).
        at : int, optional
            Frame of the engine's timeline (``frame_time``) of the change (else the next period).
        quantize : None, str or tuple, optional
            E.g. ``"bar"``: change on the next bar start (after ``at``).

        Returns
        -------
        int
            Frame at which the new tempo takes effect. The beat position
            is continuous across the change.
        """
        return self._do("tempo", 0, timeout, value=float(bpm), at=at, quantize=quantize).frame

    def meter(self, beats_per_bar: int, timeout: Optional[float] = None) -> int:
        """Set the beats per bar of the master grid (the engine accepts 1..32).

        Bars restart at the bar the change falls in. Returns the frame it
        takes effect at.
        """
        return self._do("meter", 0, timeout, value=float(beats_per_bar)).frame

    def loop_tempo(
        self,
        slot: int,
        bpm: Optional[float] = None,
        *,
        beats: Optional[float] = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Make ``slot`` follow the master tempo, or stop following it.

        Give the loop's own tempo **or** its length in beats; give neither
        (``rig.loop_tempo(slot, None)``) to stop following, so that the loop
        plays at its own speed again::

            rig.loop_tempo(0, 96.0)       # the loop was played at 96 BPM
            rig.loop_tempo(1, beats=16)   # the loop is 16 beats long
            rig.loop_tempo(0, None)       # stop following

        Parameters
        ----------
        slot : int
            Slot index.
        bpm : float, optional
            The loop's own tempo (``value[0]``).
        beats : float, optional
            The loop's length in beats (``value[1]``), keyword only.

        Returns
        -------
        int
            Frame at which the command takes effect.

        Raises
        ------
        ValueError
            Both ``bpm`` and ``beats`` given (nothing is sent).

        Notes
        -----
        ``0`` means "not given" to the engine: ``loop_tempo(slot, 0)`` also
        stops following. The values are checked by the engine.
        """
        if bpm is not None and beats is not None:
            raise ValueError("loop_tempo: give the loop's bpm or its length in beats, not both")
        value = (0.0 if bpm is None else float(bpm), 0.0 if beats is None else float(beats))
        return self._do("loop_tempo", slot, timeout, value=value).frame

    def pitch(self, slot: int, semitones: float, cents: float = 0.0, timeout: Optional[float] = None) -> int:
        """Transpose ``slot`` by ``semitones + cents / 100`` semitones.

        The engine accepts -24..+24 semitones in total; in ``"varispeed"``
        mode the setting is kept but not used (pitch follows tempo). Returns
        the frame it takes effect at.
        """
        return self._do("pitch", slot, timeout, value=float(semitones) + float(cents) / 100.0).frame

    def mode(self, slot: int, mode: Union[str, int], timeout: Optional[float] = None) -> int:
        """Choose how ``slot`` follows tempo and pitch.

        Parameters
        ----------
        slot : int
            Slot index.
        mode : str or int
            ``"stretch"`` (time-stretch: tempo and pitch independent) or
            ``"varispeed"`` (resample: pitch follows tempo); an int is sent
            as the raw ``lr_slot_mode`` (checked by the engine).

        Returns
        -------
        int
            Frame at which the command takes effect.

        Raises
        ------
        ValueError
            Unknown mode name (nothing is sent).
        """
        return self._do("mode", slot, timeout, value=float(_mode_value(mode))).frame

    def transport(self, mode: str, timeout: Optional[float] = None) -> int:
        """Choose how looprig relates to the JACK transport.

        Parameters
        ----------
        mode : {"off", "follow", "master"}
            ``"off"``: looprig's own grid. ``"follow"``: tempo, meter and beat
            position come from the JACK transport (the timebase master's
            BBT); loops that follow the master tempo pause while the transport
            is stopped and move with it when it is relocated. ``"master"``:
            looprig becomes JACK timebase master, so other clients follow its
            tempo and bars.

        Returns
        -------
        int
            Frame at which the command takes effect.

        Raises
        ------
        ValueError
            Unknown mode (nothing is sent).
        """
        try:
            value = TRANSPORT_MODES[mode.strip().lower()]
        except (KeyError, AttributeError):
            raise ValueError("unknown transport mode %r (one of %s)" % (mode, ", ".join(TRANSPORT_MODES))) from None
        return self._do("transport", 0, timeout, value=float(value)).frame

    # -- mixer and effects (LR_CMD_PARAM) ----------------------------------------
    def params(self) -> List[Param]:
        """The params table (``lr_param_table()``): every mixer and effect parameter.

        Returns
        -------
        list of Param
            ``Param(id, name, target, kind, unit, min, max, default, help)`` in
            id order; ``target`` is ``"slot"``, ``"group"`` or ``"global"``,
            ``kind`` ``"continuous"``, ``"switch"`` or ``"index"``.
        """
        return _params.param_table()

    def param(
        self,
        name_or_id: Union[str, int, Param],
        value: Union[float, bool, str, None],
        *,
        slot: Optional[int] = None,
        group: Optional[int] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set one mixer/effect parameter (``LR_CMD_PARAM``).

        Parameters
        ----------
        name_or_id : str, int or Param
            ``"hp-freq"`` (``"hp_freq"`` works too), an ``lr_param`` id, or a
            row of :meth:`params`.
        value : float, bool or str
            The value; ``True``/``False`` and ``"on"``/``"off"`` are 1/0; for
            ``"group"``, ``None``/``"none"`` is -1 (straight to the master).
            The engine checks the range (its message is raised).
        slot : int, optional
            The slot, for slot params (required for them, refused otherwise).
        group : int, optional
            The group bus 0..7, for group params (required for them).
        at : int, optional
            Frame of the engine's timeline (``frame_time``) of the change (else the next period).
        quantize : None, str or tuple, optional
            Change on that grid (after ``at``); see :func:`parse_quantize`.

        Returns
        -------
        int
            Frame at which the change takes effect (continuous params
            then ramp to the new value over ``header.smooth_frames``).

        Raises
        ------
        ValueError
            Unknown param, a missing or superfluous slot/group, a value that is
            not a number (nothing is sent).
        CommandRejected
            The engine refused it (``LR_E_BAD_VALUE`` out of range,
            ``LR_E_BAD_SLOT`` bad slot or group).
        """
        p = _params.lookup(name_or_id)
        slot, group = _params.check_target(p, slot, group)
        return self._set_params([(p, slot, group, _params.to_value(p, value))], at, quantize, timeout)

    def param_value(
        self, name_or_id: Union[str, int, Param], slot: Optional[int] = None, group: Optional[int] = None
    ) -> float:
        """The value in force of a parameter, read from the segment.

        Parameters
        ----------
        name_or_id : str, int or Param
            As for :meth:`param`.
        slot, group : int, optional
            As for :meth:`param` (here also checked against the slot count and
            ``LR_GROUPS``: they index the shared memory).

        Returns
        -------
        float
            The value as published by the engine (float32; for continuous
            params the target of a ramp in progress).

        Raises
        ------
        ValueError
            Unknown param, bad slot/group.
        LooprigError
            The engine publishes no param values (an engine without the mixer).
        """
        p = _params.lookup(name_or_id)
        slot, group = _params.check_target(p, slot, group)
        self._check()
        base = ffi.cast("char *", self._base) + self._meters_offset
        mix = ffi.cast("lr_mix_meter *", base + self._mix_off)
        if not any(float(v) != 0.0 for v in mix.global_params):
            raise LooprigError("looprig: engine %r publishes no param values (does it have the mixer?)" % self.name)
        if p.target == "slot":
            assert slot is not None
            if not 0 <= slot < self._slot_count:
                raise ValueError("slot %d out of range (0..%d)" % (slot, self._slot_count - 1))
            sp = ffi.cast("lr_slot_params *", base + self._sp_off)
            return float(sp[slot].value[p.index])
        if p.target == "group":
            assert group is not None
            if not 0 <= group < _params.GROUPS:
                raise ValueError("group %d out of range (0..%d)" % (group, _params.GROUPS - 1))
            return float(mix.group_params[group][p.index])
        return float(mix.global_params[p.index])

    def _set_params(
        self,
        items: List[Tuple[Param, Optional[int], Optional[int], float]],
        at: Optional[int],
        quantize: QuantizeSpec,
        timeout: Optional[float],
    ) -> int:
        """Send one LR_CMD_PARAM per item, then wait for every answer.

        With several items and no ``at``, all get the same ``at_frame`` (now
        plus :data:`PARAM_MARGIN_PERIODS` periods): they change in one frame.
        Every command is built and checked before the first is sent: with
        several items, a value the engine would refuse (the same table and
        rules) raises CommandRejected and nothing is sent, so a call changes
        all of its values or none. Should the engine still refuse one, the
        first refusal is raised after all answers are in.
        """
        if not items:
            raise ValueError("nothing to set")
        if len(items) > 1:
            for p, slot, group, value in items:
                why = _params.value_error(p, value)
                if why is not None:
                    code = ERRORS["LR_E_BAD_VALUE"]
                    raise CommandRejected(code, _error_name(code), why + " (nothing sent)",
                                          slot if slot is not None else (group if group is not None else 0),
                                          "param", 0)
        if at is None and len(items) > 1:
            self._check()
            at = int(self._hdr.frame_time) + PARAM_MARGIN_PERIODS * max(1, int(self._hdr.buffer_size))
        cmds = []
        for p, slot, group, value in items:
            target = slot if p.target == "slot" else (group if p.target == "group" else 0)
            cmd = self._build("param", target if target is not None else 0, float(value), None, at, quantize)
            cmd.param = p.id
            cmds.append(cmd)
        timeout = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + timeout
        ids = [self._push(cmd, deadline, timeout) for cmd in cmds]
        first_error: Optional[CommandRejected] = None
        frame = 0
        for cid in ids:
            ev = self.wait(cid, max(0.0, deadline - time.monotonic()), raise_on_error=False)
            if ev.ok:
                frame = max(frame, ev.frame)
            elif first_error is None:
                first_error = CommandRejected(ev.code, ev.code_name, ev.message, ev.slot, ev.command_name, ev.id)
        if first_error is not None:
            raise first_error
        return frame

    def _set_named(
        self,
        what: str,
        values: List[Tuple[str, Any]],
        slot: Optional[int],
        group: Optional[int],
        at: Optional[int],
        quantize: QuantizeSpec,
        timeout: Optional[float],
    ) -> int:
        items = []
        for name, value in values:
            if value is None:
                continue
            p = _params.lookup(name)
            s, g = _params.check_target(p, slot if p.target == "slot" else None,
                                        group if p.target == "group" else None)
            items.append((p, s, g, _params.to_value(p, value)))
        if not items:
            raise ValueError("%s: nothing to set (every value is None)" % what)
        return self._set_params(items, at, quantize, timeout)

    def highpass(
        self,
        slot: int,
        freq: Optional[float] = None,
        q: Optional[float] = None,
        on: Optional[bool] = True,
        *,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set the high-pass filter of ``slot`` (``hp-freq``, ``hp-q``, ``hp-on``).

        Parameters
        ----------
        slot : int
        freq : float, optional
            Cutoff in Hz (engine range 10..20000).
        q : float, optional
            Resonance (0.1..20; 0.707 = Butterworth).
        on : bool or None
            Switch it on (default) or off; ``None`` leaves the switch alone.

        Returns
        -------
        int
            Frame at which the change takes effect (all values together).
        """
        return self._set_named("highpass", [("hp-freq", freq), ("hp-q", q), ("hp-on", on)],
                               slot, None, at, quantize, timeout)

    def lowpass(
        self,
        slot: int,
        freq: Optional[float] = None,
        q: Optional[float] = None,
        on: Optional[bool] = True,
        *,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set the low-pass filter of ``slot`` (``lp-freq``, ``lp-q``, ``lp-on``); as :meth:`highpass`."""
        return self._set_named("lowpass", [("lp-freq", freq), ("lp-q", q), ("lp-on", on)],
                               slot, None, at, quantize, timeout)

    def eq(
        self,
        slot: int,
        *,
        low_gain: Optional[float] = None,
        low_freq: Optional[float] = None,
        mid_gain: Optional[float] = None,
        mid_freq: Optional[float] = None,
        mid_q: Optional[float] = None,
        high_gain: Optional[float] = None,
        high_freq: Optional[float] = None,
        on: Optional[bool] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set the 3-band EQ of ``slot``: low shelf, mid peak, high shelf.

        Only the values given are sent (gains in dB, -24..+24; frequencies in
        Hz; ``mid_q``; ``on`` switches the whole EQ, on by default at engine
        start). Returns the frame at which they all take effect.

        Raises
        ------
        ValueError
            Nothing given.
        """
        return self._set_named(
            "eq",
            [
                ("eq-low-freq", low_freq),
                ("eq-low-gain", low_gain),
                ("eq-mid-freq", mid_freq),
                ("eq-mid-gain", mid_gain),
                ("eq-mid-q", mid_q),
                ("eq-high-freq", high_freq),
                ("eq-high-gain", high_gain),
                ("eq-on", on),
            ],
            slot, None, at, quantize, timeout,
        )

    def fx_send(
        self,
        slot: int,
        bus: Union[int, str],
        level_db: Optional[float],
        pre: Optional[bool] = None,
        *,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set how much of ``slot`` feeds send bus ``bus`` (also ``rig.send(slot, bus, level_db)``).

        Parameters
        ----------
        slot : int
        bus : int or str
            1 or ``"delay"`` (bus 1 feeds the delay), 2 or ``"reverb"``.
        level_db : float or None
            Send level in dB (-120 = off .. +12); ``None`` leaves it.
        pre : bool, optional
            True: pre-fader (before gain/pan, after mute/solo); False:
            post-fader (default at engine start); None leaves it.

        Returns
        -------
        int
            Frame at which the change takes effect.

        Raises
        ------
        ValueError
            Unknown bus, or neither level nor pre given.
        """
        n = _bus_number(bus)
        return self._set_named("send", [("send%d-level" % n, level_db), ("send%d-pre" % n, pre)],
                               slot, None, at, quantize, timeout)

    def group(
        self,
        slot: int,
        group: Union[int, str, None],
        *,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Route ``slot`` to group bus ``group`` (0..7), or straight to the master (``None`` or -1)."""
        value = -1 if group is None else group
        return self._set_named("group", [("group", value)], slot, None, at, quantize, timeout)

    def group_gain(
        self, group: int, db: float, *, at: Optional[int] = None, quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set the level of group bus ``group`` (0..7) in dB (-120 = silent .. +12)."""
        return self._set_named("group_gain", [("group-gain", db)], None, group, at, quantize, timeout)

    def group_mute(
        self, group: int, on: Union[bool, float] = True, *, at: Optional[int] = None, quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Mute (``on=True``) or unmute group bus ``group`` (0..7)."""
        return self._set_named("group_mute", [("group-mute", on)], None, group, at, quantize, timeout)

    def delay(
        self,
        *,
        beats: Optional[float] = None,
        ms: Optional[float] = None,
        feedback: Optional[float] = None,
        lowcut: Optional[float] = None,
        highcut: Optional[float] = None,
        pingpong: Optional[bool] = None,
        return_db: Optional[float] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set the delay effect (fed by send bus 1).

        Parameters
        ----------
        beats : float, optional
            Delay time in beats of the master tempo (follows tempo changes).
        ms : float, optional
            Delay time in ms (the engine then stops following the tempo).
            Give ``beats`` or ``ms``, not both.
        feedback : float, optional
            Echo feedback, linear 0..0.95.
        lowcut, highcut : float, optional
            Hz: high-pass / low-pass in the feedback path.
        pingpong : bool, optional
            Echoes alternate left and right.
        return_db : float, optional
            Return level into the master, dB.

        Returns
        -------
        int
            Frame at which the change takes effect (all values together).

        Raises
        ------
        ValueError
            Both ``beats`` and ``ms``, or nothing given.
        """
        if beats is not None and ms is not None:
            raise ValueError("delay: give beats or ms, not both")
        return self._set_named(
            "delay",
            [
                ("delay-beats", beats),
                ("delay-ms", ms),
                ("delay-feedback", feedback),
                ("delay-lowcut", lowcut),
                ("delay-highcut", highcut),
                ("delay-pingpong", pingpong),
                ("delay-return", return_db),
            ],
            None, None, at, quantize, timeout,
        )

    def reverb(
        self,
        *,
        decay: Optional[float] = None,
        damping: Optional[float] = None,
        predelay: Optional[float] = None,
        return_db: Optional[float] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Set the reverb (fed by send bus 2): ``decay`` RT60 in s, ``damping`` Hz
        (above it the decay time is halved), ``predelay`` ms, ``return_db`` dB.

        Returns the frame at which the values take effect; ``ValueError`` if
        nothing is given.
        """
        return self._set_named(
            "reverb",
            [
                ("reverb-decay", decay),
                ("reverb-damping", damping),
                ("reverb-predelay", predelay),
                ("reverb-return", return_db),
            ],
            None, None, at, quantize, timeout,
        )

    def master_gain(
        self, db: float, *, at: Optional[int] = None, quantize: QuantizeSpec = None, timeout: Optional[float] = None
    ) -> int:
        """Set the master level in dB (-120 = silent .. +12)."""
        return self._set_named("master_gain", [("master-gain", db)], None, None, at, quantize, timeout)

    def meter_reset(self, timeout: Optional[float] = None) -> int:
        """Restart the peak holds and the integrated loudness. Returns the frame it takes effect at."""
        return self._do("meter_reset", 0, timeout).frame

    def _meter_header(self) -> Any:
        """A consistent copy of ``lr_meter_header`` (cffi struct)."""
        buf = self._meter_snapshot()
        hdr = ffi.new("lr_meter_header *")
        ffi.memmove(hdr, ffi.from_buffer(buf), ffi.sizeof("lr_meter_header"))
        return hdr

    @property
    def bpm(self) -> float:
        """Master tempo in beats per minute (from the meters)."""
        return float(self._meter_header().tempo_bpm)

    @property
    def beats_per_bar(self) -> int:
        """Beats per bar of the master grid (from the meters)."""
        return int(self._meter_header().beats_per_bar)

    @property
    def beat(self) -> float:
        """Master beat position (0 = first beat) at the start of the engine's last period.

        Use ``rig.meters()`` for the beat together with its ``frame_time``.
        """
        return float(self._meter_header().beat)

    # -- meters and status ----------------------------------------------------
    def meters(self) -> Meters:
        """Take a consistent snapshot of all meters.

        Returns
        -------
        Meters
            Arrays viewing a private copy of the meter area.

        Raises
        ------
        EngineNotRunning
            The engine process is gone (its meters would be stale).
        LooprigError
            If no consistent copy could be had within a second (engine stuck
            mid-update).
        """
        return Meters(self._meter_snapshot(), self._sm_off, self._si_off, self._slot_count,
                      mix_meter_offset=self._mix_off, slot_params_offset=self._sp_off)

    def _meter_snapshot(self) -> bytearray:
        buf = bytearray(self._meter_size)
        # lr_client_read_meters spins a bounded number of times; if the engine
        # was preempted mid-update (busy machine, no realtime scheduling), give
        # it time to finish rather than failing at once.
        deadline = time.monotonic() + _METER_RETRY_SECONDS
        sleep = 0.0005
        while True:
            with self._lock:
                client = self._check()
                self._check_engine(None)
                rc = self._lib.lr_client_read_meters(client, ffi.from_buffer(buf), len(buf))
            if rc == 0:
                return buf
            if time.monotonic() >= deadline:
                with self._lock:
                    note = self._stall_note()
                raise LooprigError("looprig: could not read a consistent meter snapshot (%s)" % note)
            time.sleep(sleep)
            sleep = min(sleep * 2, 0.01)

    def meter_view(self) -> Meters:
        """Live, zero-copy views straight onto the shared segment.

        Returns
        -------
        Meters
            Same attributes as :meth:`meters`, but every read sees the
            engine's latest values: unsynchronised (a row may mix two periods)
            and read-only. Valid only while this Rig is open. Needs NumPy.
        """
        self._check()
        if _meters._np is None:
            raise LooprigError("looprig: meter_view() needs NumPy; use meters()")
        ptr = ffi.cast("char *", self._base) + self._meters_offset
        buf = ffi.buffer(ptr, self._meter_size)
        return Meters(buf, self._sm_off, self._si_off, self._slot_count, live=True, owner=self, ptr=ptr,
                      mix_meter_offset=self._mix_off, slot_params_offset=self._sp_off)

    def engine_info(self) -> Dict[str, Any]:
        """Engine facts from the segment header, as a JSON-serialisable dict."""
        self._check()
        h = self._hdr
        rate = int(h.sample_rate)
        return {
            "name": self.name,
            "segment": self.segment_name,
            "pid": int(h.engine_pid),
            "alive": self.alive,
            "state": self.engine_state,
            "abi_version": int(h.abi_version),
            "jack_client_name": ffi.string(h.jack_client_name).decode("utf-8", "replace"),
            "jack_server_name": ffi.string(h.jack_server_name).decode("utf-8", "replace"),
            "sample_rate": rate,
            "buffer_size": int(h.buffer_size),
            "slot_count": int(h.slot_count),
            "max_clients": int(h.max_clients),
            "client_index": self.client_index,
            "declick_frames": int(h.declick_frames),
            "declick_ms": (1000.0 * int(h.declick_frames) / rate) if rate else None,
            "smooth_frames": int(h.smooth_frames),
            "smooth_ms": (1000.0 * int(h.smooth_frames) / rate) if rate else None,
            "frame_time": int(h.frame_time),
            "heartbeat": int(h.heartbeat),
            "heartbeat_age": self.heartbeat_age,
            "rt_violations": int(h.rt_violations),
            "segment_size": int(h.segment_size),
        }

    def status(self, all_slots: bool = True) -> Dict[str, Any]:
        """Engine info, master meters and every slot's state and meters.

        Parameters
        ----------
        all_slots : bool
            Include empty slots (default True).

        Returns
        -------
        dict
            JSON-serialisable (plain ints, floats, strings, lists, None):
            ``engine`` (:meth:`engine_info`), ``meters`` (master, loudness,
            bus meters, ...), ``mixer`` (``global``: every effect/master
            param, ``groups``: each group bus's params, ``delay_frames``,
            ``published``: False for an engine that publishes no param values)
            and ``slots`` (each with ``mixer``: its params that differ from
            the defaults, and ``group``: its group bus or None).
        """
        info = self.engine_info()
        m = self.meters().to_dict(all_slots=all_slots)
        slots = m.pop("slots")
        mixer = m.pop("mixer")
        return {"engine": info, "meters": m, "mixer": mixer, "slots": slots}


def _bus_number(bus: Union[int, str]) -> int:
    """1 or 2 from 1, 2, "1", "2", "delay", "reverb"."""
    if isinstance(bus, str):
        b = bus.strip().lower()
        if b in _params.BUSES:
            return _params.BUSES[b]
        if b.isdigit():
            bus = int(b)
    if not isinstance(bus, bool):
        try:
            n = operator.index(bus)  # type: ignore[arg-type]
        except TypeError:
            n = -1
        if 1 <= n <= _params.SENDS:
            return n
    raise ValueError("unknown send bus %r: 1 or 'delay', 2 or 'reverb'" % (bus,))


def _is_one_slot(slot: Any) -> bool:
    """True for a single slot number (an int or anything with ``__index__``, not a str or sequence)."""
    if isinstance(slot, (str, bytes)) or isinstance(slot, Sequence):
        return False
    try:
        operator.index(slot)
    except TypeError:
        return not hasattr(slot, "__iter__")
    return True


def _mode_value(mode: Union[str, int]) -> int:
    if isinstance(mode, str):
        try:
            return MODES[mode.strip().lower()]
        except KeyError:
            raise ValueError("unknown mode %r (one of %s)" % (mode, ", ".join(MODES))) from None
    return operator.index(mode)


def _boolish(on: Union[bool, float]) -> float:
    if isinstance(on, bool):
        return 1.0 if on else 0.0
    return float(on)


def attach(name: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT, wait: float = 0.0) -> Rig:
    """Attach to a running engine.

    Parameters
    ----------
    name : str, optional
        Engine name (default ``$LOOPRIG_NAME`` or ``"looprig"``).
    timeout : float
        Default per-command answer timeout, seconds.
    wait : float
        Seconds to wait for the engine to appear (0: fail at once).

    Returns
    -------
    Rig
        Use it as a context manager: ``with looprig.attach() as rig: ...``.
    """
    return Rig(name=name, timeout=timeout, wait=wait)
