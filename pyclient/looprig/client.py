"""The :class:`Rig`: one attachment to a running looprigd.

A Rig is a facade over the parts that do the work:

- :class:`~looprig.connection.Connection` -- attach/detach, the live header,
  a dead or stalled engine;
- :class:`~looprig.channel.CommandChannel` -- commands out, answers in (by
  command id), now or later;
- :class:`~looprig.commands.CommandMethods` / :class:`~looprig.commands.RawCommandMethods`
  -- the commands (``play``, ``gain``, ``tempo``, ..., ``save``/``open``
  (sessions), ``send_command``, ``send_batch``, ``submit``);
- :class:`~looprig.mixer.MixerMethods` -- the mixer and effects, generated
  from the params table;
- :class:`~looprig.state.StateReader` -- meters, param values, engine facts,
  status.

Every command method sends its command(s) and waits for the answer: an ACK
returns an :class:`~looprig.answers.Answer` (an ``int``, the frame at which
the command takes effect, carrying the engine's message and the values set),
an ERROR raises :class:`~looprig.errors.CommandRejected` with the engine's own
message. ``rig.nowait`` has the same methods returning futures instead.
"""

from __future__ import annotations

from typing import Any, Callable, Deque, Dict, List, Optional, Union

from .answers import Answer, Event, LoadResult
from .channel import BATCH_MAX, TEXT_MAX, CommandChannel, CommandFuture, Plan
from .commands import (
    DEFAULT_TIMEOUT,
    LOAD_TIMEOUT,
    OPEN_TIMEOUT,
    PARAM_MARGIN_PERIODS,
    SAVE_TIMEOUT,
    BatchItem,
    CommandMethods,
    QuantizeSpec,
    RawCommandMethods,
    Slots,
    parse_quantize,
)
from .connection import STALL_SECONDS, Connection, default_name, segment_name
from .errors import EngineNotRunning
from .meters import Meters
from .mixer import MixerMethods
from .params import Param
from .state import StateReader

__all__ = [
    "Rig",
    "NoWait",
    "attach",
    "Answer",
    "Event",
    "LoadResult",
    "CommandFuture",
    "parse_quantize",
    "segment_name",
    "default_name",
    "TEXT_MAX",
    "DEFAULT_TIMEOUT",
    "LOAD_TIMEOUT",
    "SAVE_TIMEOUT",
    "OPEN_TIMEOUT",
    "PARAM_MARGIN_PERIODS",
    "STALL_SECONDS",
    "BATCH_MAX",
    "QuantizeSpec",
    "Slots",
    "BatchItem",
]


def _header_int(field: str, doc: str) -> Any:
    def get(self: "Rig") -> int:
        self._conn.check()
        return int(getattr(self._conn.hdr, field))

    get.__doc__ = doc
    return property(get)


class Rig(CommandMethods, RawCommandMethods, MixerMethods):
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
    garbage collected. ``rig.nowait`` sends without waiting (futures).
    """

    def __init__(self, name: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT, wait: float = 0.0) -> None:
        self._compose(Connection(default_name() if name is None else name, wait, owner=self), timeout)

    def _compose(self, conn: Connection, timeout: float) -> None:
        self.name: str = conn.name
        self.timeout = float(timeout)
        self.segment_name = conn.segment_name
        self._conn = conn
        self._channel = CommandChannel(conn)
        self._state_reader = StateReader(conn)

    @classmethod
    def _over(cls, conn: Connection, timeout: float = DEFAULT_TIMEOUT) -> "Rig":
        """A Rig over a connection made elsewhere (tests: a stand-in without an engine)."""
        rig = cls.__new__(cls)
        rig._compose(conn, timeout)
        return rig

    def _run(self, plan: Plan, timeout: float) -> Any:
        return self._channel.run(plan, timeout)

    # -- lifetime -------------------------------------------------------------
    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._conn.closed

    def close(self) -> None:
        """Release the client place and unmap the segment (idempotent).

        Commands in flight (futures) fail with :class:`LooprigError`; live
        views from :meth:`meter_view` must not be used afterwards.
        """
        if not self._conn.closed:
            self._channel.close()
        self._conn.close()

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

    @property
    def stall_seconds(self) -> float:
        """Seconds without a heartbeat after which a wait raises
        :class:`EngineStalled` (default :data:`STALL_SECONDS`)."""
        return self._conn.stall_seconds

    @stall_seconds.setter
    def stall_seconds(self, seconds: float) -> None:
        self._conn.stall_seconds = float(seconds)

    # -- live header ----------------------------------------------------------
    @property
    def header(self) -> Any:
        """The live ``lr_header *`` of the segment (cffi; read-only use)."""
        self._conn.check()
        return self._conn.hdr

    @property
    def frame_time(self) -> int:
        """The engine's frame time at the start of its last period.

        JACK's frame time, continued across a JACK server restart (see
        ``jack_frame_offset`` in docs/PROTOCOL.md)."""
        return self._conn.frame_time

    sample_rate = _header_int("sample_rate", "Engine sample rate (Hz).")
    buffer_size = _header_int("buffer_size", "JACK period size (frames).")
    slot_count = _header_int("slot_count", "Number of loop slots.")
    engine_pid = _header_int("engine_pid", "Process id of looprigd.")
    heartbeat = _header_int("heartbeat", "Periods processed by the engine so far.")
    declick_frames = _header_int("declick_frames", "Current declick ramp length in frames.")
    smooth_frames = _header_int("smooth_frames",
                                "Ramp length of mixer/effect param changes in frames (``looprigd --smooth-ms``).")

    @property
    def engine_state(self) -> str:
        """``"starting"``, ``"running"``, ``"stopping"`` or ``"jack_lost"``."""
        return self._conn.engine_state

    @property
    def client_index(self) -> int:
        """This client's place in the segment (0..LR_MAX_CLIENTS-1)."""
        return self._conn.client_index

    @property
    def alive(self) -> bool:
        """True while the engine process is alive (also while it waits for its JACK server)."""
        return self._conn.alive

    @property
    def heartbeat_age(self) -> Optional[float]:
        """Seconds since the engine last ran a period (None before its first)."""
        return self._conn.heartbeat_age

    def _engine_gone(self) -> EngineNotRunning:
        """The error that says how the engine ended (it is not alive)."""
        return self._conn.engine_gone()

    # -- answers, now or later ------------------------------------------------------
    @property
    def notices(self) -> Deque[Event]:
        """Unsolicited INFO events (id 0), most recent last (bounded)."""
        return self._channel.notices

    def poll(self) -> List[Event]:
        """Read pending events now; return the unsolicited notices among them.

        Does what :meth:`pump` does (futures that are done are resolved, in
        this thread); answers to :meth:`send_command` ids stay stashed for
        :meth:`wait`.
        """
        return self._channel.poll()

    def pump(self) -> int:
        """Deliver what has arrived, without waiting: for a GUI timer.

        Pushes commands that wait for room in the command ring, reads the
        event ring, and resolves the futures of ``rig.nowait`` / :meth:`submit`
        calls whose answers are in (or that failed: engine gone or stalled,
        timed out). Their callbacks run here, in the calling thread.

        Returns
        -------
        int
            How many futures were resolved (0 on a closed Rig).
        """
        return self._channel.pump()

    def start_reader(self, interval: float = 0.002) -> None:
        """Resolve futures from a background thread instead of :meth:`pump`.

        The daemon thread reads the event ring every ``interval`` seconds
        while commands are in flight and sleeps while none is; futures'
        callbacks then run in it (a GUI passes results to its own thread).
        Stopped by :meth:`stop_reader` or :meth:`close`.
        """
        self._channel.start_reader(interval)

    def stop_reader(self) -> None:
        """Stop the background reader thread (idempotent)."""
        self._channel.stop_reader()

    @property
    def in_flight(self) -> int:
        """Calls sent (or waiting for room in the ring) whose answers are not all in."""
        return self._channel.in_flight

    @property
    def nowait(self) -> "NoWait":
        """The command methods, returning at once with a future of the answer.

        ``rig.nowait.play(0)`` sends now and returns a
        :class:`~looprig.channel.CommandFuture` (a
        :class:`concurrent.futures.Future`) resolved with what ``rig.play(0)``
        returns, or failed with what it raises; ``rig.nowait(callback=f)``
        also calls ``f(future)`` when it is. See :class:`NoWait`.
        """
        return NoWait(self)

    # -- meters and state -----------------------------------------------------
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
        return self._state_reader.meters()

    def meter_view(self) -> Meters:
        """Live, zero-copy views straight onto the shared segment.

        Returns
        -------
        Meters
            Same attributes as :meth:`meters`, but every read sees the
            engine's latest values: unsynchronised (a row may mix two periods)
            and read-only. Valid only while this Rig is open. Needs NumPy.
        """
        return self._state_reader.meter_view(owner=self)

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
        return self._state_reader.param_value(name_or_id, slot, group)

    @property
    def bpm(self) -> float:
        """Master tempo in beats per minute (from the meters)."""
        return float(self._state_reader.meter_header().tempo_bpm)

    @property
    def beats_per_bar(self) -> int:
        """Beats per bar of the master grid (from the meters)."""
        return int(self._state_reader.meter_header().beats_per_bar)

    @property
    def beat(self) -> float:
        """Master beat position (0 = first beat) at the start of the engine's last period.

        Use ``rig.meters()`` for the beat together with its ``frame_time``.
        """
        return float(self._state_reader.meter_header().beat)

    def engine_info(self) -> Dict[str, Any]:
        """Engine facts from the segment header, as a JSON-serialisable dict."""
        return self._state_reader.engine_info()

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
        return self._state_reader.status(all_slots)

    # -- private names other code and tests reached into (kept working) ---------------
    @property
    def _lib(self) -> Any:
        return self._conn.lib

    @property
    def _client(self) -> Any:
        return self._conn.client

    @property
    def _hdr(self) -> Any:
        return self._conn.hdr

    @property
    def _base(self) -> Any:
        return self._conn.base

    @property
    def _lock(self) -> Any:
        return self._conn.lock

    @property
    def _stash(self) -> Any:
        return self._channel.stash


class NoWait(CommandMethods, MixerMethods):
    """``rig.nowait``: a Rig's command methods that send now and answer later.

    Every command method of :class:`Rig` (``play``, ``stop``, ``load``,
    ``gain``, ..., ``tempo``, ..., ``param``, ``highpass``, ``eq``, ...,
    ``meter_reset``, ``save``, ``open``, ``ping``) takes the same arguments and checks them the
    same way (a bad argument raises at once, nothing sent), but returns a
    :class:`~looprig.channel.CommandFuture` at once instead of waiting. The
    future is resolved with what the Rig's method returns (an
    :class:`Answer`, a list of them, a :class:`LoadResult`) or failed with
    what it raises: :class:`CommandRejected` (the engine's message),
    :class:`EngineNotRunning` (also when the engine dies while the command is
    in flight), :class:`EngineStalled`, :class:`Timeout` (no answer within the
    call's ``timeout``), :class:`RingFull` (no room in the command ring
    within it; commands wait in order in the client until there is).

    Futures are resolved, and their callbacks run, by :meth:`Rig.pump` /
    :meth:`Rig.poll` (call it from a GUI timer), by ``future.result()`` while
    it waits, or by the reader thread (:meth:`Rig.start_reader`). Calls are
    sent in the order they are made, also with the Rig's waiting methods.

    ``rig.nowait(callback=f)`` is a view whose calls also run ``f(future)``
    once their future is resolved.
    """

    def __init__(self, rig: Rig, callback: Optional[Callable[[CommandFuture], Any]] = None) -> None:
        self._rig = rig
        self._callback = callback
        self._channel = rig._channel
        self._conn = rig._conn

    def __call__(self, callback: Optional[Callable[[CommandFuture], Any]] = None) -> "NoWait":
        """A view whose calls run ``callback(future)`` when their future is resolved."""
        return NoWait(self._rig, callback)

    @property
    def timeout(self) -> float:  # type: ignore[override]
        """The Rig's default timeout."""
        return self._rig.timeout

    def meters(self) -> Meters:
        return self._rig.meters()

    def _run(self, plan: Plan, timeout: float) -> CommandFuture:
        return self._channel.submit(plan, timeout, self._callback)

    def __repr__(self) -> str:
        return "<looprig.NoWait of %r>" % self._rig


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

