"""What the engine answers: :class:`Event` (one ``lr_event``), :class:`Answer`
(what a command method returns) and :class:`LoadResult`.

An :class:`Answer` is an ``int``, the frame at which the command takes effect
(what the command methods returned before they returned answers), that also
carries the engine's reply: ``ok``, ``code``, ``message``, ``frame``,
``values`` (what the command set) and the events themselves.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Optional, Tuple

from ._ffi import ffi, get_lib
from ._names import COMMAND_NAMES, ERROR_NAMES, EVENT_TYPE_NAMES, EVENT_TYPES
from .errors import CommandRejected

__all__ = ["Event", "Answer", "LoadResult", "error_name", "event_from_c", "rejection"]


def error_name(code: int) -> str:
    """``"LR_E_BAD_SLOT"`` for an ``lr_error`` code (``"LR_E_?"`` if unknown)."""
    name = ERROR_NAMES.get(code)
    if name is not None:
        return name
    try:
        return ffi.string(get_lib().lr_error_name(code)).decode("ascii", "replace")
    except Exception:  # pragma: no cover
        return "LR_E_?"


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
        return error_name(self.code)

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


def event_from_c(ev: Any) -> Event:
    """A Python copy of a cffi ``lr_event``."""
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


def rejection(ev: Event) -> CommandRejected:
    """The :class:`CommandRejected` for an ERROR event."""
    return CommandRejected(ev.code, ev.code_name, ev.message, ev.slot, ev.command_name, ev.id)


def first_rejection(events: Iterable[Event]) -> Optional[CommandRejected]:
    """The error of the first refused command among ``events``, or None."""
    for ev in events:
        if not ev.ok:
            return rejection(ev)
    return None


class Answer(int):
    """The engine's answer to a command method.

    An ``int``: the frame at which the command takes effect (so ``start =
    rig.play(0)`` and ``rig.stop(0, at=start + 48000)`` work as they always
    did), which also carries the engine's reply.

    Attributes
    ----------
    frame : int
        The frame (the same number as the int itself). For a call that sent
        several commands (a mixer call with several values), the latest of
        their frames.
    ok : bool
        True if the engine accepted every command (a command method raises
        :class:`~looprig.CommandRejected` otherwise, so a returned answer is ok).
    code, code_name : int, str
        ``lr_error`` of the first refusal, else ``0`` / ``"LR_OK"``.
    message : str
        The engine's text (several commands: their texts joined by ``"; "``).
    values : dict
        What the command set, by name: mixer calls ``{param name: value sent}``
        (``{"hp-freq": 120.0, "hp-on": 1.0}``), the other commands their
        arguments as sent (``{"db": -6.0}``, ``{"semitones": -7.3}``, ...).
    events : tuple of Event
        The answers, one per command, in the order the commands were sent.
    command : str
        The command (``"play"``, ``"param"``, ...).
    slot, group : int or None
        The slot or group bus addressed (None if the command addresses neither).
    """

    frame: int
    values: Dict[str, Any]
    events: Tuple[Event, ...]
    command: str
    slot: Optional[int]
    group: Optional[int]

    def __new__(cls, frame: int = 0, *, events: Iterable[Event] = (), values: Optional[Dict[str, Any]] = None,
                command: str = "", slot: Optional[int] = None, group: Optional[int] = None) -> "Answer":
        self = super().__new__(cls, int(frame))
        self.frame = int(frame)
        self.events = tuple(events)
        self.values = dict(values or {})
        self.command = command or (self.events[0].command_name if self.events else "")
        self.slot = slot
        self.group = group
        return self

    @classmethod
    def of(cls, events: Iterable[Event], values: Optional[Dict[str, Any]] = None, *,
           slot: Any = "event", group: Optional[int] = None, command: str = "") -> "Answer":
        """The answer made of ``events``: the frame is the latest ACK's, ``slot``
        the first event's unless given."""
        evs = tuple(events)
        frames = [ev.frame for ev in evs if ev.ok]
        first = evs[0] if evs else None
        return cls(max(frames) if frames else 0, events=evs, values=values, command=command,
                   slot=(first.slot if first is not None else None) if slot == "event" else slot, group=group)

    @property
    def event(self) -> Optional[Event]:
        """The first (for most commands: the only) answer event."""
        return self.events[0] if self.events else None

    @property
    def ok(self) -> bool:
        """True if every command was accepted."""
        return all(ev.ok for ev in self.events)

    @property
    def code(self) -> int:
        """``lr_error`` of the first refusal (0 if none)."""
        return next((ev.code for ev in self.events if not ev.ok), 0)

    @property
    def code_name(self) -> str:
        """``"LR_OK"`` or the name of the first refusal's code."""
        return error_name(self.code)

    @property
    def message(self) -> str:
        """The engine's text; several answers joined by ``"; "``."""
        return "; ".join(ev.message for ev in self.events if ev.message)

    @property
    def ids(self) -> Tuple[int, ...]:
        """The command ids answered."""
        return tuple(ev.id for ev in self.events)

    def to_dict(self) -> Dict[str, Any]:
        """JSON-serialisable dict: ``ok``, ``command``, ``slot``, ``group``, ``frame``, ``code``,
        ``code_name``, ``message``, ``values`` and ``events``."""
        return {
            "ok": self.ok,
            "command": self.command,
            "slot": self.slot,
            "group": self.group,
            "frame": self.frame,
            "code": self.code,
            "code_name": self.code_name,
            "message": self.message,
            "values": {k: _json_value(v) for k, v in self.values.items()},
            "events": [ev.to_dict() for ev in self.events],
        }

    def __reduce__(self) -> Any:
        return (_answer, (self.frame, self.events, self.values, self.command, self.slot, self.group))


def _answer(frame: int, events: Tuple[Event, ...], values: Dict[str, Any], command: str, slot: Optional[int],
            group: Optional[int]) -> Answer:
    return Answer(frame, events=events, values=values, command=command, slot=slot, group=group)


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


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
    answer : Answer
        The engine's answer (its event, ``values``: ``frames``,
        ``source_rate``, ``path``).

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
    answer: Optional[Answer] = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True: the file is loaded (a refused load raises)."""
        return self.answer.ok if self.answer is not None else True

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
