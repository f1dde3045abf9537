"""Mixer and effects (ABI 2): the params table, LR_CMD_PARAM encoding, meters, CLI.

The first part needs no engine: the params table from liblooprig-shm, the
exact ``lr_command`` bytes every call puts into the ring (a Rig whose
transport is replaced by a recorder), meter decoding from a synthetic meter
area laid out like the engine's, the text output and the CLI parser. The
second part (``test_e2e_*``) runs the real engine.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import time

import pytest

import looprig
from looprig import CommandRejected, LooprigError
from looprig._ffi import ffi, get_lib
from looprig._names import COMMANDS
from looprig.cli import mixer_values, parse_args
from looprig.client import PARAM_MARGIN_PERIODS
from looprig.display import meter_lines, params_table, status_table
from looprig.meters import Meters, area_layout, dbfs
from looprig.params import (
    GLOBAL_BASE,
    GROUP_BASE,
    GROUPS,
    KINDS,
    SENDS,
    SLOT_PARAMS,
    TARGETS,
    Param,
    check_target,
    is_default,
    lookup,
    param_table,
    to_value,
)
from conftest import RATE, Engine, require_library, run_cli
from fakes import FRAME_TIME, PERIOD, Wire, make_rig

np = pytest.importorskip("numpy")


@pytest.fixture(autouse=True, scope="module")
def _library():
    require_library()


# -- the params table -----------------------------------------------------------

def _enum_params():
    """``{id: "LR_P_HP_FREQ", ...}`` of the real params (no *_BASE / *_END markers)."""
    out = {}
    for name, value in ffi.typeof("enum lr_param").relements.items():
        if name.endswith("_END") or name.endswith("_BASE"):
            continue
        out[value] = name
    return out


def test_param_desc_layout_is_the_natural_c_layout():
    """lr_param_desc is not in lr_layout_table() (it lives in shm_client.h): pin cffi's
    view to the x86-64/AArch64 C layout, and check the rows read through it make sense."""
    assert ffi.sizeof("lr_param_desc") == 64
    offs = {f: ffi.offsetof("lr_param_desc", f) for f in ("id", "target", "kind", "name", "unit", "min", "max",
                                                          "def", "help")}
    assert offs == {"id": 0, "target": 4, "kind": 8, "name": 16, "unit": 24, "min": 32, "max": 40, "def": 48,
                    "help": 56}
    lib = get_lib()
    n = ffi.new("uint32_t *")
    rows = lib.lr_param_table(n)
    assert n[0] == len(param_table())
    # lr_param_info() returns pointers into the same table
    for i in range(n[0]):
        assert lib.lr_param_info(rows[i].id) == rows + i
    assert lib.lr_param_info(9999) == ffi.NULL


def test_param_table_sanity():
    table = param_table()
    assert len(table) >= 30
    ids = [p.id for p in table]
    names = [p.name for p in table]
    assert len(set(ids)) == len(ids), "duplicate ids"
    assert len(set(names)) == len(names), "duplicate names"
    assert ids == sorted(ids), "table not in id order"
    lib = get_lib()
    for p in table:
        assert re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", p.name), p.name
        assert p.target in TARGETS and p.kind in KINDS, p
        assert p.min < p.max, p
        assert p.min <= p.default <= p.max or (p.zero_off and p.default == 0.0), p
        assert p.help, p
        assert p.unit in ("", "Hz", "dB", "Q", "beats", "ms", "s", "st", "BPM"), p
        if p.kind == "switch":
            assert (p.min, p.max) == (0.0, 1.0) and p.default in (0.0, 1.0), p
        if p.kind == "index":
            assert p.min == int(p.min) and p.max == int(p.max) and p.default == int(p.default), p
        # the id ranges of the targets, and the published areas they index
        if p.target == "slot":
            assert 0 <= p.id < lib.LR_P_SLOT_END <= SLOT_PARAMS, p
            assert p.index == p.id
        elif p.target == "group":
            assert GROUP_BASE <= p.id < lib.LR_P_GROUP_END, p
            assert 0 <= p.index < lib.LR_GROUP_PARAMS
        else:
            assert GLOBAL_BASE <= p.id < lib.LR_P_GLOBAL_END, p
            assert 0 <= p.index < lib.LR_GLOBAL_PARAMS
        json.dumps(p.to_dict(), allow_nan=False)


def test_param_names_match_the_c_enum():
    """Every lr_param has a row, and its name is the enum name in lower-case-with-dashes."""
    enum = _enum_params()
    table = {p.id: p for p in param_table()}
    assert set(enum) == set(table)
    for pid, cname in enum.items():
        assert table[pid].name == cname[len("LR_P_"):].lower().replace("_", "-"), (pid, cname)


def test_known_params_and_defaults():
    p = lookup("hp-freq")
    assert (p.id, p.target, p.kind, p.unit) == (get_lib().LR_P_HP_FREQ, "slot", "continuous", "Hz")
    assert lookup("hp_freq") is p and lookup(" HP-FREQ ") is p and lookup(p.id) is p and lookup(p) is p
    assert lookup(str(p.id)) is p
    assert lookup("group-gain").target == "group" and lookup("group-gain").index == 0
    assert lookup("group-mute").index == 1
    assert lookup("master-gain").target == "global"
    assert lookup("delay-beats").index == 0
    assert lookup("group").kind == "index" and lookup("group").default == -1
    assert lookup("eq-on").default == 1.0
    assert GROUPS == get_lib().LR_GROUPS == 8 and SENDS == get_lib().LR_SENDS == 2


@pytest.mark.parametrize("bad", ["hp-frq", "", "nope", 9999, -1, 1.5, None])
def test_lookup_unknown(bad):
    with pytest.raises(ValueError) as ei:
        lookup(bad)
    if bad == "hp-frq":
        assert "did you mean hp-freq" in str(ei.value)


def test_check_target():
    hp, gg, mg = lookup("hp-freq"), lookup("group-gain"), lookup("master-gain")
    assert check_target(hp, 3, None) == (3, None)
    assert check_target(hp, np.int64(3), None) == (3, None)
    assert check_target(gg, None, 7) == (None, 7)
    assert check_target(gg, None, 99) == (None, 99)  # ranges are the engine's to check
    assert check_target(mg, None, None) == (None, None)
    for p, slot, group, what in [
        (hp, None, None, "is a slot param: give the slot"),
        (hp, 1, 2, "takes a slot, not a group"),
        (hp, 1.5, None, "must be an integer"),
        (hp, True, None, "must be an integer"),
        (gg, None, None, "is a group param: give the group"),
        (gg, 1, None, "give the group"),
        (gg, 1, 1, "takes a group, not a slot"),
        (mg, 0, None, "is a global param"),
        (mg, None, 0, "is a global param"),
    ]:
        with pytest.raises(ValueError, match=what):
            check_target(p, slot, group)


def test_to_value():
    sw, grp, hz = lookup("hp-on"), lookup("group"), lookup("hp-freq")
    assert to_value(sw, True) == 1.0 and to_value(sw, False) == 0.0
    assert to_value(sw, "on") == 1.0 and to_value(sw, "OFF") == 0.0 and to_value(sw, "1") == 1.0
    assert to_value(sw, 2) == 2.0  # out of range: the engine's to reject
    assert to_value(grp, None) == -1.0 and to_value(grp, "none") == -1.0 and to_value(grp, "3") == 3.0
    assert to_value(hz, "120") == 120.0 and to_value(hz, np.float32(99.5)) == 99.5
    assert math.isnan(to_value(hz, float("nan")))
    for p, v in [(hz, "on"), (hz, None), (hz, "loud"), (sw, "maybe"), (hz, [1])]:
        with pytest.raises(ValueError):
            to_value(p, v)


def test_is_default_uses_float32():
    q = lookup("hp-q")
    assert is_default(q, np.float32(q.default))
    assert is_default(q, q.default)
    assert not is_default(q, 0.8)
    assert is_default(lookup("send1-level"), np.float32(-120.0))


def test_format():
    assert lookup("hp-freq").format(120) == "120 Hz"
    assert lookup("hp-on").format(1) == "on" and lookup("hp-on").format(0) == "off"
    assert lookup("group").format(-1) == "master" and lookup("group").format(3) == "3"
    assert lookup("send1-level").format(-120) == "off"
    assert lookup("delay-feedback").format(0.5) == "0.5"
    assert lookup("hp-freq").format(None) == "-"


# -- the commands each call puts into the ring (fakes.Wire: a Rig attached to nothing) ------

@pytest.fixture
def wire():
    return Wire()


@pytest.fixture
def frig(wire):
    return make_rig(wire)


def pid(name):
    return lookup(name).id


def sent(wire):
    """``[(param name, slot field, value)]`` of the recorded commands (all must be LR_CMD_PARAM)."""
    out = []
    for d in wire.decoded():
        assert d["type"] == COMMANDS["param"] == get_lib().LR_CMD_PARAM
        out.append((lookup(d["param"]).name, d["slot"], d["value"]))
    return out


def test_param_command_bytes(frig, wire):
    """The raw bytes: type at offset 4, slot at 8, value[0] at 40, param at 68 (static_assert in C)."""
    lib = get_lib()
    assert frig.param("hp-freq", 120.5, slot=3) == FRAME_TIME + PERIOD
    raw = wire.cmds[0]
    assert len(raw) == ffi.sizeof("lr_command")
    assert struct.unpack_from("<H", raw, ffi.offsetof("lr_command", "type"))[0] == lib.LR_CMD_PARAM
    assert struct.unpack_from("<H", raw, ffi.offsetof("lr_command", "flags"))[0] == 0
    assert struct.unpack_from("<i", raw, ffi.offsetof("lr_command", "slot"))[0] == 3
    assert ffi.offsetof("lr_command", "param") == 68
    assert struct.unpack_from("<I", raw, 68)[0] == lib.LR_P_HP_FREQ
    assert struct.unpack_from("<d", raw, ffi.offsetof("lr_command", "value"))[0] == 120.5
    assert struct.unpack_from("<I", raw, ffi.offsetof("lr_command", "quantize"))[0] == 0


def test_param_targets_in_the_slot_field(frig, wire):
    frig.param("group-gain", -6, group=5)
    frig.param("master-gain", -3)
    frig.param(pid("eq-mid-q"), 2.0, slot=0)
    frig.param("hp_on", True, slot=1)
    frig.param("group", None, slot=2)
    frig.param("delay-pingpong", "on")
    assert sent(wire) == [("group-gain", 5, -6.0), ("master-gain", 0, -3.0), ("eq-mid-q", 0, 2.0),
                          ("hp-on", 1, 1.0), ("group", 2, -1.0), ("delay-pingpong", 0, 1.0)]
    assert all(d["flags"] == 0 for d in wire.decoded())  # one value: next period, like gain()


def test_param_client_side_errors_send_nothing(frig, wire):
    for call in [
        lambda: frig.param("nope", 1),
        lambda: frig.param("hp-freq", 100),  # no slot
        lambda: frig.param("hp-freq", 100, group=1),
        lambda: frig.param("group-gain", 0, slot=1),
        lambda: frig.param("master-gain", 0, slot=1),
        lambda: frig.param("hp-freq", "loud", slot=0),
        lambda: frig.param("hp-freq", 100, slot=0, quantize="bars"),
        lambda: frig.param("hp-freq", 100, slot=0, at=-1),
        lambda: frig.eq(0),
        lambda: frig.delay(),
        lambda: frig.reverb(),
        lambda: frig.delay(beats=1, ms=300),
        lambda: frig.fx_send(0, 3, -6),
        lambda: frig.fx_send(0, "chorus", -6),
        lambda: frig.fx_send(0, 1, None),
        lambda: frig.highpass(0, on=None),
    ]:
        with pytest.raises(ValueError):
            call()
    assert wire.cmds == []


def test_param_out_of_range_goes_to_the_engine(frig, wire):
    frig.param("hp-freq", 1e9, slot=0)
    frig.param("group-gain", 0, group=42)
    frig.param("hp-freq", 100, slot=9999)
    assert sent(wire) == [("hp-freq", 0, 1e9), ("group-gain", 42, 0.0), ("hp-freq", 9999, 100.0)]


def test_param_at_and_quantize(frig, wire):
    lib = get_lib()
    assert frig.param("master-gain", -1, at=FRAME_TIME + 4800) == FRAME_TIME + 4800
    frig.param("hp-freq", 200, slot=1, quantize="bar:2")
    frig.param("hp-freq", 200, slot=1, at=FRAME_TIME + 10, quantize=("beat", 1))
    d = wire.decoded()
    assert (d[0]["flags"], d[0]["at"]) == (lib.LR_CMD_F_AT, FRAME_TIME + 4800)
    assert (d[1]["flags"], d[1]["quantize"], d[1]["quantize_arg"]) == (0, lib.LR_Q_BAR, 2)
    assert (d[2]["flags"], d[2]["at"], d[2]["quantize"]) == (lib.LR_CMD_F_AT, FRAME_TIME + 10, lib.LR_Q_BEAT)


def _same_frame(wire, at=None):
    """All recorded commands carry AT with one at_frame; every push came before the first wait."""
    d = wire.decoded()
    lib = get_lib()
    expect = FRAME_TIME + PARAM_MARGIN_PERIODS * PERIOD if at is None else at
    assert all(x["flags"] == lib.LR_CMD_F_AT and x["at"] == expect for x in d), d
    pushes = [i for i, o in enumerate(wire.order) if o.startswith("push")]
    waits = [i for i, o in enumerate(wire.order) if o.startswith("answer")]
    assert max(pushes) < min(waits)
    return expect


def test_highpass_lowpass(frig, wire):
    f = frig.highpass(2, 120)
    assert f == _same_frame(wire)
    assert sent(wire) == [("hp-freq", 2, 120.0), ("hp-on", 2, 1.0)]
    wire.cmds.clear(); wire.order.clear()
    frig.lowpass(3, 5000, q=2.5)
    _same_frame(wire)
    assert sent(wire) == [("lp-freq", 3, 5000.0), ("lp-q", 3, 2.5), ("lp-on", 3, 1.0)]
    wire.cmds.clear(); wire.order.clear()
    f = frig.highpass(1, on=False)  # one value: next period, no AT
    assert f == FRAME_TIME + PERIOD and wire.decoded()[0]["flags"] == 0
    assert sent(wire) == [("hp-on", 1, 0.0)]
    wire.cmds.clear(); wire.order.clear()
    frig.lowpass(0, 300, on=None, at=FRAME_TIME + 999)
    assert sent(wire) == [("lp-freq", 0, 300.0)] and wire.decoded()[0]["at"] == FRAME_TIME + 999


def test_eq(frig, wire):
    frig.eq(1, low_gain=3, low_freq=120, mid_gain=-4.5, mid_freq=900, mid_q=1.4, high_gain=2, high_freq=6000, on=True)
    _same_frame(wire)
    assert sent(wire) == [("eq-low-freq", 1, 120.0), ("eq-low-gain", 1, 3.0), ("eq-mid-freq", 1, 900.0),
                          ("eq-mid-gain", 1, -4.5), ("eq-mid-q", 1, 1.4), ("eq-high-freq", 1, 6000.0),
                          ("eq-high-gain", 1, 2.0), ("eq-on", 1, 1.0)]
    wire.cmds.clear()
    frig.eq(0, on=False)
    assert sent(wire) == [("eq-on", 0, 0.0)]
    with pytest.raises(TypeError):
        frig.eq(0, 3)  # keyword-only


def test_sends(frig, wire):
    frig.fx_send(0, 1, -12)
    frig.fx_send(0, "reverb", -6, pre=True)
    frig.fx_send(1, "DELAY", None, pre=False)
    frig.fx_send(1, "2", -120)
    assert sent(wire) == [("send1-level", 0, -12.0), ("send2-level", 0, -6.0), ("send2-pre", 0, 1.0),
                          ("send1-pre", 1, 0.0), ("send2-level", 1, -120.0)]


def test_send_has_two_forms(frig, wire):
    """rig.send(slot, bus, level_db[, pre]) is the effect send; rig.send(command, slot) stays the general form."""
    lib = get_lib()
    frig.send(0, "delay", -10)
    frig.send(2, 2, level_db=-3, pre=True, at=FRAME_TIME + 5)
    frig.send(1, 1, pre=True)
    assert sent(wire) == [("send1-level", 0, -10.0), ("send2-level", 2, -3.0), ("send2-pre", 2, 1.0),
                          ("send1-pre", 1, 1.0)]
    wire.cmds.clear()
    cid = frig.send("play", 3, at=FRAME_TIME + 7)
    assert isinstance(cid, int)
    ev = frig.send("gain", 1, value=-6.0, wait=True)
    assert ev.ok
    d = wire.decoded()
    assert (d[0]["type"], d[0]["slot"], d[0]["at"]) == (lib.LR_CMD_PLAY, 3, FRAME_TIME + 7)
    assert (d[1]["type"], d[1]["slot"], d[1]["value"]) == (lib.LR_CMD_GAIN, 1, -6.0)
    with pytest.raises(TypeError):
        frig.send(0, 1, -6, value=1.0)


def test_group_routing_and_group_bus(frig, wire):
    frig.group(3, 2)
    frig.group(3, None)
    frig.group(3, -1)
    frig.group(3, "none")
    frig.group_gain(7, -4)
    frig.group_mute(7)
    frig.group_mute(7, False)
    assert sent(wire) == [("group", 3, 2.0), ("group", 3, -1.0), ("group", 3, -1.0), ("group", 3, -1.0),
                          ("group-gain", 7, -4.0), ("group-mute", 7, 1.0), ("group-mute", 7, 0.0)]


def test_delay_reverb_master(frig, wire):
    frig.delay(beats=0.5, feedback=0.4, lowcut=100, highcut=6000, pingpong=True, return_db=-3)
    _same_frame(wire)
    assert sent(wire) == [("delay-beats", 0, 0.5), ("delay-feedback", 0, 0.4), ("delay-lowcut", 0, 100.0),
                          ("delay-highcut", 0, 6000.0), ("delay-pingpong", 0, 1.0), ("delay-return", 0, -3.0)]
    wire.cmds.clear(); wire.order.clear()
    frig.delay(ms=250)
    frig.reverb(decay=3.5, damping=5000, predelay=20, return_db=-6, at=FRAME_TIME + 48000, quantize="bar")
    d = wire.decoded()
    assert d[0]["flags"] == 0  # a single value
    assert all(x["at"] == FRAME_TIME + 48000 and x["quantize"] == get_lib().LR_Q_BAR for x in d[1:])
    frig.master_gain(-2.5)
    assert sent(wire) == [("delay-ms", 0, 250.0), ("reverb-decay", 0, 3.5), ("reverb-damping", 0, 5000.0),
                          ("reverb-predelay", 0, 20.0), ("reverb-return", 0, -6.0), ("master-gain", 0, -2.5)]


def test_meter_reset_command(frig, wire):
    frig.meter_reset()
    d = wire.decoded()
    assert d[0]["type"] == get_lib().LR_CMD_METER_RESET and d[0]["flags"] == 0


def test_rejection_after_all_answers(frig, wire):
    """A value the engine refuses anyway (here: the fake engine refuses an
    in-range one) raises its message, after every answer of the call is in."""
    wire.reject[1] = "eq-mid-gain: slot 0 out of range (0..-1)"
    with pytest.raises(CommandRejected) as ei:
        frig.eq(0, low_gain=1, mid_gain=9, high_gain=1)
    assert ei.value.message == "eq-mid-gain: slot 0 out of range (0..-1)"
    assert ei.value.command == "param" and ei.value.code_name == "LR_E_BAD_VALUE"
    assert [o for o in wire.order if o.startswith("answer")] == ["answer 0", "answer 1", "answer 2"]


@pytest.mark.parametrize("call, message", [
    (lambda r: r.eq(0, low_gain=1, mid_gain=99, high_gain=1), "eq-mid-gain 99 is out of range (-24..24 dB)"),
    (lambda r: r.highpass(0, 100, q=0), "hp-q 0 is out of range"),
    (lambda r: r.lowpass(0, float("nan")), "lp-freq nan is out of range"),
    (lambda r: r.lowpass(0, 9000, q=float("inf")), "lp-q inf is out of range"),
    (lambda r: r.lowpass(0, 5e-324), "lp-freq <0.001 is out of range"),
    (lambda r: r.send(0, "delay", -6, pre=0.5), "send1-pre 0.5 must be 0 or 1"),
    (lambda r: r.delay(beats=1, pingpong=2), "delay-pingpong 2 is out of range"),
])
def test_a_multi_value_call_with_a_bad_value_sends_nothing(frig, wire, call, message):
    """All of a call's values or none: one the engine would refuse stops the call before anything is sent."""
    with pytest.raises(CommandRejected) as ei:
        call(frig)
    assert message in ei.value.message and "nothing sent" in ei.value.message
    assert ei.value.code_name == "LR_E_BAD_VALUE" and ei.value.command == "param"
    assert wire.cmds == []


# -- meters from a synthetic meter area -------------------------------------------------

def synthetic_area(n=4, published=True):
    """A meter area laid out like the engine's (area_layout), with recognisable values."""
    lay = area_layout(n)
    buf = bytearray(lay["size"])
    base = ffi.cast("char *", ffi.from_buffer(buf))
    h = ffi.cast("lr_meter_header *", base)
    h.slot_count = n
    h.master_peak_hold[0], h.master_peak_hold[1] = 0.5, 0.25
    h.lufs_momentary, h.lufs_short_term, h.lufs_integrated = -20.5, -21.25, -float("inf")
    h.loudness_periods = 100
    sm = ffi.cast("lr_slot_meter *", base + lay["slot_meters"])
    for i in range(n):
        sm[i].group = -1
        sm[i].peak_hold[0], sm[i].peak_hold[1] = 0.1 * (i + 1), 0.01 * (i + 1)
    sm[2].group = 5
    sm[2].state = 1  # stopped (loaded)
    sm[2].length = 1000
    mix = ffi.cast("lr_mix_meter *", base + lay["mix_meter"])
    mix.groups[5].peak[0] = 0.75
    mix.groups[5].rms[1] = 0.125
    mix.groups[5].peak_hold[0] = 0.875
    mix.sends[0].peak[1] = 0.0625
    mix.returns[1].peak_hold[0] = 1.0
    mix.delay_frames = 18000
    sp = ffi.cast("lr_slot_params *", base + lay["slot_params"])
    if published:
        for p in param_table():
            if p.target == "slot":
                for i in range(n):
                    sp[i].value[p.index] = p.default
            elif p.target == "group":
                for g in range(GROUPS):
                    mix.group_params[g][p.index] = p.default
            else:
                mix.global_params[p.index] = p.default
        sp[1].value[lookup("hp-freq").index] = 120.0
        sp[1].value[lookup("hp-on").index] = 1.0
        sp[2].value[lookup("group").index] = 5.0
        mix.group_params[5][lookup("group-gain").index] = -6.0
        mix.group_params[5][lookup("group-mute").index] = 1.0
        mix.global_params[lookup("delay-feedback").index] = 0.5
        mix.global_params[lookup("master-gain").index] = -3.0
    return buf, lay


def synthetic_meters(n=4, published=True):
    buf, lay = synthetic_area(n, published)
    return Meters(buf, lay["slot_meters"], lay["slot_infos"], n, mix_meter_offset=lay["mix_meter"],
                  slot_params_offset=lay["slot_params"])


def test_area_layout_matches_the_engines_rule():
    lay = area_layout(32)
    assert all(v % 64 == 0 for v in lay.values())
    assert lay["slot_params"] >= lay["mix_meter"] + ffi.sizeof("lr_mix_meter")
    assert lay["size"] >= lay["slot_params"] + 32 * ffi.sizeof("lr_slot_params")


def test_area_layout_is_the_c_librarys():
    """One rule: area_layout() asks the C library (the engine's own geometry), it does not recompute it."""
    from looprig._ffi import get_lib
    for n in (0, 1, 7, 32, 1024):
        out = ffi.new("lr_meter_area_layout *")
        assert get_lib().lr_meter_area_layout_of(n, out) == 0
        assert area_layout(n) == {"slot_meters": out.slot_meters, "slot_infos": out.slot_infos,
                                  "mix_meter": out.mix_meter, "slot_params": out.slot_params, "size": out.size}
    with pytest.raises(ValueError, match="0..1024"):
        area_layout(1025)


def test_send_bus_names_come_from_the_c_library():
    from looprig._ffi import get_lib
    from looprig._names import SEND_BUS_NAMES
    from looprig.params import BUSES
    assert [ffi.string(get_lib().lr_send_name(i)).decode() for i in range(SENDS)] == [SEND_BUS_NAMES[i] for i in range(SENDS)]
    assert get_lib().lr_send_name(SENDS) == ffi.NULL
    assert BUSES == {"delay": 1, "reverb": 2}


def test_meter_buffer_too_small():
    lay = area_layout(4)
    with pytest.raises(ValueError, match="too small"):
        Meters(bytearray(lay["slot_params"]), lay["slot_meters"], lay["slot_infos"], 4)


def test_meters_decode_mixer_fields():
    m = synthetic_meters()
    assert m.peak_hold.shape == (4, 2) and m.peak_hold.dtype == np.float32
    assert m.peak_hold[3, 0] == pytest.approx(0.4) and m.peak_hold[3, 1] == pytest.approx(0.04)
    assert m.peak_hold.strides == (ffi.sizeof("lr_slot_meter"), 4)
    assert m.group.dtype == np.int32 and list(m.group) == [-1, -1, 5, -1]
    assert list(m.master_peak_hold) == [0.5, 0.25]
    assert m.loudness == (-20.5, -21.25, -math.inf)
    assert m.loudness.momentary == -20.5 and m.loudness_periods == 100
    for b, n in ((m.groups, GROUPS), (m.sends, SENDS), (m.returns, SENDS)):
        for name in ("peak", "rms", "peak_hold"):
            a = getattr(b, name)
            assert a.shape == (n, 2) and a.dtype == np.float32
        assert len(b) == n
    assert m.groups.peak[5, 0] == 0.75 and m.groups.rms[5, 1] == 0.125 and m.groups.peak_hold[5, 0] == 0.875
    assert m.sends.peak[0, 1] == 0.0625 and m.returns.peak_hold[1, 0] == 1.0
    assert m.groups.peak_dbfs()[5, 0] == pytest.approx(20 * math.log10(0.75))
    assert m.groups.peak_dbfs()[0, 0] == -math.inf
    assert m.delay_frames == 18000
    assert m.slot_params.shape == (4, SLOT_PARAMS) and m.slot_params.dtype == np.float32
    assert m.group_params.shape == (GROUPS, get_lib().LR_GROUP_PARAMS)
    assert m.global_params.shape == (get_lib().LR_GLOBAL_PARAMS,)
    assert m.params_published
    assert m.param("hp-freq", slot=1) == 120.0 and m.param("hp-freq", slot=0) == 80.0
    assert m.param("group-gain", group=5) == -6.0 and m.param("group-mute", group=5) == 1.0
    assert m.param("master-gain") == -3.0
    assert m.param("hp-q", slot=0) == pytest.approx(lookup("hp-q").default, rel=1e-6)
    with pytest.raises(ValueError):
        m.param("hp-freq", slot=4)
    with pytest.raises(ValueError):
        m.param("group-gain", group=8)
    with pytest.raises(ValueError):
        m.param("hp-freq")
    assert m.slot_settings(0) == {}
    assert m.slot_settings(1) == {"hp-on": 1.0, "hp-freq": 120.0}
    assert m.slot_settings(2) == {"group": 5.0}
    assert len(m.slot_settings(0, all=True)) == sum(p.target == "slot" for p in param_table())
    assert m.group_settings(5) == {"group-gain": -6.0, "group-mute": 1.0}
    assert m.group_settings(0, all=False) == {}
    assert m.global_settings(all=False) == {"delay-feedback": 0.5, "master-gain": -3.0}
    assert m.global_settings()["delay-beats"] == 0.75


def test_meters_to_dict_mixer_fields():
    d = json.loads(json.dumps(synthetic_meters().to_dict(), allow_nan=False))
    assert d["master"]["peak_hold"] == [0.5, 0.25]
    assert d["master"]["peak_hold_dbfs"] == [pytest.approx(-6.02, abs=0.01), pytest.approx(-12.04, abs=0.01)]
    assert d["loudness"] == {"momentary": -20.5, "short_term": -21.25, "integrated": None, "periods": 100}
    assert len(d["buses"]["groups"]) == GROUPS and len(d["buses"]["sends"]) == SENDS
    g5 = d["buses"]["groups"][5]
    assert g5["index"] == 5 and g5["peak"][0] == 0.75 and g5["peak_dbfs"][1] is None
    assert d["mixer"]["published"] is True and d["mixer"]["delay_frames"] == 18000
    assert d["mixer"]["global"]["master-gain"] == -3.0
    assert d["mixer"]["groups"][5] == {"group-gain": -6.0, "group-mute": 1.0}
    s = d["slots"]
    assert s[1]["mixer"] == {"hp-on": 1.0, "hp-freq": 120.0} and s[0]["mixer"] == {}
    assert s[2]["group"] == 5 and s[0]["group"] is None
    assert s[3]["peak_hold"][0] == pytest.approx(0.4)


def test_meters_unpublished_and_unmeasured():
    """An engine without the mixer leaves the area zeroed: no settings, loudness None."""
    buf, lay = synthetic_area(published=False)
    h = ffi.cast("lr_meter_header *", ffi.from_buffer(buf))
    h.loudness_periods = 0
    m = Meters(buf, lay["slot_meters"], lay["slot_infos"], 4)
    assert not m.params_published
    assert m.slot_settings(1) == {} and m.global_settings() == {}
    assert m.loudness == (None, None, None)
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert d["mixer"]["published"] is False and d["loudness"]["momentary"] is None


def test_meters_mixer_fields_without_numpy(monkeypatch):
    import looprig.meters as mm

    monkeypatch.setattr(mm, "_np", None)
    m = synthetic_meters()
    assert isinstance(m.peak_hold, list) and m.peak_hold[3][0] == pytest.approx(0.4)
    assert m.group == [-1, -1, 5, -1]
    assert m.master_peak_hold == [0.5, 0.25]
    assert m.groups.peak[5][0] == 0.75 and len(m.groups.peak) == GROUPS
    assert m.slot_params[1][lookup("hp-freq").index] == 120.0
    assert m.group_params[5][0] == -6.0 and len(m.global_params) == get_lib().LR_GLOBAL_PARAMS
    assert m.param("master-gain") == -3.0
    assert m.groups.peak_dbfs()[5][0] == pytest.approx(20 * math.log10(0.75))
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert d["slots"][1]["mixer"] == {"hp-on": 1.0, "hp-freq": 120.0}


def test_dbfs_helper():
    assert dbfs(1.0) == 0.0 and dbfs(0.0) == -math.inf and dbfs(0.0, floor=-60) == -60
    a = dbfs(np.array([[1.0, 0.1], [0.0, 0.5]], dtype=np.float32))
    assert a.shape == (2, 2) and a[0, 0] == 0 and a[0, 1] == pytest.approx(-20) and a[1, 0] == -math.inf
    assert dbfs([1.0, 0.0]).tolist() == [0.0, -math.inf]


def test_param_value_reads_the_segment(wire):
    buf, lay = synthetic_area()
    rig = make_rig(Wire(meter_area=buf))
    assert rig.param_value("hp-freq", slot=1) == 120.0
    assert rig.param_value("hp-freq", 0) == 80.0
    assert rig.param_value("group-gain", group=5) == -6.0
    assert rig.param_value("master-gain") == -3.0
    assert rig.param_value(lookup("delay-feedback")) == 0.5
    with pytest.raises(ValueError):
        rig.param_value("hp-freq", slot=4)  # it indexes shared memory: checked here
    with pytest.raises(ValueError):
        rig.param_value("group-gain", group=-1)
    with pytest.raises(ValueError):
        rig.param_value("hp-freq")
    assert rig.params() == param_table() and all(isinstance(p, Param) for p in rig.params())
    m = rig.meters()
    assert m.param("hp-freq", slot=1) == 120.0
    empty = make_rig(Wire(meter_area=synthetic_area(published=False)[0]))
    with pytest.raises(LooprigError, match="publishes no param values"):
        empty.param_value("master-gain")


# -- text output -------------------------------------------------------------------

def _status(m):
    d = m.to_dict(all_slots=True)
    slots = d.pop("slots")
    mixer = d.pop("mixer")
    return {
        "engine": {"name": "x", "pid": 1, "state": "running", "jack_client_name": "x", "jack_server_name": "",
                   "sample_rate": RATE, "buffer_size": 256, "declick_ms": 0.0, "slot_count": m.slot_count},
        "meters": d, "mixer": mixer, "slots": slots,
    }


def test_status_table_shows_mixer():
    text = status_table(_status(synthetic_meters()), show_all=True)
    assert "hold" in text
    assert "loudness M -20.5  S -21.2  I -inf LUFS" in text or "loudness M -20.5  S -21.3  I -inf LUFS" in text
    assert re.search(r"^delay 0.75 beats \(375.0 ms\), feedback 0.5, lowcut 80 Hz", text, re.M), text
    assert "delay-ms" not in text and "375 ms" not in text  # the time in force is the tempo-synced one
    assert re.search(r"^master -3 dB", text, re.M)
    assert "groups: 5: group-gain -6 dB, group-mute on" in text and "(in use: 5)" in text
    assert "  slot 1: hp-on on, hp-freq 120 Hz" in text
    assert "  slot 2: group 5" in text
    assert "slot 0:" not in text
    text = status_table(_status(synthetic_meters(published=False)))
    assert "mixer: the engine publishes no param values" in text


def test_meter_lines_show_hold_buses_loudness():
    lines = meter_lines(synthetic_meters(), RATE)
    text = "\n".join(lines)
    assert "GROUP 5" in text and "GROUP 0" not in text
    assert "DELAY send 1" in text and "DELAY return" in text and "REVERB send 2" in text and "REVERB return" in text
    assert "MASTER" in text and "loudness M -20.5" in text
    row2 = [ln for ln in lines if ln.startswith("  2 ")][0]
    assert " G5 " in row2 and "hold" in row2
    # bars line up: every bar starts in the same column
    cols = {ln.index("L[") for ln in lines if "L[" in ln}
    assert len(cols) == 1, lines
    # without show_all only used or sounding groups; with it all eight
    assert sum("GROUP" in ln for ln in lines) == 1
    assert sum("GROUP" in ln for ln in meter_lines(synthetic_meters(), RATE, show_all=True)) == GROUPS


def test_params_table_text():
    m = synthetic_meters()
    rows = [(p, m.param(p, slot=1) if p.target == "slot" else m.param(p, group=5) if p.target == "group"
             else m.param(p)) for p in param_table()]
    text = params_table(rows, slot=1, group=5)
    assert text.splitlines()[0].startswith("values: slot params of slot 1, group params of group 5")
    hp = [ln for ln in text.splitlines() if ln.startswith("hp-freq ")][0]
    assert re.search(r"hp-freq\s+slot\s+continuous\s+Hz\s+10\s+20000\s+80\s+120\s+high-pass cutoff", hp), hp
    grp = [ln for ln in text.splitlines() if ln.startswith("group ")][0]
    assert re.search(r"^group\s+slot\s+index\s+-1\s+7\s+master\s+master\s", grp), grp  # slot 1: default
    gg = [ln for ln in text.splitlines() if ln.startswith("group-gain ")][0]
    assert re.search(r"\s0\s+-6\s+group bus level$", gg), gg  # group 5
    text = params_table([(p, None) for p in param_table()], values=False)
    assert not text.startswith("values:") and "master-gain" in text


# -- CLI parsing --------------------------------------------------------------------

@pytest.mark.parametrize(
    "argv,values",
    [
        (["hp", "0", "120"], [("hp-freq", 120.0), ("hp-on", True)]),
        (["hp", "0", "120", "--q", "1.5"], [("hp-freq", 120.0), ("hp-q", 1.5), ("hp-on", True)]),
        (["hp", "3", "--off"], [("hp-on", False)]),
        (["lp", "1", "8000", "--off"], [("lp-freq", 8000.0), ("lp-on", False)]),
        (["eq", "2", "--low", "-3", "--mid-freq", "800", "--mid-q", "2", "--high", "1.5e0"],
         [("eq-low-gain", -3.0), ("eq-mid-freq", 800.0), ("eq-mid-q", 2.0), ("eq-high-gain", 1.5)]),
        (["eq", "2", "--off"], [("eq-on", False)]),
        (["eq", "2", "--on", "--low-freq", "150", "--mid", "-1", "--high-freq", "9000"],
         [("eq-low-freq", 150.0), ("eq-mid-gain", -1.0), ("eq-high-freq", 9000.0), ("eq-on", True)]),
        (["send", "0", "1", "-12"], [("send1-level", -12.0)]),
        (["send", "0", "reverb", "-6", "--pre"], [("send2-level", -6.0), ("send2-pre", True)]),
        (["send", "0", "Delay", "off", "--post"], [("send1-level", -120.0), ("send1-pre", False)]),
        (["group", "4", "3"], [("group", 3)]),
        (["group", "4", "none"], [("group", -1)]),
        (["group-gain", "2", "-4.5"], [("group-gain", -4.5)]),
        (["group-mute", "2", "on"], [("group-mute", True)]),
        (["delay", "--beats", "0.5", "--feedback", "0.4", "--pingpong", "on", "--return", "-3"],
         [("delay-beats", 0.5), ("delay-feedback", 0.4), ("delay-pingpong", True), ("delay-return", -3.0)]),
        (["delay", "--ms", "300", "--lowcut", "100", "--highcut", "5000"],
         [("delay-ms", 300.0), ("delay-lowcut", 100.0), ("delay-highcut", 5000.0)]),
        (["reverb", "--decay", "3", "--damping", "5000", "--predelay", "20", "--return", "-6"],
         [("reverb-decay", 3.0), ("reverb-damping", 5000.0), ("reverb-predelay", 20.0), ("reverb-return", -6.0)]),
        (["master-gain", "-2"], [("master-gain", -2.0)]),
        (["param", "hp_freq", "150", "--slot", "1"], [("hp-freq", "150")]),
        (["param", "group-mute", "on", "--group", "3"], [("group-mute", "on")]),
        (["param", "master-gain", "-1e1"], [("master-gain", "-1e1")]),
    ],
)
def test_cli_parses_mixer_commands(argv, values):
    args = parse_args(argv)
    assert mixer_values(args) == values


@pytest.mark.parametrize(
    "argv,extra",
    [
        (["hp", "0", "120", "--at", "48000"], {"at": 48000, "quantize": None}),
        (["eq", "0", "--low", "2", "--quantize", "bar"], {"quantize": "bar"}),
        (["delay", "--beats", "1", "--at", "5", "--quantize", "beat:2"], {"at": 5, "quantize": "beat:2"}),
        (["param", "master-gain", "0", "--quantize", "frames:256"], {"quantize": "frames:256"}),
        (["params"], {"slot": 0, "group": 0}),
        (["params", "--slot", "3", "--group", "2", "--json"], {"slot": 3, "group": 2, "json": True}),
        (["meter-reset"], {}),
    ],
)
def test_cli_mixer_options(argv, extra):
    args = parse_args(argv)
    for k, v in extra.items():
        assert getattr(args, k) == v, (argv, k)


@pytest.mark.parametrize(
    "argv,message",
    [
        (["hp", "0"], "give the cutoff FREQ"),
        (["hp", "0", "loud"], "not a number"),
        (["lp"], "required"),
        (["eq", "0"], "nothing to set"),
        (["eq", "0", "--on", "--off"], "not allowed with"),
        (["send", "0", "3", "-6"], "send bus must be"),
        (["send", "0", "1"], "required"),
        (["send", "0", "1", "-6", "--pre", "--post"], "not allowed with"),
        (["group", "0", "x"], "group bus 0..7 or 'none'"),
        (["group-mute", "0", "maybe"], "on or off"),
        (["delay"], "nothing to set"),
        (["delay", "--beats", "1", "--ms", "300"], "not allowed with"),
        (["delay", "--pingpong", "sometimes"], "on or off"),
        (["reverb"], "nothing to set"),
        (["master-gain"], "required"),
        (["param", "hp-frq", "1", "--slot", "0"], "did you mean hp-freq"),
        (["param", "hp-freq", "100"], "give the slot (--slot N)"),
        (["param", "group-gain", "0"], "give the group bus"),
        (["param", "group-gain", "0", "--slot", "1"], "give the group bus"),
        (["param", "master-gain", "0", "--group", "1"], "global param"),
        (["param", "hp-freq", "high", "--slot", "0"], "expected a number"),
        (["param", "hp-freq", "1", "--slot", "0", "--group", "1"], "not allowed with"),
    ],
)
def test_cli_mixer_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as ei:
        parse_args(argv)
    assert ei.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and message in err, err


def test_cli_help_lists_mixer_commands():
    r = run_cli(["--help"])
    assert r.returncode == 0
    for cmd in ("hp", "lp", "eq", "send", "group", "group-gain", "group-mute", "delay", "reverb", "master-gain",
                "param", "params", "meter-reset"):
        assert re.search(r"^\s+%s\s" % re.escape(cmd), r.stdout, re.M), cmd
    r = run_cli(["delay", "--help"])
    assert r.returncode == 0 and "--pingpong on|off" in r.stdout and "--return DB" in r.stdout


def test_cli_usage_errors_need_no_engine():
    """Usage errors (2) come before attaching: no engine of that name runs."""
    r = run_cli(["--name", "lrtest-absent", "param", "hp-freq", "100"])
    assert r.returncode == 2 and "--slot N" in r.stderr, r.stderr
    r = run_cli(["--name", "lrtest-absent", "hp", "0", "100"])
    assert r.returncode == 3, r.stderr


def test_cli_params_without_engine():
    """`params` lists the table from the library even when no engine runs (values not shown)."""
    r = run_cli(["--name", "lrtest-absent-%d" % os.getpid(), "params"])
    assert r.returncode == 0, r.stderr
    assert "values not shown" in r.stderr
    assert re.search(r"^hp-freq\s+slot\s+continuous\s+Hz", r.stdout, re.M)
    r = run_cli(["--name", "lrtest-absent-%d" % os.getpid(), "--json", "params"])
    assert r.returncode == 0
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["published"] is False
    assert [p["name"] for p in d["params"]] == [p.name for p in param_table()]
    assert all(p["value"] is None for p in d["params"])


# -- with the engine -------------------------------------------------------------------

def test_meter_view_and_snapshot_have_the_mixer_arrays(rig):
    """Shapes, dtypes and zero-copy of the ABI 2 arrays against the real segment (any ABI 2 engine)."""
    n = rig.slot_count
    for m in (rig.meters(), rig.meter_view()):
        assert m.peak_hold.shape == (n, 2) and m.peak_hold.dtype == np.float32
        assert m.group.shape == (n,) and m.group.dtype == np.int32
        assert m.master_peak_hold.shape == (2,)
        assert m.slot_params.shape == (n, SLOT_PARAMS) and m.slot_params.dtype == np.float32
        assert m.group_params.shape == (GROUPS, get_lib().LR_GROUP_PARAMS)
        assert m.global_params.shape == (get_lib().LR_GLOBAL_PARAMS,)
        for b in (m.groups, m.sends, m.returns):
            assert b.peak.shape == b.rms.shape == b.peak_hold.shape == (len(b), 2)
        assert isinstance(m.delay_frames, int) and isinstance(m.loudness, tuple)
        json.dumps(m.to_dict(), allow_nan=False)
    live = rig.meter_view()
    assert live.live and not live.slot_params.flags.writeable and not live.groups.peak.flags.writeable
    # views onto the segment itself: the same memory as the header's offsets say
    base = int(ffi.cast("uintptr_t", rig._base)) + int(rig.header.meters_offset)
    assert live.slot_params.__array_interface__["data"][0] == base + (int(rig.header.slot_params_offset)
                                                                        - int(rig.header.meters_offset))
    mix = int(rig.header.mix_meter_offset) - int(rig.header.meters_offset)
    assert live.groups.peak.__array_interface__["data"][0] == base + mix + ffi.offsetof("lr_mix_meter", "groups")
    st = json.loads(json.dumps(rig.status(), allow_nan=False))
    assert set(st) == {"engine", "meters", "mixer", "slots"}
    assert {"loudness", "buses", "master"} <= set(st["meters"]) and "mixer" not in st["meters"]
    assert {"published", "global", "groups", "delay_frames"} <= set(st["mixer"])

# A private engine for this module: the master gain and the effects are engine-wide.

def meters_when(rig, pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        m = rig.meters()
        if pred(m) or time.monotonic() > deadline:
            return m
        time.sleep(0.003)


def after(rig, frame, timeout=5.0):
    m = meters_when(rig, lambda m: m.frame_time > frame, timeout)
    assert m.frame_time > frame, "the engine did not reach frame %d (at %d)" % (frame, m.frame_time)
    return m


@pytest.fixture(scope="module")
def xenv(jack_server, sine_wav):
    eng = Engine(jack_server)
    rig = looprig.attach(eng.name, timeout=5.0)
    try:
        rig.load(0, sine_wav)
        yield eng, rig
    finally:
        rig.close()
        eng.stop()


@pytest.fixture
def xrig(xenv):
    """The module engine's Rig, master gain back at 0 dB. Fails at once, with the engine's
    answer, if the engine has no mixer (LR_CMD_PARAM refused or no values published)."""
    eng, rig = xenv
    try:
        rig.param("master-gain", 0.0)
    except CommandRejected as e:
        pytest.fail("the engine refuses LR_CMD_PARAM: %s (%s)" % (e.message, e.code_name))
    if not rig.meters().params_published:
        pytest.fail("the engine acks LR_CMD_PARAM but publishes no param values (lr_mix_meter.global_params all 0)")
    return rig


def test_e2e_defaults_are_published(xrig):
    m = xrig.meters()
    for p in param_table():
        if p.target == "slot":
            vals = [m.param(p, slot=s) for s in range(m.slot_count)]
        elif p.target == "group":
            vals = [m.param(p, group=g) for g in range(GROUPS)]
        else:
            if p.name in ("master-gain",):
                continue
            vals = [m.param(p)]
        assert all(is_default(p, v) for v in vals), (p.name, vals[:4])
    assert list(m.group) == [-1] * m.slot_count
    assert m.delay_frames == round(0.75 * 60.0 / m.tempo_bpm * RATE)  # default: 0.75 beats
    # the param ramp (looprigd --smooth-ms, default 20 ms)
    assert xrig.smooth_frames == 960 and xrig.engine_info()["smooth_ms"] == 20.0


def test_e2e_param_round_trip(xrig):
    f = xrig.param("hp-freq", 150, slot=0)
    assert isinstance(f, int)
    after(xrig, f)
    assert xrig.param_value("hp-freq", slot=0) == 150.0
    assert xrig.meters().param("hp-freq", slot=0) == 150.0
    xrig.param("hp-freq", 80, slot=0)


def test_e2e_convenience_calls_show_in_the_segment(xrig):
    calls = [
        (lambda: xrig.highpass(1, 200, q=1.0), {("hp-freq", 1): 200, ("hp-q", 1): 1.0, ("hp-on", 1): 1}),
        (lambda: xrig.lowpass(1, 6000), {("lp-freq", 1): 6000, ("lp-on", 1): 1}),
        (lambda: xrig.eq(1, low_gain=3, mid_gain=-2, mid_freq=700, mid_q=2, high_gain=1.5, high_freq=7000,
                         low_freq=150, on=True),
         {("eq-low-gain", 1): 3, ("eq-mid-gain", 1): -2, ("eq-mid-freq", 1): 700, ("eq-mid-q", 1): 2,
          ("eq-high-gain", 1): 1.5, ("eq-high-freq", 1): 7000, ("eq-low-freq", 1): 150, ("eq-on", 1): 1}),
        (lambda: xrig.send(1, "delay", -12), {("send1-level", 1): -12}),
        (lambda: xrig.fx_send(1, 2, -6, pre=True), {("send2-level", 1): -6, ("send2-pre", 1): 1}),
        (lambda: xrig.group(1, 3), {("group", 1): 3}),
        (lambda: xrig.group_gain(3, -4.5), {("group-gain", 3): -4.5}),
        (lambda: xrig.group_mute(3, True), {("group-mute", 3): 1}),
        (lambda: xrig.delay(beats=0.5, feedback=0.5, lowcut=120, highcut=6000, pingpong=True, return_db=-3),
         {("delay-beats", None): 0.5, ("delay-feedback", None): 0.5, ("delay-lowcut", None): 120,
          ("delay-highcut", None): 6000, ("delay-pingpong", None): 1, ("delay-return", None): -3}),
        (lambda: xrig.reverb(decay=3, damping=5000, predelay=20, return_db=-6),
         {("reverb-decay", None): 3, ("reverb-damping", None): 5000, ("reverb-predelay", None): 20,
          ("reverb-return", None): -6}),
        (lambda: xrig.master_gain(-1), {("master-gain", None): -1}),
    ]
    for call, expect in calls:
        f = call()
        after(xrig, f)
        for (name, where), v in expect.items():
            p = lookup(name)
            kw = {"slot": where} if p.target == "slot" else ({"group": where} if p.target == "group" else {})
            assert xrig.param_value(name, **kw) == pytest.approx(v, rel=1e-6), (name, where)
    m = xrig.meters()
    assert int(m.group[1]) == 3
    st = json.loads(json.dumps(xrig.status(), allow_nan=False))
    s1 = st["slots"][1]
    assert s1["group"] == 3 and s1["mixer"]["hp-freq"] == 200 and s1["mixer"]["send1-level"] == -12
    assert "hp-freq" not in st["slots"][0]["mixer"]
    assert st["mixer"]["groups"][3] == {"group-gain": -4.5, "group-mute": 1.0}
    assert st["mixer"]["global"]["delay-beats"] == 0.5 and st["mixer"]["global"]["master-gain"] == -1
    # delay time in frames follows the tempo: 0.5 beats
    expect_frames = 0.5 * 60.0 / m.tempo_bpm * RATE
    assert m.delay_frames == pytest.approx(expect_frames, abs=2)
    # back to the defaults for the other tests
    xrig.highpass(1, 80, q=lookup("hp-q").default, on=False)
    xrig.lowpass(1, 8000, on=False)
    xrig.eq(1, low_gain=0, mid_gain=0, high_gain=0, low_freq=200, mid_freq=1000, high_freq=5000,
            mid_q=lookup("eq-mid-q").default)
    xrig.fx_send(1, 1, -120, pre=False)
    xrig.fx_send(1, 2, -120, pre=False)
    xrig.group(1, None)
    xrig.group_gain(3, 0)
    xrig.group_mute(3, False)
    xrig.delay(beats=0.75, feedback=0.35, lowcut=80, highcut=8000, pingpong=False, return_db=0)
    xrig.reverb(decay=2, damping=6000, predelay=10, return_db=0)
    f = xrig.master_gain(0)
    after(xrig, f)
    assert xrig.meters().slot_settings(1) == {}


def test_e2e_several_values_change_in_one_frame(xrig):
    """A call that sets several params: every value is acked for one frame."""
    before = xrig.frame_time
    f = xrig.eq(2, low_gain=1, mid_gain=1, high_gain=1)
    assert [ev.frame for ev in f.events] == [f.frame] * 3 and f.ok  # the answer carries every ack
    assert list(f.values) == ["eq-low-gain", "eq-mid-gain", "eq-high-gain"]
    assert before < f <= before + (PARAM_MARGIN_PERIODS + 1) * xrig.buffer_size
    xrig.eq(2, low_gain=0, mid_gain=0, high_gain=0)


def test_e2e_at_and_quantize(xrig):
    at = xrig.frame_time + RATE // 4
    assert xrig.param("master-gain", -2, at=at) == at
    assert xrig.highpass(3, 300, at=at + 100) == at + 100
    f = xrig.param("master-gain", 0, at=at + 1, quantize="frames:4800")  # the next grid line after `at`
    assert f % 4800 == 0 and at + 1 <= f < at + 1 + 4800
    after(xrig, max(f, at + 100))
    assert xrig.param_value("master-gain") == 0.0
    assert xrig.param_value("hp-freq", slot=3) == 300.0
    xrig.highpass(3, 80, on=False)


@pytest.mark.parametrize(
    "name,value,kw,code",
    [
        ("hp-freq", 5.0, {"slot": 0}, "LR_E_BAD_VALUE"),
        ("hp-freq", 30000.0, {"slot": 0}, "LR_E_BAD_VALUE"),
        ("hp-freq", float("nan"), {"slot": 0}, "LR_E_BAD_VALUE"),
        ("hp-on", 0.5, {"slot": 0}, "LR_E_BAD_VALUE"),
        ("group", 1.5, {"slot": 0}, "LR_E_BAD_VALUE"),
        ("group", 8, {"slot": 0}, "LR_E_BAD_VALUE"),
        ("delay-feedback", 1.0, {}, "LR_E_BAD_VALUE"),
        ("master-gain", 13.0, {}, "LR_E_BAD_VALUE"),
        ("hp-freq", 100.0, {"slot": 9999}, "LR_E_BAD_SLOT"),
        ("group-gain", 0.0, {"group": 8}, "LR_E_BAD_SLOT"),
        ("group-gain", 0.0, {"group": -1}, "LR_E_BAD_SLOT"),
    ],
)
def test_e2e_engine_rejects_out_of_range(xrig, name, value, kw, code):
    with pytest.raises(CommandRejected) as ei:
        xrig.param(name, value, **kw)
    assert ei.value.code_name == code
    assert name in ei.value.message and ei.value.command == "param"


def test_e2e_rejected_value_in_a_multi_call(xrig):
    before = xrig.param_value("eq-low-gain", slot=4)
    with pytest.raises(CommandRejected) as ei:
        xrig.eq(4, low_gain=before + 2, mid_gain=99)
    assert "eq-mid-gain" in ei.value.message
    xrig.ping()
    assert xrig.param_value("eq-low-gain", slot=4) == before  # nothing of the call applied
    with pytest.raises(CommandRejected):
        xrig.highpass(4, 100, q=0)
    xrig.ping()
    assert xrig.param_value("hp-on", slot=4) == 0.0 and xrig.param_value("hp-freq", slot=4) != 100.0
    # the engine answered everything: the next command gets its own answer
    assert xrig.ping() > 0
    xrig.eq(4, low_gain=0)


def test_e2e_meter_reset_and_loudness(xrig, sine_wav):
    start = xrig.play(0)
    try:
        # the momentary window (400 ms) full of the sine, and the loudness thread caught up
        m = meters_when(xrig, lambda m: m.frame_time > start + RATE and m.loudness.momentary is not None
                        and math.isfinite(m.loudness.momentary) and m.loudness.momentary > -7.5, 5.0)
        assert m.master_peak_hold.max() > 0.1 and m.peak_hold[0].max() > 0.1
        # a -6.02 dBFS stereo sine at pan 0: a stereo source pans as a balance, unity at centre, so
        # each channel's mean square is 0.5^2 / 2: -0.691 + 10 log10(2 * 0.125) = -6.71 LUFS
        # (K-weighting adds ~0.1 dB at 440 Hz)
        assert -7.3 < m.loudness.momentary < -6.2, m.loudness
        f = xrig.meter_reset()
        assert isinstance(f, int)
    finally:
        xrig.stop(0)
    m = meters_when(xrig, lambda m: m.frame_time > f + RATE * 2.5 and m.master_peak_hold.max() == 0.0, 6.0)
    assert m.master_peak_hold.max() == 0.0, "peak hold did not fall back after 2 s of silence"


def test_e2e_group_and_send_buses_meter(xrig):
    xrig.group(0, 2)
    xrig.fx_send(0, "reverb", 0)
    xrig.play(0)
    try:
        m = meters_when(xrig, lambda m: m.groups.peak[2].max() > 0.1 and m.sends.peak[1].max() > 0.1, 5.0)
        assert m.groups.peak[2].max() > 0.1 and m.groups.peak[0].max() == 0.0
        assert m.sends.peak[1].max() > 0.1
        m = meters_when(xrig, lambda m: m.returns.peak[1].max() > 0.0, 5.0)
        assert m.returns.peak[1].max() > 0.0, "the reverb returns nothing"
        live = xrig.meter_view()
        assert live.groups.peak.shape == (GROUPS, 2) and not live.groups.peak.flags.writeable
        assert live.slot_params.shape == (xrig.slot_count, SLOT_PARAMS)
    finally:
        xrig.stop(0)
        xrig.group(0, None)
        xrig.fx_send(0, "reverb", -120)


def test_e2e_cli(xenv, xrig):
    eng, _ = xenv
    n = ["--name", eng.name]
    r = run_cli(n + ["hp", "5", "120", "--q", "1"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("hp 5: hp-freq 120 Hz, hp-q 1 Q, hp-on on at frame ")
    r = run_cli(n + ["--json", "eq", "5", "--low", "-3", "--off"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] and d["command"] == "eq" and d["slot"] == 5
    assert d["values"] == {"eq-low-gain": -3.0, "eq-on": 0.0}
    for args in (["lp", "5", "5000"], ["send", "5", "reverb", "-10", "--pre"], ["group", "5", "1"],
                 ["group-gain", "1", "-2"], ["group-mute", "1", "off"], ["delay", "--ms", "300"],
                 ["reverb", "--decay", "1.5"], ["master-gain", "0"], ["param", "hp-freq", "130", "--slot", "5"],
                 ["param", "group-mute", "off", "--group", "1"], ["meter-reset"]):
        r = run_cli(n + args)
        assert r.returncode == 0, (args, r.stderr)
    assert wait_value(xrig, "hp-freq", 130.0, slot=5) == 130.0
    r = run_cli(n + ["--json", "params", "--slot", "5", "--group", "1"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    rows = {p["name"]: p for p in d["params"]}
    assert d["published"] is True
    assert rows["hp-freq"]["value"] == 130.0 and rows["group-gain"]["value"] == -2.0
    assert rows["delay-ms"]["value"] == 300.0 and rows["delay-beats"]["value"] == 0.0
    assert len(rows["hp-freq"]["values"]) == xrig.slot_count and len(rows["group-gain"]["values"]) == GROUPS
    r = run_cli(n + ["params", "--slot", "5"])
    assert r.returncode == 0 and re.search(r"^hp-freq .* 130 ", r.stdout, re.M), r.stdout
    r = run_cli(n + ["status"])
    assert r.returncode == 0 and "slot 5: hp-on on, hp-freq 130 Hz" in r.stdout, r.stdout
    r = run_cli(n + ["meters"])
    assert r.returncode == 0 and "DELAY return" in r.stdout and "loudness" in r.stdout
    # engine rejections: exit 1 with the engine's message
    r = run_cli(n + ["hp", "5", "5"])
    assert r.returncode == 1 and "(LR_E_BAD_VALUE)" in r.stderr and "hp-freq" in r.stderr, r.stderr
    r = run_cli(n + ["--json", "group-gain", "9", "0"])
    assert r.returncode == 1
    d = json.loads(r.stdout)
    assert d["ok"] is False and d["code_name"] == "LR_E_BAD_SLOT" and d["command"] == "param"
    r = run_cli(n + ["params", "--slot", "999"])
    assert r.returncode == 2 and "out of range" in r.stderr
    # restore
    for args in (["hp", "5", "80", "--q", "0.7071067811865476", "--off"], ["lp", "5", "8000", "--off"],
                 ["eq", "5", "--low", "0", "--on"], ["send", "5", "reverb", "off", "--post"], ["group", "5", "none"],
                 ["group-gain", "1", "0"], ["delay", "--beats", "0.75"], ["reverb", "--decay", "2"]):
        assert run_cli(n + args).returncode == 0, args


def wait_value(rig, name, expect, timeout=2.0, **kw):
    """The param's value once it equals ``expect`` (or whatever it is after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        v = rig.param_value(name, **kw)
        if v == expect or time.monotonic() > deadline:
            return v
        time.sleep(0.005)
