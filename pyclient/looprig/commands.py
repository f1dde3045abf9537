"""Building commands, and the command methods of :class:`~looprig.Rig`.

:func:`build_command` makes one ``lr_command``; :func:`parse_quantize` reads a
quantize spec. :class:`CommandMethods` are the typed commands (``play``,
``gain``, ``tempo``, ...): each builds a :class:`~looprig.channel.Plan` and
hands it to ``self._run``, which waits for the answer in a :class:`Rig`
(returning an :class:`~looprig.answers.Answer`) and returns a
:class:`~looprig.channel.CommandFuture` of it in ``rig.nowait``.
:class:`RawCommandMethods` are the general form: any command by name, by id,
in batches, now or later (``send_command``, ``send_batch``, ``wait``,
``submit``, ``submit_batch``, and the old ``send``).
"""

from __future__ import annotations

import math
import operator
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union, overload

from . import params as _params
from ._ffi import ffi, get_lib
from ._names import COMMANDS, ERRORS, MODE_NAMES, MODES, QUANTIZE, SLOT_STATES, TRANSPORT_MODES
from .answers import Answer, Event, LoadResult, error_name, first_rejection, rejection
from .channel import BATCH_MAX, TEXT_MAX, CommandChannel, CommandFuture, Plan
from .connection import UINT64_MAX
from .errors import CommandRejected, LooprigError

__all__ = [
    "CommandHost",
    "CommandMethods",
    "RawCommandMethods",
    "build_command",
    "parse_quantize",
    "QuantizeSpec",
    "Slots",
    "BatchItem",
    "DEFAULT_TIMEOUT",
    "LOAD_TIMEOUT",
    "SAVE_TIMEOUT",
    "OPEN_TIMEOUT",
    "SESSION_PATH_MAX",
    "session_text",
    "PARAM_MARGIN_PERIODS",
    "TEXT_MAX",
    "BATCH_MAX",
]

#: Default seconds to wait for a command's answer.
DEFAULT_TIMEOUT = 5.0
#: Default seconds to wait for a LOAD's answer (the engine answers when loaded).
LOAD_TIMEOUT = 30.0
#: Default seconds to wait for a session save's answer (the engine answers when it is written).
SAVE_TIMEOUT = 30.0
#: Default seconds to wait for a session open's answer (the engine answers when the rig is
#: restored, after decoding every audio file).
OPEN_TIMEOUT = 60.0
#: Seconds :meth:`midi_learn` waits for a note or CC by default.
MIDI_LEARN_TIMEOUT = 60.0
#: A call that sets several params without ``at=`` schedules them all at
#: ``frame_time + PARAM_MARGIN_PERIODS * buffer_size``, so they change in the
#: same audio frame (1..2 periods from now).
PARAM_MARGIN_PERIODS = 2

_VALUE_COUNT: int = dict(ffi.typeof("lr_command").fields)["value"].type.length
_NOT_GIVEN: Any = object()  # send(): tells the effect-send form from the general one
_INT32 = (-(2**31), 2**31 - 1)

QuantizeSpec = Union[None, str, Tuple[str, int]]
#: One slot, several slots, or ``"all"`` (see :meth:`Rig.play`).
Slots = Union[Sequence[int], str]
#: One command of a batch: ``(command, slot)``, ``(command, slot, value)`` or a
#: mapping of :meth:`Rig.send_command`'s arguments (``command``, ``slot``,
#: ``value``, ``text``, ``param``, ``at``, ``quantize``).
BatchItem = Union[Tuple[Any, ...], Mapping[str, Any]]
_BATCH_KEYS = {"command", "slot", "value", "text", "param", "at", "quantize"}

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
        if arg < 0 or arg > UINT64_MAX:
            raise ValueError("bad quantize %r: argument must be >= 0" % (q,))
        return QUANTIZE[kind], arg
    raise ValueError("bad quantize %r: expected None, %s or a (kind, arg) tuple" % (q, _QUANTIZE_HELP))


#: Longest session folder path, in bytes of UTF-8 (the text of SESSION_SAVE/OPEN is < LR_TEXT_MAX).
SESSION_PATH_MAX = TEXT_MAX - 1


def session_text(path: Union[None, str, bytes, "os.PathLike[Any]"]) -> bytes:
    """The text of a ``SESSION_SAVE`` / ``SESSION_OPEN``: the session folder.

    Parameters
    ----------
    path : str, bytes, path-like or None
        The folder; ``~`` is expanded and a relative path is made absolute
        (from the current directory). ``None`` or ``""``: the session in use.

    Returns
    -------
    bytes
        The absolute path in UTF-8, or ``b""`` for the session in use.

    Raises
    ------
    ValueError
        The path contains a NUL, is not valid UTF-8 (a bytes path), cannot be
        encoded as UTF-8, or is longer than :data:`SESSION_PATH_MAX` (1023)
        bytes once absolute (nothing is sent).
    """
    if path is None:
        return b""
    p = os.fspath(path)
    if isinstance(p, bytes):
        try:
            p = p.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("session path %r is not valid UTF-8" % (path,)) from None
    if p == "":
        return b""
    if "\0" in p:
        raise ValueError("session path %r contains a NUL character" % (p,))
    full = os.path.abspath(os.path.expanduser(p))
    try:
        data = full.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("session path %r cannot be sent as UTF-8" % (full,)) from None
    if len(data) > SESSION_PATH_MAX:
        raise ValueError("session path is %d bytes (UTF-8, made absolute), more than %d"
                         % (len(data), SESSION_PATH_MAX))
    return data


#: The rig's launch quantize (param ``launch-quantize``, ``lr_launch_quantize``):
#: its values' names, and the ``quantize=`` spec each stands for.
LAUNCH_QUANTIZE_NAMES = ("none", "beat", "bar", "2bars", "4bars", "8bars")
LAUNCH_QUANTIZE_SPECS = (None, "beat", "bar", "bar:2", "bar:4", "bar:8")


def launch_quantize_value(q: Union[str, int]) -> int:
    """The ``launch-quantize`` value of a name (``"bar"``, ``"2bars"``, also
    ``"bar:2"``, ``"off"``) or of an int 0..5. Raises ``ValueError``."""
    if isinstance(q, bool):
        raise ValueError("launch quantize %r: give a name or 0..5" % (q,))
    if isinstance(q, int):
        if 0 <= q < len(LAUNCH_QUANTIZE_NAMES):
            return q
    elif isinstance(q, str):
        name = q.strip().lower().replace(" ", "")
        name = {"off": "none", "1bar": "bar", "1beat": "beat", "2bar": "2bars", "4bar": "4bars", "8bar": "8bars", "bar:1": "bar", "beat:1": "beat", "bar:2": "2bars",
                "bar:4": "4bars", "bar:8": "8bars"}.get(name, name)
        if name in LAUNCH_QUANTIZE_NAMES:
            return LAUNCH_QUANTIZE_NAMES.index(name)
    raise ValueError("unknown launch quantize %r (one of %s)" % (q, ", ".join(LAUNCH_QUANTIZE_NAMES)))


def launch_quantize_spec(value: float) -> QuantizeSpec:
    """The ``quantize=`` spec for a ``launch-quantize`` value (``None`` = at once)."""
    k = int(value)
    return LAUNCH_QUANTIZE_SPECS[k] if 0 <= k < len(LAUNCH_QUANTIZE_SPECS) else None


def build_command(
    command: Union[str, int],
    slot: int = 0,
    value: Any = None,
    text: Union[None, str, bytes] = None,
    at: Optional[int] = None,
    quantize: QuantizeSpec = None,
    param: Union[None, str, int, _params.Param] = None,
) -> Any:
    """One ``lr_command`` (cffi ``lr_command *``), checked but not sent.

    Parameters
    ----------
    command : str or int
        ``"play"``, ``"loop_tempo"`` (or ``"loop-tempo"``), ... or an ``lr_command_type``.
    slot : int
        Slot (group bus for group params), passed through: the engine validates it.
    value : float or sequence of float, optional
        ``value[0..3]`` (passed through unchecked).
    text : str or bytes, optional
        Command text (LOAD: the file path, sent as given).
    at : int, optional
        Frame of the engine's timeline (``frame_time``) at which it takes effect.
    quantize : None, str or tuple, optional
        See :func:`parse_quantize`.
    param : str, int or Param, optional
        ``LR_CMD_PARAM``: the param (name or id; see :func:`looprig.params.lookup`).

    Raises
    ------
    ValueError
        Unknown command or param, bad quantize, text too long, ``at`` negative,
        a slot that does not fit the field, too many values.
    """
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
        if not 0 <= at <= UINT64_MAX:
            raise ValueError("at=%d is not a frame time (must be >= 0)" % at)
        cmd.flags |= get_lib().LR_CMD_F_AT
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
    if param is not None:
        cmd.param = _params.lookup(param).id
    return cmd


def _single(cmd: Any, finish: Callable[[List[Event]], Any]) -> Plan:
    return Plan([([cmd], False)], finish)


def _answer_of(values: Optional[dict] = None) -> Callable[[List[Event]], Answer]:
    """finish(): the one answer, or its refusal raised."""

    def finish(events: List[Event]) -> Answer:
        ev = events[0]
        if not ev.ok:
            raise rejection(ev)
        return Answer.of(events, values)

    return finish


def _count(v: float) -> int:
    """A count from an answer's ``value[]`` (0 if not a finite number)."""
    return int(v) if math.isfinite(v) else 0


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


class CommandHost:
    """What the command methods need from the class that has them: ``_run(plan,
    timeout)`` (wait for the answer, or return a future of it), ``_channel``,
    ``_conn``, ``timeout`` and ``meters()``."""

    _channel: CommandChannel
    _conn: Any
    timeout: float

    def _run(self, plan: Plan, timeout: float) -> Any:  # pragma: no cover - provided by the host
        raise NotImplementedError

    def meters(self) -> Any:  # pragma: no cover - provided by the host
        raise NotImplementedError

    def _timeout(self, timeout: Optional[float], default: Optional[float] = None) -> float:
        if timeout is not None:
            return float(timeout)
        return self.timeout if default is None else default


class CommandMethods(CommandHost):
    """The typed commands (a :class:`Rig` waits for their answers; ``rig.nowait`` returns futures)."""

    def _one(self, command: str, slot: int, timeout: Optional[float], values: Optional[dict] = None,
             **kw: Any) -> Any:
        """Send one command; its :class:`Answer` (or a future of it)."""
        cmd = build_command(command, slot, kw.get("value"), kw.get("text"), kw.get("at"), kw.get("quantize"))
        return self._run(_single(cmd, _answer_of(values)), self._timeout(timeout))

    def ping(self, timeout: Optional[float] = None) -> Answer:
        """Round trip to the engine.

        Returns
        -------
        Answer
            An int: the engine's frame time when it handled the ping.
        """
        return self._one("ping", 0, timeout)  # type: ignore[no-any-return]

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
            ``source_rate``; ``answer`` is the engine's :class:`Answer`.
        """
        data = os.fsencode(os.path.abspath(os.fspath(path)))
        if len(data) > TEXT_MAX:
            raise ValueError("path is %d bytes, more than LR_TEXT_MAX (%d)" % (len(data), TEXT_MAX))
        cmd = build_command("load", slot, text=data)
        rate = int(self._conn.hdr.sample_rate)

        def finish(events: List[Event]) -> LoadResult:
            ev = events[0]
            if not ev.ok:
                raise rejection(ev)
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
            answer = Answer.of(events, {"path": os.fsdecode(data), "frames": frames, "source_rate": source_rate,
                                        "source_frames": source_frames})
            return LoadResult(slot=ev.slot, frames=frames, source_rate=source_rate, message=ev.message,
                              frame=ev.frame, source_frames=source_frames, rate=rate, answer=answer)

        return self._run(_single(cmd, finish), self._timeout(timeout, LOAD_TIMEOUT))  # type: ignore[no-any-return]

    def unload(self, slot: int, timeout: Optional[float] = None) -> Answer:
        """Empty ``slot`` (it stops first). Returns the answer: an int, the frame it takes effect at."""
        return self._one("unload", slot, timeout)  # type: ignore[no-any-return]

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

    def _slot_batch(self, command: str, slots: Slots, at: Optional[int], quantize: QuantizeSpec) -> Plan:
        """Play/stop several slots on one frame: one batch per ring's worth; the answers in slot order."""
        targets = self.resolve_slots(command, slots)
        if not targets:
            return Plan([], lambda events: [])
        parse_quantize(quantize)  # a bad spec raises before anything is sent
        m = self.meters()
        for s in targets:
            if not 0 <= s < m.slot_count:
                code = ERRORS["LR_E_BAD_SLOT"]
                raise CommandRejected(code, error_name(code), "slot %d out of range (0..%d) (nothing sent)"
                                      % (s, m.slot_count - 1), s, command, 0)
            if command == "play" and int(m.state[s]) == SLOT_STATES["empty"]:
                code = ERRORS["LR_E_NOT_LOADED"]
                raise CommandRejected(code, error_name(code), "slot %d is empty: load a file first (nothing sent)"
                                      % s, s, command, 0)
        chunks = [targets[i:i + BATCH_MAX] for i in range(0, len(targets), BATCH_MAX)]
        if len(chunks) > 1 and at is None:
            # More than one ring: several batches, all on one frame far enough ahead.
            self._conn.check()
            hdr = self._conn.hdr
            at = int(hdr.frame_time) + (PARAM_MARGIN_PERIODS + 2 * len(chunks)) * max(1, int(hdr.buffer_size))
        sends = [([build_command(command, s, None, None, at, quantize) for s in chunk], True) for chunk in chunks]

        def finish(events: List[Event]) -> List[Answer]:
            refused = first_rejection(events)
            if refused is not None:
                raise refused
            return [Answer.of([ev]) for ev in events]

        return Plan(sends, finish)

    @overload
    def play(self, slot: int, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> Answer: ...

    @overload
    def play(self, slot: Slots, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> List[Answer]: ...

    def play(self, slot: Union[int, Slots], at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> Union[Answer, List[Answer]]:
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
        Answer or list of Answer
            The answer, an int: the frame at which the slot starts (the ACK's
            frame); for several slots one answer per slot, in the order given
            (slot order for ``"all"``; ``[]`` if there is none).
        """
        if _is_one_slot(slot):
            return self._one("play", slot, timeout, at=at, quantize=quantize)  # type: ignore[arg-type,no-any-return]
        return self._run(self._slot_batch("play", slot, at, quantize),  # type: ignore[arg-type,no-any-return]
                         self._timeout(timeout))

    @overload
    def stop(self, slot: int, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> Answer: ...

    @overload
    def stop(self, slot: Slots, at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> List[Answer]: ...

    def stop(self, slot: Union[int, Slots], at: Optional[int] = None, quantize: QuantizeSpec = None,
             timeout: Optional[float] = None) -> Union[Answer, List[Answer]]:
        """Stop ``slot``, or several slots on the same frame; scheduling as :meth:`play`.

        ``slot`` may be a sequence of slots or ``"all"`` (every playing slot;
        ``[]`` and nothing sent if none plays). Returns the answer (an int:
        the stop frame), or one per slot.
        """
        if _is_one_slot(slot):
            return self._one("stop", slot, timeout, at=at, quantize=quantize)  # type: ignore[arg-type,no-any-return]
        return self._run(self._slot_batch("stop", slot, at, quantize),  # type: ignore[arg-type,no-any-return]
                         self._timeout(timeout))

    def gain(self, slot: int, db: float, at: Optional[int] = None, timeout: Optional[float] = None) -> Answer:
        """Set the gain of ``slot`` in dB (passed through: the engine validates).

        Returns the answer (an int: the frame it takes effect at; ``values``: ``{"db": db}``)."""
        return self._one("gain", slot, timeout, {"db": float(db)}, value=float(db), at=at)  # type: ignore[no-any-return]

    def pan(self, slot: int, pan: float, at: Optional[int] = None, timeout: Optional[float] = None) -> Answer:
        """Set the pan of ``slot``: -1 (left) .. +1 (right).

        Returns the answer (an int: the frame it takes effect at; ``values``: ``{"pan": pan}``)."""
        return self._one("pan", slot, timeout, {"pan": float(pan)}, value=float(pan), at=at)  # type: ignore[no-any-return]

    def mute(self, slot: int, on: Union[bool, float] = True, at: Optional[int] = None,
             timeout: Optional[float] = None) -> Answer:
        """Mute (``on=True``) or unmute ``slot``. Returns the answer (an int: the frame it takes effect at)."""
        return self._one("mute", slot, timeout, {"on": on if isinstance(on, bool) else float(on)},  # type: ignore[no-any-return]
                         value=_boolish(on), at=at)

    def solo(self, slot: int, on: Union[bool, float] = True, at: Optional[int] = None,
             timeout: Optional[float] = None) -> Answer:
        """Solo (``on=True``) or unsolo ``slot``. Returns the answer (an int: the frame it takes effect at)."""
        return self._one("solo", slot, timeout, {"on": on if isinstance(on, bool) else float(on)},  # type: ignore[no-any-return]
                         value=_boolish(on), at=at)

    def declick(self, ms: float, timeout: Optional[float] = None) -> Answer:
        """Set the engine-wide declick ramp length in milliseconds (0 = exact, no ramps).

        Returns the answer (an int: the frame it takes effect at; the message gives the ramp in frames)."""
        return self._one("declick", 0, timeout, {"ms": float(ms)}, value=float(ms))  # type: ignore[no-any-return]

    # -- musical time -----------------------------------------------------------
    def tempo(
        self, bpm: float, at: Optional[int] = None, quantize: QuantizeSpec = None, timeout: Optional[float] = None
    ) -> Answer:
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
        Answer
            An int: the frame at which the new tempo takes effect. The beat
            position is continuous across the change.
        """
        return self._one("tempo", 0, timeout, {"bpm": float(bpm)},  # type: ignore[no-any-return]
                         value=float(bpm), at=at, quantize=quantize)

    def time_signature(self, beats_per_bar: int, timeout: Optional[float] = None) -> Answer:
        """Set the beats per bar of the master grid (the engine accepts 1..32).

        Bars restart at the bar the change falls in. Returns the answer (an
        int: the frame it takes effect at).
        """
        return self._one("time_signature", 0, timeout, {"beats_per_bar": beats_per_bar},  # type: ignore[no-any-return]
                         value=float(beats_per_bar))

    def meter(self, beats_per_bar: int, timeout: Optional[float] = None) -> Answer:
        """The old name of :meth:`time_signature` (kept for scripts; "meter" now
        names only the level meters)."""
        return self.time_signature(beats_per_bar, timeout)

    def loop_tempo(
        self,
        slot: int,
        bpm: Optional[float] = None,
        *,
        beats: Optional[float] = None,
        timeout: Optional[float] = None,
    ) -> Answer:
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
        Answer
            An int: the frame at which the command takes effect; ``values``:
            ``off``, ``loop_bpm``, ``loop_beats`` (None where not given).

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
        values = {"off": bpm is None and beats is None, "loop_bpm": None if bpm is None else float(bpm),
                  "loop_beats": None if beats is None else float(beats)}
        return self._one("loop_tempo", slot, timeout, values, value=value)  # type: ignore[no-any-return]

    def pitch(self, slot: int, semitones: float, cents: float = 0.0, timeout: Optional[float] = None) -> Answer:
        """Transpose ``slot`` by ``semitones + cents / 100`` semitones.

        The engine accepts -24..+24 semitones in total; in ``"varispeed"``
        mode the setting is kept but not used (pitch follows tempo). Returns
        the answer (an int: the frame it takes effect at; ``values``:
        ``{"semitones": total}``).
        """
        total = float(semitones) + float(cents) / 100.0
        return self._one("pitch", slot, timeout, {"semitones": total}, value=total)  # type: ignore[no-any-return]

    def mode(self, slot: int, mode: Union[str, int], timeout: Optional[float] = None) -> Answer:
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
        Answer
            An int: the frame at which the command takes effect.

        Raises
        ------
        ValueError
            Unknown mode name (nothing is sent).
        """
        value = _mode_value(mode)
        return self._one("mode", slot, timeout, {"mode": MODE_NAMES.get(value, value)},  # type: ignore[no-any-return]
                         value=float(value))

    def transport(self, mode: str, timeout: Optional[float] = None) -> Answer:
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
        Answer
            An int: the frame at which the command takes effect.

        Raises
        ------
        ValueError
            Unknown mode (nothing is sent).
        """
        try:
            name = mode.strip().lower()
            value = TRANSPORT_MODES[name]
        except (KeyError, AttributeError):
            raise ValueError("unknown transport mode %r (one of %s)" % (mode, ", ".join(TRANSPORT_MODES))) from None
        return self._one("transport", 0, timeout, {"mode": name}, value=float(value))  # type: ignore[no-any-return]

    def launch_quantize(self, q: Union[str, int], timeout: Optional[float] = None) -> Answer:
        """Set the rig's launch quantize (param ``launch-quantize``).

        The engine keeps it (it is published in the meters and saved in
        sessions); the GUI and controllers launch and stop slots with it, so
        every attached GUI uses the same. The engine's own ``play``/``stop``
        commands still take their quantize explicitly.

        Parameters
        ----------
        q : str or int
            ``"none"``, ``"beat"``, ``"bar"``, ``"2bars"``, ``"4bars"``,
            ``"8bars"`` (or 0..5).

        Returns
        -------
        Answer
            An int: the frame it takes effect at; ``values`` is
            ``{"launch-quantize": value}``.

        Raises
        ------
        ValueError
            Unknown name (nothing is sent).
        """
        return self.param("launch-quantize", launch_quantize_value(q), timeout=timeout)  # type: ignore[attr-defined,no-any-return]

    def meter_reset(self, timeout: Optional[float] = None) -> Answer:
        """Restart the peak holds and the integrated loudness. Returns the answer (an int: the frame)."""
        return self._one("meter_reset", 0, timeout)  # type: ignore[no-any-return]

    # -- sessions ---------------------------------------------------------------
    def save(self, path: Union[None, str, "os.PathLike[str]"] = None, *, timeout: Optional[float] = None) -> Answer:
        """Save the whole rig to a session folder (``LR_CMD_SESSION_SAVE``).

        The engine answers once the session is written (docs/SESSIONS.md).

        Parameters
        ----------
        path : str or path-like, optional
            The session folder (created if absent); ``~`` is expanded and a
            relative path is made absolute here (see :func:`session_text`).
            ``None`` or ``""``: the session in use (the engine refuses if
            there is none).
        timeout : float, optional
            Seconds (default :data:`SAVE_TIMEOUT`, 30).

        Returns
        -------
        Answer
            The frame of the answer; ``message`` is the engine's (``"saved
            /x/y: 12 slots, 3 audio files written"``); ``values``: ``path``
            (the absolute path sent, None for the session in use),
            ``slots_saved``, ``audio_files_written``.

        Raises
        ------
        ValueError
            A bad path (NUL, too long): nothing is sent.
        CommandRejected
            The engine's refusal: ``LR_E_FILE`` (cannot write), ``LR_E_BUSY``
            (a save or open is in progress), ...
        """
        text = session_text(path)

        def finish(events: List[Event]) -> Answer:
            ev = events[0]
            if not ev.ok:
                raise rejection(ev)
            return Answer.of(events, {"path": os.fsdecode(text) if text else None,
                                      "slots_saved": _count(ev.value[0]),
                                      "audio_files_written": _count(ev.value[1])}, slot=None)

        cmd = build_command("session_save", 0, text=text)
        return self._run(_single(cmd, finish), self._timeout(timeout, SAVE_TIMEOUT))  # type: ignore[no-any-return]

    def open(self, path: Union[None, str, "os.PathLike[str]"] = None, *, play: bool = False,
             timeout: Optional[float] = None) -> Answer:
        """Open a session folder: restore the whole rig (``LR_CMD_SESSION_OPEN``).

        All or nothing: on a refusal nothing has changed. (This opens a
        session; the Rig's attachment is not opened but made by
        :func:`looprig.attach`, and :meth:`close` ends it.)

        Parameters
        ----------
        path : str or path-like, optional
            The session folder (as for :meth:`save`); ``None`` or ``""``:
            the session in use (reopen it, dropping the changes since).
        play : bool
            True: start the slots that were playing when it was saved,
            together on one frame; False (default): leave them stopped and
            ready.
        timeout : float, optional
            Seconds (default :data:`OPEN_TIMEOUT`, 60: every audio file is
            decoded).

        Returns
        -------
        Answer
            The frame the playing slots start at (or the frame the rig was
            installed); ``message`` is the engine's (``"opened /x: 12 slots
            (3 playing from frame N); 4 connections restored, 1 missing:
            system:playback_9"``); ``values``: ``path``, ``play``,
            ``slots_loaded``, ``connections_missing``.

        Raises
        ------
        ValueError
            A bad path (NUL, too long): nothing is sent.
        CommandRejected
            The engine's refusal, nothing changed: ``LR_E_FILE`` (no such
            folder or file), ``LR_E_FORMAT`` (a corrupt file, an unknown
            version), ``LR_E_BAD_SLOT`` (the session needs more slots than
            the engine has), ``LR_E_BUSY``, ...
        """
        text = session_text(path)
        play = bool(play)

        def finish(events: List[Event]) -> Answer:
            ev = events[0]
            if not ev.ok:
                raise rejection(ev)
            return Answer.of(events, {"path": os.fsdecode(text) if text else None, "play": play,
                                      "slots_loaded": _count(ev.value[0]),
                                      "connections_missing": _count(ev.value[1])}, slot=None)

        cmd = build_command("session_open", 0, value=1.0 if play else 0.0, text=text)
        return self._run(_single(cmd, finish), self._timeout(timeout, OPEN_TIMEOUT))  # type: ignore[no-any-return]

    def save_session(self, path: Union[None, str, "os.PathLike[str]"] = None, *,
                     timeout: Optional[float] = None) -> Answer:
        """The same as :meth:`save`."""
        return self.save(path, timeout=timeout)

    def open_session(self, path: Union[None, str, "os.PathLike[str]"] = None, *, play: bool = False,
                     timeout: Optional[float] = None) -> Answer:
        """The same as :meth:`open`."""
        return self.open(path, play=play, timeout=timeout)


    # ---- MIDI controllers (docs/MIDI.md) ----

    def midi_learn(self, target: str, *, timeout: Optional[float] = None) -> Answer:
        """Bind the next note or CC that arrives on ``midi_in`` to ``target``
        (``LR_CMD_MIDI_LEARN``); waits until one comes.

        Parameters
        ----------
        target : str
            What the control will do: ``"toggle 3"``, ``"play 3"``, ``"stop 3"``,
            ``"mute 3"``, ``"solo 3"``, ``"scene 1"``, ``"stop-all"``, ``"tap"``,
            ``"tempo [LO HI]"`` or a param with its slot or group and an
            optional range (``"gain 2 -60 6"``, ``"hp-freq 0"``, ``"master-gain"``).
        timeout : float, optional
            Seconds to wait for the control (default :data:`MIDI_LEARN_TIMEOUT`, 60).
            On a timeout the learn stays armed in the engine until a control
            comes or another learn replaces it.

        Returns
        -------
        Answer
            ``message``: ``"learned: note 40 ch 1 -> toggle 3"``.

        Raises
        ------
        CommandRejected
            A bad target (``LR_E_BAD_VALUE``), or the learn was replaced by
            another one (``LR_E_BUSY``).
        """
        text = str(target).strip().encode()
        if not text:
            raise ValueError("midi_learn needs a target, e.g. 'toggle 3'")

        def finish(events: List[Event]) -> Answer:
            ev = events[0]
            if not ev.ok:
                raise rejection(ev)
            return Answer.of(events, {"target": text.decode()}, slot=None)

        cmd = build_command("midi_learn", 0, text=text)
        return self._run(_single(cmd, finish), self._timeout(timeout, MIDI_LEARN_TIMEOUT))  # type: ignore[no-any-return]

    def _midi_map(self, op: int, path: Union[None, str, "os.PathLike[str]"], timeout: Optional[float]) -> Answer:
        text = session_text(path) if path not in (None, "") else b""

        def finish(events: List[Event]) -> Answer:
            ev = events[0]
            if not ev.ok:
                raise rejection(ev)
            return Answer.of(events, {"path": os.fsdecode(text) if text else None}, slot=None)

        cmd = build_command("midi_map", 0, value=float(op), text=text)
        return self._run(_single(cmd, finish), self._timeout(timeout, SAVE_TIMEOUT))  # type: ignore[no-any-return]

    def midi_map_load(self, path: Union[None, str, "os.PathLike[str]"] = None, *,
                      timeout: Optional[float] = None) -> Answer:
        """Use the MIDI map file at ``path`` (``None``: the default map, note
        36 + k toggles slot k). A bad file is refused and the map in use stays.

        Raises
        ------
        CommandRejected
            ``LR_E_FILE``: the file cannot be read or is not a valid map (the
            message says where).
        """
        return self._midi_map(0, path, timeout)

    def midi_map_save(self, path: Union[str, "os.PathLike[str]"], *, timeout: Optional[float] = None) -> Answer:
        """Write the MIDI map in use (with what was learned) to ``path`` (JSON)."""
        if path in (None, ""):
            raise ValueError("midi_map_save needs a file path")
        return self._midi_map(1, path, timeout)

    def midi_map_clear(self, *, timeout: Optional[float] = None) -> Answer:
        """No MIDI bindings at all (not even the default pads)."""
        return self._midi_map(2, None, timeout)

    def midi_map(self, *, timeout: Optional[float] = None) -> Dict[str, Any]:
        """The MIDI map in use, as its file's JSON (written by the engine to a
        temporary file and read back)."""
        import json
        import tempfile

        with tempfile.TemporaryDirectory(prefix="looprig-midi-") as d:
            path = os.path.join(d, "map.json")
            self.midi_map_save(path, timeout=timeout)
            with open(path, encoding="utf-8") as f:
                return json.load(f)  # type: ignore[no-any-return]


class RawCommandMethods(CommandHost):
    """The general form: any command, by id, in batches, now or later (the
    host also provides ``fx_send``, the other ``send``)."""

    def send_command(
        self,
        command: Union[str, int],
        slot: int = 0,
        *,
        value: Union[None, float, Tuple[float, ...], List[float]] = None,
        text: Union[None, str, bytes] = None,
        param: Union[None, str, int, _params.Param] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        wait: bool = False,
        timeout: Optional[float] = None,
    ) -> Union[int, Event]:
        """Queue one command of any type (the general form; preferred to ``send(command, ...)``).

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
        param : str, int or Param, optional
            The param of an ``LR_CMD_PARAM`` (``"hp-freq"`` or its id).
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
            The command id (its answer is kept for :meth:`wait`), or the
            answer event with ``wait=True``.

        Raises
        ------
        ValueError
            Unknown command, bad quantize, text too long, ``at`` negative.
        RingFull
            The command ring stayed full for the whole timeout.
        EngineNotRunning, Detached, CommandRejected, Timeout
        """
        cmd = build_command(command, slot, value, text, at, quantize, param)
        timeout_s = self._timeout(timeout)
        if not wait:
            return self._channel.push(_single(cmd, lambda events: events), timeout_s)[0]

        def finish(events: List[Event]) -> Event:
            if not events[0].ok:
                raise rejection(events[0])
            return events[0]

        return self._channel.run(_single(cmd, finish), timeout_s)  # type: ignore[no-any-return]

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
        """Queue one command (the general form), or set an effect send: kept for
        compatibility; prefer :meth:`send_command` and :meth:`fx_send`, which
        say which they are.

        Two forms, told apart by the third argument:

        - ``send(command, slot=0, *, value=None, text=None, at=None,
          quantize=None, wait=False, timeout=None)``: :meth:`send_command`;
          returns the command id, or the answer :class:`Event` with ``wait=True``.
        - ``send(slot, bus, level_db, pre=None, *, at=None, quantize=None,
          timeout=None)`` (a third argument, or ``level_db=`` / ``pre=``):
          :meth:`fx_send`, how much of ``slot`` feeds send bus ``bus``
          (1/"delay", 2/"reverb"); returns its :class:`Answer` (an int: the
          frame it takes effect at).

        Raises
        ------
        TypeError
            The effect-send form with ``value``, ``text`` or ``wait``.
        ValueError, RingFull, EngineNotRunning, Detached, CommandRejected, Timeout
            As :meth:`send_command` / :meth:`fx_send`.
        """
        if level_db is not _NOT_GIVEN or pre is not None:
            if value is not None or text is not None or wait:
                raise TypeError("send(slot, bus, level_db, pre): the effect-send form takes no value, text or wait")
            return self.fx_send(command, slot, None if level_db is _NOT_GIVEN else level_db, pre,  # type: ignore[attr-defined]
                                at=at, quantize=quantize, timeout=timeout)
        return self.send_command(command, slot, value=value, text=text, at=at, quantize=quantize, wait=wait,
                                 timeout=timeout)

    def wait(self, cid: int, timeout: Optional[float] = None, raise_on_error: bool = True) -> Event:
        """Wait for the answer to command ``cid``.

        Parameters
        ----------
        cid : int
            Id returned by :meth:`send_command` (or :meth:`send_batch`).
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
        return self._channel.wait(cid, self._timeout(timeout), raise_on_error)

    def _batch_plan(self, commands: Sequence[BatchItem], at: Optional[int], quantize: QuantizeSpec) -> List[Any]:
        if len(commands) == 0:
            raise ValueError("send_batch: no commands")
        if len(commands) > BATCH_MAX:
            raise ValueError("send_batch: %d commands, at most %d (LR_CMD_RING_SIZE) in one batch"
                             % (len(commands), BATCH_MAX))
        cmds = []
        for item in commands:
            if isinstance(item, Mapping):
                kw = dict(item)
                if set(kw) - _BATCH_KEYS or "command" not in kw:
                    raise ValueError("send_batch: bad command %r" % (item,))
                cmds.append(build_command(kw["command"], kw.get("slot", 0), kw.get("value"), kw.get("text"),
                                          kw.get("at", at), kw.get("quantize", quantize), kw.get("param")))
            else:
                if not 2 <= len(item) <= 3:
                    raise ValueError("send_batch: bad command %r: (command, slot[, value])" % (item,))
                cmds.append(build_command(item[0], item[1], item[2] if len(item) > 2 else None, None, at, quantize))
        return cmds

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
            with the keys of :meth:`send_command` (``command``, ``slot``,
            ``value``, ``text``, ``param``, ``at``, ``quantize``). At most
            :data:`BATCH_MAX` (``LR_CMD_RING_SIZE``) commands.
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
        cmds = self._batch_plan(commands, at, quantize)
        timeout_s = self._timeout(timeout)
        if not wait:
            return self._channel.push(Plan([(cmds, True)]), timeout_s)

        def finish(events: List[Event]) -> List[Event]:
            refused = first_rejection(events) if raise_on_error else None
            if refused is not None:
                raise refused
            return events

        return self._channel.run(Plan([(cmds, True)], finish), timeout_s)  # type: ignore[no-any-return]

    def submit(
        self,
        command: Union[str, int],
        slot: int = 0,
        *,
        value: Union[None, float, Tuple[float, ...], List[float]] = None,
        text: Union[None, str, bytes] = None,
        param: Union[None, str, int, _params.Param] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
        callback: Optional[Callable[[CommandFuture], Any]] = None,
    ) -> CommandFuture:
        """Send one command now and return at once: a future of its answer.

        Arguments as for :meth:`send_command`; ``timeout`` (default the Rig's)
        bounds the wait for room in the ring and for the answer.

        Returns
        -------
        CommandFuture
            A :class:`concurrent.futures.Future`, resolved with the
            :class:`Answer` (an int, the frame; ``.event`` the ACK) or failed
            with :class:`CommandRejected` (the engine's message),
            :class:`EngineNotRunning`, :class:`EngineStalled`,
            :class:`Timeout` or :class:`RingFull`. It is resolved, and
            ``callback(future)`` runs, in the thread that calls
            :meth:`pump` / :meth:`poll` or ``future.result()``, or in the
            reader thread (:meth:`start_reader`).

        Raises
        ------
        ValueError
            A bad command (nothing is sent).
        """
        cmd = build_command(command, slot, value, text, at, quantize, param)
        return self._channel.submit(_single(cmd, _answer_of()), self._timeout(timeout), callback)

    def submit_batch(
        self,
        commands: Sequence[BatchItem],
        *,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
        callback: Optional[Callable[[CommandFuture], Any]] = None,
    ) -> CommandFuture:
        """Send one batch (as :meth:`send_batch`) now; a future of its answers.

        Returns
        -------
        CommandFuture
            Resolved with a list of :class:`Answer` (one per command, in
            order) once all are in, or failed with the first refusal
            (:class:`CommandRejected`) or as :meth:`submit`'s.
        """
        cmds = self._batch_plan(commands, at, quantize)

        def finish(events: List[Event]) -> List[Answer]:
            refused = first_rejection(events)
            if refused is not None:
                raise refused
            return [Answer.of([ev]) for ev in events]

        return self._channel.submit(Plan([(cmds, True)], finish), self._timeout(timeout), callback)
