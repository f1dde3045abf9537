"""The audio thread neither allocates nor locks, proven on the real engine.

looprigd-rttrap is looprigd with malloc/free/new/delete/pthread_mutex_lock
interposed: any call made on the JACK process thread while it runs the audio
core is counted in the segment header (rt_violations) and logged. The trap's
own unit test (tests/unit/test_rt_trap.cpp) shows it does catch such calls.
Here every command path is driven through a real jackd, then the count must be 0.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import lrharness as H

REPO = Path(__file__).resolve().parents[2]


def trap_binary() -> Path:
    p = os.environ.get("LOOPRIGD_RTTRAP")
    return Path(p) if p else REPO / "build" / "engine" / "looprigd-rttrap"


@pytest.fixture(scope="module")
def trap_engine(jack_server):
    if not trap_binary().exists():
        pytest.fail(f"trap build missing: {trap_binary()} (ninja -C build)")
    e = H.Engine(jack_server, slots=8, slot_outs=True, extra=["--declick-ms", "1"])
    e.args[0] = str(trap_binary())
    e.start()
    try:
        yield e
    finally:
        e.stop(check=True)


def test_every_command_path_runs_without_allocating_or_locking(trap_engine, looprig_mod, tmp_path):
    lr = looprig_mod
    files = [H.write_wav_float(tmp_path / f"l{i}.wav", H.noise(2000 + 7 * i, i, channels=1 + i % 2),
                               rate=(48000, 44100, 96000)[i % 3]) for i in range(6)]
    bad = H.make_bad_files(tmp_path)
    cap = H.Capture(trap_engine.server, [trap_engine.port("out_L"), trap_engine.port("out_R")])
    try:
        with lr.attach(name=trap_engine.name) as rig, lr.attach(name=trap_engine.name) as rig2:
            assert rig.header.rt_violations == 0
            for i, f in enumerate(files):
                rig.load(i, f)
            for p in bad.values():
                with pytest.raises(lr.CommandRejected):
                    rig.load(7, p)
            t = rig.frame_time + 4096
            for i in range(6):
                rig.play(i, at=t)
            rig.play(0, quantize="frames:4800")
            rig2.play(1, quantize="slot:2")
            for k in range(200):
                s = k % 6
                (rig if k % 2 else rig2).gain(s, -float(k % 30))
                rig.pan(s, ((k % 21) - 10) / 10.0, at=rig.frame_time + 300)
                rig2.mute(s, k % 3 == 0)
                rig.solo(s, k % 7 == 0)
            for s in range(6):
                rig.solo(s, False)
                rig.mute(s, False)
            with pytest.raises(lr.CommandRejected):
                rig.gain(0, float("nan"))
            with pytest.raises(lr.CommandRejected):
                rig.play(99)
            # Musical time: tempo changes, followers (renders come back on the audio thread), pitch, modes, transport.
            rig.loop_tempo(0, beats=1)
            rig.loop_tempo(1, 120.0)
            rig.pitch(2, 3)
            rig.mode(1, "varispeed")
            rig.tempo(100.0, quantize="beat")
            rig.play(0, quantize="bar")
            rig.meter(3)
            rig.transport("follow")
            rig.transport("master")
            rig.transport("off")
            deadline = time.monotonic() + 20
            while rig.meters().renders_pending and time.monotonic() < deadline:
                time.sleep(0.05)
            assert rig.meters().render[2] == 2, "a render must have been installed"
            rig.tempo(133.0)
            rig.load(3, files[0])          # swap while playing
            rig.stop(4, quantize="frames:2400")
            rig.declick(0.5)
            # Mixer: every filter/EQ section, sends pre and post, groups, both effects, ramps and
            # scheduled changes, switches on and off, a meter reset.
            for k in range(40):
                s = k % 6
                at = rig.frame_time + 200 if k % 2 else None
                rig.highpass(s, freq=40.0 + 50 * k, q=0.5 + k % 8, on=k % 3 != 0, at=at)
                rig.lowpass(s, freq=18000.0 - 300 * k, q=0.7 + k % 5, on=k % 4 != 0)
                rig.eq(s, low_gain=(k % 13) - 6.0, mid_gain=6.0 - (k % 9), mid_freq=200.0 + 40 * k,
                       mid_q=0.3 + (k % 6), high_gain=(k % 7) - 3.0, on=k % 5 != 0)
                rig.fx_send(s, 1 + k % 2, -float(k % 24), pre=k % 3 == 0)
                rig.group(s, None if k % 9 == 0 else k % 8)
                rig.group_gain(k % 8, -float(k % 12))
                rig.group_mute(k % 8, k % 11 == 0)
            rig.delay(beats=0.5, feedback=0.6, lowcut=150.0, highcut=6000.0, pingpong=True)
            rig.delay(ms=123.0)
            rig.reverb(decay=3.0, damping=4000.0, predelay=30.0, return_db=-3.0)
            rig.master_gain(-1.0)
            rig.meter_reset()
            time.sleep(0.5)
            rig.unload(5)
            rig.meters()
            # Sessions: the audio thread snapshots the rig for a save, installs an opened one and
            # starts its playing slots together.
            rig.save(tmp_path / "session")
            rig.save()
            rig.gain(0, -2.0)
            rig.open(tmp_path / "session", play=True)
            rig.open(play=False)
            rig.open(tmp_path / "session", play=True)
            # A client killed while attached: its place is reclaimed on the audio thread.
            code = ("import sys, os; sys.path.insert(0, %r); import looprig; r = looprig.attach(name=%r); "
                    "r.send('gain', slot=0, value=-1.0, wait=False); os._exit(0)") % (str(REPO / 'pyclient'), trap_engine.name)
            subprocess.run([sys.executable, "-c", code], env=trap_engine.server.env, check=True, timeout=30)
            time.sleep(0.5)
            # MIDI: pads toggling slots (one empty: a refusal for the log), CCs on
            # params (absolute and relative), tap tempo, a learn, a map load, LEDs
            # and clock to a controller that connects now.
            pad = H.MidiPad(trap_engine.server, trap_engine, listen="midi_out")
            clock = H.MidiPad(trap_engine.server, trap_engine, send=False, listen="midi_clock_out")
            try:
                t = pad.now() + 2048
                for k, ev in enumerate([(0x90, 36, 100), (0x90, 43, 100), (0xB0, 7, 64), (0x90, 37, 127),
                                        (0x90, 36, 100), (0x80, 36, 0), (0xF8, 0, 0)]):
                    pad.send_at(t + 97 * k, bytes(ev))
                pad.wait_sent(7)
                mapfile = tmp_path / "map.json"
                mapfile.write_text('{"looprig_midi_map": 1, "bindings": [{"cc": 7, "do": "gain 1"},'
                                   ' {"cc": 8, "do": "pan 1", "relative": true}, {"note": 50, "do": "tap"},'
                                   ' {"note": 51, "do": "scene 0"}, {"note": 52, "do": "stop-all"}]}')
                rig.midi_map_load(mapfile)
                t = pad.now() + 2048
                for k, ev in enumerate([(0xB0, 7, 10), (0xB0, 8, 1), (0xB0, 8, 127), (0x90, 50, 1),
                                        (0x90, 50, 1), (0x90, 50, 1), (0x90, 51, 9), (0x90, 52, 9)]):
                    pad.send_at(t + 4000 * k, bytes(ev))
                pad.wait_sent(15, timeout=10)
                learned = {}
                th = threading.Thread(target=lambda: learned.update(a=rig2.midi_learn("toggle 2", timeout=10)))
                th.start()
                time.sleep(0.3)
                pad.send_at(pad.now() + 1000, bytes([0x90, 70, 5]))
                th.join(15)
                assert "note 70" in learned["a"].message
                rig.tempo(97.0)
                rig.play(1)
                time.sleep(0.5)
                assert [d for _, d in pad.received if d[0] == 0x90], "LEDs came"
                assert [d for _, d in clock.received if d[0] == 0xF8], "clock came"
            finally:
                pad.close()
                clock.close()
            rec = cap.record(1.0)
            assert np.abs(rec.data).max() > 0.01, "the engine should be playing"
            time.sleep(0.3)  # the engine publishes the count every 10 ms
            violations = rig.header.rt_violations
        assert violations == 0, trap_engine.stderr()
        assert "RT VIOLATION" not in trap_engine.stderr()
    finally:
        cap.close()
