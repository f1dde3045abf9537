"""MIDI controllers through real parts (docs/MIDI.md): a private jackd, the
engine, and a Python JACK client with MIDI ports playing the controller.

- a note-on at a chosen frame starts its slot exactly one period after that
  frame (checked sample by sample on the slot's out), and a second one stops
  it there;
- LEDs on midi_out follow the slot's state; a controller connecting later
  gets every LED at once;
- MIDI clock on midi_clock_out: every tick on its ideal frame (±1) at two
  tempos, song position + continue when a device connects;
- a map file binds CCs to params, midi-learn binds the next control, a bad
  map file is refused with the reason and the map in use stays."""
from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

import lrharness as H

PERIOD = H.PERIOD
ENGINE_OPTS = dict(slots=4, slot_outs=True)


@pytest.fixture
def pad(jack_server, engine):
    p = H.MidiPad(jack_server, engine)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture(scope="module")
def dc_loop(tmp_path_factory):
    """A loop whose every frame is non-zero (0.25 + a ramp), so its first and
    last frames on the slot out are exact."""
    d = tmp_path_factory.mktemp("midi")
    x = (0.25 + np.arange(4800) / 48000.0).astype(np.float32)
    return H.write_wav_float(d / "dc.wav", x)


def _first_nonzero(rec: H.Recording, chan: int, start: int) -> int:
    frames, w, valid = rec.window(chan, start)
    idx = np.flatnonzero((np.abs(w) > 1e-6) & valid)
    assert len(idx), "the slot never sounded"
    assert valid[:idx[0] + 1].all(), "a capture gap before the start: cannot tell where it starts"
    return int(frames[idx[0]])


def _playing(rig, slot: int) -> bool:
    return int(rig.meters().state[slot]) == 2  # LR_SLOT_PLAYING


def test_note_on_starts_and_stops_its_slot_one_period_after_its_frame(jack_server, engine, rig, pad, dc_loop):
    rig.launch_quantize("none")
    rig.load(1, str(dc_loop))
    cap = H.Capture(jack_server, [H.slot_port(engine.name, 1, "L", 4)])
    try:
        cap.arm(4.0)
        f_on = pad.now() + 24000 + 37     # 0.5 s ahead, 37 frames into some period
        f_off = f_on + 30000 + 101
        pad.send_at(f_on, bytes([0x90, 37, 100]))   # note 37 = default pad of slot 1
        pad.send_at(f_on + 50, bytes([0x80, 37, 0]))  # its note-off: nothing
        pad.send_at(f_off, bytes([0x99, 37, 1]))    # any channel, any velocity > 0: toggles again
        pad.wait_sent(3)
        rec = cap.take(until=f_off + PERIOD + 4800)
    finally:
        cap.close()
    sent = {d[0] & 0xF0: f for f, d in pad.sent if d[0] & 0xF0 == 0x90 and d[2]}
    on_frame = [f for f, d in pad.sent if d == bytes([0x90, 37, 100])][0]
    off_frame = [f for f, d in pad.sent if d == bytes([0x99, 37, 1])][0]
    assert sent and on_frame == f_on and off_frame == f_off
    start = _first_nonzero(rec, 0, rec.t0)
    print(f"note-on at frame {f_on}: slot 1 starts at {start} (+{start - f_on}, period {PERIOD})")
    assert start == f_on + PERIOD
    # Sample by sample: the loop from its first frame, until the second note-on's frame + a period.
    stop = f_off + PERIOD
    frames, w, valid = rec.window(0, start, stop)
    x = (0.25 + np.arange(4800) / 48000.0).astype(np.float32) * np.float32(H.pan_gains(0.0)[0])  # mono, centre
    expected = x[(frames - start) % 4800]
    assert valid.sum() > 0.9 * len(valid), f"too many capture gaps: {rec.gaps()}"
    assert np.array_equal(w[valid], expected[valid]), "the slot's out is not the loop from the note's frame + a period"
    _, after, valid_after = rec.window(0, stop - 1, stop + 2400)
    assert valid_after[0] and after[0] != 0.0, "sounding until the frame before"
    assert not np.any(after[1:][valid_after[1:]]), "still sounding after the second note-on's frame + a period"
    print(f"second note-on at {f_off}: silent from {stop}; {int(valid.sum())} frames compared, no difference")


def test_leds_follow_the_slot_and_a_new_controller_gets_them_all(jack_server, engine, rig, pad, dc_loop):
    rig.launch_quantize("bar")
    rig.load(2, str(dc_loop))
    time.sleep(0.2)
    pad.received.clear()
    pad.send_at(pad.now() + 4800, bytes([0x90, 38, 127]))  # toggle slot 2, queued to the next bar
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and bytes([0x90, 38, 60]) not in [d for _, d in pad.received]:
        time.sleep(0.02)
    seq = [d[2] for _, d in pad.received if d[:2] == bytes([0x90, 38])]
    print(f"LED of note 38 (slot 2): velocities {seq}")
    assert seq[:2] == [62, 60], "queued (yellow) then playing (green)"
    # A controller that connects now gets every LED (the default map: notes 36..39).
    late = H.MidiPad(jack_server, engine, send=False)
    try:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and len({d[1] for _, d in late.received if d[0] == 0x90}) < 4:
            time.sleep(0.02)
        leds = {d[1]: d[2] for _, d in late.received if d[0] == 0x90}
        print(f"a controller connected later got: {leds}")
        assert leds[38] == 60 and leds[39] == 0 and leds[36] == 0
        assert leds[37] in (60, 63)  # slot 1 was loaded by the test before (playing or stopped)
    finally:
        late.close()
    rig.stop(2)
    rig.launch_quantize("none")


def test_clock_ticks_on_their_frames_and_follows_a_tempo_change(jack_server, engine, rig):
    rig.tempo(120.0)
    time.sleep(0.1)
    dev = H.MidiPad(jack_server, engine, send=False, listen="midi_clock_out")
    try:
        time.sleep(1.5)
        rig.tempo(90.0)
        time.sleep(1.5)
        got = list(dev.received)
    finally:
        dev.close()
    kinds = [d[0] for _, d in got]
    assert kinds[:3] == [0xF2, 0xFB, 0xF8] or kinds[:3] == [0xF2, 0xFA, 0xF8], kinds[:5]
    assert not [d for _, d in got if d[0] == 0x90], "no LED notes on the clock port"
    ticks = np.array([f for f, d in got if d[0] == 0xF8], np.int64)
    d = np.diff(ticks)
    j = int(np.flatnonzero(d > 1300)[0])  # the first spacing at 90 BPM
    at120, between, at90 = d[:j - 1], d[j - 1], d[j:]
    print(f"{len(ticks)} ticks: spacing at 120 BPM {sorted(set(at120.tolist()))}, across the change {between},"
          f" at 90 BPM {sorted(set(at90.tolist()))}")
    assert len(at120) > 40 and len(at90) > 40
    assert set(at120.tolist()) == {1000}  # 48000 * 60 / (120 * 24) frames, exactly
    assert 1000 <= between <= 1334       # the tick across the change: part old tempo, part new
    # 90 BPM: 1333.33 frames a tick; each on its ideal frame ±1 (from the first tick at 90).
    k = np.arange(len(at90) + 1)
    ideal = ticks[j] + k * 48000 * 60 / (90 * 24)
    err = np.abs(ticks[j:] - ideal).max()
    print(f"90 BPM: largest distance from the ideal frame {err:.2f} frames")
    assert err <= 1.0
    # Song position: the 16th the ticks resumed on.
    spp = [d for _, d in got if d[0] == 0xF2][0]
    print(f"song position {spp[1] | (spp[2] << 7)} sixteenths")
    rig.tempo(120.0)


def test_map_file_cc_to_params_and_a_bad_map_changes_nothing(jack_server, engine, rig, pad, tmp_path):
    good = tmp_path / "map.json"
    good.write_text(json.dumps({
        "looprig_midi_map": 1,
        "bindings": [
            {"cc": 7, "channel": 1, "do": "gain 3 -60 0"},
            {"cc": 10, "channel": "any", "do": "pan 3", "relative": True, "step": 0.1},
            {"note": 60, "channel": 2, "do": "mute 3"},
            {"note": 61, "channel": 2, "do": "transport follow"},
        ]}))
    ans = rig.midi_map_load(str(good))
    print(ans.message)
    t = pad.now() + 2400
    pad.send_at(t, bytes([0xB0, 7, 127]))
    pad.send_at(t + 10, bytes([0xB5, 10, 3]))      # +3 steps of 0.1
    pad.send_at(t + 20, bytes([0x91, 60, 90]))     # mute on (toggle)
    pad.send_at(t + 30, bytes([0x91, 61, 90]))     # transport: follow
    pad.wait_sent(4)
    time.sleep(0.2)
    m = rig.meters()
    gain, pan, flags = float(m.gain_db[3]), float(m.pan[3]), int(m.flags[3])
    print(f"slot 3: gain {gain} dB, pan {pan:.2f}, flags {flags}")
    assert abs(gain - 0.0) < 1e-4 and abs(pan - 0.3) < 1e-4 and flags & 1
    assert rig.meters().transport == "follow", "transport follow"
    rig.transport("off")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"looprig_midi_map": 1, "bindings": [{"cc": 7, "do": "gain 99"}]}))
    with pytest.raises(Exception) as ei:
        rig.midi_map_load(str(bad))
    print(f"bad map: {ei.value}")
    assert "bindings[0]" in str(ei.value) and "slot 99" in str(ei.value)
    assert rig.midi_map()["bindings"][0]["do"] == "gain 3 -60 0", "the map in use stayed"
    rig.midi_map_load(None)


def test_midi_learn_binds_the_next_control(jack_server, engine, rig, pad, dc_loop):
    rig.launch_quantize("none")
    rig.load(0, str(dc_loop))
    result = {}

    def learn():
        result["answer"] = rig.midi_learn("toggle 0", timeout=10)

    th = threading.Thread(target=learn)
    th.start()
    time.sleep(0.3)
    pad.send_at(pad.now() + 100, bytes([0xB3, 64, 127]))   # a sustain pedal on channel 4
    th.join(10)
    print(result["answer"].message)
    assert "CC 64 ch 4 -> toggle 0" in result["answer"].message
    assert not _playing(rig, 0), "the learned press itself does not act"
    pad.send_at(pad.now() + 100, bytes([0xB3, 64, 127]))
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not _playing(rig, 0):
        time.sleep(0.02)
    assert _playing(rig, 0), "the pedal now toggles slot 0"
    m = rig.midi_map()
    assert {"cc": 64, "channel": 4, "do": "toggle 0"} in m["bindings"]
    rig.stop(0)
    rig.midi_map_load(None)


def test_a_bad_midi_map_file_stops_the_engine_at_start_with_the_reason(jack_server, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"looprig_midi_map": 1, "bindings": [{"note": 200, "do": "toggle 0"}]}')
    e = H.Engine(jack_server, slots=2, extra=["--midi-map", str(bad)])
    with pytest.raises(RuntimeError):
        e.start(timeout=5)
    err = e.stderr()
    print(err.strip().splitlines()[-1])
    assert "bindings[0].note must be 0..127" in err and str(bad) in err


def test_the_midi_map_is_saved_in_the_session_and_comes_back(jack_server, engine, rig, pad, tmp_path):
    rig.midi_map_clear()
    learned = {}
    th = threading.Thread(target=lambda: learned.update(a=rig.midi_learn("solo 2", timeout=10)))
    th.start()
    time.sleep(0.3)
    pad.send_at(pad.now() + 500, bytes([0x92, 45, 100]))
    th.join(10)
    assert "note 45 ch 3 -> solo 2" in learned["a"].message
    rig.save(tmp_path / "s")
    doc = json.loads((tmp_path / "s" / "looprig-session.json").read_text())
    print(f"session.json midi_map: {doc['midi_map']['bindings']}")
    assert doc["midi_map"]["bindings"] == [{"note": 45, "channel": 3, "do": "solo 2"}]
    rig.midi_map_load(None)  # the default map
    assert len(rig.midi_map()["bindings"]) == 4
    rig.open(tmp_path / "s")
    assert rig.midi_map()["bindings"] == [{"note": 45, "channel": 3, "do": "solo 2"}]
    assert int(rig.header.session_state) == 1, "clean after the open (LR_SESSION_CLEAN)"
    # A session whose map is bad is refused whole (and the map in use stays).
    doc["midi_map"]["bindings"][0]["do"] = "solo 9"
    (tmp_path / "s" / "looprig-session.json").write_text(json.dumps(doc))
    with pytest.raises(Exception) as ei:
        rig.open(tmp_path / "s")
    print(f"bad map in the session: {ei.value}")
    assert "midi_map" in str(ei.value) and "slot 9" in str(ei.value)
    assert rig.midi_map()["bindings"] == [{"note": 45, "channel": 3, "do": "solo 2"}]
    rig.midi_map_load(None)
