"""Issue 5, engine faults, through a real jackd:

* the engine killed with SIGKILL while a client waits (for an ack, a load,
  room in a full command ring, meters; the CLI watching meters) is noticed
  within 1 s: EngineNotRunning naming the engine, its pid and "killed or
  crashed". The killed engine is left unreaped (a zombie, as under a parent
  that has not waited for it yet) while the client waits: it must still count
  as dead. Each detection time is printed.
* an engine that lives but runs no period (SIGSTOP) is reported as
  EngineStalled (a Timeout) after Rig.stall_seconds, not hung on; one whose
  header says it waits for its JACK server is neither dead nor stalled.
* a restarted engine reclaims the stale segment and clients attach again;
* a second engine of the same name refuses to start, with a clear message
  and exit code 1, while the first lives on untouched.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import lrharness as H

DETECT_LIMIT = 1.0  # seconds, from SIGKILL to the exception


@pytest.fixture(scope="module")
def server():
    srv = H.JackServer(realtime=os.environ.get("LOOPRIG_IT_JACK_RT") == "1").start()
    try:
        yield srv
    finally:
        _stop_server(srv)


def _stop_server(srv: H.JackServer) -> None:
    """SIGTERM and wait up to 30 s before the harness's own stop (never SIGKILL a jackd)."""
    if srv.alive():
        os.killpg(srv.proc.pid, signal.SIGTERM)
        try:
            srv.proc.wait(30)
        except subprocess.TimeoutExpired:
            print(f"jackd {srv.name} (pid {srv.proc.pid}) ignored SIGTERM for 30 s; left running")
            return
    srv.stop()


def _shm(name: str) -> Path:
    return Path(f"/dev/shm/looprig-{os.getuid()}-{name}")


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] in "ZX"


class Killed:
    """An engine to kill; removes what a SIGKILL leaves behind afterwards."""

    def __init__(self, server, **kw):
        self.engine = H.Engine(server, slots=4, **kw).start()

    def kill(self) -> float:
        t = time.monotonic()
        os.kill(self.engine.proc.pid, signal.SIGKILL)
        return t

    def reap(self):
        self.engine.proc.wait(5)

    def cleanup(self):
        if self.engine.proc.poll() is None:
            self.engine.proc.send_signal(signal.SIGCONT)
        self.engine.stop(check=False)
        self.engine._remove_segment()


def _run_in_thread(fn):
    box = {}

    def body():
        try:
            box["result"] = fn()
        except BaseException as e:  # noqa: BLE001 - reported by the test
            box["exc"] = e
        box["t"] = time.monotonic()

    th = threading.Thread(target=body, daemon=True)
    th.start()
    return th, box


def _kill_during(server, looprig_mod, what, prepare, call, stop_first):
    """Start ``call(rig)`` in a thread, SIGKILL the engine while it waits,
    return the detection time; assert the exception and its message."""
    k = Killed(server)
    try:
        rig = looprig_mod.attach(name=k.engine.name)
        pid = rig.engine_pid
        assert rig.ping() > 0
        if prepare:
            prepare(rig)
        if stop_first:  # the engine must not answer before it dies
            H.sigstop(k.engine.proc.pid)
        th, box = _run_in_thread(lambda: call(rig))
        time.sleep(0.3)
        assert th.is_alive(), f"{what}: the call returned before the kill: {box}"
        t_kill = k.kill()
        th.join(10)
        assert not th.is_alive(), f"{what}: still waiting 10 s after the engine was killed"
        zombie = _is_zombie(pid)
        exc = box.get("exc")
        assert isinstance(exc, looprig_mod.EngineNotRunning), f"{what}: {exc!r}"
        msg = str(exc)
        assert k.engine.name in msg and str(pid) in msg and "killed or crashed" in msg, msg
        assert exc.pid == pid and exc.name == k.engine.name
        dt = box["t"] - t_kill
        print(f"{what}: detected in {dt * 1000:.1f} ms (engine left a zombie while waiting: {zombie}): {msg}")
        assert dt < DETECT_LIMIT, f"{what}: {dt:.3f} s to notice the engine died"
        rig.close()
        return dt
    finally:
        k.cleanup()


def test_sigkill_during_an_ack_wait_of_a_running_engine(server, looprig_mod):
    # An id never answered: wait() blocks while the engine keeps running.
    _kill_during(server, looprig_mod, "ack wait (running engine)", None,
                 lambda rig: rig.wait(10**6, timeout=20), stop_first=False)


def test_sigkill_during_a_ping(server, looprig_mod):
    _kill_during(server, looprig_mod, "ping", None, lambda rig: rig.ping(timeout=20), stop_first=True)


def test_sigkill_during_a_load(server, looprig_mod, tmp_path):
    path = H.write_wav_float(tmp_path / "big.wav", H.noise(48000 * 20, 7, channels=2))
    _kill_during(server, looprig_mod, "load", None, lambda rig: rig.load(0, path, timeout=30), stop_first=True)


def test_sigkill_during_a_mixer_call(server, looprig_mod):
    # several params: queued together, then each answer awaited
    _kill_during(server, looprig_mod, "eq (several params)", None,
                 lambda rig: rig.eq(0, low_gain=3, mid_gain=-2, high_gain=1, timeout=20), stop_first=True)


def test_sigkill_during_ring_full_retry(server, looprig_mod):
    def fill(rig):
        pass

    def call(rig):
        ring = rig._lib.LR_CMD_RING_SIZE
        for _ in range(ring):
            rig.send("ping", timeout=5)  # the ring fills (the engine is stopped)
        return rig.send("ping", timeout=20)  # blocks: retries until there is room

    _kill_during(server, looprig_mod, "ring-full retry", fill, call, stop_first=True)


def test_sigkill_during_a_meters_loop(server, looprig_mod):
    def call(rig):
        while True:  # e.g. a GUI polling meters
            rig.meters()
            time.sleep(0.01)

    _kill_during(server, looprig_mod, "meters polling", None, call, stop_first=False)


def test_sigkill_while_the_cli_watches_meters(server, looprig_mod):
    k = Killed(server)
    try:
        env = server.env
        env["PYTHONPATH"] = str(H.pyclient_path())
        p = subprocess.Popen([*H.cli_command(), "--name", k.engine.name, "--json", "meters", "--watch", "0",
                              "--interval", "0.1"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=str(H.REPO))
        time.sleep(1.5)
        assert p.poll() is None, p.communicate()
        t_kill = k.kill()
        out, err = p.communicate(timeout=10)
        dt = time.monotonic() - t_kill
        print(f"CLI meters --watch: exit {p.returncode} {dt * 1000:.0f} ms after the kill "
              f"(includes process exit): {err.strip()}")
        assert p.returncode == 3, (out[-500:], err)
        assert "killed or crashed" in err and k.engine.name in err, err
        assert dt < DETECT_LIMIT + 0.5
        json.loads(out.strip().splitlines()[0])  # it had been printing meters
    finally:
        k.cleanup()


def test_stopped_engine_is_reported_as_stalled_not_hung(server, looprig_mod):
    k = Killed(server)
    try:
        rig = looprig_mod.attach(name=k.engine.name)
        rig.ping()
        assert rig.heartbeat_age is not None and rig.heartbeat_age < 0.5
        H.sigstop(k.engine.proc.pid)
        t0 = time.monotonic()
        with pytest.raises(looprig_mod.EngineStalled) as ei:
            rig.ping(timeout=30)
        dt = time.monotonic() - t0
        e = ei.value
        print(f"SIGSTOP: EngineStalled after {dt:.2f} s (stall_seconds {rig.stall_seconds}): {e}")
        assert isinstance(e, looprig_mod.Timeout)
        assert "SIGSTOP" in str(e) and str(k.engine.proc.pid) in str(e) and k.engine.name in str(e)
        assert rig.stall_seconds - 0.1 <= dt < rig.stall_seconds + 1.0
        assert rig.alive  # stopped is not dead
        # a short timeout is a plain Timeout whose message says the engine runs no periods
        rig.stall_seconds = 1000
        with pytest.raises(looprig_mod.Timeout) as ei:
            rig.ping(timeout=0.2)
        assert "last period" in str(ei.value), ei.value
        rig.stall_seconds = looprig_mod.STALL_SECONDS
        k.engine.proc.send_signal(signal.SIGCONT)  # a wait right after this is no stall
        # both pings are answered once it runs again; a new one too
        assert rig.ping(timeout=5) > 0
        rig.close()
        assert k.engine.alive()
    finally:
        k.cleanup()


def test_engine_waiting_for_jack_is_neither_dead_nor_stalled(server, looprig_mod):
    """While the engine reconnects to its JACK server it lives, runs no period
    and says so in lr_header.engine_state (simulated here: the engine is
    stopped and the test writes LR_ENGINE_JACK_LOST into the header)."""
    k = Killed(server)
    try:
        rig = looprig_mod.attach(name=k.engine.name)
        rig.ping()
        lib = rig._lib
        H.sigstop(k.engine.proc.pid)
        time.sleep(0.1)
        rig.header.engine_state = lib.LR_ENGINE_JACK_LOST
        rig.stall_seconds = 0.5
        assert rig.alive and rig.engine_state == "jack_lost"
        t0 = time.monotonic()
        with pytest.raises(looprig_mod.Timeout) as ei:
            rig.ping(timeout=1.5)
        dt = time.monotonic() - t0
        e = ei.value
        print(f"JACK lost: {type(e).__name__} after {dt:.2f} s: {e}")
        assert not isinstance(e, looprig_mod.EngineStalled), e
        assert "waiting for the JACK server" in str(e), e
        assert dt >= 1.4
        rig.stall_seconds = looprig_mod.STALL_SECONDS
        rig.header.engine_state = lib.LR_ENGINE_RUNNING
        k.engine.proc.send_signal(signal.SIGCONT)
        assert rig.ping(timeout=5) > 0
        rig.close()
    finally:
        k.cleanup()


def test_restarted_engine_reclaims_the_stale_segment(server, looprig_mod):
    k = Killed(server)
    name = k.engine.name
    try:
        old = looprig_mod.attach(name=name)
        old.ping()
        pid = old.engine_pid
        k.kill()
        k.reap()
        assert _shm(name).exists(), "a SIGKILLed engine cannot remove its segment"
        with pytest.raises(looprig_mod.EngineNotRunning) as ei:  # the stale segment is recognised
            looprig_mod.attach(name=name)
        print(f"attach to the stale segment: {ei.value}")
        assert str(pid) in str(ei.value)
        t0 = time.monotonic()
        again = H.Engine(server, slots=4, name=name).start()
        print(f"restarted engine {name} ready in {time.monotonic() - t0:.2f} s over the stale segment")
        try:
            with looprig_mod.attach(name=name) as rig:
                assert rig.engine_pid == again.proc.pid != pid
                assert rig.ping() > 0
            with pytest.raises(looprig_mod.EngineNotRunning):  # the old Rig still sees the old engine dead
                old.ping(timeout=5)
            old.close()
        finally:
            assert again.stop(check=True) == 0
        assert not _shm(name).exists()
    finally:
        k.cleanup()


def test_restart_while_the_killed_engine_is_an_unreaped_zombie(server, looprig_mod):
    k = Killed(server)
    name = k.engine.name
    try:
        k.kill()
        deadline = time.monotonic() + 5
        while not _is_zombie(k.engine.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _is_zombie(k.engine.proc.pid)
        with pytest.raises(looprig_mod.EngineNotRunning):  # clients know better already
            looprig_mod.attach(name=name)
        again = subprocess.Popen([str(H.engine_binary()), "--name", name, "--slots", "4"], env=server.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            again.wait(2)
        except subprocess.TimeoutExpired:  # it runs: what should happen
            again.send_signal(signal.SIGTERM)
            assert again.wait(5) == 0
            return
        err = again.stderr.read()
        print(f"restart next to a zombie: exit {again.returncode}: {err.strip()}")
        raise AssertionError(f"a new engine refused to start next to a killed, unreaped one: {err.strip()}")
    finally:
        k.cleanup()


def test_second_engine_of_the_same_name_refuses(server, looprig_mod):
    first = H.Engine(server, slots=4).start()
    try:
        with looprig_mod.attach(name=first.name) as rig:
            rig.ping()
            before = _shm(first.name).stat().st_ino
            second = subprocess.run([str(H.engine_binary()), "--name", first.name, "--slots", "8"],
                                    env=server.env, capture_output=True, text=True, timeout=20)
            print(f"second engine: exit {second.returncode}: {second.stderr.strip()}")
            assert second.returncode == 1, second
            err = second.stderr
            assert f"an engine named '{first.name}' is already running (pid {first.proc.pid}" in err, err
            assert "ready" not in second.stdout
            # the first one is untouched: same segment, same pid, still answering
            assert _shm(first.name).stat().st_ino == before
            assert rig.engine_pid == first.proc.pid and rig.slot_count == 4
            assert rig.ping() > 0
            assert first.alive()
    finally:
        assert first.stop(check=True) == 0


def test_a_fatal_fault_is_reported_with_its_address_and_mapping(server, looprig_mod):
    """A crash the engine cannot survive still says what happened: here its
    own segment is truncated under it (as a full /dev/shm, or a JACK server
    reusing a segment's name, would leave a mapping longer than its file), the
    next period's meters fault with SIGBUS, and stderr names the signal, the
    address and the file. The exit status stays the signal's."""
    engine = H.Engine(server, slots=2).start()
    try:
        os.truncate(_shm(engine.name), 4096)
        engine.proc.wait(10)
        err = engine.stderr()
        print(err.strip().splitlines()[-1])
        assert engine.proc.returncode == -signal.SIGBUS, err
        line = next(l for l in err.splitlines() if "fatal SIGBUS" in l)
        assert f"/dev/shm/looprig-{os.getuid()}-{engine.name}" in line and " at address 0x" in line, line
    finally:
        engine.stop(check=False)
