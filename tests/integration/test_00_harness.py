"""Self-test of the harness (no engine needed): the capture client records a
known source frame-exactly by absolute JACK frame time, the comparison
catches wrong samples, and the files we write are what other tools read."""
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lrharness as H

HERE = Path(__file__).resolve().parent
FAKE_L = 4999


@pytest.fixture(scope="module")
def fake_source(jack_server):
    name = H.unique_name("lrfake")
    p = subprocess.Popen([H.PYTHON, str(HERE / "fake_source.py"), jack_server.name, name,
                          str(FAKE_L), "3"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True, env=jack_server.env)
    try:
        line = p.stdout.readline()
        assert "ready" in line, f"fake source did not start: {line!r}"
        yield name
    finally:
        p.stdin.close()
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def fake_signal():
    return np.random.default_rng(3).uniform(-0.5, 0.5, FAKE_L).astype(np.float32)


def test_capture_is_frame_exact(jack_server, fake_source):
    cap = H.Capture(jack_server, [f"{fake_source}:out_L", f"{fake_source}:out_R"])
    try:
        rec = cap.record(2.0)
    finally:
        cap.close()
    x = fake_signal()
    assert rec.t1 - rec.t0 >= 1.5 * H.RATE
    n = H.compare(rec, 0, lambda f: H.loop_expected(x, 0, f), rec.t0, rec.t1, tol=0, what="L")
    n2 = H.compare(rec, 1, lambda f: -H.loop_expected(x, 0, f), rec.t0, rec.t1, tol=0, what="R")
    assert n == n2 and n >= 0.5 * (rec.t1 - rec.t0)


def test_compare_detects_errors(jack_server, fake_source):
    cap = H.Capture(jack_server, [f"{fake_source}:out_L"])
    try:
        rec = cap.record(0.5)
    finally:
        cap.close()
    x = fake_signal()
    # one frame off in time
    with pytest.raises(AssertionError, match="differ"):
        H.compare(rec, 0, lambda f: H.loop_expected(x, 1, f), rec.t0, rec.t1)
    # a tiny gain error
    with pytest.raises(AssertionError, match="differ"):
        H.compare(rec, 0, lambda f: H.loop_expected(x, 0, f) * 1.0001, rec.t0, rec.t1, tol=1e-6)
    # a single corrupted sample is found
    rec.data[0, 1000] += 1e-5
    with pytest.raises(AssertionError, match="1 of"):
        H.compare(rec, 0, lambda f: H.loop_expected(x, 0, f), rec.t0, rec.t1, tol=1e-6)
    # coverage: nothing captured is not a pass
    rec.valid[:] = False
    with pytest.raises(AssertionError, match="captured"):
        H.compare(rec, 0, lambda f: H.loop_expected(x, 0, f), rec.t0, rec.t1)


def test_recording_reports_gaps():
    data = np.zeros((1, 1024), np.float32)
    valid = np.ones(1024, bool)
    valid[256:512] = False
    rec = H.Recording(1000, data, valid, ["a"], 3, 0)
    assert rec.gaps() == [(1256, 1512)]


def test_wav_writers_roundtrip(tmp_path):
    x = H.noise(1001, seed=5, amp=0.9, channels=2)
    f = H.write_wav_float(tmp_path / "f.wav", x, rate=44100)
    y, r = H.read_wav_float(f)
    assert r == 44100 and np.array_equal(y, x)
    assert H.soxi_frames(f) == 1001
    # sox decodes our float WAV to the same samples
    H.sox(f, "-t", "f32", "-e", "floating-point", tmp_path / "raw.f32")
    raw = np.fromfile(tmp_path / "raw.f32", "<f4").reshape(-1, 2)
    assert np.allclose(raw, x, rtol=0, atol=1e-7)  # sox works in 32-bit integers
    p = H.write_wav_pcm16(tmp_path / "p.wav", x[:, 0], rate=96000)
    y, r = H.read_wav_float(p)
    assert r == 96000 and np.array_equal(y[:, 0], H.to_int16(x[:, 0]) / np.float32(32768))
    assert H.soxi_frames(p) == 1001
    # a lossless sox conversion keeps 16-bit samples exactly
    H.sox(p, tmp_path / "p.flac")
    H.sox(tmp_path / "p.flac", "-t", "s16", tmp_path / "p.s16")
    assert np.array_equal(np.fromfile(tmp_path / "p.s16", "<i2"), H.to_int16(x[:, 0]))


def test_bad_files_are_bad(tmp_path):
    bad = H.make_bad_files(tmp_path)
    assert not bad["missing"].exists()
    assert bad["empty"].stat().st_size == 0
    for k in ("text", "truncated_header", "empty"):
        r = subprocess.run(["soxi", str(bad[k])], capture_output=True)
        assert r.returncode != 0, k
    assert H.soxi_frames(bad["zero_frames"]) == 0
