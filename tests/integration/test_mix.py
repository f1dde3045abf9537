"""Gain, pan law, mute and solo, checked sample by sample on master and on
the per-slot outputs (--slot-outs)."""
import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=8, slot_outs=True)
CAPTURE_SLOTS = [0, 1, 2, 3]
CH = {s: (2 + 2 * i, 3 + 2 * i) for i, s in enumerate(CAPTURE_SLOTS)}
AHEAD = 19200
SEG = 6007  # frames per setting


@pytest.fixture(autouse=True)
def _clean(rig):
    H.reset_slots(rig, range(8))
    yield
    H.reset_slots(rig, range(8))


SETTINGS = [  # (gain dB, pan)
    (0.0, 0.0), (-6.0, 0.0), (3.0, 0.0), (0.0, -1.0), (0.0, -0.5), (0.0, 0.7),
    (0.0, 1.0), (-6.0, 0.7), (24.0, -0.25), (-144.0, 0.0), (-20.0, 0.3),
]


def measured_ratio(rec, chan, x_of, start, end):
    f, y, ok = rec.window(chan, start, end)
    xs = x_of(f)[ok]
    y = y[ok].astype(np.float64)
    return float(np.dot(y, xs) / np.dot(xs, xs)), int(ok.sum())


@pytest.mark.parametrize("stereo", [False, True], ids=["mono", "stereo"])
def test_gain_and_pan_law(rig, capture, tmp_path, stereo):
    L = 1009
    x = H.noise(L, seed=50 + stereo, amp=0.05, channels=2 if stereo else 1)
    slot = 1 if stereo else 0
    res = rig.load(slot, H.write_wav_float(tmp_path / "g.wav", x))
    assert res.frames == L
    model = H.SlotModel(x)
    capture.arm(len(SETTINGS) * SEG / H.RATE + 2)
    T = rig.ping() + AHEAD
    assert rig.play(slot, at=T) == T
    model.play(T)
    for i, (db, p) in enumerate(SETTINGS):
        t = T + i * SEG
        rig.gain(slot, db, at=t)
        rig.pan(slot, p, at=t)
        model.gain(t, db).pan(t, p)
    end = T + len(SETTINGS) * SEG
    rec = capture.take(until=end)
    H.check_model(rec, [model], T - 1000, end, {0: CH[slot]}, what="gain/pan")
    xm = model.x
    for i, (db, p) in enumerate(SETTINGS):
        if db < -100:
            continue
        a, b = T + i * SEG, T + (i + 1) * SEG
        g = H.db_to_lin(db)
        gl, gr = H.pan_gains(p, model.channels)
        for side, want in ((0, g * gl), (1, g * gr)):
            r, n = measured_ratio(rec, side, lambda f: xm[(f - T) % L, side], a, b)
            assert n > SEG // 2
            assert abs(r - want) < 1e-4, (
                f"gain {db} dB pan {p}: {'LR'[side]} ratio {r:.6f}, formula {want:.6f}")
            r2, _ = measured_ratio(rec, CH[slot][side], lambda f: xm[(f - T) % L, side], a, b)
            assert abs(r2 - want) < 1e-4, f"slot out {'LR'[side]}: {r2} vs {want}"
    # the engine's meters report the last setting
    m = rig.meters()
    assert float(H.meter_field(m, "gain_db")[slot]) == pytest.approx(SETTINGS[-1][0])
    assert float(H.meter_field(m, "pan")[slot]) == pytest.approx(SETTINGS[-1][1], abs=1e-6)


def test_mute_and_solo(rig, capture, tmp_path):
    Ls = [1013, 1019, 1021]
    slots = [1, 2, 3]
    xs = [H.noise(L, seed=60 + i, amp=0.2) for i, L in enumerate(Ls)]
    models = []
    for s, L, x in zip(slots, Ls, xs):
        assert rig.load(s, H.write_wav_float(tmp_path / f"m{s}.wav", x)).frames == L
        models.append(H.SlotModel(x))
    m1, m2, m3 = models
    steps = [
        ("mute", 1, True, m1),     # 2+3
        ("mute", 1, False, m1),    # unmuting restores: 1+2+3
        ("solo", 2, True, m2),     # 2 only
        ("solo", 3, True, m3),     # 2+3
        ("mute", 3, True, m3),     # soloed but muted: 2 only
        ("solo", 2, False, m2),    # only 3 soloed, and muted: silence
        ("solo", 3, False, m3),    # no solo: 1+2 (3 still muted)
        ("mute", 3, False, m3),    # 1+2+3
    ]
    capture.arm((len(steps) + 2) * SEG / H.RATE + 2)
    T0 = rig.ping() + AHEAD
    for s, m in zip(slots, models):
        assert rig.play(s, at=T0) == T0
        m.play(T0)
    for k, (what, s, on, m) in enumerate(steps, start=1):
        t = T0 + k * SEG
        getattr(rig, what)(s, on, at=t)
        getattr(m, what)(t, on)
    end = T0 + (len(steps) + 1) * SEG
    rec = capture.take(until=end)
    # slots 1..3 are the capture's slot channels CH[1..3]
    H.check_model(rec, models, T0 - 1000, end, {0: CH[1], 1: CH[2], 2: CH[3]}, what="mute/solo")
    # the silent stretch (3 soloed but muted) really is silent and was captured
    a, b = T0 + 6 * SEG, T0 + 7 * SEG
    _, v, ok = rec.window(0, a, b)
    assert ok.sum() > SEG // 2 and np.all(v[ok] == 0.0)
    # and the stretches around it are not
    _, v, ok = rec.window(0, T0 + 5 * SEG, a)
    assert np.abs(v[ok]).max() > 0.05


def test_immediate_mute_takes_effect_at_acknowledged_frame(rig, capture, tmp_path):
    """Without `at`, the frame in the answer is when the change happened."""
    L = 1031
    x = H.noise(L, seed=70, amp=0.3)
    rig.load(0, H.write_wav_float(tmp_path / "im.wav", x))
    m = H.SlotModel(x)
    capture.arm(4)
    T = rig.play(0)
    m.play(T)
    capture.wait_until(T + 5000)
    f1 = rig.mute(0, True)
    m.mute(f1, True)
    capture.wait_until(f1 + 3000)
    f2 = rig.mute(0, False)
    m.mute(f2, False)
    capture.wait_until(f2 + 3000)
    f3 = rig.solo(0, True)   # solo of the only audible slot changes nothing
    m.solo(f3, True)
    f4 = rig.gain(0, -9.0)
    m.gain(f4, -9.0)
    end = f4 + 5000
    rec = capture.take(until=end)
    assert T < f1 < f2 <= f3 <= f4
    H.check_model(rec, [m], max(rec.t0, T - 1000), end, {0: CH[0]}, what="immediate")
