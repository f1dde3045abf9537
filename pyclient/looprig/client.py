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
from typing import Any, Deque, Dict, List, Optional, Tuple, Union

from . import meters as _meters
from ._ffi import ffi, get_lib
from ._names import (
    ATTACH_ERRORS,
    COMMAND_NAMES,
    COMMANDS,
    ENGINE_STATE_NAMES,
    ENGINE_STATES,
    ERROR_NAMES,
    EVENT_TYPE_NAMES,
    EVENT_TYPES,
    MODES,
    TRANSPORT_MODES,
    QUANTIZE,
    SEND_ERRORS,
)
from .errors import (
    AttachError,
    CommandRejected,
    Detached,
    EngineNotRunning,
    LooprigError,
    RingFull,
    Timeout,
)
from .meters import Meters

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
]

#: Default seconds to wait for a command's answer.
DEFAULT_TIMEOUT = 5.0
#: Default seconds to wait for a LOAD's answer (the engine answers when loaded).
LOAD_TIMEOUT = 30.0

TEXT_MAX: int = dict(ffi.typeof("lr_command").fields)["text"].type.length
_VALUE_COUNT: int = dict(ffi.typeof("lr_command").fields)["value"].type.length
_STASH_MAX = 4096
#: Seconds meters() keeps retrying while the engine is mid-update.
_METER_RETRY_SECONDS = 1.0
_INT32 = (-(2**31), 2**31 - 1)
_UINT64_MAX = 2**64 - 1

QuantizeSpec = Union[None, str, Tuple[str, int]]


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
        JACK frame at which the command takes/took effect (PING: now).
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
        Loop length in frames at the engine (JACK) sample rate, after conversion.
    source_rate : int
        Sample rate of the file.
    message : str
        Engine's text.
    frame : int
        JACK frame at which the new buffer was installed.
    """

    slot: int
    frames: int
    source_rate: int
    message: str
    frame: int = 0


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
        while True:
            rc = self._lib.lr_client_attach(self.name.encode("utf-8"), pp, err, 512)
            if rc >= 0:
                break
            msg = ffi.string(err).decode("utf-8", "replace") or "attach failed (%d)" % rc
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
        """JACK frame time at the start of the engine's last period."""
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
    def client_index(self) -> int:
        """This client's place in the segment (0..LR_MAX_CLIENTS-1)."""
        return int(self._lib.lr_client_index(self._check()))

    @property
    def alive(self) -> bool:
        """True while the engine process is alive."""
        return bool(self._lib.lr_client_engine_alive(self._check()))

    def _engine_gone(self) -> EngineNotRunning:
        pid = int(self._hdr.engine_pid)
        if int(self._hdr.engine_state) == ENGINE_STATES["jack_lost"]:
            why = "lost its JACK server"
        else:
            why = "is not running any more"
        return EngineNotRunning("looprig engine %r (pid %d) %s" % (self.name, pid, why), name=self.name)

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
            The engine process went away while waiting.
        """
        timeout = self.timeout if timeout is None else float(timeout)
        deadline = time.monotonic() + timeout
        sleep = 0.0002
        while True:
            with self._lock:
                self._check()
                ev = self._stash.pop(cid, None)
                if ev is None:
                    self._drain()
                    ev = self._stash.pop(cid, None)
                alive = ev is not None or self._lib.lr_client_engine_alive(self._client)
            if ev is not None:
                if raise_on_error and not ev.ok:
                    raise CommandRejected(ev.code, ev.code_name, ev.message, ev.slot, ev.command_name, ev.id)
                return ev
            if not alive:
                raise self._engine_gone()
            now = time.monotonic()
            if now >= deadline:
                raise Timeout(
                    "looprig: no answer to command %d from engine %r within %.3g s (engine state: %s)"
                    % (cid, self.name, timeout, self.engine_state)
                )
            time.sleep(min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 1.5, 0.002)

    # -- commands -------------------------------------------------------------
    def send(
        self,
        command: Union[str, int],
        slot: int = 0,
        *,
        value: Union[None, float, Tuple[float, ...], List[float]] = None,
        text: Union[None, str, bytes] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        wait: bool = False,
        timeout: Optional[float] = None,
    ) -> Any:
        """Queue one command (the general/asynchronous form).

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
            Absolute JACK frame time at which the command takes effect.
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
                raise ValueError("at=%d is not a JACK frame time (must be >= 0)" % at)
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
        while True:
            with self._lock:
                client = self._check()
                if not self._lib.lr_client_engine_alive(client):
                    raise self._engine_gone()
                rc = int(self._lib.lr_client_send(client, cmd))
                if rc == SEND_ERRORS["LR_SEND_FULL"]:
                    self._drain()  # keep answers flowing; they stay stashed
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
                raise RingFull(
                    "looprig: command ring of engine %r stayed full for %.3g s (engine state: %s)"
                    % (self.name, timeout, self.engine_state)
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
            The engine's JACK frame time when it handled the ping.
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
            ``(slot, frames, source_rate, message, frame)``.
        """
        data = os.fsencode(os.path.abspath(os.fspath(path)))
        if len(data) > TEXT_MAX:
            raise ValueError("path is %d bytes, more than LR_TEXT_MAX (%d)" % (len(data), TEXT_MAX))
        ev = self._do("load", slot, LOAD_TIMEOUT if timeout is None else timeout, text=data)
        return LoadResult(
            slot=ev.slot,
            frames=int(ev.value[0]) if math.isfinite(ev.value[0]) else 0,
            source_rate=int(ev.value[1]) if math.isfinite(ev.value[1]) else 0,
            message=ev.message,
            frame=ev.frame,
        )

    def unload(self, slot: int, timeout: Optional[float] = None) -> int:
        """Empty ``slot`` (it stops first). Returns the frame it takes effect at."""
        return self._do("unload", slot, timeout).frame

    def play(self, slot: int, at: Optional[int] = None, quantize: QuantizeSpec = None, timeout: Optional[float] = None) -> int:
        """Start ``slot`` from the loop start.

        Parameters
        ----------
        slot : int
            Slot index.
        at : int, optional
            Absolute JACK frame time to start at (else the next period).
        quantize : None, str or tuple, optional
            ``"slot:K"`` / ``"frames:N"`` / ``"beat[:N]"`` / ``"bar[:N]"``:
            start on that grid (after ``at``); see :func:`parse_quantize`.

        Returns
        -------
        int
            JACK frame at which the slot starts (the ACK's frame).
        """
        return self._do("play", slot, timeout, at=at, quantize=quantize).frame

    def stop(self, slot: int, at: Optional[int] = None, quantize: QuantizeSpec = None, timeout: Optional[float] = None) -> int:
        """Stop ``slot``; same scheduling as :meth:`play`. Returns the stop frame."""
        return self._do("stop", slot, timeout, at=at, quantize=quantize).frame

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
            Absolute JACK frame time of the change (else the next period).
        quantize : None, str or tuple, optional
            E.g. ``"bar"``: change on the next bar start (after ``at``).

        Returns
        -------
        int
            JACK frame at which the new tempo takes effect. The beat position
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
        LooprigError
            If no consistent copy could be had within a second (engine stuck
            mid-update).
        """
        return Meters(self._meter_snapshot(), self._sm_off, self._si_off, self._slot_count)

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
                rc = self._lib.lr_client_read_meters(client, ffi.from_buffer(buf), len(buf))
                if rc != 0 and not self._lib.lr_client_engine_alive(client):
                    raise self._engine_gone()
            if rc == 0:
                return buf
            if time.monotonic() >= deadline:
                raise LooprigError("looprig: could not read a consistent meter snapshot")
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
        return Meters(buf, self._sm_off, self._si_off, self._slot_count, live=True, owner=self, ptr=ptr)

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
            "frame_time": int(h.frame_time),
            "heartbeat": int(h.heartbeat),
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
            JSON-serialisable (plain ints, floats, strings, lists, None).
        """
        info = self.engine_info()
        m = self.meters().to_dict(all_slots=all_slots)
        slots = m.pop("slots")
        return {"engine": info, "meters": m, "slots": slots}


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
