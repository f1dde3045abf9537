"""The mixer facade and the mixer subcommands are generated from the params table.

No engine. To check that generation copes with ids being added, the table is
shown to the client twice: without the per-slot settings ABI 3 added (gain,
pan, mute, solo, pitch, mode, loop-bpm, loop-beats) and one more EQ param
(eq-low-q, not in the library), and with them: existing methods and
subcommands keep their spelling, a param with a section's prefix joins that
section, the others are reachable by ``param`` only, and nothing collides.
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

NEW_SLOT_PARAMS = [  # name, kind, unit, min, max, default (used where the library has no such row)
    ("gain", "continuous", "dB", -144.0, 24.0, 0.0),
    ("pan", "continuous", "", -1.0, 1.0, 0.0),
    ("mute", "switch", "", 0.0, 1.0, 0.0),
    ("solo", "switch", "", 0.0, 1.0, 0.0),
    ("pitch", "continuous", "st", -24.0, 24.0, 0.0),
    ("mode", "index", "", 0.0, 1.0, 0.0),
    ("loop-bpm", "continuous", "BPM", 20.0, 999.0, 0.0),
    ("loop-beats", "continuous", "beats", 0.25, 9999.0, 0.0),
    ("eq-low-q", "continuous", "Q", 0.1, 20.0, 0.7),
]
NEW = {name for name, *_ in NEW_SLOT_PARAMS}


@pytest.fixture(autouse=True, scope="module")
def _library():
    require_library()


def _fresh():
    """Forget everything generated from the table (methods, CLI rows)."""
    for sec in mixer.SECTIONS:
        mixer.MixerMethods.__dict__[sec.method]._fn = None
    cli.COMMANDS.clear()


def _use(monkeypatch, rows):
    rows = tuple(sorted(rows, key=lambda p: p.id))
    monkeypatch.setattr(P, "_table", rows)
    monkeypatch.setattr(P, "_by_name", {p.name: p for p in rows})
    monkeypatch.setattr(P, "_by_id", {p.id: p for p in rows})
    _fresh()


def _tables():
    """(the table without the new params, the new params): the library's rows where it has them."""
    table = P.param_table()
    have = {p.name: p for p in table}
    free = max(p.id for p in table if p.target == "slot") + 1
    new = []
    for name, kind, unit, lo, hi, d in NEW_SLOT_PARAMS:
        if name in have:
            new.append(have[name])
        else:
            new.append(P.Param(free, name, "slot", kind, unit, lo, hi, d, "new: " + name))
            free += 1
    return [p for p in table if p.name not in NEW], new


@pytest.fixture
def grown(monkeypatch):
    """The table with the new params; yields them by name."""
    before, new = _tables()
    _use(monkeypatch, before + new)
    yield {p.name: p for p in new}
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


def test_a_grown_table_keeps_the_methods_and_commands(monkeypatch):
    before, new = _tables()
    _use(monkeypatch, before)
    try:
        sigs_before, cmds_before = _signatures(), _subcommands()
        _use(monkeypatch, before + new)
        sigs_grown, cmds_grown = _signatures(), _subcommands()
    finally:
        monkeypatch.undo()
        _fresh()
    assert set(cmds_grown) == set(cmds_before)  # no new subcommand: gain, pan, ... stay the dedicated commands
    for name in cmds_before:
        if name != "eq":
            assert cmds_grown[name] == cmds_before[name], name
    assert set(cmds_grown["eq"]) - set(cmds_before["eq"]) == {"--low-q"}
    for method, sig in sigs_before.items():
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
    free = max(p.id for p in table if p.target == "slot") + 1
    _use(monkeypatch, table + [P.Param(free, "eq-at", "slot", "continuous", "", 0.0, 1.0, 0.0, "collides")])
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
