"""State a session can save (issue 11): the engine publishes the full path of
each slot's file, the loop tempo or length the user declared, and every
per-slot setting in one uniform way (as params), whether it was set by the
old command (gain, pan, mute, solo, pitch, mode, loop-tempo) or by its param;
a param set at a frame is heard there, as the command is. Through a real
engine under a private jackd, read back through status --json and the CLI."""
import json

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=4, slot_outs=True)
AHEAD = 19200


@pytest.fixture(autouse=True)
def _clean(rig):
    H.reset_slots(rig, range(4))
    yield
    H.reset_slots(rig, range(4))


def slot_state(engine, slot):
    r = H.run_cli(engine.server, engine.name, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["slots"][slot]


def test_path_declared_tempo_and_settings_are_published(rig, engine, tmp_path):
    sub = tmp_path / "loops dir"
    sub.mkdir()
    f = H.write_wav_float(sub / "beat.wav", H.noise(48000, seed=3, amp=0.2))
    rig.load(1, f)
    rig.gain(1, -7.5)
    rig.pan(1, -0.25)
    rig.mute(1, True)
    rig.pitch(1, 2, cents=50)
    rig.loop_tempo(1, beats=4)
    rig.param("hp-freq", 150.0, slot=1)
    rig.param("hp-on", 1, slot=1)
    st = slot_state(engine, 1)
    assert st["path"] == str(f)
    assert st["name"] == "beat.wav"
    s = st["settings"]
    assert s["gain"] == -7.5 and s["pan"] == -0.25 and s["mute"] == 1.0 and s["solo"] == 0.0
    assert s["pitch"] == 2.5 and s["mode"] == 0.0
    assert s["loop-beats"] == 4.0 and s["loop-bpm"] == 0.0
    assert s["hp-on"] == 1.0 and s["hp-freq"] == 150.0
    # existing keys keep their meaning: "mixer" is the strip's non-default params
    assert st["mixer"] == {"hp-on": 1.0, "hp-freq": 150.0}
    assert st["gain_db"] == -7.5 and st["muted"] is True and st["loop_beats"] == 4.0
    # declared by tempo instead: beats go back to 0, the derived length is published as before
    rig.loop_tempo(1, 120.0)
    st = slot_state(engine, 1)
    assert st["settings"]["loop-bpm"] == 120.0 and st["settings"]["loop-beats"] == 0.0
    assert st["loop_beats"] == 2.0  # 48000 frames at 120 BPM, 48 kHz
    rig.loop_tempo(1, None)
    rig.pitch(1, 0)
    rig.unload(1)
    st = slot_state(engine, 1)
    assert st["path"] == "" and st["name"] == ""


def test_the_params_do_what_the_commands_do(rig, engine, tmp_path, looprig_mod):
    """gain/pan/mute/solo as params: same published state and the same audio."""
    f = H.write_wav_float(tmp_path / "dc.wav", np.full(4800, 0.5, dtype=np.float32))
    for s in (0, 1):
        rig.load(s, f)
    rig.gain(0, -6.0)
    rig.pan(0, 0.5)
    rig.param("gain", -6.0, slot=1)
    rig.param("pan", 0.5, slot=1)
    m = rig.meters()
    assert list(m.gain_db[:2]) == [-6.0, -6.0] and list(m.pan[:2]) == [0.5, 0.5]
    a, b = slot_state(engine, 0), slot_state(engine, 1)
    keys = ("gain", "pan", "mute", "solo", "pitch", "mode", "loop-bpm", "loop-beats")
    assert [a["settings"][k] for k in keys] == [b["settings"][k] for k in keys]
    rig.param("solo", 1, slot=1)
    m = rig.meters()
    assert bool(m.soloed[1]) and not bool(m.audible[0])
    rig.param("solo", 0, slot=1)
    # a param at a frame takes effect on that frame, like the command
    T = rig.ping() + AHEAD
    assert rig.param("mute", 1, slot=0, at=T) == T
    with pytest.raises(looprig_mod.CommandRejected, match="loop-bpm 5 is out of range"):
        rig.param("loop-bpm", 5, slot=0)
