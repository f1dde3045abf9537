"""Musical time: tempo, meter, loop tempo, pitch, stretch/varispeed, beat/bar quantize.

The first part needs no engine (parsing, the values the API puts into
commands, meter decoding from a synthetic buffer). The second part runs the
real engine and checks the documented behaviour: commands are acknowledged and
show in the meters, out-of-range values are LR_E_BAD_VALUE, and beat/bar
quantize lands on the master grid that the meters describe.
"""

from __future__ import annotations

import json
import math
import time

import pytest

import looprig
from looprig import CommandRejected
from looprig._ffi import ffi, get_lib
from looprig._names import COMMANDS, MODES, QUANTIZE, RENDER_STATES
from looprig.cli import parse_args
from looprig.display import status_table, tempo_line
from looprig.meters import Meters, area_layout
from conftest import RATE, Engine, require_library, run_cli
from fakes import FRAME_TIME, PERIOD, Wire, make_rig

np = pytest.importorskip("numpy")


# -- no engine needed ---------------------------------------------------------

def test_enums_come_from_the_header():
    lib = get_lib()
    assert QUANTIZE["beat"] == lib.LR_Q_BEAT == 3
    assert QUANTIZE["bar"] == lib.LR_Q_BAR == 4
    assert MODES == {"stretch": lib.LR_MODE_STRETCH, "varispeed": lib.LR_MODE_VARISPEED}
    assert RENDER_STATES == {"none": 0, "pending": 1, "ready": 2}
    for name in ("tempo", "time_signature", "loop_tempo", "pitch", "mode"):
        assert COMMANDS[name] == getattr(lib, "LR_CMD_" + name.upper())
    assert COMMANDS["meter"] == COMMANDS["time_signature"]  # the old name, still accepted


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("beat", (3, 1)),
        ("bar", (4, 1)),
        ("BAR", (4, 1)),
        (" bar ", (4, 1)),
        ("beat:2", (3, 2)),
        ("bar:4", (4, 4)),
        (" bar : 2 ", (4, 2)),
        ("beat:0", (3, 0)),  # passed through: the engine reads 0 as 1
        (("beat", 3), (3, 3)),
        (("bar", 1), (4, 1)),
        (["bar", np.uint32(2)], (4, 2)),
    ],
)
def test_parse_quantize_beat_bar(spec, expected):
    assert looprig.parse_quantize(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["bars", "beats:2", "bar:", "beat:-1", "bar:x", "bar:1.5", "bar:2:3", "bar:\u00b2", ("bar",), ("bar", -1),
     ("bar", 1.0), ("bar", "2"), ("bars", 2)],
)
def test_parse_quantize_beat_bar_rejects(spec):
    with pytest.raises(ValueError):
        looprig.parse_quantize(spec)


def _sent(wire):
    """``(command name, slot, value tuple, at or None, quantize spec)`` of each recorded command."""
    lib = get_lib()
    names = {v: k for k, v in COMMANDS.items()}
    out = []
    for d in wire.decoded():
        at = d["at"] if d["flags"] & lib.LR_CMD_F_AT else None
        out.append((names[d["type"]], d["slot"], d["values"], at, (d["quantize"], d["quantize_arg"])))
    return out


@pytest.fixture
def fake_rig():
    """A Rig attached to nothing (fakes.Wire): each call's command is recorded and ACKed."""
    require_library()
    wire = Wire()
    return make_rig(wire), wire


def test_tempo_meter_values(fake_rig):
    rig, wire = fake_rig
    assert rig.tempo(96.5) == FRAME_TIME + PERIOD
    assert rig.tempo(120, at=480000, quantize="bar:2") == 480000
    assert rig.meter(3) == FRAME_TIME + PERIOD
    assert _sent(wire) == [
        ("tempo", 0, (96.5, 0.0), None, (QUANTIZE["none"], 0)),
        ("tempo", 0, (120.0, 0.0), 480000, (QUANTIZE["bar"], 2)),
        ("meter", 0, (3.0, 0.0), None, (QUANTIZE["none"], 0)),
    ]


def test_loop_tempo_forms(fake_rig):
    rig, wire = fake_rig
    rig.loop_tempo(2, 96)
    rig.loop_tempo(2, beats=16)
    rig.loop_tempo(2, None)
    rig.loop_tempo(2)
    rig.loop_tempo(2, bpm=87.5)
    assert [v for _, _, v, _, _ in _sent(wire)] == [(96.0, 0.0), (0.0, 16.0), (0.0, 0.0), (0.0, 0.0), (87.5, 0.0)]
    assert all(c == "loop_tempo" and s == 2 for c, s, _, _, _ in _sent(wire))
    with pytest.raises(ValueError):
        rig.loop_tempo(2, 96, beats=16)
    with pytest.raises(TypeError):
        rig.loop_tempo(2, 96, 16)  # beats is keyword-only
    assert len(wire.cmds) == 5  # nothing sent for the errors


def test_pitch_and_mode_values(fake_rig):
    rig, wire = fake_rig
    rig.pitch(1, -7, cents=-30)
    rig.pitch(1, 12)
    rig.pitch(1, 0, 50)
    rig.mode(1, "varispeed")
    rig.mode(1, "STRETCH")
    rig.mode(1, 5)  # raw values are the engine's to reject
    vals = [v[0] for _, _, v, _, _ in _sent(wire)]
    assert vals[:3] == [pytest.approx(-7.3), 12.0, 0.5]
    assert vals[3:] == [1.0, 0.0, 5.0]
    assert [c for c, _, _, _, _ in _sent(wire)] == ["pitch"] * 3 + ["mode"] * 3
    with pytest.raises(ValueError, match="unknown mode"):
        rig.mode(1, "fast")
    assert len(wire.cmds) == 6


def test_answers_carry_what_was_set(fake_rig):
    """Each method returns the engine's answer: an int (the frame) with the values it set."""
    rig, wire = fake_rig
    a = rig.pitch(1, -7, cents=-30)
    assert isinstance(a, looprig.Answer) and a == a.frame == FRAME_TIME + PERIOD
    assert a.ok and a.code == 0 and a.code_name == "LR_OK" and a.command == "pitch" and a.slot == 1
    assert a.values == {"semitones": pytest.approx(-7.3)} and a.event.id == a.ids[0]
    assert rig.mode(0, 1).values == {"mode": "varispeed"}
    assert rig.loop_tempo(0, beats=8).values == {"off": False, "loop_bpm": None, "loop_beats": 8.0}
    assert rig.loop_tempo(0).values == {"off": True, "loop_bpm": None, "loop_beats": None}
    assert rig.tempo(100, at=FRAME_TIME + 5) + 1 == FRAME_TIME + 6  # int arithmetic: a plain int
    assert json.loads(json.dumps({"frame": rig.meter(4)})) == {"frame": FRAME_TIME + PERIOD}


def test_commands_built_with_beat_bar_quantize():
    require_library()
    from looprig.commands import build_command

    lib = get_lib()
    cmd = build_command("tempo", 0, 140.0, None, 1000, "bar:2")
    assert (cmd.type, cmd.flags, cmd.at_frame, cmd.quantize, cmd.quantize_arg) == (
        lib.LR_CMD_TEMPO, lib.LR_CMD_F_AT, 1000, lib.LR_Q_BAR, 2)
    assert cmd.value[0] == 140.0
    cmd = build_command("loop-tempo", 3, (0.0, 16.0), None, None, "beat")
    assert (cmd.type, cmd.slot, cmd.quantize, cmd.quantize_arg) == (lib.LR_CMD_LOOP_TEMPO, 3, lib.LR_Q_BEAT, 1)
    assert (cmd.value[0], cmd.value[1]) == (0.0, 16.0)
    cmd = build_command("play", 0, None, None, None, ("bar", 4))
    assert (cmd.quantize, cmd.quantize_arg) == (lib.LR_Q_BAR, 4)


def _synthetic_meters(numpy=True, monkeypatch=None):
    """A Meters over a hand-made buffer laid out like the engine's meter area."""
    n = 3
    sm_off = (ffi.sizeof("lr_meter_header") + 63) // 64 * 64
    si_off = (sm_off + n * ffi.sizeof("lr_slot_meter") + 63) // 64 * 64
    buf = bytearray(area_layout(n)["size"])  # up to the mix meter and slot params (ABI 2)
    base = ffi.cast("char *", ffi.from_buffer(buf))
    h = ffi.cast("lr_meter_header *", base)
    h.tempo_bpm = 123.5
    h.beat = 77.25
    h.beats_per_bar = 7
    h.renders_pending = 2
    h.slot_count = n
    sm = ffi.cast("lr_slot_meter *", base + sm_off)
    sm[1].loop_bpm = 96.0
    sm[1].loop_beats = 16.0
    sm[1].pitch = -7.3
    sm[1].mode = 1
    sm[1].render = 1
    sm[2].render = 2
    sm[2].state = 1
    sm[2].length = 1000
    if monkeypatch is not None and not numpy:
        import looprig.meters as mm

        monkeypatch.setattr(mm, "_np", None)
    return Meters(buf, sm_off, si_off, n)


@pytest.mark.parametrize("numpy", [True, False])
def test_meters_decode_musical_fields(numpy, monkeypatch):
    m = _synthetic_meters(numpy, monkeypatch)
    assert (m.tempo_bpm, m.beat, m.beats_per_bar, m.renders_pending) == (123.5, 77.25, 7, 2)
    assert list(m.loop_bpm) == [0.0, 96.0, 0.0]
    assert list(m.loop_beats) == [0.0, 16.0, 0.0]
    assert m.pitch[1] == pytest.approx(-7.3, abs=1e-6)
    assert [m.mode_name(i) for i in range(3)] == ["stretch", "varispeed", "stretch"]
    assert [m.render_name(i) for i in range(3)] == ["none", "pending", "ready"]
    if numpy:
        for name in ("loop_bpm", "loop_beats", "pitch"):
            assert getattr(m, name).dtype == np.float32, name
        for name in ("mode", "render"):
            assert getattr(m, name).dtype == np.uint32, name
        assert m.pitch.strides == (ffi.sizeof("lr_slot_meter"),)
    d = json.loads(json.dumps(m.to_dict(), allow_nan=False))
    assert (d["tempo_bpm"], d["beat"], d["beats_per_bar"], d["renders_pending"]) == (123.5, 77.25, 7, 2)
    s1 = d["slots"][1]
    assert (s1["loop_bpm"], s1["loop_beats"], s1["mode"], s1["render"]) == (96.0, 16.0, "varispeed", "pending")
    assert s1["pitch"] == pytest.approx(-7.3, abs=1e-6)


def test_status_table_shows_tempo_and_slot_columns():
    m = _synthetic_meters()
    md = m.to_dict(all_slots=True)
    slots = md.pop("slots")
    st = {
        "engine": {"name": "x", "pid": 1, "state": "running", "jack_client_name": "x", "jack_server_name": "",
                   "sample_rate": RATE, "buffer_size": 256, "declick_ms": 0.0, "slot_count": 3},
        "meters": md,
        "slots": slots,
    }
    text = status_table(st, show_all=True)
    assert "tempo 123.5 BPM  7 beats/bar  beat 77.25  renders pending 2" in text
    assert tempo_line(md) in text
    header = [ln for ln in text.splitlines() if ln.startswith("slot ")][0]
    for col in ("bpm/beats", "pitch", "mode", "render"):
        assert col in header
    row1 = [ln for ln in text.splitlines() if ln.startswith("   1 ")][0]
    assert "96/16" in row1 and "-7.30" in row1 and "varispeed" in row1 and "pending" in row1
    row0 = [ln for ln in text.splitlines() if ln.startswith("   0 ")][0]
    assert " - " in row0 and "stretch" in row0 and "none" in row0


@pytest.mark.parametrize(
    "argv,expect",
    [
        (["tempo", "120"], {"bpm": 120.0, "at": None, "quantize": None}),
        (["tempo", "96.5", "--at", "48000", "--quantize", "bar:2"], {"bpm": 96.5, "at": 48000, "quantize": "bar:2"}),
        (["meter", "3"], {"beats_per_bar": 3}),
        (["meter", "0"], {"beats_per_bar": 0}),  # the engine rejects it
        (["loop-tempo", "1", "96"], {"slot": 1, "bpm": 96.0, "beats": None}),
        (["loop-tempo", "1", "--beats", "16"], {"slot": 1, "bpm": None, "beats": 16.0}),
        (["loop-tempo", "1", "off"], {"slot": 1, "bpm": "off", "beats": None}),
        (["loop-tempo", "1", "OFF"], {"slot": 1, "bpm": "off", "beats": None}),
        (["pitch", "0", "-7"], {"slot": 0, "semitones": -7.0, "cents": 0.0}),
        (["pitch", "0", "-7", "--cents", "-30"], {"slot": 0, "semitones": -7.0, "cents": -30.0}),
        (["pitch", "0", "-1e1"], {"slot": 0, "semitones": -10.0}),
        (["pitch", "0", "-.5", "--cents", "25"], {"slot": 0, "semitones": -0.5, "cents": 25.0}),
        (["pitch", "0", "12", "--name", "other"], {"semitones": 12.0, "name": "other"}),
        (["mode", "2", "varispeed"], {"slot": 2, "mode": "varispeed"}),
        (["mode", "2", "Stretch"], {"slot": 2, "mode": "stretch"}),
        (["play", "0", "--quantize", "bar"], {"quantize": "bar"}),
        (["stop", "0", "--quantize", "beat:2"], {"quantize": "beat:2"}),
    ],
)
def test_cli_parses_musical_commands(argv, expect):
    args = parse_args(argv)
    for k, v in expect.items():
        assert getattr(args, k) == v, (argv, k)


@pytest.mark.parametrize(
    "argv",
    [
        ["tempo"],
        ["tempo", "fast"],
        ["tempo", "120", "--quantize", "bars"],
        ["tempo", "120", "--quantize", "beat:-1"],
        ["meter", "3.5"],
        ["loop-tempo", "0"],
        ["loop-tempo", "0", "96", "--beats", "16"],
        ["loop-tempo", "0", "off", "--beats", "16"],
        ["loop-tempo", "0", "fast"],
        ["pitch", "0"],
        ["pitch", "0", "up"],
        ["pitch", "0", "1", "--cents", "x"],
        ["mode", "0", "fast"],
        ["mode", "0"],
        ["play", "0", "--quantize", "bar:x"],
    ],
)
def test_cli_musical_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        parse_args(argv)
    assert ei.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_cli_usage_error_before_attaching():
    """A bad loop-tempo is a usage error (2) even with no engine running (not 3)."""
    r = run_cli(["--name", "lrtest-absent", "loop-tempo", "0", "96", "--beats", "4"])
    assert r.returncode == 2 and "usage:" in r.stderr, r.stderr
    r = run_cli(["--help"])
    for cmd in ("tempo", "meter", "loop-tempo", "pitch", "mode"):
        assert cmd in r.stdout


# -- with the engine ------------------------------------------------------------
# A private engine for this module: tempo and meter are engine-wide, so the
# shared session engine's grid stays untouched.

def meters_when(rig, pred, timeout=3.0):
    deadline = time.monotonic() + timeout
    while True:
        m = rig.meters()
        if pred(m) or time.monotonic() > deadline:
            return m
        time.sleep(0.003)


def after(rig, frame, timeout=5.0):
    """Meters of a period that starts after ``frame`` (so a change at ``frame`` is in them)."""
    m = meters_when(rig, lambda m: m.frame_time > frame, timeout)
    assert m.frame_time > frame, "the engine did not reach frame %d (at %d)" % (frame, m.frame_time)
    return m


def beat_at(m, frame):
    """Master beat position at ``frame`` from a snapshot (assumes no tempo change in between)."""
    return m.beat + (frame - m.frame_time) * m.tempo_bpm / (60.0 * RATE)


def frames_per_beat(m):
    return 60.0 * RATE / m.tempo_bpm


def assert_on_grid(m, frame, every_beats, what):
    """``frame`` is the first frame at or after a multiple of ``every_beats`` beats."""
    b = beat_at(m, frame)
    k = math.floor(b / every_beats + 1e-9)
    residual = (b - k * every_beats) * frames_per_beat(m)  # frames past the grid line
    assert -0.01 <= residual < 1.01, "%s: frame %d is beat %.6f, %.3f frames past the grid line %d (every %g beats)" % (
        what, frame, b, residual, k * every_beats, every_beats)
    return k * every_beats


@pytest.fixture(scope="module")
def menv(jack_server, sine_wav):
    eng = Engine(jack_server)
    rig = looprig.attach(eng.name, timeout=5.0)
    try:
        rig.load(0, sine_wav)
        yield eng, rig
    finally:
        rig.close()
        eng.stop()


@pytest.fixture
def mrig(menv):
    """The module engine's Rig; master tempo and meter restored after each test."""
    eng, rig = menv
    m = rig.meters()
    bpm, bpb = m.tempo_bpm, m.beats_per_bar
    yield rig
    try:
        if rig.alive and 20 <= bpm <= 400 and 1 <= bpb <= 32:
            rig.tempo(bpm)
            rig.meter(bpb)
    except CommandRejected:
        pass


def test_grid_defaults_and_beat_advances(mrig):
    m1 = mrig.meters()
    assert 20 <= m1.tempo_bpm <= 400
    assert 1 <= m1.beats_per_bar <= 32
    m2 = meters_when(mrig, lambda m: m.frame_time >= m1.frame_time + RATE // 10)
    # beat is the master beat position at frame_time: it advances at the tempo
    assert m2.beat - m1.beat == pytest.approx((m2.frame_time - m1.frame_time) * m1.tempo_bpm / (60.0 * RATE),
                                              abs=1e-6)
    assert mrig.bpm == m2.tempo_bpm and mrig.beats_per_bar == m2.beats_per_bar
    assert isinstance(mrig.beat, float) and mrig.beat >= m2.beat
    assert m2.renders_pending >= 0


def test_tempo_and_meter_ack_and_show_in_meters(mrig):
    f = mrig.tempo(100)
    assert isinstance(f, int) and f > 0
    m = after(mrig, f)
    assert m.tempo_bpm == 100.0
    assert mrig.bpm == 100.0
    f = mrig.tempo(133.25)
    assert after(mrig, f).tempo_bpm == 133.25
    f = mrig.meter(3)
    m = after(mrig, f)
    assert m.beats_per_bar == 3 and mrig.beats_per_bar == 3
    st = json.loads(json.dumps(mrig.status(), allow_nan=False))
    assert st["meters"]["tempo_bpm"] == 133.25
    assert st["meters"]["beats_per_bar"] == 3
    assert isinstance(st["meters"]["beat"], float) and isinstance(st["meters"]["renders_pending"], int)


def test_tempo_at_frame_keeps_the_beat_continuous(mrig):
    mrig.tempo(120)
    m0 = after(mrig, mrig.frame_time)
    at = m0.frame_time + RATE // 4
    f = mrig.tempo(150, at=at)
    assert f == at
    b_at = beat_at(m0, at)  # at 120 BPM, before the change
    m1 = after(mrig, at)
    assert m1.tempo_bpm == 150.0
    expect = b_at + (m1.frame_time - at) * 150.0 / (60.0 * RATE)
    assert m1.beat == pytest.approx(expect, abs=1e-6), "beat position jumped at the tempo change"


@pytest.mark.parametrize(
    "command,value,slot",
    [
        ("tempo", 10.0, 0),
        ("tempo", 19.9, 0),
        ("tempo", 401.0, 0),
        ("tempo", float("nan"), 0),
        ("tempo", float("inf"), 0),
        ("meter", 0, 0),
        ("meter", 33, 0),
        ("pitch", 30.0, 0),
        ("pitch", -24.5, 0),
        ("pitch", float("nan"), 0),
        ("mode", 5, 0),
    ],
)
def test_out_of_range_values_rejected(mrig, command, value, slot):
    before = mrig.meters()
    with pytest.raises(CommandRejected) as ei:
        if command in ("tempo", "meter"):
            getattr(mrig, command)(value)
        else:
            getattr(mrig, command)(slot, value)
    e = ei.value
    assert e.code_name == "LR_E_BAD_VALUE", (command, value, e.code_name, e.message)
    # the engine names the command by its current name ("meter" is now "time_signature")
    assert e.command == {"meter": "time_signature"}.get(command, command) and e.message
    m = after(mrig, mrig.frame_time)
    # nothing changed
    assert (m.tempo_bpm, m.beats_per_bar) == (before.tempo_bpm, before.beats_per_bar)
    assert m.pitch[slot] == before.pitch[slot] and m.mode[slot] == before.mode[slot]


def test_per_slot_commands_check_the_slot(mrig):
    for call in (lambda: mrig.pitch(999, 1), lambda: mrig.mode(999, "stretch"), lambda: mrig.loop_tempo(999, 120)):
        with pytest.raises(CommandRejected) as ei:
            call()
        assert ei.value.code_name == "LR_E_BAD_SLOT"


def test_loop_tempo_pitch_mode_show_in_slot_meters(mrig):
    mrig.tempo(120)
    # slot 0 holds a 1 s loop (48000 frames)
    f = mrig.loop_tempo(0, 120)
    m = after(mrig, f)
    assert m.loop_bpm[0] == 120.0
    assert m.loop_beats[0] == pytest.approx(2.0, rel=1e-4)  # 1 s at 120 BPM
    f = mrig.loop_tempo(0, beats=4)
    m = after(mrig, f)
    assert m.loop_beats[0] == 4.0
    assert m.loop_bpm[0] == pytest.approx(240.0, rel=1e-4)  # 4 beats in 1 s
    f = mrig.loop_tempo(0, None)
    assert after(mrig, f).loop_bpm[0] == 0.0

    f = mrig.pitch(0, -7, cents=-30)
    m = after(mrig, f)
    assert m.pitch[0] == pytest.approx(-7.3, abs=1e-5)
    f = mrig.mode(0, "varispeed")
    m = after(mrig, f)
    assert m.mode_name(0) == "varispeed"
    s0 = json.loads(json.dumps(mrig.status(), allow_nan=False))["slots"][0]
    assert s0["mode"] == "varispeed" and s0["pitch"] == pytest.approx(-7.3, abs=1e-5)
    assert s0["loop_bpm"] == 0.0 and s0["render"] in ("none", "pending", "ready")
    f = mrig.mode(0, "stretch")
    assert after(mrig, f).mode_name(0) == "stretch"
    f = mrig.pitch(0, 0)
    assert after(mrig, f).pitch[0] == 0.0


def test_stretch_render_becomes_ready(mrig):
    """Following at another tempo in stretch mode needs a render: pending, then ready."""
    mrig.tempo(120)
    mrig.mode(0, "stretch")
    mrig.loop_tempo(0, 100)
    f = mrig.pitch(0, 2)
    try:
        m = after(mrig, f)
        assert m.render_name(0) in ("pending", "ready")
        m = meters_when(mrig, lambda m: m.render_name(0) == "ready", timeout=60.0)
        assert m.render_name(0) == "ready", "no render within 60 s (render %s, %d pending)" % (
            m.render_name(0), m.renders_pending)
        m = meters_when(mrig, lambda m: m.renders_pending == 0, timeout=10.0)
        assert m.renders_pending == 0
    finally:
        mrig.pitch(0, 0)
        mrig.loop_tempo(0, None)
    m = meters_when(mrig, lambda m: m.render_name(0) == "none", timeout=10.0)
    assert m.render_name(0) == "none", "a slot that needs no stretch should play its audio as it is"


def test_beat_and_bar_quantize_on_the_master_grid(engine_factory, sine_wav):
    """On a fresh engine (bars from beat 0): play/stop/tempo with beat/bar quantize land on the grid."""
    eng = engine_factory()
    with looprig.attach(eng.name, timeout=5.0) as rig:
        for s in range(5):
            rig.load(s, sine_wav)
        m0 = rig.meters()
        bpb = m0.beats_per_bar
        assert bpb >= 1 and m0.tempo_bpm > 0

        f = rig.play(0, quantize="bar")
        m1 = rig.meters()
        assert f >= m0.frame_time
        bar = assert_on_grid(m0, f, bpb, "play bar")
        # the next bar, not a later one: the one before had begun when the engine answered
        assert bar - bpb < beat_at(m0, m1.frame_time + m1.nframes) + 1e-9, (f, bar, m1.frame_time)
        m = meters_when(rig, lambda m: m.state_name(0) == "playing", timeout=15.0)
        assert m.state_name(0) == "playing" and int(m.start_frame[0]) == f

        f2 = rig.play(1, quantize="bar:2")
        assert_on_grid(m0, f2, 2 * bpb, "play bar:2")
        f3 = rig.play(2, quantize="beat")
        b3 = assert_on_grid(m0, f3, 1, "play beat")
        assert b3 - 1 < beat_at(m0, rig.meters().frame_time + 256) + 1e-9
        f4 = rig.play(3, quantize=("beat", 3))
        assert_on_grid(m0, f4, 3, "play beat:3")
        fs = rig.stop(2, quantize="bar")
        assert_on_grid(m0, fs, bpb, "stop bar")

        # a tempo change on the next bar; the grid continues from there at the new tempo
        new_bpm = 90.0 if m0.tempo_bpm != 90.0 else 100.0
        ft = rig.tempo(new_bpm, quantize="bar")
        bt = assert_on_grid(m0, ft, bpb, "tempo bar")
        m2 = after(rig, ft, timeout=15.0)
        assert m2.tempo_bpm == new_bpm
        # the beat position is continuous: the old tempo up to ft, the new one from there
        expect = beat_at(m0, ft) + (m2.frame_time - ft) * new_bpm / (60.0 * RATE)
        assert m2.beat == pytest.approx(expect, abs=1e-6), "beat position jumped at the quantized tempo change"
        f5 = rig.play(4, quantize="bar")
        assert_on_grid(m2, f5, bpb, "play bar after the tempo change")
        for s in range(5):
            rig.stop(s)


def test_cli_musical_commands(menv):
    eng, rig = menv
    n = ["--name", eng.name]
    try:
        r = run_cli(n + ["--json", "tempo", "130"])
        assert r.returncode == 0, r.stderr
        d = json.loads(r.stdout)
        assert d["ok"] and d["command"] == "tempo" and d["bpm"] == 130.0
        r = run_cli(n + ["meter", "3"])
        assert r.returncode == 0 and r.stdout.startswith("meter: 3 beats per bar at frame "), r.stderr
        r = run_cli(n + ["pitch", "0", "-7", "--cents", "-30"])
        assert r.returncode == 0 and r.stdout.startswith("pitch 0: -7.3 semitones at frame "), (r.stdout, r.stderr)
        r = run_cli(n + ["mode", "0", "varispeed"])
        assert r.returncode == 0 and r.stdout.startswith("mode 0: varispeed at frame "), r.stderr
        r = run_cli(n + ["--json", "loop-tempo", "0", "--beats", "4"])
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["loop_beats"] == 4.0
        r = run_cli(n + ["tempo", "10"])
        assert r.returncode == 1 and "LR_E_BAD_VALUE" in r.stderr, (r.stdout, r.stderr)
        r = run_cli(n + ["--json", "transport", "master"])
        d = json.loads(r.stdout)
        assert r.returncode == 0 and d["ok"] and d["command"] == "transport" and d["mode"] == "master", d
        assert d["code_name"] == "LR_OK" and d["id"] > 0 and "frame" in d and "message" in d, d
        r = run_cli(n + ["transport", "off"])
        assert r.returncode == 0 and r.stdout.startswith("transport off at frame "), (r.stdout, r.stderr)
        after(rig, rig.frame_time)
        r = run_cli(n + ["status"])
        assert r.returncode == 0, r.stderr
        assert "tempo 130 BPM  3 beats/bar  beat " in r.stdout
        row = [ln for ln in r.stdout.splitlines() if ln.startswith("   0 ")][0]
        assert "-7.30" in row and "varispeed" in row and "/4 " in row
        r = run_cli(n + ["--json", "status"])
        st = json.loads(r.stdout)
        assert st["meters"]["tempo_bpm"] == 130.0 and st["meters"]["beats_per_bar"] == 3
        s0 = st["slots"][0]
        assert s0["mode"] == "varispeed" and s0["loop_beats"] == 4.0
        assert s0["pitch"] == pytest.approx(-7.3, abs=1e-5)
        r = run_cli(n + ["loop-tempo", "0", "off"])
        assert r.returncode == 0 and "off" in r.stdout, r.stderr
        r = run_cli(n + ["play", "0", "--quantize", "bar"])
        assert r.returncode == 0 and "starts at frame" in r.stdout, r.stderr
        r = run_cli(n + ["stop", "0", "--quantize", "beat"])
        assert r.returncode == 0, r.stderr
    finally:
        for args in (["tempo", "120"], ["meter", "4"], ["pitch", "0", "0"], ["mode", "0", "stretch"],
                     ["loop-tempo", "0", "off"]):
            run_cli(n + args)


def test_transport_modes_and_cli_parse():
    """transport off|follow|master: names from the header; bad names refused before sending."""
    from looprig._names import TRANSPORT_MODES
    from looprig import cli

    assert TRANSPORT_MODES == {"off": 0, "follow": 1, "master": 2}
    assert cli.parse_args(["transport", "follow"]).transport_mode == "follow"
    with pytest.raises(SystemExit):
        cli.parse_args(["transport", "sideways"])


def test_transport_round_trip(engine):
    import looprig

    with looprig.attach(name=engine.name) as rig:
        with pytest.raises(ValueError):
            rig.transport("sideways")
        rig.transport("follow")
        deadline = time.monotonic() + 2
        while rig.meters().transport != "follow" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert rig.meters().transport == "follow"
        rig.transport("off")
