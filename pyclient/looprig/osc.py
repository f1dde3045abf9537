"""``looprig osc``: an OSC server that speaks SooperLooper's dialect, and looprig's own.

Performers' OSC surfaces (TouchOSC, Open Stage Control), scripts and
SooperLooper's own clients (``slgui``, ``slconsole``) speak SooperLooper's OSC
address space (``/ping``, ``/sl/#/hit``, ``/sl/#/set``, ``/sl/#/get``,
``/sl/#/register_auto_update``, ``/get``, ``/set``, ...). :class:`OscServer`
listens on UDP, attaches to a looprig engine through the Python client API
(:class:`looprig.Rig`) and translates; ``/looprig/...`` is looprig's own
namespace, where every command of the CLI has an OSC form. The address table,
units and what is not supported: docs/OSC.md.

How it works
------------
One thread does everything OSC: it waits on the UDP socket, lets liblo parse
and dispatch what came (``liblo.Server.recv``), and between bursts of
messages it reads the engine's answers (``rig.pump()``: futures resolve and
their callbacks send the replies), sends the control changes collected since
the last burst, pushes the registered updates that are due and checks that
the engine is still there. It never waits for the engine:

- commands go out through ``rig.nowait`` (futures); a reply that needs the
  engine's answer is sent from the future's callback;
- control changes that need no reply (``/sl/#/set``, ``/sl/#/hit``,
  ``/looprig/gain`` without a return address, ...) are *coalesced*: the last
  value of each (slot, control) is sent, at most every 2 ms and as one batch
  (one frame), so a flood of fader moves cannot pile up in the engine's
  command ring;
- values read back (``/sl/#/get``, updates) come from the zero-copy meter
  view of the segment, or from the value still on its way to the engine
  (so a get right after a set reads what was set).

When the engine goes away the server keeps running: it answers with errors
(and ``/ping`` with a loop count of 0) and attaches again once an engine of
that name is back, as the GUI does (``looprig.gui.link``).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import select
import shlex
import signal
import socket
import struct
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import liblo

from . import __version__
from . import params as _params
from ._names import MODES, SLOT_FLAGS, SLOT_STATES, TRANSPORT_MODES
from .client import BATCH_MAX, Rig, attach, default_name
from .commands import LAUNCH_QUANTIZE_NAMES, launch_quantize_spec
from .errors import CommandRejected, EngineNotRunning, LooprigError

__all__ = ["OscServer", "OscStats", "run", "DEFAULT_PORT", "DEFAULT_HOST", "SL_STATES", "VERSION"]

#: SooperLooper's port.
DEFAULT_PORT = 9951
#: Only this machine, unless asked.
DEFAULT_HOST = "127.0.0.1"
#: What ``/ping`` reports as the engine's version.
VERSION = "looprig-" + __version__

# SooperLooper's special loop indices.
ALL_SLOTS = -1
GLOBAL = -2
SELECTED = -3

#: SooperLooper's state numbers (its ``LooperState``); looprig uses the ones marked *.
SL_STATES = {
    "unknown": -1, "off": 0, "wait_start": 1, "recording": 2, "wait_stop": 3, "playing": 4,
    "overdubbing": 5, "multiplying": 6, "inserting": 7, "replacing": 8, "delay": 9, "muted": 10,
    "scratching": 11, "one_shot": 12, "substitute": 13, "paused": 14, "off_muted": 20,
}
_ST = SL_STATES

_F_MUTED = SLOT_FLAGS["muted"]
_F_SOLOED = SLOT_FLAGS["soloed"]
_F_START = SLOT_FLAGS["start_pending"]
_F_STOP = SLOT_FLAGS["stop_pending"]
_EMPTY = SLOT_STATES["empty"]
_PLAYING = SLOT_STATES["playing"]

#: SooperLooper's quantize control (0 off, 1 cycle, 2 8th, 3 loop) -> looprig's launch quantize.
SL_QUANTIZE_TO_LAUNCH = {0: "none", 1: "bar", 2: "beat", 3: "4bars"}
#: looprig's launch quantize (0 none .. 5 8bars) -> SooperLooper's quantize number.
LAUNCH_TO_SL_QUANTIZE = {0: 0, 1: 2, 2: 1, 3: 3, 4: 3, 5: 3}

#: SooperLooper commands (``/sl/#/hit``) that looprig has no equivalent for yet: it plays
#: loops, it does not record them.
SL_UNSUPPORTED_COMMANDS = frozenset({
    "record", "overdub", "multiply", "insert", "replace", "reverse", "undo", "redo", "substitute",
    "undo_all", "redo_all", "solo_next", "solo_prev", "record_solo", "record_solo_next",
    "record_solo_prev", "set_sync_pos", "reset_sync_pos", "delay", "scratch", "record_or_overdub",
    "record_exclusive", "record_exclusive_next", "record_exclusive_prev", "record_or_overdub_excl",
    "record_or_overdub_solo", "record_overdub_end_solo", "record_overdub_end_solo_trig",
    "mute_trigger", "trigger_play",
})

#: Per-loop controls of SooperLooper without a looprig meaning: a get answers this
#: neutral value (so slgui shows a sane strip), a set is refused as not supported.
SL_NEUTRAL_LOOP_CONTROLS: Dict[str, float] = {
    "rec_thresh": 0.0, "feedback": 1.0, "dry": 0.0, "input_gain": 1.0, "scratch_pos": 0.0,
    "delay_trigger": 0.0, "fade_samples": 0.0, "round": 0.0, "redo_is_tap": 0.0, "sync": 0.0,
    "playback_sync": 0.0, "use_rate": 0.0, "use_feedback_play": 0.0, "use_common_ins": 0.0,
    "use_common_outs": 1.0, "relative_sync": 0.0, "use_safety_feedback": 0.0, "input_latency": 0.0,
    "output_latency": 0.0, "trigger_latency": 0.0, "autoset_latency": 0.0, "mute_quantized": 0.0,
    "overdub_quantized": 0.0, "replace_quantized": 0.0, "round_integer_tempo": 0.0, "tempo_stretch": 0.0,
    "discrete_prefader": 0.0, "has_discrete_io": 0.0, "channel_count": 2.0, "pan_3": 0.5, "pan_4": 0.5,
    "in_peak_meter": 0.0,
}

#: Global controls of SooperLooper without a looprig meaning (get: this value; set: not supported).
SL_NEUTRAL_GLOBAL_CONTROLS: Dict[str, float] = {
    "dry": 0.0, "input_gain": 1.0, "in_peak_meter": 0.0, "tap_tempo": 0.0, "auto_disable_latency": 0.0,
    "output_midi_clock": 0.0, "use_midi_start": 0.0, "use_midi_stop": 0.0, "send_midi_start_on_trigger": 0.0,
    "smart_eighths": 0.0,
}

#: SooperLooper's limits of auto-update intervals (ms): rounded down to a step, clamped.
AUTO_UPDATE_STEP_MS, AUTO_UPDATE_MIN_MS, AUTO_UPDATE_MAX_MS = 10, 10, 100
#: How often a ``register_update`` (push on change) is checked, seconds.
CHANGE_POLL_S = 0.05
#: Control changes are sent at most this often (seconds): under a steady stream each
#: burst is a datagram or two, so coalescing needs a cadence of its own.
FLUSH_INTERVAL_S = 0.002
#: Control changes wait (keep coalescing) while more calls than this are in flight.
FLUSH_IN_FLIGHT_MAX = 96
#: Calls in flight beyond which a command that must be answered is refused as busy.
BUSY_IN_FLIGHT_MAX = 20000
#: A burst of messages handled before the answers are read and changes sent, at most.
BURST_MESSAGES, BURST_SECONDS = 512, 0.005
#: Seconds between engine liveness checks, and between attach attempts.
ALIVE_CHECK_S, RETRY_S = 0.1, 0.5
#: Receive buffer asked for the UDP socket (bursts wait in the kernel, not dropped).
RECEIVE_BUFFER_BYTES = 8 << 20
#: The biggest reply that fits one UDP datagram (with room for the OSC framing).
MAX_REPLY_BYTES = 60000
_PEEK_NOWAIT = int(socket.MSG_PEEK | socket.MSG_DONTWAIT)
#: CLI commands that cannot run inside the server (they exec, open windows or never end).
CLI_REFUSED = frozenset({"engine", "gui", "osc"})


class BadMessage(Exception):
    """A message the server cannot act on; ``kind`` names the counter it adds to."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind


@dataclass
class OscStats:
    """What the server has seen and done (``/looprig/stats``; printed on exit)."""

    received: int = 0          # messages dispatched by liblo (a bundle counts its messages)
    malformed: int = 0         # datagrams liblo could not parse
    unknown_path: int = 0
    bad_args: int = 0          # wrong argument count or types
    bad_value: int = 0         # out of range, NaN, no such slot or control, bad return URL
    unsupported: int = 0       # SooperLooper features looprig lacks (record, overdub, ...)
    no_engine: int = 0         # asked while no engine was attached
    rejected: int = 0          # refused by the engine (its message is in the reply or on stderr)
    busy: int = 0              # refused: too many calls in flight
    internal: int = 0          # a handler failed (a bug: the traceback is on stderr)
    commands_sent: int = 0     # calls sent to the engine
    coalesced: int = 0         # control changes replaced by a newer one before they were sent
    replies: int = 0           # OSC messages sent back (answers, errors, updates)
    send_failures: int = 0     # OSC messages that could not be sent
    attaches: int = 0          # times the engine was attached


@dataclass
class Subscription:
    """A registration for pushed values (``register_auto_update`` / ``register_update``).

    ``index`` is as addressed (a slot, -1 all, -3 selected, -2 global); ``last``
    holds the value last pushed per loop index, so only changes are pushed.
    """

    index: int
    control: str
    url: str
    path: str
    interval: float
    next_due: float = 0.0
    last: Dict[int, float] = field(default_factory=dict)
    #: A control looprig answers with a fixed value: pushed once per attach, then not polled.
    constant: bool = False


class _Warnings:
    """Lines on stderr, at most ``per_second`` of them (a flood of bad input must not
    turn into a flood of text); the rest are counted and summarised."""

    def __init__(self, stream: Any, per_second: int = 20) -> None:
        self.stream = stream
        self.per_second = per_second
        self._window = 0.0
        self._shown = 0
        self._suppressed = 0

    def __call__(self, text: str) -> None:
        now = time.monotonic()
        if now - self._window >= 1.0:
            if self._suppressed:
                self._write("looprig osc: (%d more warnings suppressed)" % self._suppressed)
            self._window, self._shown, self._suppressed = now, 0, 0
        if self._shown >= self.per_second:
            self._suppressed += 1
            return
        self._shown += 1
        self._write("looprig osc: " + text)

    def _write(self, line: str) -> None:
        try:
            self.stream.write(line + "\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass


class _ThreadRoutedStream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` while CLI commands run in-process: writes from a
    thread that is capturing go to its buffer, everything else to the real stream."""

    def __init__(self, real: Any) -> None:
        super().__init__()
        self.real = real
        self._local = threading.local()

    def begin(self) -> None:
        self._local.buffer = io.StringIO()

    def end(self) -> str:
        buf = getattr(self._local, "buffer", None)
        self._local.buffer = None
        return buf.getvalue() if buf is not None else ""

    def _target(self) -> Any:
        buf = getattr(self._local, "buffer", None)
        return buf if buf is not None else self.real

    def write(self, s: str) -> int:  # type: ignore[override]
        return self._target().write(s)

    def flush(self) -> None:
        self._target().flush()

    def isatty(self) -> bool:
        return False if getattr(self._local, "buffer", None) is not None else self.real.isatty()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.real, "encoding", "utf-8")


def normalise_return_url(url: str) -> str:
    """SooperLooper's ``validate_returl``: a return URL without a scheme is UDP."""
    return url if url.startswith("osc.") else "osc.udp://" + url


def wet_to_db(wet: float, floor_db: float) -> float:
    """SooperLooper's wet (a linear gain, 0..1 and above) in dB; 0 (and anything that
    would be below the engine's floor) is the floor."""
    if wet <= 0.0:
        return floor_db
    return max(floor_db, 20.0 * math.log10(wet))


def db_to_wet(db: float, floor_db: float) -> float:
    """A gain in dB as SooperLooper's linear wet; the floor (or below) is 0."""
    return 0.0 if db <= floor_db else 10.0 ** (db / 20.0)


def sl_pan_to_pan(v: float) -> float:
    """SooperLooper's pan (0 left, 0.5 centre, 1 right) as looprig's (-1..+1)."""
    return 2.0 * v - 1.0


def pan_to_sl_pan(p: float) -> float:
    """looprig's pan (-1..+1) as SooperLooper's (0..1)."""
    return (p + 1.0) / 2.0


class OscServer:
    """An OSC server in front of the looprig engine ``name``.

    Parameters
    ----------
    name : str
        The engine's name (``looprigd --name``).
    host : str
        Address to listen on (default 127.0.0.1: this machine only).
    port : int
        UDP port (default 9951, SooperLooper's; 0 picks a free one, see :attr:`url`).
    err : file, optional
        Where warnings go (default ``sys.stderr``).
    retry_s : float
        Seconds between attach attempts while no engine is attached.

    Raises
    ------
    OSError
        The address cannot be bound (port in use, unknown host).

    Notes
    -----
    Not thread-safe: :meth:`serve_forever` (or :meth:`step`) runs in one thread;
    :meth:`request_stop` may be called from any thread or a signal handler.
    """

    def __init__(self, name: str, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 err: Any = None, retry_s: float = RETRY_S) -> None:
        self.name = name
        self.host = host
        self.stats = OscStats()
        self.retry_s = retry_s
        self.warn = _Warnings(err if err is not None else sys.stderr)
        self._stop = threading.Event()
        self._bind(host, port)
        self._gain_param = _params.lookup("gain")
        self._pitch_param = _params.lookup("pitch")
        self._loop_bpm_param = _params.lookup("loop-bpm")
        self._master_gain_param = _params.lookup("master-gain")
        self._launch_param = _params.lookup("launch-quantize")
        self._tempo_range = (20.0, 400.0)
        # engine attachment
        self.rig: Optional[Rig] = None
        self.view: Any = None  # live meter view (Rig.meter_view) while attached
        self.gone_reason = "not attached yet"
        self._next_attach = 0.0
        self._next_alive_check = 0.0
        self._next_flush = 0.0
        self._drop_reason: Optional[str] = None
        # what the server itself keeps
        self.selected = ALL_SLOTS  # SooperLooper's selected loop: -1 (all) at start, as its engine
        self._tokens = itertools.count(1)
        self._intents: Dict[Tuple[str, int], Tuple[int, Any]] = {}  # to send at the end of the burst
        self._shadow: Dict[Tuple[str, int], Tuple[int, Any]] = {}   # sent or to send, not answered yet
        self._oneshots: set = set()
        self._subs: Dict[Tuple[int, str, str, str, str], Subscription] = {}
        self._echo_guard: Dict[str, List[Tuple[int, str, str, str, str]]] = {}  # register_update keys by control
        self._config_listeners: List[Tuple[str, str]] = []
        self._addresses: Dict[str, Any] = {}
        self._unknown_controls_noted: set = set()
        self._dispatched = 0
        self._empty_recvs = 0
        self._held_bundles: List[float] = []  # due times (Unix) of timed bundles liblo holds
        # /looprig/cli: one worker thread, results handed back to this thread
        self._cli_jobs: List[Optional[str]] = []  # command lines; None ends the worker
        self._cli_replies: List[Callable[..., None]] = []  # one per job, in order
        self._cli_done: List[Tuple[int, str, str]] = []  # (exit status, stdout, stderr)
        self._cli_lock = threading.Lock()
        self._cli_wake = threading.Condition(self._cli_lock)
        self._cli_thread: Optional[threading.Thread] = None
        self._streams: Optional[Tuple[Any, Any]] = None
        self._loop_verbs = self._sl_loop_verbs()
        self._hit_actions = self._sl_hit_actions()
        self._register_methods()

    # -- the socket ---------------------------------------------------------------------------
    def _bind(self, host: str, port: int) -> None:
        infos = socket.getaddrinfo(host, port, 0, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        family, _, _, _, addr = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        # A burst from a controller must wait in the kernel, not be dropped there:
        # ask for a large receive buffer (beyond rmem_max where allowed).
        for opt in (getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF):
            if opt is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, RECEIVE_BUFFER_BYTES)
                break
            except OSError:
                continue
        try:
            sock.bind(addr)
        except OSError:
            sock.close()
            raise
        # pyliblo 0.10 binds its server to every interface and cannot be told one
        # address: let it make its socket on a free port, then put ours (bound to
        # host:port) under the same descriptor. liblo reads and sends through that
        # descriptor, so it listens where we bound and replies come from our port.
        self._liblo = liblo.Server(reg_methods=False)
        os.dup2(sock.fileno(), self._liblo.fileno())
        self._sock = sock  # the same socket: kept to peek at datagrams liblo rejects
        self.port = int(sock.getsockname()[1])
        shown = host
        if host in ("0.0.0.0", "::", ""):
            shown = socket.gethostname()
        elif ":" in host:
            shown = "[%s]" % host
        self.url = "osc.udp://%s:%d/" % (shown, self.port)

    def kernel_drops(self) -> Optional[int]:
        """Datagrams the kernel dropped for this socket (its receive buffer was full),
        from /proc/net/udp; None where it cannot be read."""
        try:
            inode = os.fstat(self._sock.fileno()).st_ino
            for table in ("/proc/net/udp", "/proc/net/udp6"):
                with open(table) as f:
                    next(f)
                    for line in f:
                        cols = line.split()
                        if len(cols) >= 13 and int(cols[9]) == inode:
                            return int(cols[12])
        except (OSError, ValueError, StopIteration):
            return None
        return None

    def fileno(self) -> int:
        """The UDP socket's descriptor (to wait on)."""
        return self._sock.fileno()

    # -- lifetime -----------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Ask :meth:`serve_forever` to return (from any thread or a signal handler)."""
        self._stop.set()

    def serve_forever(self) -> None:
        """Handle messages until :meth:`request_stop`."""
        poller = select.poll()
        poller.register(self._sock.fileno(), select.POLLIN)
        while not self._stop.is_set():
            self.step(poller)

    def step(self, poller: Any = None, timeout_ms: Optional[int] = None) -> None:
        """One round: wait for messages (at most ``timeout_ms``), handle a burst, then
        read answers, send the collected changes and the updates that are due."""
        if poller is None:
            poller = select.poll()
            poller.register(self._sock.fileno(), select.POLLIN)
        if timeout_ms is None:
            timeout_ms = self._wait_ms()
        if poller.poll(timeout_ms):
            self._drain()
        self._housekeeping()

    def close(self) -> None:
        """Send what is pending, detach from the engine, close the socket (idempotent)."""
        if self.rig is not None:
            try:
                self._flush_intents(force=True)
                deadline = time.monotonic() + 1.0
                while self.rig.in_flight and time.monotonic() < deadline:
                    self.rig.pump()
                    time.sleep(0.002)
            except LooprigError:
                pass
            self._detach("server closed")
        with self._cli_lock:
            self._cli_jobs.append(None)  # wakes the worker: it ends
            self._cli_wake.notify()
        if self._streams is not None:
            sys.stdout, sys.stderr = self._streams
            self._streams = None
        if self._sock is not None:
            self._liblo.free()
            self._sock.close()
            self._sock = None  # type: ignore[assignment]

    def _wait_ms(self) -> int:
        now = time.monotonic()
        if (self.rig is not None and self.rig.in_flight) or self._cli_done:
            return 1  # answers due within a period: read them promptly
        if self._intents:
            return max(0, min(2, int((self._next_flush - now) * 1000) + 1))
        if self._held_bundles:
            return max(0, min(100, int((min(self._held_bundles) - time.time()) * 1000) + 1))
        due = [s.next_due for s in self._subs.values()]
        wake = min(due) if due and self.rig is not None else now + 0.1
        return max(0, min(100, int((wake - now) * 1000) + 1))

    # -- receiving ----------------------------------------------------------------------------
    def _drain(self) -> None:
        """Dispatch the datagrams waiting, up to a burst; count those liblo cannot parse."""
        deadline = time.monotonic() + BURST_SECONDS
        for _ in range(BURST_MESSAGES):
            try:
                data, source = self._sock.recvfrom(65536, _PEEK_NOWAIT)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self.warn("socket error: %s" % e)
                return
            before = self._dispatched
            taken = self._liblo.recv(0)
            if not taken:
                # liblo read nothing it could use (an empty datagram); never spin on one.
                self._empty_recvs += 1
                if self._empty_recvs > 2:
                    self._discard_one()
                self._malformed(data, source)
            else:
                self._empty_recvs = 0
                if self._dispatched == before:
                    due = _bundle_due(data)
                    if due is not None and due > time.time():
                        self._held_bundles.append(due)  # liblo keeps it until then
                    else:
                        self._malformed(data, source)
            if time.monotonic() >= deadline:
                return

    def _discard_one(self) -> None:
        try:
            self._sock.recv(65536, socket.MSG_DONTWAIT)
        except OSError:
            pass
        self._empty_recvs = 0

    def _malformed(self, data: bytes, source: Any) -> None:
        self.stats.malformed += 1
        self.warn("malformed OSC datagram of %d bytes from %s:%s ignored (%r...)"
                  % (len(data), source[0], source[1], data[:24]))

    def _register_methods(self) -> None:
        fixed: Dict[str, Callable[..., None]] = {
            "/ping": self._on_ping,
            "/register": self._on_register,
            "/unregister": self._on_unregister,
            "/set": self._on_global_set,
            "/get": self._on_global_get,
            "/register_update": self._on_global_register_update,
            "/unregister_update": self._on_global_unregister,
            "/register_auto_update": self._on_global_register_auto_update,
            "/unregister_auto_update": self._on_global_unregister,
            "/save_session": self._on_save_session,
            "/load_session": self._on_load_session,
            "/get_all_midi_bindings": self._on_midi_bindings,
        }
        for path, fn in fixed.items():
            self._liblo.add_method(path, None, self._guard(fn))
        for verb, spec in self._looprig_commands().items():
            self._liblo.add_method("/looprig/" + verb, None, self._guard(self._looprig_handler(verb, spec)))
        self._liblo.add_method(None, None, self._guard(self._on_other))

    def _guard(self, fn: Callable[..., None]) -> Callable[..., None]:
        """Every handler: counted, and whatever goes wrong is reported, never raised into liblo."""

        def handler(path: str, args: list, types: str, src: Any, user_data: Any = None) -> None:
            self._dispatched += 1
            self.stats.received += 1
            try:
                fn(path, args, types, src)
            except BadMessage as e:
                self._count(e.kind)
                self.warn("%s from %s: %s" % (path, _source(src), e))
            except Exception as e:  # noqa: BLE001 - a bug must not stop the server
                self.stats.internal += 1
                import traceback

                self.warn("internal error handling %s: %s: %s\n%s" % (path, type(e).__name__, e,
                                                                       traceback.format_exc()))

        return handler

    def _count(self, kind: str) -> None:
        setattr(self.stats, kind, getattr(self.stats, kind) + 1)

    # -- the engine ---------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.rig is None:
            if now >= self._next_attach:
                self._next_attach = now + self.retry_s
                self._try_attach()
        else:
            try:
                if now >= self._next_alive_check:
                    self._next_alive_check = now + ALIVE_CHECK_S
                    if not self.rig.alive or self.rig.engine_state == "stopping":
                        raise self.rig._engine_gone()  # noqa: SLF001 - the Rig's own words
                if self.rig.in_flight:
                    self.rig.pump()
                if now >= self._next_flush:
                    self._flush_intents()
            except LooprigError as e:
                self._drop_reason = str(e)
            if self._drop_reason is not None:
                self._detach(self._drop_reason)
        self._push_updates(now)
        self._deliver_cli_results()
        if self._held_bundles and min(self._held_bundles) <= time.time():
            # liblo dispatches a held bundle from recv once it is due, socket empty or not.
            wall = time.time()
            self._held_bundles = [t for t in self._held_bundles if t > wall]
            while self._liblo.recv(0):
                pass

    def _try_attach(self) -> None:
        try:
            rig = attach(name=self.name, timeout=5.0)
            view = rig.meter_view()
        except LooprigError as e:
            self.gone_reason = str(e)
            return
        self.rig, self.view = rig, view
        self.gone_reason = ""
        self.stats.attaches += 1
        self._drop_reason = None
        self._next_alive_check = 0.0
        for sub in self._subs.values():
            sub.last.clear()
            sub.next_due = 0.0
        self.warn("attached to engine %r (pid %d, %d slots)" % (self.name, rig.engine_pid, rig.slot_count))
        self._send_config()

    def _detach(self, reason: str) -> None:
        rig, self.rig = self.rig, None
        self.view = None  # views on the segment go before it is unmapped
        self._drop_reason = None
        self._intents.clear()
        self._shadow.clear()
        self._oneshots.clear()
        self.gone_reason = reason
        self._next_attach = time.monotonic() + self.retry_s
        if rig is not None:
            try:
                rig.close()
            except Exception:  # noqa: BLE001 - it is gone either way
                pass
            if reason != "server closed":
                self.warn("engine %r gone (%s); answering errors until it is back" % (self.name, reason))
                self._send_config()

    @property
    def slot_count(self) -> int:
        """Slots of the attached engine (0 while none is attached)."""
        return self.view.slot_count if self.view is not None else 0

    def _need_engine(self) -> Rig:
        if self.rig is None:
            raise BadMessage("no_engine", "no engine %r attached (%s)" % (self.name, self.gone_reason))
        return self.rig

    def _slots(self, index: int) -> List[int]:
        """The slots an SL loop index addresses (``-1`` all, ``-3`` the selected loop)."""
        self._need_engine()
        n = self.slot_count
        if index == ALL_SLOTS or (index == SELECTED and self.selected == ALL_SLOTS):
            return list(range(n))
        if index == SELECTED:
            return [self.selected] if 0 <= self.selected < n else []
        if 0 <= index < n:
            return [index]
        raise BadMessage("bad_value", "no loop %d (the engine has %d: 0..%d, -1 all, -3 selected)"
                         % (index, n, n - 1))

    # -- control changes: coalesced, sent every FLUSH_INTERVAL_S as batches ----------------------
    def _intend(self, kind: str, slot: int, value: Any) -> None:
        """Record a change (replacing one of the same kind and slot not sent yet)."""
        key = (kind, slot)
        token = next(self._tokens)
        if key in self._intents:
            self.stats.coalesced += 1
        self._intents[key] = (token, value)
        self._shadow[key] = (token, _as_published(value))
        if kind == "transport" and value != "oneshot":
            self._oneshots.discard(slot)

    def _intended(self, kind: str, slot: int) -> Any:
        """The value sent or to send and not answered yet (None: the engine's is current)."""
        entry = self._shadow.get((kind, slot))
        return None if entry is None else entry[1]

    def _settle(self, keys: Sequence[Tuple[Tuple[str, int], int]]) -> None:
        for key, token in keys:
            entry = self._shadow.get(key)
            if entry is not None and entry[0] == token:
                del self._shadow[key]

    def _flush_intents(self, force: bool = False) -> None:
        """Send the collected changes (unless the engine is behind: they keep coalescing)."""
        rig = self.rig
        if not self._intents or rig is None:
            return
        if not force and rig.in_flight > FLUSH_IN_FLIGHT_MAX:
            return
        self._next_flush = time.monotonic() + FLUSH_INTERVAL_S
        intents, self._intents = self._intents, {}
        launch = self._launch_spec()
        plays: List[Tuple[int, int]] = []
        stops: List[Tuple[int, int]] = []
        settings: List[Tuple[List[Dict[str, Any]], Tuple[Tuple[str, int], int]]] = []
        for (kind, slot), (token, value) in intents.items():
            key = ((kind, slot), token)
            if kind == "transport":
                if value == "play":
                    plays.append((slot, token))
                elif value == "stop":
                    stops.append((slot, token))
                else:
                    self._send_oneshot(slot, token, launch)
            else:
                settings.append((self._setting_commands(kind, slot, value), key))
        self._send_settings(settings)
        # Several slots started (or stopped) in one burst go as one batch: one frame.
        for verb, items in (("play", plays), ("stop", stops)):
            if items:
                slots = [s for s, _ in items]
                keys = [(("transport", s), t) for s, t in items]
                self._call(verb, slots if len(slots) > 1 else slots[0], quantize=launch, keys=keys)

    def _setting_commands(self, kind: str, slot: int, value: Any) -> List[Dict[str, Any]]:
        """The engine commands of one change, as items of ``rig.submit_batch``."""
        if kind in ("gain", "pan", "pitch"):
            return [{"command": kind, "slot": slot, "value": float(value)}]
        if kind in ("mute", "solo"):
            return [{"command": kind, "slot": slot, "value": 1.0 if value else 0.0}]
        if kind == "follow":  # (mode, loop bpm or None: stop following)
            mode, bpm = value
            return [{"command": "mode", "slot": slot, "value": float(MODES[mode])},
                    {"command": "loop_tempo", "slot": slot, "value": (0.0 if bpm is None else float(bpm), 0.0)}]
        if kind == "tempo":
            return [{"command": "tempo", "slot": 0, "value": float(value)}]
        if kind == "time_signature":
            return [{"command": "time_signature", "slot": 0, "value": float(value)}]
        if kind == "transport_mode":
            return [{"command": "transport", "slot": 0, "value": float(TRANSPORT_MODES[value])}]
        p = _params.lookup(kind)  # a param by name: "launch-quantize", "master-gain", ...
        return [{"command": "param", "slot": slot if p.target != "global" else 0, "value": float(value),
                 "param": p.name}]

    def _send_settings(self, settings: List[Tuple[List[Dict[str, Any]], Tuple[Tuple[str, int], int]]]) -> None:
        """Send the changes of a flush as batches (one future each, and one frame: the
        engine reads a batch in one period); a refusal goes to stderr."""
        rig = self.rig
        assert rig is not None
        chunk: List[Dict[str, Any]] = []
        keys: List[Tuple[Tuple[str, int], int]] = []
        for i, (commands, key) in enumerate(settings):
            chunk.extend(commands)
            keys.append(key)
            last = i == len(settings) - 1
            if last or len(chunk) + len(settings[i + 1][0]) > BATCH_MAX:
                try:
                    fut = rig.submit_batch(chunk)
                except (ValueError, LooprigError) as e:
                    self._settle(keys)
                    self._report_failure(e, None, "changes")
                else:
                    self.stats.commands_sent += len(chunk)
                    fut.add_done_callback(lambda f, keys=keys: self._answered(f, keys, None, "changes"))
                chunk, keys = [], []

    def _send_setting(self, kind: str, slot: int, value: Any,
                      keys: Sequence[Tuple[Tuple[str, int], int]], reply: Optional[Callable[..., None]] = None) -> None:
        if kind in ("gain", "pan", "mute", "solo", "pitch"):
            self._call(kind, slot, value, keys=keys, reply=reply)
        elif kind == "follow":  # (mode, loop bpm or None)
            mode, bpm = value
            self._call("mode", slot, mode, keys=(), reply=None)
            self._call("loop_tempo", slot, bpm, keys=keys, reply=reply)
        elif kind == "tempo":
            self._call("tempo", value, keys=keys, reply=reply)
        elif kind == "time_signature":
            self._call("time_signature", value, keys=keys, reply=reply)
        elif kind == "transport_mode":
            self._call("transport", value, keys=keys, reply=reply)
        else:  # a param by name: "launch-quantize", "master-gain", ...
            target = {}
            if self._param_target(kind) == "slot":
                target = {"slot": slot}
            elif self._param_target(kind) == "group":
                target = {"group": slot}
            self._call("param", kind, value, keys=keys, reply=reply, **target)

    @staticmethod
    def _param_target(name: str) -> str:
        return _params.lookup(name).target

    def _send_oneshot(self, slot: int, token: int, launch: Any) -> None:
        """Play once: start (on the launch grid), then stop one loop length after the start.

        The stop cannot ride in the same batch with ``quantize=("slot", slot)``: the
        engine resolves that to the slot's own scheduled (re)start, the same frame.
        So the stop is sent once the play's answer gives the start frame: at
        ``start + length`` (the loop's length as it plays now)."""
        keys = [(("transport", slot), token)]
        self._oneshots.add(slot)

        def started(ok: bool, text: str, answer: Any) -> None:
            if not ok:
                self._oneshots.discard(slot)
                self._settle(keys)
                self.warn("oneshot %d: %s" % (slot, text))
                return
            length = int(self.view.length[slot]) if self.view is not None else 0
            self._call("stop", slot, at=int(answer) + max(1, length), keys=keys)

        self._call("play", slot, quantize=launch, reply=started)

    def _launch_spec(self) -> Any:
        """The ``quantize=`` of the rig's launch quantize (``None``: at once)."""
        if self.view is None:
            return None
        return launch_quantize_spec(self._global_param("launch-quantize"))  # a change on its way counts

    def _call(self, method: str, *args: Any, keys: Sequence[Tuple[Tuple[str, int], int]] = (),
              reply: Optional[Callable[..., None]] = None, **kw: Any) -> None:
        """``rig.nowait.<method>(...)``; its answer settles ``keys`` and goes to ``reply``
        (``reply(ok, text, answer)``), or a refusal to stderr when there is none."""
        rig = self.rig
        what = "%s %s" % (method, " ".join(str(a) for a in args))
        if rig is None:
            self._settle(keys)
            self._report_failure(BadMessage("no_engine", "no engine %r attached" % self.name), reply, what)
            return
        try:
            fut = getattr(rig.nowait, method)(*args, **kw)
        except (ValueError, TypeError, LooprigError) as e:  # checked before anything was sent
            self._settle(keys)
            self._report_failure(e, reply, what)
            return
        self.stats.commands_sent += 1
        fut.add_done_callback(lambda f: self._answered(f, keys, reply, what))

    def _answered(self, fut: Any, keys: Sequence[Tuple[Tuple[str, int], int]],
                  reply: Optional[Callable[..., None]], what: str) -> None:
        self._settle(keys)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            if isinstance(exc, EngineNotRunning):
                self._drop_reason = str(exc)
            self._report_failure(exc, reply, what)
            return
        if reply is not None:
            result = fut.result()
            reply(True, _answer_text(result), result)

    def _report_failure(self, e: BaseException, reply: Optional[Callable[..., None]], what: str) -> None:
        if isinstance(e, CommandRejected):
            self.stats.rejected += 1
            text = "%s (%s)" % (e.message, e.code_name)
        elif isinstance(e, BadMessage):
            self._count(e.kind)
            text = str(e)
        elif isinstance(e, (ValueError, TypeError)):
            self.stats.bad_value += 1
            text = str(e)
        else:
            self.stats.rejected += 1
            text = str(e)
        if reply is not None:
            reply(False, text, None)
        else:
            self.warn("%s: %s" % (what.strip(), text))

    # -- values as SooperLooper reads them ------------------------------------------------------
    def loop_value(self, control: str, slot: int) -> Optional[float]:
        """A per-loop control's value in SooperLooper's units (None: an unknown control)."""
        m = self.view
        rate = float(self.rig.sample_rate) if self.rig is not None else 48000.0
        state = int(m.state[slot])
        flags = int(m.flags[slot])
        if control == "state":
            return float(self._sl_state(slot, state, flags))
        if control == "next_state":
            if self._withdrawn(slot, state, flags):
                return float(_ST["unknown"])
            if flags & _F_START and state != _PLAYING:
                return float(_ST["muted"] if flags & _F_MUTED else _ST["playing"])
            if flags & _F_STOP:
                return float(_ST["paused"])
            return float(_ST["unknown"])
        if control == "waiting":
            return 1.0 if flags & (_F_START | _F_STOP) and not self._withdrawn(slot, state, flags) else 0.0
        if control in ("loop_len", "cycle_len", "total_time"):
            return float(m.length[slot]) / rate if state != _EMPTY else 0.0
        if control == "loop_pos":
            return float(m.playhead[slot]) / rate if state == _PLAYING else 0.0
        if control == "free_time":
            return 0.0
        if control == "wet":
            db = self._intended("gain", slot)
            return db_to_wet(float(m.gain_db[slot]) if db is None else db, self._gain_param.min)
        if control in ("pan_1", "pan_2"):
            p = self._intended("pan", slot)
            return pan_to_sl_pan(float(m.pan[slot]) if p is None else p)
        if control == "pitch_shift":
            p = self._intended("pitch", slot)
            return float(m.pitch[slot]) if p is None else float(p)
        if control in ("stretch_ratio", "rate", "rate_output"):
            return self._follow_value(control, slot)
        if control in ("mute", "is_muted"):
            v = self._intended("mute", slot)
            return float(bool(flags & _F_MUTED) if v is None else bool(v))
        if control in ("solo", "is_soloed"):
            v = self._intended("solo", slot)
            return float(bool(flags & _F_SOLOED) if v is None else bool(v))
        if control == "out_peak_meter":
            return float(max(m.peak[slot][0], m.peak[slot][1]))
        if control == "quantize":
            return float(LAUNCH_TO_SL_QUANTIZE.get(int(self._global_param("launch-quantize")), 0))
        if control in SL_NEUTRAL_LOOP_CONTROLS:
            return SL_NEUTRAL_LOOP_CONTROLS[control]
        return None

    def _sl_state(self, slot: int, state: int, flags: int) -> int:
        muted = flags & _F_MUTED
        if state == _EMPTY:
            return _ST["off_muted"] if muted else _ST["off"]
        if state == _PLAYING:
            if flags & _F_STOP:
                return _ST["one_shot"] if slot in self._oneshots else _ST["wait_stop"]
            return _ST["muted"] if muted else _ST["playing"]
        if flags & _F_START and not self._withdrawn(slot, state, flags):
            return _ST["wait_start"]
        if self._intended("transport", slot) is None and not flags & _F_START:
            self._oneshots.discard(slot)  # a one-shot still on its way is not over
        return _ST["paused"]

    def _withdrawn(self, slot: int, state: int, flags: int) -> bool:
        """A queued start with a stop queued after it (a pause while waiting to start):
        the engine applies both on the same grid line, in order, so the loop stays
        stopped. (A one-shot's start also has its stop queued, a loop later.)"""
        return (state != _PLAYING and bool(flags & _F_START) and bool(flags & _F_STOP)
                and slot not in self._oneshots)

    def _follow_value(self, control: str, slot: int) -> float:
        """stretch_ratio / rate from the slot's tempo following (see docs/OSC.md)."""
        m = self.view
        tempo = float(m.tempo_bpm)
        intended = self._intended("follow", slot)
        if intended is not None:
            mode_name, bpm = intended
            mode = MODES[mode_name]
            loop_bpm = 0.0 if bpm is None else float(bpm)
        else:
            mode = int(m.mode[slot])
            loop_bpm = float(m.loop_bpm[slot])
        if loop_bpm <= 0.0 or tempo <= 0.0:
            return 1.0
        varispeed = mode == MODES["varispeed"]
        if control == "stretch_ratio":
            return loop_bpm / tempo if not varispeed else 1.0
        if control == "rate":
            return tempo / loop_bpm if varispeed else 1.0
        return tempo / loop_bpm  # rate_output: how fast the loop's audio goes by

    def _global_param(self, name: str) -> float:
        p = _params.lookup(name)
        intended = self._intended(name, 0)
        if intended is not None:
            return float(intended)
        return float(self.view.global_params[p.index])

    def global_value(self, control: str) -> Optional[float]:
        """A global control's value in SooperLooper's units (None: unknown)."""
        m = self.view
        if control == "selected_loop_num":
            return float(self.selected)
        if m is None:
            return None
        tempo = self._intended("tempo", 0)
        tempo = float(m.tempo_bpm) if tempo is None else float(tempo)
        beats_per_bar = int(m.beats_per_bar) or 4
        if control == "tempo":
            return tempo
        if control == "eighth_per_cycle":
            bpb = self._intended("time_signature", 0)
            return 2.0 * (beats_per_bar if bpb is None else int(bpb))
        if control == "sync_source":
            return -1.0 if m.transport == "follow" else -3.0  # JACK, else looprig's own grid (internal)
        if control == "jack_timebase_master":
            return 1.0 if m.transport == "master" else 0.0
        if control == "wet":
            return db_to_wet(self._global_param("master-gain"), self._master_gain_param.min)
        if control == "out_peak_meter":
            return float(max(m.master_peak[0], m.master_peak[1]))
        if control in ("global_cycle_len", "global_cycle_pos"):
            if tempo <= 0:
                return 0.0
            beat_s = 60.0 / tempo
            if control == "global_cycle_len":
                return beats_per_bar * beat_s
            return (float(m.beat) % beats_per_bar) * beat_s
        if control in SL_NEUTRAL_GLOBAL_CONTROLS:
            return SL_NEUTRAL_GLOBAL_CONTROLS[control]
        return None

    def _loop_value_or_note(self, control: str, slot: int) -> float:
        v = self.loop_value(control, slot)
        if v is None:
            self._note_unknown_control(control)
            return 0.0
        return v

    def _note_unknown_control(self, control: str) -> None:
        """An unknown control is answered 0 (SooperLooper answers 0 too); say so once per name."""
        self.stats.bad_value += 1
        if control not in self._unknown_controls_noted and len(self._unknown_controls_noted) < 256:
            self._unknown_controls_noted.add(control)
            self.warn("unknown control %r: answered 0 (further gets of it are counted, not shown)" % control)

    # -- sending ------------------------------------------------------------------------------
    def _address(self, url: str) -> Any:
        url = normalise_return_url(url)
        addr = self._addresses.get(url)
        if addr is None:
            try:
                addr = liblo.Address(url)
            except (liblo.AddressError, ValueError, TypeError) as e:
                raise BadMessage("bad_value", "bad return URL %r: %s" % (url, e)) from None
            if len(self._addresses) > 1024:
                self._addresses.clear()
            self._addresses[url] = addr
        return addr

    def send(self, url: str, path: str, *args: Tuple[str, Any]) -> bool:
        """Send one OSC message from the server's socket; False if it could not be sent."""
        try:
            addr = self._address(url)
            self._liblo.send(addr, path, *args)
        except BadMessage:
            self.stats.send_failures += 1
            return False
        except (IOError, OSError, ValueError, TypeError) as e:
            self.stats.send_failures += 1
            self.warn("cannot send %s to %s: %s" % (path, url, e))
            return False
        self.stats.replies += 1
        return True

    def send_error(self, url: str, path: str, text: str) -> None:
        """SooperLooper's error message: ``s:server_url s:message`` to ``url`` at ``path``."""
        self.send(url, path, ("s", self.url), ("s", text))

    def _send_config(self) -> None:
        """Tell the ``/register``ed clients the loop count (as a ping answer, like SooperLooper)."""
        for url, path in list(self._config_listeners):
            self._pingack(url, path, False)

    def _pingack(self, url: str, path: str, with_id: bool) -> None:
        args: List[Tuple[str, Any]] = [("s", self.url), ("s", VERSION), ("i", self.slot_count)]
        if with_id:
            # slgui re-registers everything when the id changes: a new engine is a new id.
            args.append(("i", int(self.rig.engine_pid) if self.rig is not None else 0))
        self.send(url, path, *args)

    # -- updates pushed to subscribers ----------------------------------------------------------
    def _push_updates(self, now: float) -> None:
        if self.view is None or not self._subs:
            return
        for key, sub in list(self._subs.items()):
            if now < sub.next_due:
                continue
            # A constant is pushed once; it waits for the next attach (which resets next_due).
            sub.next_due = math.inf if sub.constant else now + sub.interval
            for index, value in self._sub_values(sub):
                if _same(sub.last.get(index), value):
                    continue
                if not self.send(sub.url, sub.path, ("i", index), ("s", sub.control), ("f", value)):
                    # SooperLooper drops a registration it cannot send to.
                    self._unsubscribe(sub.index, sub.control, sub.url, sub.path, key[4])
                    break
                sub.last[index] = value

    def _sub_values(self, sub: Subscription) -> Iterator[Tuple[int, float]]:
        if sub.index == GLOBAL:
            v = self.global_value(sub.control)
            yield GLOBAL, 0.0 if v is None else v
            return
        if sub.index == SELECTED:
            slot = self.selected if 0 <= self.selected < self.slot_count else 0
            if self.slot_count:
                yield SELECTED, self._loop_value_quiet(sub.control, slot)
            return
        slots = range(self.slot_count) if sub.index == ALL_SLOTS else (
            [sub.index] if sub.index < self.slot_count else [])
        for slot in slots:
            yield slot, self._loop_value_quiet(sub.control, slot)

    def _loop_value_quiet(self, control: str, slot: int) -> float:
        v = self.loop_value(control, slot)
        return 0.0 if v is None else v

    def _subscribe(self, index: int, control: str, url: str, path: str, interval: float, kind: str) -> None:
        self._address(url)  # a bad URL is refused now
        key = (index, control, normalise_return_url(url), path, kind)
        sub = self._subs.get(key)
        if sub is None:
            neutral = SL_NEUTRAL_GLOBAL_CONTROLS if index == GLOBAL else SL_NEUTRAL_LOOP_CONTROLS
            self._subs[key] = Subscription(index, control, key[2], path, interval, constant=control in neutral)
            if kind == "update":
                self._echo_guard.setdefault(control, []).append(key)
        else:
            sub.interval = interval

    def _unsubscribe(self, index: int, control: str, url: str, path: str, kind: str) -> None:
        key = (index, control, normalise_return_url(url), path, kind)
        if self._subs.pop(key, None) is not None and kind == "update":
            self._echo_guard[control].remove(key)

    def _note_set_by(self, src: Any, index: int, control: str, values: Dict[int, float]) -> None:
        """SooperLooper does not echo a set back to the client that made it: a
        ``register_update`` of that client takes the value as already pushed."""
        try:
            src_port = int(src.port)
        except (AttributeError, TypeError, ValueError):
            return
        for key in self._echo_guard.get(control, ()):
            sub = self._subs.get(key)
            sub_index, url = key[0], key[2]
            if sub is None or _url_port(url) != src_port:
                continue
            for slot, v in values.items():
                if sub_index in (slot, ALL_SLOTS, index):
                    sub.last[sub_index if sub_index != ALL_SLOTS else slot] = v

    # -- argument checks ----------------------------------------------------------------------
    @staticmethod
    def _args(path: str, args: list, types: str, spec: str, optional: str = "") -> List[Any]:
        """Check ``args`` against ``spec`` (``s`` string, ``f`` number, ``i`` integer;
        numbers may come as i, h, f or d; an integer as an integral float) plus an
        optional tail of ``optional``; the values, converted."""
        n = len(spec)
        if len(args) not in (n, n + len(optional)) or (not optional and len(args) != n):
            want = spec + ("[%s]" % optional if optional else "")
            raise BadMessage("bad_args", "expects arguments %s, got %r (%d)" % (want or "(none)", types, len(args)))
        out: List[Any] = []
        for k, (want, got, value) in enumerate(zip(spec + optional, types, args)):
            if want == "s":
                if got not in "sS":
                    raise BadMessage("bad_args", "argument %d must be a string, got type %r" % (k + 1, got))
                out.append(str(value))
            elif want == "f":
                if got not in "ifhd":
                    raise BadMessage("bad_args", "argument %d must be a number, got type %r" % (k + 1, got))
                out.append(float(value))
            elif want == "i":
                if got in "ih":
                    out.append(int(value))
                elif got in "fd" and math.isfinite(value) and float(value).is_integer():
                    out.append(int(value))
                else:
                    raise BadMessage("bad_args", "argument %d must be an integer, got type %r (%r)"
                                     % (k + 1, got, value))
        return out

    @staticmethod
    def _finite(name: str, v: float) -> float:
        if not math.isfinite(v):
            raise BadMessage("bad_value", "%s: %r is not a finite number (nothing changed)" % (name, v))
        return v

    # -- SooperLooper: global messages ------------------------------------------------------------
    def _on_ping(self, path: str, args: list, types: str, src: Any) -> None:
        url, ret = self._args(path, args[:2], types[:2], "ss")
        with_id = len(args) > 2
        if len(args) > 3 or (with_id and types[2] not in "ih"):
            raise BadMessage("bad_args", "expects arguments ss[i], got %r" % types)
        self._pingack(url, ret, with_id)

    def _on_register(self, path: str, args: list, types: str, src: Any) -> None:
        url, ret = self._args(path, args, types, "ss")
        self._address(url)
        entry = (normalise_return_url(url), ret)
        if entry not in self._config_listeners:
            self._config_listeners.append(entry)

    def _on_unregister(self, path: str, args: list, types: str, src: Any) -> None:
        url, ret = self._args(path, args, types, "ss")
        entry = (normalise_return_url(url), ret)
        if entry in self._config_listeners:
            self._config_listeners.remove(entry)

    def _on_global_get(self, path: str, args: list, types: str, src: Any) -> None:
        control, url, ret = self._args(path, args, types, "sss")
        self._address(url)
        if self.view is None and control != "selected_loop_num":
            self.stats.no_engine += 1
            self.send_error(url, "/error", "get %s: no engine %r attached (%s)" % (control, self.name, self.gone_reason))
            return
        v = self.global_value(control)
        if v is None:
            self._note_unknown_control(control)
            v = 0.0
        self.send(url, ret, ("i", GLOBAL), ("s", control), ("f", v))

    def _on_global_set(self, path: str, args: list, types: str, src: Any) -> None:
        control, value = self._args(path, args, types, "sf")
        self._global_set(control, self._finite("set " + control, value), src)

    def _global_set(self, control: str, value: float, src: Any) -> None:
        if control == "selected_loop_num":
            n = self.slot_count
            if not value.is_integer() or not (value == ALL_SLOTS or 0 <= value < max(n, 1) or self.view is None):
                raise BadMessage("bad_value", "selected_loop_num %g: give -1 (all) or 0..%d" % (value, n - 1))
            self.selected = int(value)
            return
        if control in ("select_next_loop", "select_prev_loop", "select_all_loops"):
            n = self.slot_count
            if control == "select_all_loops":
                self.selected = ALL_SLOTS
            elif n:
                step = 1 if control == "select_next_loop" else -1
                self.selected = (max(self.selected, 0) + step) % n
            return
        self._need_engine()
        if control == "tempo":
            lo, hi = self._tempo_range
            if not lo <= value <= hi:
                raise BadMessage("bad_value", "tempo %g BPM is out of range (%g..%g; nothing changed)" % (value, lo, hi))
            self._intend("tempo", 0, value)
        elif control == "eighth_per_cycle":
            if not value.is_integer() or int(value) % 2 or not 2 <= value <= 64:
                raise BadMessage("bad_value", "eighth_per_cycle %g: looprig's bar is whole beats:"
                                 " give an even number 2..64 (nothing changed)" % value)
            self._intend("time_signature", 0, int(value) // 2)
        elif control == "wet":
            p = self._master_gain_param
            db = wet_to_db(value, p.min)
            if value < 0 or db > p.max:
                raise BadMessage("bad_value", "wet %g is out of range (0..%.3g; nothing changed)"
                                 % (value, db_to_wet(p.max, p.min)))
            self._intend("master-gain", 0, db)
        elif control == "jack_timebase_master":
            self._intend("transport_mode", 0, "master" if value > 0 else "off")
        elif control == "sync_source":
            raise BadMessage("unsupported", "sync_source is read-only here: looprig keeps its own tempo grid"
                             " or follows the JACK transport (/looprig/cli 'transport follow')")
        elif control in SL_NEUTRAL_GLOBAL_CONTROLS:
            raise BadMessage("unsupported", "global control %r is not supported by looprig (nothing changed)" % control)
        else:
            raise BadMessage("bad_value", "unknown global control %r (nothing changed)" % control)

    def _on_global_register_update(self, path: str, args: list, types: str, src: Any) -> None:
        control, url, ret = self._args(path, args, types, "sss")
        self._subscribe(GLOBAL, control, url, ret, CHANGE_POLL_S, "update")

    def _on_global_register_auto_update(self, path: str, args: list, types: str, src: Any) -> None:
        control, ms, url, ret = self._args(path, args, types, "siss")
        self._subscribe(GLOBAL, control, url, ret, _auto_interval(ms), "auto")

    def _on_global_unregister(self, path: str, args: list, types: str, src: Any) -> None:
        # slgui sends unregister_auto_update with and without the interval (sss / siss).
        kind = "auto" if path.endswith("auto_update") else "update"
        vals = self._args(path, args, types, "sss") if len(args) == 3 else self._args(path, args, types, "siss")
        control, url, ret = vals[0], vals[-2], vals[-1]
        self._unsubscribe(GLOBAL, control, url, ret, kind)

    def _on_save_session(self, path: str, args: list, types: str, src: Any) -> None:
        folder, url, ret = self._args(path, args[:3], types[:3], "sss")
        self._address(url)
        self._need_engine_or_error(url, ret, "Session Save Failed")
        self._call("save", folder, reply=lambda ok, text, _a: None if ok else
                   self.send_error(url, ret, "Session Save Failed: " + text))

    def _on_load_session(self, path: str, args: list, types: str, src: Any) -> None:
        folder, url, ret = self._args(path, args, types, "sss")
        self._address(url)
        self._need_engine_or_error(url, ret, "Session Load Failed")
        self._call("open", folder, reply=lambda ok, text, _a: None if ok else
                   self.send_error(url, ret, "Session Load Failed: " + text))

    def _need_engine_or_error(self, url: str, ret: str, what: str) -> None:
        if self.rig is None:
            self.send_error(url, ret, "%s: no engine %r attached" % (what, self.name))
            raise BadMessage("no_engine", "no engine %r attached" % self.name)

    def _on_midi_bindings(self, path: str, args: list, types: str, src: Any) -> None:
        url, ret = self._args(path, args, types, "ss")
        self.send(url, ret, ("s", "done"), ("s", ""))  # looprig has no MIDI bindings: an empty list

    # -- SooperLooper: /sl/#/... -----------------------------------------------------------------
    def _on_other(self, path: str, args: list, types: str, src: Any) -> None:
        parts = path.split("/")
        if len(parts) == 4 and parts[0] == "" and parts[1] == "sl":
            try:
                index = int(parts[2])
            except ValueError:
                raise BadMessage("unknown_path", "unknown path (loop index %r is not a number)" % parts[2]) from None
            handler = self._loop_verbs.get(parts[3])
            if handler is None:
                raise BadMessage("unknown_path", "unknown path (no /sl/#/%s)" % parts[3])
            handler(index, path, args, types, src)
            return
        if path in ("/quit", "/loop_add", "/loop_del") or path.startswith(("/sl/midi_", "/learn_midi", "/add_midi",
                                                                           "/remove_midi", "/clear_midi",
                                                                           "/load_midi", "/save_midi",
                                                                           "/get_next_midi", "/cancel_")):
            raise BadMessage("unsupported", "not supported by looprig (its slots are fixed when the engine starts;"
                             " it has no MIDI bindings; stop it with SIGTERM)")
        if path.startswith("/looprig/"):
            raise BadMessage("unknown_path", "unknown looprig command (known: %s)"
                             % ", ".join(sorted(self._looprig_commands())))
        raise BadMessage("unknown_path", "unknown path")

    def _sl_loop_verbs(self) -> Dict[str, Callable[..., None]]:
        return {
            "hit": self._sl_hit, "down": self._sl_hit, "up": self._sl_release, "forceup": self._sl_release,
            "upforce": self._sl_release, "set": self._sl_set, "get": self._sl_get,
            "register_auto_update": self._sl_register_auto_update,
            "unregister_auto_update": self._sl_unregister, "register_update": self._sl_register_update,
            "unregister_update": self._sl_unregister, "load_loop": self._sl_load_loop,
            "save_loop": self._sl_save_loop, "get_prop": self._sl_get_prop, "set_prop": self._sl_set_prop,
        }

    def _sl_hit(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        (command,) = self._args(path, args, types, "s")
        if command in SL_UNSUPPORTED_COMMANDS:
            raise BadMessage("unsupported", "%r is not supported yet: looprig plays loaded loops, it does not"
                             " record (nothing changed)" % command)
        action = self._hit_actions.get(command)
        if action is None:
            raise BadMessage("bad_value", "unknown command %r (nothing changed)" % command)
        slots = self._slots(index)
        if command in ("trigger", "oneshot", "pause", "pause_off"):
            loaded = [s for s in slots if int(self.view.state[s]) != _EMPTY]
            if not loaded and index >= 0:
                raise BadMessage("bad_value", "%s: loop %d is empty (nothing changed)" % (command, index))
            slots = loaded
        for s in slots:
            action(s)

    def _sl_hit_actions(self) -> Dict[str, Callable[[int], None]]:
        """What each supported ``/sl/#/hit`` command does to one slot."""
        return {
            "trigger": self._hit_trigger, "oneshot": self._hit_oneshot, "pause": self._hit_pause,
            "pause_on": lambda s: self._transport(s, "stop"), "pause_off": lambda s: self._transport(s, "play"),
            "mute": lambda s: self._intend("mute", s, not self._is_muted(s)),
            "mute_on": lambda s: self._intend("mute", s, True),
            "mute_off": lambda s: self._intend("mute", s, False),
            "solo": lambda s: self._intend("solo", s, not self._is_soloed(s)),
            "solo_on": lambda s: self._intend("solo", s, True),
            "solo_off": lambda s: self._intend("solo", s, False),
        }

    def _sl_release(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        # Releases matter only to SooperLooper's momentary (sustained) commands, which
        # are all recording ones: looprig acts on the press.
        self._args(path, args, types, "s")
        self._slots(index)

    def _is_muted(self, slot: int) -> bool:
        v = self._intended("mute", slot)
        return bool(int(self.view.flags[slot]) & _F_MUTED) if v is None else bool(v)

    def _is_soloed(self, slot: int) -> bool:
        v = self._intended("solo", slot)
        return bool(int(self.view.flags[slot]) & _F_SOLOED) if v is None else bool(v)

    def _is_going(self, slot: int) -> bool:
        """Playing (and not about to stop), or about to start, as far as we know."""
        v = self._intended("transport", slot)
        if v is not None:
            return v != "stop"
        flags = int(self.view.flags[slot])
        state = int(self.view.state[slot])
        if flags & _F_START and not self._withdrawn(slot, state, flags):
            return True
        return state == _PLAYING and not flags & _F_STOP

    def _transport(self, slot: int, action: str) -> None:
        self._intend("transport", slot, action)

    def _hit_trigger(self, slot: int) -> None:
        self._transport(slot, "play")

    def _hit_oneshot(self, slot: int) -> None:
        self._transport(slot, "oneshot")

    def _hit_pause(self, slot: int) -> None:
        self._transport(slot, "stop" if self._is_going(slot) else "play")

    def _sl_set(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        control, value = self._args(path, args, types, "sf")
        value = self._finite("set " + control, value)
        if index == GLOBAL:  # SooperLooper's /sl/-2/set: the global controls
            self._global_set(control, value, src)
            return
        slots = self._slots(index)
        change = self._loop_change(control, value)
        for s in slots:
            kind, engine_value = change(s)
            if kind == "launch-quantize":  # the rig's, whatever loop was addressed: once
                self._intend(kind, 0, engine_value)
                break
            self._intend(kind, s, engine_value)
        if self._echo_guard.get(control):
            self._note_set_by(src, index, control, {s: self._loop_value_quiet(control, s) for s in slots})

    def _loop_change(self, control: str, value: float) -> Callable[[int], Tuple[str, Any]]:
        """How a per-loop set becomes a change: ``fn(slot) -> (kind, value)``; raises if refused."""
        if control == "wet":
            p = self._gain_param
            db = wet_to_db(value, p.min)
            if value < 0 or db > p.max:
                raise BadMessage("bad_value", "wet %g is out of range (0..%.4g, a linear gain; nothing changed)"
                                 % (value, db_to_wet(p.max, p.min)))
            return lambda s: ("gain", db)
        if control in ("pan_1", "pan_2"):
            if not 0.0 <= value <= 1.0:
                raise BadMessage("bad_value", "%s %g is out of range (0..1; nothing changed)" % (control, value))
            return lambda s: ("pan", sl_pan_to_pan(value))
        if control == "pitch_shift":
            p = self._pitch_param
            if not p.min <= value <= p.max:
                raise BadMessage("bad_value", "pitch_shift %g is out of range (%g..%g semitones; nothing changed)"
                                 % (value, p.min, p.max))
            return lambda s: ("pitch", value)
        if control in ("stretch_ratio", "rate"):
            if value <= 0:
                raise BadMessage("bad_value", "%s %g must be > 0 (nothing changed)" % (control, value))
            tempo = float(self.view.tempo_bpm)
            if value == 1.0:
                return lambda s: ("follow", ("stretch", None))
            bpm = tempo * value if control == "stretch_ratio" else tempo / value
            p = self._loop_bpm_param
            if not p.min <= bpm <= p.max:
                lo, hi = ((p.min / tempo, p.max / tempo) if control == "stretch_ratio" else (tempo / p.max, tempo / p.min))
                raise BadMessage("bad_value", "%s %g is out of range at %g BPM (%.3g..%.3g: the loop's tempo must be"
                                 " %g..%g BPM; nothing changed)" % (control, value, tempo, lo, hi, p.min, p.max))
            mode = "stretch" if control == "stretch_ratio" else "varispeed"
            return lambda s: ("follow", (mode, bpm))
        if control == "quantize":
            if value not in SL_QUANTIZE_TO_LAUNCH:
                raise BadMessage("bad_value", "quantize %g: give 0 off, 1 cycle, 2 8th or 3 loop (nothing changed)"
                                 % value)
            q = LAUNCH_QUANTIZE_NAMES.index(SL_QUANTIZE_TO_LAUNCH[int(value)])
            return lambda s: ("launch-quantize", q)  # the rig's: one for every loop
        if control in ("mute", "solo"):
            return lambda s: (control, value != 0.0)
        if control in SL_NEUTRAL_LOOP_CONTROLS:
            raise BadMessage("unsupported", "%r is not supported by looprig (nothing changed)" % control)
        raise BadMessage("bad_value", "unknown control %r (nothing changed)" % control)

    def _sl_get(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        control, url, ret = self._args(path, args, types, "sss")
        self._address(url)
        if self.rig is None:
            self.stats.no_engine += 1
            self.send_error(url, "/error", "get %s: no engine %r attached (%s)" % (control, self.name, self.gone_reason))
            return
        if index == GLOBAL:
            v = self.global_value(control)
            self.send(url, ret, ("i", GLOBAL), ("s", control), ("f", 0.0 if v is None else v))
            return
        try:
            slots = self._slots(index)
        except BadMessage as e:
            self.send_error(url, "/error", "get %s: %s" % (control, e))
            raise
        if index == SELECTED:  # answered as addressed, as SooperLooper does
            slot = slots[0] if slots else 0
            self.send(url, ret, ("i", SELECTED), ("s", control), ("f", self._loop_value_or_note(control, slot)))
            return
        for s in slots:  # -1: one answer per loop, each with its own index
            self.send(url, ret, ("i", s), ("s", control), ("f", self._loop_value_or_note(control, s)))

    def _sl_register_auto_update(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        control, ms, url, ret = self._args(path, args, types, "siss")
        self._check_index(index)
        self._subscribe(index, control, url, ret, _auto_interval(ms), "auto")

    def _sl_register_update(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        control, url, ret = self._args(path, args, types, "sss")
        self._check_index(index)
        self._subscribe(index, control, url, ret, CHANGE_POLL_S, "update")

    def _sl_unregister(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        kind = "auto" if path.endswith("auto_update") else "update"
        vals = self._args(path, args, types, "sss") if len(args) == 3 else self._args(path, args, types, "siss")
        self._unsubscribe(index, vals[0], vals[-2], vals[-1], kind)

    def _check_index(self, index: int) -> None:
        if index in (ALL_SLOTS, SELECTED) or (index >= 0 and (self.view is None or index < self.slot_count)):
            return
        raise BadMessage("bad_value", "no loop %d" % index)

    def _sl_load_loop(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        filename, url, ret = self._args(path, args, types, "sss")
        self._address(url)
        self._need_engine_or_error(url, ret, "Loop Load Failed")
        try:
            slots = self._slots(index)
        except BadMessage as e:
            self.send_error(url, ret, "Loop Load Failed: %s" % e)
            raise
        for s in slots:
            self._call("load", s, filename, reply=lambda ok, text, _a, s=s: None if ok else
                       self.send_error(url, ret, "Loop Load Failed: loop %d: %s" % (s, text)))

    def _sl_save_loop(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        vals = self._args(path, args, types, "sssss")
        self.send_error(vals[3], vals[4], "Loop Save Failed: looprig does not write single loops"
                        " (/save_session FOLDER saves the rig with its audio)")
        raise BadMessage("unsupported", "save_loop is not supported")

    def _sl_get_prop(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        prop, url, ret = self._args(path, args, types, "sss")
        self._address(url)
        slots = self._slots(index)
        names = self.view.names
        for s in slots:
            value = names[s] if prop == "name" else ""
            self.send(url, ret, ("i", s if index != SELECTED else SELECTED), ("s", prop), ("s", value))

    def _sl_set_prop(self, index: int, path: str, args: list, types: str, src: Any) -> None:
        self._args(path, args, types, "ss")
        raise BadMessage("unsupported", "set_prop is not supported (a loop's name is its file's)")

    # -- looprig's own namespace ----------------------------------------------------------------
    def _looprig_commands(self) -> Dict[str, Tuple[str, bool]]:
        """``verb: (argument spec, return address required)``; every one takes an
        optional trailing ``s:return_url s:return_path``."""
        return {
            "play": ("i", False), "stop": ("i", False), "gain": ("if", False), "pan": ("if", False),
            "mute": ("if", False), "solo": ("if", False), "tempo": ("f", False), "param": ("sif", False),
            "load": ("is", False), "unload": ("i", False), "pitch": ("if", False), "quantize": ("s", False),
            "status": ("", True), "stats": ("", True), "cli": ("s", True), "ping": ("", True),
        }

    def _looprig_handler(self, verb: str, spec: Tuple[str, bool]) -> Callable[..., None]:
        types_spec, needs_return = spec

        def handler(path: str, args: list, types: str, src: Any) -> None:
            try:
                if needs_return:
                    vals = self._args(path, args, types, types_spec + "ss")
                    url, ret = vals[-2], vals[-1]
                    vals = vals[:-2]
                else:
                    vals = self._args(path, args, types, types_spec, "ss")
                    url, ret = (vals[-2], vals[-1]) if len(vals) > len(types_spec) else (None, None)
                    vals = vals[:len(types_spec)]
            except BadMessage as e:
                # Wrong arguments, but a return address at the end: answer there too.
                if len(args) >= 2 and types.endswith("ss") and str(args[-2]).startswith("osc."):
                    try:
                        self._address(args[-2])
                    except BadMessage:
                        raise e from None
                    self._looprig_reply(args[-2], args[-1], path)(False, str(e), None)
                raise
            reply = None
            if url is not None:
                self._address(url)
                reply = self._looprig_reply(url, ret, path)
            try:
                getattr(self, "_lr_" + verb)(vals, reply)
            except BadMessage as e:
                if reply is not None:
                    self._count(e.kind)
                    reply(False, str(e), None)
                    return
                raise

        return handler

    def _looprig_reply(self, url: str, ret: str, request: str) -> Callable[..., None]:
        """``reply(ok, text, answer, *extra)``: ``<ret>/reply`` or ``<ret>/error`` with
        ``s:request_path s:text`` (and ``extra``) to ``url``."""
        prefix = ret.rstrip("/")

        def reply(ok: bool, text: str, answer: Any, *extra: Tuple[str, Any]) -> None:
            self.send(url, prefix + ("/reply" if ok else "/error"), ("s", request), ("s", text), *extra)

        return reply

    def _direct_or_intend(self, kind: str, slot: int, value: Any, reply: Optional[Callable[..., None]]) -> None:
        """With a return address: send now, reply on the answer; without: coalesce."""
        if reply is None:
            self._need_engine()
            self._intend(kind, slot, value)
            return
        self._need_engine()
        if self.rig.in_flight > BUSY_IN_FLIGHT_MAX:  # type: ignore[union-attr]
            raise BadMessage("busy", "busy: %d calls in flight (nothing changed)" % self.rig.in_flight)  # type: ignore[union-attr]
        # This command comes after a change of the same control still waiting to be
        # sent: it supersedes it. Changes of other controls are independent of it.
        if self._intents.pop((kind, slot), None) is not None:
            self.stats.coalesced += 1
        token = next(self._tokens)
        self._shadow[(kind, slot)] = (token, _as_published(value))
        self._send_setting(kind, slot, value, [((kind, slot), token)], reply=reply)

    def _lr_play(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_transport("play", vals[0], reply)

    def _lr_stop(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_transport("stop", vals[0], reply)

    def _lr_transport(self, verb: str, slot: int, reply: Optional[Callable[..., None]]) -> None:
        self._need_engine()
        if reply is None:
            if slot == ALL_SLOTS:
                for s in range(self.slot_count):
                    if (verb == "play" and int(self.view.state[s]) != _EMPTY) or (verb == "stop" and self._is_going(s)):
                        self._transport(s, verb)
            elif 0 <= slot < self.slot_count:
                self._transport(slot, verb)
            else:
                raise BadMessage("bad_value", "%s: no slot %d (0..%d, -1 all)" % (verb, slot, self.slot_count - 1))
            return
        self._flush_intents(force=True)
        self._call(verb, "all" if slot == ALL_SLOTS else slot, quantize=self._launch_spec(), reply=reply)

    def _lr_gain(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_setting("gain", vals[0], vals[1], reply)

    def _lr_pan(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_setting("pan", vals[0], vals[1], reply)

    def _lr_pitch(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_setting("pitch", vals[0], vals[1], reply)

    def _lr_mute(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_setting("mute", vals[0], self._finite("mute", vals[1]) != 0.0, reply)

    def _lr_solo(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._lr_setting("solo", vals[0], self._finite("solo", vals[1]) != 0.0, reply)

    def _lr_setting(self, kind: str, slot: int, value: Any, reply: Optional[Callable[..., None]]) -> None:
        if reply is None:
            self._checked_intend(kind, slot, value)
        else:
            self._direct_or_intend(kind, slot, value, reply)

    def _checked_intend(self, kind: str, slot: int, value: Any) -> None:
        """A change without a return address: checked here (the engine's refusal would
        only reach stderr), then coalesced."""
        self._need_engine()
        if not 0 <= slot < self.slot_count:
            raise BadMessage("bad_value", "%s: no slot %d (0..%d)" % (kind, slot, self.slot_count - 1))
        if not isinstance(value, bool):
            p = _params.lookup(kind)
            if not (math.isfinite(value) and p.min <= value <= p.max):
                raise BadMessage("bad_value", "%s %r is out of range (%g..%g; nothing changed)"
                                 % (kind, value, p.min, p.max))
        self._intend(kind, slot, value)

    def _lr_tempo(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        (bpm,) = vals
        if reply is None:
            self._global_set("tempo", self._finite("tempo", bpm), None)
        else:
            self._direct_or_intend("tempo", 0, bpm, reply)

    def _lr_quantize(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        from .commands import launch_quantize_value

        try:
            q = launch_quantize_value(vals[0])
        except ValueError as e:
            raise BadMessage("bad_value", str(e)) from None
        if reply is None:
            self._need_engine()
            self._intend("launch-quantize", 0, q)
        else:
            self._direct_or_intend("launch-quantize", 0, q, reply)

    def _lr_param(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        name, index, value = vals
        try:
            p = _params.lookup(name)
        except ValueError as e:
            raise BadMessage("bad_value", str(e)) from None
        self._need_engine()
        if reply is None:
            if p.target == "slot" and not 0 <= index < self.slot_count:
                raise BadMessage("bad_value", "param %s: no slot %d" % (p.name, index))
            self._intend(p.name, index if p.target != "global" else 0, value)
            return
        target = {"slot": {"slot": index}, "group": {"group": index}}.get(p.target, {})
        self._flush_intents(force=True)
        self._call("param", p.name, value, reply=reply, **target)

    def _lr_load(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        slot, filename = vals
        self._need_engine()
        self._flush_intents(force=True)
        self._call("load", slot, filename, reply=reply)

    def _lr_unload(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        self._need_engine()
        self._flush_intents(force=True)
        self._call("unload", vals[0], reply=reply)

    def _lr_ping(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        assert reply is not None
        self._need_engine()
        self._call("ping", reply=reply)

    def _lr_status(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        assert reply is not None
        rig = self._need_engine()
        try:
            status = rig.status(all_slots=False)
        except LooprigError as e:
            raise BadMessage("rejected", str(e)) from None
        text = json.dumps(status, allow_nan=False, separators=(",", ":"))
        if len(text.encode()) > MAX_REPLY_BYTES:
            # Too big for one datagram: the engine, the master and each loaded slot's essentials.
            keep = ("slot", "state", "name", "length", "playhead", "gain_db", "pan", "muted", "soloed",
                    "pitch", "loop_bpm", "mode", "peak_dbfs")
            status = {"engine": status["engine"], "meters": {k: v for k, v in status["meters"].items()
                                                             if not isinstance(v, (dict, list))},
                      "slots": [{k: s.get(k) for k in keep} for s in status["slots"]], "truncated": True}
            text = json.dumps(status, allow_nan=False, separators=(",", ":"))
        reply(True, text, None)

    def _lr_stats(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        assert reply is not None
        d = asdict(self.stats)
        d.update(attached=self.rig is not None, in_flight=self.rig.in_flight if self.rig is not None else 0,
                 pending_changes=len(self._intents), subscriptions=len(self._subs), url=self.url,
                 kernel_drops=self.kernel_drops())
        reply(True, json.dumps(d, separators=(",", ":")), None)

    def _lr_cli(self, vals: list, reply: Optional[Callable[..., None]]) -> None:
        assert reply is not None
        line = vals[0]
        try:
            words = shlex.split(line)
        except ValueError as e:
            raise BadMessage("bad_value", "cannot split the command line: %s" % e) from None
        command = _cli_command_of(words)  # None: the CLI's own usage error (exit 2) says why
        if command in CLI_REFUSED:
            raise BadMessage("unsupported", "'%s' cannot run inside the OSC server" % command)
        if command == "meters" and "--watch" in words:
            at = words.index("--watch")
            if at + 1 >= len(words) or words[at + 1] in ("0", "0.0"):
                raise BadMessage("bad_value", "meters --watch needs a finite number of seconds here")
        self._start_cli_worker()
        # The reply goes out from this thread once the worker is done (_deliver_cli_results).
        with self._cli_lock:
            self._cli_jobs.append(line)
            self._cli_replies.append(reply)
            self._cli_wake.notify()

    # -- /looprig/cli: CLI commands in a worker thread -----------------------------------------
    def _start_cli_worker(self) -> None:
        if self._cli_thread is not None:
            return
        if self._streams is None:
            self._streams = (sys.stdout, sys.stderr)
            sys.stdout = _ThreadRoutedStream(sys.stdout)  # type: ignore[assignment]
            sys.stderr = _ThreadRoutedStream(sys.stderr)  # type: ignore[assignment]
            self.warn.stream = self._streams[1]
        self._cli_thread = threading.Thread(target=self._cli_worker, name="looprig-osc-cli", daemon=True)
        self._cli_thread.start()

    def _cli_worker(self) -> None:
        from .cli import main as cli_main

        out, err = sys.stdout, sys.stderr
        while True:
            with self._cli_lock:
                while not self._cli_jobs:
                    self._cli_wake.wait()
                line = self._cli_jobs.pop(0)
            if line is None:
                return
            out.begin()  # type: ignore[attr-defined]
            err.begin()  # type: ignore[attr-defined]
            try:
                status = cli_main(["--name", self.name] + shlex.split(line))
            except SystemExit as e:  # argparse's usage errors
                status = e.code if isinstance(e.code, int) else 2
            except Exception as e:  # noqa: BLE001 - reported to the client
                print("looprig: error: %s: %s" % (type(e).__name__, e), file=sys.stderr)
                status = 1
            stdout_text = out.end()  # type: ignore[attr-defined]
            stderr_text = err.end()  # type: ignore[attr-defined]
            with self._cli_lock:
                self._cli_done.append((int(status), stdout_text, stderr_text))

    def _deliver_cli_results(self) -> None:
        if not self._cli_done:
            return
        with self._cli_lock:
            done, self._cli_done = self._cli_done, []
            replies = [self._cli_replies.pop(0) for _ in done]
        for (status, out, err), reply in zip(done, replies):
            reply(status == 0, out, None, ("i", status), ("s", err))


#: Seconds from the NTP epoch (1900, OSC time tags) to the Unix epoch.
_NTP_UNIX_OFFSET = 2208988800


def _bundle_due(data: bytes) -> Optional[float]:
    """The Unix time an OSC bundle is due at (None: not a bundle, or "immediately")."""
    if len(data) < 16 or not data.startswith(b"#bundle\0"):
        return None
    seconds, fraction = struct.unpack(">II", data[8:16])
    if seconds == 0 and fraction == 1:
        return None
    return seconds - _NTP_UNIX_OFFSET + fraction / 2.0 ** 32


def _as_published(value: Any) -> Any:
    """A value as the engine will publish it (its params are float32), so a value read
    back before the engine's answer equals the one read after it."""
    if isinstance(value, float):
        return struct.unpack("f", struct.pack("f", value))[0] if math.isfinite(value) else value
    return value


def _same(a: Optional[float], b: float) -> bool:
    """Equal for an update: OSC carries float32, and a value converted (dB to linear) may
    differ from the one set in its last bits."""
    return a is not None and abs(a - b) <= 1e-6 + 1e-6 * abs(b)


def _cli_command_of(words: Sequence[str]) -> Optional[str]:
    """The subcommand of a CLI command line: its first word that names one (the
    global options before it, ``--timeout 5``, take values that name none)."""
    from .cli import COMMANDS, build_parser

    if not COMMANDS:
        build_parser()  # fills the table
    names = {c.name: c.name for c in COMMANDS}
    names.update({alias: c.name for c in COMMANDS for alias in c.aliases})
    return next((names[w] for w in words if w in names), None)


def _answer_text(result: Any) -> str:
    """The engine's words for an answer (several for a batch)."""
    if isinstance(result, list):
        msgs = [getattr(a, "message", "") or str(a) for a in result]
        return "; ".join(msgs) if msgs else "nothing to do"
    msg = getattr(result, "message", None)
    if msg:
        return str(msg)
    answer = getattr(result, "answer", None)  # a LoadResult
    if answer is not None and getattr(answer, "message", None):
        return str(answer.message)
    return str(result)


def _auto_interval(ms: int) -> float:
    """SooperLooper's rule: rounded down to 10 ms steps, clamped to 10..100 ms."""
    ms -= ms % AUTO_UPDATE_STEP_MS
    return min(AUTO_UPDATE_MAX_MS, max(AUTO_UPDATE_MIN_MS, ms)) / 1000.0


def _url_port(url: str) -> Optional[int]:
    try:
        return int(url.rstrip("/").rsplit(":", 1)[1].split("/")[0])
    except (IndexError, ValueError):
        return None


def _source(src: Any) -> str:
    try:
        return "%s:%s" % (src.hostname, src.port)
    except AttributeError:
        return "?"


def run(name: Optional[str] = None, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> int:
    """Run the OSC server in the foreground until SIGTERM or SIGINT (``looprig osc``).

    Parameters
    ----------
    name : str, optional
        The engine's name (default ``$LOOPRIG_NAME`` or ``"looprig"``); it need
        not be running yet.
    host, port
        Where to listen (default 127.0.0.1:9951).

    Returns
    -------
    int
        Exit status: 0 after a clean stop, 1 if the address cannot be bound.
    """
    name = name or default_name()
    try:
        server = OscServer(name, host, port)
    except OSError as e:
        print("looprig: error: cannot listen on %s:%s (UDP): %s" % (host, port, e), file=sys.stderr, flush=True)
        return 1

    def stop(signum: int, frame: Any) -> None:
        server.request_stop()

    old = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.step(timeout_ms=0)  # attach now if the engine is there, so the line below can say
        state = ("attached, %d slots" % server.slot_count if server.rig is not None
                 else "waiting for it: %s" % server.gone_reason)
        print("looprig osc: ready %s (engine %r: %s)" % (server.url, name, state), flush=True)
        server.serve_forever()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        server.close()
        s = server.stats
        print("looprig osc: stopped: %d messages (%d malformed, %d unknown paths, %d bad arguments, %d bad values,"
              " %d unsupported, %d without engine, %d refused by the engine), %d calls sent, %d changes coalesced,"
              " %d replies" % (s.received, s.malformed, s.unknown_path, s.bad_args, s.bad_value, s.unsupported,
                               s.no_engine, s.rejected, s.commands_sent, s.coalesced, s.replies),
              file=sys.stderr, flush=True)
    return 0
