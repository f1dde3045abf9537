"""Channel strip through the real engine and JACK (issue 4): filter and EQ
magnitude responses against the RBJ Audio-EQ-Cookbook formulas computed here
in numpy, a resonant filter swept every period for 10 s, and scheduled param
ramps (send level, group gain, EQ gain) that start at their frame and last
exactly --smooth-ms.

This module runs its engine with --smooth-ms 12.5 (600 frames at 48 kHz), so
a ramp of the default 960 frames would fail the ramp test."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

import lrharness as H
import mixfx as M
from mixfx import rp, cap  # noqa: F401 (shared fixtures)

SMOOTH_MS = 12.5
SMOOTH = 600  # = round(12.5 ms * 48 kHz)
ENGINE_OPTS = dict(slots=4, slot_outs=True, extra=["--bus-outs", "--smooth-ms", str(SMOOTH_MS)])
PORTS = ["out_L", "out_R", "slot00_L", "slot00_R", "slot01_L", "slot01_R",
         "delay_send_L", "group3_L"]
AHEAD = 24000  # frames between "now" and the first scheduled change


@pytest.fixture(autouse=True)
def _clean(rig, rp):
    H.reset_slots(rig, range(4))
    rp.reset_defaults(4)
    yield
    H.reset_slots(rig, range(4))
    rp.reset_defaults(4)




# --------------------------------------------------------------------------
# 1. EQ / filter magnitude responses
# --------------------------------------------------------------------------

TONES = np.unique(np.round(np.geomspace(30, 18000, 20)))  # whole Hz: whole cycles per second
assert len(TONES) == 20
TONE_LOOP = H.RATE  # 1 s: every tone an exact whole number of cycles, seamless

SETTINGS = {
    "flat": {},
    "eq": {"low": (200.0, -6.0), "mid": (1000.0, 9.0, 2.0), "high": (6000.0, 4.0)},
    "hp_lp": {"hp": (200.0, 0.707), "lp": (5000.0, 2.0)},
    "all": {"hp": (200.0, 0.707), "lp": (5000.0, 2.0),
            "low": (200.0, -6.0), "mid": (1000.0, 9.0, 2.0), "high": (6000.0, 4.0)},
}


def apply_strip(rig, slot, st, at):
    """Every strip param of `slot` at frame `at` (a whole setting, so the
    previous one leaves nothing behind). Returns the acknowledged frame."""
    hp = st.get("hp") or (80.0, 0.707)
    lp = st.get("lp") or (8000.0, 0.707)
    low = st.get("low") or (200.0, 0.0)
    mid = st.get("mid") or (1000.0, 0.0, 0.707)
    high = st.get("high") or (5000.0, 0.0)
    frames = {
        rig.highpass(slot, freq=hp[0], q=hp[1], on="hp" in st, at=at),
        rig.lowpass(slot, freq=lp[0], q=lp[1], on="lp" in st, at=at),
        rig.eq(slot, low_freq=low[0], low_gain=low[1], mid_freq=mid[0], mid_gain=mid[1],
               mid_q=mid[2], high_freq=high[0], high_gain=high[1], on=True, at=at),
    }
    assert frames == {at}, f"acknowledged frames {frames}, asked for {at}"


def test_filter_and_eq_magnitudes_match_the_rbj_cookbook(rig, cap, tmp_path):
    """A loop of 20 tones (30 Hz .. 18 kHz, log-spaced, whole cycles in 1 s)
    through four strip settings; the steady-state amplitude of each tone in
    the captured slot output is separated by least squares and its ratio to
    the input compared with the product of the cookbook biquads: 0.1 dB."""
    rng = np.random.default_rng(41)
    phases = rng.uniform(0, 2 * np.pi, len(TONES))
    n = np.arange(TONE_LOOP)
    x = np.zeros(TONE_LOOP)
    for f, ph in zip(TONES, phases):
        x += 0.02 * np.sin(2 * np.pi * f * n / H.RATE + ph)
    x = x.astype(np.float32)
    M.load(rig, 0, tmp_path, x, "tones.wav")
    rig.delay(return_db=-120.0)  # the master carries the slot alone (no effect tails)
    rig.reverb(return_db=-120.0)
    rig.pan(0, -1.0)  # left gain exactly cos(0) = 1: slot00_L is the strip's output
    ref, ref_resid = M.fit_tones(x, n, TONES)  # the input's own amplitudes (float32 file)
    assert ref_resid < 1e-6

    seg = int(1.4 * H.RATE)
    names = list(SETTINGS)
    cap.arm(len(names) * 1.4 + 2)
    T0 = rig.ping() + AHEAD
    start = T0 - 12000
    assert rig.play(0, at=start) == start
    for i, name in enumerate(names):
        apply_strip(rig, 0, SETTINGS[name], T0 + i * seg)
    end = T0 + len(names) * seg
    rec = cap.take(until=end)

    # the flat setting is exact: the loop itself, sample for sample
    H.compare(rec, "slot00_L", lambda f: H.loop_expected(x, start, f), T0, T0 + seg - 1000,
              tol=1e-6, what="flat strip")
    report = []
    failures = []
    for i, name in enumerate(names):
        a = T0 + i * seg + 12000  # 250 ms after the change (ramp 12.5 ms; slowest pole ~1 ms)
        b = a + H.RATE
        f, y, ok = rec.window("slot00_L", a, b)
        assert ok.sum() >= H.RATE // 2, f"{name}: only {ok.sum()} frames captured; gaps {rec.gaps()[:6]}"
        # the master carries the same (sends off, no group): the bus path adds nothing
        _, ym, okm = rec.window("out_L", a, b)
        both = ok & okm
        assert np.max(np.abs(ym[both] - y[both])) <= 1e-6, f"{name}: out_L differs from slot00_L"
        amp, resid = M.fit_tones(y[ok], f[ok] - start, TONES)
        got = 20 * np.log10(np.abs(amp) / np.abs(ref))
        want = 20 * np.log10(np.abs(M.response(M.strip_sections(SETTINGS[name]), TONES)))
        err = got - want
        report.append(f"{name}: max |err| {np.max(np.abs(err)):.4f} dB at "
                      f"{TONES[np.argmax(np.abs(err))]:.0f} Hz, residual rms {resid:.2e}")
        if np.max(np.abs(err)) > 0.1 or resid > 1e-4:
            rows = "\n".join(f"   {fr:7.0f} Hz  want {w:+8.3f} dB  got {g:+8.3f} dB  err {e:+.3f}"
                             for fr, w, g, e in zip(TONES, want, got, err))
            failures.append(f"setting {name} {SETTINGS[name]} (residual rms {resid:.2e}, "
                            f"limit 1e-4):\n{rows}")
    assert not failures, "\n".join(failures)
    print("\n".join(report))


# --------------------------------------------------------------------------
# 2. a resonant filter swept every period
# --------------------------------------------------------------------------

SWEEP_Q = 10.0


def sweep_freqs(periods: int, cycle_periods: int) -> np.ndarray:
    """Log triangle 20 Hz -> 20 kHz -> 20 Hz, one value per period."""
    k = np.arange(periods)
    ph = (k % cycle_periods) / cycle_periods
    tri = 1 - np.abs(2 * ph - 1)
    return 20.0 * 1000.0 ** tri


def l1_bound(kind: str, freqs) -> float:
    """Largest sum |h| of the cookbook filter (Q = SWEEP_Q) over the cutoffs:
    the most a frozen filter can output for an input bounded by 1."""
    best = 0.0
    for fc in freqs:
        nimp = int(min(200000, 25 * SWEEP_Q * H.RATE / (math.pi * fc))) + 64
        best = max(best, float(np.abs(M.impulse_response(M.rbj(kind, fc, q=SWEEP_Q), nimp)).sum()))
    return best


def test_resonant_filters_swept_every_period_stay_bounded(rig, cap, rp, tmp_path):
    """LP (slot 0) and HP (slot 1), Q 10, cutoff changed every period for 10 s
    (scheduled one period apart, a log triangle 20 Hz..20 kHz, four cycles)
    on full-scale noise. Bound: for an input |x| <= 1 a frozen filter outputs
    at most sum|h| (the impulse response's L1 norm, ~13.8 at Q 10: 4Q/pi + the
    direct term), computed here for every cutoff of the sweep; a swept filter
    is time-varying, so 1.5x that is allowed, far below what an unstable or
    blown-up filter produces (inf/NaN or growth without bound). The output
    must also be nonzero throughout and follow the sweep (a filter that
    ignored the changes would pass the other checks)."""
    Ln = 47981  # prime length: not periodic with anything in the sweep
    for s, seed in ((0, 101), (1, 102)):
        xn = np.random.default_rng(seed).uniform(-1.0, 1.0, Ln).astype(np.float32)
        xn[0] = 1.0  # full scale
        M.load(rig, s, tmp_path, xn, f"noise{s}.wav")
        rig.pan(s, -1.0)
    rig.lowpass(0, freq=20.0, q=SWEEP_Q, on=True)
    rig.highpass(1, freq=20.0, q=SWEEP_Q, on=True)
    periods = 10 * H.RATE // H.PERIOD  # 1875
    fk = sweep_freqs(periods, periods // 4)
    bound_lp = 1.5 * l1_bound("lowpass", np.geomspace(20, 20000, 40))
    bound_hp = 1.5 * l1_bound("highpass", np.geomspace(20, 20000, 40))

    cap.arm(12.5)
    T0 = rig.ping() + AHEAD
    assert rig.play(0, at=T0 - 4800) == T0 - 4800
    assert rig.play(1, at=T0 - 4800) == T0 - 4800
    ids, ats = [], []
    k = 0
    while k < periods:
        now = rig.frame_time
        while k < periods and T0 + k * H.PERIOD <= now + H.RATE:  # at most 1 s ahead
            at = T0 + k * H.PERIOD
            ids.append(rp.push("lp-freq", 0, fk[k], at))
            ids.append(rp.push("hp-freq", 1, fk[k], at))
            ats += [at, at]
            k += 1
        rp._drain()
        time.sleep(0.03)
    end = T0 + periods * H.PERIOD
    rec = cap.take(until=end + 4800)
    answers = rp.collect(ids)
    errors = [a for a in answers if a["type"] != 1]
    assert not errors, f"{len(errors)} sweep commands rejected, first: {errors[0]}"
    late = [(a["frame"], t) for a, t in zip(answers, ats) if a["frame"] != t]
    assert not late, f"{len(late)} sweep changes not at their frame, first (ack, asked) {late[0]}"

    for chan, bound, what in (("slot00_L", bound_lp, "LP"), ("slot01_L", bound_hp, "HP")):
        f, y, ok = rec.window(chan, T0, end + 4800)
        assert ok.mean() >= 0.5, f"{what}: only {ok.mean():.0%} captured"
        yv = y[ok].astype(np.float64)
        assert np.all(np.isfinite(yv)), f"{what}: non-finite output"
        peak = float(np.max(np.abs(yv)))
        assert peak < bound, f"{what}: |y| reached {peak:.3f}, bound {bound:.3f}"
        # nonzero throughout: every captured 250 ms window has signal
        win = H.RATE // 4
        for a in range(0, len(y) - win, win):
            w = y[a:a + win][ok[a:a + win]]
            if len(w) > win // 4:
                r = float(np.sqrt(np.mean(w.astype(np.float64) ** 2)))
                assert r > 1e-3, f"{what}: rms {r:.2e} in window at frame {T0 + a}"
        print(f"{what}: peak {peak:.3f} (bound {bound:.2f})")

    # it followed the sweep: per period, high-frequency content of the LP
    # output (first difference) and low-frequency content of the HP output
    # (three cascaded 48-frame moving averages: low sidelobes, passes below
    # ~300 Hz) against the cutoff in force (8 periods of slack for the ramp)
    def per_period(chan, fn):
        vals = np.full(periods, np.nan)
        for kk in range(8, periods):
            a = T0 + kk * H.PERIOD
            _, v, okk = rec.window(chan, a - 160, a + H.PERIOD)
            if okk.all():
                vals[kk] = fn(v.astype(np.float64))
        return vals

    box = np.ones(48) / 48
    box3 = np.convolve(np.convolve(box, box), box)
    hf = per_period("slot00_L", lambda v: np.sqrt(np.mean(np.diff(v[159:]) ** 2)))
    lf = per_period("slot01_L", lambda v: np.sqrt(np.mean(np.convolve(v, box3, "valid") ** 2)))
    fin = np.minimum(fk, np.roll(fk, 8))
    fmax = np.maximum(fk, np.roll(fk, 8))
    low_sel = (fmax < 60) & np.isfinite(hf)
    high_sel = (fin > 5000) & np.isfinite(hf)
    assert low_sel.sum() > 20 and high_sel.sum() > 20
    assert np.median(hf[high_sel]) > 10 * np.median(hf[low_sel]), (
        f"LP: high-frequency content with cutoff > 5 kHz {np.median(hf[high_sel]):.3g}, "
        f"with cutoff < 60 Hz {np.median(hf[low_sel]):.3g}: the sweep is not followed")
    low_sel = (fmax < 60) & np.isfinite(lf)
    high_sel = (fin > 5000) & np.isfinite(lf)
    assert np.median(lf[low_sel]) > 10 * np.median(lf[high_sel]), (
        f"HP: low-frequency content with cutoff < 60 Hz {np.median(lf[low_sel]):.3g}, "
        f"with cutoff > 5 kHz {np.median(lf[high_sel]):.3g}: the sweep is not followed")
    print(f"sweep followed: LP hf {np.median(hf[(fin > 5000) & np.isfinite(hf)]):.3g} / "
          f"{np.median(hf[(fmax < 60) & np.isfinite(hf)]):.3g}, HP lf {np.median(lf[low_sel]):.3g} / "
          f"{np.median(lf[high_sel]):.3g}")


# --------------------------------------------------------------------------
# 7. ramps: start at the scheduled frame, last smooth_frames
# --------------------------------------------------------------------------


def check_level_ramp(rec, chan, x_of, T, N, g0, g1, what):
    """Captured = x * g(t) with g = g0 before T, g1 from T+N on and linear in
    between; the ramp's line must meet g0 within [T-1.5, T+1] and g1 within
    [T+N-2.5, T+N+1.5] ("starts at T, completes after N, within a frame or
    two"), and no step may exceed the signal's own."""
    a, b = T - 3000, T + N + 3000
    t, y, ok = M.values(rec, chan, a, b)  # checked where captured ...
    M.need_valid(rec, T - 64, T + N + 64, f"{what}: the ramp")  # ... the ramp itself entirely
    x = x_of(t)
    before, after = ok & (t < T), ok & (t >= T + N + 2)
    eb = np.max(np.abs(y[before] - g0 * x[before]))
    ea = np.max(np.abs(y[after] - g1 * x[after]))
    assert eb <= 1e-6, f"{what}: changed before frame {T} (max error {eb:.2e})"
    assert ea <= 1e-6, f"{what}: not at its final level by frame {T + N + 2} (max error {ea:.2e})"
    sel = (t >= T + 20) & (t < T + N - 20) & (np.abs(x) > 0.1)
    g = y[sel] / x[sel]
    s, c = np.polyfit(t[sel].astype(np.float64) - T, g, 1)
    ts = T + (g0 - c) / s
    te = T + (g1 - c) / s
    dev = float(np.max(np.abs(g - (s * (t[sel] - T) + c))))
    assert T - 1.5 <= ts <= T + 1.0, f"{what}: ramp starts at {ts:.2f}, scheduled {T}"
    assert T + N - 2.5 <= te <= T + N + 1.5, f"{what}: ramp ends at {te:.2f}, expected {T + N} (N={N})"
    assert dev <= 0.005 * abs(g1 - g0), f"{what}: not linear in amplitude (deviation {dev:.2e})"
    w = (t >= T - 1) & (t <= T + N + 2)
    step = float(np.max(np.abs(np.diff(y[w]))))
    own = max(abs(g0), abs(g1)) * float(np.max(np.abs(np.diff(x[w]))))
    assert step <= 1.05 * own + 1e-6, f"{what}: step {step:.5f} > signal's own {own:.5f}"


def test_scheduled_ramps_start_at_their_frame_and_last_smooth_frames(rig, cap, tmp_path):
    hdr = rig.header
    assert int(hdr.smooth_frames) == SMOOTH, f"smooth_frames {hdr.smooth_frames}, --smooth-ms {SMOOTH_MS}"
    N = SMOOTH
    # slot 0: 375 Hz (128 frames a cycle), pre-fader send 1 and group 3
    L0 = 128 * 100
    x0 = M.sine(375.0, L0, 0.5, 0.3)
    M.load(rig, 0, tmp_path, x0, "s375.wav")
    rig.group(0, 3)
    rig.delay(return_db=-120.0)
    # slot 1: 1 kHz through a peaking band at 0 dB (identity), pan hard left
    L1 = 48 * 100
    x1 = M.sine(1000.0, L1, 0.25, 0.1)
    M.load(rig, 1, tmp_path, x1, "s1k.wav")
    rig.pan(1, -1.0)

    def run():
        for s in (0, 1):
            rig.stop(s)
        rig.send(0, 1, -12.0, pre=True)
        rig.group_gain(3, -6.0)
        rig.eq(1, mid_freq=1000.0, mid_q=1.0, mid_gain=0.0, on=True)
        time.sleep(0.1)  # past the 12.5 ms ramps of these settings
        cap.arm(3)
        start = rig.ping() + AHEAD
        T = start + 24000
        assert rig.play(0, at=start) == start
        assert rig.play(1, at=start) == start
        assert rig.send(0, 1, 0.0, at=T) == T
        assert rig.group_gain(3, 0.0, at=T) == T
        assert rig.eq(1, mid_gain=12.0, at=T) == T
        rec = cap.take(until=T + N + 24000)
        return rec, T, start

    def checks():
        rec, T, start = run()
        gl = H.pan_gains(0.0)[0]
        x0_of = lambda t: H.loop_expected(x0, start, t)
        check_level_ramp(rec, "delay_send_L", x0_of, T, N, H.db_to_lin(-12.0), 1.0, "send 1 level")
        check_level_ramp(rec, "group3_L", lambda t: gl * x0_of(t), T, N, H.db_to_lin(-6.0), 1.0,
                         "group 3 gain")
        # EQ mid gain 0 -> +12 dB: gains glide linearly in dB
        a, b = T - 3000, T + N + 3000
        t, y, ok = M.values(rec, "slot01_L", a, b)
        M.need_valid(rec, T - 64, T + N + 264, "EQ: the ramp and its settling")
        x = H.loop_expected(x1, start, t)
        d = np.abs(y - x)
        assert np.max(d[ok & (t < T)]) <= 1e-6, "EQ: output changed before the scheduled frame"
        first = int(t[np.argmax(ok & (d > 1e-5))])
        assert T <= first <= T + 12, f"EQ: first change at {first}, scheduled {T}"
        h = M.response([M.rbj("peaking", 1000.0, q=1.0, gain_db=12.0)], [1000.0])[0]
        yss = np.abs(h) * 0.25 * np.sin(2 * np.pi * 1000.0 * (t - start) / H.RATE + 0.1 + np.angle(h))
        late = ok & (t >= T + N + 200)  # 200 frames: ~13 time constants of the Q 1 band at 1 kHz
        e = np.max(np.abs(y[late] - yss[late]))
        assert e <= 1e-3, f"EQ: not at the +12 dB steady state after the ramp (max error {e:.2e})"

        def amp_at(c):
            w = (t >= c - 48) & (t < c + 48)
            amp, _ = M.fit_tones(y[w], t[w] - start, [1000.0])
            return 20 * np.log10(abs(amp[0]) / 0.25)
        mid = amp_at(T + N // 2)
        assert abs(mid - 6.0) <= 0.75, f"EQ: {mid:.2f} dB half-way through the ramp (linear in dB: 6)"
        near_end = amp_at(T + N - 100)
        assert near_end <= 12.0 - 1.0, f"EQ: already {near_end:.2f} dB 100 frames before the ramp ends"
        just_after = amp_at(T + N + 60)
        assert abs(just_after - 12.0) <= 0.3, f"EQ: {just_after:.2f} dB just after the ramp"
        w = (t >= T - 1) & (t <= T + N + 200)
        step = float(np.max(np.abs(np.diff(y[w]))))
        own = float(np.max(np.abs(np.diff(yss[w]))))
        assert step <= 1.05 * own, f"EQ: step {step:.5f} > final signal's own {own:.5f}"

    M.retry(checks)
