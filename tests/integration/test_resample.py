"""Files at other sample rates play at 48 kHz: a file of L frames at rate R
repeats exactly every round(L * 48000 / R) frames, and its content is a
faithful resample (a sine keeps its frequency and level, no aliasing)."""
import math

import numpy as np
import pytest

import lrharness as H

CASES = [
    # name, rate, source frames, kind, args
    ("noise44k", 44100, 7919, "noise", None),
    ("noise96k", 96000, 10006, "noise", None),
    ("noise22k", 22050, 5003, "noise", None),
    ("sine441_44k", 44100, 44100, "sine", [(441.0, 0.5)]),
    ("sine1k_30k_96k", 96000, 96000, "sine", [(1000.0, 0.4), (30000.0, 0.4)]),
    ("sine10k_44k", 44100, 44100, "sine", [(10000.0, 0.5)]),
]
ENGINE_OPTS = dict(slots=len(CASES), slot_outs=True)
CAPTURE_SLOTS = list(range(len(CASES)))
CH = {s: (2 + 2 * i, 3 + 2 * i) for i, s in enumerate(CAPTURE_SLOTS)}


def out_len(L, R):
    return int(math.floor(L * 48000 / R + 0.5))


def make(kind, rate, L, args, seed):
    if kind == "noise":
        return H.noise(L, seed=seed, amp=0.3, channels=2 if seed % 2 else 1)
    t = np.arange(L) / rate
    return sum(a * np.sin(2 * np.pi * f * t) for f, a in args).astype(np.float32)


@pytest.fixture(scope="module")
def played(rig, capture, tmp_path_factory):
    d = tmp_path_factory.mktemp("rs")
    loads = {}
    for s, (name, rate, L, kind, args) in enumerate(CASES):
        x = make(kind, rate, L, args, seed=200 + s)
        loads[s] = rig.load(s, H.write_wav_float(d / f"{name}.wav", x, rate=rate))
    longest = max(out_len(L, R) for _, R, L, _, _ in CASES)
    capture.arm(2 * longest / H.RATE + 3)
    T = rig.ping() + 14400
    for s in range(len(CASES)):
        assert rig.play(s, at=T) == T
    end = T + 2 * longest + 4096
    rec = capture.take(until=end)
    meters = rig.meters()
    H.reset_slots(rig, range(len(CASES)))
    return dict(T=T, end=end, rec=rec, loads=loads, meters=meters)


def fold(rec, chan, T, P, end):
    """One period of a P-periodic signal from all captured frames."""
    f, v, ok = rec.window(chan, T, end)
    ph = (f - T) % P
    out = np.zeros(P, np.float64)
    have = np.zeros(P, bool)
    out[ph[ok]] = v[ok]
    have[ph[ok]] = True
    assert have.all(), f"{(~have).sum()} phases of the period never captured"
    return out


def sine_fit(y, rate, freq):
    """Amplitude of the best fit at freq and the residual RMS."""
    t = np.arange(len(y)) / rate
    A = np.stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t), np.ones_like(t)], 1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    return float(np.hypot(coef[0], coef[1])), float(np.sqrt(np.mean(resid ** 2)))


def zero_cross_freq(y, rate):
    s = np.signbit(y)
    idx = np.nonzero(s[:-1] & ~s[1:])[0]          # upward crossings
    frac = y[idx] / (y[idx] - y[idx + 1])
    tc = idx + frac
    return (len(tc) - 1) / (tc[-1] - tc[0]) * rate


@pytest.mark.parametrize("slot", range(len(CASES)), ids=[c[0] for c in CASES])
def test_length_and_exact_period(played, slot):
    name, R, L, kind, args = CASES[slot]
    P = out_len(L, R)
    assert played["loads"][slot].source_rate == R
    # LoadResult.frames is the loop length as played (at the JACK rate); the
    # file's own frame count is in the meters' source_frames
    assert played["loads"][slot].frames == P
    assert int(H.meter_field(played["meters"], "source_frames")[slot]) == L
    assert int(H.meter_field(played["meters"], "source_rate")[slot]) == R
    assert int(H.meter_field(played["meters"], "length")[slot]) == P, "loop length at 48 kHz"
    rec, T, end = played["rec"], played["T"], played["end"]
    for chan in CH[slot]:
        # silent before T
        _, v, ok = rec.window(chan, T - 4000, T)
        assert ok.sum() > 3000 and np.all(v[ok] == 0.0)
        f, v, ok = rec.window(chan, T, end)
        a, b = v[:-P], v[P:]
        both = ok[:-P] & ok[P:]
        assert both.sum() > 0.4 * min(P, len(a)), "too little overlap captured"
        err = np.abs(a[both].astype(np.float64) - b[both])
        assert err.max() <= 1e-6, f"{name}: output does not repeat every {P} frames (max diff {err.max()})"
        for Q in (P - 1, P + 1):
            a2, b2 = v[:-Q], v[Q:]
            both2 = ok[:-Q] & ok[Q:]
            assert np.abs(a2[both2].astype(np.float64) - b2[both2]).max() > 1e-3, (
                f"{name}: output also repeats every {Q} frames: the test signal is not telling")
        assert np.abs(v[ok]).max() > 0.05
    # master is the sum of the per-slot outs
    master = sum(rec.data[CH[s][0]].astype(np.float64) for s in CAPTURE_SLOTS)
    i0, i1 = T - rec.t0, end - rec.t0
    okm = rec.valid[i0:i1]
    assert np.abs(rec.data[0, i0:i1][okm] - master[i0:i1][okm]).max() < 1e-5


@pytest.mark.parametrize("slot", [s for s, c in enumerate(CASES) if c[3] == "sine"],
                         ids=[c[0] for c in CASES if c[3] == "sine"])
def test_sine_is_faithfully_resampled(played, slot):
    name, R, L, kind, args = CASES[slot]
    P = out_len(L, R)
    rec, T, end = played["rec"], played["T"], played["end"]
    y = fold(rec, CH[slot][0], T, P, end)
    mid = y[P // 10: 9 * P // 10]          # away from the loop seam
    audible = [(f, a) for f, a in args if f < 24000]
    f0, a0 = audible[0]
    fz = zero_cross_freq(mid, H.RATE)
    assert abs(fz / f0 - 1) < 1e-3, f"{name}: frequency {fz:.3f} Hz, want {f0} Hz (0.1 %)"
    g = H.pan_gains(0.0)[0]
    amp, resid = sine_fit(mid.copy(), H.RATE, f0)
    assert abs(amp / (a0 * g) - 1) < 0.02, f"{name}: amplitude {amp:.4f}, want {a0 * g:.4f}"
    rel = resid / (amp / math.sqrt(2))
    print(f"{name}: f {fz:.4f} Hz, amp {amp:.5f}, residual {20 * math.log10(rel):.1f} dB")
    limit = 1e-2 if f0 > 5000 else 1e-3   # -40 dB / -60 dB of error + noise + aliases
    assert rel < limit, f"{name}: residual {20 * math.log10(rel):.1f} dB re the sine"
    for f, a in args:
        if f >= 24000:   # above 48 kHz Nyquist: must be filtered, not folded
            alias = 48000 - f
            amp_alias, _ = sine_fit(mid.copy(), H.RATE, alias)
            print(f"{name}: alias at {alias} Hz: {20 * math.log10(max(amp_alias, 1e-12) / (a * g)):.1f} dB")
            assert amp_alias < 0.01 * a * g, (
                f"{name}: {f} Hz folded to {alias} Hz at {20 * math.log10(amp_alias / (a * g)):.1f} dB")
