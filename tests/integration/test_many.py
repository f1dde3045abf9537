"""32 loops at once (the engine's default slot count): the master output is
the exact sum of the 32 expected signals, sample by sample."""
import numpy as np

import lrharness as H

ENGINE_OPTS = dict()      # default --slots (32), no per-slot outs
CAPTURE_SLOTS = []
N = 32


def test_default_has_32_slots_and_only_master_ports(rig, engine, jack_server):
    assert rig.slot_count == N
    assert rig.sample_rate == H.RATE and rig.buffer_size == H.PERIOD
    assert rig.declick_frames == 0          # --declick-ms 0
    # ping answers with the engine's current frame: the header's frame time
    # read just after it is at most a few periods later
    t = rig.ping()
    assert 0 <= rig.frame_time - t < H.RATE // 4
    mine = sorted(p for p in jack_server.ports() if p.startswith(engine.name + ":"))
    assert mine == sorted(engine.port(p) for p in ["out_L", "out_R"] + H.MIDI_PORTS), mine


def test_32_loops_sum_exactly(rig, capture, tmp_path):
    lengths = H.primes_between(3001, 4000)[:N * 3:3]
    assert len(set(lengths)) == N
    models = []
    for i, L in enumerate(lengths):
        x = H.noise(L, seed=100 + i, amp=0.02, channels=2 if i % 2 else 1)
        res = rig.load(i, H.write_wav_float(tmp_path / f"l{i:02d}.wav", x))
        assert res.frames == L
        models.append(H.SlotModel(x))
    gains = [-(i % 7) * 1.5 for i in range(N)]
    pans = np.linspace(-1.0, 1.0, N)
    for i in range(N):
        rig.gain(i, gains[i])
        rig.pan(i, float(pans[i]))
    capture.arm(6)
    T = rig.ping() + 24000
    for i, m in enumerate(models):
        m.gain(0, gains[i]).pan(0, float(pans[i]))
        t = T + 37 * i
        assert rig.play(i, at=t) == t
        m.play(t)
    end = T + 3 * H.RATE
    rec = capture.take(until=end)
    meters = rig.meters()
    state = H.meter_field(meters, "state")
    length = H.meter_field(meters, "length")
    start = H.meter_field(meters, "start_frame")
    for i in range(N):
        assert int(state[i]) == 2, f"slot {i} not playing (state {int(state[i])})"
        assert int(length[i]) == lengths[i]
        assert int(start[i]) == T + 37 * i
    try:
        n = H.check_model(rec, models, T - 2000, end, tol=1e-5, what="32 loops")
    finally:
        H.reset_slots(rig, range(N))
    assert n > 2 * H.RATE
    # all 32 contribute: dropping any one loop would be visible
    master, per = H.render(models, np.arange(T + 2000, T + 12000))
    for i, p in enumerate(per):
        assert np.abs(p).max() > 1e-4, i
