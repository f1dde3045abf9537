"""The JACK server changes under the engine: buffer size changes keep it
playing; a server that goes away ends it with a clear message (exit code 2),
its segment removed and attached clients told the engine is gone.
Each test runs its own jackd, since they change or stop it."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

import lrharness as H


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_buffer_size_changes_keep_the_engine_playing(looprig_mod, tmp_path):
    server = H.JackServer().start()
    engine = H.Engine(server, slots=4)
    try:
        engine.start()
        with looprig_mod.attach(name=engine.name) as rig:
            rig.load(0, H.write_wav_float(tmp_path / "n.wav", H.noise(4801, 3)))
            rig.play(0)
            for size in (1024, 64, 256):
                r = subprocess.run(["jack_bufsize", str(size)], env=server.env, capture_output=True,
                                   text=True, timeout=20)
                assert r.returncode == 0, r.stdout + r.stderr
                _wait_for(lambda: rig.buffer_size == size, 5, f"buffer size {size}")
                _wait_for(lambda: rig.meters().nframes == size, 5, f"periods of {size} frames")
                before = rig.heartbeat
                _wait_for(lambda: rig.heartbeat > before + 20, 5, "periods after the change")
                m = rig.meters()
                assert m.state[0] == 2 and m.master_peak.max() > 0.1, "the loop must keep playing"
                # The playhead still follows frame time exactly: (frame - start) mod L.
                assert int(m.playhead[0]) == (int(m.frame_time) + size - int(m.start_frame[0])) % 4801
            assert engine.alive()
    finally:
        engine.stop(check=True)
        server.stop()


def test_server_going_away_ends_the_engine_clearly(looprig_mod):
    server = H.JackServer().start()
    engine = H.Engine(server, slots=4)
    engine.start()
    shm = Path("/dev/shm") / looprig_mod.segment_name(engine.name).lstrip("/")
    try:
        assert shm.exists()
        rig = looprig_mod.attach(name=engine.name)
        server.stop()  # SIGTERM: the server closes and tells its clients
        engine.proc.wait(10)
        assert engine.proc.returncode == 2
        err = engine.stderr()
        assert "JACK server went away" in err, err
        assert not shm.exists(), "the engine must remove its segment"
        with pytest.raises(looprig_mod.EngineNotRunning):
            rig.ping(timeout=2)
        rig.close()
    finally:
        engine.stop(check=False)
        server.stop()
