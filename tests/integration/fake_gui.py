"""A stand-in for ``looprig gui`` in the NSM tests, started by the engine
through ``LOOPRIG_GUI_COMMAND="/usr/bin/python3 .../fake_gui.py"`` (so the
tests need no display).

On start it writes ``$FAKE_GUI_RECORD/<pid>.json``: its argv, pid, parent
pid, process group, stdin's target, the descriptors it holds and the
environment variables the tests look at. Then it waits until either SIGTERM
(writes ``<pid>.terminated`` and exits 0, as the real GUI quits on SIGTERM) or
a file ``$FAKE_GUI_RECORD/quit`` appears (renamed into place whole; it
removes it and exits with the status written in it: the user closing the
window, or a failure).
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

record = Path(os.environ["FAKE_GUI_RECORD"])
pid = os.getpid()


def on_term(*_):
    (record / f"{pid}.terminated").write_text("SIGTERM\n")
    sys.exit(0)


signal.signal(signal.SIGTERM, on_term)
info = {
    "argv": sys.argv,
    "pid": pid,
    "ppid": os.getppid(),
    "pgrp": os.getpgrp(),
    "stdin": os.readlink("/proc/self/fd/0"),
    "fds": sorted(int(f) for f in os.listdir("/proc/self/fd")),
    "env": {k: os.environ.get(k) for k in ("NSM_URL", "LOOPRIG_LIB", "JACK_DEFAULT_SERVER", "PYTHONPATH")},
}
tmp = record / f"{pid}.json.tmp"
tmp.write_text(json.dumps(info))
tmp.rename(record / f"{pid}.json")

quit_file = record / "quit"
while True:
    try:
        status = int(quit_file.read_text())
    except (FileNotFoundError, ValueError):
        time.sleep(0.05)
        continue
    quit_file.unlink()
    sys.exit(status)
