"""The mixer and effects facade (``LR_CMD_PARAM``), generated from the params table.

No list of params is written here: a :class:`Section` names a group of params
of the table by a name prefix (``"hp-"``: every high-pass param) or one exact
name (``"master-gain"``), and the :class:`Rig` method that sets them. The
method's keyword arguments, their order, types and docstring are generated
from the rows of ``lr_param_table()`` the first time the method is looked up
(so ``import looprig`` needs no library): ``eq-low-gain`` becomes
``eq(slot, low_gain=...)``; a param added to the table with a section's prefix
becomes one more keyword argument of its method (and one more option of its
``looprig`` subcommand). A param no section claims (or whose argument name
would collide with one the method already has) is set with :meth:`MixerMethods.param`
and ``looprig param``; the sections' own signatures never change when the
table grows.

Each call sends one ``LR_CMD_PARAM`` per value that is not ``None``, in table
order with the section's on/off switch (``<prefix>on``) last; several values
get one ``at_frame`` so they change in the same audio frame (see
:meth:`MixerMethods._set_params`).
"""

from __future__ import annotations

import inspect
import keyword
import operator
import textwrap
import threading
from dataclasses import dataclass
from typing import Any, Callable, List, Mapping, Optional, Sequence, Tuple, Union

from . import params as _params
from ._names import ERRORS
from .answers import Answer, Event, error_name, rejection
from .channel import Plan
from .commands import PARAM_MARGIN_PERIODS, CommandHost, QuantizeSpec, build_command
from .errors import CommandRejected, LibraryNotFound
from .params import Param

__all__ = ["Section", "SECTIONS", "MixerMethods", "section", "bus_number", "REQUIRED"]

#: A positional argument without a default.
REQUIRED: Any = inspect.Parameter.empty
#: Argument names a generated keyword argument may not take.
_RESERVED = frozenset({"self", "slot", "group", "bus", "at", "quantize", "timeout"})


def bus_number(bus: Union[int, str]) -> int:
    """1 or 2 from 1, 2, "1", "2", "delay", "reverb" (``params.BUSES``, ``LR_SENDS``)."""
    if isinstance(bus, str):
        b = bus.strip().lower()
        if b in _params.BUSES:
            return _params.BUSES[b]
        if b.isdigit():
            bus = int(b)
    if not isinstance(bus, bool):
        try:
            n = operator.index(bus)  # type: ignore[arg-type]
        except TypeError:
            n = -1
        if 1 <= n <= _params.SENDS:
            return n
    names = ", ".join("%d or %r" % (n, name) for name, n in sorted(_params.BUSES.items(), key=lambda kv: kv[1]))
    raise ValueError("unknown send bus %r: %s" % (bus, names))


@dataclass(frozen=True)
class Section:
    """A group of params set by one :class:`Rig` method (and one CLI subcommand).

    Attributes
    ----------
    method : str
        The :class:`Rig` method (``"highpass"``).
    command : str
        The ``looprig`` subcommand (``"hp"``).
    target : str
        ``"slot"``, ``"group"`` or ``"global"``: the method's first argument is
        the slot or the group bus, or there is none.
    prefix : str
        The params: every one of ``target`` whose name starts with ``prefix``
        (ending in ``-``), or the one named ``prefix``. With ``bus``, a pattern
        (``"send%d-"``) filled in with the send bus.
    positional : tuple of (str, default)
        Arguments taken by position after the target, in order, with their
        defaults (:data:`REQUIRED`: none); the rest are keyword-only.
    renames : tuple of (str, str)
        Param name suffix -> argument name, where the suffix would not do
        (``("return", "return_db")``: ``return`` is a keyword).
    required : tuple of str
        Arguments sent even when ``None`` (``group``: ``None`` = -1).
    exclusive : tuple of (str, str)
        Pairs of arguments that cannot both be given.
    bus : bool
        The method's ``bus`` argument picks the params (the effect sends).
    label : str
        The name in error messages (default ``method``).
    summary, notes : str
        The docstring's first line and a paragraph after it.
    """

    method: str
    command: str
    target: str
    prefix: str
    positional: Tuple[Tuple[str, Any], ...] = ()
    renames: Tuple[Tuple[str, str], ...] = ()
    required: Tuple[str, ...] = ()
    exclusive: Tuple[Tuple[str, str], ...] = ()
    bus: bool = False
    label: str = ""
    summary: str = ""
    notes: str = ""

    @property
    def exact(self) -> bool:
        """True for a section of one param, named :attr:`prefix`."""
        return not self.prefix.endswith("-")

    def pattern(self, bus: Optional[int] = None) -> str:
        return self.prefix % (bus or 1) if self.bus else self.prefix

    def params(self, bus: Optional[int] = None) -> List[Param]:
        """The section's params in the order they are sent: table order, its
        ``<prefix>on`` switch last."""
        prefix = self.pattern(bus)
        if self.exact:
            return [_params.lookup(prefix)]
        rows = [p for p in _params.param_table() if p.target == self.target and p.name.startswith(prefix)]
        return sorted(rows, key=lambda p: p.name == prefix + "on")  # stable: table order otherwise

    def suffix(self, p: Param, bus: Optional[int] = None) -> str:
        """``"low-gain"`` for ``eq-low-gain``; the exact param's own name."""
        return p.name if self.exact else p.name[len(self.pattern(bus)):]

    def argument(self, p: Param, bus: Optional[int] = None) -> Optional[str]:
        """The method's argument for param ``p`` (None: it has none; set it with ``param()``)."""
        if self.exact:
            return self.positional[0][0]
        suffix = self.suffix(p, bus)
        name = dict(self.renames).get(suffix, suffix.replace("-", "_"))
        positional = [a for a, _ in self.positional]
        if name in positional:
            return name
        if not name.isidentifier() or keyword.iskeyword(name) or name in _RESERVED:
            return None
        return name

    def arguments(self) -> List[Tuple[Param, str]]:
        """``(param, argument)`` of every param the method takes, in the order sent."""
        out, seen = [], set()
        for p in self.params():
            a = self.argument(p)
            if a is not None and a not in seen:
                seen.add(a)
                out.append((p, a))
        return out

    def values(self, args: Mapping[str, Any]) -> List[Tuple[str, Any]]:
        """``(param name, value)`` of the arguments given (not ``None``, or
        required), in the order they are sent.

        Raises
        ------
        ValueError
            Two exclusive arguments given, or an unknown send bus.
        """
        for a, b in self.exclusive:
            if args.get(a) is not None and args.get(b) is not None:
                raise ValueError("%s: give %s or %s, not both" % (self.label or self.method, a, b))
        bus = bus_number(args["bus"]) if self.bus else None
        out = []
        for p in self.params(bus):
            a = self.argument(p, bus)
            if a is None or a not in args:
                continue
            v = args[a]
            if v is None and a not in self.required:
                continue
            out.append((p.name, v))
        return out


SECTIONS: Tuple[Section, ...] = (
    Section("highpass", "hp", "slot", "hp-", positional=(("freq", None), ("q", None), ("on", True)),
            summary="Set the high-pass filter of ``slot``.",
            notes="``on`` switches it on (default) or off; ``None`` leaves the switch alone."),
    Section("lowpass", "lp", "slot", "lp-", positional=(("freq", None), ("q", None), ("on", True)),
            summary="Set the low-pass filter of ``slot``; as :meth:`highpass`.",
            notes="``on`` switches it on (default) or off; ``None`` leaves the switch alone."),
    Section("eq", "eq", "slot", "eq-",
            summary="Set the 3-band EQ of ``slot``: low shelf, mid peak, high shelf.",
            notes="Only the values given are sent; ``on`` switches the whole EQ (on at engine start)."),
    Section("fx_send", "send", "slot", "send%d-", positional=(("bus", REQUIRED), ("level_db", REQUIRED), ("pre", None)),
            renames=(("level", "level_db"),), bus=True, label="send",
            summary="Set how much of ``slot`` feeds send bus ``bus`` (also ``rig.send(slot, bus, level_db)``).",
            notes="``bus``: 1 or ``\"delay\"`` (bus 1 feeds the delay), 2 or ``\"reverb\"``. ``level_db`` "
                  "``None`` leaves the level; ``pre``: True pre-fader (before gain/pan, after mute/solo), "
                  "False post-fader (default at engine start), None leaves it."),
    Section("group", "group", "slot", "group", positional=(("group", REQUIRED),), required=("group",),
            summary="Route ``slot`` to group bus ``group`` (0..7), or straight to the master (``None`` or -1)."),
    Section("group_gain", "group-gain", "group", "group-gain", positional=(("db", REQUIRED),),
            summary="Set the level of group bus ``group`` (0..7) in dB (-120 = silent .. +12)."),
    Section("group_mute", "group-mute", "group", "group-mute", positional=(("on", True),),
            summary="Mute (``on=True``) or unmute group bus ``group`` (0..7)."),
    Section("delay", "delay", "global", "delay-", renames=(("return", "return_db"),), exclusive=(("beats", "ms"),),
            summary="Set the delay effect (fed by send bus 1).",
            notes="The delay time in beats of the master tempo (follows tempo changes) **or** in ms "
                  "(the engine then stops following the tempo): give ``beats`` or ``ms``, not both."),
    Section("reverb", "reverb", "global", "reverb-", renames=(("return", "return_db"),),
            summary="Set the reverb (fed by send bus 2)."),
    Section("master_gain", "master-gain", "global", "master-gain", positional=(("db", REQUIRED),),
            summary="Set the master level in dB (-120 = silent .. +12)."),
)


def section(name: str) -> Section:
    """The section of a :class:`Rig` method or CLI subcommand name."""
    for s in SECTIONS:
        if name in (s.method, s.command):
            return s
    raise KeyError(name)


# -- generating the methods -------------------------------------------------------

_TARGET_ARG = {"slot": ("slot", "Slot index."), "group": ("group", "Group bus 0..7.")}
_KIND_TYPE = {"continuous": "float", "switch": "bool", "index": "int"}


def _annotation(sec: Section, p: Param, default: Any) -> Any:
    """The argument's type; None is allowed (leaves the value) except for the one value of a section of one param."""
    t: Any = {"continuous": float, "switch": bool, "index": Union[int, str]}.get(p.kind, float)
    return t if default is REQUIRED and sec.exact and not sec.required else Optional[t]


def _describe(p: Param) -> str:
    """``hp-freq``: the table's help, unit, range and default."""
    unit = (" " + p.unit) if p.unit else ""
    if p.kind == "switch":
        rng = "on/off"
    else:
        rng = "%s..%s%s" % (_num(p.min), _num(p.max), unit)
    return "``%s``: %s (%s; default %s)." % (p.name, p.help, rng, p.format(p.default))


def _num(v: float) -> str:
    return ("%.3f" % v).rstrip("0").rstrip(".")


def _signature(sec: Section) -> inspect.Signature:
    P = inspect.Parameter
    ps = [P("self", P.POSITIONAL_OR_KEYWORD)]
    if sec.target in _TARGET_ARG:
        ps.append(P(_TARGET_ARG[sec.target][0], P.POSITIONAL_OR_KEYWORD, annotation=int))
    args = dict((a, p) for p, a in sec.arguments())
    for name, default in sec.positional:
        if name == "bus":
            ps.append(P(name, P.POSITIONAL_OR_KEYWORD, annotation=Union[int, str]))
            continue
        p = args.get(name)
        ann = _annotation(sec, p, default) if p is not None else Any
        ps.append(P(name, P.POSITIONAL_OR_KEYWORD, default=default, annotation=ann))
    positional = {a for a, _ in sec.positional}
    for p, a in sec.arguments():
        if a not in positional:
            ps.append(P(a, P.KEYWORD_ONLY, default=None, annotation=_annotation(sec, p, None)))
    ps += [P("at", P.KEYWORD_ONLY, default=None, annotation=Optional[int]),
           P("quantize", P.KEYWORD_ONLY, default=None, annotation=QuantizeSpec),
           P("timeout", P.KEYWORD_ONLY, default=None, annotation=Optional[float])]
    return inspect.Signature(ps, return_annotation=Answer)


def _wrap(text: str, indent: str = "") -> List[str]:
    return textwrap.wrap(text, 76, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False)


def _docstring(sec: Section) -> str:
    names = ", ".join("``%s``" % p.name for p, _ in sec.arguments())
    lines = [sec.summary, ""]
    if sec.notes:
        lines += _wrap(sec.notes) + [""]
    lines += _wrap("Generated from the params table: sets %s." % names if not sec.bus else
                   "Generated from the params table: sets ``send<bus>-*`` (%s for bus 1)." % names)
    lines += ["", "Parameters", "----------"]
    if sec.target in _TARGET_ARG:
        name, text = _TARGET_ARG[sec.target]
        lines += ["%s : int" % name, "    " + text]
    args = dict((a, p) for p, a in sec.arguments())
    positional = [a for a, _ in sec.positional]
    for a in positional:
        if a == "bus":
            lines += ["bus : int or str", "    The send bus: %s." % ", ".join(
                "%d or ``\"%s\"``" % (n, name) for name, n in sorted(_params.BUSES.items(), key=lambda kv: kv[1]))]
            continue
        p = args.get(a)
        if p is not None:
            optional = dict(sec.positional)[a] is not REQUIRED
            lines += ["%s : %s%s" % (a, _KIND_TYPE.get(p.kind, "float"), ", optional" if optional else "")]
            lines += _wrap(_describe(p), "    ")
    for a, p in args.items():
        if a not in positional:
            lines += ["%s : %s, optional" % (a, _KIND_TYPE.get(p.kind, "float"))] + _wrap(_describe(p), "    ")
    lines += ["at : int, optional", "    Frame of the engine's timeline (``frame_time``) of the change.",
              "quantize : None, str or tuple, optional",
              "    Change on that grid (after ``at``); see :func:`~looprig.parse_quantize`.",
              "timeout : float, optional", "    Seconds to wait for the answers (default the Rig's).",
              "", "Returns", "-------", "Answer",
              "    An int: the frame at which the values take effect (all together); ``values``:",
              "    ``{param name: value sent}``.",
              "", "Raises", "------", "ValueError"]
    lines += _wrap("Nothing to set (every value ``None``)%s, or a value that is not a number (nothing is sent)."
                   % (", an unknown bus" if sec.bus else "" if not sec.exclusive else
                      ", " + " and ".join("both %s and %s" % e for e in sec.exclusive)), "    ")
    lines += ["CommandRejected",
              "    A value out of range (several values: nothing is sent), or the engine refused it."]
    return "\n".join(lines)


def _generate(sec: Section) -> Callable[..., Answer]:
    sig = _signature(sec)

    def method(self: "MixerMethods", *args: Any, **kwargs: Any) -> Answer:
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        slot = a.get("slot") if sec.target == "slot" else None
        group = a.get("group") if sec.target == "group" else None
        return self._set_named(sec.label or sec.method, sec.values(a), slot, group, a["at"], a["quantize"],
                               a["timeout"])

    method.__name__ = method.__qualname__ = sec.method
    method.__signature__ = sig  # type: ignore[attr-defined]
    method.__doc__ = _docstring(sec)
    method.__annotations__ = {p.name: p.annotation for p in list(sig.parameters.values())[1:]}
    method.__annotations__["return"] = Answer
    return method


class _SectionMethod:
    """A method of :class:`MixerMethods` made from the params table when first looked up."""

    def __init__(self, sec: Section) -> None:
        self.section = sec
        self._fn: Optional[Callable[..., Answer]] = None
        self._lock = threading.Lock()
        self.__doc__ = sec.summary

    def function(self) -> Callable[..., Answer]:
        if self._fn is None:
            with self._lock:
                if self._fn is None:
                    self._fn = _generate(self.section)
        return self._fn

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Callable[..., Answer]:
        try:
            fn = self.function()
        except LibraryNotFound:
            # No table without the library: a stand-in that says so when called
            # (introspection, help() and `import looprig` keep working).
            sec = self.section

            def fn(self: Any, *args: Any, **kwargs: Any) -> Answer:
                _params.param_table()  # raises LibraryNotFound with its full explanation
                raise AssertionError  # pragma: no cover

            fn.__name__ = fn.__qualname__ = sec.method
            fn.__doc__ = sec.summary
        return fn if obj is None else fn.__get__(obj, owner)


class MixerMethods(CommandHost):
    """Mixer and effect params: one generated method per :data:`SECTIONS` entry,
    plus :meth:`param` for any param and :meth:`params` for the table."""

    highpass = _SectionMethod(SECTIONS[0])
    lowpass = _SectionMethod(SECTIONS[1])
    eq = _SectionMethod(SECTIONS[2])
    fx_send = _SectionMethod(SECTIONS[3])
    group = _SectionMethod(SECTIONS[4])
    group_gain = _SectionMethod(SECTIONS[5])
    group_mute = _SectionMethod(SECTIONS[6])
    delay = _SectionMethod(SECTIONS[7])
    reverb = _SectionMethod(SECTIONS[8])
    master_gain = _SectionMethod(SECTIONS[9])

    def params(self) -> List[Param]:
        """The params table (``lr_param_table()``): every mixer and effect parameter.

        Returns
        -------
        list of Param
            ``Param(id, name, target, kind, unit, min, max, default, help)`` in
            id order; ``target`` is ``"slot"``, ``"group"`` or ``"global"``,
            ``kind`` ``"continuous"``, ``"switch"`` or ``"index"``.
        """
        return _params.param_table()

    def param(
        self,
        name_or_id: Union[str, int, Param],
        value: Union[float, bool, str, None],
        *,
        slot: Optional[int] = None,
        group: Optional[int] = None,
        at: Optional[int] = None,
        quantize: QuantizeSpec = None,
        timeout: Optional[float] = None,
    ) -> Answer:
        """Set one mixer/effect parameter (``LR_CMD_PARAM``).

        Parameters
        ----------
        name_or_id : str, int or Param
            ``"hp-freq"`` (``"hp_freq"`` works too), an ``lr_param`` id, or a
            row of :meth:`params`.
        value : float, bool or str
            The value; ``True``/``False`` and ``"on"``/``"off"`` are 1/0; for
            ``"group"``, ``None``/``"none"`` is -1 (straight to the master).
            The engine checks the range (its message is raised).
        slot : int, optional
            The slot, for slot params (required for them, refused otherwise).
        group : int, optional
            The group bus 0..7, for group params (required for them).
        at : int, optional
            Frame of the engine's timeline (``frame_time``) of the change (else the next period).
        quantize : None, str or tuple, optional
            Change on that grid (after ``at``); see :func:`parse_quantize`.

        Returns
        -------
        Answer
            An int: the frame at which the change takes effect (continuous
            params then ramp to the new value over ``header.smooth_frames``);
            ``values``: ``{param name: value sent}``.

        Raises
        ------
        ValueError
            Unknown param, a missing or superfluous slot/group, a value that is
            not a number (nothing is sent).
        CommandRejected
            The engine refused it (``LR_E_BAD_VALUE`` out of range,
            ``LR_E_BAD_SLOT`` bad slot or group).
        """
        p = _params.lookup(name_or_id)
        slot, group = _params.check_target(p, slot, group)
        return self._set_params([(p, slot, group, _params.to_value(p, value))], at, quantize, timeout)

    def _set_named(
        self,
        what: str,
        values: Sequence[Tuple[str, Any]],
        slot: Optional[int],
        group: Optional[int],
        at: Optional[int],
        quantize: QuantizeSpec,
        timeout: Optional[float],
    ) -> Answer:
        """Set ``(param name, value)`` pairs of one target (see :meth:`Section.values`)."""
        items = []
        for name, value in values:
            p = _params.lookup(name)
            s, g = _params.check_target(p, slot if p.target == "slot" else None,
                                        group if p.target == "group" else None)
            items.append((p, s, g, _params.to_value(p, value)))
        if not items:
            raise ValueError("%s: nothing to set (every value is None)" % what)
        return self._set_params(items, at, quantize, timeout)

    def _set_params(
        self,
        items: List[Tuple[Param, Optional[int], Optional[int], float]],
        at: Optional[int],
        quantize: QuantizeSpec,
        timeout: Optional[float],
    ) -> Answer:
        """Send one LR_CMD_PARAM per item, all before the first answer is awaited.

        With several items and no ``at``, all get the same ``at_frame`` (now
        plus :data:`PARAM_MARGIN_PERIODS` periods): they change in one frame.
        Every command is built and checked before the first is sent: with
        several items, a value the engine would refuse (the same table and
        rules) raises CommandRejected and nothing is sent, so a call changes
        all of its values or none. Should the engine still refuse one, the
        first refusal is raised after all answers are in.
        """
        if not items:
            raise ValueError("nothing to set")
        if len(items) > 1:
            for p, slot, group, value in items:
                why = _params.value_error(p, value)
                if why is not None:
                    code = ERRORS["LR_E_BAD_VALUE"]
                    raise CommandRejected(code, error_name(code), why + " (nothing sent)",
                                          slot if slot is not None else (group if group is not None else 0),
                                          "param", 0)
        if at is None and len(items) > 1:
            self._conn.check()
            hdr = self._conn.hdr
            at = int(hdr.frame_time) + PARAM_MARGIN_PERIODS * max(1, int(hdr.buffer_size))
        cmds = []
        for p, slot, group, value in items:
            target = slot if p.target == "slot" else (group if p.target == "group" else 0)
            cmds.append(build_command("param", target if target is not None else 0, float(value), None, at,
                                      quantize, p))
        values = {p.name: value for p, _, _, value in items}
        _, slot0, group0, _ = items[0]

        def finish(events: List[Event]) -> Answer:
            for ev in events:
                if not ev.ok:
                    raise rejection(ev)
            return Answer.of(events, values, slot=slot0, group=group0, command="param")

        return self._run(Plan([([c], False) for c in cmds], finish),  # type: ignore[no-any-return]
                         self._timeout(timeout))

