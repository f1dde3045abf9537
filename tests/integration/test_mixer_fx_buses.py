"""Send buses, effects and group buses through the real engine and JACK
(issue 4), read on the engine's bus ports (delay_send/return, reverb_send/
return, groupN) and on out_L/R: the delay's exact echo timing and gains (ms
and tempo-synced), feedback filters on the recirculated signal only,
ping-pong, the reverb's smooth monotonic decay, pre/post-fader sends and the
group buses (gain, mute, reassignment). The engine runs with --bus-outs."""
from __future__ import annotations

import time

import numpy as np
import pytest

import lrharness as H
import mixfx as M
from mixfx import rp, cap  # noqa: F401 (shared fixtures)

ENGINE_OPTS = dict(slots=4, extra=["--bus-outs"])
PORTS = ["out_L", "out_R", "delay_send_L", "delay_send_R", "delay_return_L", "delay_return_R",
         "reverb_send_L", "reverb_send_R", "reverb_return_L", "reverb_return_R",
         "group3_L", "group3_R", "group5_L", "group5_R"]
AHEAD = 19200
GL = H.pan_gains(0.0)[0]  # centre pan: cos(pi/4) on each side


@pytest.fixture(autouse=True)
def _clean(rig, rp):
    H.reset_slots(rig, range(4))
    rp.reset_defaults(4)
    rig.tempo(120)
    yield
    H.reset_slots(rig, range(4))
    rp.reset_defaults(4)
    rig.tempo(120)


def test_smooth_frames_default_is_20_ms(rig):
    assert int(rig.header.smooth_frames) == 960


# --------------------------------------------------------------------------
# 3. delay
# --------------------------------------------------------------------------

IMPULSE_AT = 1000   # frame of the impulse in its loop
IMPULSE = 0.8


def flush_delay(rig, **settings):
    """Empty the delay line: no feedback, no input, wait longer than any delay
    used here, then the settings (feedback last). Before every try: a retry
    must not hear the echoes of the one before."""
    fb = settings.pop("feedback", None)
    rig.delay(feedback=0.0, **settings)
    time.sleep(0.5)
    if fb is not None:
        rig.delay(feedback=fb)
    time.sleep(0.05)


def fire_impulse(rig, cap, seconds):
    """Play the impulse loop once (slot 0); returns (recording, impulse frame)."""
    cap.arm(seconds + 1)
    T = rig.ping() + AHEAD
    assert rig.play(0, at=T) == T
    rig.stop(0, at=T + IMPULSE_AT + 500)
    t0 = T + IMPULSE_AT
    rec = cap.take(until=t0 + int(seconds * H.RATE))
    return rec, t0


def impulse_loop(rig, tmp_path):
    x = np.zeros(4000, np.float32)
    x[IMPULSE_AT] = IMPULSE
    M.load(rig, 0, tmp_path, x, "impulse.wav")


def echo_gain(y, freqs):
    """|DFT| of an echo region at the frequencies: the echo's gain relative to
    a unit impulse."""
    return np.abs(M.dft_at(y, freqs))


@pytest.mark.parametrize("mode", ["ms", "beats"])
def test_delay_first_echo_is_exact_and_feedback_scales_the_next(rig, cap, tmp_path, mode):
    impulse_loop(rig, tmp_path)
    rig.send(0, 1, 0.0, pre=False)  # post-fader at 0 dB: the send carries IMPULSE * GL
    if mode == "ms":
        D = 12345
        timing = dict(ms=D * 1000.0 / H.RATE)  # 257.1875 ms: exactly 12345 frames
    else:
        rig.tempo(97.0)
        D = round(0.5 * 60.0 / 97.0 * H.RATE)  # 14845.36 -> 14845
        timing = dict(beats=0.5)
    rig.reverb(return_db=-120.0)  # out_L: dry + delay return only

    def checks():
        flush_delay(rig, lowcut=10.0, highcut=20000.0, pingpong=False, return_db=0.0, feedback=0.5,
                    **timing)
        m = rig.meters()
        assert int(m.delay_frames) == D, f"delay_frames {m.delay_frames}, expected {D}"
        rec, t0 = fire_impulse(rig, cap, 4 * D / H.RATE + 0.2)
        s = IMPULSE * GL
        for side in "LR":
            send = M.segment(rec, f"delay_send_{side}", t0 - 8, t0 + 9)
            assert send[8] == pytest.approx(s, abs=1e-6), f"send {side} at the impulse"
            _, v, ok = M.values(rec, f"delay_send_{side}", t0 - 2000, t0 + D)
            v[2000] = 0.0  # the impulse itself (frame t0)
            assert np.max(np.abs(v[ok])) == 0.0, f"send {side}: more than one impulse"
            M.check_echo_train(rec, f"delay_return_{side}", t0, D, s, 0.5, f"delay_return_{side}")
        # out_L: the dry impulse at t0, the echo (and nothing dry) at t0 + D
        _, out, ok = M.values(rec, "out_L", t0 - 10, t0 + D + 10)
        _, ret, _ = M.values(rec, "delay_return_L", t0 - 10, t0 + D + 10)
        M.need_valid(rec, t0, t0 + 1, "out_L at the impulse")
        M.need_valid(rec, t0 + D, t0 + D + 1, "out_L at the echo")
        assert out[10] == pytest.approx(s, abs=1e-6)
        ok[:11] = False
        assert np.max(np.abs(out[ok] - ret[ok])) <= 1e-6, "out_L is not dry + delay return"

    M.retry(checks)


def test_delay_filters_act_on_the_feedback_path_only(rig, cap, tmp_path):
    """lowcut 1 kHz and highcut 3 kHz: the first echo is still the bare
    impulse, the second is band-limited."""
    impulse_loop(rig, tmp_path)
    rig.send(0, 1, 0.0, pre=False)
    D = 9600

    def checks():
        flush_delay(rig, ms=200.0, lowcut=1000.0, highcut=3000.0, pingpong=False, return_db=0.0,
                    feedback=0.5)
        rec, t0 = fire_impulse(rig, cap, 3 * D / H.RATE + 0.2)
        s = IMPULSE * GL
        e1 = M.segment(rec, "delay_return_L", t0 + D, t0 + D + 1)[0]
        assert e1 / s == pytest.approx(1.0, abs=1e-4), f"first echo {e1:.6f}, send {s:.6f}"
        _, v, ok = M.values(rec, "delay_return_L", t0 + D + 1, t0 + 2 * D)
        assert np.max(np.abs(v[ok])) <= 1e-4 * s, "first echo filtered"
        e2 = M.segment(rec, "delay_return_L", t0 + 2 * D - 64, t0 + 2 * D + 1984)
        lo, mid, hi = echo_gain(e2, [100.0, 1700.0, 12000.0]) / s
        assert mid > 0.2, f"echo 2 at 1.7 kHz: gain {mid:.3f}"
        assert lo < 0.5 * mid, f"echo 2 at 100 Hz {lo:.3f} vs 1.7 kHz {mid:.3f}: lowcut not applied"
        assert hi < 0.5 * mid, f"echo 2 at 12 kHz {hi:.3f} vs 1.7 kHz {mid:.3f}: highcut not applied"

    M.retry(checks)


def test_pingpong_echoes_alternate_sides(rig, cap, tmp_path):
    impulse_loop(rig, tmp_path)
    rig.send(0, 1, 0.0, pre=True)  # pre-fader this time
    D = 12345

    def checks():
        flush_delay(rig, ms=D * 1000.0 / H.RATE, lowcut=10.0, highcut=20000.0, pingpong=True,
                    return_db=0.0, feedback=0.6)
        rec, t0 = fire_impulse(rig, cap, 5 * D / H.RATE + 0.2)
        energies = []
        for k in range(1, 5):
            a, b = t0 + k * D - 64, t0 + k * D + 2048
            eL = float(np.sum(M.segment(rec, "delay_return_L", a, b) ** 2))
            eR = float(np.sum(M.segment(rec, "delay_return_R", a, b) ** 2))
            energies.append((eL, eR))
        for k, (eL, eR) in enumerate(energies, start=1):
            want, other = (eL, eR) if k % 2 else (eR, eL)
            assert want > 1e-4, f"echo {k}: nothing on the {'LR'[(k + 1) % 2]} side ({energies})"
            assert other <= 1e-3 * want, (
                f"echo {k} should be on {'L' if k % 2 else 'R'} only: energies L/R {energies}")

    M.retry(checks)


# --------------------------------------------------------------------------
# 4. reverb
# --------------------------------------------------------------------------


def window_rms(l, r, ok, win):
    """RMS of L and R together over consecutive windows; NaN for windows with
    a capture gap."""
    n = len(l) // win
    e = (l[:n * win] ** 2 + r[:n * win] ** 2).reshape(n, win).mean(axis=1) / 2
    full = ok[:n * win].reshape(n, win).all(axis=1)
    return np.where(full, np.sqrt(e), np.nan)


@pytest.mark.parametrize("decay,windows_ms", [(0.3, (10, 50)), (2.0, (50,))])
def test_reverb_tail_decays_smoothly_and_monotonically(rig, cap, rp, tmp_path, decay, windows_ms):
    """A 20 ms noise burst into send 2; the return's RMS over consecutive
    windows falls at every window from 50 ms after the burst until it is 60 dB
    below the loudest window, and the decay rate matches the RT60 setting
    (0.7x..1.4x). 10 ms windows only with the short decay: there the level
    drops 2 dB per window, far more than a 10 ms RMS of a noise-like tail
    fluctuates; with RT60 = 2 s (0.3 dB per 10 ms) any real reverb's 10 ms
    RMS wobbles by more than that."""
    burst = 960
    L = 4 * H.RATE
    x = np.zeros(L, np.float32)
    x[:burst] = np.random.default_rng(7).uniform(-0.5, 0.5, burst)
    M.load(rig, 0, tmp_path, x, "burst.wav")
    rig.send(0, 2, 0.0, pre=True)
    rig.reverb(decay=decay, damping=20000.0, predelay=0.0, return_db=0.0)
    span = decay * 1.5 + 0.3

    def checks():
        # the tail of anything before (an earlier try too) must have died away
        M.wait_meter(rig, lambda m: float(np.max(m.returns.peak[1])) < 1e-7, timeout=20,
                     what="reverb return silent before the burst")
        cap.arm(span + 1)
        T = rig.ping() + AHEAD
        assert rig.play(0, at=T) == T
        rig.stop(0, at=T + burst + 100)
        end = T + burst + int(span * H.RATE)
        rec = cap.take(until=end)
        _, l, ok = M.values(rec, "reverb_return_L", T, end, min_coverage=0.8)
        _, r, okr = M.values(rec, "reverb_return_R", T, end, min_coverage=0.8)
        ok &= okr
        assert np.all(np.isfinite(l[ok])) and np.all(np.isfinite(r[ok]))
        _, pre, okp = M.values(rec, "reverb_return_L", T - 2000, T)
        assert np.max(np.abs(pre[okp])) <= 1e-7, "reverb return not silent before the burst"
        M.need_valid(rec, T, T + burst + H.RATE // 10, "reverb: the burst and its loudest windows")
        for wms in windows_ms:
            win = wms * H.RATE // 1000
            rms = window_rms(l, r, ok, win)
            peak = float(np.nanmax(rms))
            assert peak > 1e-3, f"reverb return nearly silent (peak window rms {peak:.2e})"
            first = (burst + H.RATE // 20 + win - 1) // win  # first window from 50 ms after the burst
            below = np.nonzero(rms[first:] < peak * 1e-3)[0]
            if not len(below) and np.isnan(rms[first:]).any():
                raise M.Incomplete("reverb: the -60 dB point may lie in a capture gap")
            assert len(below), (f"{wms} ms windows: never 60 dB below the peak within {span:.1f} s "
                                f"(last {20 * np.log10(rms[-1] / peak):.1f} dB)")
            stop = first + int(below[0])
            idx = np.arange(first, stop + 1)
            idx = idx[np.isfinite(rms[idx])]  # windows fully captured
            if len(idx) < 0.8 * (stop + 1 - first):
                raise M.Incomplete(f"reverb: only {len(idx)} of {stop + 1 - first} windows captured")
            seq = rms[idx]
            rises = np.nonzero(np.diff(seq) >= 0)[0]
            assert not len(rises), (
                f"{wms} ms windows: RMS rises from window {idx[rises[0]]} to {idx[rises[0] + 1]} "
                f"({20 * np.log10(seq[rises[0]] / peak):.2f} -> {20 * np.log10(seq[rises[0] + 1] / peak):.2f} dB); "
                f"dB sequence {np.round(20 * np.log10(seq / peak), 1)}")
            # decay rate: straight-line fit of the dB sequence down to -50 dB
            dbs = 20 * np.log10(seq / peak)
            use = dbs > -50
            slope = np.polyfit(idx[use] * wms / 1000.0, dbs[use], 1)[0]
            rt60 = -60.0 / slope
            assert 0.7 * decay <= rt60 <= 1.4 * decay, f"{wms} ms windows: RT60 {rt60:.3f} s, set {decay} s"
            print(f"reverb {decay} s, {wms} ms windows: {len(seq)} falling windows to -60 dB, "
                  f"smallest fall {-np.max(np.diff(dbs)):.2f} dB, RT60 {rt60:.3f} s, "
                  f"{stop + 1 - first - len(idx)} windows in capture gaps")

    M.retry(checks)


# --------------------------------------------------------------------------
# 5. sends pre/post, group buses
# --------------------------------------------------------------------------


def test_pre_and_post_fader_sends(rig, cap, tmp_path):
    """Send 1 pre-fader at 0 dB, send 2 post-fader at -6 dB; the slot's gain,
    pan and mute change at scheduled frames: the pre send ignores gain and pan
    but is silenced by mute, the post send follows all three. Returns off, so
    the master is the dry slot alone. Checked frame by frame."""
    Lx = 1009
    x = H.noise(Lx, seed=31, amp=0.25)
    M.load(rig, 0, tmp_path, x, "n.wav")
    rig.send(0, 1, 0.0, pre=True)
    rig.send(0, 2, -6.0, pre=False)
    rig.delay(return_db=-120.0)
    rig.reverb(return_db=-120.0)
    g_post = H.db_to_lin(-6.0)
    SEG = 6000
    steps = [(-20.0, 0.0, False), (-20.0, -1.0, False), (-20.0, 0.6, False),
             (-20.0, 0.6, True), (0.0, 0.0, True), (0.0, 0.0, False), (6.0, 0.3, False)]

    def checks():
        cap.arm(len(steps) * SEG / H.RATE + 1.5)
        T = rig.ping() + AHEAD
        assert rig.play(0, at=T - 2000) == T - 2000
        model = H.SlotModel(x).play(T - 2000)
        for i, (g, p, mute) in enumerate(steps):
            t = T + i * SEG
            rig.gain(0, g, at=t)
            rig.pan(0, p, at=t)
            rig.mute(0, mute, at=t)
            model.gain(t, g).pan(t, p).mute(t, mute)
        end = T + len(steps) * SEG
        rec = cap.take(until=end)
        f = np.arange(T, end)
        master, (slot,) = H.render([model], f)
        xs = H.loop_expected(x, T - 2000, f)
        muted = np.array([model.state_at(int(t))["mute"] for t in f])
        pre = np.where(muted, 0.0, xs)
        for side, name in ((0, "L"), (1, "R")):
            exp = {f"delay_send_{name}": pre, f"reverb_send_{name}": g_post * slot[side],
                   f"out_{name}": master[side]}
            for chan, e in exp.items():
                H.compare(rec, chan, lambda fr, e=e: e[fr - T], T, end, tol=1e-6, what=chan)
        # the steps really differ: pre send equal across gains, post send not
        assert np.max(np.abs(pre)) > 0.2 and np.max(np.abs(slot[0])) > 0.01

    checks()


def test_group_bus_gain_mute_and_reassignment(rig, cap, tmp_path):
    """Slot 1 to group 3: group3_L/R carry its post-fader signal times the
    group gain, and the master carries the group; -6 dB group gain, group
    mute, then reassignment to group 5, back to the master, and a master gain
    (on out_L/R only, not on the group outs). Each segment is checked frame by
    frame once the param ramp (smooth_frames) is over."""
    Lx = 1013
    x = H.noise(Lx, seed=32, amp=0.25)
    M.load(rig, 1, tmp_path, x, "g.wav")
    rig.pan(1, 0.4)
    rig.delay(return_db=-120.0)  # the master carries the slot alone (no effect tails)
    rig.reverb(return_db=-120.0)
    N = int(rig.header.smooth_frames)
    SEG = 6000
    gl, gr = H.pan_gains(0.4)
    # (what, action at the segment start, expected gain on group3, on group5, on the master)
    g6 = H.db_to_lin(-6.0)
    plan = [
        ("direct", None, 0.0, 0.0, 1.0),
        ("group 3", lambda t: rig.group(1, 3, at=t), 1.0, 0.0, 1.0),
        ("group gain -6", lambda t: rig.group_gain(3, -6.0, at=t), g6, 0.0, g6),
        ("group mute", lambda t: rig.group_mute(3, True, at=t), 0.0, 0.0, 0.0),
        ("unmute", lambda t: rig.group_mute(3, False, at=t), g6, 0.0, g6),
        ("group 5", lambda t: rig.group(1, 5, at=t), 0.0, 1.0, 1.0),
        ("group 5 mute", lambda t: rig.group_mute(5, True, at=t), 0.0, 0.0, 0.0),
        ("direct again", lambda t: rig.group(1, None, at=t), 0.0, 0.0, 1.0),
        ("master -6", lambda t: rig.master_gain(-6.0, at=t), 0.0, 0.0, g6),
        ("group 3, master -6", lambda t: rig.group(1, 3, at=t), g6, 0.0, g6 * g6),
    ]

    def checks():
        cap.arm(len(plan) * SEG / H.RATE + 1.5)
        T = rig.ping() + AHEAD
        start = T - 2000
        assert rig.play(1, at=start) == start
        for i, (what, act, *_ ) in enumerate(plan):
            if act:
                assert act(T + i * SEG) == T + i * SEG, what
        end = T + len(plan) * SEG
        rec = cap.take(until=end)
        for i, (what, _, k3, k5, km) in enumerate(plan):
            a, b = T + i * SEG + N + 2, T + (i + 1) * SEG
            for side, pg in (("L", gl), ("R", gr)):
                dry = lambda f, pg=pg: pg * H.loop_expected(x, start, f)
                for chan, k in ((f"group3_{side}", k3), (f"group5_{side}", k5), (f"out_{side}", km)):
                    H.compare(rec, chan, lambda f, k=k, dry=dry: k * dry(f), a, b, tol=1e-6,
                              what=f"{what}: {chan}")
        # group 3 sounded (and was measured) in segments 1..4
        _, v, ok = rec.window("group3_L", T + SEG + N, T + 2 * SEG)
        assert np.max(np.abs(v[ok])) > 0.05

    checks()
