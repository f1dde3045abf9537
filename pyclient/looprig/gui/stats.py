"""``LOOPRIG_GUI_STATS=FILE``: the window's frame statistics, for tools/gui-bench.

Every second, and once more when the application quits, one JSON object is
appended to FILE as a line (the file is emptied first)::

    {"t": 1234.5, "pid": 4321, "frames": 600, "cost_s": 0.41, "interval_s": 1.0,
     "interval_frames": 60, "mean_ms": 0.68, "max_ms": 1.9, "attached": true,
     "playing": 32, "final": false}

``t`` is ``time.monotonic()`` (the system's monotonic clock, comparable
between processes); ``frames`` and ``cost_s`` count every ``frame()`` call
since the window opened and the time spent in them; ``mean_ms`` and
``max_ms`` are the mean and slowest ``frame()`` since the previous line
(the Qt paint events that follow a frame are not in it: a process's CPU
time says the whole); ``playing`` is how many slots the window's last meter
snapshot shows playing (None when not attached).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from PyQt6 import QtCore, QtWidgets


class StatsWriter(QtCore.QObject):
    """Append a line of ``win``'s frame statistics to ``path`` every second and at quit."""

    def __init__(self, win: Any, path: str, every_ms: int = 1000) -> None:
        super().__init__(win)
        self.win = win
        self.path = path
        self._last = (time.monotonic(), 0, 0.0)
        with open(path, "w"):
            pass
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.write)
        self.timer.start(every_ms)
        app = QtWidgets.QApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(lambda: self.write(final=True))

    def write(self, final: bool = False) -> None:
        w = self.win
        now = time.monotonic()
        frames, cost = w.frames, w.frame_cost
        t0, f0, c0 = self._last
        n = frames - f0
        m = w.link.meters
        rec = {"t": now, "pid": os.getpid(), "frames": frames, "cost_s": cost, "interval_s": now - t0,
               "interval_frames": n, "mean_ms": 1000.0 * (cost - c0) / n if n else None,
               "max_ms": 1000.0 * w.frame_max, "attached": w.link.rig is not None,
               "playing": int((m.state == 2).sum()) if m is not None else None, "final": final}
        w.frame_max = 0.0
        self._last = (now, frames, cost)
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(rec) + "\n")
        except OSError:
            pass
