"""JACK transport: looprig follows a timebase master's tempo, meter and
position (start, stop, relocate), or is the timebase master itself."""
from __future__ import annotations

import time

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=4)
RATE = 48000


def wait_for(pred, timeout=5.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


@pytest.fixture
def timebase_master(jack_server):
    """A JACK client that is timebase master at 100 BPM in 3/4."""
    import jack

    client = jack.Client(H.unique_name("lrtb"), servername=jack_server.name, no_start_server=True)
    bpm, bpb, tpb = 100.0, 3, 1920.0

    @client.set_timebase_callback
    def _timebase(state, blocksize, pos, new_pos):
        beats = pos.frame * bpm / (60.0 * RATE)
        bar = int(beats // bpb)
        in_bar = beats - bar * bpb
        pos.valid = jack._lib.JackPositionBBT
        pos.bar = bar + 1
        pos.beat = int(in_bar) + 1
        pos.tick = int((in_bar - int(in_bar)) * tpb)
        pos.bar_start_tick = bar * bpb * tpb
        pos.beats_per_bar = bpb
        pos.beat_type = 4.0
        pos.ticks_per_beat = tpb
        pos.beats_per_minute = bpm

    client.activate()
    client.transport_stop()
    client.transport_frame = 0
    try:
        yield client
    finally:
        client.transport_stop()
        client.deactivate()
        client.close()


@pytest.fixture
def follower(rig, tmp_path):
    """Slot 0: 3 beats of noise (100 BPM) following the master tempo, varispeed;
    looprig follows the JACK transport. Undone after the test."""
    rig.load(0, H.write_wav_float(tmp_path / "n.wav", H.noise(86400, 7)))
    rig.loop_tempo(0, beats=3)
    rig.mode(0, "varispeed")
    rig.transport("follow")
    try:
        yield
    finally:
        rig.transport("off")
        rig.stop(0)
        rig.loop_tempo(0, None)
        rig.mode(0, "stretch")


def loop_start_beat(m):
    """(beat - phase * loop_beats) mod loop_beats: slot 0's start beat on the grid, mod its 3 beats."""
    phase = int(m.playhead[0]) / int(m.length[0])
    return (m.beat - phase * 3.0) % 3.0


def test_follow_takes_tempo_meter_and_position_and_moves_with_start_stop_relocate(rig, capture, timebase_master,
                                                                               follower):
    tb = timebase_master
    tb.transport_start()
    m = wait_for(lambda: (lambda m: m if m.transport_rolling and m.tempo_bpm == 100.0 else None)(rig.meters()),
                 what="tempo from the timebase master")
    assert m.beats_per_bar == 3 and m.transport == "follow"
    # looprig's beat position is the transport's (BBT), to within a period or two.
    beat_tb = tb.transport_frame * 100.0 / (60.0 * RATE)
    assert abs(rig.meters().beat - beat_tb) < 0.05
    rig.play(0, quantize="bar")
    wait_for(lambda: rig.meters().state[0] == 2, what="slot 0 playing")
    time.sleep(0.3)

    before = loop_start_beat(rig.meters())
    assert capture.record(0.5).data[0].std() > 0.05, "the follower must sound while rolling"
    # Stopped transport: followers fall silent.
    tb.transport_stop()
    wait_for(lambda: not rig.meters().transport_rolling, what="transport stopped")
    time.sleep(0.1)
    rec = capture.record(0.5)
    assert np.abs(rec.data[0][rec.valid]).max() == 0.0
    # Relocated and restarted: the loop moves with the position, on the same grid.
    tb.transport_frame = int(1.5 * 60 * RATE / 100)  # relocate to beat 1.5
    tb.transport_start()
    wait_for(lambda: rig.meters().transport_rolling, what="transport rolling again")
    time.sleep(0.2)
    m = rig.meters()
    assert m.beat < 3.0, m.beat  # jumped back with the relocation
    after = loop_start_beat(m)
    d = abs(after - before) % 3.0
    assert min(d, 3.0 - d) < 0.02, (before, after)
    assert capture.record(0.5).data[0].std() > 0.05


def test_follower_started_while_the_transport_is_stopped_plays_on_the_song_grid(rig, timebase_master, follower):
    """Started while the transport stands (anywhere, here at beat 4.6), a
    follower is anchored at the song's start: once the transport rolls, its
    phase is the position's (beat mod loop length), not the moment of `play`."""
    tb = timebase_master
    tb.transport_start()  # the grid takes the master's tempo, then stands at beat 4.6
    wait_for(lambda: rig.meters().tempo_bpm == 100.0, what="tempo from the timebase master")
    tb.transport_stop()
    tb.transport_frame = int(4.6 * 60 * RATE / 100)
    wait_for(lambda: not rig.meters().transport_rolling, what="transport stopped")
    time.sleep(0.37)  # the moment of `play` must not matter
    rig.play(0)
    time.sleep(0.2)
    tb.transport_start()
    wait_for(lambda: rig.meters().transport_rolling, what="transport rolling")
    time.sleep(0.3)
    m = rig.meters()
    start = loop_start_beat(m)
    print(f"follower started at a standing transport: loop start {start:.4f} beats mod 3 (beat {m.beat:.3f})")
    assert min(start, 3.0 - start) < 0.02, (m.beat, int(m.playhead[0]))


def test_master_gives_other_clients_looprigs_tempo_and_bars(rig, jack_server):
    import jack

    other = jack.Client(H.unique_name("lrq"), servername=jack_server.name, no_start_server=True)
    other.activate()
    try:
        rig.tempo(128.0)
        rig.meter(4)
        rig.transport("master")
        time.sleep(0.1)
        other.transport_frame = 0   # a new position: the timebase master fills in BBT
        other.transport_start()

        def bbt():
            state, pos = other.transport_query()
            return pos if "beats_per_minute" in pos else None

        pos = wait_for(bbt, what="BBT from looprig")
        assert pos["beats_per_minute"] == pytest.approx(128.0)
        assert pos["beats_per_bar"] == pytest.approx(4.0)
        assert pos["bar"] >= 1 and 1 <= pos["beat"] <= 4
        rig.tempo(90.0)
        wait_for(lambda: (bbt() or {}).get("beats_per_minute") == pytest.approx(90.0), what="tempo change seen")
    finally:
        other.transport_stop()
        rig.transport("off")
        rig.tempo(120.0)
        other.deactivate()
        other.close()
