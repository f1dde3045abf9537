"""API tests of the looprig package against the real engine on a private jackd."""

from __future__ import annotations

import json
import math
import os
import signal
import threading
import time

import pytest

import looprig
from looprig import CommandRejected, EngineNotRunning, LooprigError, RingFull, Timeout
from conftest import PERIOD, RATE, require_library, sigstop

np = pytest.importorskip("numpy")


def meters_when(rig, pred, timeout=3.0):
    """Poll meter snapshots until ``pred(m)`` holds (the engine publishes every period)."""
    deadline = time.monotonic() + timeout
    while True:
        m = rig.meters()
        if pred(m) or time.monotonic() > deadline:
            return m
        time.sleep(0.005)


# -- no engine needed ---------------------------------------------------------

@pytest.mark.parametrize(
    "spec,expected",
    [
        (None, (0, 0)),
        ("none", (0, 0)),
        ("NONE", (0, 0)),
        ("slot:3", (1, 3)),
        ("slot:0", (1, 0)),
        ("frames:48000", (2, 48000)),
        (" frames : 256 ", (2, 256)),
        (("slot", 5), (1, 5)),
        (("frames", 1024), (2, 1024)),
        (["frames", np.int64(64)], (2, 64)),
        (("none", 0), (0, 0)),
    ],
)
def test_parse_quantize(spec, expected):
    assert looprig.parse_quantize(spec) == expected


@pytest.mark.parametrize(
    "spec",
    ["", "bars:4", "slot", "slot:", "slot:x", "frames:-1", "frames:1.5", "slot:3:4", ("beats", 4), ("slot", -1),
     ("slot", 1.5), ("slot",), 42, ("frames", "12")],
)
def test_parse_quantize_rejects(spec):
    if spec == "":
        # an empty string means "none" (what the CLI gets for --quantize '')
        assert looprig.parse_quantize(spec) == (0, 0)
        return
    with pytest.raises(ValueError):
        looprig.parse_quantize(spec)


def test_error_hierarchy():
    assert issubclass(looprig.EngineNotRunning, looprig.LooprigError)
    assert issubclass(looprig.CommandRejected, looprig.LooprigError)
    assert issubclass(looprig.Timeout, looprig.LooprigError)
    assert issubclass(looprig.Timeout, TimeoutError)
    assert issubclass(looprig.RingFull, looprig.Timeout)
    assert issubclass(looprig.LibraryNotFound, OSError)


def test_library_not_found_message(monkeypatch, tmp_path):
    """A wrong $LOOPRIG_LIB is a clear error listing where we looked."""
    import subprocess

    from conftest import PYCLIENT, PYTHON

    env = dict(os.environ, LOOPRIG_LIB=str(tmp_path / "nope.so"), PYTHONPATH=str(PYCLIENT))
    r = subprocess.run([PYTHON, "-c", "import looprig; looprig.attach('x')"], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert r.returncode != 0
    assert "LibraryNotFound" in r.stderr and "nope.so" in r.stderr and "LOOPRIG_LIB" in r.stderr


def test_engine_not_running_is_immediate():
    require_library()
    t0 = time.monotonic()
    with pytest.raises(EngineNotRunning) as ei:
        looprig.attach("lrtest-no-such-engine-%d" % os.getpid())
    assert time.monotonic() - t0 < 1.0
    assert "lrtest-no-such-engine" in str(ei.value)


def test_attach_wait_gives_up():
    require_library()
    t0 = time.monotonic()
    with pytest.raises(EngineNotRunning):
        looprig.attach("lrtest-absent-%d" % os.getpid(), wait=0.3)
    assert 0.25 <= time.monotonic() - t0 < 2.0


def test_invalid_engine_name():
    require_library()
    with pytest.raises(ValueError):
        looprig.segment_name("a/b")
    assert looprig.segment_name("abc") == "/looprig-%d-abc" % os.getuid()


# -- with the engine ------------------------------------------------------------

def test_header_properties(rig, engine):
    assert rig.sample_rate == RATE
    assert rig.buffer_size == PERIOD
    assert rig.slot_count == 32
    assert rig.engine_pid == engine.pid
    assert rig.engine_state == "running"
    assert rig.alive
    t1 = rig.frame_time
    deadline = time.monotonic() + 3
    while rig.frame_time == t1 and time.monotonic() < deadline:
        time.sleep(0.005)
    t2 = rig.frame_time
    assert t2 > t1
    assert isinstance(t1, int)
    assert rig.header.magic == looprig._ffi.get_lib().LR_MAGIC
    assert 0 <= rig.client_index < 16


def test_ping(rig):
    before = rig.frame_time
    f = rig.ping()
    assert isinstance(f, int)
    assert before <= f <= rig.frame_time + PERIOD


def test_load_play_stop(rig, sine_wav):
    r = rig.load(0, sine_wav)
    assert isinstance(r, looprig.LoadResult)
    assert (r.slot, r.frames, r.source_rate) == (0, RATE, RATE)
    now = rig.frame_time
    start = rig.play(0)
    assert isinstance(start, int) and start >= now
    m = meters_when(rig, lambda m: m.state_name(0) == "playing" and m.peak[0].max() > 0.1)
    assert m.state_name(0) == "playing"
    assert int(m.start_frame[0]) == start
    assert int(m.length[0]) == RATE
    assert m.names[0] == "sine440.wav"
    assert m.peak[0].max() > 0.1
    stop = rig.stop(0)
    assert stop >= start
    assert meters_when(rig, lambda m: m.state_name(0) == "stopped").state_name(0) == "stopped"


def test_meters_read_after_an_answer_include_its_effect(rig, sine_wav):
    """The engine makes a period's answers visible after that period's meters:
    a snapshot taken once a call returns already shows what the call did."""
    for k in range(30):
        slot = 2 + k % 2
        assert rig.load(slot, sine_wav).frames == 48000
        m = rig.meters()
        assert m.length[slot] == 48000 and m.state_name(slot) == "stopped", k
        db = -float(k % 7)
        rig.gain(slot, db)
        assert rig.meters().gain_db[slot] == db, k
        rig.unload(slot)
        assert rig.meters().length[slot] == 0, k


def test_play_at_and_simultaneous_start(rig, sine_wav):
    rig.load(1, sine_wav)
    rig.load(2, sine_wav)
    at = rig.frame_time + RATE // 2
    ids = [rig.send("play", s, at=at) for s in (1, 2)]
    frames = [rig.wait(i).frame for i in ids]
    assert frames == [at, at]
    stop_at = at + 1000
    assert rig.stop(1, at=stop_at) == stop_at
    assert rig.stop(2, at=stop_at) == stop_at


def test_quantize_frames_and_slot(rig, sine_wav):
    rig.load(3, sine_wav)
    rig.load(4, sine_wav)
    f = rig.play(3, quantize="frames:4800")
    assert f % 4800 == 0 and f >= rig.frame_time - 4800
    g = rig.play(4, quantize=("slot", 3))
    assert g >= f and (g - f) % RATE == 0, (f, g)
    rig.stop(3)
    rig.stop(4)


def test_gain_pan_mute_solo_declick(rig, sine_wav):
    rig.load(5, sine_wav)
    assert isinstance(rig.gain(5, -6.0), int)
    assert isinstance(rig.pan(5, -0.5), int)
    rig.mute(5, True)
    m = meters_when(rig, lambda m: bool(m.muted[5]))
    assert m.gain_db[5] == pytest.approx(-6.0)
    assert m.pan[5] == pytest.approx(-0.5)
    assert bool(m.muted[5])
    rig.mute(5, False)
    rig.solo(5, True)
    m = meters_when(rig, lambda m: bool(m.soloed[5]) and not m.muted[5])
    assert not m.muted[5] and m.soloed[5]
    rig.solo(5, False)
    rig.declick(5.0)
    assert rig.declick_frames == 240
    rig.declick(0)
    assert rig.declick_frames == 0
    rig.unload(5)
    assert meters_when(rig, lambda m: m.state_name(5) == "empty").state_name(5) == "empty"


def test_bad_slot_is_rejected_with_engine_message(rig):
    with pytest.raises(CommandRejected) as ei:
        rig.play(9999)
    e = ei.value
    assert e.code_name == "LR_E_BAD_SLOT"
    assert e.code == looprig._ffi.get_lib().LR_E_BAD_SLOT
    assert e.slot == 9999 and e.command == "play"
    assert "9999" in e.message and e.message in str(e)


def test_negative_slot_passed_through(rig):
    with pytest.raises(CommandRejected) as ei:
        rig.gain(-1, 0.0)
    assert ei.value.code_name == "LR_E_BAD_SLOT"


@pytest.mark.parametrize("value", [math.nan, math.inf, 1000.0])
def test_bad_gain_rejected(rig, value):
    with pytest.raises(CommandRejected) as ei:
        rig.gain(0, value)
    assert ei.value.code_name == "LR_E_BAD_VALUE"
    assert "gain" in ei.value.message


def test_mute_value_passed_through(rig):
    with pytest.raises(CommandRejected) as ei:
        rig.mute(0, 2)
    assert ei.value.code_name == "LR_E_BAD_VALUE"


def test_load_errors(rig, tmp_path):
    with pytest.raises(CommandRejected) as ei:
        rig.load(6, tmp_path / "missing.wav")
    assert ei.value.code_name == "LR_E_FILE"
    assert str(tmp_path / "missing.wav") in ei.value.message  # the absolute path was sent
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all" * 10)
    with pytest.raises(CommandRejected) as ei:
        rig.load(6, junk)
    assert ei.value.code_name == "LR_E_FORMAT"


def test_relative_path_is_made_absolute(rig, sine_wav, monkeypatch):
    monkeypatch.chdir(sine_wav.parent)
    r = rig.load(7, sine_wav.name)
    assert r.frames == RATE
    rig.unload(7)


def test_client_side_value_errors(rig):
    with pytest.raises(ValueError):
        rig.play(0, quantize="bars:4")
    with pytest.raises(ValueError):
        rig.play(0, at=-5)
    with pytest.raises(ValueError):
        rig.load(0, "/" + "x" * looprig.TEXT_MAX)
    with pytest.raises(ValueError):
        rig.send("frobnicate", 0)
    with pytest.raises(ValueError):
        rig.play(2**40)


def test_quantize_on_gain_rejected_by_engine(rig):
    with pytest.raises(CommandRejected) as ei:
        rig.send("gain", 0, value=0.0, quantize="frames:256", wait=True)
    assert ei.value.code_name == "LR_E_QUANTIZE"


def test_async_send_and_wait_out_of_order(rig):
    ids = [rig.send("ping") for _ in range(20)]
    assert len(set(ids)) == 20
    evs = [rig.wait(i) for i in reversed(ids)]
    assert [e.id for e in evs] == list(reversed(ids))
    assert all(e.ok and e.command_name == "ping" and e.type_name == "ack" for e in evs)
    # an error answer can be fetched without raising
    cid = rig.send("play", 500)
    ev = rig.wait(cid, raise_on_error=False)
    assert not ev.ok and ev.code_name == "LR_E_BAD_SLOT"
    assert json.dumps(ev.to_dict())


def test_send_wait_true_returns_event(rig):
    ev = rig.send("ping", wait=True)
    assert isinstance(ev, looprig.Event) and ev.ok and ev.frame > 0


def test_many_commands_more_than_the_ring(rig):
    """More commands than the ring holds: send retries while the engine drains it."""
    ids = [rig.send("ping", timeout=5.0) for _ in range(300)]
    for i in ids:
        assert rig.wait(i).ok


def test_meters_shapes_and_dtypes(rig):
    m = rig.meters()
    n = rig.slot_count
    assert m.slot_count == n
    for name in ("peak", "rms"):
        a = getattr(m, name)
        assert a.shape == (n, 2) and a.dtype == np.float32
    for name in ("playhead", "length", "start_frame", "source_frames", "load_count"):
        a = getattr(m, name)
        assert a.shape == (n,) and a.dtype == np.uint64, name
    for name in ("state", "flags", "channels", "source_rate"):
        a = getattr(m, name)
        assert a.shape == (n,) and a.dtype == np.uint32, name
    for name in ("gain_db", "pan"):
        a = getattr(m, name)
        assert a.shape == (n,) and a.dtype == np.float32
    assert m.master_peak.shape == (2,) and m.master_peak.dtype == np.float32
    assert m.master_rms.shape == (2,) and m.master_rms.dtype == np.float32
    assert isinstance(m.callback_load, float) and isinstance(m.callback_load_max, float)
    for name in ("xruns", "frame_time", "period", "nframes"):
        assert isinstance(getattr(m, name), int)
    assert m.nframes == PERIOD
    assert len(m.names) == n and all(isinstance(s, str) for s in m.names)
    # zero-copy onto the private snapshot: all views share one buffer
    assert m.peak.base is not None and np.shares_memory(m.peak, m.rms) is False
    assert m.peak.strides == (looprig._ffi.ffi.sizeof("lr_slot_meter"), 4)


def test_meters_snapshot_is_frozen_live_view_moves(rig):
    snap = rig.meters()
    live = rig.meter_view()
    assert live.live and not snap.live
    f0 = snap.frame_time
    t0 = live.frame_time
    deadline = time.monotonic() + 3
    while live.frame_time == t0 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert snap.frame_time == f0
    assert live.frame_time > t0
    with pytest.raises(ValueError):
        live.peak[0, 0] = 1.0  # read-only onto the segment
    assert live.peak.shape == snap.peak.shape


def test_meters_without_numpy(rig, monkeypatch):
    import looprig.meters as mm

    monkeypatch.setattr(mm, "_np", None)
    m = rig.meters()
    assert isinstance(m.peak, list) and len(m.peak) == rig.slot_count and len(m.peak[0]) == 2
    assert isinstance(m.master_peak, list) and len(m.master_peak) == 2
    assert isinstance(m.length[0], int)
    json.dumps(m.to_dict(), allow_nan=False)
    with pytest.raises(LooprigError):
        rig.meter_view()


def test_status_is_json_serialisable(rig, sine_wav):
    rig.load(8, sine_wav)
    st = rig.status()
    text = json.dumps(st, allow_nan=False)
    back = json.loads(text)
    assert back["engine"]["sample_rate"] == RATE
    assert back["engine"]["pid"] == rig.engine_pid
    assert len(back["slots"]) == rig.slot_count
    s8 = back["slots"][8]
    assert s8["state"] == "stopped" and s8["name"] == "sine440.wav" and s8["length"] == RATE
    assert set(back["meters"]) >= {"callback_load", "xruns", "master", "frame_time"}
    rig.unload(8)


def test_context_manager_detaches(engine):
    """Attach/close many more times than there are client places: places are released."""
    for _ in range(40):
        with looprig.attach(engine.name) as r:
            r.ping()
        assert r.closed
    with pytest.raises(LooprigError):
        r.ping()
    with pytest.raises(LooprigError):
        r.frame_time
    r.close()  # idempotent


def test_garbage_collected_rig_releases_place(engine):
    import gc

    for _ in range(40):
        r = looprig.attach(engine.name)
        r.ping()
        del r
        gc.collect()


def test_two_rigs_in_one_process(engine):
    with looprig.attach(engine.name) as a, looprig.attach(engine.name) as b:
        assert a.client_index != b.client_index
        ia = [a.send("ping") for _ in range(5)]
        ib = [b.send("ping") for _ in range(5)]
        # each Rig sees exactly its own answers
        assert all(b.wait(i).ok for i in ib)
        assert all(a.wait(i).ok for i in ia)
        with pytest.raises(CommandRejected):
            a.play(777)
        assert b.ping() > 0


def test_rig_shared_between_threads(rig):
    errors = []

    def worker():
        try:
            for _ in range(20):
                rig.ping()
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=worker) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors


# -- engine failure modes (private engines) --------------------------------------

def test_engine_killed_raises_engine_not_running(engine_factory):
    eng = engine_factory()
    r = looprig.attach(eng.name)
    assert r.ping() > 0
    eng.kill()
    t0 = time.monotonic()
    with pytest.raises(EngineNotRunning):
        r.ping(timeout=10)
    assert time.monotonic() - t0 < 1.0
    r.close()
    # the segment left behind is recognised as stale
    with pytest.raises(EngineNotRunning):
        looprig.attach(eng.name)


def test_engine_killed_while_waiting(engine_factory):
    eng = engine_factory()
    r = looprig.attach(eng.name)
    cid = 10**6  # an id that is never answered: wait() blocks until the engine dies
    box = {}

    def waiter():
        t0 = time.monotonic()
        try:
            r.wait(cid, timeout=20)
        except Exception as e:
            box["exc"] = e
        box["t"] = time.monotonic()
        box["t0"] = t0

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.3)
    t_kill = time.monotonic()
    eng.kill()
    th.join(5)
    assert not th.is_alive()
    assert isinstance(box.get("exc"), EngineNotRunning), box
    assert box["t"] - t_kill < 1.0
    r.close()


def test_engine_terminated_cleanly(engine_factory):
    eng = engine_factory()
    r = looprig.attach(eng.name)
    eng.proc.stop()
    with pytest.raises(EngineNotRunning):
        r.ping(timeout=5)
    r.close()
    with pytest.raises(EngineNotRunning):
        looprig.attach(eng.name)


def test_timeout_and_ring_full_with_stopped_engine(engine_factory):
    eng = engine_factory()
    r = looprig.attach(eng.name)
    r.ping()
    sigstop(eng.proc.pid)
    try:
        t0 = time.monotonic()
        with pytest.raises(Timeout) as ei:
            r.ping(timeout=0.2)
        assert not isinstance(ei.value, RingFull)
        assert 0.19 <= time.monotonic() - t0 < 1.0
        ring = looprig._ffi.get_lib().LR_CMD_RING_SIZE
        with pytest.raises(RingFull):
            for _ in range(ring + 1):
                r.send("ping", timeout=0.1)
        assert isinstance(RingFull("x"), TimeoutError)
    finally:
        eng.proc.signal(signal.SIGCONT)
    r.close()



def test_forked_child_does_not_release_parents_place(engine):
    with looprig.attach(engine.name) as r:
        r.ping()
        pid = os.fork()
        if pid == 0:  # child: closing the inherited Rig must not touch the parent's place
            try:
                r.close()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        assert r.ping() > 0


def test_all_client_places_taken(engine_factory):
    eng = engine_factory()
    lib = looprig._ffi.get_lib()
    rigs = []
    try:
        with pytest.raises(looprig.AttachError) as ei:
            for _ in range(lib.LR_MAX_CLIENTS + 1):
                rigs.append(looprig.attach(eng.name))
        assert len(rigs) == lib.LR_MAX_CLIENTS
        assert ei.value.code == lib.LR_ATTACH_NO_CLIENT_SLOT
        assert all(r.ping() > 0 for r in rigs)
    finally:
        for r in rigs:
            r.close()
    deadline = time.monotonic() + 3
    while True:  # the engine frees closed places at its next period
        try:
            with looprig.attach(eng.name) as r:
                assert r.ping() > 0
            break
        except looprig.AttachError:
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_stopped_engine_raises_engine_stalled(engine_factory):
    eng = engine_factory()
    r = looprig.attach(eng.name)
    r.ping()
    # The ping's answer can arrive before the end of the engine's very first
    # period, i.e. before its first heartbeat: wait for that.
    deadline = time.monotonic() + 2
    while r.heartbeat_age is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert 0 <= r.heartbeat_age < 0.5 and r.engine_info()["heartbeat_age"] is not None
    r.stall_seconds = 0.5
    sigstop(eng.proc.pid)
    try:
        t0 = time.monotonic()
        with pytest.raises(looprig.EngineStalled) as ei:
            r.ping(timeout=10)
        assert 0.45 <= time.monotonic() - t0 < 1.5
        assert isinstance(ei.value, Timeout) and ei.value.pid == eng.proc.pid
        assert "SIGSTOP" in str(ei.value) and r.alive
    finally:
        eng.proc.signal(signal.SIGCONT)
    assert r.ping(timeout=5) > 0  # a wait right after SIGCONT is no stall
    r.close()


def test_killed_engine_left_as_zombie_counts_as_dead(engine_factory):
    eng = engine_factory()
    r = looprig.attach(eng.name)
    pid = r.engine_pid
    os.kill(pid, signal.SIGKILL)  # not reaped: a zombie until the Popen is polled
    t0 = time.monotonic()
    with pytest.raises(EngineNotRunning) as ei:
        r.ping(timeout=10)
    assert time.monotonic() - t0 < 1.0
    assert "killed or crashed" in str(ei.value) and ei.value.pid == pid
    with pytest.raises(EngineNotRunning):
        r.meters()
    assert not r.alive
    r.close()
