"""The ``looprig`` command line (also ``python3 -m looprig``).

Each subcommand is a row of :data:`COMMANDS`: its name, help, arguments, the
:class:`~looprig.Rig` method it calls and how it prints that method's answer
(the engine's own message in parentheses, and its event under ``--json``).
The mixer subcommands (``hp`` ... ``master-gain``) are rows made from the
sections of :mod:`looprig.mixer`: their options come from the params table.

Exit status: 0 success; 1 the engine rejected the command (or another
looprig error); 2 usage error; 3 engine not running; 4 timeout;
130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import __version__
from . import mixer as _mixer
from ._ffi import repo_root
from ._names import MODES
from .answers import Answer, Event
from .client import LOAD_TIMEOUT, Rig, default_name, parse_quantize
from .commands import LAUNCH_QUANTIZE_NAMES, session_text
from .errors import CommandRejected, EngineNotRunning, LibraryNotFound, LooprigError, Timeout
from .params import BUSES, OFF_DB, Param

__all__ = ["main", "build_parser", "parse_args", "find_engine_binary", "COMMANDS", "Command", "mixer_values"]

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2
EXIT_NOT_RUNNING = 3
EXIT_TIMEOUT = 4
EXIT_INTERRUPTED = 130

PROG = "looprig"

# argparse only takes "-6" / "-0.5" as values; also allow exponents, inf, nan.
_NEGATIVE_NUMBER = re.compile(r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|infinity|nan)$", re.I)


class _Parser(argparse.ArgumentParser):
    #: Set by parse_args when the command line asks for --json: usage errors
    #: then also print {"ok": false, "error", "exit": 2} on stdout.
    json_errors = False

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> Any:  # argparse's: usage and message on stderr, exit 2
        if _Parser.json_errors:
            print(json.dumps({"ok": False, "error": message, "exit": EXIT_USAGE}), flush=True)
        super().error(message)


def _slot(s: str) -> int:
    try:
        return int(s, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("slot must be an integer, got %r" % s) from None


def _slot_or_all(s: str) -> Any:
    if s.strip().lower() == "all":
        return "all"
    try:
        return int(s, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("slot must be an integer or 'all', got %r" % s) from None


def _frame(s: str) -> int:
    try:
        v = int(s, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("frame must be an integer, got %r" % s) from None
    if v < 0:
        raise argparse.ArgumentTypeError("frame must be >= 0, got %r" % s)
    return v


def _number(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError("not a number: %r" % s) from None


def _seconds(s: str) -> float:
    v = _number(s)
    if not v >= 0:
        raise argparse.ArgumentTypeError("must be >= 0 seconds: %r" % s)
    return v


def _quantize(s: str) -> str:
    try:
        parse_quantize(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return s


def _integer(s: str) -> int:
    try:
        return int(s, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("not an integer: %r" % s) from None


def _bpm_or_off(s: str) -> Any:
    if s.lower() == "off":
        return "off"
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError("expected the loop's BPM or 'off', got %r" % s) from None


def _bus(s: str) -> int:
    b = s.strip().lower()
    if b in BUSES:
        return BUSES[b]
    if b.isdigit() and 1 <= int(b) <= len(BUSES):
        return int(b)
    raise argparse.ArgumentTypeError("send bus must be %s, got %r"
                                     % (_or([str(n) for n in sorted(BUSES.values())] + list(BUSES)), s))


def _or(words: Sequence[str]) -> str:
    return ", ".join(words[:-1]) + " or " + words[-1] if len(words) > 1 else "".join(words)


def _db_or_off(s: str) -> float:
    if s.strip().lower() == "off":
        return OFF_DB
    try:
        return float(s)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a level in dB or 'off', got %r" % s) from None


def _group_or_none(s: str) -> int:
    if s.strip().lower() in ("none", "master", "-1"):
        return -1
    try:
        return int(s, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a group bus 0..7 or 'none', got %r" % s) from None


_QUANTIZE_HELP = "none | slot:K | frames:N | beat[:N] | bar[:N] (every N beats/bars, default 1)"

_ONOFF = {"on": True, "off": False, "1": True, "0": False, "true": True, "false": False, "yes": True, "no": False}


def _onoff(s: str) -> bool:
    try:
        return _ONOFF[s.lower()]
    except KeyError:
        raise argparse.ArgumentTypeError("expected on or off, got %r" % s) from None


# -- the table of subcommands ---------------------------------------------------------

@dataclass(frozen=True)
class Arg:
    """One ``add_argument`` call: ``Arg(("slot",), {"type": _slot})``."""

    flags: Tuple[str, ...]
    kw: Dict[str, Any]


@dataclass(frozen=True)
class OneOf:
    """Arguments of which at most one may be given (a mutually exclusive group)."""

    args: Tuple[Arg, ...]


def arg(*flags: str, **kw: Any) -> Arg:
    return Arg(flags, kw)


def one_of(*args: Arg) -> OneOf:
    return OneOf(args)


#: How a subcommand calls the Rig: ``call(rig, args, timeout)`` -> the method's answer.
Call = Callable[[Rig, argparse.Namespace, Optional[float]], Any]
#: How it prints that answer: ``show(args, answer)`` -> (text, JSON object).
Show = Callable[[argparse.Namespace, Any], Tuple[str, Dict[str, Any]]]


@dataclass(frozen=True)
class Command:
    """One subcommand.

    Attributes
    ----------
    name, help : str
        Its spelling and one line of help.
    args : sequence of Arg or OneOf
        Its arguments, in order (``--name``, ``--timeout``, ``--json`` are added to all).
    call : callable, optional
        The :class:`Rig` method it calls, as ``call(rig, args, timeout)``.
    show : callable, optional
        How the answer prints: ``show(args, answer)`` -> ``(text, json)``.
    run : callable, optional
        Instead of ``call``/``show``: ``run(rig, out, args, timeout)`` -> exit
        status, for commands that are more than one call (``status``,
        ``meters``, ``demo``); ``rig`` is None for ``engine`` (no engine
        needed) and may be None for ``params`` (the table without values).
    engine : str
        ``"needed"``, ``"none"`` (``engine``) or ``"optional"`` (``params``).
    aliases : tuple of str
        Other spellings.
    usage : str, optional
        argparse usage line.
    check : callable, optional
        ``check(args, parser)``: usage checks after parsing (exit 2 before attaching).
    """

    name: str
    help: str
    args: Sequence[Any] = ()
    call: Optional[Call] = None
    show: Optional[Show] = None
    run: Optional[Callable[..., int]] = None
    engine: str = "needed"
    aliases: Tuple[str, ...] = ()
    usage: Optional[str] = None
    check: Optional[Callable[[argparse.Namespace, argparse.ArgumentParser], None]] = None
    section: Optional[_mixer.Section] = field(default=None, repr=False)


def _ev_json(ev: Event, **extra: Any) -> Dict[str, Any]:
    d = {"ok": ev.ok}
    d.update(ev.to_dict())
    d.update(extra)
    return d


def _with_msg(text: str, ev: Event) -> str:
    return "%s (%s)" % (text, ev.message) if ev.message else text


def _said(text: str, answer: Answer, **extra: Any) -> Tuple[str, Dict[str, Any]]:
    """The usual print of an answer: ``text (engine's message)``; JSON: the event plus ``extra``."""
    ev = answer.event
    assert ev is not None
    return _with_msg(text, ev), _ev_json(ev, **extra)


def _jf(v: Any) -> Optional[float]:
    return v if v == v and v not in (float("inf"), float("-inf")) else None


SLOT = arg("slot", type=_slot)
_AT_HELP = "frame of the engine's timeline (status, rig.frame_time)"
AT = arg("--at", type=_frame, default=None, metavar="FRAME", help=_AT_HELP)
QUANTIZE = arg("--quantize", type=_quantize, default=None, metavar="Q", help=_QUANTIZE_HELP)


def _show_load(a: argparse.Namespace, res: Any) -> Tuple[str, Dict[str, Any]]:
    ans = res.answer
    path = ans.values["path"]
    return _said("load %d: %s, %s" % (a.slot, os.path.basename(path), res.describe()), ans, frames=res.frames,
                 rate=res.rate, source_frames=res.source_frames, source_rate=res.source_rate, path=path)


def _show_play_stop(a: argparse.Namespace, answer: Any) -> Tuple[str, Dict[str, Any]]:
    """``play 0: starts at frame N``; several slots (one batch): ``play 0 1 2: 3 slots start at frame N``."""
    c = a.command
    if isinstance(answer, Answer):
        return _said("%s %d: %s at frame %d" % (c, a.slot, "starts" if c == "play" else "stops", answer.frame),
                     answer)
    what = "%s %s" % (c, " ".join(str(x) for x in a.slot))
    if not answer:
        if c == "play":
            raise LooprigError("play all: no slot is loaded")
        return "stop all: no slot is playing", {"ok": True, "command": c, "slots": [], "frame": None,
                                                "frames": [], "answers": []}
    slots = [ans.slot for ans in answer]
    frames = [ans.frame for ans in answer]
    same = all(f == frames[0] for f in frames)
    verb = "start" if c == "play" else "stop"
    if same:
        text = "%s: %d slot%s %s at frame %d" % (what, len(slots), "" if len(slots) == 1 else "s",
                                                 verb + ("s" if len(slots) == 1 else ""), frames[0])
    else:
        text = "%s: %s at frames %s" % (what, verb, ", ".join("%d@%d" % (s, f) for s, f in zip(slots, frames)))
    if a.slot == ["all"]:
        text += " (slots %s)" % " ".join(map(str, slots))
    notes = sorted({n for ans in answer for n in re.findall(r"\(([^()]*)\)", ans.message)})
    if notes:
        text += " (%s)" % "; ".join(notes)
    return text, {"ok": True, "command": c, "slots": slots, "frame": frames[0] if same else None,
                  "frames": frames, "answers": [ans.event.to_dict() for ans in answer]}


def _play_stop_slots(a: argparse.Namespace) -> Any:
    return "all" if a.slot == ["all"] else a.slot


def _show_loop_tempo(a: argparse.Namespace, ans: Answer) -> Tuple[str, Dict[str, Any]]:
    v = ans.values
    if v["off"]:
        what = "off (plays at its own speed)"
    elif v["loop_beats"] is not None:
        what = "%g beats" % v["loop_beats"]
    else:
        what = "%g BPM" % v["loop_bpm"]
    return _said("loop-tempo %d: %s at frame %d" % (a.slot, what, ans.frame), ans, off=v["off"],
                 loop_bpm=None if v["off"] or v["loop_beats"] is not None else _jf(v["loop_bpm"]),
                 loop_beats=None if v["loop_beats"] is None else _jf(v["loop_beats"]))


def _timed_ping(rig: Rig, a: argparse.Namespace, t: Optional[float]) -> Tuple[Answer, float]:
    t0 = time.monotonic()
    ans = rig.ping(timeout=t)
    return ans, (time.monotonic() - t0) * 1000.0


def _show_ping(a: argparse.Namespace, r: Tuple[Answer, float]) -> Tuple[str, Dict[str, Any]]:
    ans, rtt = r
    return ("ping: engine frame %d, round trip %.2f ms" % (ans.frame, rtt),
            _ev_json(ans.event, rtt_ms=round(rtt, 3)))  # type: ignore[arg-type]


def _show_meter_reset(a: argparse.Namespace, ans: Answer) -> Tuple[str, Dict[str, Any]]:
    ev = ans.event
    assert ev is not None
    text = (_with_msg("meter-reset: at frame %d" % ev.frame, ev) if ev.message else
            "meter-reset: peak holds and integrated loudness restart at frame %d" % ev.frame)
    return text, _ev_json(ev)


def _show_session(a: argparse.Namespace, ans: Answer) -> Tuple[str, Dict[str, Any]]:
    """The engine's message (``saved /x/y: 12 slots, 3 audio files written``); JSON: the event
    plus ``path`` (null = the session in use) and the counts of ``value[]``."""
    ev = ans.event
    assert ev is not None
    v = ans.values
    if a.command == "save":
        extra = {"path": v["path"], "slots_saved": v["slots_saved"], "audio_files_written": v["audio_files_written"]}
        fallback = "save %s: %d slots, %d audio files written" % (v["path"] or "(the session in use)",
                                                                 v["slots_saved"], v["audio_files_written"])
    else:
        extra = {"path": v["path"], "play": v["play"], "slots_loaded": v["slots_loaded"],
                 "connections_missing": v["connections_missing"]}
        fallback = "open %s: %d slots at frame %d" % (v["path"] or "(the session in use)", v["slots_loaded"],
                                                      ans.frame)
    return ev.message or fallback, _ev_json(ev, **extra)


def _check_session(a: argparse.Namespace, sub: argparse.ArgumentParser) -> None:
    """A bad folder path (NUL, too long) is a usage error, before attaching."""
    try:
        session_text(a.dir)
    except ValueError as e:
        sub.error(str(e))


def _show_midi(a: argparse.Namespace, ans: Answer) -> Tuple[str, Dict[str, Any]]:
    """The engine's message (``learned: note 40 ch 1 -> toggle 3``); JSON: the event and the values."""
    ev = ans.event
    assert ev is not None
    return ev.message or a.command, _ev_json(ev, **ans.values)


def _check_midi_map(a: argparse.Namespace, sub: argparse.ArgumentParser) -> None:
    if a.op == "save" and not a.file:
        sub.error("midi-map save needs a FILE")
    if a.op in ("clear", "show") and a.file:
        sub.error("midi-map %s takes no FILE" % a.op)


def _cmd_midi_map(rig: Rig, out: "_Out", a: argparse.Namespace, timeout: Optional[float]) -> int:
    if a.op == "show":
        m = rig.midi_map(timeout=timeout)
        out.emit(json.dumps(m, indent=2), m)
        return 0
    if a.op == "load":
        ans = rig.midi_map_load(a.file, timeout=timeout)
    elif a.op == "save":
        ans = rig.midi_map_save(a.file, timeout=timeout)
    else:
        ans = rig.midi_map_clear(timeout=timeout)
    text, obj = _show_midi(a, ans)
    out.emit(text, obj)
    return 0


def _show_mixer(a: argparse.Namespace, ans: Answer) -> Tuple[str, Dict[str, Any]]:
    """``hp 0: hp-freq 120 Hz, hp-on on at frame N``: the values the call set, by param."""
    from .params import lookup

    where = a.command
    if ans.slot is not None:
        where += " %d" % ans.slot
    elif ans.group is not None:
        where += " group %d" % ans.group
    pairs = [(lookup(n), v) for n, v in ans.values.items()]
    text = "%s: %s at frame %d" % (where, ", ".join("%s %s" % (p.name, p.format(v)) for p, v in pairs), ans.frame)
    return text, {"ok": True, "command": a.command, "slot": ans.slot, "group": ans.group, "frame": ans.frame,
                  "values": {p.name: _jf(v) for p, v in pairs}}


def _check_play_stop(a: argparse.Namespace, sub: argparse.ArgumentParser) -> None:
    if "all" in a.slot and len(a.slot) > 1:
        sub.error("give slot numbers or 'all', not both")
    if len(a.slot) == 1 and a.slot != ["all"]:
        a.slot = a.slot[0]  # one slot: the single-command form


def _check_loop_tempo(a: argparse.Namespace, sub: argparse.ArgumentParser) -> None:
    if a.bpm is None and a.beats is None:
        sub.error("give the loop's BPM, --beats N, or 'off'")
    if a.bpm is not None and a.beats is not None:
        sub.error("give the loop's BPM, --beats N or 'off', not more than one")


def _check_param_args(args: argparse.Namespace, sub: argparse.ArgumentParser) -> None:
    """Name, target and value of `param` are checked before attaching (usage errors, exit 2)."""
    from .params import check_target, lookup, to_value

    try:
        p = lookup(args.param)
    except LibraryNotFound:
        return  # reported when attaching
    except ValueError as e:
        sub.error(str(e))
    try:
        check_target(p, args.slot, args.group)
        to_value(p, args.value)
    except ValueError as e:
        msg = str(e).replace("slot=N, CLI --slot N", "--slot N").replace("group=G, CLI --group G", "--group G")
        sub.error(msg)


def _play_stop(name: str, verb: str, every: str) -> Command:
    return Command(
        name, "%s one or more slots on the same frame (now, at a frame, or quantized)" % verb,
        usage="%(prog)s SLOT [SLOT ...] | %(prog)s all [--at FRAME] [--quantize Q]",
        args=[arg("slot", type=_slot_or_all, nargs="+", metavar="SLOT",
                  help="slot number(s), or 'all' (every %s slot); several are sent as one batch"
                       " and take effect on the same frame" % every),
              AT,
              arg("--quantize", type=_quantize, default=None, metavar="Q",
                  help="none | slot:K (next loop start of slot K) | frames:N (next multiple of N frames)"
                       " | beat[:N] | bar[:N] (next beat/bar of the master grid, every N)")],
        call=lambda rig, a, t: getattr(rig, name)(_play_stop_slots(a), at=a.at, quantize=a.quantize, timeout=t),
        show=_show_play_stop, check=_check_play_stop)


def _switch(name: str) -> Command:
    return Command(
        name, "%s a slot on or off" % name,
        args=[SLOT, arg("on", type=_onoff, metavar="on|off"), arg("--at", type=_frame, default=None, metavar="FRAME")],
        call=lambda rig, a, t: getattr(rig, name)(a.slot, a.on, at=a.at, timeout=t),
        show=lambda a, ans: _said("%s %d: %s at frame %d" % (name, a.slot, "on" if ans.values["on"] else "off",
                                                             ans.frame), ans, on=ans.values["on"]))


# -- mixer subcommands: rows made from the sections of looprig.mixer -------------------

#: What the CLI adds to a section: help, usage, the arguments given by position
#: (name, metavar, type), and switches spelled as flags: ``off_flag`` (``--off``
#: clears the section's ``on``), ``pairs`` (``--on``/``--off``, ``--pre``/``--post``).
_MIXER_CLI: Dict[str, Dict[str, Any]] = {
    "hp": dict(help="set a slot's high-pass filter (cutoff in Hz; --off switches it off)",
               usage="%(prog)s SLOT FREQ [--q Q] [--off] | %(prog)s SLOT --off",
               positional=(("freq", "FREQ", _number, "?"),),
               off_flag="switch the filter off (FREQ/--q are still set if given)"),
    "lp": dict(help="set a slot's low-pass filter (cutoff in Hz; --off switches it off)",
               usage="%(prog)s SLOT FREQ [--q Q] [--off] | %(prog)s SLOT --off",
               positional=(("freq", "FREQ", _number, "?"),),
               off_flag="switch the filter off (FREQ/--q are still set if given)"),
    "eq": dict(help="set a slot's 3-band EQ: low shelf, mid peak, high shelf (gains in dB, -24..+24)",
               pairs={"on": (("--on", "switch the EQ on"), ("--off", "switch the EQ off (bypass)"))}),
    "send": dict(help="set how much of a slot feeds send bus 1 (delay) or 2 (reverb), in dB (-120 or off = none)",
                 positional=(("bus", "1|2|delay|reverb", _bus, None), ("level_db", "DB|off", _db_or_off, None)),
                 pairs={"pre": (("--pre", "pre-fader (before gain/pan, after mute/solo)"),
                                ("--post", "post-fader (the default)"))}),
    "group": dict(help="route a slot to group bus G (0..7), or straight to the master (none)",
                  positional=(("group", "G|none", _group_or_none, None),)),
    "group-gain": dict(help="set a group bus's level in dB (-120 = silent .. +12)",
                       positional=(("db", "DB", _db_or_off, None),)),
    "group-mute": dict(help="mute a group bus on or off", positional=(("on", "on|off", _onoff, None),)),
    "delay": dict(help="set the delay effect (fed by send bus 1)", need_one=True),
    "reverb": dict(help="set the reverb (fed by send bus 2)", need_one=True),
    "master-gain": dict(help="set the master level in dB (-120 = silent .. +12)",
                        positional=(("db", "DB", _db_or_off, None),)),
}
_MIXER_CLI["eq"]["need_one"] = True

_METAVARS = {"dB": "DB", "Hz": "HZ", "Q": "Q", "ms": "MS", "s": "S", "beats": "B"}


def _option(sec: _mixer.Section, p: Param) -> str:
    """``--low-freq`` for ``eq-low-freq``: the name without the section's prefix; a band's
    gain is the band itself (``eq-low-gain``: ``--low``)."""
    suffix = sec.suffix(p)
    if suffix.endswith("-gain"):
        suffix = suffix[:-len("-gain")]
    return "--" + suffix


def _value_type(p: Param) -> Callable[[str], Any]:
    if p.kind == "switch":
        return _onoff
    if p.kind == "index":
        return _integer
    if p.unit == "dB" and p.min <= OFF_DB:
        return _db_or_off
    return _number


def _metavar(p: Param) -> str:
    if p.kind == "switch":
        return "on|off"
    if p.kind == "index":
        return "N"
    return _METAVARS.get(p.unit, "F")


def _help(p: Param) -> str:
    """The table's help with the range and default: ``high-pass cutoff (10..20000 Hz; default 80)``."""
    if p.kind == "switch":
        return p.help
    unit = " " + p.unit if p.unit and p.unit != "Q" else ""
    off = ", off = %g" % OFF_DB if p.unit == "dB" and p.min <= OFF_DB else ""
    if p.zero_off:
        off = ", or 0 = off"
    return "%s (%s..%s%s%s; default %s)" % (p.help, _num(p.min), _num(p.max), unit, off, _num(p.default))


def _num(v: float) -> str:
    return ("%.3f" % v).rstrip("0").rstrip(".")


def _mixer_args(sec: _mixer.Section, spec: Dict[str, Any]) -> List[Any]:
    """The arguments of a section's subcommand, from the params table."""
    params = {a: p for p, a in sec.arguments()}
    out: List[Any] = []
    if sec.target == "slot":
        out.append(SLOT)
    elif sec.target == "group":
        out.append(arg("group", type=_integer, metavar="G"))
    for name, metavar, typ, nargs in spec.get("positional", ()):
        kw: Dict[str, Any] = {"type": typ, "metavar": metavar}
        if nargs:
            kw.update(nargs=nargs, default=None)
        if name in params and nargs:
            kw["help"] = _help(params[name])
        out.append(arg(name, **kw))
    taken = {name for name, *_ in spec.get("positional", ())}
    exclusive = {a: b for a, b in sec.exclusive}
    exclusive.update({b: a for a, b in sec.exclusive})
    grouped: Dict[str, List[Arg]] = {}
    for p, name in sec.arguments():
        if name in taken or name in spec.get("pairs", {}) or (name == "on" and "off_flag" in spec):
            continue
        option = _option(sec, p)
        if option in _RESERVED_OPTIONS:
            continue  # a param whose option would shadow a common one: `looprig param` sets it
        a = arg(option, dest=name, type=_value_type(p), default=None, metavar=_metavar(p), help=_help(p))
        if name in exclusive:
            key = "/".join(sorted((name, exclusive[name])))
            if key not in grouped:
                grouped[key] = []
                out.append(("group", key))
            grouped[key].append(a)
        else:
            out.append(a)
    out = [one_of(*grouped[x[1]]) if isinstance(x, tuple) else x for x in out]
    for name, ((on_flag, on_help), (off_flag, off_help)) in spec.get("pairs", {}).items():
        if name in params:
            out.append(one_of(arg(on_flag, dest=name, action="store_const", const=True, default=None, help=on_help),
                              arg(off_flag, dest=name, action="store_const", const=False, help=off_help)))
    if "off_flag" in spec and "on" in params:
        out.append(arg("--off", action="store_true", help=spec["off_flag"]))
    return out + [AT, QUANTIZE]


_RESERVED_OPTIONS = frozenset({"--name", "--timeout", "--json", "--at", "--quantize", "--help", "--slot", "--group",
                               "--off", "--on", "--pre", "--post", "-h"})


def _section_kwargs(sec: _mixer.Section, a: argparse.Namespace) -> Dict[str, Any]:
    """The section method's arguments from a parsed command line."""
    kw = {name: getattr(a, name) for _, name in sec.arguments() if hasattr(a, name)}
    if "off" in vars(a) and sec.command in ("hp", "lp"):
        kw["on"] = not a.off
    if sec.bus:
        kw["bus"] = a.bus
    return kw


def _mixer_call(sec: _mixer.Section) -> Call:
    def call(rig: Rig, a: argparse.Namespace, t: Optional[float]) -> Answer:
        target = [getattr(a, sec.target)] if sec.target in ("slot", "group") else []
        return getattr(rig, sec.method)(*target, **_section_kwargs(sec, a), at=a.at, quantize=a.quantize,  # type: ignore[no-any-return]
                                        timeout=t)
    return call


def _check_mixer(sec: _mixer.Section, spec: Dict[str, Any]) -> Callable[[argparse.Namespace, argparse.ArgumentParser], None]:
    def check(a: argparse.Namespace, sub: argparse.ArgumentParser) -> None:
        if "rest" in vars(a):
            return  # no params table (no library): attaching says why
        if "off_flag" in spec and a.freq is None and not a.off:
            sub.error("give the cutoff FREQ in Hz, or --off")
        if spec.get("need_one") and not mixer_values(a):
            opts = [x.option_strings[0] for x in sub._actions
                    if x.option_strings and x.dest not in ("help", "name", "timeout", "json", "at", "quantize")]
            sub.error("nothing to set: give at least one of %s" % ", ".join(opts))
    return check


def _mixer_command(sec: _mixer.Section) -> Command:
    spec = _MIXER_CLI[sec.command]
    try:
        args = _mixer_args(sec, spec)
    except LibraryNotFound:
        # No params table without the library: take anything, and say why when it runs.
        args = [arg("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)]
    return Command(sec.command, spec["help"], args=args, usage=spec.get("usage"), call=_mixer_call(sec),
                   show=_show_mixer, check=_check_mixer(sec, spec), section=sec)


def mixer_values(args: argparse.Namespace) -> List[Any]:
    """The ``(param name, value)`` pairs a mixer command line sets, in the order they are sent."""
    if args.command == "param":
        from .params import lookup

        return [(lookup(args.param).name, args.value)]
    sec = _mixer.section(args.command)
    return [(n, v) for n, v in sec.values(_section_kwargs(sec, args)) if v is not None]


def _commands() -> List[Command]:
    """Every subcommand, in the order ``--help`` lists them."""
    rows = [
        Command("engine", "run the engine (looprigd) in the foreground", engine="none", run=lambda rig, out, a, t: _cmd_engine(a, a.name or default_name()), args=[
            arg("--slots", type=int, default=None, metavar="N", help="number of loop slots"),
            arg("--slot-outs", action="store_true", help="one JACK output pair per slot"),
            arg("--declick-ms", type=_number, default=None, metavar="MS", help="declick ramp length (0 = exact)"),
            arg("--smooth-ms", type=_number, default=None, metavar="MS",
                help="ramp of mixer/effect param changes (looprigd default 20)"),
            one_of(arg("--bus-outs", dest="bus_outs", action="store_const", const=True, default=None,
                       help="JACK outs for the group buses, sends and effect returns"),
                   arg("--no-bus-outs", dest="bus_outs", action="store_const", const=False, help="no bus outs")),
            arg("--pan-law", type=_number, default=None, metavar="DB",
                help="pan law of mono files, gain at centre: 0, -3 (default), -4.5, -6"),
            arg("looprigd_args", nargs=argparse.REMAINDER, metavar="-- LOOPRIGD_OPTION",
                help="any further looprigd options, after -- (see looprigd --help)")]),
        Command("load", "load an audio file into a slot (waits until loaded)",
                args=[SLOT, arg("path", metavar="file")],
                call=lambda rig, a, t: rig.load(a.slot, a.path, timeout=LOAD_TIMEOUT if t is None else t),
                show=_show_load),
        Command("unload", "empty a slot", args=[SLOT],
                call=lambda rig, a, t: rig.unload(a.slot, timeout=t),
                show=lambda a, ans: _said("unload %d: at frame %d" % (a.slot, ans.frame), ans)),
        _play_stop("play", "start", "loaded"),
        _play_stop("stop", "stop", "playing"),
        Command("gain", "set a slot's gain in dB",
                args=[SLOT, arg("db", type=_number, metavar="DB"), arg("--at", type=_frame, default=None, metavar="FRAME")],
                call=lambda rig, a, t: rig.gain(a.slot, a.db, at=a.at, timeout=t),
                show=lambda a, ans: _said("gain %d: %g dB at frame %d" % (a.slot, ans.values["db"], ans.frame), ans,
                                          db=_jf(ans.values["db"]))),
        Command("pan", "set a slot's pan, -1 (left) .. +1 (right)",
                args=[SLOT, arg("pan", type=_number, metavar="P"), arg("--at", type=_frame, default=None, metavar="FRAME")],
                call=lambda rig, a, t: rig.pan(a.slot, a.pan, at=a.at, timeout=t),
                show=lambda a, ans: _said("pan %d: %g at frame %d" % (a.slot, ans.values["pan"], ans.frame), ans,
                                          pan=_jf(ans.values["pan"]))),
        _switch("mute"),
        _switch("solo"),
        Command("declick", "set the engine's declick ramp length in ms (0 = exact)",
                args=[arg("ms", type=_number, metavar="MS")],
                call=lambda rig, a, t: rig.declick(a.ms, timeout=t),
                show=lambda a, ans: _said("declick: %g ms at frame %d" % (ans.values["ms"], ans.frame), ans,
                                          ms=_jf(ans.values["ms"]))),
        Command("tempo", "set the master tempo in BPM (20..400)",
                args=[arg("bpm", type=_number, metavar="BPM"), AT, QUANTIZE],
                call=lambda rig, a, t: rig.tempo(a.bpm, at=a.at, quantize=a.quantize, timeout=t),
                show=lambda a, ans: _said("tempo: %g BPM at frame %d" % (ans.values["bpm"], ans.frame), ans,
                                          bpm=_jf(ans.values["bpm"]))),
        Command("time-signature", "set the beats per bar of the master grid (1..32)", aliases=("meter",),
                args=[arg("beats_per_bar", type=_integer, metavar="N")],
                call=lambda rig, a, t: rig.time_signature(a.beats_per_bar, timeout=t),
                # the spelling the user typed leads the line ("meter" is the old one)
                show=lambda a, ans: _said("%s: %d beats per bar at frame %d" % (getattr(a, "spelled", a.command), ans.values["beats_per_bar"],
                                                                                 ans.frame), ans,
                                          beats_per_bar=ans.values["beats_per_bar"])),
        Command("loop-tempo", "make a slot follow the master tempo: its own BPM, its length in beats, or off",
                usage="%(prog)s SLOT BPM | %(prog)s SLOT --beats N | %(prog)s SLOT off",
                args=[SLOT,
                      arg("bpm", type=_bpm_or_off, nargs="?", default=None, metavar="BPM|off",
                          help="the loop's own tempo, or 'off' to play at its own speed"),
                      arg("--beats", type=_number, default=None, metavar="N", help="the loop's length in beats")],
                call=lambda rig, a, t: rig.loop_tempo(a.slot, None if a.bpm == "off" else a.bpm, beats=a.beats,
                                                      timeout=t),
                show=_show_loop_tempo, check=_check_loop_tempo),
        Command("pitch", "transpose a slot (-24..+24 semitones)",
                args=[SLOT, arg("semitones", type=_number, metavar="SEMITONES"),
                      arg("--cents", type=_number, default=0.0, metavar="C", help="added as C/100 semitones")],
                call=lambda rig, a, t: rig.pitch(a.slot, a.semitones, a.cents, timeout=t),
                show=lambda a, ans: _said("pitch %d: %+g semitones at frame %d" % (a.slot, ans.values["semitones"],
                                                                                  ans.frame), ans,
                                          semitones=_jf(ans.values["semitones"]))),
        Command("mode", "how a slot follows tempo: stretch (pitch kept) or varispeed (pitch follows tempo)",
                args=[SLOT, arg("mode", type=str.lower, choices=sorted(MODES, key=MODES.__getitem__))],
                call=lambda rig, a, t: rig.mode(a.slot, a.mode, timeout=t),
                show=lambda a, ans: _said("mode %d: %s at frame %d" % (a.slot, ans.values["mode"], ans.frame), ans,
                                          mode=ans.values["mode"])),
        Command("transport", "JACK transport: follow it, be its timebase master, or ignore it (off)",
                args=[arg("transport_mode", type=str.lower, choices=["off", "follow", "master"],
                          metavar="off|follow|master")],
                call=lambda rig, a, t: rig.transport(a.transport_mode, timeout=t),
                show=lambda a, ans: _said("transport %s at frame %d" % (ans.values["mode"], ans.frame), ans,
                                          mode=ans.values["mode"])),
        Command("quantize", "the rig's launch quantize (used by the GUI and controllers): none, beat, bar, 2bars, 4bars, 8bars",
                args=[arg("launch_quantize", type=str.lower, choices=list(LAUNCH_QUANTIZE_NAMES),
                          metavar="|".join(LAUNCH_QUANTIZE_NAMES))],
                call=lambda rig, a, t: rig.launch_quantize(a.launch_quantize, timeout=t),
                show=lambda a, ans: _said("quantize %s at frame %d" % (a.launch_quantize, ans.frame), ans,
                                          quantize=a.launch_quantize)),
        Command("gui", "open the performer's window (PyQt6) on the engine NAME; it waits for the engine and re-attaches by itself",
                engine="none", run=lambda rig, out, a, t: _cmd_gui(a),
                args=[arg("--screenshot", default=None, metavar="FILE",
                          help="write a PNG of the main window after --after seconds, then exit"),
                      arg("--after", type=_seconds, default=2.0, metavar="SECONDS",
                          help="seconds before the screenshot (default 2)"),
                      arg("--size", default=None, metavar="WxH", help="window size (default 1440x900)"),
                      arg("--select", type=int, default=None, metavar="SLOT", help="slot selected at start")]),
        Command("osc", "serve OSC on UDP (SooperLooper's dialect and /looprig/...) for the engine NAME;"
                " it waits for the engine and re-attaches by itself (docs/OSC.md)",
                engine="none", run=lambda rig, out, a, t: _cmd_osc(a),
                args=[arg("--port", type=_port, default=9951, metavar="PORT",
                          help="UDP port (default 9951, SooperLooper's; 0 = any free port, see the ready line)"),
                      arg("--host", default="127.0.0.1", metavar="ADDRESS",
                          help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 = all)")]),
        Command("ping", "round trip to the engine; prints its frame time", call=_timed_ping, show=_show_ping),
        Command("status", "engine info and a table of slots",
                args=[arg("--all", action="store_true", help="also list empty slots")],
                run=lambda rig, out, a, t: _cmd_status(rig, out, a)),
        Command("meters", "print meter bars (once, or refreshing with --watch)",
                args=[arg("--watch", type=_seconds, default=None, metavar="SECONDS",
                          help="refresh for this many seconds (0 = until Ctrl-C)"),
                      arg("--interval", type=_seconds, default=0.1, metavar="S", help="refresh interval (default 0.1)"),
                      arg("--all", action="store_true", help="also show empty slots")],
                run=lambda rig, out, a, t: _cmd_meters(rig, out, a)),
    ]
    rows += [_mixer_command(sec) for sec in _mixer.SECTIONS]
    rows += [
        Command("param", "set any mixer/effect parameter by name (see `params`)",
                args=[arg("param", metavar="NAME", help="e.g. hp-freq, delay-feedback, group-gain"),
                      arg("value", metavar="VALUE", help="a number; on/off for switches; none for group"),
                      one_of(arg("--slot", type=_slot, default=None, metavar="N", help="the slot (slot params)"),
                             arg("--group", type=_integer, default=None, metavar="G",
                                 help="the group bus 0..7 (group params)")),
                      AT, QUANTIZE],
                call=lambda rig, a, t: rig.param(a.param, a.value, slot=a.slot, group=a.group, at=a.at,
                                                 quantize=a.quantize, timeout=t),
                show=_show_mixer, check=_check_param_args),
        Command("params", "list the mixer/effect parameters with ranges, defaults and current values",
                engine="optional", run=lambda rig, out, a, t: _cmd_params(rig, out, a),
                args=[arg("--slot", type=_slot, default=0, metavar="N",
                          help="show slot N's values of slot params (default 0)"),
                      arg("--group", type=_integer, default=0, metavar="G",
                          help="show group G's values of group params (default 0)")]),
        Command("meter-reset", "restart the peak holds and the integrated loudness",
                call=lambda rig, a, t: rig.meter_reset(timeout=t), show=_show_meter_reset),
        Command("save", "save the whole rig to a session folder (waits until written)",
                usage="%(prog)s [DIR]",
                args=[arg("dir", nargs="?", default=None, metavar="DIR",
                          help="the session folder (created if absent; relative to the current directory);"
                               " default: the session in use")],
                call=lambda rig, a, t: rig.save(a.dir, timeout=t), show=_show_session, check=_check_session),
        Command("open", "open a session folder: restore the whole rig (waits until restored)",
                usage="%(prog)s [DIR] [--play]",
                args=[arg("dir", nargs="?", default=None, metavar="DIR",
                          help="the session folder (relative to the current directory); default: the session in"
                               " use (drops the changes since)"),
                      arg("--play", action="store_true",
                          help="start the slots that were playing, together on one frame"
                               " (default: leave them stopped and ready)")],
                call=lambda rig, a, t: rig.open(a.dir, play=a.play, timeout=t), show=_show_session,
                check=_check_session),
        Command("midi-learn", "bind the next note or CC on midi_in to a target (waits for it; docs/MIDI.md)",
                usage="%(prog)s TARGET...",
                args=[arg("target", nargs="+", metavar="TARGET",
                          help="what it will do: toggle/play/stop/mute/solo SLOT, scene ROW, stop-all, tap,"
                               " tempo [LO HI], or a param with its slot or group and an optional range"
                               " (gain 2 -60 6)")],
                call=lambda rig, a, t: rig.midi_learn(" ".join(a.target), timeout=t), show=_show_midi),
        Command("midi-map", "the MIDI map: load FILE (none: the default), save FILE, clear, show (docs/MIDI.md)",
                usage="%(prog)s {load,save,clear,show} [FILE]",
                args=[arg("op", choices=("load", "save", "clear", "show"), metavar="OP",
                          help="load [FILE] | save FILE | clear | show"),
                      arg("file", nargs="?", default=None, metavar="FILE", help="the map file (JSON)")],
                run=lambda rig, out, a, t: _cmd_midi_map(rig, out, a, t), check=_check_midi_map),
        Command("demo", "generate a few loops, play them in sync and show meters",
                run=lambda rig, out, a, t: _cmd_demo(rig, out, a, t),
                args=[arg("--seconds", type=_seconds, default=10.0, metavar="S", help="how long to play (default 10)"),
                      arg("--first-slot", type=int, default=0, metavar="K", help="first slot to use (default 0)"),
                      arg("--dir", default=None, help="where to write the loops (default: cache dir)"),
                      arg("--keep", action="store_true", help="leave the loops playing at the end")]),
    ]
    return rows


#: Every subcommand, in the order ``--help`` lists them (mixer rows from the params table).
COMMANDS: List[Command] = []
#: The mixer and effect subcommands (``LR_CMD_PARAM``).
MIXER_COMMANDS = tuple(s.command for s in _mixer.SECTIONS) + ("param",)


def _rows() -> Dict[str, Command]:
    if not COMMANDS:
        COMMANDS.extend(_commands())
    return {c.name: c for c in COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser from :data:`COMMANDS` (exposed for documentation and tests)."""
    common = _Parser(add_help=False)
    # Accepted after the command too; SUPPRESS keeps the global value otherwise.
    common.add_argument("--name", default=argparse.SUPPRESS, help="engine name (default $LOOPRIG_NAME or 'looprig')")
    common.add_argument("--timeout", type=_seconds, default=argparse.SUPPRESS, metavar="S", help="answer timeout in seconds")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output")

    p = _Parser(
        prog=PROG,
        description="Control a running looprigd (looprig JACK loop engine) through shared memory.",
        epilog="exit status: 0 ok, 1 command rejected by the engine, 2 usage, 3 engine not running, 4 timeout",
    )
    p.add_argument("--name", default=None, help="engine name (default $LOOPRIG_NAME or 'looprig')")
    p.add_argument("--timeout", type=_seconds, default=None, metavar="S",
                   help="seconds to wait for each answer (default 5, load and save 30, open 60)")
    p.add_argument("--json", action="store_true", default=False, help="machine-readable JSON output")
    p.add_argument("--wait", type=_seconds, default=0.0, metavar="S",
                   help="wait up to S seconds for the engine to appear (default 0: fail at once)")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    subcommands: Dict[str, argparse.ArgumentParser] = {}
    p.subcommands = subcommands  # type: ignore[attr-defined]
    for row in _rows().values():
        kw: Dict[str, Any] = {"help": row.help, "description": row.help, "parents": [common]}
        if row.usage:
            kw["usage"] = row.usage
        if row.aliases:
            kw["aliases"] = list(row.aliases)
        s = sub.add_parser(row.name, **kw)
        for a in row.args:
            if isinstance(a, OneOf):
                g = s.add_mutually_exclusive_group()
                for x in a.args:
                    g.add_argument(*x.flags, **x.kw)
            else:
                s.add_argument(*a.flags, **a.kw)
        subcommands[row.name] = s
        for alias in row.aliases:
            subcommands[alias] = s
    return p


# -- output helpers -----------------------------------------------------------

class _Out:
    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode

    def emit(self, text: str, obj: Dict[str, Any]) -> None:
        if self.json:
            print(json.dumps(obj, allow_nan=False), flush=True)
        else:
            print(text, flush=True)


def find_engine_binary() -> List[str]:
    """Candidate looprigd paths in lookup order: $LOOPRIGD, repo build dir,
    the bindir of a meson install (this package's), PATH."""
    from ._ffi import installed_dirs

    cands = []
    env = os.environ.get("LOOPRIGD")
    if env:
        cands.append(env)
    root = repo_root()
    if root is not None:
        cands.append(str(root / "build" / "engine" / "looprigd"))
    cands += [str(d / "looprigd") for d in installed_dirs("bin")]
    found = shutil.which("looprigd")
    cands.append(found if found else "looprigd (PATH)")
    return cands


def _cmd_gui(args: argparse.Namespace) -> int:
    """``looprig gui``: the Qt window (imported only here: ``import looprig`` loads no Qt)."""
    try:
        from .gui.app import run_gui
    except ImportError as e:  # PyQt6 / pyqtgraph missing
        raise LooprigError("the GUI needs PyQt6 and pyqtgraph (Debian: apt-get install python3-pyqt6 "
                           "python3-pyqtgraph): %s" % e) from None
    return run_gui(name=args.name or default_name(), screenshot=args.screenshot, after=args.after,
                   size=args.size, select=args.select)


def _port(s: str) -> int:
    v = _integer(s)
    if not 0 <= v <= 65535:
        raise argparse.ArgumentTypeError("port must be 0..65535, got %r" % s)
    return v


def _cmd_osc(args: argparse.Namespace) -> int:
    """``looprig osc``: the OSC server (imported only here: it needs python3-liblo)."""
    try:
        from .osc import run as run_osc
    except ImportError as e:
        return _error("the OSC server needs liblo for Python (Debian: apt-get install python3-liblo): %s" % e,
                      EXIT_REJECTED, bool(args.json))
    return run_osc(name=args.name or default_name(), host=args.host, port=args.port)


def _cmd_engine(args: argparse.Namespace, name: str) -> int:
    cands = find_engine_binary()
    binary = None
    for c in cands:
        if os.path.isfile(c) and os.access(c, os.X_OK):
            binary = c
            break
        if c == os.environ.get("LOOPRIGD"):
            break  # an explicit, wrong $LOOPRIGD is an error
    if binary is None:
        print("looprig: error: engine binary looprigd not found; looked at: %s" % ", ".join(cands), file=sys.stderr)
        return EXIT_REJECTED
    argv = [binary, "--name", name]
    if args.slots is not None:
        argv += ["--slots", str(args.slots)]
    if args.slot_outs:
        argv.append("--slot-outs")
    if args.declick_ms is not None:
        argv += ["--declick-ms", "%g" % args.declick_ms]
    if args.smooth_ms is not None:
        argv += ["--smooth-ms", "%g" % args.smooth_ms]
    if args.bus_outs is not None:
        argv.append("--bus-outs" if args.bus_outs else "--no-bus-outs")
    if args.pan_law is not None:
        argv += ["--pan-law", "%g" % args.pan_law]
    extra = list(args.looprigd_args or [])
    if extra and extra[0] == "--":
        extra = extra[1:]
    argv += extra
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(binary, argv)
    return EXIT_REJECTED  # pragma: no cover


def _cmd_params(rig: Optional[Rig], out: _Out, args: argparse.Namespace, note: str = "") -> int:
    from .display import params_table
    from .params import param_table

    m = rig.meters() if rig is not None else None
    published = m is not None and m.params_published
    if m is not None and not published:
        note = "engine %r publishes no param values (an engine without the mixer?)" % rig.name  # type: ignore[union-attr]
    if m is not None and published:
        if not 0 <= args.slot < m.slot_count:
            raise ValueError("--slot %d out of range (0..%d)" % (args.slot, m.slot_count - 1))
        if not 0 <= args.group < len(m.groups):
            raise ValueError("--group %d out of range (0..%d)" % (args.group, len(m.groups) - 1))
    rows = []
    for p in param_table():
        d = p.to_dict()
        value = None
        if published:
            assert m is not None
            if p.target == "slot":
                value = m.param(p, slot=args.slot)
                d["values"] = [_jf(float(m.slot_params[i][p.index])) for i in range(m.slot_count)]  # type: ignore[index]
            elif p.target == "group":
                value = m.param(p, group=args.group)
                d["values"] = [_jf(float(m.group_params[g][p.index])) for g in range(len(m.groups))]  # type: ignore[index]
            else:
                value = m.param(p)
        d["value"] = None if value is None else _jf(value)
        rows.append((p, value, d))
    if note:
        print("looprig: note: %s: values not shown" % note, file=sys.stderr, flush=True)
    if out.json:
        print(json.dumps({"ok": True, "slot": args.slot, "group": args.group, "published": published,
                          "params": [d for _, _, d in rows]}, allow_nan=False), flush=True)
    else:
        print(params_table([(p, v) for p, v, _ in rows], slot=args.slot, group=args.group,
                           values=published), flush=True)
    return EXIT_OK


def _cmd_status(rig: Rig, out: _Out, args: argparse.Namespace) -> int:
    from .display import status_table

    st = rig.status(all_slots=True)
    if out.json:
        print(json.dumps(st, allow_nan=False, indent=None))
    else:
        print(status_table(st, show_all=args.all))
    return EXIT_OK


class _Screen:
    """Redraws a block of lines in place on a terminal; appends otherwise."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.prev = 0

    def draw(self, lines: Sequence[str]) -> None:
        w = self.stream
        if self.tty and self.prev:
            w.write("\x1b[%dF" % self.prev)
        for ln in lines:
            w.write(ln + ("\x1b[K\n" if self.tty else "\n"))
        if self.tty and self.prev > len(lines):
            for _ in range(self.prev - len(lines)):
                w.write("\x1b[K\n")
            w.write("\x1b[%dF" % (self.prev - len(lines)))
        if not self.tty:
            w.write("\n")
        w.flush()
        self.prev = len(lines)


def watch_meters(rig: Rig, seconds: Optional[float], interval: float, json_mode: bool, show_all: bool = False,
                 header: Optional[Callable[[], List[str]]] = None) -> None:
    """Print meters once (``seconds`` None) or refreshing for ``seconds`` (0 = forever)."""
    from .display import meter_lines

    rate = rig.sample_rate
    screen = _Screen()
    end = None if not seconds else time.monotonic() + seconds
    interval = max(interval, 0.02)
    # Without a terminal, do not flood the output: at most ~2 frames per second.
    if not screen.tty and not json_mode:
        interval = max(interval, 0.5)
    while True:
        m = rig.meters()
        if json_mode:
            print(json.dumps(m.to_dict(all_slots=show_all), allow_nan=False), flush=True)
        else:
            lines = (header() if header else []) + meter_lines(m, rate, show_all=show_all)
            screen.draw(lines)
        if seconds is None:
            return
        if not rig.alive:
            raise rig._engine_gone()  # says how it ended: stopped, lost JACK, or killed
        now = time.monotonic()
        if end is not None and now >= end:
            return
        time.sleep(interval if end is None else min(interval, max(0.0, end - now)))


def _cmd_meters(rig: Rig, out: _Out, args: argparse.Namespace) -> int:
    watch_meters(rig, args.watch, args.interval, out.json, show_all=args.all)
    return EXIT_OK


def _cmd_demo(rig: Rig, out: _Out, args: argparse.Namespace, timeout: Optional[float]) -> int:
    from .demo import LOOPS, write_loops

    def say(msg: str) -> None:
        if out.json:
            print(json.dumps({"demo": msg}), flush=True)
        else:
            print(msg, flush=True)

    paths = write_loops(Path(args.dir) if args.dir else None)
    first = args.first_slot
    n = min(len(LOOPS), rig.slot_count - first)
    if n <= 0:
        print("looprig: error: engine has %d slots, no room from slot %d" % (rig.slot_count, first), file=sys.stderr)
        return EXIT_REJECTED
    slots = list(range(first, first + n))
    rate = rig.sample_rate
    say("demo: %d loops, 2 bars at 120 BPM, from %s" % (n, paths[0].parent))
    for slot, loop, path in zip(slots, LOOPS, paths):
        r = rig.load(slot, path, timeout=LOAD_TIMEOUT if timeout is None else timeout)
        say("  load %d: %-8s %s%s" % (slot, loop.name, r.describe(), " (resampled)" if r.source_rate != rate else ""))
    for slot, loop in zip(slots, LOOPS):
        rig.gain(slot, loop.gain_db, timeout=timeout)
        rig.pan(slot, loop.pan, timeout=timeout)
    # A little of the mixer: hats thinned by a high-pass, the pad into the
    # reverb, the arpeggio into a dotted-eighth delay.
    by_name = {loop.name: slot for slot, loop in zip(slots, LOOPS)}
    mix = []
    if "hats" in by_name:
        rig.highpass(by_name["hats"], freq=400.0, timeout=timeout)
        mix.append("hats high-pass 400 Hz")
    if "pad44k" in by_name:
        rig.fx_send(by_name["pad44k"], "reverb", -6.0, timeout=timeout)
        mix.append("pad -> reverb")
    if "arp" in by_name:
        rig.fx_send(by_name["arp"], "delay", -10.0, timeout=timeout)
        rig.delay(beats=0.75, feedback=0.35, timeout=timeout)
        mix.append("arp -> delay 0.75 beats")
    if mix:
        say("demo: mixer: " + ", ".join(mix))
    # One batch: the engine starts them all on the same frame.
    frames = rig.play(slots, timeout=timeout)
    same = all(f == frames[0] for f in frames)
    say("demo: %d loops start at frame %d%s" % (n, frames[0], "" if same else " (NOT the same frame: %s)" % frames))
    interrupted = False
    try:
        if args.seconds > 0:
            watch_meters(rig, args.seconds, 0.1, out.json,
                         header=lambda: ["demo: playing, frame %d (Ctrl-C stops)" % rig.frame_time])
    except KeyboardInterrupt:
        interrupted = True
    if not args.keep:
        stops = rig.stop(slots, timeout=timeout)
        say("demo: stopped at frame %d (loops stay loaded: `looprig status`)" % stops[0])
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def _error(msg: str, status: int, json_mode: bool, **extra: Any) -> int:
    if msg.startswith("looprig: "):
        msg = msg[len("looprig: "):]
    print("looprig: error: %s" % msg, file=sys.stderr, flush=True)
    if json_mode:
        d: Dict[str, Any] = {"ok": False, "error": msg, "exit": status}
        d.update(extra)
        print(json.dumps(d), flush=True)
    return status


def parse_args(argv: Optional[Sequence[str]] = None, parser: Optional[argparse.ArgumentParser] = None
               ) -> argparse.Namespace:
    """Parse and check a command line (usage errors exit with status 2, as in :func:`main`)."""
    parser = parser or build_parser()
    _Parser.json_errors = "--json" in (sys.argv[1:] if argv is None else list(argv))
    args = parser.parse_args(argv)
    rows = _rows()
    args.spelled = args.command  # as typed: an old spelling leads its own output line
    row = rows.get(args.command)
    if row is None:  # an alias
        row = next(r for r in rows.values() if args.command in r.aliases)
        args.command = row.name
    sub = getattr(parser, "subcommands", {}).get(args.command, parser)
    if row.check is not None:
        row.check(args, sub)
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (see module docstring)."""
    parser = build_parser()
    args = parse_args(argv, parser)
    json_mode = bool(args.json)
    name = args.name or default_name()
    timeout = args.timeout
    out = _Out(json_mode)
    row = _rows()[args.command]

    if row.engine == "none":
        assert row.run is not None
        return row.run(None, out, args, timeout)

    if row.engine == "optional":
        assert row.run is not None
        # The table comes from the library: without an engine it is still listed (no values).
        try:
            with Rig(name=name, timeout=5.0 if timeout is None else timeout, wait=args.wait) as rig:
                return row.run(rig, out, args, timeout)
        except EngineNotRunning as e:
            try:
                return _cmd_params(None, out, args, note=str(e).split(";")[0])
            except LooprigError as e2:
                return _error(str(e2), EXIT_REJECTED, json_mode)
        except ValueError as e:
            parser.print_usage(sys.stderr)
            return _error(str(e), EXIT_USAGE, json_mode)
        except LooprigError as e:
            return _error(str(e), EXIT_REJECTED, json_mode)

    try:
        with Rig(name=name, timeout=5.0 if timeout is None else timeout, wait=args.wait) as rig:
            if row.run is not None:
                return row.run(rig, out, args, timeout)
            assert row.call is not None and row.show is not None
            text, obj = row.show(args, row.call(rig, args, timeout))
            out.emit(text, obj)
            return EXIT_OK
    except CommandRejected as e:
        return _error("%s (%s)" % (e.message, e.code_name), EXIT_REJECTED, json_mode,
                      code=e.code, code_name=e.code_name, message=e.message, slot=e.slot, command=e.command)
    except EngineNotRunning as e:
        return _error(str(e), EXIT_NOT_RUNNING, json_mode)
    except Timeout as e:
        return _error(str(e), EXIT_TIMEOUT, json_mode)
    except LooprigError as e:
        return _error(str(e), EXIT_REJECTED, json_mode)
    except ValueError as e:  # client-side checks (text too long, ...)
        parser.print_usage(sys.stderr)
        return _error(str(e), EXIT_USAGE, json_mode)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
