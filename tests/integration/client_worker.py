"""A second control client for the concurrency test (run as a subprocess).

Usage: client_worker.py ENGINE SLOT COUNT GO_MONOTONIC MODE
MODE "sync": COUNT gain commands, each waiting for its answer;
MODE "pipelined": COUNT gain commands queued at once, answers collected after.
Gains cycle through 0, -1, ..., -9 dB unless SLOT's first gain is 0 only
(GAIN_ZERO=1 in the environment: always 0 dB, so the output never changes).
Prints one JSON line: {"acks": n, "errors": [...], "frames": [...]}."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "pyclient"))
import looprig  # noqa: E402

engine, slot, count, go, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
zero = os.environ.get("GAIN_ZERO") == "1"
acks, errors, frames = 0, [], []
with looprig.attach(name=engine) as rig:
    while time.monotonic() < go:
        time.sleep(0.0005)
    if mode == "sync":
        for i in range(count):
            try:
                frames.append(rig.gain(slot, 0.0 if zero else -float(i % 10)))
                acks += 1
            except looprig.LooprigError as e:
                errors.append(repr(e))
    else:
        ids = [rig.send("gain", slot, value=0.0 if zero else -float(i % 10)) for i in range(count)]
        for cid in ids:
            try:
                ev = rig.wait(cid)
                assert ev.ok
                frames.append(ev.frame)
                acks += 1
            except looprig.LooprigError as e:
                errors.append(repr(e))
print(json.dumps({"acks": acks, "errors": errors[:5], "nerrors": len(errors), "frames": frames}))
