"""The mixer and effect parameters (``LR_CMD_PARAM``): the engine's one table.

Names, targets, ranges, defaults and units are not written in Python: they
come from ``lr_param_table()`` in ``liblooprig-shm.so`` (``shm/src/params.cpp``),
the same table the engine validates commands against.  Target and kind names
come from the C enums of the cdef.

A param addresses one of three *targets*:

``"slot"``
    one per slot (filters, EQ, sends, group); ``lr_command.slot`` = the slot;
    the value in force is published in ``lr_slot_params[slot].value[id]``.
``"group"``
    one per group bus (``LR_GROUPS`` = 8); ``lr_command.slot`` = the group;
    published in ``lr_mix_meter.group_params[group][id - LR_P_GROUP_BASE]``.
``"global"``
    effects and master; ``lr_command.slot`` ignored; published in
    ``lr_mix_meter.global_params[id - LR_P_GLOBAL_BASE]``.

Examples
--------
>>> from looprig.params import lookup
>>> p = lookup("hp-freq")                                   # doctest: +SKIP
>>> p.id, p.target, p.unit, p.min, p.max, p.default         # doctest: +SKIP
(1, 'slot', 'Hz', 10.0, 20000.0, 80.0)
"""

from __future__ import annotations

import difflib
import math
import operator
import threading
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

from . import _names
from ._ffi import ffi, get_lib

__all__ = [
    "Param",
    "param_table",
    "lookup",
    "TARGETS",
    "KINDS",
    "GROUPS",
    "SENDS",
    "SLOT_PARAMS",
    "GROUP_PARAMS",
    "GLOBAL_PARAMS",
    "GROUP_BASE",
    "GLOBAL_BASE",
    "BUSES",
    "OFF_DB",
    "check_target",
    "is_default",
    "to_value",
]


def _enum(ctype: str, prefix: str) -> Dict[str, int]:
    return {
        k[len(prefix):].lower(): v
        for k, v in sorted(ffi.typeof(ctype).relements.items(), key=lambda kv: kv[1])
        if k.startswith(prefix)
    }


#: ``{"slot": 0, "group": 1, "global": 2}`` from ``enum lr_param_target``.
TARGETS: Dict[str, int] = _enum("enum lr_param_target", "LR_TARGET_")
TARGET_NAMES: Dict[int, str] = {v: k for k, v in TARGETS.items()}
#: ``{"continuous": 0, "switch": 1, "index": 2}`` from ``enum lr_param_kind``.
KINDS: Dict[str, int] = _enum("enum lr_param_kind", "LR_KIND_")
KIND_NAMES: Dict[int, str] = {v: k for k, v in KINDS.items()}

_P: Dict[str, int] = dict(ffi.typeof("enum lr_param").relements)
#: Ids of the first group param and the first global param.
GROUP_BASE: int = _P["LR_P_GROUP_BASE"]
GLOBAL_BASE: int = _P["LR_P_GLOBAL_BASE"]
#: Slot params from this id on are the slot's level and timing settings
#: (gain, pan, mute, solo, pitch, mode, loop-bpm, loop-beats), which the
#: engine also takes as commands; those below it are its mixer strip.
SLOT_SETTINGS_BASE: int = _P["LR_P_GAIN"]


def _length(struct: str, field: str) -> int:
    # The #define sizes are read back from the struct arrays that use them
    # (available without loading the library).
    return int(dict(ffi.typeof(struct).fields)[field].type.length)


#: Number of group buses (``LR_GROUPS``) and send buses (``LR_SENDS``).
GROUPS: int = _length("lr_mix_meter", "groups")
SENDS: int = _length("lr_mix_meter", "sends")
#: Sizes of the published areas: ``LR_SLOT_PARAMS``, ``LR_GROUP_PARAMS``, ``LR_GLOBAL_PARAMS``.
SLOT_PARAMS: int = _length("lr_slot_params", "value")
GROUP_PARAMS: int = int(dict(ffi.typeof("lr_mix_meter").fields)["group_params"].type.item.length)
GLOBAL_PARAMS: int = _length("lr_mix_meter", "global_params")

#: Send buses by the effect each feeds, numbered from 1 as users count them:
#: ``{"delay": 1, "reverb": 2}`` (``enum lr_send_bus``).
BUSES: Dict[str, int] = {name: index + 1 for name, index in _names.SEND_BUSES.items()}

#: Levels at or below this many dB are silent ("off"): ``LR_LEVEL_OFF_DB``.
OFF_DB: float = _names.LEVEL_OFF_DB


@dataclass(frozen=True)
class Param:
    """One row of the params table (``lr_param_desc``).

    Attributes
    ----------
    id : int
        ``lr_param`` value (``LR_CMD_PARAM``'s ``param`` field).
    name : str
        ``"hp-freq"``, ``"delay-beats"``, ...
    target : str
        ``"slot"``, ``"group"`` or ``"global"``.
    kind : str
        ``"continuous"`` (any value in range, ramped), ``"switch"`` (0 or 1,
        crossfaded) or ``"index"`` (a whole number in range).
    unit : str
        ``"Hz"``, ``"dB"``, ``"Q"``, ``"beats"``, ``"ms"``, ``"s"``, ``"st"``
        (semitones), ``"BPM"`` or ``""``.
    min, max : float
        Range the engine accepts (inclusive).
    default : float
        Value at engine start.
    help : str
        One line of description.
    zero_off : bool
        0 is accepted besides ``[min, max]`` and means "off / not set"
        (``LR_PARAM_F_ZERO_OFF``: ``loop-bpm``, ``loop-beats``).
    """

    id: int
    name: str
    target: str
    kind: str
    unit: str
    min: float
    max: float
    default: float
    help: str
    zero_off: bool = False

    @property
    def is_mixer(self) -> bool:
        """A param of the mixer strip (filters, EQ, sends, group, buses, effects), not
        one of a slot's level/timing settings (``gain`` .. ``loop-beats``)."""
        return not (self.target == "slot" and self.id >= SLOT_SETTINGS_BASE)

    @property
    def index(self) -> int:
        """Position of the value in its published area (``id`` minus its target's base)."""
        if self.target == "group":
            return self.id - GROUP_BASE
        if self.target == "global":
            return self.id - GLOBAL_BASE
        return self.id

    def to_dict(self) -> Dict[str, Any]:
        """JSON-serialisable dict (infinite bounds as ``None``)."""
        return {
            "id": self.id,
            "name": self.name,
            "target": self.target,
            "kind": self.kind,
            "unit": self.unit,
            "min": _jf(self.min),
            "max": _jf(self.max),
            "default": _jf(self.default),
            "help": self.help,
            "zero_off": self.zero_off,
        }

    def format(self, value: Optional[float]) -> str:
        """Short human form of a value of this param: ``"120 Hz"``, ``"on"``, ``"-inf dB"``."""
        if value is None:
            return "-"
        v = float(value)
        if self.kind == "switch":
            return "on" if v == 1.0 else ("off" if v == 0.0 else "%g" % v)
        if self.name == "group":
            return "master" if v < 0 else "%d" % int(v)
        if self.unit == "dB" and v <= OFF_DB:
            return "off"
        if self.zero_off and v == 0.0:
            return "off"
        text = ("%.3f" % v).rstrip("0").rstrip(".") if math.isfinite(v) else str(v)
        return text + (" " + self.unit if self.unit else "")


def _jf(v: float) -> Optional[float]:
    return v if math.isfinite(v) else None


_table: Optional[Tuple[Param, ...]] = None
_by_name: Dict[str, Param] = {}
_by_id: Dict[int, Param] = {}
_lock = threading.Lock()


def _text(p: Any) -> str:
    return ffi.string(p).decode("utf-8", "replace") if p != ffi.NULL else ""


def param_table() -> List[Param]:
    """The params table, in id order (read once from ``lr_param_table()``).

    Returns
    -------
    list of Param

    Raises
    ------
    LibraryNotFound
        ``liblooprig-shm.so`` could not be loaded.
    """
    global _table
    if _table is None:
        with _lock:
            if _table is None:
                lib = get_lib()
                n = ffi.new("uint32_t *")
                rows = lib.lr_param_table(n)
                out = []
                for i in range(int(n[0])):
                    r = rows[i]
                    p = Param(
                        id=int(r.id),
                        name=_text(r.name),
                        target=TARGET_NAMES.get(int(r.target), "unknown(%d)" % int(r.target)),
                        kind=KIND_NAMES.get(int(r.kind), "unknown(%d)" % int(r.kind)),
                        unit=_text(r.unit),
                        min=float(r.min),
                        max=float(r.max),
                        default=float(getattr(r, "def")),
                        help=_text(r.help),
                        zero_off=bool(int(r.flags) & int(lib.LR_PARAM_F_ZERO_OFF)),
                    )
                    out.append(p)
                _by_name.update({p.name: p for p in out})
                _by_id.update({p.id: p for p in out})
                _table = tuple(out)
    return list(_table)


def _norm(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def lookup(name_or_id: Union[str, int, Param]) -> Param:
    """Find a param by name (``"hp-freq"``; ``"hp_freq"`` works too) or id.

    Parameters
    ----------
    name_or_id : str, int or Param

    Returns
    -------
    Param

    Raises
    ------
    ValueError
        Unknown name or id; the message suggests close names.
    """
    if isinstance(name_or_id, Param):
        return name_or_id
    param_table()
    if isinstance(name_or_id, str):
        key = _norm(name_or_id)
        p = _by_name.get(key)
        if p is None and key.isdigit():
            p = _by_id.get(int(key))
        if p is None:
            close = difflib.get_close_matches(key, list(_by_name), n=3, cutoff=0.6)
            hint = (" (did you mean %s?)" % ", ".join(close)) if close else ""
            raise ValueError("unknown param %r%s; `looprig params` lists them" % (name_or_id, hint))
        return p
    try:
        pid = operator.index(name_or_id)
    except TypeError:
        raise ValueError("param must be a name or an id, got %r" % (name_or_id,)) from None
    p = _by_id.get(pid)
    if p is None:
        raise ValueError("unknown param id %d; `looprig params` lists them" % pid)
    return p


def check_target(p: Param, slot: Optional[int], group: Optional[int]) -> Tuple[Optional[int], Optional[int]]:
    """Check that ``slot`` / ``group`` match what param ``p`` addresses.

    Slot params need ``slot`` (and no ``group``), group params ``group`` (and
    no ``slot``), global params neither. Ranges are not checked here.

    Returns
    -------
    (int or None, int or None)
        ``slot`` and ``group`` as ints.

    Raises
    ------
    ValueError
        A missing or superfluous slot/group, or one that is not an integer.
    """

    def as_int(what: str, v: Any) -> int:
        if isinstance(v, bool):
            raise ValueError("%s: %s must be an integer, got %r" % (p.name, what, v))
        try:
            return operator.index(v)
        except TypeError:
            raise ValueError("%s: %s must be an integer, got %r" % (p.name, what, v)) from None

    if p.target == "slot":
        if slot is None:
            raise ValueError("%s is a slot param: give the slot (slot=N, CLI --slot N)" % p.name)
        if group is not None:
            raise ValueError("%s is a slot param: it takes a slot, not a group" % p.name)
        return as_int("slot", slot), None
    if p.target == "group":
        if group is None:
            raise ValueError("%s is a group param: give the group bus 0..%d (group=G, CLI --group G)"
                             % (p.name, GROUPS - 1))
        if slot is not None:
            raise ValueError("%s is a group param: it takes a group, not a slot" % p.name)
        return None, as_int("group", group)
    if slot is not None or group is not None:
        raise ValueError("%s is a global param: it takes neither a slot nor a group" % p.name)
    return None, None


def is_default(p: Param, value: Any) -> bool:
    """True if ``value`` (as published: float32) equals the param's default."""
    v = float(value)
    d = float(ffi.cast("float", p.default))  # the default rounded to float32, as published
    return v == d or abs(v - d) <= 1e-6 * max(1.0, abs(d))


def to_value(p: Param, value: Any) -> float:
    """The float to send for ``value``: bools and ``"on"``/``"off"`` as 1/0;
    for ``group``, ``None``/``"none"``/``"master"`` as -1. Ranges are the engine's to check.

    Raises
    ------
    ValueError
        A value that is not a number (or one of those words).
    """
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if value is None:
        if p.name == "group":
            return -1.0
        raise ValueError("%s: a value is needed" % p.name)
    if isinstance(value, str):
        s = value.strip().lower()
        if p.kind == "switch" and s in _WORDS:
            return _WORDS[s]
        if p.name == "group" and s in ("none", "master", "off"):
            return -1.0
        try:
            return float(s)
        except ValueError:
            words = " or on/off" if p.kind == "switch" else (" or none" if p.name == "group" else "")
            raise ValueError("%s: expected a number%s, got %r" % (p.name, words, value)) from None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError("%s: expected a number, got %r" % (p.name, value)) from None


def value_error(p: Param, value: float) -> Optional[str]:
    """Why the engine would refuse ``value`` for ``p``, or None if it is
    acceptable. The check is the engine's own (``lr_param_check()`` in the C
    library: finite, not subnormal, in range, 0/1 for a switch, whole for an
    index) and so is the message. Lets a call that sets several values refuse
    them all before any is sent."""
    why = ffi.new("char[]", 256)
    if get_lib().lr_param_check(p.id, float(value), why, 256) == 0:
        return None
    return ffi.string(why).decode("utf-8", "replace")


_WORDS = {"on": 1.0, "off": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0}
