"""looprig: Python client of the looprig JACK loop engine.

Talks to a running ``looprigd`` through its shared-memory segment using
``liblooprig-shm.so`` (cffi ABI mode: nothing is compiled at install or import
time).

Examples
--------
>>> import looprig
>>> with looprig.attach() as rig:                     # doctest: +SKIP
...     rig.load(0, "loop.wav")
...     start = rig.play(0, quantize="frames:48000")
...     print(rig.meters().peak[0])
"""

from __future__ import annotations

from .client import (
    DEFAULT_TIMEOUT,
    LOAD_TIMEOUT,
    TEXT_MAX,
    Event,
    LoadResult,
    Rig,
    attach,
    default_name,
    parse_quantize,
    segment_name,
)
from .errors import (
    AttachError,
    CommandRejected,
    Detached,
    EngineNotRunning,
    LibraryNotFound,
    LooprigError,
    RingFull,
    Timeout,
)
from .meters import Meters, to_dbfs

__version__ = "0.1.0"

__all__ = [
    "attach",
    "Rig",
    "Event",
    "LoadResult",
    "Meters",
    "parse_quantize",
    "segment_name",
    "default_name",
    "to_dbfs",
    "TEXT_MAX",
    "DEFAULT_TIMEOUT",
    "LOAD_TIMEOUT",
    "LooprigError",
    "LibraryNotFound",
    "EngineNotRunning",
    "AttachError",
    "Detached",
    "CommandRejected",
    "Timeout",
    "RingFull",
    "__version__",
]
