"""The attachment to a running looprigd: the ``lr_client`` handle and the live header.

:class:`Connection` attaches (retrying while an engine starts), releases its
client place once (on :meth:`Connection.close` or garbage collection, never
from a forked child), reads the segment header, and tells a dead engine from a
stalled one. It is the only place that calls the ``lr_client_*`` functions;
everything else (commands, answers, meters) goes through it, so a test can put
a recording stand-in in its place.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Any, Dict, Optional

from ._ffi import ffi, get_lib
from ._names import ATTACH_ERRORS, ENGINE_STATE_NAMES, ENGINE_STATES
from .errors import AttachError, EngineNotRunning, EngineStalled, LooprigError

__all__ = [
    "Connection",
    "default_name",
    "segment_name",
    "STALL_SECONDS",
    "STALL_GRACE",
    "UINT64_MAX",
]

#: Seconds without a heartbeat (the engine runs no period) after which a call
#: that waits on the engine raises :class:`EngineStalled` instead of waiting
#: out its whole timeout (``Rig.stall_seconds`` per Rig). Not applied while
#: the engine waits for its JACK server (engine state ``"jack_lost"``).
STALL_SECONDS = 2.0
#: A wait reports a stall only after it has itself waited this long (an
#: engine that was just continued after SIGSTOP gets time to run a period).
STALL_GRACE = 0.25
#: Seconds attach(wait=...) retries a segment whose header is not valid yet (an engine starting).
_BAD_SEGMENT_GRACE = 2.0
UINT64_MAX = 2**64 - 1


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


def _detach(lib: Any, handle: Any, state: Dict[str, Any], lock: Any) -> None:
    """Finalizer: release the client place once (close() or garbage collection).

    Under the connection's lock, so that no other thread (a reader thread) is
    inside an ``lr_client_*`` call then; every call checks ``attached`` first.
    A forked child that inherited the connection never releases the parent's place.
    """
    with lock:
        if state.get("attached"):
            state["attached"] = False
            if state.get("pid") == os.getpid():
                lib.lr_client_detach(handle)


class Connection:
    """One client place in the segment of engine ``name``.

    Parameters
    ----------
    name : str
        Engine name (``looprigd --name``).
    wait : float
        Seconds to keep retrying while no engine is running; 0 fails at once.
    owner : object, optional
        Whose garbage collection releases the place (default: the connection).

    Raises
    ------
    EngineNotRunning
        No engine of that name is running (or its segment is stale).
    AttachError
        The segment is unusable (ABI mismatch, permissions, no free client place).
    LibraryNotFound
        ``liblooprig-shm.so`` could not be loaded.

    Notes
    -----
    :attr:`lock` (re-entrant) serialises every use of the handle; the command
    channel and the meter reader take it too.
    """

    def __init__(self, name: str, wait: float = 0.0, owner: Any = None) -> None:
        self.name = name
        #: See :data:`STALL_SECONDS`.
        self.stall_seconds = STALL_SECONDS
        self.lock = threading.RLock()
        self.lib = get_lib()
        self.attach_state: Dict[str, Any] = {"attached": False, "pid": os.getpid()}
        self.segment_name = segment_name(name)
        self.client = self._attach(max(0.0, float(wait)))
        self.attach_state["attached"] = True
        self._finalizer = weakref.finalize(self if owner is None else owner, _detach, self.lib, self.client,
                                           self.attach_state, self.lock)
        self._read_layout(self.lib.lr_client_base(self.client))

    def _attach(self, wait: float) -> Any:
        deadline = time.monotonic() + wait
        pp = ffi.new("lr_client **")
        err = ffi.new("char[]", 512)
        delay = 0.02
        bad_until: Optional[float] = None
        while True:
            rc = self.lib.lr_client_attach(self.name.encode("utf-8"), pp, err, 512)
            if rc >= 0:
                return pp[0]
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

    def _read_layout(self, base: Any) -> None:
        """Where things are in the segment (fixed for the life of the attachment)."""
        self.base = base
        self.hdr = ffi.cast("lr_header *", base)
        h = self.hdr
        #: Byte offset of the meter area in the segment, and its size.
        self.meters_offset = int(h.meters_offset)
        self.meter_size = int(h.meter_area_size)
        #: Offsets of the parts of the meter area, from its start.
        self.slot_meters_offset = int(h.slot_meters_offset) - self.meters_offset
        self.slot_infos_offset = int(h.slot_infos_offset) - self.meters_offset
        self.mix_meter_offset = int(h.mix_meter_offset) - self.meters_offset
        self.slot_params_offset = int(h.slot_params_offset) - self.meters_offset
        self.slot_count = int(h.slot_count)

    # -- lifetime -------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called (or the owner was collected)."""
        return not self.attach_state["attached"]

    def close(self) -> None:
        """Release the client place and unmap the segment (idempotent)."""
        with self.lock:
            self._finalizer()

    def check(self) -> Any:
        """The ``lr_client *`` handle; :class:`LooprigError` once closed."""
        if not self.attach_state["attached"]:
            raise LooprigError("looprig: this Rig is closed")
        return self.client

    # -- the rings and the meter area (the only calls into lr_client_*) ------------
    def send(self, cmd: Any) -> int:
        """``lr_client_send``: the command id (> 0) or an ``LR_SEND_*`` error. Caller holds the lock."""
        return int(self.lib.lr_client_send(self.check(), cmd))

    def send_batch(self, cmds: Any, n: int) -> int:
        """``lr_client_send_batch`` (ids written into ``cmds``). Caller holds the lock."""
        return int(self.lib.lr_client_send_batch(self.check(), cmds, n))

    def poll(self, ev: Any) -> bool:
        """``lr_client_poll``: True if an event was copied into ``ev``. Caller holds the lock."""
        return bool(self.lib.lr_client_poll(self.check(), ev) == 1)

    def read_meters(self, buf: bytearray) -> int:
        """``lr_client_read_meters`` into ``buf`` (0: a consistent copy). Caller holds the lock."""
        return int(self.lib.lr_client_read_meters(self.check(), ffi.from_buffer(buf), len(buf)))

    # -- live header ----------------------------------------------------------
    @property
    def frame_time(self) -> int:
        """The engine's frame time at the start of its last period."""
        return int(self.lib.lr_client_frame_time(self.check()))

    @property
    def engine_state(self) -> str:
        """``"starting"``, ``"running"``, ``"stopping"`` or ``"jack_lost"``."""
        self.check()
        s = int(self.hdr.engine_state)
        return ENGINE_STATE_NAMES.get(s, "unknown(%d)" % s)

    @property
    def client_index(self) -> int:
        """This client's place in the segment (0..LR_MAX_CLIENTS-1)."""
        return int(self.lib.lr_client_index(self.check()))

    @property
    def alive(self) -> bool:
        """True while the engine process is alive (also while it waits for its JACK server)."""
        return bool(self.lib.lr_client_engine_alive(self.check()))

    def heartbeat_age_usecs(self) -> int:
        """Microseconds since the engine's last period (:data:`UINT64_MAX` before its first)."""
        return int(self.lib.lr_client_heartbeat_age_usecs(self.check()))

    @property
    def heartbeat_age(self) -> Optional[float]:
        """Seconds since the engine last ran a period (None before its first)."""
        age = self.heartbeat_age_usecs()
        return None if age == UINT64_MAX else age / 1e6

    # -- a dead or stuck engine -------------------------------------------------
    def engine_gone(self) -> EngineNotRunning:
        """The error for an engine whose process is gone; says how it ended."""
        pid = int(self.hdr.engine_pid)
        state = int(self.hdr.engine_state)
        if state == ENGINE_STATES["jack_lost"]:
            why = "lost its JACK server and exited"
        elif state == ENGINE_STATES["stopping"]:
            why = "was stopped (it shut down)"
        else:
            why = "is not running any more: killed or crashed"
        return EngineNotRunning("looprig engine %r (pid %d) %s" % (self.name, pid, why), name=self.name, pid=pid)

    def stall_note(self) -> str:
        """Why the engine might not answer: its state and heartbeat age (for messages)."""
        age = self.heartbeat_age_usecs()
        state = int(self.hdr.engine_state)
        pid = int(self.hdr.engine_pid)
        if state == ENGINE_STATES["jack_lost"]:
            return "engine pid %d is waiting for the JACK server" % pid
        if age == UINT64_MAX:
            return "engine pid %d has run no period yet (state: %s)" % (pid, self.engine_state)
        return "engine pid %d alive, state %s, last period %.3g s ago" % (pid, self.engine_state, age / 1e6)

    def engine_problem(self, waited: Optional[float]) -> Optional[Exception]:
        """EngineNotRunning if the engine process is gone; once a wait has
        lasted ``waited`` >= :data:`STALL_GRACE`, EngineStalled if the engine
        runs but its heartbeat stopped more than :attr:`stall_seconds` ago;
        else None. Caller holds the lock."""
        if not self.alive:
            return self.engine_gone()
        if waited is None or waited < STALL_GRACE or int(self.hdr.engine_state) != ENGINE_STATES["running"]:
            return None
        age = self.heartbeat_age_usecs()
        if age != UINT64_MAX and age > self.stall_seconds * 1e6:
            pid = int(self.hdr.engine_pid)
            return EngineStalled(
                "looprig engine %r (pid %d) is alive but has run no audio period for %.1f s: "
                "stopped (SIGSTOP), stuck, or its JACK server is stalled" % (self.name, pid, age / 1e6),
                pid=pid, seconds=age / 1e6)
        return None

    def check_engine(self, waited: Optional[float]) -> None:
        """Raise what :meth:`engine_problem` finds. Caller holds the lock."""
        problem = self.engine_problem(waited)
        if problem is not None:
            raise problem
