"""Several clients at once (processes), and the command-line tool."""
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import lrharness as H

ENGINE_OPTS = dict(slots=4, slot_outs=True)
CAPTURE_SLOTS = [0]
CH0 = (2, 3)
HERE = Path(__file__).resolve().parent
COUNT = 200


@pytest.fixture(autouse=True)
def _clean(rig):
    H.reset_slots(rig, range(4))
    yield
    H.reset_slots(rig, range(4))


def spawn_worker(jack_server, engine, slot, count, go, mode, zero=False):
    env = jack_server.env
    if zero:
        env["GAIN_ZERO"] = "1"
    return subprocess.Popen([H.PYTHON, str(HERE / "client_worker.py"), engine.name, str(slot),
                             str(count), repr(go), mode], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_processes_get_every_ack_and_audio_is_unaffected(rig, engine, capture, jack_server,
                                                             tmp_path):
    L = 1777
    x = H.noise(L, seed=500, amp=0.4, channels=2)
    assert rig.load(0, H.write_wav_float(tmp_path / "c0.wav", x)).frames == L
    assert rig.load(1, H.write_wav_float(tmp_path / "c1.wav", H.noise(999, 501))).frames == 999
    capture.arm(30)
    T = rig.play(0)
    go = time.monotonic() + 1.5   # both start hammering at the same moment
    workers = [
        spawn_worker(jack_server, engine, 0, COUNT, go, "sync", zero=True),   # playing slot, 0 dB
        spawn_worker(jack_server, engine, 1, COUNT, go, "sync"),
        # The pipelined bursts take a few periods; started 0.3 s into the ~1 s synchronous
        # storms they land inside them even when a busy machine starts a worker late.
        spawn_worker(jack_server, engine, 2, COUNT, go + 0.3, "pipelined"),   # empty slot: gain is
        spawn_worker(jack_server, engine, 3, COUNT, go + 0.3, "pipelined"),   # still a valid setting
    ]
    results = []
    for w in workers:
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    end = rig.ping() + 1000
    rec = capture.take(until=end)
    for i, r in enumerate(results):
        assert r["nerrors"] == 0, f"worker {i}: {r['errors']}"
        assert r["acks"] == COUNT, f"worker {i}: {r['acks']} acks of {COUNT}"
        assert r["frames"] == sorted(r["frames"]), f"worker {i}: answers out of order"
    # the storms overlapped in time (else this tested nothing concurrent)
    spans = [(min(r["frames"]), max(r["frames"])) for r in results]
    def overlap(i, j):
        return max(spans[i][0], spans[j][0]) <= min(spans[i][1], spans[j][1])
    assert overlap(0, 1), spans                       # the two synchronous storms
    for j in (2, 3):                                  # pipelined bursts land inside them
        assert overlap(j, 0) or overlap(j, 1), spans
    # last gains stuck: slots 1..3 end at -(199 % 10) = -9 dB, slot 0 at 0 dB
    g = H.meter_field(rig.meters(), "gain_db")
    assert [float(v) for v in g[:4]] == [0.0, -9.0, -9.0, -9.0]
    # slot 0 played on, sample-exact, through 400+ gain commands of 0 dB
    model = H.SlotModel(x).play(T)
    H.check_model(rec, [model], max(rec.t0, T - 1000), end, {0: CH0}, what="during command storm")


def test_two_cli_loops_concurrently(engine, rig, jack_server, tmp_path):
    n = 12
    script = " ; ".join([" ".join(H.cli_command() + ["--name", engine.name, "gain", "{slot}", "-3"])
                         + " && echo OK"] * n)
    env = jack_server.env
    procs = [subprocess.Popen(["sh", "-c", script.format(slot=s)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in (1, 2)]
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert out.count("OK") == n, (out, err)


def test_cli_exit_codes_messages_and_json(engine, rig, jack_server, tmp_path):
    L = 1234
    x = H.noise(L, seed=510, amp=0.3)
    path = H.write_wav_float(tmp_path / "cli.wav", x)
    r = H.run_cli(jack_server, engine.name, "load", 0, path)
    assert r.returncode == 0, r.stderr
    r = H.run_cli(jack_server, engine.name, "--json", "play", 0)
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    r = H.run_cli(jack_server, engine.name, "status", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    slots = st["slots"]
    s0 = next(s for s in slots if s["slot"] == 0)
    assert d["ok"] is True and d["frame"] > 0, d
    assert s0["length"] == L and s0["source_frames"] == L
    assert s0["state"] == "playing", s0
    assert s0["start_frame"] == d["frame"], (s0, d)
    # engine errors: exit 1, the engine's message on stderr
    r = H.run_cli(jack_server, engine.name, "load", 0, tmp_path / "missing.wav")
    assert r.returncode == 1 and "missing.wav" in r.stderr and "LR_E_FILE" in r.stderr, r
    r = H.run_cli(jack_server, engine.name, "gain", 9, 0)
    assert r.returncode == 1 and "LR_E_BAD_SLOT" in r.stderr, r
    r = H.run_cli(jack_server, engine.name, "gain", 0, "nan")
    assert r.returncode == 1 and "LR_E_BAD_VALUE" in r.stderr, r
    r = H.run_cli(jack_server, engine.name, "pan", 0, "1.5")
    assert r.returncode == 1 and "LR_E_BAD_VALUE" in r.stderr, r
    # and the slot still plays the loaded file
    m = rig.meters()
    assert int(H.meter_field(m, "state")[0]) == 2
    assert int(H.meter_field(m, "length")[0]) == L
