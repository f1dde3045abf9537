"""The command and event rings of one client: pushing commands, dispatching answers.

A :class:`Plan` is what one call sends (single commands and/or batches) and
how its answers become its result. :class:`CommandChannel` pushes plans into
the command ring in the order they were given (one waiting for room holds back
the ones behind it), reads the event ring and hands each answer to the call
that is waiting for it, by command id:

- :meth:`CommandChannel.run` sends a plan and waits for its answers (the
  synchronous API);
- :meth:`CommandChannel.submit` sends a plan and returns at once with a
  :class:`CommandFuture`, resolved when its answers are in (or failed:
  ``CommandRejected``, ``EngineNotRunning``, ``Timeout``, ``RingFull``, ...)
  by whoever calls :meth:`CommandChannel.pump` (a GUI timer), a waiting
  :meth:`CommandFuture.result`, or the optional background reader
  (:meth:`CommandChannel.start_reader`);
- :meth:`CommandChannel.push` only sends (answers are kept for
  :meth:`CommandChannel.wait`, by id).

Answers that nobody waits for by call are stashed by id for :meth:`wait`;
unsolicited notices (INFO, id 0) go to :attr:`CommandChannel.notices`.
Futures are settled (their callbacks run) only in ``pump()``/``poll()``, the
reader thread, or a thread blocked in ``future.result()`` -- never inside an
unrelated synchronous call.
"""

from __future__ import annotations

import collections
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, field
from typing import Any, Callable, Deque, Dict, List, Optional, Sequence, Tuple

from ._ffi import ffi
from ._names import SEND_ERRORS
from .answers import Event, event_from_c, rejection
from .connection import STALL_GRACE, Connection
from .errors import Detached, EngineNotRunning, LooprigError, RingFull, Timeout

__all__ = ["Plan", "CommandChannel", "CommandFuture", "TEXT_MAX", "BATCH_MAX"]

TEXT_MAX: int = dict(ffi.typeof("lr_command").fields)["text"].type.length
#: Most commands in one batch: ``LR_CMD_RING_SIZE``.
BATCH_MAX: int = dict(ffi.typeof("lr_client_slot").fields)["commands"].type.length
_STASH_MAX = 4096


@dataclass
class Plan:
    """What one call sends, and how its answers become its result.

    Attributes
    ----------
    sends : list of (list of cffi ``lr_command *``, bool)
        In order: each a single command (``[cmd], False``) or a batch published
        at once (``[cmd, ...], True``).
    finish : callable
        ``finish(events)`` with the answers in command order: the call's result
        (it raises, e.g. :class:`CommandRejected`, to fail the call).
    tracked : bool
        False: the call only sends; its answers are stashed for ``wait(id)``
        and its result is the list of command ids.
    """

    sends: List[Tuple[List[Any], bool]]
    finish: Callable[[List[Event]], Any] = lambda events: events
    tracked: bool = True

    @property
    def count(self) -> int:
        """Number of commands."""
        return sum(len(cmds) for cmds, _ in self.sends)


class CommandFuture(Future):  # type: ignore[type-arg]
    """A :class:`concurrent.futures.Future` of a submitted command.

    :meth:`result` and :meth:`exception` read the event ring themselves while
    they wait (unless the background reader does), so they need no other
    poller. :meth:`cancel` withdraws a command that still waits for room in
    the command ring; one already sent cannot be cancelled.
    """

    def __init__(self, channel: "CommandChannel") -> None:
        super().__init__()
        self._channel = channel

    def result(self, timeout: Optional[float] = None) -> Any:
        self._channel.pump_until(self, timeout)
        return super().result(timeout)

    def exception(self, timeout: Optional[float] = None) -> Optional[BaseException]:
        self._channel.pump_until(self, timeout)
        return super().exception(timeout)


class _Request:
    """One call in flight: its plan, ids, answers and outcome."""

    def __init__(self, plan: Plan, timeout: float, future: Optional[CommandFuture]) -> None:
        self.plan = plan
        self.timeout = timeout
        self.started = time.monotonic()
        self.deadline = self.started + timeout
        self.future = future
        self.unsent = len(plan.sends)
        self.ids: List[int] = []
        self.answers: Dict[int, Event] = {}
        self.error: Optional[BaseException] = None
        self.settled = False

    @property
    def complete(self) -> bool:
        """Every command sent and (tracked) answered."""
        return self.unsent == 0 and (not self.plan.tracked or len(self.answers) == self.plan.count)

    @property
    def done(self) -> bool:
        return self.error is not None or self.complete

    def outcome(self) -> Any:
        """The call's result (raises its error)."""
        if self.error is not None:
            raise self.error
        if not self.plan.tracked:
            return list(self.ids)
        return self.plan.finish([self.answers[i] for i in self.ids])


@dataclass
class _Send:
    cmds: List[Any]
    batch: bool
    request: _Request = field(repr=False)


class CommandChannel:
    """Commands out, answers in, for one :class:`~looprig.connection.Connection`.

    Parameters
    ----------
    conn : Connection
        The attachment (its lock serialises everything here).

    Notes
    -----
    Thread-safe: any thread may run, submit, wait or pump.
    """

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = conn.lock
        self._wake = threading.Condition(self.lock)
        #: Answers nobody waits for by call, by command id (for :meth:`wait`).
        self.stash: "collections.OrderedDict[int, Event]" = collections.OrderedDict()
        #: Unsolicited INFO events (id 0), most recent last (bounded).
        self.notices: Deque[Event] = collections.deque(maxlen=256)
        self._notice_count = 0
        self._evbuf = ffi.new("lr_event *")
        self._outbox: Deque[_Send] = collections.deque()
        self._by_id: Dict[int, _Request] = {}  # tracked requests' ids -> request
        self._live: List[_Request] = []  # requests not done yet, in the order they were given
        self._to_settle: Deque[_Request] = collections.deque()  # futures done, not resolved yet
        self._reader: Optional[threading.Thread] = None
        self._reader_stop = threading.Event()

    # -- sending --------------------------------------------------------------
    def run(self, plan: Plan, timeout: float) -> Any:
        """Send ``plan`` and wait for its answers; its result (or its error raised).

        ``timeout`` covers both the wait for room in the ring and for the answers.
        """
        req = _Request(plan, timeout, None)
        with self.lock:
            self.conn.check()
            self.conn.check_engine(None)
            self._enqueue(req)
        sleep = 0.0002
        while True:
            with self.lock:
                if not req.done:
                    self._service()
                if req.done:
                    self._forget(req)
                    break
                full = req.unsent > 0
            time.sleep(min(sleep, max(0.0, req.deadline - time.monotonic())))
            sleep = min(sleep * (2.0 if full else 1.5), 0.005 if full else 0.002)
        return req.outcome()

    def push(self, plan: Plan, timeout: float) -> List[int]:
        """Send ``plan`` (untracked: answers go to the stash); the command ids."""
        plan.tracked = False
        return self.run(plan, timeout)  # type: ignore[no-any-return]

    def submit(self, plan: Plan, timeout: float,
               callback: Optional[Callable[[CommandFuture], Any]] = None) -> CommandFuture:
        """Send ``plan`` now (or as soon as the ring has room) and return at once.

        Returns
        -------
        CommandFuture
            Resolved with the plan's result, or failed with its error, by
            :meth:`pump` / :meth:`poll`, the reader thread, or a waiting
            ``result()``. ``callback(future)`` runs then (in that thread).
        """
        fut = CommandFuture(self)
        if callback is not None:
            fut.add_done_callback(callback)
        req = _Request(plan, timeout, fut)
        with self.lock:
            self.conn.check()
            problem = self.conn.engine_problem(None)
            if problem is None:
                self._enqueue(req)
                self._wake.notify_all()
        if problem is not None:
            req.error = problem
            self._settle([req])
        return fut

    def _enqueue(self, req: _Request) -> None:
        """Queue a request's sends behind the others and push what fits. Caller holds the lock."""
        for cmds, batch in req.plan.sends:
            self._outbox.append(_Send(cmds, batch, req))
        self._live.append(req)
        if not req.plan.sends:
            self._done(req)  # nothing to send (e.g. "stop all" with none playing)
        self._flush()

    def _flush(self) -> None:
        """Push queued sends, oldest first, until the ring is full. Caller holds the lock."""
        while self._outbox:
            s = self._outbox[0]
            req = s.request
            if req.error is not None:
                self._outbox.popleft()
                continue
            if req.future is not None and req.future.cancelled():
                self._fail(req, CancelledError())
                self._outbox.popleft()
                continue
            if s.batch:
                arr = ffi.new("lr_command[]", len(s.cmds))
                for i, c in enumerate(s.cmds):
                    arr[i] = c[0]
                rc = self.conn.send_batch(arr, len(s.cmds))
                ids = [int(arr[i].id) for i in range(len(s.cmds))] if rc > 0 else []
            else:
                rc = self.conn.send(s.cmds[0])
                ids = [rc]
            if rc == SEND_ERRORS["LR_SEND_FULL"]:
                return
            self._outbox.popleft()
            if rc <= 0:
                self._fail(req, self._send_error(rc, len(s.cmds), s.batch))
                continue
            if req.future is not None and req.unsent == len(req.plan.sends):
                req.future.set_running_or_notify_cancel()  # sent: no longer cancellable
            req.ids += ids
            req.unsent -= 1
            if req.plan.tracked:
                for i in ids:
                    self._by_id[i] = req
            elif req.unsent == 0:
                self._done(req)

    @staticmethod
    def _send_error(rc: int, n: int, batch: bool) -> Exception:
        if rc == SEND_ERRORS["LR_SEND_DETACHED"]:
            return Detached("looprig: the engine reclaimed this client's place; attach again")
        if rc == SEND_ERRORS["LR_SEND_TOO_LONG"]:
            return ValueError("command text longer than LR_TEXT_MAX (%d)" % TEXT_MAX)
        if rc == SEND_ERRORS["LR_SEND_BAD_BATCH"]:
            return ValueError("send_batch: %d commands, 1..%d in one batch" % (n, BATCH_MAX))
        return LooprigError("looprig: lr_client_send%s failed (%d)" % ("_batch" if batch else "", rc))

    # -- receiving ------------------------------------------------------------
    def _drain(self) -> int:
        """Hand every pending event to its request, the stash or the notices. Caller holds the lock."""
        n = 0
        ev = self._evbuf
        while self.conn.poll(ev):
            e = event_from_c(ev)
            n += 1
            if e.id == 0:
                self.notices.append(e)
                self._notice_count += 1
                continue
            req = self._by_id.pop(e.id, None)
            if req is None:
                self.stash[e.id] = e
                if len(self.stash) > _STASH_MAX:
                    self.stash.popitem(last=False)
            elif not req.done:
                req.answers[e.id] = e
                if req.complete:
                    self._done(req)
        return n

    def _service(self) -> None:
        """Push what waits, read what arrived, fail what can no longer be answered. Caller holds the lock."""
        self.conn.check()
        self._flush()
        self._drain()
        if self._live:
            self._expire()

    def _expire(self) -> None:
        """Fail live requests whose engine is gone or stalled, or whose time is up. Caller holds the lock."""
        if not self.conn.alive:
            self._drain()  # what it answered before it went
            gone = self.conn.engine_gone()
            for req in list(self._live):
                if not req.done:
                    self._fail(req, gone)
            return
        now = time.monotonic()
        stalled: Any = None  # computed once, when a request has waited long enough to ask
        for req in list(self._live):
            if req.done:
                continue
            if req.future is not None and req.future.cancelled():  # withdrawn while waiting for room
                for s in [s for s in self._outbox if s.request is req]:
                    self._outbox.remove(s)
                self._fail(req, CancelledError())
                continue
            waited = now - req.started
            if waited >= STALL_GRACE:
                if stalled is None:
                    stalled = self.conn.engine_problem(waited) or False
                if stalled:
                    self._fail(req, stalled)
                    continue
            if now >= req.deadline:
                self._fail(req, self._timed_out(req))

    def _timed_out(self, req: _Request) -> Exception:
        note = self.conn.stall_note()
        if req.unsent:
            mine = [s for s in self._outbox if s.request is req]
            for s in mine:
                self._outbox.remove(s)
            if mine and mine[0].batch:
                return RingFull("looprig: command ring of engine %r had no room for a batch of %d within %.3g s (%s)"
                                % (self.conn.name, len(mine[0].cmds), req.timeout, note))
            return RingFull("looprig: command ring of engine %r stayed full for %.3g s (%s)"
                            % (self.conn.name, req.timeout, note))
        waiting = next((i for i in req.ids if i not in req.answers), 0)
        return Timeout("looprig: no answer to command %d from engine %r within %.3g s (%s)"
                       % (waiting, self.conn.name, req.timeout, note))

    def _fail(self, req: _Request, error: BaseException) -> None:
        if not req.done:
            req.error = error
            self._done(req)

    def _done(self, req: _Request) -> None:
        """A request is complete or failed: off the live list; a future waits to be settled."""
        try:
            self._live.remove(req)
        except ValueError:
            pass
        if req.future is not None:
            self._to_settle.append(req)

    def _forget(self, req: _Request) -> None:
        """A request failed: its answers that may still come are dropped when they
        do (their ids stay mapped to it), unless none can come (the engine is gone)."""
        if isinstance(req.error, EngineNotRunning):
            for i in req.ids:
                if i not in req.answers:
                    self._by_id.pop(i, None)

    def _settle(self, reqs: Sequence[_Request]) -> None:
        """Resolve the futures of finished requests (runs their callbacks). Caller does not hold the lock."""
        for req in reqs:
            if req.settled or req.future is None:
                continue
            req.settled = True
            fut = req.future
            if fut.cancelled():
                continue
            if not fut.running():
                fut.set_running_or_notify_cancel()
            try:
                result = req.outcome()
            except BaseException as e:  # the call's error, e.g. CommandRejected
                fut.set_exception(e)
            else:
                fut.set_result(result)

    def pump(self) -> int:
        """Push queued commands, read the event ring, resolve the futures that are done.

        Returns
        -------
        int
            How many futures were resolved (callbacks ran in this thread).
        """
        with self.lock:
            if self.conn.closed:
                return 0
            self._service()
            done = list(self._to_settle)
            self._to_settle.clear()
            for req in done:
                self._forget(req)
        self._settle(done)
        return len(done)

    def poll(self) -> List[Event]:
        """:meth:`pump`, then the notices that arrived meanwhile."""
        with self.lock:
            self.conn.check()
            before = self._notice_count
        self.pump()
        with self.lock:
            new = min(self._notice_count - before, len(self.notices))
            return list(self.notices)[len(self.notices) - new:] if new > 0 else []

    def pump_until(self, fut: Future, timeout: Optional[float]) -> None:  # type: ignore[type-arg]
        """Pump until ``fut`` is done or ``timeout`` passed (at once if the reader thread pumps)."""
        if fut.done() or self.reader_running:
            return
        deadline = None if timeout is None else time.monotonic() + timeout
        sleep = 0.0002
        while not fut.done():
            try:
                self.pump()
            except LooprigError:
                return  # closed: the future was failed by close()
            if fut.done():
                return
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            time.sleep(sleep if deadline is None else min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 1.5, 0.002)

    def wait(self, cid: int, timeout: float, raise_on_error: bool = True) -> Event:
        """Wait for the stashed answer to command ``cid`` (sent by :meth:`push`)."""
        started = time.monotonic()
        deadline = started + timeout
        sleep = 0.0002
        while True:
            with self.lock:
                self.conn.check()
                ev = self.stash.pop(cid, None)
                if ev is None:
                    self._service()
                    ev = self.stash.pop(cid, None)
                if ev is None:
                    self.conn.check_engine(time.monotonic() - started)
                    # An answer may have landed between the drain and the check.
                    self._drain()
                    ev = self.stash.pop(cid, None)
            if ev is not None:
                if raise_on_error and not ev.ok:
                    raise rejection(ev)
                return ev
            now = time.monotonic()
            if now >= deadline:
                with self.lock:
                    note = self.conn.stall_note()
                raise Timeout("looprig: no answer to command %d from engine %r within %.3g s (%s)"
                              % (cid, self.conn.name, timeout, note))
            time.sleep(min(sleep, max(0.0, deadline - now)))
            sleep = min(sleep * 1.5, 0.002)

    # -- the background reader ----------------------------------------------------
    @property
    def reader_running(self) -> bool:
        """True while the background reader thread runs."""
        return self._reader is not None and self._reader.is_alive()

    @property
    def in_flight(self) -> int:
        """Calls sent or queued whose answers are not all in yet."""
        with self.lock:
            return len(self._live)

    def start_reader(self, interval: float = 0.002) -> None:
        """Start a daemon thread that pumps every ``interval`` s while calls are in flight
        (it sleeps while none is); futures' callbacks then run in that thread."""
        with self.lock:
            if self.reader_running:
                return
            self._reader_stop.clear()
            t = threading.Thread(target=self._reader_loop, args=(max(0.0005, float(interval)),),
                                 name="looprig-reader %s" % self.conn.name, daemon=True)
            self._reader = t
        t.start()

    def stop_reader(self, timeout: float = 2.0) -> None:
        """Stop the background reader (idempotent)."""
        t = self._reader
        if t is None:
            return
        self._reader_stop.set()
        with self._wake:
            self._wake.notify_all()
        if t is not threading.current_thread():
            t.join(timeout)
        self._reader = None

    def _reader_loop(self, interval: float) -> None:
        stop = self._reader_stop
        while not stop.is_set():
            with self._wake:
                while not stop.is_set() and not self._live and not self._to_settle and not self.conn.closed:
                    self._wake.wait(0.5)
            if stop.is_set() or self.conn.closed:  # stopped, closed, or the Rig was collected
                return
            try:
                self.pump()
            except LooprigError:
                return
            except Exception:  # pragma: no cover - keep reading whatever one pump hit
                pass
            stop.wait(interval)

    def close(self) -> None:
        """Fail every call in flight (:class:`LooprigError`: closed) and stop the reader."""
        self.stop_reader()
        with self.lock:
            closed = LooprigError("looprig: this Rig is closed")
            for req in list(self._live):
                self._fail(req, closed)
            self._outbox.clear()
            done = list(self._to_settle)
            self._to_settle.clear()
        self._settle(done)


def plan_of(cmds: Sequence[Any], batch: bool = False, finish: Optional[Callable[[List[Event]], Any]] = None) -> Plan:
    """A plan of ``cmds``: one batch (``batch``), or each command on its own."""
    sends = [(list(cmds), True)] if batch else [([c], False) for c in cmds]
    return Plan(sends, finish or (lambda events: events))

