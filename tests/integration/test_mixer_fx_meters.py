"""Meters and loudness of the mixer (issue 4) read with rig.meters() while
known signals play, and the delay heard on the master, with an engine
started with --no-bus-outs (the default: only out_L/out_R on JACK)."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest

import lrharness as H
import mixfx as M
from mixfx import rp  # noqa: F401 (shared fixtures)

ENGINE_OPTS = dict(slots=4, extra=["--no-bus-outs"])
AHEAD = 19200
HALF = 0.5
DB_HALF = 20 * math.log10(0.5)            # -6.0206 dB
DB_HALF_RMS = 20 * math.log10(0.5 / math.sqrt(2))  # -9.0309 dB


@pytest.fixture(autouse=True)
def _clean(rig, rp):
    H.reset_slots(rig, range(4))
    rp.reset_defaults(4)
    yield
    H.reset_slots(rig, range(4))
    rp.reset_defaults(4)


def half_scale_sine(rig, tmp_path, slot=0):
    """1 kHz at 48 kHz: 48 frames a cycle, sample 12 of each is sin(pi/2) = 1,
    so the peak is exactly 0.5; panned hard left (left gain cos 0 = 1)."""
    M.load(rig, slot, tmp_path, M.sine(1000.0, 4800, HALF), "half.wav")
    rig.pan(slot, -1.0)
    returns_off(rig)


def returns_off(rig):
    """Effect returns silent: what earlier tests left in the delay line or the
    reverb's tail must not reach the master."""
    rig.delay(return_db=-120.0)
    rig.reverb(return_db=-120.0)


def test_no_bus_outs_leaves_only_the_master_ports(jack_server, engine):
    ports = sorted(p.split(":", 1)[1] for p in jack_server.ports() if p.startswith(engine.name + ":"))
    assert ports == sorted(["out_L", "out_R"] + H.MIDI_PORTS), ports


def test_delay_heard_on_the_master_with_the_dry_path_muted(rig, capture, tmp_path):
    """No bus ports: the echo is checked on out_L. The slot goes to group 7,
    which is muted (sends do not depend on the group), so out_L carries only
    the delay return: silence at the impulse, the impulse at exactly t + D
    with gain 1 (1e-4) times the return level (-6 dB here), the second echo
    at feedback 0.5."""
    x = np.zeros(4000, np.float32)
    x[1000] = 0.8
    M.load(rig, 0, tmp_path, x, "imp.wav")
    rig.reverb(return_db=-120.0)
    rig.group(0, 7)
    rig.group_mute(7, True)
    rig.send(0, 1, 0.0, pre=False)
    D = 12345
    s = 0.8 * H.pan_gains(0.0)[0] * H.db_to_lin(-6.0)  # send (post-fader, centre) times the return level

    def checks():
        # an empty delay line (also after an earlier try): no feedback for longer than D
        rig.delay(feedback=0.0, ms=D * 1000.0 / H.RATE, lowcut=10.0, highcut=20000.0,
                  pingpong=False, return_db=-6.0)
        time.sleep(0.5)
        rig.delay(feedback=0.5)
        assert int(rig.meters().delay_frames) == D
        capture.arm(3 * D / H.RATE + 1.5)
        T = rig.ping() + AHEAD
        assert rig.play(0, at=T) == T
        rig.stop(0, at=T + 1500)
        t0 = T + 1000
        rec = capture.take(until=t0 + 3 * D + 2100)
        M.need_valid(rec, t0 - 8, t0 + 9, "out_L around the (muted) dry impulse")
        M.check_echo_train(rec, "out_L", t0, D, s, 0.5, "out_L (dry path muted)")

    M.retry(checks)


def read_meters(rig, seconds, every=0.03):
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        out.append(rig.meters())
        time.sleep(every)
    return out


def test_slot_and_master_meters_of_a_half_scale_sine(rig, tmp_path):
    half_scale_sine(rig, tmp_path)
    start = rig.play(0)
    M.wait_frame(rig, start + 2 * H.RATE)  # 2 s: the 300 ms RMS window has settled
    for m in read_meters(rig, 0.3):
        for what, pk, rms, hold in (
                ("slot 0", m.peak[0], m.rms[0], m.peak_hold[0]),
                ("master", m.master_peak, m.master_rms, m.master_peak_hold)):
            assert M.db(pk[0]) == pytest.approx(DB_HALF, abs=0.05), f"{what} peak L {M.db(pk[0]):.3f} dB"
            assert M.db(rms[0]) == pytest.approx(DB_HALF_RMS, abs=0.05), f"{what} RMS L {M.db(rms[0]):.3f} dB"
            assert M.db(hold[0]) == pytest.approx(DB_HALF, abs=0.05), f"{what} peak hold L {M.db(hold[0]):.3f} dB"
            # right: nothing this period; the RMS window may still hold a trace of earlier tests
            assert float(pk[1]) == 0.0 and float(rms[1]) < 1e-3, f"{what}: right channel not silent"


def test_bus_meters(rig, tmp_path):
    """Group 2 at -6 dB carries the slot; send 1 post-fader at -12 dB feeds the
    delay (feedback 0, return 0 dB: the return is the send, delayed); send 2
    and the other groups are silent."""
    half_scale_sine(rig, tmp_path)
    rig.group(0, 2)
    rig.group_gain(2, -6.0)
    rig.send(0, 1, -12.0, pre=False)
    rig.delay(ms=100.0, feedback=0.0, return_db=0.0)
    rig.meter_reset()  # bus peak holds: nothing from earlier tests
    start = rig.play(0)
    M.wait_frame(rig, start + int(2.2 * H.RATE))
    g6, g12 = H.db_to_lin(-6.0), H.db_to_lin(-12.0)
    for m in read_meters(rig, 0.3):
        for what, bus, i, lvl in (("group 2", m.groups, 2, HALF * g6), ("send 1", m.sends, 0, HALF * g12),
                                  ("delay return", m.returns, 0, HALF * g12)):
            assert M.db(bus.peak[i][0]) == pytest.approx(M.db(lvl), abs=0.05), f"{what} peak {M.db(bus.peak[i][0]):.3f}"
            assert M.db(bus.rms[i][0]) == pytest.approx(M.db(lvl / math.sqrt(2)), abs=0.05), (
                f"{what} RMS {M.db(bus.rms[i][0]):.3f}")
            assert M.db(bus.peak_hold[i][0]) == pytest.approx(M.db(lvl), abs=0.05), f"{what} peak hold"
            assert float(bus.peak[i][1]) == 0.0, f"{what}: right channel not silent"
        assert float(np.max(m.sends.peak[1])) == 0.0, "send 2 not silent"
        assert float(np.max(m.returns.peak[1])) == 0.0, "reverb return not silent"
        others = [g for g in range(8) if g != 2]
        assert float(np.max(m.groups.peak[others])) == 0.0, "other groups not silent"


def test_peak_hold_holds_two_seconds_and_meter_reset_restarts_it(rig, tmp_path):
    half_scale_sine(rig, tmp_path)
    # The master's 2 s hold reaches back before this test: echoes an earlier
    # test left in the delay line were heard at the default 0 dB return until
    # returns_off() ramped it down. Start the holds once that ramp is over.
    M.wait_frame(rig, rig.ping() + 3 * int(rig.smooth_frames))
    M.wait_frame(rig, rig.meter_reset() + 2 * H.PERIOD)
    start = rig.play(0)
    M.wait_frame(rig, start + H.RATE // 2)
    Ts = rig.ping() + 4800
    assert rig.stop(0, at=Ts) == Ts
    rows = []
    while True:
        m = rig.meters()
        rows.append((int(m.frame_time), float(m.peak[0][0]), float(m.peak_hold[0][0]),
                     float(m.master_peak_hold[0])))
        if m.frame_time > Ts + 2.6 * H.RATE:
            break
        time.sleep(0.02)
    held = [r for r in rows if Ts + 2 * H.PERIOD <= r[0] <= Ts + 1.9 * H.RATE]
    dropped = [r for r in rows if r[0] >= Ts + 2.1 * H.RATE]
    assert len(held) >= 20 and len(dropped) >= 5, (len(held), len(dropped))
    for f, pk, hold, mhold in held:
        assert pk == 0.0, f"slot peak {pk} at {f - Ts} frames after the stop"
        assert hold == pytest.approx(HALF, abs=1e-6), f"slot peak hold {hold} at {(f - Ts) / H.RATE:.3f} s"
        assert mhold == pytest.approx(HALF, abs=1e-6), f"master peak hold {mhold} at {(f - Ts) / H.RATE:.3f} s"
    for f, pk, hold, mhold in dropped:
        assert hold == 0.0 and mhold == 0.0, f"peak hold still {hold}/{mhold} at {(f - Ts) / H.RATE:.3f} s"

    # held peak, then meter_reset(): the hold restarts at the current peak
    start = rig.play(0)
    M.wait_frame(rig, start + H.RATE // 2)
    g = rig.gain(0, -20.0)
    M.wait_frame(rig, g + H.RATE // 4)
    m = rig.meters()
    assert float(m.peak_hold[0][0]) == pytest.approx(HALF, abs=1e-6)
    assert float(m.peak[0][0]) == pytest.approx(0.05, abs=1e-6)
    r = rig.meter_reset()
    M.wait_frame(rig, r + 3 * H.PERIOD)
    m = rig.meters()
    assert float(m.peak_hold[0][0]) == pytest.approx(0.05, abs=1e-6), "slot peak hold not restarted"
    assert float(m.master_peak_hold[0]) == pytest.approx(0.05, abs=1e-6), "master peak hold not restarted"


def loudness_after(rig, frame, timeout=10.0):
    """Loudness readings of the first meters whose period starts at or after `frame`."""
    M.wait_frame(rig, frame, timeout)
    return rig.meters().loudness


def test_loudness_of_a_stereo_sine_and_reset_of_the_integrated(rig, tmp_path):
    """EBU Tech 3341 case 1: a stereo 1 kHz sine at -23 dBFS reads -23 LUFS.
    A mono sine of amplitude 10^(-23/20)*sqrt(2) at centre pan puts exactly
    -23 dBFS on each master channel. After 4 s at -23 and 4.5 s at -33 the
    integrated loudness would be about -25.6 LUFS; after meter_reset() it
    measures only the -33 part."""
    amp = 10 ** (-23 / 20) * math.sqrt(2)
    M.load(rig, 0, tmp_path, M.sine(1000.0, 4800, amp), "m23.wav")
    returns_off(rig)
    rig.meter_reset()  # the integrated loudness counts from here, not from engine start
    start = rig.play(0)
    R = H.RATE
    for k in range(3):
        lo = loudness_after(rig, start + int((1.0 + 0.15 * k) * R))
        assert lo.momentary is not None, "no loudness measured 1 s after the start"
        assert lo.momentary == pytest.approx(-23.0, abs=0.3), f"momentary {lo.momentary:.2f} LUFS"
    lo = loudness_after(rig, start + int(3.2 * R))
    assert lo.short_term == pytest.approx(-23.0, abs=0.3), f"short-term {lo.short_term:.2f} LUFS"
    lo = loudness_after(rig, start + int(4.0 * R))
    assert lo.integrated == pytest.approx(-23.0, abs=0.3), f"integrated {lo.integrated:.2f} LUFS"
    g = rig.gain(0, -10.0)
    lo = loudness_after(rig, g + int(1.5 * R))
    assert lo.momentary == pytest.approx(-33.0, abs=0.3), f"momentary after -10 dB {lo.momentary:.2f}"
    assert lo.integrated < -23.5, f"integrated {lo.integrated:.2f} did not follow the quieter part"
    r = rig.meter_reset()
    lo = loudness_after(rig, r + int(3.2 * R))
    assert lo.integrated == pytest.approx(-33.0, abs=0.3), (
        f"integrated {lo.integrated:.2f} LUFS 3.2 s after meter_reset (without the reset: about -25.6)")
    assert lo.short_term == pytest.approx(-33.0, abs=0.3), f"short-term {lo.short_term:.2f}"
    assert lo.momentary == pytest.approx(-33.0, abs=0.3), f"momentary {lo.momentary:.2f}"
    m = rig.meters()
    assert int(m.loudness_periods) > 0
