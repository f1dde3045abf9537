"""Meter ballistics for the display (no Qt): hardware-style fall and peak hold.

The engine publishes, per period, each channel's peak of that period and its
largest peak of the last 2 s (``peak_hold``). A display refreshed at 60 Hz
sees one period in a few, so a bar that only showed the last period's peak
would miss transients. :class:`PeakBallistics` keeps what a hardware peak
meter shows: the bar jumps up at once to any new peak (also one seen only
through a rise of the engine's hold) and falls at ``fall_db_per_s`` (20 dB/s,
the IEC 60268-10 type I return); the hold marker is the engine's own 2 s hold.
"""

from __future__ import annotations

import math
from typing import Sequence, Tuple

FLOOR_DB = -70.0  # the bottom of the scale: anything at or below reads as silence
FALL_DB_PER_S = 20.0
CLIP_HOLD_S = 2.0  # a clip light stays on this long after the last sample at or above 0 dBFS


def db(x: float) -> float:
    """Linear amplitude -> dBFS, ``FLOOR_DB`` for silence (also NaN/negative)."""
    if not x > 0.0:
        return FLOOR_DB
    return max(FLOOR_DB, 20.0 * math.log10(x))


class PeakBallistics:
    """One channel: ``update(peak, hold, now)`` -> ``(bar_db, hold_db, clipping)``.

    Parameters
    ----------
    fall_db_per_s : float
        How fast the bar falls after a peak.
    """

    __slots__ = ("fall", "bar_db", "last_hold", "last_t", "clip_until")

    def __init__(self, fall_db_per_s: float = FALL_DB_PER_S) -> None:
        self.fall = fall_db_per_s
        self.bar_db = FLOOR_DB
        self.last_hold = 0.0
        self.last_t = None  # type: float | None
        self.clip_until = -1.0

    def reset(self) -> None:
        self.bar_db = FLOOR_DB
        self.last_hold = 0.0
        self.last_t = None
        self.clip_until = -1.0

    def update(self, peak: float, hold: float, now: float) -> Tuple[float, float, bool]:
        dt = 0.0 if self.last_t is None else max(0.0, now - self.last_t)
        self.last_t = now
        target = db(peak)
        rising = hold > self.last_hold * 1.000001  # a new peak between two display frames
        if rising:
            target = max(target, db(hold))
        self.last_hold = hold
        fallen = self.bar_db - self.fall * dt
        self.bar_db = max(target, fallen, FLOOR_DB)
        if peak >= 1.0 or (hold >= 1.0 and (rising or self.clip_until < 0)):
            self.clip_until = now + CLIP_HOLD_S
        return self.bar_db, db(hold), now < self.clip_until


class StereoBallistics:
    """Two :class:`PeakBallistics`, for a (2,) peak and hold pair."""

    __slots__ = ("ch",)

    def __init__(self, fall_db_per_s: float = FALL_DB_PER_S) -> None:
        self.ch = (PeakBallistics(fall_db_per_s), PeakBallistics(fall_db_per_s))

    def reset(self) -> None:
        for c in self.ch:
            c.reset()

    def update(self, peak: Sequence[float], hold: Sequence[float], now: float) -> Tuple[Tuple[float, float, bool], ...]:
        return (self.ch[0].update(float(peak[0]), float(hold[0]), now),
                self.ch[1].update(float(peak[1]), float(hold[1]), now))


class TapTempo:
    """Tap tempo: the mean interval of the last taps, reset after a pause.

    ``tap(now)`` returns the BPM once two taps are in (``None`` before), the
    mean of up to ``keep`` intervals; a pause longer than ``reset_s`` starts
    over. The result is rounded to 0.01 BPM and clamped to the engine's range.
    """

    def __init__(self, keep: int = 4, reset_s: float = 2.0, lo: float = 20.0, hi: float = 400.0) -> None:
        self.keep = keep
        self.reset_s = reset_s
        self.lo, self.hi = lo, hi
        self.times = []  # type: list

    def tap(self, now: float):
        if self.times and now - self.times[-1] > self.reset_s:
            self.times = []
        self.times.append(now)
        self.times = self.times[-(self.keep + 1):]
        if len(self.times) < 2:
            return None
        span = (self.times[-1] - self.times[0]) / (len(self.times) - 1)
        if span <= 0:
            return None
        return round(min(self.hi, max(self.lo, 60.0 / span)), 2)
