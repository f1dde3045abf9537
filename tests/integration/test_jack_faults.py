"""The JACK server changes under the engine: buffer size changes keep it
playing; a server that goes away and comes back finds the engine reconnecting
with the same loops, settings, playing states and port connections (also one
made or undone just before the loss), its timeline, beat and schedule going
on from where they were; with --exit-on-jack-loss the engine ends instead,
with a clear message (exit code 2), its segment removed and attached clients
told the engine is gone. An engine named like a JACK server refuses to start
(a JACK2 client of that name makes the server unreachable).
Each test runs its own jackd, since they change or stop it."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
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


def test_exit_on_jack_loss_ends_the_engine_clearly(looprig_mod):
    server = H.JackServer().start()
    engine = H.Engine(server, slots=4, extra=["--exit-on-jack-loss"])
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


def _kill_server(server, how: str, rig, what: str = "engine_state JACK_LOST"):
    """Stop the JACK server (SIGTERM: it tells its clients; SIGKILL: it just
    dies, and its restart under the same name frees its place) and wait
    until the engine says it lost it."""
    if how == "sigterm":
        server.stop()
    else:
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
    _wait_for(lambda: rig.header.engine_state == 3, 10, what)


def _jack_connections(server, port):
    r = subprocess.run(["jack_lsp", "-c", port], env=server.env, capture_output=True, text=True, timeout=10)
    return [l.strip() for l in r.stdout.splitlines()[1:] if l.startswith((" ", "\t"))]


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_server_restart_engine_reconnects_with_its_loops(looprig_mod, tmp_path, how):
    """16 loops play with their own gains, pans, mute, a stopped slot and a
    filter; out_L is patched to system:playback_1. The server is stopped
    (SIGTERM, or SIGKILL) and started again under the same name: the engine
    says so, keeps running, reconnects on its own, restores its connection, and
    plays the same loops with the same settings and states. Slot 0 (a ramp,
    so that every loop frame is unique) is then checked sample by sample on
    its slot out: frame f of the timeline plays loop frame (f - start) mod L."""
    lr = looprig_mod
    server = H.JackServer().start()
    engine = H.Engine(server, slots=16, slot_outs=True)
    L0 = 4801
    try:
        engine.start()
        rig = lr.attach(name=engine.name)
        rig.load(0, H.write_wav_float(tmp_path / "ramp.wav", (np.arange(L0) / L0 * 0.5).astype(np.float32)))
        for i in range(1, 16):
            rig.load(i, H.write_wav_float(tmp_path / f"n{i}.wav", H.noise(3001 + 10 * i, i, amp=0.05)))
            rig.gain(i, -(i % 7) * 2.0)
            rig.pan(i, (i % 5 - 2) / 2.0)
        rig.highpass(3, freq=250.0)
        rig.fx_send(4, "reverb", -12.0)
        t = rig.frame_time + 4800
        for i in range(16):
            rig.play(i, at=t)
        rig.mute(5, True)
        rig.stop(6)
        subprocess.run(["jack_connect", engine.port("out_L"), "system:playback_1"], env=server.env,
                       check=True, timeout=10)
        time.sleep(0.5)
        before = rig.meters()
        start0 = int(before.start_frame[0])
        assert _jack_connections(server, engine.port("out_L")) == ["system:playback_1"]

        _kill_server(server, how, rig)
        assert engine.alive(), engine.stderr()
        assert "the JACK server went away" in engine.stderr()
        time.sleep(1.0)
        assert engine.alive(), "the engine must wait for the server, not exit"

        server.start()
        _wait_for(lambda: rig.header.engine_state == 1, 15, "engine_state RUNNING after the restart")
        hb = rig.heartbeat
        _wait_for(lambda: rig.heartbeat > hb + 2, 10, "periods after the reconnection")
        _assert_timeline_continues(before, rig.meters(), server.rate)
        hb = rig.heartbeat
        _wait_for(lambda: rig.heartbeat > hb + 50, 10, "periods after the reconnection")
        assert "reconnected" in engine.stderr()
        _wait_for(lambda: _jack_connections(server, engine.port("out_L")) == ["system:playback_1"], 5,
                  "out_L patched to system:playback_1 again")

        after = rig.meters()
        for field in ("state", "gain_db", "pan", "flags", "length"):
            b, a = getattr(before, field), getattr(after, field)
            assert np.array_equal(np.asarray(b), np.asarray(a)), (field, b, a)
        assert int(after.start_frame[0]) == start0
        assert rig.param_value("hp-freq", slot=3) == 250.0 and rig.param_value("hp-on", slot=3) == 1.0
        assert after.frame_time > before.frame_time, "the timeline never goes back"
        offset = int(rig.header.jack_frame_offset)

        cap = H.Capture(server, [H.slot_port(engine.name, 0, "L", 16)])
        try:
            rec = cap.record(1.0)
        finally:
            cap.close()
        f, y, ok = rec.window(0)
        assert ok.sum() > 0.5 * len(ok), "at least half a second captured"
        # The engine's frame = JACK's frame time + jack_frame_offset (its published rule).
        timeline = (f[ok].astype(np.uint64) + np.uint64(offset)).astype(np.int64)
        want = ((timeline - start0) % L0) / L0 * 0.5 * H.pan_gains(0.0)[0]
        np.testing.assert_allclose(y[ok], want.astype(np.float32), atol=1e-6)
        # A command after the reconnection is answered as before.
        assert rig.gain(1, -3.0) > 0
        rig.close()
    finally:
        engine.stop(check=True)
        server.stop()


def _assert_timeline_continues(before, resumed, rate):
    """The first meters on the restarted server continue the timeline from the
    last ones on the old one: frame and beat moved on only by what JACK played
    (well under a second here), not by the new server's counter."""
    gap = int(resumed.frame_time) - int(before.frame_time)
    assert 0 < gap < rate, (f"frame {int(before.frame_time)} before the loss, {int(resumed.frame_time)} "
                            f"after the restart: the timeline must continue where it was")
    beats = gap / rate * float(before.tempo_bpm) / 60.0
    assert float(resumed.beat) == pytest.approx(float(before.beat) + beats, abs=1e-6), \
        (float(before.beat), float(resumed.beat))


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_server_restart_timeline_beat_and_schedule_continue(looprig_mod, tmp_path, how):
    """A loop plays, another is scheduled 2 s ahead; the server dies and is
    started again. Frame time and beat (meters, status) go on from where they
    were (they used to jump by up to 2^32 frames: beat 178679.89 after 15);
    the playing loop keeps its start and phase, the scheduled one starts at
    its frame of the timeline; jack_frame_offset maps JACK's frame time to the
    engine's, and commands with a frame computed from frame_time still work."""
    import jack

    lr = looprig_mod
    server = H.JackServer().start()
    engine = H.Engine(server, slots=4)
    L = 4801
    rate = server.rate
    try:
        engine.start()
        rig = lr.attach(name=engine.name)
        rig.load(0, H.write_wav_float(tmp_path / "n0.wav", H.noise(L, 1, amp=0.2)))
        rig.load(1, H.write_wav_float(tmp_path / "n1.wav", H.noise(3001, 2, amp=0.2)))
        start0 = rig.play(0)
        time.sleep(1.0)
        at = rig.frame_time + 2 * rate
        assert rig.play(1, at=at) == at
        before = rig.meters()
        assert before.state[1] != 2 and before.beat > 1.0
        _kill_server(server, how, rig)
        time.sleep(0.5)
        server.start()
        _wait_for(lambda: rig.header.engine_state == 1, 15, "engine_state RUNNING after the restart")
        hb = rig.heartbeat
        _wait_for(lambda: rig.heartbeat > hb + 2, 10, "periods after the reconnection")
        resumed = rig.meters()
        _assert_timeline_continues(before, resumed, rate)
        st = rig.status()["meters"]  # what `looprig status` prints
        assert 0 < int(st["frame_time"]) - int(before.frame_time) < 2 * rate, (int(before.frame_time), st)
        assert 0 < float(st["beat"]) - float(before.beat) < 4.0, (float(before.beat), st["beat"])

        # The playing loop goes on at its phase: playhead = (end of period - start) mod L.
        assert resumed.state[0] == 2 and int(resumed.start_frame[0]) == start0
        assert int(resumed.playhead[0]) == (int(resumed.frame_time) + int(resumed.nframes) - start0) % L
        # The scheduled start is still ahead on the timeline, and happens at its frame.
        assert int(resumed.frame_time) < at and resumed.state[1] != 2
        _wait_for(lambda: rig.meters().state[1] == 2, 10, "slot 1 playing at its scheduled frame")
        m = rig.meters()
        assert int(m.start_frame[1]) == at
        assert int(m.frame_time) >= at
        assert m.master_peak.max() > 0.05, "the loops are heard"

        # JACK's frame time of the new server = (frame - jack_frame_offset) mod 2^32.
        offset = int(rig.header.jack_frame_offset)
        assert offset != 0, "the new server's counter started again: the engine's frames differ from JACK's"
        probe = jack.Client(H.unique_name("lrprobe"), servername=server.name, no_start_server=True)
        try:
            probe.activate()
            jack_now = probe.frame_time      # JACK's estimate of the current frame
            engine_now = rig.frame_time     # start of the engine's current period
        finally:
            probe.deactivate()
            probe.close()
        d = (jack_now - (engine_now - offset)) % 2**32
        assert d < rate // 4, f"JACK frame {jack_now}, engine frame {engine_now} - offset {offset}: {d} frames apart"
        # A frame computed from frame_time after the restart is the engine's frame.
        t = rig.frame_time + rate // 2
        assert rig.play(0, at=t) == t
        _wait_for(lambda: int(rig.meters().start_frame[0]) == t and rig.frame_time > t, 5, "the replay at t")
        rig.close()
    finally:
        engine.stop(check=True)
        server.stop()


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_connections_changed_just_before_the_server_dies_are_as_they_were(looprig_mod, how):
    """out_L and out_R are patched to system:playback_1 long before the loss;
    0.2 s before it, out_L is also patched to playback_2 and out_R unpatched.
    After the restart the engine restores exactly that (it used to poll its
    connections once a second, and lost what changed in the last second)."""
    import jack

    server = H.JackServer().start()
    engine = H.Engine(server, slots=2)
    try:
        engine.start()
        rig = looprig_mod.attach(name=engine.name)
        L, R = engine.port("out_L"), engine.port("out_R")
        for a, b in ((L, "system:playback_1"), (R, "system:playback_1")):
            subprocess.run(["jack_connect", a, b], env=server.env, check=True, timeout=10)
        time.sleep(2.5)
        patch = jack.Client(H.unique_name("lrpatch"), servername=server.name, no_start_server=True)
        patch.connect(L, "system:playback_2")   # done when it returns (the server answered)
        patch.disconnect(R, "system:playback_1")
        time.sleep(0.2)
        _kill_server(server, how, rig)
        patch.close()
        time.sleep(0.3)
        server.start()
        _wait_for(lambda: rig.header.engine_state == 1, 15, "engine_state RUNNING after the restart")
        _wait_for(lambda: "restored 2 connections" in engine.stderr(), 5, "the engine's 'restored 2 connections'")
        assert sorted(_jack_connections(server, L)) == ["system:playback_1", "system:playback_2"]
        assert _jack_connections(server, R) == [], "out_R was unpatched before the loss"
        # Still tracked after the restart: a change now is what the next restart restores.
        patch = jack.Client(H.unique_name("lrpatch"), servername=server.name, no_start_server=True)
        patch.disconnect(L, "system:playback_2")
        time.sleep(0.2)
        _kill_server(server, "sigkill", rig, "engine_state JACK_LOST (second loss)")
        patch.close()
        server.start()
        _wait_for(lambda: rig.header.engine_state == 1, 15, "engine_state RUNNING after the second restart")
        _wait_for(lambda: "restored 1 connections" in engine.stderr(), 5, "the engine's 'restored 1 connections'")
        assert _jack_connections(server, L) == ["system:playback_1"]
        assert _jack_connections(server, R) == []
        rig.close()
    finally:
        engine.stop(check=True)
        server.stop()


def _run_refused_engine(server, name):
    """looprigd --name NAME on SERVER: it must exit by itself; if it runs, stop it and fail."""
    proc = subprocess.Popen([str(H.engine_binary()), "--name", name, "--slots", "2"], env=server.env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(H.REPO))
    try:
        out, err = proc.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"looprigd --name {name} ran instead of refusing the name:\n{out}\n{err}")
    return proc.returncode, out, err


def _server_reachable(server):
    r = subprocess.run(["jack_lsp"], env=server.env, capture_output=True, text=True, timeout=10)
    return r.returncode == 0 and "system:playback_1" in r.stdout


def test_engine_refuses_the_name_of_a_jack_server(looprig_mod):
    """looprigd --name X on a jackd named X (and on another server while one
    named X runs) exits 1 with a clear message, before connecting: JACK2 would
    replace X's socket with the client's, and no other client could connect
    to X again. Afterwards other clients still connect to X."""
    server = H.JackServer().start()
    other = H.JackServer().start()
    try:
        assert _server_reachable(server) and _server_reachable(other)
        rc, out, err = _run_refused_engine(server, server.name)
        assert rc == 1, (rc, out, err)
        assert f"the engine name '{server.name}' is the JACK server's name" in err, err
        assert "choose another --name" in err and "ready" not in out
        assert _server_reachable(server), "the server must still accept clients"
        assert not (Path("/dev/shm") / f"looprig-{os.getuid()}-{server.name}").exists(), "no segment left"

        rc, out, err = _run_refused_engine(server, other.name)  # connects to `server`, named like `other`
        assert rc == 1, (rc, out, err)
        assert "is the name of a JACK server running on this machine" in err, err
        assert _server_reachable(other) and _server_reachable(server)
    finally:
        other.stop()
        server.stop()
