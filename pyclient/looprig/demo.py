"""Demo material: a few short loops that line up (2 bars at 120 BPM).

Every loop is exactly 8 beats = 4.0 s long, so at 48 kHz it is 192000 frames;
the pad is synthesized at 44.1 kHz (176400 frames) to show the engine's
resampling: it plays exactly as long as the others.  Notes that ring past the
loop end are folded back onto its start, so every loop is seamless.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Optional

from .wavfile import write_wav_float

__all__ = ["DemoLoop", "LOOPS", "BPM", "BEATS", "write_loops", "render_loops", "default_cache_dir"]

BPM = 120.0
BEATS = 8  # 2 bars of 4/4
VERSION = 1  # bump when the sound changes (cache key)


@dataclass(frozen=True)
class DemoLoop:
    """One demo loop.

    Attributes
    ----------
    name : str
        File stem.
    rate : int
        Sample rate of the file.
    gain_db, pan : float
        Mix settings the demo applies.
    synth : callable
        ``synth(np, rate, frames) -> ndarray (frames, 2)``.
    """

    name: str
    rate: int
    gain_db: float
    pan: float
    synth: Callable[[Any, int, int], Any]

    def frames(self) -> int:
        """Loop length in frames at the file's rate."""
        return int(round(BEATS * 60.0 / BPM * self.rate))


def _midi_hz(n: float) -> float:
    return 440.0 * 2.0 ** ((n - 69) / 12.0)


def _fold(np: Any, buf: Any, frames: int) -> Any:
    """Wrap the tail beyond ``frames`` onto the start (seamless loop)."""
    out = buf[:frames].copy()
    tail = buf[frames:]
    while len(tail):
        n = min(len(tail), frames)
        out[:n] += tail[:n]
        tail = tail[n:]
    return out


def _beat(rate: int) -> float:
    return 60.0 / BPM * rate


def _kick(np: Any, rate: int, frames: int) -> Any:
    beat = _beat(rate)
    n = int(0.45 * rate)
    t = np.arange(n) / rate
    f = 45.0 + 110.0 * np.exp(-t * 28.0)
    phase = 2 * np.pi * np.cumsum(f) / rate
    hit = np.sin(phase) * np.exp(-t * 7.0)
    hit[: int(0.002 * rate)] *= np.linspace(0, 1, int(0.002 * rate))
    buf = np.zeros(frames + n)
    for b in range(BEATS):
        s = int(round(b * beat))
        buf[s : s + n] += hit * (1.0 if b % 4 == 0 else 0.85)
    mono = _fold(np, buf, frames) * 0.8
    return np.stack([mono, mono], axis=1)


def _hats(np: Any, rate: int, frames: int) -> Any:
    rng = np.random.default_rng(1234)
    beat = _beat(rate)
    n = int(0.09 * rate)
    t = np.arange(n) / rate
    buf = np.zeros((frames + n, 2))
    for k in range(BEATS * 4):  # 16ths
        s = int(round(k * beat / 4))
        noise = rng.standard_normal(n)
        hp = np.diff(noise, prepend=0.0)  # crude high-pass
        level = 0.35 if k % 2 else 0.15
        decay = 60.0 if k % 4 != 2 else 25.0  # open-ish hat on the off-beat
        hit = hp * np.exp(-t * decay) * level
        buf[s : s + n, 0] += hit * 0.8
        buf[s : s + n, 1] += hit
    # clap on beats 2 and 4
    n2 = int(0.2 * rate)
    t2 = np.arange(n2) / rate
    for b in (1, 3, 5, 7):
        s = int(round(b * beat))
        noise = rng.standard_normal(n2)
        env = np.exp(-t2 * 18.0) * (1 + 0.6 * np.exp(-((t2 - 0.012) ** 2) / 1e-5))
        hit = np.diff(noise, prepend=0.0) * env * 0.3
        buf[s : s + n2, :] += hit[:, None]
    out = np.zeros((frames, 2))
    for c in range(2):
        out[:, c] = _fold(np, buf[:, c], frames)
    return out


# A minor: Am | F | C | G, one chord per two beats.
_CHORDS = [(57, 60, 64), (53, 57, 60), (48, 52, 55), (55, 59, 62)]
_BASS = [45, 45, 57, 45, 41, 41, 53, 41, 48, 48, 60, 48, 43, 43, 55, 47]  # 8ths


def _bass(np: Any, rate: int, frames: int) -> Any:
    beat = _beat(rate)
    step = beat / 2
    n = int(step) + int(0.05 * rate)
    t = np.arange(n) / rate
    buf = np.zeros(frames + n)
    for k, note in enumerate(_BASS):
        f = _midi_hz(note)
        ph = 2 * np.pi * f * t
        # band-limited-ish saw: a few harmonics
        saw = sum(np.sin(h * ph) / h for h in range(1, 9))
        env = np.minimum(1.0, t / 0.004) * np.exp(-t * 5.0)
        env *= np.clip((n - np.arange(n)) / (0.05 * rate), 0, 1)  # release
        s = int(round(k * step))
        buf[s : s + n] += saw * env * 0.35
    mono = _fold(np, buf, frames)
    return np.stack([mono, mono], axis=1)


def _pad(np: Any, rate: int, frames: int) -> Any:
    beat = _beat(rate)
    dur = 2 * beat
    n = int(dur + 0.3 * rate)
    t = np.arange(n) / rate
    buf = np.zeros((frames + n, 2))
    env = np.minimum(1.0, t / 0.25) * np.clip((n - np.arange(n)) / (0.45 * rate), 0, 1)
    for k, chord in enumerate(_CHORDS):
        s = int(round(k * dur))
        for i, note in enumerate(chord):
            f = _midi_hz(note + 12)
            for c, det in enumerate((-0.12, 0.12)):
                ff = f * 2 ** (det / 12.0)
                wave = np.sin(2 * np.pi * ff * t) + 0.3 * np.sin(4 * np.pi * ff * t + i)
                buf[s : s + n, c] += wave * env * 0.09
    out = np.zeros((frames, 2))
    for c in range(2):
        out[:, c] = _fold(np, buf[:, c], frames)
    return out


def _arp(np: Any, rate: int, frames: int) -> Any:
    beat = _beat(rate)
    step = beat / 4
    n = int(0.35 * rate)
    t = np.arange(n) / rate
    buf = np.zeros((frames + n, 2))
    env = np.minimum(1.0, t / 0.002) * np.exp(-t * 11.0)
    for k in range(BEATS * 4):
        chord = _CHORDS[(k // 8) % 4]
        pattern = [0, 1, 2, 1, 0, 2, 1, 2]
        note = chord[pattern[k % 8]] + 24
        f = _midi_hz(note)
        tone = (np.sin(2 * np.pi * f * t) + 0.2 * np.sin(6 * np.pi * f * t)) * env * 0.22
        p = 0.5 + 0.4 * np.sin(k * np.pi / 4)  # ping-pong
        s = int(round(k * step))
        buf[s : s + n, 0] += tone * (1 - p)
        buf[s : s + n, 1] += tone * p
    out = np.zeros((frames, 2))
    for c in range(2):
        out[:, c] = _fold(np, buf[:, c], frames)
    return out


#: The demo loops, in slot order.
LOOPS: List[DemoLoop] = [
    DemoLoop("kick", 48000, 0.0, 0.0, _kick),
    DemoLoop("hats", 48000, -4.0, 0.3, _hats),
    DemoLoop("bass", 48000, -3.0, 0.0, _bass),
    DemoLoop("pad44k", 44100, -6.0, -0.2, _pad),
    DemoLoop("arp", 48000, -8.0, 0.1, _arp),
]


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/looprig/demo`` (or ``~/.cache/...``, or a temp dir)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    p = Path(base) / "looprig" / "demo"
    try:
        p.mkdir(parents=True, exist_ok=True)
        if os.access(p, os.W_OK):
            return p
    except OSError:
        pass
    p = Path(tempfile.gettempdir()) / ("looprig-demo-%d" % os.getuid())
    p.mkdir(parents=True, exist_ok=True)
    return p


def write_loops(directory: Optional[Path] = None, force: bool = False) -> List[Path]:
    """Synthesize the demo loops and write them as 32-bit float WAV files (cached).

    ("Render" in looprig means only the engine's steady-state stretch of a loop.)

    Parameters
    ----------
    directory : pathlib.Path, optional
        Where to write (default :func:`default_cache_dir`).
    force : bool
        Write them again even if the files exist.

    Returns
    -------
    list of pathlib.Path
        One file per entry of :data:`LOOPS`, in order.
    """
    import numpy as np

    d = Path(directory) if directory is not None else default_cache_dir() / ("v%d" % VERSION)
    d.mkdir(parents=True, exist_ok=True)
    paths = []
    for loop in LOOPS:
        p = d / ("%s.wav" % loop.name)
        if force or not p.exists():
            data = loop.synth(np, loop.rate, loop.frames())
            peak = float(np.max(np.abs(data))) or 1.0
            if peak > 0.9:
                data = data * (0.9 / peak)
            write_wav_float(p, data.astype(np.float32), loop.rate)
        paths.append(p)
    return paths


#: The old name of :func:`write_loops`.
render_loops = write_loops
