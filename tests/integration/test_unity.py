"""A loaded loop plays as the file sounds: a stereo file at the default
settings (gain 0 dB, pan 0, no effects, the default 2 ms declick) reaches the
master and its slot outs bit-identical to the file from its first frame on
(a start at the loop's frame 0 is not faded in), captured through JACK;
stereo pan is a balance; mono sources follow --pan-law (this engine: -6)."""
import numpy as np
import pytest

import lrharness as H

# "--declick-ms 2" overrides the harness's 0: the engine's default ramp.
ENGINE_OPTS = dict(slots=4, slot_outs=True, extra=["--declick-ms", "2", "--pan-law", "-6"])
CAPTURE_SLOTS = [0, 1, 2]
CH = {s: (2 + 2 * i, 3 + 2 * i) for i, s in enumerate(CAPTURE_SLOTS)}
AHEAD = 19200


@pytest.fixture(autouse=True)
def _clean(rig):
    H.reset_slots(rig, range(4))
    yield
    H.reset_slots(rig, range(4))


def play_and_capture(rig, capture, slot, loops):
    capture.arm(loops + 2)
    T = rig.ping() + AHEAD
    assert rig.play(slot, at=T) == T
    return T


def exact_frames(rec, chan, want_of, start, end):
    """Frames in [start, end) captured on `chan`, and whether every one of
    them equals want_of(frame) to the bit."""
    f, v, ok = rec.window(chan, start, end)
    got = v[ok]
    want = want_of(f[ok]).astype(np.float32)
    bad = np.flatnonzero(got != want)
    detail = "" if bad.size == 0 else (
        f"{bad.size} of {got.size} frames differ; first at frame {f[ok][bad[0]]}: "
        f"{got[bad[0]]!r} != {want[bad[0]]!r}")
    return int(ok.sum()), detail


@pytest.mark.parametrize("encoding", ["float", "pcm16"])
def test_stereo_file_at_default_settings_is_bit_identical_on_master_and_slot_outs(rig, capture, tmp_path, encoding):
    L = 4999
    x = H.noise(L, seed=70, amp=0.5, channels=2)
    if encoding == "float":
        path = H.write_wav_float(tmp_path / "st.wav", x)
        ref = x.astype(np.float32)
    else:
        path = H.write_wav_pcm16(tmp_path / "st16.wav", x)
        ref = (H.to_int16(x).astype(np.float64) / 32768.0).astype(np.float32)  # what the file holds
    assert rig.load(0, path).frames == L
    T = play_and_capture(rig, capture, 0, 1)
    end = T + 8 * L
    rec = capture.take(until=end)
    rig.stop(0)
    for name, chans in (("master", (0, 1)), ("slot out", CH[0])):
        for side in (0, 1):
            n, detail = exact_frames(rec, chans[side], lambda f: ref[(f - T) % L, side], T, end)
            assert n > 4 * L, f"{name} {'LR'[side]}: only {n} frames captured"
            assert not detail, f"{name} {'LR'[side]}: {detail}"
    # The meters agree: the slot's and the master's peak hold are the file's peak.
    m = rig.meters()
    for side in (0, 1):
        peak = float(np.abs(ref[:, side]).max())
        assert float(H.meter_field(m, "peak_hold")[0][side]) == pytest.approx(peak, abs=1e-7)


def test_stereo_pan_is_a_balance(rig, capture, tmp_path):
    L = 3001
    x = H.noise(L, seed=71, amp=0.5, channels=2)
    assert rig.load(1, H.write_wav_float(tmp_path / "bal.wav", x)).frames == L
    rig.pan(1, 0.5)  # right: the right channel untouched, the left at cos(pi/4)
    T = play_and_capture(rig, capture, 1, 1)
    end = T + 6 * L
    rec = capture.take(until=end)
    n, detail = exact_frames(rec, CH[1][1], lambda f: x[(f - T) % L, 1], T, end)
    assert n > 3 * L and not detail, detail
    f, v, ok = rec.window(CH[1][0], T, end)
    want = x[(f[ok] - T) % L, 0] * np.cos(np.pi / 4)
    assert np.abs(v[ok] - want).max() < 1e-7
    gl, gr = H.pan_gains(0.5, channels=2)
    assert (gl, gr) == (pytest.approx(np.cos(np.pi / 4)), 1.0)


def test_mono_source_follows_the_selected_pan_law(rig, capture, tmp_path):
    """--pan-law -6: a centred mono file is x/2 on both channels (constant
    amplitude), and panned hard left x on the left, silence on the right."""
    L = 2003
    x = H.noise(L, seed=72, amp=0.5)
    assert rig.load(2, H.write_wav_float(tmp_path / "mono.wav", x)).frames == L
    T = play_and_capture(rig, capture, 2, 1)
    end = T + 5 * L
    rec = capture.take(until=end)
    for side in (0, 1):
        f, v, ok = rec.window(CH[2][side], T, end)
        assert ok.sum() > 2 * L
        assert np.abs(v[ok] - x[(f[ok] - T) % L] * 0.5).max() < 1e-7
    assert H.pan_gains(0.0, channels=1, law=-6.0)[0] == pytest.approx(0.5)
