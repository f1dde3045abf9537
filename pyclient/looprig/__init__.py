"""looprig: Python client of the looprig JACK loop engine.

Talks to a running ``looprigd`` through its shared-memory segment using
``liblooprig-shm.so`` (cffi ABI mode: nothing is compiled at install or import
time).

Examples
--------
>>> import looprig
>>> with looprig.attach() as rig:                     # doctest: +SKIP
...     rig.load(0, "loop.wav")
...     start = rig.play(0, quantize="frames:48000")    # an Answer: an int (the frame) + .message
...     print(rig.meters().peak[0])
...     fut = rig.nowait.stop(0)                          # send now, answer later (a Future)
...     rig.highpass(0, 120)                              # mixer: filters, EQ, sends, groups
...     rig.reverb(decay=3.0); rig.fx_send(0, "reverb", -12)
...     rig.save("~/sets/friday")                         # the whole rig to a session folder
"""

from __future__ import annotations

from .client import (
    DEFAULT_TIMEOUT,
    LOAD_TIMEOUT,
    OPEN_TIMEOUT,
    SAVE_TIMEOUT,
    TEXT_MAX,
    Answer,
    CommandFuture,
    Event,
    STALL_SECONDS,
    LoadResult,
    NoWait,
    Rig,
    attach,
    default_name,
    parse_quantize,
    segment_name,
)
from .commands import LAUNCH_QUANTIZE_NAMES, launch_quantize_spec, launch_quantize_value
from .errors import (
    AttachError,
    CommandRejected,
    Detached,
    EngineNotRunning,
    EngineStalled,
    LibraryNotFound,
    LooprigError,
    RingFull,
    Timeout,
)
from .meters import SILENCE_DBFS, BusMeters, Loudness, Meters, dbfs, to_dbfs
from .params import Param, param_table

__version__ = "0.1.0"

__all__ = [
    "attach",
    "Rig",
    "NoWait",
    "Answer",
    "CommandFuture",
    "Event",
    "LoadResult",
    "Meters",
    "BusMeters",
    "Loudness",
    "Param",
    "param_table",
    "parse_quantize",
    "LAUNCH_QUANTIZE_NAMES",
    "launch_quantize_spec",
    "launch_quantize_value",
    "segment_name",
    "default_name",
    "to_dbfs",
    "dbfs",
    "SILENCE_DBFS",
    "TEXT_MAX",
    "DEFAULT_TIMEOUT",
    "LOAD_TIMEOUT",
    "SAVE_TIMEOUT",
    "OPEN_TIMEOUT",
    "LooprigError",
    "LibraryNotFound",
    "EngineNotRunning",
    "AttachError",
    "Detached",
    "CommandRejected",
    "Timeout",
    "RingFull",
    "EngineStalled",
    "STALL_SECONDS",
    "__version__",
]
