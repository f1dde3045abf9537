"""16-bit WAV, FLAC, AIFF (lossless: sample-exact against sox's own decode)
and OGG Vorbis (lossy: length and exact periodicity) load and play."""
import numpy as np
import pytest

import lrharness as H

# name, extension, sox output options, channels, frames, lossless
CASES = [
    ("wav16", "wav", None, 1, 2477, True),          # written by the harness itself
    ("flac16", "flac", ["-b", "16"], 1, 2381, True),
    ("flac24", "flac", ["-b", "24"], 2, 2683, True),
    ("aiff16", "aiff", ["-b", "16"], 1, 2203, True),
    ("aiff24", "aiff", ["-b", "24"], 2, 2609, True),
    ("ogg", "ogg", ["-C", "6"], 2, 24007, False),
]
ENGINE_OPTS = dict(slots=len(CASES), slot_outs=True)
CAPTURE_SLOTS = list(range(len(CASES)))
CH = {s: (2 + 2 * i, 3 + 2 * i) for i, s in enumerate(CAPTURE_SLOTS)}


def sox_decode(path, channels):
    """The file's samples as sox decodes them (float32, frames x channels)."""
    raw = path.with_suffix(path.suffix + ".f32")
    H.sox(path, "-t", "f32", raw)
    return np.fromfile(raw, "<f4").reshape(-1, channels)


@pytest.fixture(scope="module")
def played(rig, capture, tmp_path_factory):
    d = tmp_path_factory.mktemp("fmt")
    info = {}
    for s, (name, ext, opts, ch, L, lossless) in enumerate(CASES):
        if name == "ogg":
            t = np.arange(L) / H.RATE
            x = (0.3 * np.sin(2 * np.pi * 300 * t)[:, None] * [1, 0.5]
                 + 0.2 * np.sin(2 * np.pi * 1234 * t)[:, None] * [0.5, 1]).astype(np.float32)
        else:
            x = H.noise(L, seed=400 + s, amp=0.6, channels=ch)
        src = H.write_wav_float(d / f"{name}_src.wav", x)
        if opts is None:
            path = H.write_wav_pcm16(d / f"{name}.{ext}", x)
        else:
            path = d / f"{name}.{ext}"
            H.sox(src, *opts, path)
        dec = sox_decode(path, ch)
        res = rig.load(s, path)
        info[s] = dict(x=x, dec=dec, res=res, path=path)
    capture.arm(4)
    T = rig.ping() + 14400
    for s in range(len(CASES)):
        assert rig.play(s, at=T) == T
    end = T + 2 * max(c[4] for c in CASES) + 2000
    rec = capture.take(until=end)
    meters = rig.meters()
    H.reset_slots(rig, range(len(CASES)))
    return dict(T=T, end=end, rec=rec, info=info, meters=meters)


@pytest.mark.parametrize("slot", range(len(CASES)), ids=[c[0] for c in CASES])
def test_format_loads_and_plays(played, slot):
    name, ext, opts, ch, L, lossless = CASES[slot]
    inf = played["info"][slot]
    rec, T, end = played["rec"], played["T"], played["end"]
    assert H.soxi_frames(inf["path"]) == L, "test file has the wrong length"
    assert inf["res"].frames == L and inf["res"].source_rate == H.RATE
    assert int(H.meter_field(played["meters"], "length")[slot]) == L
    assert int(H.meter_field(played["meters"], "channels")[slot]) == ch
    if lossless:
        dec = inf["dec"]
        assert dec.shape == (L, ch)
        if opts is not None and "16" in opts:
            # 16-bit: what sox decodes is the int16 grid, not the float source
            assert np.array_equal(dec, H.to_int16(dec) / np.float32(32768))
        model = H.SlotModel(dec).play(T)
        for side in (0, 1):
            H.compare(rec, CH[slot][side],
                      lambda f, side=side: H.render([model], f)[1][0][side],
                      T - 1000, end, what=f"{name} slot out {'LR'[side]}")
    else:
        for chan in CH[slot]:
            f, v, ok = rec.window(chan, T, end)
            both = ok[:-L] & ok[L:]
            assert both.sum() > 0.4 * L
            assert np.abs(v[:-L][both].astype(np.float64) - v[L:][both]).max() <= 1e-6, (
                f"{name}: output does not repeat every {L} frames")
            _, pre, okp = rec.window(chan, T - 1000, T)
            assert np.all(pre[okp] == 0.0)
        # lossy but recognisably the same audio: level within 1 dB, correlated
        g = H.pan_gains(0.0, 1 if inf["x"].ndim == 1 or inf["x"].shape[1] == 1 else 2)[0]
        f, v, ok = rec.window(CH[slot][0], T, T + L)
        ref = inf["x"][(f - T) % L, 0] * g
        got = v.astype(np.float64)[ok]
        ref = ref[ok]
        lvl = 20 * np.log10(np.sqrt(np.mean(got ** 2)) / np.sqrt(np.mean(ref ** 2)))
        corr = np.dot(got, ref) / np.sqrt(np.dot(got, got) * np.dot(ref, ref))
        assert abs(lvl) < 1.0 and corr > 0.95, (lvl, corr)
