"""Musical time through the real engine and JACK: a follower plays exactly its
beats at the master tempo, pitch shifts measure right without changing the
length, and loops of different lengths stay on the bar grid across tempo
changes. Outputs are captured through JACK and checked frame by frame."""
from __future__ import annotations

import time

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=4, slot_outs=True)
CAPTURE_SLOTS = [0, 1]
CH = {0: 2, 1: 4}  # left channel of slot 0 and slot 1 in the capture


@pytest.fixture(autouse=True)
def _clean(rig):
    yield
    H.reset_slots(rig, range(4))
    for s in range(4):
        rig.loop_tempo(s, None)
        rig.pitch(s, 0)
        rig.mode(s, "stretch")
    rig.tempo(120)


def wait_render_ready(rig, slot, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(rig.meters().render[slot]) == 2:
            return rig.frame_time
        time.sleep(0.05)
    raise AssertionError(f"slot {slot}: no steady-state render within {timeout} s")


def drum_loop(frames: int, beats: int, rate: int = 48000) -> np.ndarray:
    """Kicks on every beat, hats on eighths: decaying bursts the tests can time."""
    x = np.zeros(frames, np.float32)
    t = np.arange(int(0.08 * rate)) / rate
    kick = (0.8 * np.sin(2 * np.pi * 60 * t) * np.exp(-t * 40)).astype(np.float32)
    rng = np.random.default_rng(5)
    hat = (0.2 * rng.standard_normal(int(0.02 * rate)) * np.exp(-np.arange(int(0.02 * rate)) / 100)).astype(np.float32)
    step = frames // beats
    for b in range(beats):
        x[b * step:b * step + len(kick)] += kick[: frames - b * step]
        h = b * step + step // 2
        x[h:h + len(hat)] += hat[: frames - h]
    return x


def exact_period(sig: np.ndarray, valid: np.ndarray, period: int) -> float:
    """Largest |x[t] - x[t + period]| over frames captured at both ends."""
    both = valid[:-period] & valid[period:]
    assert both.sum() > period, "too little captured"
    return float(np.max(np.abs(sig[:-period][both] - sig[period:][both])))


def test_follower_plays_exactly_its_beats_at_the_master_tempo(rig, capture, tmp_path):
    # 4 beats at 120 BPM = 96000 frames; at 150 BPM, 4 beats = 76800 frames.
    rig.load(0, H.write_wav_float(tmp_path / "drums.wav", drum_loop(96000, 4)))
    rig.loop_tempo(0, 120.0)
    rig.tempo(150.0)
    start = rig.play(0, at=rig.ping() + 24000, quantize="bar")  # a bar at least 0.5 s on: captured from before it
    m = rig.meters()
    assert m.loop_beats[0] == 4.0 and abs(m.loop_bpm[0] - 120.0) < 1e-3
    ready = max(wait_render_ready(rig, 0), start)
    capture.arm(6.0)
    rec = capture.take(until=ready + 4 * 48000)
    first = max(0, ready + 2048 - rec.t0)  # from the first period that played the render
    sig, valid = rec.data[CH[0]][first:], rec.valid[first:]
    assert np.abs(sig).max() > 0.1
    assert exact_period(sig, valid, 76800) < 1e-6
    assert exact_period(sig, valid, 76801) > 1e-3  # a one-frame error would show
    # The seam: the step across each loop boundary is no larger than the
    # largest step inside the loop (no click where the render wraps).
    abs0 = rec.t0 + first
    steps = np.abs(np.diff(sig))
    ok = valid[1:] & valid[:-1]
    bounds = [b - abs0 - 1 for b in range(start, abs0 + len(sig), 76800) if b - abs0 - 1 >= 0]
    bounds = [i for i in bounds if i < len(steps) and ok[i]]
    assert bounds, "no loop boundary captured"
    inside = ok.copy()
    inside[bounds] = False
    inner = steps[inside].max()
    for i in bounds:
        assert steps[i] <= inner + 1e-7, (i, steps[i], inner)


def test_pitch_plus_7_semitones_measures_659_hz_and_keeps_the_length(rig, capture, tmp_path):
    rate = 48000
    x = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)  # 440 whole cycles
    rig.load(0, H.write_wav_float(tmp_path / "a440.wav", x))
    rig.pitch(0, 7)
    rig.play(0)
    wait_render_ready(rig, 0)
    rec = capture.record(3.0)
    sig, valid = rec.data[CH[0]], rec.valid
    # Longest captured run, then the frequency from an FFT peak (parabolic interpolation).
    edges = np.flatnonzero(np.diff(np.concatenate(([0], valid.astype(np.int8), [0]))))
    runs = list(zip(edges[::2], edges[1::2]))
    a, b = max(runs, key=lambda r: r[1] - r[0])
    seg = sig[a:b].astype(np.float64)
    assert len(seg) > 24000
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    k = int(np.argmax(spec))
    y0, y1, y2 = np.log(spec[k - 1:k + 2])
    freq = (k + 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)) * rate / len(seg)
    assert abs(freq / (440 * 2 ** (7 / 12)) - 1) < 0.003, freq
    assert exact_period(sig, valid, 48000) < 1e-6  # still one second long


def test_loops_of_1_and_3_bars_stay_bar_aligned_across_tempo_changes(rig, capture, tmp_path):
    # A click at frame 0 of each loop; 1 bar and 3 bars of 4 beats at 120 BPM.
    one = np.zeros(96000, np.float32)
    three = np.zeros(288000, np.float32)
    one[0] = three[0] = 1.0
    rig.load(0, H.write_wav_float(tmp_path / "one.wav", one))
    rig.load(1, H.write_wav_float(tmp_path / "three.wav", three))
    for s in (0, 1):
        rig.mode(s, "varispeed")  # crisp clicks: no stretcher smearing
        rig.loop_tempo(s, 120.0)
    start = rig.play(0, at=rig.ping() + 24000, quantize="bar")  # a bar at least 0.5 s on: captured from before it
    assert rig.play(1, at=start) == start
    changes = [130.0, 97.0, 140.0]
    clicks = {0: [], 1: []}
    for bpm in changes:
        rec = capture.record(3.5)
        for s in (0, 1):
            sig = np.abs(rec.data[CH[s]])
            idx = np.flatnonzero((sig > 0.3) & rec.valid)
            # one frame per click: the local maximum of each burst
            for i in idx:
                if sig[i] >= sig[max(0, i - 3):i + 4].max():
                    clicks[s].append(rec.t0 + int(i))
        last_change = rig.tempo(bpm, quantize="beat")
    while rig.frame_time <= last_change:  # the last change comes due before the next test
        time.sleep(0.02)
    assert len(clicks[0]) >= 4, clicks
    assert len(clicks[1]) >= 2, clicks
    # Every 3-bar click coincides (within a frame) with a 1-bar click: same bar grid.
    ones = np.array(clicks[0])
    for c in clicks[1]:
        assert np.min(np.abs(ones - c)) <= 1, (c, ones)
    # Consecutive 1-bar clicks are one bar apart at the tempi in force (a bar
    # spanning a change lies between them); gaps across recordings are longer.
    lengths = [4 * 60 * 48000 / b for b in [120.0] + changes]
    for g in np.diff(ones):
        assert min(lengths) - 1 <= g <= max(lengths) + 1 or g > 1.5 * max(lengths), (g, lengths)


def test_first_pass_of_a_stretched_loop_sounds_like_every_later_one(rig, capture, tmp_path):
    """A click loop rendered for 90 BPM (R3, the default) and started on a bar:
    the downbeat's lead-in, which Rubber Band puts before the beat and the cut
    at the end of the cycle, is played before the start frame too, so the
    first click has the level and the samples of the later ones."""
    frames = 48000  # 2 beats at 120 BPM
    x = np.zeros(frames, np.float32)
    burst = (0.6 * np.random.default_rng(9).uniform(-1, 1, 400) * np.exp(-np.arange(400) / 80.0)).astype(np.float32)
    for b in (0, frames // 2):
        x[b:b + 400] = burst
    assert rig.load(0, H.write_wav_float(tmp_path / "clicks.wav", x)).frames == frames
    rig.loop_tempo(0, 120)
    rig.tempo(90)
    wait_render_ready(rig, 0)
    assert float(rig.meters().tempo_bpm) == 90.0  # (no change of an earlier test came due meanwhile)
    capture.arm(6)
    start = rig.play(0, at=rig.ping() + 24000, quantize="bar")  # a bar at least 0.5 s on: captured from before it
    cycle = 64000  # 2 beats at 90 BPM
    rec = capture.take(until=start + 2 * cycle + 2000)
    lead = 576  # 12 ms
    f, v, ok = rec.window(CH[0], start - lead, start + 1000)
    f2, v2, ok2 = rec.window(CH[0], start - lead + cycle, start + 1000 + cycle)
    both = ok & ok2
    assert both.sum() > 0.9 * len(both), "the first and second downbeats were not both captured"
    first = float(np.sum(v[both].astype(np.float64) ** 2))
    later = float(np.sum(v2[both].astype(np.float64) ** 2))
    assert abs(10 * np.log10(first / later)) < 0.05, (10 * np.log10(first), 10 * np.log10(later))
    assert np.abs(v[both] - v2[both]).max() < 1e-6
    _, pre, okp = rec.window(CH[0], start - 4000, start - lead)
    assert okp.sum() > 1000 and np.all(pre[okp] == 0.0), "sound before the pre-roll"
