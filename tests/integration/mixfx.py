"""Helpers of the mixer/effects end-to-end tests (test_mixer_fx*.py).

Independent of the engine: the RBJ Audio-EQ-Cookbook responses computed here
in numpy, least-squares tone fits, a raw LR_CMD_PARAM sender through the C
ABI (many scheduled commands in flight at once, names and defaults from the
library's params table) and small analysis helpers.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

import lrharness as H

RATE = H.RATE


# --------------------------------------------------------------------------
# RBJ Audio-EQ-Cookbook (Robert Bristow-Johnson), bilinear transform
# prewarped at f0.  Shelves with slope S = 1 (alpha = sin(w0)/2 * sqrt(2)).
# --------------------------------------------------------------------------


def rbj(kind: str, f0: float, q: float = 1 / math.sqrt(2), gain_db: float = 0.0,
        fs: float = RATE) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of one cookbook biquad, normalised so that a[0] = 1."""
    A = 10.0 ** (gain_db / 40.0)
    w0 = 2 * math.pi * f0 / fs
    cw, sw = math.cos(w0), math.sin(w0)
    if kind in ("lowshelf", "highshelf"):
        S = 1.0
        alpha = sw / 2 * math.sqrt((A + 1 / A) * (1 / S - 1) + 2)
    else:
        alpha = sw / (2 * q)
    sa = 2 * math.sqrt(A) * alpha
    if kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "peaking":
        b = [1 + alpha * A, -2 * cw, 1 - alpha * A]
        a = [1 + alpha / A, -2 * cw, 1 - alpha / A]
    elif kind == "lowshelf":
        b = [A * ((A + 1) - (A - 1) * cw + sa), 2 * A * ((A - 1) - (A + 1) * cw),
             A * ((A + 1) - (A - 1) * cw - sa)]
        a = [(A + 1) + (A - 1) * cw + sa, -2 * ((A - 1) + (A + 1) * cw),
             (A + 1) + (A - 1) * cw - sa]
    elif kind == "highshelf":
        b = [A * ((A + 1) + (A - 1) * cw + sa), -2 * A * ((A - 1) + (A + 1) * cw),
             A * ((A + 1) + (A - 1) * cw - sa)]
        a = [(A + 1) - (A - 1) * cw + sa, 2 * ((A - 1) - (A + 1) * cw),
             (A + 1) - (A - 1) * cw - sa]
    else:
        raise ValueError(kind)
    b, a = np.array(b), np.array(a)
    return b / a[0], a / a[0]


def freqz(ba, freqs, fs: float = RATE) -> np.ndarray:
    """Complex response of one biquad at the frequencies (Hz)."""
    b, a = ba
    z1 = np.exp(-2j * np.pi * np.asarray(freqs, np.float64) / fs)
    return (b[0] + b[1] * z1 + b[2] * z1 * z1) / (a[0] + a[1] * z1 + a[2] * z1 * z1)


def strip_sections(st: dict, fs: float = RATE) -> list:
    """Cookbook sections of a channel-strip setting (HP, LP, low shelf, peak,
    high shelf; off sections and 0 dB bands left out: they are identity)."""
    secs = []
    if st.get("hp"):
        secs.append(rbj("highpass", st["hp"][0], q=st["hp"][1], fs=fs))
    if st.get("lp"):
        secs.append(rbj("lowpass", st["lp"][0], q=st["lp"][1], fs=fs))
    if st.get("low"):
        secs.append(rbj("lowshelf", st["low"][0], gain_db=st["low"][1], fs=fs))
    if st.get("mid"):
        secs.append(rbj("peaking", st["mid"][0], q=st["mid"][2], gain_db=st["mid"][1], fs=fs))
    if st.get("high"):
        secs.append(rbj("highshelf", st["high"][0], gain_db=st["high"][1], fs=fs))
    return secs


def response(sections, freqs, fs: float = RATE) -> np.ndarray:
    h = np.ones(len(freqs), complex)
    for ba in sections:
        h = h * freqz(ba, freqs, fs)
    return h


def impulse_response(ba, n: int) -> np.ndarray:
    """First n samples of a biquad's impulse response, from its poles
    (partial fractions; the two poles must differ):
    h[k] = b2/a2 delta[k] + R1 p1^k + R2 p2^k."""
    b, a = ba
    p1, p2 = np.roots([1.0, a[1], a[2]]).astype(complex)
    num = lambda p: b[0] * p * p + b[1] * p + b[2]
    r1 = num(p1) / (p1 * (p1 - p2))
    r2 = num(p2) / (p2 * (p2 - p1))
    k = np.arange(n)
    h = (r1 * p1 ** k + r2 * p2 ** k).real
    h[0] += b[2] / a[2]
    return h


# --------------------------------------------------------------------------
# signals and analysis
# --------------------------------------------------------------------------


def tone_basis(frames_rel: np.ndarray, freqs) -> np.ndarray:
    """[cos, sin] columns of each frequency at the given frames (relative to
    the loop start)."""
    th = 2 * np.pi * np.outer(np.asarray(frames_rel, np.float64), np.asarray(freqs, np.float64)) / RATE
    return np.concatenate([np.cos(th), np.sin(th)], axis=1)


def fit_tones(y: np.ndarray, frames_rel: np.ndarray, freqs):
    """Least-squares complex amplitudes (c - j s) of each tone in y, and the
    RMS of what is left."""
    M = tone_basis(frames_rel, freqs)
    coef, *_ = np.linalg.lstsq(M, np.asarray(y, np.float64), rcond=None)
    k = len(freqs)
    amp = coef[:k] - 1j * coef[k:]
    resid = np.asarray(y, np.float64) - M @ coef
    return amp, float(np.sqrt(np.mean(resid ** 2)))


def dft_at(y: np.ndarray, freqs) -> np.ndarray:
    """Plain DFT sums of y (index 0 = time 0) at the frequencies (Hz)."""
    n = np.arange(len(y))
    return np.array([np.sum(np.asarray(y, np.float64) * np.exp(-2j * np.pi * f * n / RATE))
                     for f in freqs])


def sine(freq: float, frames: int, amp: float, phase: float = 0.0) -> np.ndarray:
    n = np.arange(frames)
    return (amp * np.sin(2 * np.pi * freq * n / RATE + phase)).astype(np.float32)


def db(x) -> float:
    x = float(x)
    return 20 * math.log10(x) if x > 0 else -math.inf


class Incomplete(Exception):
    """The frames a check needs were not all captured (capture gaps): retry."""


def need_valid(rec: H.Recording, start: int, end: int, what: str = ""):
    if start < rec.t0 or end > rec.t1:
        raise Incomplete(f"{what}: [{start}, {end}) not inside recording [{rec.t0}, {rec.t1})")
    if not rec.valid[start - rec.t0:end - rec.t0].all():
        raise Incomplete(f"{what}: gaps in [{start}, {end}): {rec.gaps()[:6]}")


def retry(fn, tries: int = 3):
    """Run fn() again when it raises Incomplete (a capture gap where a check
    needed every frame); fail after `tries`."""
    last = None
    for _ in range(tries):
        try:
            return fn()
        except Incomplete as e:
            last = e
    pytest.fail(f"needed frames were not captured in {tries} tries: {last}")


def values(rec: H.Recording, chan, start: int, end: int, min_coverage: float = 0.5):
    """(frames, values float64, valid mask) of [start, end); Incomplete when
    less than min_coverage of it was captured."""
    if start < rec.t0 or end > rec.t1:
        raise Incomplete(f"[{start}, {end}) not inside recording [{rec.t0}, {rec.t1})")
    f, v, ok = rec.window(chan, start, end)
    if ok.mean() < min_coverage:
        raise Incomplete(f"{rec.names[rec.channel(chan)]}: only {ok.mean():.0%} of [{start}, {end}) "
                         f"captured; gaps {rec.gaps()[:6]}")
    return f, v.astype(np.float64), ok


def segment(rec: H.Recording, chan, start: int, end: int) -> np.ndarray:
    """Values of [start, end) (which must be fully captured), float64."""
    need_valid(rec, start, end, rec.names[rec.channel(chan)])
    return rec.data[rec.channel(chan), start - rec.t0:end - rec.t0].astype(np.float64)


# --------------------------------------------------------------------------
# LR_CMD_PARAM through the C ABI, many in flight
# --------------------------------------------------------------------------


class RawParams:
    """Sends LR_CMD_PARAM commands built by hand with the C ABI (the harness's
    cffi RawClient), without waiting for each answer: used for hundreds of
    scheduled changes (filter sweeps) and for resetting every param to its
    default between tests.  Ids and defaults come from lr_param_table()."""

    def __init__(self, engine_name: str):
        self.raw = H.RawClient(engine_name)
        ffi, lib = self.raw.ffi, self.raw.lib
        n = ffi.new("uint32_t *")
        rows = lib.lr_param_table(n)
        self.table = {}
        for i in range(int(n[0])):
            r = rows[i]
            self.table[ffi.string(r.name).decode()] = dict(
                id=int(r.id), target=int(r.target), default=float(getattr(r, "def")))
        self._ev = ffi.new("lr_event *")
        self.answers: dict[int, dict] = {}

    def _drain(self):
        ffi, lib = self.raw.ffi, self.raw.lib
        ev = self._ev
        while lib.lr_client_poll(self.raw.c, ev):
            self.answers[int(ev.id)] = {"type": int(ev.type), "code": int(ev.code),
                                        "frame": int(ev.frame),
                                        "message": ffi.string(ev.message).decode(errors="replace")}

    def push(self, name: str, index: int, value: float, at: int | None = None) -> int:
        ffi, lib = self.raw.ffi, self.raw.lib
        cmd = ffi.new("lr_command *")
        cmd.type = lib.LR_CMD_PARAM
        cmd.slot = int(index)
        cmd.param = self.table[name]["id"]
        cmd.value[0] = float(value)
        if at is not None:
            cmd.flags = lib.LR_CMD_F_AT
            cmd.at_frame = int(at)
        deadline = time.monotonic() + 10
        while True:
            r = int(lib.lr_client_send(self.raw.c, cmd))
            if r > 0:
                return r
            if r != lib.LR_SEND_FULL or time.monotonic() > deadline:
                raise RuntimeError(f"lr_client_send: {r}")
            self._drain()
            time.sleep(0.0005)

    def collect(self, ids, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            self._drain()
            if all(i in self.answers for i in ids):
                return [self.answers.pop(i) for i in ids]
            if time.monotonic() > deadline:
                missing = [i for i in ids if i not in self.answers]
                raise TimeoutError(f"{len(missing)} param commands unanswered")
            time.sleep(0.002)

    def set_many(self, items, timeout: float = 10.0) -> list[dict]:
        """items: (name, index, value, at); returns the answers, raises on an error."""
        ids = [self.push(*it) for it in items]
        ans = self.collect(ids, timeout)
        bad = [(it, a) for it, a in zip(items, ans) if a["type"] != 1]
        assert not bad, f"engine rejected {len(bad)} params, first {bad[0]}"
        return ans

    def reset_defaults(self, slots: int, groups: int = 8):
        """Every param back to its default (delay-ms before delay-beats: setting
        the time in ms turns the tempo sync off)."""
        items = []
        names = sorted(self.table, key=lambda n: (n == "delay-beats", self.table[n]["id"]))
        for name in names:
            p = self.table[name]
            if p["target"] == 0:
                items += [(name, s, p["default"], None) for s in range(slots)]
            elif p["target"] == 1:
                items += [(name, g, p["default"], None) for g in range(groups)]
            else:
                items.append((name, 0, p["default"], None))
        self.set_many(items)

    def close(self):
        self.raw.close()


def wait_meter(rig, pred, timeout: float = 5.0, what: str = ""):
    """Poll rig.meters() until pred(meters) is true; returns those meters."""
    deadline = time.monotonic() + timeout
    while True:
        m = rig.meters()
        if pred(m):
            return m
        if time.monotonic() > deadline:
            raise AssertionError(f"meters never satisfied: {what}")
        time.sleep(0.02)


def wait_frame(rig, frame: int, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while rig.frame_time < frame:
        if time.monotonic() > deadline:
            raise AssertionError(f"engine did not reach frame {frame}")
        time.sleep(0.005)


def check_echo_train(rec: H.Recording, chan, t0: int, D: int, s: float, feedback: float,
                     what: str = ""):
    """The delay contract on one channel for an impulse of height s entering
    the delay at t0 (ping-pong off): silence before t0 + D; at exactly t0 + D
    the impulse itself (gain 1, 1e-4), a single sample (nothing else until
    t0 + 2D); echoes 2 and 3 at +2D, +3D scaled by feedback and feedback^2,
    measured as |DFT| of a 2048-frame window at 300 Hz, 1 kHz and 2 kHz,
    where feedback-path filters set to 10 Hz / 20 kHz pass > 99.7 %
    (2 % and 3 % allowed). Short windows must be fully captured (else
    Incomplete: retry); long quiet stretches are checked where captured."""
    _, v, ok = values(rec, chan, t0 - 2000, t0 + D)
    quiet = float(np.max(np.abs(v[ok])))
    assert quiet <= 1e-7, f"{what}: not silent before the first echo ({quiet:.2e})"
    around = segment(rec, chan, t0 + D - 8, t0 + D + 9)
    g1 = around[8] / s
    assert abs(g1 - 1.0) <= 1e-4, (
        f"{what}: first echo at t+D = {around[8]:.6f} (gain {g1:.6f}, expected {s:.6f}); "
        f"frames t+D-8..t+D+8: {np.round(around, 6)}")
    _, v, ok = values(rec, chan, t0 + D + 1, t0 + 2 * D)
    rest = float(np.max(np.abs(v[ok])))
    assert rest <= 1e-4 * abs(s), f"{what}: first echo is not a single sample ({rest:.2e} after it)"
    freqs = [300.0, 1000.0, 2000.0]
    for k, tol in ((2, 0.02), (3, 0.03)):
        e = np.abs(dft_at(segment(rec, chan, t0 + k * D - 64, t0 + k * D + 1984), freqs)) / abs(s)
        want = feedback ** (k - 1)
        assert np.all(np.abs(e / want - 1) <= tol), (
            f"{what}: echo {k} gains {np.round(e, 5)} at {freqs} Hz, expected {want} (feedback^{k - 1})")


# ---- fixtures and helpers the three mixer modules share ----

@pytest.fixture(scope="module")
def cap(request, jack_server, engine):
    """A capture client on the module's PORTS (short port names of the engine)."""
    c = H.Capture(jack_server, [engine.port(p) for p in request.module.PORTS])
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def rp(engine):
    """Raw LR_CMD_PARAM sender (and param reset) on the module's engine."""
    r = RawParams(engine.name)
    try:
        yield r
    finally:
        r.close()


def load(rig, slot, tmp_path, x, name):
    res = rig.load(slot, H.write_wav_float(tmp_path / name, x))
    assert res.frames == len(x)
    return res
