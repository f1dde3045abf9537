"""Sample-exact timing: periodic playback, scheduled start/stop, several
commands in one frame, quantized launch (frames:N, slot:K).

Every check compares the engine's real output, captured through JACK, with
the contract's formula at each absolute JACK frame."""
import math

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=8, slot_outs=True)
CAPTURE_SLOTS = [0, 1, 2, 3]
# channel indices in the capture: master L/R = 0/1, then slot s -> 2+2i, 3+2i
CH = {s: (2 + 2 * i, 3 + 2 * i) for i, s in enumerate(CAPTURE_SLOTS)}
AHEAD = 14400  # 0.3 s: how far ahead scheduled commands are placed
G0 = H.pan_gains(0.0)[0]  # mono source, centre pan: -3 dB on each side (stereo sources: unity)


@pytest.fixture(autouse=True)
def _clean(rig):
    H.reset_slots(rig, range(8))
    yield
    H.reset_slots(rig, range(8))


def load(rig, slot, path, L, rate=48000):
    res = rig.load(slot, path)
    assert res.frames == L, f"LoadResult.frames {res.frames} != {L}"
    assert res.source_rate == rate
    return res


def test_odd_prime_loop_is_sample_exact_periodic(rig, capture, tmp_path):
    L = 4999
    x = H.noise(L, seed=11, amp=0.5, channels=2)
    load(rig, 0, H.write_wav_float(tmp_path / "p4999.wav", x), L)
    capture.arm(8)
    T = rig.ping() + AHEAD
    assert rig.play(0, at=T) == T
    end = T + 6 * H.RATE  # ~57 cycles
    rec = capture.take(until=end)
    m = rig.meters()
    assert int(H.meter_field(m, "length")[0]) == L
    assert int(H.meter_field(m, "start_frame")[0]) == T
    model = H.SlotModel(x).play(T)
    n = H.check_model(rec, [model], max(rec.t0, T - 4096), end, {0: CH[0]}, what="loop")
    _, _, ok = rec.window(0, T, end)
    assert ok.sum() >= 3 * L, "fewer than 3 cycles captured"
    # left and right are different signals: a swap or a one-channel shift fails
    assert not np.allclose(x[:, 0], x[:, 1])
    assert n > 0


def test_scheduled_start_begins_exactly_at_frame(rig, capture, tmp_path):
    L = 3001
    x = H.noise(L, seed=12, amp=0.5)
    x[0] = 0.4375  # unmistakable first sample
    load(rig, 1, H.write_wav_float(tmp_path / "p3001.wav", x), L)
    for tries in range(3):
        capture.arm(3)
        now = rig.ping()
        T = now + 20 * H.PERIOD + 1234
        if T % H.PERIOD == 0:
            T += 1
        assert rig.play(1, at=T) == T
        rec = capture.take(until=T + 3 * L)
        rig.stop(1)
        i = T - rec.t0
        if (rec.t0 < T - 1 and rec.valid[i - 1] and rec.valid[i]
                and rec.valid[:i].sum() >= 10 * H.PERIOD):
            break
    else:
        pytest.fail("frames T-1 and T (and 10 periods before T) never captured in 3 tries")
    model = H.SlotModel(x).play(T)
    H.check_model(rec, [model], rec.t0, T + 3 * L, {0: CH[1]}, what="start")
    slot_l = CH[1][0]
    assert rec.data[slot_l, i - 1] == 0.0
    assert rec.data[slot_l, i] == pytest.approx(0.4375 * G0, abs=1e-7)
    assert rec.data[0, i] == pytest.approx(0.4375 * G0, abs=1e-7)
    # zeros before T really were observed (>= 10 periods of them)
    assert np.all(rec.data[:, :i][:, rec.valid[:i]] == 0.0)


def test_stop_at_frame_gives_exact_zeros_and_play_restarts_from_loop_start(rig, capture, tmp_path):
    L = 2999
    x = H.noise(L, seed=13, amp=0.5, channels=2)
    load(rig, 2, H.write_wav_float(tmp_path / "p2999.wav", x), L)
    capture.arm(4)
    T = rig.ping() + AHEAD
    S = T + 3 * L + 777          # mid-period, mid-loop
    T2 = S + 5000 + 13
    assert rig.play(2, at=T) == T
    assert rig.stop(2, at=S) == S
    assert rig.play(2, at=T2) == T2
    end = T2 + 3 * L
    rec = capture.take(until=end)
    model = H.SlotModel(x).play(T).stop(S).play(T2)
    H.check_model(rec, [model], T - 2000, end, {0: CH[2]}, what="stop/restart")
    # the silent stretch is exact zeros and was captured
    _, v, ok = rec.window(CH[2][0], S, T2)
    assert ok.sum() > 0.5 * (T2 - S) and np.all(v[ok] == 0.0)
    # frame S-1 is loop frame (S-1-T) % L, frame T2 is loop frame 0
    for f, want in ((S - 1, x[(S - 1 - T) % L, 0]), (T2, x[0, 0])):  # stereo at centre: unity
        if rec.valid[f - rec.t0]:
            assert rec.data[CH[2][0], f - rec.t0] == pytest.approx(want, abs=1e-7)


def test_play_on_playing_slot_restarts_from_loop_start(rig, capture, tmp_path):
    L = 4001
    x = H.noise(L, seed=14, amp=0.5, channels=2)
    load(rig, 3, H.write_wav_float(tmp_path / "re.wav", x), L)
    capture.arm(3)
    T = rig.ping() + AHEAD
    T1 = T + L + 1500 + 7          # mid-loop, mid-period
    assert rig.play(3, at=T) == T
    assert rig.play(3, at=T1) == T1
    end = T1 + 2 * L
    rec = capture.take(until=end)
    model = H.SlotModel(x).play(T).play(T1)
    H.check_model(rec, [model], T - 1000, end, {0: CH[3]}, what="restart")
    assert int(H.meter_field(rig.meters(), "start_frame")[3]) == T1


def test_commands_with_same_at_take_effect_in_same_frame(rig, capture, tmp_path):
    Ls = [2003, 2011, 2017, 2027]
    xs = [H.noise(L, seed=20 + i, amp=0.3) for i, L in enumerate(Ls)]
    for s, (L, x) in enumerate(zip(Ls, xs)):
        load(rig, s, H.write_wav_float(tmp_path / f"s{s}.wav", x), L)
    capture.arm(4)
    T0 = rig.ping() + AHEAD
    models = [H.SlotModel(x) for x in xs]
    for s in (2, 3):
        assert rig.play(s, at=T0) == T0
        models[s].play(T0)
    T = T0 + 2 * H.RATE // 3 + 101   # not on a period boundary
    assert rig.play(0, at=T) == T
    assert rig.play(1, at=T) == T
    rig.gain(2, -6.0, at=T)
    rig.pan(2, 0.5, at=T)
    assert rig.stop(3, at=T) == T
    rig.gain(1, -12.0, at=T)         # same frame as its start
    models[0].play(T)
    models[1].play(T).gain(T, -12.0)
    models[2].gain(T, -6.0).pan(T, 0.5)
    models[3].stop(T)
    end = T + H.RATE
    rec = capture.take(until=end)
    H.check_model(rec, models, T0 - 1000, end, {s: CH[s] for s in range(4)}, what="same-at")
    # the frames around T (where all five changes land) were really captured
    i = T - rec.t0
    assert rec.valid[i - 1] and rec.valid[i], "capture gap exactly at T: nothing to judge"


def test_quantize_frames_starts_on_multiple(rig, capture, tmp_path):
    N = 10007  # prime, not a multiple of the period
    L = 1499
    x = H.noise(L, seed=30, amp=0.5)
    load(rig, 0, H.write_wav_float(tmp_path / "q.wav", x), L)
    model = H.SlotModel(x)
    capture.arm(6)
    # (a) no `at`: the next multiple of N from now
    before = rig.ping()
    F1 = rig.play(0, quantize=f"frames:{N}")
    after = rig.ping()
    assert F1 % N == 0, F1
    assert before <= F1 <= after + N, (before, F1, after)
    model.play(F1)
    # (b) stop quantized after an `at`: ceil(at / N) * N
    A = F1 + N + 17
    S1 = rig.stop(0, at=A, quantize=f"frames:{N}")
    assert S1 == math.ceil(A / N) * N == F1 + 2 * N
    model.stop(S1)
    capture.wait_until(S1 + 256)
    # (c) `at` exactly on a multiple: starts there
    A = (rig.ping() // N + 2) * N
    F3 = rig.play(0, at=A, quantize=f"frames:{N}")
    assert F3 == A
    model.play(F3)
    # (d) `at` one frame past a multiple: the next one
    S3 = rig.stop(0, at=F3 + N + 1, quantize=("frames", N))
    assert S3 == F3 + 2 * N
    model.stop(S3)
    end = S3 + 3000
    rec = capture.take(until=end)
    H.check_model(rec, [model], max(rec.t0, F1 - 5000), end, {0: CH[0]}, what="frames:N")
    for f in (F1, F3):
        j = f - rec.t0
        if rec.valid[j - 1] and rec.valid[j]:
            assert rec.data[CH[0][0], j - 1] == 0.0
            assert rec.data[CH[0][0], j] == pytest.approx(x[0] * G0, abs=1e-7)


def test_quantize_slot_starts_on_loop_start_of_other_slot(rig, capture, tmp_path):
    LK = 4999
    LJ = 1201
    xk = H.noise(LK, seed=40, amp=0.3)
    xj = H.noise(LJ, seed=41, amp=0.3)
    load(rig, 0, H.write_wav_float(tmp_path / "k.wav", xk), LK)
    load(rig, 1, H.write_wav_float(tmp_path / "j.wav", xj), LJ)
    mk, mj = H.SlotModel(xk), H.SlotModel(xj)
    capture.arm(6)
    S = rig.ping() + AHEAD + 333
    assert rig.play(0, at=S) == S
    mk.play(S)
    capture.wait_until(S + LK + 700)
    # (a) no `at`: the next loop start of slot 0 after now
    before = rig.ping()
    F = rig.play(1, quantize="slot:0")
    assert (F - S) % LK == 0, (F, S)
    assert before <= F <= before + LK + 4 * H.PERIOD, (before, F)
    mj.play(F)
    # (b) quantized stop of slot 1 on slot 0's grid, after an `at`
    A = F + 2 * LK + 1
    E = rig.stop(1, at=A, quantize="slot:0")
    assert E == S + math.ceil((A - S) / LK) * LK == F + 3 * LK
    mj.stop(E)
    # (c) slot 0 stops at its own loop start: whole cycles only
    A2 = E + 100
    E0 = rig.stop(0, at=A2, quantize="slot:0")
    assert E0 == E + LK
    mk.stop(E0)
    end = E0 + 3000
    rec = capture.take(until=end)
    H.check_model(rec, [mk, mj], S - 2000, end, {0: CH[0], 1: CH[1]}, what="slot:K")


def test_long_run_no_drift(rig, capture, tmp_path):
    """Two loops (one resampled from 44.1 kHz, so its length is not a
    'nice' number) stay sample-exact for LOOPRIG_IT_LONG seconds (default 20)."""
    import os
    seconds = float(os.environ.get("LOOPRIG_IT_LONG", "20"))
    L1 = 7001
    x1 = H.noise(L1, seed=90, amp=0.3, channels=2)
    assert rig.load(0, H.write_wav_float(tmp_path / "long1.wav", x1)).frames == L1
    # a 44.1 kHz file: learn its 48 kHz rendering from the engine's own slot
    # output during the first cycles, then hold it to exact repetition
    L2src = 3001
    P2 = int(L2src * 48000 / 44100 + 0.5)
    x2 = H.noise(L2src, seed=91, amp=0.3)
    assert rig.load(1, H.write_wav_float(tmp_path / "long2.wav", x2, rate=44100)).frames == P2
    capture.arm(seconds + 3)
    T = rig.ping() + AHEAD
    assert rig.play(0, at=T) == T
    assert rig.play(1, at=T + 17) == T + 17
    end = T + int(seconds * H.RATE)
    rec = capture.take(until=end)
    # slot 1's output: the P2-frame rendering, from whichever cycle captured each phase
    f, v, ok = rec.window(CH[1][0], T + 17, end)
    ph = (f - (T + 17)) % P2
    y2 = np.full(P2, np.nan)
    y2[ph[ok][::-1]] = v[ok][::-1]          # first captured occurrence of each phase
    assert not np.isnan(y2).any()
    fR, vR, okR = rec.window(CH[1][1], T + 17, end)
    y2r = np.full(P2, np.nan)
    y2r[ph[okR][::-1]] = vR[okR][::-1]
    m1 = H.SlotModel(x1).play(T)
    # what slot 1 put out, as a stereo model (unity at centre: it plays y2 as it was captured)
    m2 = H.SlotModel(np.stack([y2, y2r], 1)).play(T + 17)
    n = H.check_model(rec, [m1, m2], T - 2000, end, {0: CH[0], 1: CH[1]}, tol=2e-6,
                      what=f"{seconds:.0f} s run")
    assert n > 0.5 * (end - T)
