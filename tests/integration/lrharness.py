"""Harness for looprig's end-to-end tests: a private jackd, the real engine,
an independent JACK capture client and test-signal files.

Everything here runs under Debian's ``/usr/bin/python3`` (numpy, cffi,
python3-jack-client).  Nothing in this module knows what the engine is
supposed to output: tests compute their expectations themselves and compare
them with what :class:`Capture` recorded, frame by frame, indexed by absolute
JACK frame time.
"""
from __future__ import annotations

import itertools
import json
import math
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
PYTHON = "/usr/bin/python3"
RATE = 48000
PERIOD = 256
# The MIDI ports every engine registers (docs/MIDI.md), beside its audio outs.
MIDI_PORTS = ["midi_clock_out", "midi_in", "midi_out"]

_counter = itertools.count()


def unique_name(prefix: str) -> str:
    """A name unique to this test run (pid + counter), short enough for JACK."""
    return f"{prefix}{os.getpid()}x{next(_counter)}"


def engine_binary() -> Path:
    p = os.environ.get("LOOPRIGD")
    if p:
        return Path(p)
    return REPO / "build" / "engine" / "looprigd"


def shm_library() -> Path | None:
    """liblooprig-shm shared library of the build tree (for raw commands)."""
    p = os.environ.get("LOOPRIG_SHM_LIB")
    if p:
        return Path(p)
    for cand in sorted((REPO / "build").glob("shm/liblooprig-shm.so*")):
        return cand
    for cand in sorted((REPO / "build").rglob("liblooprig-shm.so*")):
        return cand
    return None


def pyclient_path() -> Path:
    return REPO / "pyclient"


def import_looprig():
    pc = str(pyclient_path())
    if pc not in sys.path:
        sys.path.insert(0, pc)
    import looprig  # noqa: E402

    return looprig


def sigstop(pid: int, timeout: float = 5.0) -> None:
    """SIGSTOP ``pid`` and return once every thread of it is stopped (state T).

    The signal is delivered asynchronously: without the wait, the engine's
    audio thread may still answer a command sent right after ``kill``."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = []
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass
        if states and all(st in ("T", "t") for st in states):
            return
        time.sleep(0.002)
    raise AssertionError(f"process {pid} did not stop")


# --------------------------------------------------------------------------
# jackd
# --------------------------------------------------------------------------


class JackServer:
    """A private jackd (dummy backend) on a unique server name."""

    def __init__(self, rate: int = RATE, period: int = PERIOD, realtime: bool = False):
        self.name = unique_name("lrit-")
        self.rate = rate
        self.period = period
        self.realtime = realtime
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / f"{self.name}.jackd.log"

    @property
    def env(self) -> dict:
        env = dict(os.environ)
        env["JACK_DEFAULT_SERVER"] = self.name
        env["JACK_NO_AUDIO_RESERVATION"] = "1"
        return env

    def start(self) -> "JackServer":
        args = ["jackd", "-R" if self.realtime else "--no-realtime", "-n", self.name,
                "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.env, start_new_session=True)
        r = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], env=self.env,
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0 or self.proc.poll() is not None:
            self.stop()
            raise RuntimeError(f"jackd {self.name} did not come up: {r.stdout}{r.stderr}\n"
                               f"{self.log()}")
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def late_cycles(self) -> int:
        """Number of 'not finished' client reports in jackd's log so far."""
        return len(re.findall(r"was not finished", self.log()))

    def ports(self) -> list[str]:
        r = subprocess.run(["jack_lsp"], env=self.env, capture_output=True, text=True, timeout=10)
        return [l.strip() for l in r.stdout.splitlines() if l.strip()]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        # Semaphores of clients that were killed (and the server's own files
        # if it was) stay in /dev/shm; the server name is unique to this run,
        # so everything under it is ours to remove once jackd is gone.
        if self.proc is not None and self.proc.poll() is not None:
            import glob
            for pat in (f"/dev/shm/jack_sem.{os.getuid()}_{self.name}_*", f"/dev/shm/jack_{self.name}_*"):
                for fn in glob.glob(pat):
                    try:
                        os.unlink(fn)
                    except OSError:
                        pass
        try:
            self.log_path.unlink()
        except OSError:
            pass


# --------------------------------------------------------------------------
# the engine process
# --------------------------------------------------------------------------


class Engine:
    """looprigd under test. Output captured to files; ``ready`` awaited on stdout."""

    live: list["Engine"] = []   # for failure reports (conftest hook)

    def __init__(self, server: JackServer, slots: int | None = None, slot_outs: bool = False,
                 extra: list[str] | None = None, name: str | None = None, env: dict | None = None):
        self.server = server
        self.env = env  # the process's environment (default: the server's)
        self.name = name or unique_name("lre")
        self.slots = slots if slots is not None else 32
        self.args = [str(engine_binary()), "--name", self.name, "--declick-ms", "0"]
        if slots is not None:
            self.args += ["--slots", str(slots)]
        if slot_outs:
            self.args.append("--slot-outs")
        self.args += extra or []
        self.proc: subprocess.Popen | None = None
        self.stdout_lines: list[str] = []
        self._ready = threading.Event()
        self.stderr_path = Path(tempfile.gettempdir()) / f"{self.name}.stderr"
        self.returncode: int | None = None

    def start(self, timeout: float = 10.0) -> "Engine":
        if not engine_binary().exists():
            raise FileNotFoundError(f"engine binary not found: {engine_binary()}")
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._err,
                                     env=self.env or self.server.env, cwd=str(REPO), text=True,
                                     bufsize=1)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        Engine.live.append(self)
        if not self._ready.wait(timeout):
            out = self.diagnostics()
            self.stop(check=False)
            raise RuntimeError(f"engine did not print 'ready' within {timeout}s\n{out}")
        return self

    def _read(self):
        for line in self.proc.stdout:
            self.stdout_lines.append(line.rstrip("\n"))
            if "ready" in line:
                self._ready.set()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def diagnostics(self) -> str:
        rc = self.proc.poll() if self.proc else None
        return (f"engine {' '.join(self.args)} (exit status {rc})\n"
                f"--- stdout ---\n" + "\n".join(self.stdout_lines[-60:]) +
                f"\n--- stderr (tail) ---\n" + self.stderr()[-6000:])

    def _remove_segment(self):
        """After a SIGKILL the engine cannot unlink its segment: do it, so
        test runs leave nothing behind in /dev/shm (our unique names only)."""
        try:
            Path(f"/dev/shm/looprig-{os.getuid()}-{self.name}").unlink()
        except OSError:
            pass

    def port(self, short: str) -> str:
        return f"{self.name}:{short}"

    def stop(self, check: bool = True, timeout: float = 5.0) -> int | None:
        """SIGTERM, wait; returns exit status. With check, raise if it did not
        exit on its own or exited with an error."""
        if self in Engine.live:
            Engine.live.remove(self)
        if self.proc is None:
            return None
        problem = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                problem = f"engine did not exit within {timeout}s of SIGTERM"
                self.proc.kill()
                self.proc.wait(5)
                self._remove_segment()
        else:
            problem = f"engine had already exited (status {self.proc.returncode}) before SIGTERM"
            if self.proc.returncode != 0:
                self._remove_segment()
        self.returncode = self.proc.returncode
        if self.returncode not in (0, None) and problem is None:
            problem = f"engine exited with status {self.returncode} after SIGTERM"
        self._err.close()
        diag = self.diagnostics()
        if problem is None:
            try:
                self.stderr_path.unlink()
            except OSError:
                pass
        if check and problem:
            raise AssertionError(problem + "\n" + diag)
        return self.returncode


# --------------------------------------------------------------------------
# capture through JACK
# --------------------------------------------------------------------------


class Recording:
    """Captured signal, indexed by absolute JACK frame time.

    ``data[c, i]`` is channel ``c`` at JACK frame ``t0 + i``; ``valid[i]``
    says whether that frame was actually captured (False inside gaps left by
    cycles the capture client did not run)."""

    def __init__(self, t0: int, data: np.ndarray, valid: np.ndarray, names: list[str],
                 blocks: int, duplicates: int):
        self.t0 = int(t0)
        self.data = data
        self.valid = valid
        self.names = names
        self.blocks = blocks
        self.duplicates = duplicates

    @property
    def t1(self) -> int:
        return self.t0 + self.data.shape[1]

    def channel(self, name_or_index) -> int:
        if isinstance(name_or_index, int):
            return name_or_index
        for i, n in enumerate(self.names):
            if n == name_or_index or n.endswith(":" + name_or_index):
                return i
        raise KeyError(name_or_index)

    def window(self, chan, start: int | None = None, end: int | None = None):
        """(frames_abs, values, valid) for [start, end) clipped to the recording."""
        c = self.channel(chan)
        s = self.t0 if start is None else max(int(start), self.t0)
        e = self.t1 if end is None else min(int(end), self.t1)
        if e <= s:
            return (np.zeros(0, np.int64), np.zeros(0, np.float32), np.zeros(0, bool))
        i0, i1 = s - self.t0, e - self.t0
        return (np.arange(s, e, dtype=np.int64), self.data[c, i0:i1], self.valid[i0:i1])

    def gaps(self) -> list[tuple[int, int]]:
        """Missing [start, end) ranges of absolute frames."""
        inv = ~self.valid
        if not inv.any():
            return []
        d = np.diff(np.concatenate(([0], inv.astype(np.int8), [0])))
        starts = np.nonzero(d == 1)[0]
        ends = np.nonzero(d == -1)[0]
        return [(self.t0 + int(a), self.t0 + int(b)) for a, b in zip(starts, ends)]


class Capture:
    """An independent JACK client that records the engine's outputs.

    The process callback copies each block (and ``last_frame_time``, the JACK
    frame time of the block's first frame) into preallocated numpy arrays;
    nothing else happens there."""

    def __init__(self, server: JackServer, sources: list[str], name: str | None = None):
        import jack

        self.server = server
        self.sources = list(sources)
        self.client = jack.Client(name or unique_name("lrcap"), servername=server.name,
                                  no_start_server=True)
        self.blocksize = self.client.blocksize
        self.rate = self.client.samplerate
        self._ports = [self.client.inports.register(f"in{i}") for i in range(len(sources))]
        self._armed = False
        self._n = 0
        self._cap = 0
        self._buf = np.zeros((1, len(sources), self.blocksize), np.float32)
        self._times = np.zeros(1, np.uint64)
        self._torn = np.zeros(1, bool)
        self._nframes = np.zeros(1, np.uint32)
        self.overflow = False
        self.rejected = 0
        self.torn = 0
        self.bad_nframes = 0
        self.xruns = 0
        self.client.set_process_callback(self._process)
        self.client.set_xrun_callback(self._xrun)
        self.client.activate()
        for src, p in zip(self.sources, self._ports):
            self.client.connect(src, p)

    # -- audio thread ------------------------------------------------------
    def _process(self, frames):
        if not self._armed:
            return
        n = self._n
        if n >= self._cap:
            self.overflow = True
            return
        if frames != self.blocksize:
            self.bad_nframes += 1
            return
        t = self.client.last_frame_time
        b = self._buf[n]
        for i, p in enumerate(self._ports):
            b[i] = p.get_array()
        # If the next cycle began while we copied (this callback ran late),
        # the engine may already have overwritten the buffers we read: the
        # block is torn and must not be used.
        self._torn[n] = self.client.last_frame_time != t
        self._times[n] = t
        self._n = n + 1

    def _xrun(self, delay):
        self.xruns += 1

    # -- control -----------------------------------------------------------
    def arm(self, seconds: float):
        """Start a new recording now, with room for ``seconds`` of audio."""
        self._armed = False
        time.sleep(0.02)  # let a running callback finish with the old arrays
        nblocks = int(math.ceil(seconds * self.rate / self.blocksize)) + 4
        self._buf = np.zeros((nblocks, len(self._ports), self.blocksize), np.float32)
        self._times = np.zeros(nblocks, np.uint64)
        self._torn = np.zeros(nblocks, bool)
        self._cap = nblocks
        self._n = 0
        self.overflow = False
        self._armed = True

    def last_frame(self) -> int | None:
        """Absolute frame just past the newest captured block."""
        n = self._n
        if n == 0:
            return None
        return int(self._times[n - 1]) + self.blocksize

    def wait_until(self, frame: int, timeout: float | None = None):
        """Block until the capture holds frames up to ``frame`` (exclusive)."""
        if timeout is None:
            lf = self.last_frame() or 0
            timeout = 5.0 + max(0, frame - lf) / self.rate * 1.5
        deadline = time.monotonic() + timeout
        while True:
            lf = self.last_frame()
            if lf is not None and lf >= frame:
                return
            if self.overflow:
                raise AssertionError(f"capture buffer overflowed before frame {frame}")
            if time.monotonic() > deadline:
                raise AssertionError(f"capture did not reach frame {frame} within {timeout:.1f}s"
                                     f" (last captured {lf})")
            time.sleep(0.01)

    def take(self, until: int | None = None) -> Recording:
        """Stop recording (after waiting for frame ``until`` if given) and
        assemble a contiguous :class:`Recording`."""
        if until is not None:
            self.wait_until(until)
        self._armed = False
        time.sleep(0.02)
        n = self._n
        if n == 0:
            raise AssertionError("capture recorded nothing")
        times = self._times[:n].astype(np.int64)
        bs = self.blocksize
        # A block is trusted only if the blocks recorded just before and just
        # after it carry the neighbouring frame times.  When the capture
        # callback runs late, last_frame_time may already belong to the next
        # cycle (seen with the dummy backend under load: a label repeated, the
        # block before it labelled one period early).  Such blocks and their
        # neighbours are dropped and show up as gaps.
        d = np.diff(times)
        ok = np.ones(n, bool)
        if n > 1:
            ok[1:] &= d == bs
            ok[:-1] &= d == bs
        self.torn = int(self._torn[:n].sum())
        ok &= ~self._torn[:n]
        self.rejected = int((~ok).sum())
        keep = np.nonzero(ok)[0]
        if len(keep) == 0:
            raise AssertionError(f"capture has no trustworthy block (times {times[:10]})")
        t0 = int(times[keep[0]])
        t1 = int(times[keep[-1]]) + bs
        total = t1 - t0
        data = np.zeros((len(self._ports), total), np.float32)
        valid = np.zeros(total, bool)
        dup = 0
        for idx in keep:
            off = int(times[idx]) - t0
            if valid[off:off + bs].any():
                dup += 1
                valid[off:off + bs] = False
                continue
            data[:, off:off + bs] = self._buf[idx]
            valid[off:off + bs] = True
        return Recording(t0, data, valid, self.sources, n, dup)

    def record(self, seconds: float) -> Recording:
        self.arm(seconds + 1)
        time.sleep(seconds)
        return self.take()

    def close(self):
        self._armed = False
        try:
            self.client.deactivate()
        except Exception:
            pass
        self.client.close()


# --------------------------------------------------------------------------
# MIDI
# --------------------------------------------------------------------------


class MidiPad:
    """A JACK client standing in for a controller: sends events at chosen
    absolute frames from its process callback and records what arrives (with
    the absolute frame of each event)."""

    def __init__(self, server: JackServer, engine: "Engine | None" = None, send: bool = True,
                 listen: str = "midi_out"):
        import jack

        self.client = jack.Client(unique_name("lrpad"), servername=server.name, no_start_server=True)
        self.out = self.client.midi_outports.register("out")
        self.inp = self.client.midi_inports.register("in")
        self.pending: list[tuple[int, bytes]] = []
        self.lock = threading.Lock()
        self.received: list[tuple[int, bytes]] = []
        self.sent: list[tuple[int, bytes]] = []
        self.client.set_process_callback(self._process)
        self.client.activate()
        if engine is not None:
            if send:
                self.client.connect(self.out, engine.port("midi_in"))
            if listen:
                self.client.connect(engine.port(listen), self.inp)

    def _process(self, frames):
        t = self.client.last_frame_time
        self.out.clear_buffer()
        with self.lock:
            due = [e for e in self.pending if e[0] < t + frames]
            self.pending = [e for e in self.pending if e[0] >= t + frames]
        for f, data in sorted(due):
            off = max(0, f - t)
            self.out.write_midi_event(off, data)
            self.sent.append((t + off, data))
        for off, data in self.inp.incoming_midi_events():
            self.received.append((t + off, bytes(data)))

    def now(self) -> int:
        return self.client.frame_time

    def send_at(self, frame: int, data: bytes):
        with self.lock:
            self.pending.append((frame, bytes(data)))

    def wait_sent(self, n: int, timeout: float = 5.0):
        deadline = time.monotonic() + timeout
        while len(self.sent) < n:
            assert time.monotonic() < deadline, f"only {len(self.sent)} of {n} events went out"
            time.sleep(0.01)

    def close(self):
        self.client.deactivate()
        self.client.close()


# --------------------------------------------------------------------------
# comparing signals
# --------------------------------------------------------------------------


def loop_expected(x: np.ndarray, start: int, frames_abs: np.ndarray,
                  stop: int | None = None) -> np.ndarray:
    """Expected output of loop ``x`` (1-D) started at absolute frame ``start``
    (and stopped at ``stop``) at absolute frames ``frames_abs``."""
    L = len(x)
    k = frames_abs.astype(np.int64) - int(start)
    on = k >= 0
    if stop is not None:
        on &= frames_abs < stop
    out = np.zeros(len(frames_abs), np.float64)
    out[on] = x[np.mod(k[on], L)]
    return out


def compare(rec: Recording, chan, expected_fn, start: int, end: int, tol: float = 1e-6,
            min_coverage: float = 0.5, what: str = "") -> int:
    """Assert captured == expected_fn(frames_abs) on [start, end) for every
    captured frame. Requires that at least ``min_coverage`` of the window was
    captured. Returns the number of frames compared."""
    assert end > start, "empty comparison window"
    assert rec.t0 <= start and rec.t1 >= end, (
        f"{what}: window [{start}, {end}) not inside recording [{rec.t0}, {rec.t1})")
    f, got, ok = rec.window(chan, start, end)
    n = int(ok.sum())
    cov = n / (end - start)
    assert cov >= min_coverage, (
        f"{what}: only {cov:.1%} of [{start},{end}) captured; gaps {rec.gaps()[:10]}")
    exp = np.asarray(expected_fn(f), dtype=np.float64)
    err = np.abs(got.astype(np.float64) - exp)
    bad = ok & (err > tol)
    if bad.any():
        idx = np.nonzero(bad)[0]
        i = idx[0]
        lines = [f"{what}: {len(idx)} of {n} captured frames differ (tol {tol}) on channel "
                 f"{rec.names[rec.channel(chan)]}; first at abs frame {int(f[i])}: "
                 f"got {got[i]!r}, expected {exp[i]!r}"]
        for j in idx[:8]:
            lines.append(f"   frame {int(f[j])}: got {float(got[j]):+.9f} expected {float(exp[j]):+.9f}")
        # Hint whether the mismatch looks like a whole block shifted by one
        # period (a capture-labelling problem) rather than wrong samples.
        bs = PERIOD
        for shift in (-bs, bs):
            alt = np.asarray(expected_fn(f[idx] + shift), dtype=np.float64)
            if np.all(np.abs(got[idx].astype(np.float64) - alt) <= tol):
                lines.append(f"   (all mismatching frames equal the expectation {shift:+d} frames away)")
        lines.append(f"   recording [{rec.t0}, {rec.t1}), gaps {rec.gaps()[:6]}")
        dump = Path(tempfile.gettempdir()) / f"lrit-fail-{os.getpid()}-{next(_counter)}.npz"
        try:
            np.savez_compressed(dump, frames=f, got=got, expected=exp, valid=ok, t0=rec.t0,
                                data=rec.data, rec_valid=rec.valid, names=np.array(rec.names))
            lines.append(f"   recording and expectation saved to {dump}")
        except OSError:
            pass
        raise AssertionError("\n".join(lines))
    return n


def slot_port_width(slots: int) -> int:
    """Digits in slotNN_L: two, more when the highest index needs more."""
    return max(2, len(str(slots - 1)))


def slot_port(engine_name: str, slot: int, side: str, slots: int) -> str:
    return f"{engine_name}:slot{slot:0{slot_port_width(slots)}d}_{side}"


def pan_gains(p: float, channels: int = 1, law: float = -3.0) -> tuple[float, float]:
    """Channel gains of pan p as the README states them: a stereo source
    pans as a balance (unity at centre, the far side falls by cos(|p| pi/2));
    a mono source by the pan law `law` (dB at centre: theta = (p+1) pi/4,
    cos/sin to the power 1, 1.5, 2 for -3, -4.5, -6; 0 dB = the balance)."""
    if channels == 2 or law == 0.0:
        fall = math.cos(abs(p) * math.pi / 2.0)
        return (fall if p > 0 else 1.0), (fall if p < 0 else 1.0)
    k = {-3.0: 1.0, -4.5: 1.5, -6.0: 2.0}[law]
    th = (p + 1.0) * math.pi / 4.0
    return math.cos(th) ** k, math.sin(th) ** k


def db_to_lin(db: float) -> float:
    return 10.0 ** (db / 20.0)


def primes_between(lo: int, hi: int) -> list[int]:
    out = []
    for n in range(max(lo, 2), hi):
        if all(n % d for d in range(2, int(n ** 0.5) + 1)):
            out.append(n)
    return out


# --------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------


def _as_frames(data: np.ndarray) -> np.ndarray:
    a = np.asarray(data)
    if a.ndim == 1:
        a = a[:, None]
    return a


def write_wav_float(path, data, rate: int = RATE) -> Path:
    """32-bit IEEE float WAV (format tag 3), header written by hand."""
    a = _as_frames(data).astype("<f4")
    ch = a.shape[1]
    payload = a.tobytes()
    fmt = struct.pack("<HHIIHH", 3, ch, rate, rate * ch * 4, ch * 4, 32)
    fact = struct.pack("<I", a.shape[0])
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt +
            b"fact" + struct.pack("<I", 4) + fact +
            b"data" + struct.pack("<I", len(payload)) + payload)
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return Path(path)


def to_int16(data) -> np.ndarray:
    a = np.asarray(data, np.float64)
    return np.clip(np.round(a * 32768.0), -32768, 32767).astype(np.int16)


def write_wav_pcm16(path, data, rate: int = RATE) -> Path:
    """16-bit PCM WAV. ``data`` float in [-1, 1) (or int16)."""
    a = _as_frames(data)
    if a.dtype != np.int16:
        a = to_int16(a)
    a = a.astype("<i2")
    ch = a.shape[1]
    payload = a.tobytes()
    fmt = struct.pack("<HHIIHH", 1, ch, rate, rate * ch * 2, ch * 2, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt +
            b"data" + struct.pack("<I", len(payload)) + payload)
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return Path(path)


def read_wav_float(path) -> tuple[np.ndarray, int]:
    """Minimal reader for the files written above (float32 or pcm16)."""
    b = Path(path).read_bytes()
    assert b[:4] == b"RIFF" and b[8:12] == b"WAVE"
    pos = 12
    fmt = None
    while pos + 8 <= len(b):
        cid, size = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        chunk = b[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = struct.unpack("<HHIIHH", chunk[:16])
        elif cid == b"data":
            tag, ch, rate, _, _, bits = fmt
            if tag == 3:
                a = np.frombuffer(chunk, "<f4")
            else:
                a = np.frombuffer(chunk, "<i2").astype(np.float32) / 32768.0
            return a.reshape(-1, ch), rate
        pos += 8 + size + (size & 1)
    raise ValueError("no data chunk")


def sox(*args):
    r = subprocess.run(["sox", *map(str, args)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"sox {' '.join(map(str, args))} failed: {r.stderr}")


def soxi_frames(path) -> int:
    r = subprocess.run(["soxi", "-s", str(path)], capture_output=True, text=True, timeout=30)
    return int(r.stdout.strip())


def make_bad_files(d: Path) -> dict[str, Path]:
    d = Path(d)
    out = {}
    out["text"] = d / "not_audio.wav"
    out["text"].write_text("This is not audio, it is a text file pretending to be a WAV.\n" * 20)
    good = write_wav_float(d / "_good_for_truncation.wav",
                           np.random.default_rng(7).uniform(-0.5, 0.5, 4800).astype(np.float32))
    raw = good.read_bytes()
    out["truncated_header"] = d / "truncated_header.wav"
    out["truncated_header"].write_bytes(raw[:30])
    out["truncated_data"] = d / "truncated_data.wav"
    out["truncated_data"].write_bytes(raw[: len(raw) // 2 + 1])
    out["empty"] = d / "empty.wav"
    out["empty"].write_bytes(b"")
    out["zero_frames"] = write_wav_float(d / "zero_frames.wav", np.zeros(0, np.float32))
    out["missing"] = d / "does_not_exist.wav"
    return out


def noise(n: int, seed: int, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = rng.uniform(-amp, amp, (n, channels)).astype(np.float32)
    return a[:, 0] if channels == 1 else a


# --------------------------------------------------------------------------
# raw commands through liblooprig-shm (independent of the Python package)
# --------------------------------------------------------------------------


def _cdef_text() -> str:
    inc = REPO / "shm" / "include" / "looprig"
    parts = []
    for h in ("shm_layout.h", "shm_client.h"):
        t = (inc / h).read_text()
        m = re.search(r"/\* LR_CDEF_BEGIN \*/(.*?)/\* LR_CDEF_END \*/", t, re.S)
        parts.append(m.group(1))
    return "\n".join(parts)


class RawClient:
    """Sends hand-built lr_command structs with the C ABI (cffi, ABI mode)."""

    _ffi = None
    _lib = None

    def __init__(self, engine_name: str):
        import cffi

        if RawClient._ffi is None:
            lib = shm_library()
            if lib is None:
                raise FileNotFoundError("liblooprig-shm not found under build/")
            ffi = cffi.FFI()
            ffi.cdef(_cdef_text())
            RawClient._lib = ffi.dlopen(str(lib))
            RawClient._ffi = ffi
        self.ffi, self.lib = RawClient._ffi, RawClient._lib
        pp = self.ffi.new("lr_client **")
        err = self.ffi.new("char[512]")
        r = self.lib.lr_client_attach(engine_name.encode(), pp, err, 512)
        if r < 0:
            raise RuntimeError(f"lr_client_attach: {r} {self.ffi.string(err).decode()}")
        self.c = pp[0]

    def send(self, type_: int, slot: int = 0, flags: int = 0, values=(), text: bytes = b"",
             at_frame: int = 0, quantize: int = 0, quantize_arg: int = 0,
             text_len: int | None = None, check: bool = True) -> int:
        cmd = self.ffi.new("lr_command *")
        cmd.type = type_
        cmd.flags = flags
        cmd.slot = slot
        cmd.at_frame = at_frame
        cmd.quantize = quantize
        cmd.quantize_arg = quantize_arg
        for i, v in enumerate(values):
            cmd.value[i] = v
        if text:
            self.ffi.memmove(cmd.text, text, len(text))
        cmd.text_len = len(text) if text_len is None else text_len
        r = self.lib.lr_client_send(self.c, cmd)
        if r < 0 and check:
            raise RuntimeError(f"lr_client_send failed: {r}")
        return int(r)

    def wait(self, cmd_id: int, timeout: float = 5.0) -> dict:
        ev = self.ffi.new("lr_event *")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            while self.lib.lr_client_poll(self.c, ev):
                if ev.id == cmd_id:
                    return {"type": ev.type, "code": ev.code, "frame": ev.frame,
                            "command": ev.command, "slot": ev.slot,
                            "code_name": self.ffi.string(self.lib.lr_error_name(ev.code)).decode(),
                            "message": self.ffi.string(ev.message).decode(errors="replace")}
            time.sleep(0.002)
        raise TimeoutError(f"no answer to raw command {cmd_id}")

    def request(self, *a, **kw) -> dict:
        return self.wait(self.send(*a, **kw))

    def close(self):
        if self.c is not None:
            self.lib.lr_client_detach(self.c)
            self.c = None


# --------------------------------------------------------------------------
# the CLI
# --------------------------------------------------------------------------


def cli_command() -> list[str]:
    """How to run the looprig CLI: $LOOPRIG_CLI, ./looprig in the repo, else
    ``python3 -m looprig`` with pyclient on the path."""
    p = os.environ.get("LOOPRIG_CLI")
    if p:
        return p.split()
    for cand in (REPO / "looprig", REPO / "build" / "tools" / "looprig", REPO / "tools" / "looprig"):
        if cand.is_file() and os.access(cand, os.X_OK):
            return [str(cand)]
    return [PYTHON, "-m", "looprig"]


def run_cli(server: JackServer, engine: str, *args, timeout: float = 30) -> subprocess.CompletedProcess:
    env = server.env
    env["PYTHONPATH"] = str(pyclient_path()) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([*cli_command(), "--name", engine, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=str(REPO))


# --------------------------------------------------------------------------
# looking at the control API's results
# --------------------------------------------------------------------------


def meter_field(meters, key: str):
    """rig.meters() as a mapping or as an object with attributes."""
    if isinstance(meters, dict):
        return meters[key]
    try:
        return meters[key]
    except (TypeError, KeyError, IndexError):
        return getattr(meters, key)


def result_frame(r) -> int:
    """play/stop return a frame; accept an int or an object with .frame."""
    if isinstance(r, (int, np.integer)):
        return int(r)
    return int(getattr(r, "frame"))


# --------------------------------------------------------------------------
# an independent model of what the engine should output
# --------------------------------------------------------------------------


class SlotModel:
    """One slot as the contract describes it: a loop (mono duplicated to both
    channels), started/stopped at frames, with gain/pan/mute/solo changes at
    frames.  Initial state: stopped, 0 dB, pan 0, not muted, not soloed."""

    def __init__(self, x):
        a = np.asarray(x, np.float64)
        if a.ndim == 2 and a.shape[1] == 1:
            a = a[:, 0]
        self.channels = 1 if a.ndim == 1 else 2  # what the file holds: sets the pan law
        if a.ndim == 1:
            a = np.stack([a, a], axis=1)
        assert a.ndim == 2 and a.shape[1] == 2
        self.x = a
        self.L = a.shape[0]
        self.events: list[tuple[int, int, str, object]] = []
        self._seq = itertools.count()

    def _add(self, frame, kind, value=None):
        self.events.append((int(frame), next(self._seq), kind, value))
        return self

    def play(self, at):
        return self._add(at, "play")

    def stop(self, at):
        return self._add(at, "stop")

    def gain(self, at, db):
        return self._add(at, "gain", float(db))

    def pan(self, at, p):
        return self._add(at, "pan", float(p))

    def mute(self, at, on=True):
        return self._add(at, "mute", bool(on))

    def solo(self, at, on=True):
        return self._add(at, "solo", bool(on))

    def state_at(self, frame):
        st = {"start": None, "gain": 0.0, "pan": 0.0, "mute": False, "solo": False}
        for f, _, kind, v in sorted(self.events):
            if f > frame:
                break
            if kind == "play":
                st["start"] = f
            elif kind == "stop":
                st["start"] = None
            else:
                st[kind] = v
        return st

    def breakpoints(self):
        return {f for f, _, _, _ in self.events}


def render(models: list[SlotModel], frames_abs: np.ndarray):
    """Expected (master (2,n), [per-slot (2,n)]) at absolute frames (sorted,
    contiguous or not)."""
    f = np.asarray(frames_abs, np.int64)
    n = len(f)
    per = [np.zeros((2, n)) for _ in models]
    if n == 0:
        return np.zeros((2, 0)), per
    bps = sorted(set().union(*[m.breakpoints() for m in models]) | {int(f[0])})
    bps = [b for b in bps if b <= f[-1]]
    edges = bps + [int(f[-1]) + 1]
    for b, e in zip(edges[:-1], edges[1:]):
        if b < f[0]:
            continue
        i0, i1 = np.searchsorted(f, b), np.searchsorted(f, e)
        if i1 <= i0:
            continue
        states = [m.state_at(b) for m in models]
        any_solo = any(s["solo"] for s in states)
        for m, s, out in zip(models, states, per):
            if s["start"] is None or s["mute"] or (any_solo and not s["solo"]):
                continue
            k = np.mod(f[i0:i1] - s["start"], m.L)
            g = db_to_lin(s["gain"])
            gl, gr = pan_gains(s["pan"], m.channels)
            out[0, i0:i1] = m.x[k, 0] * g * gl
            out[1, i0:i1] = m.x[k, 1] * g * gr
    master = np.sum(per, axis=0) if per else np.zeros((2, n))
    return master, per


def check_model(rec: Recording, models: list[SlotModel], start: int, end: int,
                slot_chans: dict[int, tuple] | None = None, tol: float = 1e-6,
                min_coverage: float = 0.5, what: str = "") -> int:
    """Compare master (channels 0, 1 of the recording) and the given per-slot
    channels ({model index: (chan_L, chan_R)}) with the model on [start, end)."""
    cache = {}

    def expected(idx, side):
        def fn(frames):
            key = (int(frames[0]), int(frames[-1]), len(frames)) if len(frames) else (0, 0, 0)
            if key not in cache:
                cache[key] = render(models, frames)
            master, per = cache[key]
            return master[side] if idx is None else per[idx][side]
        return fn

    n = compare(rec, 0, expected(None, 0), start, end, tol, min_coverage, f"{what} master L")
    compare(rec, 1, expected(None, 1), start, end, tol, min_coverage, f"{what} master R")
    for i, (cl, cr) in (slot_chans or {}).items():
        compare(rec, cl, expected(i, 0), start, end, tol, min_coverage, f"{what} model {i} L")
        compare(rec, cr, expected(i, 1), start, end, tol, min_coverage, f"{what} model {i} R")
    return n


def reset_slots(rig, slots, looprig_mod=None):
    """Stop the slots and restore gain 0 dB, pan 0, unmuted, unsoloed."""
    for s in slots:
        for fn, args in (("stop", ()), ("gain", (0.0,)), ("pan", (0.0,)),
                         ("mute", (False,)), ("solo", (False,))):
            try:
                getattr(rig, fn)(s, *args)
            except Exception as e:  # noqa: BLE001 - stop of an empty slot etc.
                if type(e).__name__ != "CommandRejected":
                    raise


# --------------------------------------------------------------------------
# hostile files (test_hardening_files.py)
# --------------------------------------------------------------------------


def write_wav_raw(path, tag: int, channels: int, rate: int, bits: int, payload: bytes,
                  fmt_extra: bytes = b"", data_size: int | None = None) -> Path:
    """A WAV with any format tag and payload, header written by hand.
    ``data_size`` overrides the data chunk's declared size (to lie)."""
    fmt = struct.pack("<HHIIHH", tag, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits) + fmt_extra
    size = len(payload) if data_size is None else data_size
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt +
            b"data" + struct.pack("<I", size) + payload)
    Path(path).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return Path(path)


def write_wav_u8(path, data, rate: int = RATE) -> Path:
    """8-bit (unsigned) PCM WAV; ``data`` uint8 (128 = 0.0)."""
    a = _as_frames(np.asarray(data, np.uint8))
    return write_wav_raw(path, 1, a.shape[1], rate, 8, a.tobytes())


def u8_to_float(data) -> np.ndarray:
    """What an 8-bit WAV sample means: (v - 128) / 128 (exact in float32)."""
    return ((np.asarray(data, np.float64) - 128.0) / 128.0).astype(np.float32)


def write_mp3(path, data, rate: int = RATE) -> Path | None:
    """MPEG layer III through libsndfile (>= 1.1 with LAME); None if it cannot."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef("""
        typedef struct SNDFILE_tag SNDFILE;
        typedef struct { int64_t frames; int samplerate; int channels; int format;
                         int sections; int seekable; } SF_INFO;
        SNDFILE* sf_open(const char *path, int mode, SF_INFO *sfinfo);
        int64_t sf_writef_float(SNDFILE *sndfile, const float *ptr, int64_t frames);
        int sf_close(SNDFILE *sndfile);
    """)
    try:
        lib = ffi.dlopen("libsndfile.so.1")
    except OSError:
        return None
    a = np.ascontiguousarray(_as_frames(data), np.float32)
    info = ffi.new("SF_INFO *")
    info.samplerate, info.channels = rate, a.shape[1]
    info.format = 0x230000 | 0x0082   # SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III
    f = lib.sf_open(str(path).encode(), 0x20, info)   # SFM_WRITE
    if f == ffi.NULL:
        return None
    n = lib.sf_writef_float(f, ffi.cast("float *", a.ctypes.data), a.shape[0])
    lib.sf_close(f)
    return Path(path) if n == a.shape[0] else None


def make_hostile_files(d: Path) -> dict[str, Path]:
    """Files no loop can be made of (beyond make_bad_files), each refused."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(11)
    out = {}
    out["random_bytes"] = d / "random_bytes.wav"
    out["random_bytes"].write_bytes(rng.bytes(20000))
    out["text_txt"] = d / "readme.txt"
    out["text_txt"].write_text("looprig test: plain text, no audio here.\n" * 50)
    # WAVs whose format tag libsndfile does not decode
    out["tag_unknown"] = write_wav_raw(d / "tag_0x1234.wav", 0x1234, 1, RATE, 16, rng.bytes(9600))
    out["tag_mp3_in_wav"] = write_wav_raw(d / "tag_mpeglayer3.wav", 0x0055, 1, RATE, 16,
                                          rng.bytes(9600), struct.pack("<H", 0))
    out["tag_wma"] = write_wav_raw(d / "tag_wma.wav", 0x0161, 2, RATE, 16, rng.bytes(9600),
                                   struct.pack("<H", 0))
    out["tag_aac"] = write_wav_raw(d / "tag_aac.wav", 0x00FF, 2, RATE, 16, rng.bytes(9600),
                                   struct.pack("<H", 0))
    # WAVE_FORMAT_EXTENSIBLE with a sub-format GUID nobody knows
    out["extensible_unknown"] = write_wav_raw(
        d / "extensible_unknown.wav", 0xFFFE, 1, RATE, 16, rng.bytes(9600),
        struct.pack("<HHHI", 22, 16, 4, 0) + b"\x99" * 16)
    # truncation: header promises more than the file holds
    good16 = write_wav_pcm16(d / "_good16.wav", noise(4800, 12, amp=0.5)).read_bytes()
    out["truncated_pcm16"] = d / "truncated_pcm16.wav"
    out["truncated_pcm16"].write_bytes(good16[: len(good16) // 2])
    lie = bytearray(good16[:44 + 100])
    lie[40:44] = struct.pack("<I", 0x7FFFFFF0)        # "2 GB of data follow"
    out["claims_2gb"] = d / "claims_2gb.wav"
    out["claims_2gb"].write_bytes(bytes(lie))
    out["header_only"] = d / "header_only.wav"
    out["header_only"].write_bytes(good16[:44])
    flac = d / "_good.flac"
    sox(d / "_good16.wav", flac)
    fb = flac.read_bytes()
    out["truncated_flac"] = d / "truncated.flac"
    out["truncated_flac"].write_bytes(fb[: len(fb) // 2])
    x = noise(100, 13, amp=0.5)
    x[50] = np.nan
    out["nan_samples"] = write_wav_float(d / "nan_samples.wav", x)
    out["six_channels"] = write_wav_float(d / "six_channels.wav", noise(1000, 14, channels=6))
    out["three_channels"] = write_wav_float(d / "three_channels.wav", noise(1000, 15, channels=3))
    fifo = d / "fifo.wav"
    if not fifo.exists():
        os.mkfifo(fifo)
    out["fifo"] = fifo
    out["directory"] = d / "a_folder.wav"
    out["directory"].mkdir(exist_ok=True)
    out["char_device"] = Path("/dev/zero")
    return out


# --------------------------------------------------------------------------
# another uid (test_access.py, test_hardening_files.py)
# --------------------------------------------------------------------------

NOBODY_UID = 65534
NOBODY_GID = 65534


_can_switch: bool | None = None


def can_switch_uid() -> bool:
    """True if this process may start children as NOBODY_UID (root with
    CAP_SETUID/CAP_SETGID): tried once with /bin/true."""
    global _can_switch
    if _can_switch is None:
        _can_switch = False
        if os.geteuid() == 0:
            try:
                _can_switch = subprocess.run(["true"], preexec_fn=demote(NOBODY_UID, NOBODY_GID),
                                             timeout=10).returncode == 0
            except (OSError, subprocess.SubprocessError):
                _can_switch = False
    return _can_switch


def demote(uid: int, gid: int):
    """preexec_fn: become uid/gid (no supplementary groups), new session."""
    def fn():
        os.setsid()
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    return fn


class UserSandbox:
    """A world-readable temp folder with copies of what a process of another
    uid needs: the engine binary, liblooprig-shm, the looprig package (headers
    copied, not symlinked) and this harness. Root's pytest tmp folders are
    0700, the checkout may be too: nothing of them is used by that process."""

    def __init__(self, uid: int = NOBODY_UID, gid: int = NOBODY_GID):
        self.uid, self.gid = uid, gid
        self.dir = Path(tempfile.mkdtemp(prefix="lrit-user-"))
        os.chmod(self.dir, 0o755)
        self.engine = self.dir / "looprigd"
        shutil.copy2(engine_binary(), self.engine)
        lib = shm_library()
        self.lib = self.dir / "liblooprig-shm.so"
        if lib is not None:
            shutil.copy2(lib, self.lib)
        self.libdir = self.dir / "lib"
        self.libdir.mkdir()
        # shared libraries the engine takes from the build tree (if any)
        r = subprocess.run(["ldd", str(engine_binary())], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            m = re.search(r"=>\s+(\S+)", line)
            if m and str(REPO) in m.group(1):
                shutil.copy2(m.group(1), self.libdir)
        self.pkg = self.dir / "py"
        shutil.copytree(pyclient_path() / "looprig", self.pkg / "looprig", symlinks=False,
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(Path(__file__), self.pkg / "lrharness.py")
        self.files = self.dir / "files"
        self.files.mkdir()
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                p = os.path.join(root, n)
                os.chmod(p, os.stat(p).st_mode | 0o444 | (0o111 if os.path.isdir(p) else 0))

    def env(self, server_name: str | None = None) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("LOOPRIG", "JACK", "PYTHON"))}
        env.update(HOME=str(self.dir), PYTHONPATH=str(self.pkg), PYTHONDONTWRITEBYTECODE="1",
                   LOOPRIG_LIB=str(self.lib), JACK_NO_AUDIO_RESERVATION="1", USER="nobody",
                   LD_LIBRARY_PATH=str(self.libdir))
        if server_name:
            env["JACK_DEFAULT_SERVER"] = server_name
        return env

    def run_python(self, code: str, server_name: str | None = None, args=(), timeout: float = 60):
        """Run ``code`` with /usr/bin/python3 as the sandbox's uid. The script
        prints one JSON object as its last stdout line; returns (dict, proc)."""
        script = self.dir / f"worker{next(_counter)}.py"
        script.write_text(code)
        os.chmod(script, 0o644)
        r = subprocess.run([PYTHON, str(script), *map(str, args)], capture_output=True, text=True,
                           timeout=timeout, env=self.env(server_name), cwd=str(self.dir),
                           preexec_fn=demote(self.uid, self.gid))
        lines = [l for l in r.stdout.splitlines() if l.startswith("{")]
        if r.returncode != 0 or not lines:
            raise AssertionError(f"worker as uid {self.uid} failed (status {r.returncode})\n"
                                 f"--- stdout ---\n{r.stdout[-4000:]}\n--- stderr ---\n{r.stderr[-4000:]}")
        return json.loads(lines[-1]), r

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class UserJackServer(JackServer):
    """A private jackd running as another uid. Stopped with SIGTERM only: if
    it does not exit within 30 s it is left running, with a message (a killed
    jackd keeps its place among JACK's 8 servers)."""

    def __init__(self, sandbox: UserSandbox, **kw):
        super().__init__(**kw)
        self.sandbox = sandbox
        self.log_path = sandbox.dir / f"{self.name}.jackd.log"

    @property
    def env(self) -> dict:
        return self.sandbox.env(self.name)

    def start(self) -> "UserJackServer":
        args = ["jackd", "--no-realtime", "-n", self.name,
                "-d", "dummy", "-r", str(self.rate), "-p", str(self.period)]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
                                     preexec_fn=demote(self.sandbox.uid, self.sandbox.gid))
        r = subprocess.run(["jack_wait", "-s", self.name, "-w", "-t", "10"], env=self.env,
                           capture_output=True, text=True, timeout=20,
                           preexec_fn=demote(self.sandbox.uid, self.sandbox.gid))
        if r.returncode != 0 or self.proc.poll() is not None:
            log = self.log()
            self.stop()
            raise RuntimeError(f"jackd {self.name} (uid {self.sandbox.uid}) did not come up: "
                               f"{r.stdout}{r.stderr}\n{log}")
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                print(f"jackd {self.name} (pid {self.proc.pid}) did not exit within 30 s of SIGTERM; "
                      f"left running", file=sys.stderr)
        if getattr(self, "_log", None):
            self._log.close()
            self._log = None
        if self.proc is not None and self.proc.poll() is not None:
            import glob
            for pat in (f"/dev/shm/jack_sem.{self.sandbox.uid}_{self.name}_*",
                        f"/dev/shm/jack_{self.name}_*"):
                for fn in glob.glob(pat):
                    try:
                        os.unlink(fn)
                    except OSError:
                        pass


class UserEngine(Engine):
    """looprigd (the sandbox's copy) running as the sandbox's uid on a
    UserJackServer. Its segment is /dev/shm/looprig-<that uid>-<name>."""

    def __init__(self, server: UserJackServer, **kw):
        super().__init__(server, **kw)
        self.sandbox = server.sandbox
        self.args[0] = str(self.sandbox.engine)
        self.stderr_path = self.sandbox.dir / f"{self.name}.stderr"

    @property
    def segment_path(self) -> Path:
        return Path(f"/dev/shm/looprig-{self.sandbox.uid}-{self.name}")

    def start(self, timeout: float = 10.0) -> "UserEngine":
        self._err = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=self._err,
                                     env=self.server.env, cwd=str(self.sandbox.dir), text=True,
                                     bufsize=1, preexec_fn=demote(self.sandbox.uid, self.sandbox.gid))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        Engine.live.append(self)
        if not self._ready.wait(timeout):
            out = self.diagnostics()
            self.stop(check=False)
            raise RuntimeError(f"engine (uid {self.sandbox.uid}) did not print 'ready' within "
                               f"{timeout}s\n{out}")
        return self

    def _remove_segment(self):
        try:
            self.segment_path.unlink()
        except OSError:
            pass
