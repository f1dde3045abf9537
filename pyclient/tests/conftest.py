"""Shared fixtures for the looprig Python package tests.

A private JACK server (dummy backend, 48 kHz, 256 frames) and the real engine
(``build/engine/looprigd`` or ``$LOOPRIGD``) are started per test session with
unique names (``lrtest-<pid>...``); everything is killed at the end, also on
failure.  Tests that need the engine *fail* if its binary is missing; only a
missing JACK installation (an environmental problem) skips.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]
PYCLIENT = REPO / "pyclient"
PYTHON = "/usr/bin/python3"
RATE = 48000
PERIOD = 256

if str(PYCLIENT) not in sys.path:
    sys.path.insert(0, str(PYCLIENT))

_counter = itertools.count()


def unique_name(prefix: str = "lrtest") -> str:
    """A name unique to this test session: ``<prefix>-<pid>-<n>`` (JACK-safe)."""
    return "%s-%d-%d" % (prefix, os.getpid(), next(_counter))


def engine_binary() -> Path:
    """``$LOOPRIGD`` or ``<repo>/build/engine/looprigd``."""
    env = os.environ.get("LOOPRIGD")
    return Path(env) if env else REPO / "build" / "engine" / "looprigd"


def shm_library() -> Path:
    """``$LOOPRIG_LIB`` or ``<repo>/build/shm/liblooprig-shm.so``."""
    env = os.environ.get("LOOPRIG_LIB")
    if env:
        return Path(env)
    so = REPO / "build" / "shm" / "liblooprig-shm.so"
    return so if so.exists() else so.with_name("liblooprig-shm.so.0")


def wait_stopped(pid: int, timeout: float = 5.0) -> None:
    """SIGSTOP is delivered asynchronously: wait until every thread of ``pid``
    is stopped (state T), so that the engine's threads run nothing more."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for task in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, task)) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        if states and all(st in ("T", "t") for st in states):
            return
        time.sleep(0.002)
    raise AssertionError("engine %d did not stop" % pid)


def sigstop(pid: int) -> None:
    """SIGSTOP ``pid`` and return once all its threads are stopped."""
    os.kill(pid, signal.SIGSTOP)
    wait_stopped(pid)


def require_engine() -> Path:
    """Return the engine binary; *fail* the test (not skip) if it is missing."""
    p = engine_binary()
    if not (p.is_file() and os.access(p, os.X_OK)):
        pytest.fail("engine binary %s is missing: build it (meson setup build && ninja -C build)" % p)
    return p


def require_library() -> Path:
    p = shm_library()
    if not p.is_file():
        pytest.fail("%s is missing: build it (meson setup build && ninja -C build)" % p)
    return p


class Proc:
    """A child process whose combined output is collected by a thread."""

    def __init__(self, argv: List[str], env: Optional[Dict[str, str]] = None, label: str = "") -> None:
        self.argv = argv
        self.label = label or Path(argv[0]).name
        self.lines: List[str] = []
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        with self._cond:
            return "\n".join(self.lines)

    def wait_for_line(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if any(needle in ln for ln in self.lines):
                    return True
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    return False
                self._cond.wait(min(left, 0.1))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 5.0, kill: bool = True) -> Optional[int]:
        """SIGTERM, then (``kill``) SIGKILL; returns the exit status (None if still running)."""
        if self.alive():
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                if not kill:
                    return None
                self.signal(signal.SIGKILL)
                self.proc.wait(5)
        self._reader.join(2)
        return self.proc.returncode


class JackRegistryFull(RuntimeError):
    """JACK's per-machine registry (8 servers) is full: other sessions' servers."""


class JackServer:
    """A private jackd (``-n NAME -d dummy``)."""

    def __init__(self, name: str, rate: int = RATE, period: int = PERIOD) -> None:
        self.name = name
        self.rate = rate
        self.period = period
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        self.proc = Proc(
            ["jackd", "--no-realtime", "-n", name, "-d", "dummy", "-r", str(rate), "-p", str(period)],
            env=env,
            label="jackd",
        )
        deadline = time.monotonic() + 15
        up = False
        while self.proc.alive() and time.monotonic() < deadline:
            rc = subprocess.run(["jack_wait", "-s", name, "-w", "-t", "1"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=env, timeout=10)
            if rc.returncode == 0 and self.proc.alive():
                up = True
                break
        if not up:
            self.proc.stop(timeout=30.0, kill=False)
            out = self.proc.output()
            if "Too many servers" in out:
                raise JackRegistryFull(out)
            raise RuntimeError("jackd %s did not come up:\n%s" % (name, out))

    def env(self) -> Dict[str, str]:
        """Environment for JACK clients of this server."""
        return dict(os.environ, JACK_DEFAULT_SERVER=self.name, JACK_NO_AUDIO_RESERVATION="1")

    def stop(self) -> None:
        # Never SIGKILL a jackd: a killed jackd never unregisters from JACK's
        # shm registry, which has room for 8 servers per machine, so each leak
        # would eat one for every user. One that ignores SIGTERM for 30 s is
        # left running, with a message.
        rc = self.proc.stop(timeout=30.0, kill=False)
        if rc is None:
            sys.stderr.write("conftest: jackd %s (pid %d) did not stop within 30 s of SIGTERM; left running "
                             "(stop it with: kill -TERM %d)\n" % (self.name, self.proc.pid, self.proc.pid))
            return
        if rc == -signal.SIGKILL:
            # Killed by someone else: starting a server of the same name
            # reclaims the dead registry entry; stopping it cleanly frees it.
            self._reclaim()
        # Remove semaphores/segments a server stopped under a connected client
        # leaves behind; they carry our unique name.
        shm = Path("/dev/shm")
        for pattern in ("jack_sem.*_%s_*" % self.name, "jack_%s_*" % self.name):
            for p in shm.glob(pattern):
                try:
                    p.unlink()
                except OSError:
                    pass


    def _reclaim(self) -> None:
        env = dict(os.environ, JACK_NO_AUDIO_RESERVATION="1")
        p = Proc(["jackd", "--no-realtime", "-n", self.name, "-d", "dummy", "-r", str(self.rate),
                  "-p", str(self.period)], env=env, label="jackd-reclaim")
        subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env, timeout=20)
        p.stop(timeout=30.0, kill=False)


class Engine:
    """A running looprigd on a given JACK server."""

    def __init__(self, jack: JackServer, name: Optional[str] = None, args: Optional[List[str]] = None,
                 ready_timeout: float = 15.0) -> None:
        binary = require_engine()
        self.name = name or unique_name()
        self.jack = jack
        argv = [str(binary), "--name", self.name, "--declick-ms", "0"] + list(args or [])
        self.proc = Proc(argv, env=jack.env(), label="looprigd")
        if not self.proc.wait_for_line("ready", ready_timeout):
            out = self.proc.output()
            self.stop()
            raise RuntimeError("looprigd %s did not print 'ready' within %gs:\n%s" % (self.name, ready_timeout, out))

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        self.proc.stop()
        self.cleanup_segment()

    def kill(self) -> None:
        self.proc.signal(signal.SIGKILL)
        self.proc.proc.wait(5)

    def cleanup_segment(self) -> None:
        """Remove a segment left behind by a killed engine."""
        try:
            import looprig

            p = Path("/dev/shm") / looprig.segment_name(self.name).lstrip("/")
        except Exception:
            p = Path("/dev/shm") / ("looprig-%d-%s" % (os.getuid(), self.name))
        try:
            p.unlink()
        except FileNotFoundError:
            pass


@pytest.fixture(scope="session")
def jack_server() -> Iterator[JackServer]:
    """Session-wide private jackd."""
    if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
        pytest.skip("jackd/jack_wait not installed (Debian package jackd2)")
    # JACK allows 8 servers per machine; other sessions may hold them all for a while.
    deadline = time.monotonic() + 90
    while True:
        try:
            srv = JackServer(unique_name("lrjack"))
            break
        except JackRegistryFull as e:
            if time.monotonic() > deadline:
                pytest.skip("environment: JACK's server registry is full (8 servers, some possibly stale "
                            "after a SIGKILLed jackd; see /dev/shm/jack-shm-registry):\n%s" % e)
            time.sleep(3)
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def engine(jack_server: JackServer) -> Iterator[Engine]:
    """Session-wide engine (``--declick-ms 0``, 32 slots)."""
    eng = Engine(jack_server)
    try:
        yield eng
    finally:
        eng.stop()


@pytest.fixture
def engine_factory(jack_server: JackServer) -> Iterator:
    """Start extra (private) engines; all are stopped after the test."""
    made: List[Engine] = []

    def make(args: Optional[List[str]] = None) -> Engine:
        e = Engine(jack_server, args=args)
        made.append(e)
        return e

    try:
        yield make
    finally:
        for e in made:
            e.stop()


@pytest.fixture
def rig(engine: Engine) -> Iterator:
    """A Rig attached to the session engine, closed after the test."""
    import looprig

    r = looprig.attach(engine.name, timeout=5.0)
    try:
        yield r
    finally:
        r.close()


@pytest.fixture(scope="session")
def sine_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s stereo 32-bit float WAV at 48 kHz: 440 Hz sine at -6 dBFS."""
    import numpy as np

    from looprig.wavfile import write_wav_float

    p = tmp_path_factory.mktemp("audio") / "sine440.wav"
    t = np.arange(RATE) / RATE
    x = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    write_wav_float(p, np.stack([x, x], axis=1).astype(np.float32), RATE)
    return p


def run_cli(args: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 60.0,
            module: bool = False) -> subprocess.CompletedProcess:
    """Run ``./looprig ARGS`` (or ``/usr/bin/python3 -m looprig``) and capture its output."""
    if module:
        argv = [PYTHON, "-m", "looprig"] + args
        e = dict(env or os.environ)
        e["PYTHONPATH"] = str(PYCLIENT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    else:
        argv = [str(REPO / "looprig")] + args
        e = dict(env or os.environ)
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=e, timeout=timeout, text=True)
