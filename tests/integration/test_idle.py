"""An idle engine costs (almost) nothing (issue 11, "Idle costs nothing").

With nothing playing, the engine's worker threads sleep until the audio
thread has work for them (loader, render threads, loudness meter) and
housekeeping ticks every 100 ms: the test counts each thread's wake-ups
(voluntary context switches in /proc/PID/task/TID/status) over a few seconds.
Polling workers (every 2 or 10 ms) wake 100 to 500 times a second each.
The loudness meter is not fed once the master has been silent for 6 s, and
its readings are the same as if it had been: checked with EBU Tech 3341's
-23 LUFS sine after a long silence."""
from __future__ import annotations

import math
import os
import time

import pytest

import lrharness as H
import mixfx as M

ENGINE_OPTS = dict(slots=32)
R = H.RATE
MAX_WAKEUPS = 25.0   # per second and thread other than JACK's process thread (housekeeping: 10)
MAX_CPU = 1.0        # % of one core for all of them together, where schedstat tells


def thread_stats(pid: int) -> dict[int, tuple[str, int, int | None]]:
    """{tid: (name, voluntary context switches, run time in ns or None)}."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            with open(f"{base}/comm") as f:
                name = f.read().strip()
            vol = None
            with open(f"{base}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        vol = int(line.split()[1])
            run = None
            try:
                with open(f"{base}/schedstat") as f:
                    run = int(f.read().split()[0])
            except OSError:
                pass
            out[int(tid)] = (name, vol, run)
        except OSError:
            continue
    return out


def test_idle_threads_sleep(engine, rig):
    pid = engine.proc.pid
    time.sleep(7.5)  # past the 6 s after which the silent master no longer feeds the loudness meter
    a = thread_stats(pid)
    t0 = time.monotonic()
    time.sleep(3.0)
    b = thread_stats(pid)
    dt = time.monotonic() - t0
    names = sorted(v[0] for v in b.values())
    rates = {tid: (v[1] - a[tid][1]) / dt for tid, v in b.items() if tid in a}
    # JACK's process thread wakes every period (48000 / 256 = 187.5 times a
    # second): the one waking most among those named lr-jack (the engine names
    # the threads libjack starts for it), or among all if none is named.
    named = [tid for tid in rates if b[tid][0] == "lr-jack"] or list(rates)
    jack = [max(named, key=lambda tid: rates[tid])]
    report, busy, cpu_ns, cpu_known = [], [], 0, True
    for tid, (name, vol, run) in sorted(b.items()):
        if tid not in a:
            continue
        rate = rates[tid]
        report.append(f"{name}({tid}) {rate:.1f}/s")
        if tid in jack:
            continue
        if rate > MAX_WAKEUPS:
            busy.append(f"{name}({tid}) {rate:.1f}/s")
        if run is None or a[tid][2] is None:
            cpu_known = False
        else:
            cpu_ns += run - a[tid][2]
    assert not busy, f"threads that wake more than {MAX_WAKEUPS}/s while idle: {busy}; all: {report}"
    if cpu_known:
        pct = 100.0 * cpu_ns / 1e9 / dt
        assert pct <= MAX_CPU, f"threads other than JACK's use {pct:.2f} % of a core while idle; {report}"
    for want in ("lr-jack", "lr-loader", "lr-loudness", "lr-render"):  # for per-thread readings
        assert want in names, f"no thread named {want}: {names}"


def loudness_after(rig, frame, timeout=20.0):
    M.wait_frame(rig, frame, timeout)
    return rig.meters().loudness


def test_loudness_after_a_long_silence(rig, tmp_path):
    """The meter is reset while the master is silent (published at once,
    though no blocks come), then left without blocks for a while: its
    readings do not move. A -23 LUFS sine then reads -23 (momentary,
    short-term, integrated), decays to -inf after it stops (integrated
    stays: silence is gated out), and after another long silence plays
    again at -23 with the integrated loudness (nearly) unchanged."""
    amp = 10 ** (-23 / 20) * math.sqrt(2)
    M.load(rig, 0, tmp_path, M.sine(1000.0, 4800, amp), "m23.wav")
    rig.delay(return_db=-120.0)
    rig.reverb(return_db=-120.0)
    r = rig.meter_reset()
    lo = loudness_after(rig, r + 8 * R)
    assert lo.momentary == -math.inf and lo.short_term == -math.inf, lo
    assert lo.integrated == -math.inf, f"integrated {lo.integrated} after a reset while silent"
    p0 = int(rig.meters().loudness_periods)
    time.sleep(1.0)
    assert int(rig.meters().loudness_periods) == p0, "the loudness meter is still fed while the master is silent"

    start = rig.play(0)
    lo = loudness_after(rig, start + int(1.2 * R))
    assert lo.momentary == pytest.approx(-23.0, abs=0.3), f"momentary {lo.momentary}"
    lo = loudness_after(rig, start + int(3.3 * R))
    assert lo.short_term == pytest.approx(-23.0, abs=0.3), f"short-term {lo.short_term}"
    lo = loudness_after(rig, start + int(4.0 * R))
    assert lo.integrated == pytest.approx(-23.0, abs=0.3), f"integrated {lo.integrated}"
    stop = rig.stop(0)
    lo = loudness_after(rig, stop + int(0.7 * R))
    assert lo.momentary < -70.0, f"momentary {lo.momentary} 0.7 s after the stop"
    # The K-filter's tail is below DBL_MIN after ~2 s; then the 3 s window empties.
    lo = loudness_after(rig, stop + int(5.5 * R))
    assert lo.momentary == -math.inf, f"momentary {lo.momentary} 5.5 s after the stop"
    assert lo.short_term == -math.inf, f"short-term {lo.short_term} 5.5 s after the stop"
    # (the stop's partly silent 400 ms blocks are above the relative gate: a little lower)
    assert lo.integrated == pytest.approx(-23.0, abs=0.6), f"integrated {lo.integrated} after the stop"
    integrated = lo.integrated

    M.wait_frame(rig, stop + 8 * R)
    p1 = int(rig.meters().loudness_periods)
    time.sleep(1.0)
    assert int(rig.meters().loudness_periods) == p1, "the loudness meter is still fed while the master is silent"
    start = rig.play(0)
    lo = loudness_after(rig, start + int(1.2 * R))
    assert lo.momentary == pytest.approx(-23.0, abs=0.3), f"momentary {lo.momentary} after a long silence"
    # (the new blocks count, among them the start's partly silent ones: near, not equal)
    assert lo.integrated == pytest.approx(integrated, abs=0.3), f"integrated {lo.integrated} (was {integrated})"
    rig.stop(0)
