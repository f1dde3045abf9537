"""The ``looprig`` command line (also ``python3 -m looprig``).

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
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence

from . import __version__
from ._ffi import repo_root
from ._names import MODES, TRANSPORT_MODES
from .client import LOAD_TIMEOUT, Event, Rig, default_name, parse_quantize
from .errors import CommandRejected, EngineNotRunning, LibraryNotFound, LooprigError, Timeout
from .params import BUSES, OFF_DB

__all__ = ["main", "build_parser", "parse_args", "find_engine_binary"]

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
    if b in ("1", "2"):
        return int(b)
    raise argparse.ArgumentTypeError("send bus must be 1, 2, delay or reverb, got %r" % s)


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


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (exposed for documentation and tests)."""
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
                   help="seconds to wait for each answer (default 5, load 30)")
    p.add_argument("--json", action="store_true", default=False, help="machine-readable JSON output")
    p.add_argument("--wait", type=_seconds, default=0.0, metavar="S",
                   help="wait up to S seconds for the engine to appear (default 0: fail at once)")
    p.add_argument("--version", action="version", version="%(prog)s " + __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    subcommands: Dict[str, argparse.ArgumentParser] = {}
    p.subcommands = subcommands  # type: ignore[attr-defined]

    def add(name: str, help: str, **kw: Any) -> argparse.ArgumentParser:
        subcommands[name] = sub.add_parser(name, help=help, description=help, parents=[common], **kw)
        return subcommands[name]

    e = add("engine", "run the engine (looprigd) in the foreground")
    e.add_argument("--slots", type=int, default=None, metavar="N", help="number of loop slots")
    e.add_argument("--slot-outs", action="store_true", help="one JACK output pair per slot")
    e.add_argument("--declick-ms", type=_number, default=None, metavar="MS", help="declick ramp length (0 = exact)")
    e.add_argument("--smooth-ms", type=_number, default=None, metavar="MS",
                   help="ramp of mixer/effect param changes (looprigd default 20)")
    g = e.add_mutually_exclusive_group()
    g.add_argument("--bus-outs", dest="bus_outs", action="store_const", const=True, default=None,
                   help="JACK outs for the group buses, sends and effect returns")
    g.add_argument("--no-bus-outs", dest="bus_outs", action="store_const", const=False, help="no bus outs")
    e.add_argument("--pan-law", type=_number, default=None, metavar="DB",
                   help="pan law of mono files, gain at centre: 0, -3 (default), -4.5, -6")
    e.add_argument("looprigd_args", nargs=argparse.REMAINDER, metavar="-- LOOPRIGD_OPTION",
                   help="any further looprigd options, after -- (see looprigd --help)")

    s = add("load", "load an audio file into a slot (waits until loaded)")
    s.add_argument("slot", type=_slot)
    s.add_argument("file")

    s = add("unload", "empty a slot")
    s.add_argument("slot", type=_slot)

    for name, verb, every in (("play", "start", "loaded"), ("stop", "stop", "playing")):
        s = add(name, "%s one or more slots on the same frame (now, at a frame, or quantized)" % verb,
                usage="%%(prog)s SLOT [SLOT ...] | %%(prog)s all [--at FRAME] [--quantize Q]")
        s.add_argument("slot", type=_slot_or_all, nargs="+", metavar="SLOT",
                       help="slot number(s), or 'all' (every %s slot); several are sent as one batch"
                            " and take effect on the same frame" % every)
        s.add_argument("--at", type=_frame, default=None, metavar="FRAME", help="frame of the engine's timeline (status, rig.frame_time)")
        s.add_argument("--quantize", type=_quantize, default=None, metavar="Q",
                       help="none | slot:K (next loop start of slot K) | frames:N (next multiple of N frames)"
                            " | beat[:N] | bar[:N] (next beat/bar of the master grid, every N)")

    s = add("gain", "set a slot's gain in dB")
    s.add_argument("slot", type=_slot)
    s.add_argument("db", type=_number, metavar="DB")
    s.add_argument("--at", type=_frame, default=None, metavar="FRAME")

    s = add("pan", "set a slot's pan, -1 (left) .. +1 (right)")
    s.add_argument("slot", type=_slot)
    s.add_argument("pan", type=_number, metavar="P")
    s.add_argument("--at", type=_frame, default=None, metavar="FRAME")

    for name in ("mute", "solo"):
        s = add(name, "%s a slot on or off" % name)
        s.add_argument("slot", type=_slot)
        s.add_argument("on", type=_onoff, metavar="on|off")
        s.add_argument("--at", type=_frame, default=None, metavar="FRAME")

    s = add("declick", "set the engine's declick ramp length in ms (0 = exact)")
    s.add_argument("ms", type=_number, metavar="MS")

    s = add("tempo", "set the master tempo in BPM (20..400)")
    s.add_argument("bpm", type=_number, metavar="BPM")
    s.add_argument("--at", type=_frame, default=None, metavar="FRAME", help="frame of the engine's timeline (status, rig.frame_time)")
    s.add_argument("--quantize", type=_quantize, default=None, metavar="Q", help=_QUANTIZE_HELP)

    s = add("meter", "set the beats per bar of the master grid (1..32)")
    s.add_argument("beats_per_bar", type=_integer, metavar="N")

    s = add("loop-tempo", "make a slot follow the master tempo: its own BPM, its length in beats, or off",
            usage="%(prog)s SLOT BPM | %(prog)s SLOT --beats N | %(prog)s SLOT off")
    s.add_argument("slot", type=_slot)
    s.add_argument("bpm", type=_bpm_or_off, nargs="?", default=None, metavar="BPM|off",
                   help="the loop's own tempo, or 'off' to play at its own speed")
    s.add_argument("--beats", type=_number, default=None, metavar="N", help="the loop's length in beats")

    s = add("pitch", "transpose a slot (-24..+24 semitones)")
    s.add_argument("slot", type=_slot)
    s.add_argument("semitones", type=_number, metavar="SEMITONES")
    s.add_argument("--cents", type=_number, default=0.0, metavar="C", help="added as C/100 semitones")

    s = add("mode", "how a slot follows tempo: stretch (pitch kept) or varispeed (pitch follows tempo)")
    s.add_argument("slot", type=_slot)
    s.add_argument("mode", type=str.lower, choices=sorted(MODES, key=MODES.__getitem__))

    s = add("transport", "JACK transport: follow it, be its timebase master, or ignore it (off)")
    s.add_argument("transport_mode", type=str.lower, choices=["off", "follow", "master"], metavar="off|follow|master")

    add("ping", "round trip to the engine; prints its frame time")

    s = add("status", "engine info and a table of slots")
    s.add_argument("--all", action="store_true", help="also list empty slots")

    s = add("meters", "print meter bars (once, or refreshing with --watch)")
    s.add_argument("--watch", type=_seconds, default=None, metavar="SECONDS",
                   help="refresh for this many seconds (0 = until Ctrl-C)")
    s.add_argument("--interval", type=_seconds, default=0.1, metavar="S", help="refresh interval (default 0.1)")
    s.add_argument("--all", action="store_true", help="also show empty slots")

    # -- mixer and effects (LR_CMD_PARAM) --
    def schedule(s: argparse.ArgumentParser) -> None:
        s.add_argument("--at", type=_frame, default=None, metavar="FRAME", help="frame of the engine's timeline (status, rig.frame_time)")
        s.add_argument("--quantize", type=_quantize, default=None, metavar="Q", help=_QUANTIZE_HELP)

    for name, what in (("hp", "high-pass"), ("lp", "low-pass")):
        s = add(name, "set a slot's %s filter (cutoff in Hz; --off switches it off)" % what,
                usage="%(prog)s SLOT FREQ [--q Q] [--off] | %(prog)s SLOT --off")
        s.add_argument("slot", type=_slot)
        s.add_argument("freq", type=_number, nargs="?", default=None, metavar="FREQ", help="cutoff in Hz (10..20000)")
        s.add_argument("--q", type=_number, default=None, metavar="Q", help="resonance (0.1..20, 0.707 = Butterworth)")
        s.add_argument("--off", action="store_true", help="switch the filter off (FREQ/--q are still set if given)")
        schedule(s)

    s = add("eq", "set a slot's 3-band EQ: low shelf, mid peak, high shelf (gains in dB, -24..+24)")
    s.add_argument("slot", type=_slot)
    s.add_argument("--low", type=_number, default=None, metavar="DB", help="low shelf gain")
    s.add_argument("--low-freq", type=_number, default=None, metavar="HZ", help="low shelf frequency")
    s.add_argument("--mid", type=_number, default=None, metavar="DB", help="mid (peaking) gain")
    s.add_argument("--mid-freq", type=_number, default=None, metavar="HZ", help="mid frequency")
    s.add_argument("--mid-q", type=_number, default=None, metavar="Q", help="mid bandwidth (Q)")
    s.add_argument("--high", type=_number, default=None, metavar="DB", help="high shelf gain")
    s.add_argument("--high-freq", type=_number, default=None, metavar="HZ", help="high shelf frequency")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--on", dest="eq_on", action="store_const", const=True, default=None, help="switch the EQ on")
    g.add_argument("--off", dest="eq_on", action="store_const", const=False, help="switch the EQ off (bypass)")
    schedule(s)

    s = add("send", "set how much of a slot feeds send bus 1 (delay) or 2 (reverb), in dB (-120 or off = none)")
    s.add_argument("slot", type=_slot)
    s.add_argument("bus", type=_bus, metavar="1|2|delay|reverb")
    s.add_argument("db", type=_db_or_off, metavar="DB|off")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--pre", dest="pre", action="store_const", const=True, default=None,
                   help="pre-fader (before gain/pan, after mute/solo)")
    g.add_argument("--post", dest="pre", action="store_const", const=False, help="post-fader (the default)")
    schedule(s)

    s = add("group", "route a slot to group bus G (0..7), or straight to the master (none)")
    s.add_argument("slot", type=_slot)
    s.add_argument("group", type=_group_or_none, metavar="G|none")
    schedule(s)

    s = add("group-gain", "set a group bus's level in dB (-120 = silent .. +12)")
    s.add_argument("group", type=_integer, metavar="G")
    s.add_argument("db", type=_db_or_off, metavar="DB")
    schedule(s)

    s = add("group-mute", "mute a group bus on or off")
    s.add_argument("group", type=_integer, metavar="G")
    s.add_argument("on", type=_onoff, metavar="on|off")
    schedule(s)

    s = add("delay", "set the delay effect (fed by send bus 1)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--beats", type=_number, default=None, metavar="B", help="delay time in beats (follows the tempo)")
    g.add_argument("--ms", type=_number, default=None, metavar="MS", help="delay time in ms")
    s.add_argument("--feedback", type=_number, default=None, metavar="F", help="echo feedback, linear 0..0.95")
    s.add_argument("--lowcut", type=_number, default=None, metavar="HZ", help="high-pass in the feedback path")
    s.add_argument("--highcut", type=_number, default=None, metavar="HZ", help="low-pass in the feedback path")
    s.add_argument("--pingpong", type=_onoff, default=None, metavar="on|off", help="echoes alternate left/right")
    s.add_argument("--return", dest="return_db", type=_db_or_off, default=None, metavar="DB",
                   help="return level into the master")
    schedule(s)

    s = add("reverb", "set the reverb (fed by send bus 2)")
    s.add_argument("--decay", type=_number, default=None, metavar="S", help="decay time RT60 in seconds")
    s.add_argument("--damping", type=_number, default=None, metavar="HZ", help="above this the decay time is halved")
    s.add_argument("--predelay", type=_number, default=None, metavar="MS", help="pre-delay in ms")
    s.add_argument("--return", dest="return_db", type=_db_or_off, default=None, metavar="DB",
                   help="return level into the master")
    schedule(s)

    s = add("master-gain", "set the master level in dB (-120 = silent .. +12)")
    s.add_argument("db", type=_db_or_off, metavar="DB")
    schedule(s)

    s = add("param", "set any mixer/effect parameter by name (see `params`)")
    s.add_argument("param", metavar="NAME", help="e.g. hp-freq, delay-feedback, group-gain")
    s.add_argument("value", metavar="VALUE", help="a number; on/off for switches; none for group")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--slot", type=_slot, default=None, metavar="N", help="the slot (slot params)")
    g.add_argument("--group", type=_integer, default=None, metavar="G", help="the group bus 0..7 (group params)")
    schedule(s)

    s = add("params", "list the mixer/effect parameters with ranges, defaults and current values")
    s.add_argument("--slot", type=_slot, default=0, metavar="N", help="show slot N's values of slot params (default 0)")
    s.add_argument("--group", type=_integer, default=0, metavar="G",
                   help="show group G's values of group params (default 0)")

    add("meter-reset", "restart the peak holds and the integrated loudness")

    s = add("demo", "generate a few loops, play them in sync and show meters")
    s.add_argument("--seconds", type=_seconds, default=10.0, metavar="S", help="how long to play (default 10)")
    s.add_argument("--first-slot", type=int, default=0, metavar="K", help="first slot to use (default 0)")
    s.add_argument("--dir", default=None, help="where to write the loops (default: cache dir)")
    s.add_argument("--keep", action="store_true", help="leave the loops playing at the end")
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


def _ev_json(ev: Event, **extra: Any) -> Dict[str, Any]:
    d = {"ok": ev.ok}
    d.update(ev.to_dict())
    d.update(extra)
    return d


def _with_msg(text: str, ev: Event) -> str:
    return "%s (%s)" % (text, ev.message) if ev.message else text


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


def _simple(rig: Rig, out: _Out, args: argparse.Namespace, timeout: Optional[float]) -> int:
    c = args.command
    slot = getattr(args, "slot", 0)
    if c == "load":
        path = os.path.abspath(args.file)
        res = rig.load(slot, path, timeout=LOAD_TIMEOUT if timeout is None else timeout)
        ev = res.answer.event
        out.emit(_with_msg("load %d: %s, %s" % (slot, os.path.basename(path), res.describe()), ev),
                 _ev_json(ev, frames=res.frames, rate=res.rate, source_frames=res.source_frames,
                          source_rate=res.source_rate, path=path))
    elif c == "unload":
        ev = rig.send("unload", slot, wait=True, timeout=timeout)
        out.emit(_with_msg("unload %d: at frame %d" % (slot, ev.frame), ev), _ev_json(ev))
    elif c in ("play", "stop") and isinstance(slot, int):
        ev = rig.send(c, slot, at=args.at, quantize=args.quantize, wait=True, timeout=timeout)
        verb = "starts" if c == "play" else "stops"
        out.emit(_with_msg("%s %d: %s at frame %d" % (c, slot, verb, ev.frame), ev), _ev_json(ev))
    elif c in ("play", "stop"):
        return _play_stop_many(rig, out, args, timeout)
    elif c == "gain":
        ev = rig.send("gain", slot, value=args.db, at=args.at, wait=True, timeout=timeout)
        out.emit(_with_msg("gain %d: %g dB at frame %d" % (slot, args.db, ev.frame), ev), _ev_json(ev, db=_jf(args.db)))
    elif c == "pan":
        ev = rig.send("pan", slot, value=args.pan, at=args.at, wait=True, timeout=timeout)
        out.emit(_with_msg("pan %d: %g at frame %d" % (slot, args.pan, ev.frame), ev), _ev_json(ev, pan=_jf(args.pan)))
    elif c in ("mute", "solo"):
        ev = rig.send(c, slot, value=1.0 if args.on else 0.0, at=args.at, wait=True, timeout=timeout)
        out.emit(_with_msg("%s %d: %s at frame %d" % (c, slot, "on" if args.on else "off", ev.frame), ev),
                 _ev_json(ev, on=args.on))
    elif c == "declick":
        ev = rig.send("declick", 0, value=args.ms, wait=True, timeout=timeout)
        out.emit(_with_msg("declick: %g ms at frame %d" % (args.ms, ev.frame), ev), _ev_json(ev, ms=_jf(args.ms)))
    elif c == "tempo":
        ev = rig.send("tempo", 0, value=args.bpm, at=args.at, quantize=args.quantize, wait=True, timeout=timeout)
        out.emit(_with_msg("tempo: %g BPM at frame %d" % (args.bpm, ev.frame), ev), _ev_json(ev, bpm=_jf(args.bpm)))
    elif c == "meter":
        ev = rig.send("meter", 0, value=args.beats_per_bar, wait=True, timeout=timeout)
        out.emit(_with_msg("meter: %d beats per bar at frame %d" % (args.beats_per_bar, ev.frame), ev),
                 _ev_json(ev, beats_per_bar=args.beats_per_bar))
    elif c == "loop-tempo":
        off = args.bpm == "off"
        bpm = 0.0 if off or args.bpm is None else args.bpm
        beats = 0.0 if args.beats is None else args.beats
        ev = rig.send("loop_tempo", slot, value=(bpm, beats), wait=True, timeout=timeout)
        if off:
            what = "off (plays at its own speed)"
        elif args.beats is not None:
            what = "%g beats" % beats
        else:
            what = "%g BPM" % bpm
        out.emit(_with_msg("loop-tempo %d: %s at frame %d" % (slot, what, ev.frame), ev),
                 _ev_json(ev, off=off, loop_bpm=None if off or args.beats is not None else _jf(bpm),
                          loop_beats=None if args.beats is None else _jf(beats)))
    elif c == "pitch":
        semis = args.semitones + args.cents / 100.0
        ev = rig.send("pitch", slot, value=semis, wait=True, timeout=timeout)
        out.emit(_with_msg("pitch %d: %+g semitones at frame %d" % (slot, semis, ev.frame), ev),
                 _ev_json(ev, semitones=_jf(semis)))
    elif c == "mode":
        ev = rig.send("mode", slot, value=MODES[args.mode], wait=True, timeout=timeout)
        out.emit(_with_msg("mode %d: %s at frame %d" % (slot, args.mode, ev.frame), ev), _ev_json(ev, mode=args.mode))
    elif c == "transport":
        ev = rig.send("transport", 0, value=float(TRANSPORT_MODES[args.transport_mode]), wait=True, timeout=timeout)
        out.emit(_with_msg("transport %s at frame %d" % (args.transport_mode, ev.frame), ev),
                 _ev_json(ev, mode=args.transport_mode))
    elif c == "ping":
        t0 = time.monotonic()
        ev = rig.send("ping", 0, wait=True, timeout=timeout)
        rtt = (time.monotonic() - t0) * 1000.0
        out.emit("ping: engine frame %d, round trip %.2f ms" % (ev.frame, rtt), _ev_json(ev, rtt_ms=round(rtt, 3)))
    else:  # pragma: no cover
        raise AssertionError(c)
    return EXIT_OK


def _play_stop_many(rig: Rig, out: _Out, args: argparse.Namespace, timeout: Optional[float]) -> int:
    """``play 0 1 2`` / ``stop all``: one batch, so all take effect on the same frame."""
    c = args.command
    spec = "all" if args.slot == ["all"] else args.slot
    answers = getattr(rig, c)(spec, at=args.at, quantize=args.quantize, timeout=timeout)
    slots, events = [a.slot for a in answers], [a.event for a in answers]
    what = "%s %s" % (c, " ".join(str(x) for x in args.slot))
    if not slots:
        if c == "play":
            raise LooprigError("play all: no slot is loaded")
        out.emit("stop all: no slot is playing", {"ok": True, "command": c, "slots": [], "frame": None,
                                                  "frames": [], "answers": []})
        return EXIT_OK
    frames = [ev.frame for ev in events]
    same = all(f == frames[0] for f in frames)
    verb = "start" if c == "play" else "stop"
    if same:
        text = "%s: %d slot%s %s at frame %d" % (what, len(slots), "" if len(slots) == 1 else "s", verb + ("s" if len(slots) == 1 else ""), frames[0])
    else:
        text = "%s: %s at frames %s" % (what, verb, ", ".join("%d@%d" % (s, f) for s, f in zip(slots, frames)))
    if spec == "all":
        text += " (slots %s)" % " ".join(map(str, slots))
    notes = sorted({n for ev in events for n in re.findall(r"\(([^()]*)\)", ev.message)})
    if notes:
        text += " (%s)" % "; ".join(notes)
    out.emit(text, {"ok": True, "command": c, "slots": slots, "frame": frames[0] if same else None,
                    "frames": frames, "answers": [ev.to_dict() for ev in events]})
    return EXIT_OK


# -- mixer and effects --------------------------------------------------------

MIXER_COMMANDS = ("hp", "lp", "eq", "send", "group", "group-gain", "group-mute", "delay", "reverb", "master-gain",
                  "param")

_EQ_OPTIONS = (("low_freq", "eq-low-freq"), ("low", "eq-low-gain"), ("mid_freq", "eq-mid-freq"),
               ("mid", "eq-mid-gain"), ("mid_q", "eq-mid-q"), ("high_freq", "eq-high-freq"),
               ("high", "eq-high-gain"), ("eq_on", "eq-on"))
_DELAY_OPTIONS = (("beats", "delay-beats"), ("ms", "delay-ms"), ("feedback", "delay-feedback"),
                  ("lowcut", "delay-lowcut"), ("highcut", "delay-highcut"), ("pingpong", "delay-pingpong"),
                  ("return_db", "delay-return"))
_REVERB_OPTIONS = (("decay", "reverb-decay"), ("damping", "reverb-damping"), ("predelay", "reverb-predelay"),
                   ("return_db", "reverb-return"))


def mixer_values(args: argparse.Namespace) -> List[Any]:
    """The ``(param name, value)`` pairs a mixer command line sets, in the order they are sent."""
    c = args.command
    if c in ("hp", "lp"):
        pairs = [(c + "-freq", args.freq), (c + "-q", args.q), (c + "-on", not args.off)]
    elif c == "eq":
        pairs = [(name, getattr(args, opt)) for opt, name in _EQ_OPTIONS]
    elif c == "send":
        pairs = [("send%d-level" % args.bus, args.db), ("send%d-pre" % args.bus, args.pre)]
    elif c == "group":
        pairs = [("group", args.group)]
    elif c == "group-gain":
        pairs = [("group-gain", args.db)]
    elif c == "group-mute":
        pairs = [("group-mute", args.on)]
    elif c == "delay":
        pairs = [(name, getattr(args, opt)) for opt, name in _DELAY_OPTIONS]
    elif c == "reverb":
        pairs = [(name, getattr(args, opt)) for opt, name in _REVERB_OPTIONS]
    elif c == "master-gain":
        pairs = [("master-gain", args.db)]
    elif c == "param":
        from .params import lookup

        pairs = [(lookup(args.param).name, args.value)]
    else:  # pragma: no cover
        raise AssertionError(c)
    return [(n, v) for n, v in pairs if v is not None]


def _cmd_mixer(rig: Rig, out: _Out, args: argparse.Namespace, timeout: Optional[float]) -> int:
    from .params import lookup, to_value

    c = args.command
    sched = {"at": args.at, "quantize": args.quantize, "timeout": timeout}
    slot = getattr(args, "slot", None) if c != "param" else args.slot
    group = None
    if c in ("hp", "lp"):
        fn = rig.highpass if c == "hp" else rig.lowpass
        frame = fn(args.slot, args.freq, args.q, on=not args.off, **sched)
    elif c == "eq":
        frame = rig.eq(args.slot, low_gain=args.low, low_freq=args.low_freq, mid_gain=args.mid,
                       mid_freq=args.mid_freq, mid_q=args.mid_q, high_gain=args.high, high_freq=args.high_freq,
                       on=args.eq_on, **sched)
    elif c == "send":
        frame = rig.fx_send(args.slot, args.bus, args.db, args.pre, **sched)
    elif c == "group":
        frame = rig.group(args.slot, args.group, **sched)
    elif c == "group-gain":
        slot, group = None, args.group
        frame = rig.group_gain(args.group, args.db, **sched)
    elif c == "group-mute":
        slot, group = None, args.group
        frame = rig.group_mute(args.group, args.on, **sched)
    elif c == "delay":
        slot = None
        frame = rig.delay(beats=args.beats, ms=args.ms, feedback=args.feedback, lowcut=args.lowcut,
                          highcut=args.highcut, pingpong=args.pingpong, return_db=args.return_db, **sched)
    elif c == "reverb":
        slot = None
        frame = rig.reverb(decay=args.decay, damping=args.damping, predelay=args.predelay,
                           return_db=args.return_db, **sched)
    elif c == "master-gain":
        slot = None
        frame = rig.master_gain(args.db, **sched)
    elif c == "param":
        group = args.group
        frame = rig.param(args.param, args.value, slot=args.slot, group=args.group, **sched)
    else:  # pragma: no cover
        raise AssertionError(c)
    pairs = [(lookup(n), to_value(lookup(n), v)) for n, v in mixer_values(args)]
    where = c
    if slot is not None:
        where += " %d" % slot
    elif group is not None:
        where += " group %d" % group
    text = "%s: %s at frame %d" % (where, ", ".join("%s %s" % (p.name, p.format(v)) for p, v in pairs), frame)
    out.emit(text, {"ok": True, "command": c, "slot": slot, "group": group, "frame": frame,
                    "values": {p.name: _jf(v) for p, v in pairs}})
    return EXIT_OK


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


def _cmd_meter_reset(rig: Rig, out: _Out, timeout: Optional[float]) -> int:
    ev = rig.send("meter_reset", 0, wait=True, timeout=timeout)
    out.emit(_with_msg("meter-reset: at frame %d" % ev.frame, ev) if ev.message else
             "meter-reset: peak holds and integrated loudness restart at frame %d" % ev.frame,
             _ev_json(ev))
    return EXIT_OK


def _jf(v: float) -> Optional[float]:
    return v if v == v and v not in (float("inf"), float("-inf")) else None


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
    from .demo import LOOPS, render_loops

    def say(msg: str) -> None:
        if out.json:
            print(json.dumps({"demo": msg}), flush=True)
        else:
            print(msg, flush=True)

    paths = render_loops(Path(args.dir) if args.dir else None)
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
    sub = getattr(parser, "subcommands", {}).get(args.command, parser)
    if args.command in ("play", "stop"):
        if "all" in args.slot and len(args.slot) > 1:
            sub.error("give slot numbers or 'all', not both")
        if len(args.slot) == 1 and args.slot != ["all"]:
            args.slot = args.slot[0]  # one slot: the single-command form
    elif args.command == "loop-tempo":
        if args.bpm is None and args.beats is None:
            sub.error("give the loop's BPM, --beats N, or 'off'")
        if args.bpm is not None and args.beats is not None:
            sub.error("give the loop's BPM, --beats N or 'off', not more than one")
    elif args.command in ("hp", "lp"):
        if args.freq is None and not args.off:
            sub.error("give the cutoff FREQ in Hz, or --off")
    elif args.command in ("eq", "delay", "reverb"):
        if not mixer_values(args):
            opts = [a.option_strings[0] for a in sub._actions
                    if a.option_strings and a.dest not in ("help", "name", "timeout", "json", "at", "quantize")]
            sub.error("nothing to set: give at least one of %s" % ", ".join(opts))
    elif args.command == "param":
        _check_param_args(args, sub)
    return args


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


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the CLI; returns the exit status (see module docstring)."""
    parser = build_parser()
    args = parse_args(argv, parser)
    json_mode = bool(args.json)
    name = args.name or default_name()
    timeout = args.timeout
    out = _Out(json_mode)

    if args.command == "engine":
        return _cmd_engine(args, name)

    if args.command == "params":
        # The table comes from the library: without an engine it is still listed (no values).
        try:
            with Rig(name=name, timeout=5.0 if timeout is None else timeout, wait=args.wait) as rig:
                return _cmd_params(rig, out, args)
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
            if args.command == "status":
                return _cmd_status(rig, out, args)
            if args.command == "meters":
                return _cmd_meters(rig, out, args)
            if args.command == "demo":
                return _cmd_demo(rig, out, args, timeout)
            if args.command in MIXER_COMMANDS:
                return _cmd_mixer(rig, out, args, timeout)
            if args.command == "params":
                return _cmd_params(rig, out, args)
            if args.command == "meter-reset":
                return _cmd_meter_reset(rig, out, timeout)
            return _simple(rig, out, args, timeout)
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
