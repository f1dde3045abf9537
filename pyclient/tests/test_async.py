"""Send now, answer later: ``rig.nowait.*``, ``rig.submit()``, ``rig.pump()``, the reader thread.

The first part runs against fakes.Wire (no engine: every step is deterministic);
the second against the real engine on a private jackd: futures resolved in
order, the engine's refusals, a full command ring, a stopped and a killed
engine while futures are pending, the reader thread, and threads mixing the
waiting and the non-waiting API.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
import time

import pytest

import looprig
from looprig import CommandRejected, EngineNotRunning, LooprigError, RingFull, Timeout
from looprig._ffi import get_lib
from conftest import require_library, sigstop
from fakes import FRAME_TIME, PERIOD, Wire, make_rig

RING = None


@pytest.fixture(autouse=True, scope="module")
def _library():
    global RING
    require_library()
    RING = get_lib().LR_CMD_RING_SIZE


def pump_until(rig, futures, timeout=10.0):
    """Pump (as a GUI timer would) until every future is done."""
    deadline = time.monotonic() + timeout
    while not all(f.done() for f in futures):
        assert time.monotonic() < deadline, "futures not resolved within %g s" % timeout
        rig.pump()
        time.sleep(0.002)


# -- no engine: fakes.Wire ------------------------------------------------------------

def test_nowait_returns_futures_resolved_by_pump():
    wire = Wire()
    rig = make_rig(wire)
    fut = rig.nowait.gain(1, -6.0)
    assert isinstance(fut, concurrent.futures.Future) and not fut.done()
    assert wire.order == ["push 0"]  # sent at once; nothing read yet
    assert rig.in_flight == 1
    assert rig.pump() == 1 and fut.done()
    a = fut.result()
    assert isinstance(a, looprig.Answer) and a == FRAME_TIME + PERIOD and a.values == {"db": -6.0}
    assert rig.in_flight == 0 and rig.pump() == 0


def test_futures_resolve_in_the_order_sent_and_run_callbacks_in_the_pumping_thread():
    wire = Wire()
    rig = make_rig(wire)
    got = []
    futs = [rig.nowait(callback=lambda f, i=i: got.append((i, threading.current_thread().name))).pan(0, i / 10)
            for i in range(5)]
    futs.append(rig.submit("ping", callback=lambda f: got.append((5, threading.current_thread().name))))
    futs.append(rig.nowait.eq(2, low_gain=1, high_gain=-1))  # two commands, one future
    assert len(wire.cmds) == 8 and not got
    done = []

    def pumper():
        done.append(rig.pump())

    t = threading.Thread(target=pumper, name="gui")
    t.start()
    t.join()
    assert done == [7]
    assert got == [(i, "gui") for i in range(6)]
    assert futs[-1].result().values == {"eq-low-gain": 1.0, "eq-high-gain": -1.0}
    assert [f.result().ids[0] for f in futs[:6]] == list(range(100, 106))


def test_result_waits_without_a_pump():
    rig = make_rig()
    assert rig.nowait.tempo(120, at=FRAME_TIME + 10).result(timeout=1) == FRAME_TIME + 10


def test_refusal_fails_the_future_with_the_engines_message():
    wire = Wire()
    rig = make_rig(wire)
    wire.reject[1] = "slot 99 out of range (0..3)"
    ok = rig.nowait.mute(0)
    bad = rig.nowait.mute(99)
    rig.pump()
    assert ok.result().values == {"on": True}
    e = bad.exception()
    assert isinstance(e, CommandRejected) and e.message == "slot 99 out of range (0..3)" and e.command == "mute"
    with pytest.raises(CommandRejected):
        bad.result()


def test_bad_arguments_raise_at_once_and_send_nothing():
    wire = Wire()
    rig = make_rig(wire)
    with pytest.raises(ValueError):
        rig.nowait.mode(0, "fast")
    with pytest.raises(ValueError):
        rig.nowait.delay(beats=1, ms=2)
    with pytest.raises(TypeError):
        rig.nowait.eq(0, 3)
    with pytest.raises(ValueError):
        rig.submit("frobnicate")
    with pytest.raises(CommandRejected, match="nothing sent"):
        rig.nowait.highpass(0, 100, q=0)  # the client knows the engine would refuse one of several values
    assert wire.cmds == [] and rig.in_flight == 0


def test_a_full_ring_queues_in_order_then_sends():
    wire = Wire()
    rig = make_rig(wire)
    wire.full = True
    futs = [rig.nowait.gain(0, -i) for i in range(3)]
    assert wire.cmds == [] and rig.in_flight == 3
    rig.pump()
    assert not any(f.done() for f in futs)
    wire.full = False
    sync = rig.gain(1, -1.0)  # a waiting call goes behind the queued ones
    assert [d["slot"] for d in wire.decoded()] == [0, 0, 0, 1] and sync.values == {"db": -1.0}
    rig.pump()
    assert [f.result().values["db"] for f in futs] == [0.0, -1.0, -2.0]


def test_a_ring_full_for_the_whole_timeout_fails_with_ringfull_nothing_sent():
    wire = Wire()
    rig = make_rig(wire)
    rig.timeout = 0.05
    wire.full = True
    fut = rig.nowait.gain(0, -3)
    batch = rig.submit_batch([("play", 0), ("play", 1)])
    time.sleep(0.1)
    rig.pump()
    assert isinstance(fut.exception(), RingFull) and "stayed full" in str(fut.exception())
    assert isinstance(batch.exception(), RingFull) and "batch of 2" in str(batch.exception())
    wire.full = False
    rig.pump()
    assert wire.cmds == []


def test_cancel_withdraws_a_queued_command():
    wire = Wire()
    rig = make_rig(wire)
    wire.full = True
    keep, drop = rig.nowait.gain(0, -1), rig.nowait.gain(0, -2)
    assert drop.cancel() and drop.cancelled()
    rig.pump()
    assert rig.in_flight == 1  # the cancelled one is off the books at once, still nothing sent
    wire.full = False
    rig.pump()
    assert keep.result().values == {"db": -1.0} and len(wire.cmds) == 1 and rig.in_flight == 0
    sent = rig.nowait.gain(0, -3)
    assert not sent.cancel()  # already in the ring


def test_nothing_to_send_is_not_in_flight():
    rig = make_rig()  # every slot empty: nothing plays
    assert rig.stop("all") == [] and rig.in_flight == 0
    fut = rig.nowait.stop("all")
    assert rig.pump() == 1 and fut.result() == [] and rig.in_flight == 0


def test_engine_gone_fails_every_pending_future():
    wire = Wire()
    rig = make_rig(wire)
    futs = [rig.nowait.ping(), rig.nowait.stop([0, 1])]
    wire._events.clear()  # the engine never answers
    wire.alive = False
    rig.pump()
    for f in futs:
        assert isinstance(f.exception(), EngineNotRunning)
    assert isinstance(rig.submit("ping").exception(), EngineNotRunning)  # and new ones at once


def test_timeout_fails_the_future():
    wire = Wire()
    rig = make_rig(wire)
    fut = rig.nowait.ping(timeout=0.02)
    wire._events.clear()  # no answer
    time.sleep(0.05)
    rig.pump()
    e = fut.exception()
    assert isinstance(e, Timeout) and not isinstance(e, RingFull) and "no answer to command 100" in str(e)


def test_close_fails_what_is_in_flight():
    wire = Wire()
    rig = make_rig(wire)
    fut = rig.nowait.ping()
    wire._events.clear()
    rig.close()
    assert isinstance(fut.exception(), LooprigError) and "closed" in str(fut.exception())
    assert rig.pump() == 0


def test_slot_lists_through_nowait_are_one_batch():
    wire = Wire()
    rig = make_rig(wire)
    fut = rig.nowait.stop([2, 0])
    rig.pump()
    assert [a.slot for a in fut.result()] == [2, 0]
    assert wire.batches == [2] and [d["slot"] for d in wire.decoded()] == [2, 0]


def test_send_command_is_the_general_form_and_send_keeps_both():
    wire = Wire()
    rig = make_rig(wire)
    cid = rig.send_command("param", 3, value=250.0, param="hp-freq", at=FRAME_TIME + 9)
    assert rig.wait(cid).frame == FRAME_TIME + 9
    d = wire.decoded()[0]
    assert (d["type"], d["slot"], d["param"], d["value"]) == (get_lib().LR_CMD_PARAM, 3, get_lib().LR_P_HP_FREQ, 250.0)
    assert rig.send_command("ping", wait=True).ok
    assert isinstance(rig.send("ping"), int)  # the old name, general form
    assert rig.send(0, "reverb", -6).values == {"send2-level": -6.0}  # the old name, effect-send form


# -- the real engine ----------------------------------------------------------------

@pytest.fixture
def own(engine_factory, sine_wav):
    """A private engine (it gets stopped and killed) and a Rig on it, slots 0..1 loaded."""
    eng = engine_factory()
    rig = looprig.attach(eng.name, timeout=5.0)
    rig.load(0, sine_wav)
    rig.load(1, sine_wav)
    try:
        yield eng, rig
    finally:
        eng.proc.signal(signal.SIGCONT)
        rig.close()


def test_e2e_futures_resolved_in_order(rig):
    order = []
    futs = []
    for i in range(40):
        f = rig.nowait.gain(i % 4, -float(i % 12)) if i % 3 else rig.submit("ping")
        f.add_done_callback(lambda f, i=i: order.append(i))
        futs.append(f)
    pump_until(rig, futs)
    assert order == list(range(40))
    frames = [f.result().frame for f in futs]
    assert frames == sorted(frames)
    assert all(f.result().ok and f.result().message for f in futs)


def test_e2e_errors(rig):
    bad_slot = rig.nowait.gain(99, 0)
    bad_value = rig.nowait.tempo(10)
    empty = rig.nowait.play(31)
    good = rig.nowait.meter(4)
    pump_until(rig, [bad_slot, bad_value, empty, good])
    assert bad_slot.exception().code_name == "LR_E_BAD_SLOT" and "slot 99 out of range" in bad_slot.exception().message
    assert bad_value.exception().message == "tempo 10 is out of range (20..400 BPM)"
    assert empty.exception().code_name == "LR_E_NOT_LOADED"
    assert good.result().message == "time signature: 4 beats per bar"




def test_e2e_full_ring_queues_then_drains_in_order(own):
    eng, rig = own
    sigstop(eng.pid)  # the engine reads nothing: the command ring fills
    try:
        futs = [rig.nowait.ping(timeout=20) for _ in range(RING + 16)]
        assert len(rig._channel._outbox) == 16 and rig.in_flight == RING + 16
        sync_error = None
        try:
            rig.gain(0, -3, timeout=0.05)  # a waiting call behind a full ring: RingFull, nothing sent
        except RingFull as e:
            sync_error = e
        assert sync_error is not None
        rig.pump()
        assert not any(f.done() for f in futs)
    finally:
        os.kill(eng.pid, signal.SIGCONT)
    done = []
    for i, f in enumerate(futs):
        f.add_done_callback(lambda f, i=i: done.append(i))
    pump_until(rig, futs, timeout=20)
    assert done == list(range(RING + 16))
    frames = [f.result().frame for f in futs]
    assert frames == sorted(frames) and rig.in_flight == 0
    assert rig.meters().gain_db[0] == 0.0  # the refused sync gain was never sent


def test_e2e_full_ring_for_the_whole_timeout(own):
    eng, rig = own
    sigstop(eng.pid)
    try:
        futs = [rig.nowait.ping(timeout=0.3) for _ in range(RING + 4)]
        time.sleep(0.4)
        rig.pump()
        errors = [type(f.exception()) for f in futs]
    finally:
        os.kill(eng.pid, signal.SIGCONT)
    assert errors == [Timeout] * RING + [RingFull] * 4
    assert rig.ping() > 0  # the late answers are dropped, the Rig goes on
    time.sleep(0.1)
    rig.poll()
    assert len(rig._stash) == 0


def test_e2e_engine_killed_while_futures_pending(own):
    eng, rig = own
    sigstop(eng.pid)  # nothing gets answered
    futs = [rig.nowait.ping(timeout=30), rig.nowait.play([0, 1], timeout=30),
            rig.nowait.highpass(0, 200, timeout=30), rig.nowait.load(1, __file__, timeout=30)]
    eng.kill()
    t0 = time.monotonic()
    pump_until(rig, futs, timeout=5)
    assert time.monotonic() - t0 < 2
    for f in futs:
        e = f.exception()
        assert isinstance(e, EngineNotRunning) and e.pid == eng.pid and "killed or crashed" in str(e), e


def test_e2e_reader_thread_resolves_without_pump(own):
    eng, rig = own
    rig.start_reader(interval=0.001)
    try:
        threads = []
        ready = threading.Event()
        f = rig.nowait(callback=lambda f: (threads.append(threading.current_thread().name), ready.set())).ping()
        assert ready.wait(5) and f.result(0).frame > 0
        assert threads[0].startswith("looprig-reader")
        # the engine dies while a command is in flight: the reader fails it
        sigstop(eng.pid)
        pending = rig.nowait.unload(1, timeout=30)
        eng.kill()
        assert isinstance(pending.exception(timeout=5), EngineNotRunning)
    finally:
        rig.stop_reader()
    assert not rig._channel.reader_running


def test_e2e_threads_mix_waiting_and_nowait(rig):
    """A thread of waiting calls and a thread of futures + pump share one Rig."""
    errors = []
    results = {}

    def waiting():
        try:
            results["sync"] = [rig.pan(2, (i % 10) / 10) for i in range(60)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    def gui():
        try:
            futs = [rig.nowait.pan(3, -(i % 10) / 10) for i in range(60)]
            pump_until(rig, futs)
            results["async"] = [f.result() for f in futs]
        except Exception as e:  # pragma: no cover
            errors.append(e)

    ts = [threading.Thread(target=waiting), threading.Thread(target=gui)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert not errors
    for key in ("sync", "async"):
        frames = [int(a) for a in results[key]]
        assert len(frames) == 60 and frames == sorted(frames), key
    assert rig.in_flight == 0 and len(rig._stash) == 0


def test_e2e_submit_batch_and_load(rig, sine_wav):
    load = rig.nowait.load(5, sine_wav)
    batch = rig.submit_batch([("gain", 5, -6.0), ("pan", 5, 0.5)])
    pump_until(rig, [load, batch])
    r = load.result()
    assert r.frames == 48000 and r.answer.ok and "loaded" in r.message
    a, b = batch.result()
    assert a.frame == b.frame and a.command == "gain" and b.command == "pan"
    assert rig.unload(5).message == "slot 5 unloaded"


def test_e2e_a_forgotten_rig_stops_its_reader(engine):
    """A Rig dropped without close(): its place is released and its reader thread ends."""
    import gc

    rig = looprig.attach(engine.name)
    rig.start_reader()
    assert rig.nowait.ping().result(timeout=5) > 0
    reader = rig._channel._reader
    del rig
    gc.collect()
    reader.join(5)
    assert not reader.is_alive()
