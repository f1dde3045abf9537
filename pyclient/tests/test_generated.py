"""The mixer facade and the mixer subcommands are generated from the params table.

No engine: the table is the C library's, or (``grown``) the C library's plus
the per-slot params main is about to add (gain, pan, mute, solo, pitch, mode,
loop-bpm, loop-beats) and one more EQ param, to check that generation copes
with ids being added: existing methods and subcommands keep their spelling,
a param with a section's prefix joins that section, the others are reachable
by ``param`` only, and nothing collides.
"""

from __future__ import annotations

import inspect
import os

import pytest

import looprig
from looprig import cli, mixer
from looprig import params as P
from looprig._ffi import get_lib
from conftest import require_library
from fakes import Wire, make_rig

NEW_SLOT_PARAMS = [  # name, kind, unit, min, max, default
    ("gain", "continuous", "dB", -144.0, 24.0, 0.0),
    ("pan", "continuous", "", -1.0, 1.0, 0.0),
    ("mute", "switch", "", 0.0, 1.0, 0.0),
    ("solo", "switch", "", 0.0, 1.0, 0.0),
    ("pitch", "continuous", "", -24.0, 24.0, 0.0),
    ("mode", "index", "", 0.0, 1.0, 0.0),
    ("loop-bpm", "continuous", "", 0.0, 999.0, 0.0),
    ("loop-beats", "continuous", "beats", 0.0, 9999.0, 0.0),
    ("eq-low-q", "continuous", "Q", 0.1, 20.0, 0.7),
]


@pytest.fixture(autouse=True, scope="module")
def _library():
    require_library()


def _fresh():
    """Forget everything generated from the table (methods, CLI rows)."""
    for sec in mixer.SECTIONS:
        getattr(mixer.MixerMethods, "__dict__")[sec.method]._fn = None
    cli.COMMANDS.clear()


@pytest.fixture
def grown(monkeypatch):
    """The params table with the new rows (ids after the existing slot params)."""
    table = P.param_table()
    next_id = get_lib().LR_P_SLOT_END
    extra = [P.Param(next_id + i, name, "slot", kind, unit, lo, hi, d, "new: " + name)
             for i, (name, kind, unit, lo, hi, d) in enumerate(NEW_SLOT_PARAMS)]
    rows = tuple(sorted(table + extra, key=lambda p: p.id))
    monkeypatch.setattr(P, "_table", rows)
    monkeypatch.setattr(P, "_by_name", {p.name: p for p in rows})
    monkeypatch.setattr(P, "_by_id", {p.id: p for p in rows})
    _fresh()
    yield {p.name: p for p in extra}
    monkeypatch.undo()
    _fresh()


def _signatures():
    return {sec.method: str(inspect.signature(getattr(looprig.Rig, sec.method))) for sec in mixer.SECTIONS}


def _subcommands():
    p = cli.build_parser()
    return {name: sorted(a.option_strings[0] if a.option_strings else a.dest for a in sub._actions)
            for name, sub in p.subcommands.items()}


def test_every_section_param_is_an_argument():
    """The generated methods take exactly the table's params of their sections."""
    for sec in mixer.SECTIONS:
        params = [p.name for p in sec.params()]
        assert params, sec
        assert [p.name for p, _ in sec.arguments()] == params
        sig = inspect.signature(getattr(looprig.Rig, sec.method))
        for _, a in sec.arguments():
            assert a in sig.parameters, (sec.method, a)
        assert getattr(looprig.Rig, sec.method).__doc__.count("``") > 4  # generated docs name the params
    assert [p.name for p in mixer.section("hp").params()] == ["hp-freq", "hp-q", "hp-on"]  # the switch last
    assert [a for _, a in mixer.section("send").arguments()] == ["level_db", "pre"]
    assert [a for _, a in mixer.section("delay").arguments()][-1] == "return_db"


def test_a_grown_table_keeps_the_methods_and_commands(grown):
    # the grown table is in place: compare with what the library's own table gives
    sigs_grown = _signatures()
    cmds_grown = _subcommands()
    with pytest.MonkeyPatch.context() as mp:
        base = tuple(p for p in P._table if p.name not in grown)
        mp.setattr(P, "_table", base)
        mp.setattr(P, "_by_name", {p.name: p for p in base})
        mp.setattr(P, "_by_id", {p.id: p for p in base})
        _fresh()
        before_sigs = _signatures()
        before_cmds = _subcommands()
    _fresh()
    assert set(cmds_grown) == set(before_cmds)  # no new subcommand: gain, pan, ... stay the dedicated commands
    for name in before_cmds:
        if name != "eq":
            assert cmds_grown[name] == before_cmds[name], name
    assert set(cmds_grown["eq"]) - set(before_cmds["eq"]) == {"--low-q"}
    for method, sig in before_sigs.items():
        if method != "eq":
            assert sigs_grown[method] == sig, method
    assert "low_q: Optional[float] = None" in sigs_grown["eq"]
    # the dedicated commands are untouched
    for name in ("gain", "pan", "mute", "solo", "pitch", "mode", "loop_tempo"):
        assert not isinstance(looprig.Rig.__dict__.get(name), mixer._SectionMethod)


def test_a_grown_table_sends_the_new_params(grown):
    wire = Wire()
    rig = make_rig(wire)
    a = rig.eq(1, low_q=2.0)  # one value: the C library's check of several values does not know the fake row
    assert a.values == {"eq-low-q": 2.0}
    assert [d["param"] for d in wire.decoded()] == [grown["eq-low-q"].id]
    wire.clear()
    assert rig.param("loop-bpm", 96, slot=2).values == {"loop-bpm": 96.0}
    assert rig.param("mute", "on", slot=0).values == {"mute": 1.0}
    assert [d["param"] for d in wire.decoded()] == [grown["loop-bpm"].id, grown["mute"].id]
    args = cli.parse_args(["eq", "1", "--low-q", "2"])
    assert cli.mixer_values(args) == [("eq-low-q", 2.0)]
    args = cli.parse_args(["param", "loop-beats", "16", "--slot", "3"])
    assert cli.mixer_values(args) == [("loop-beats", "16")]
    args = cli.parse_args(["gain", "0", "-6"])  # still LR_CMD_GAIN's subcommand
    assert args.db == -6.0 and not hasattr(args, "value")
    wire.clear()
    assert rig.gain(0, -6).values == {"db": -6.0} and wire.decoded()[0]["type"] == get_lib().LR_CMD_GAIN


def test_a_colliding_name_is_left_to_param(monkeypatch):
    """A new param whose argument would shadow one the method has (``eq-at``) is not an argument."""
    table = P.param_table()
    extra = P.Param(get_lib().LR_P_SLOT_END, "eq-at", "slot", "continuous", "", 0.0, 1.0, 0.0, "collides")
    rows = tuple(table) + (extra,)
    monkeypatch.setattr(P, "_table", rows)
    monkeypatch.setattr(P, "_by_name", {p.name: p for p in rows})
    monkeypatch.setattr(P, "_by_id", {p.id: p for p in rows})
    _fresh()
    try:
        sig = inspect.signature(looprig.Rig.eq)
        assert list(sig.parameters).count("at") == 1
        assert "eq-at" not in [p.name for p, _ in mixer.section("eq").arguments()]
        assert "--at" in _subcommands()["eq"]
    finally:
        monkeypatch.undo()
        _fresh()


def test_without_the_library_the_cli_and_the_class_still_load(tmp_path):
    """No table without liblooprig-shm: --help, `engine` and help(Rig) still work; a mixer command says why it cannot."""
    import subprocess

    from conftest import PYCLIENT, PYTHON

    env = dict(os.environ, LOOPRIG_LIB=str(tmp_path / "missing.so"), PYTHONPATH=str(PYCLIENT))
    r = subprocess.run([PYTHON, "-m", "looprig", "--help"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and " hp " in r.stdout and "master-gain" in r.stdout, r.stderr
    r = subprocess.run([PYTHON, "-m", "looprig", "hp", "0", "100"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "cannot load liblooprig-shm.so" in r.stderr, r.stderr
    code = "import looprig, pydoc; pydoc.render_doc(looprig.Rig); print(looprig.Rig.eq.__name__)"
    r = subprocess.run([PYTHON, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "eq", r.stderr
