"""The ``looprig`` CLI: ``./looprig`` and ``python3 -m looprig``, output and exit codes."""

from __future__ import annotations

import json
import os
import re
import signal
import time

import pytest

from conftest import PERIOD, RATE, REPO, run_cli, sigstop

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_TIMEOUT = 0, 1, 2, 3, 4


def test_module_help():
    r = run_cli(["--help"], module=True)
    assert r.returncode == 0, r.stderr
    for cmd in ("engine", "load", "play", "stop", "gain", "pan", "mute", "solo", "declick", "ping",
                "status", "meters", "demo", "unload"):
        assert cmd in r.stdout


def test_launcher_help_equals_module_help():
    a = run_cli(["--help"])
    b = run_cli(["--help"], module=True)
    assert a.returncode == 0 and a.stdout == b.stdout
    assert os.access(REPO / "looprig", os.X_OK)
    assert (REPO / "looprig").read_text().startswith("#!/usr/bin/python3\n")


def test_module_runs_from_the_repository_root(engine):
    """`python3 -m looprig` at the repo root (looprig.py redirects to pyclient/)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([sys.executable, "-m", "looprig", "--name", engine.name, "--json", "ping"],
                       cwd=str(REPO), env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"] is True


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["frobnicate"],
        ["play"],
        ["play", "x"],
        ["play", "0", "--quantize", "bars:4"],
        ["play", "0", "--at", "-5"],
        ["mute", "0", "maybe"],
        ["gain", "0", "loud"],
        ["--timeout", "-1", "ping"],
    ],
)
def test_usage_errors_exit_2(args):
    r = run_cli(args)
    assert r.returncode == EXIT_USAGE, (args, r.stdout, r.stderr)
    assert "usage:" in r.stderr


@pytest.mark.parametrize("args", [["--json", "tempo", "abc"], ["mode", "0", "foo", "--json"],
                                  ["--json", "loop-tempo", "0", "120", "--beats", "4"]])
def test_usage_errors_in_json_mode_print_json(args):
    r = run_cli(args)
    assert r.returncode == EXIT_USAGE, (args, r.stdout, r.stderr)
    d = json.loads(r.stdout)
    assert d["ok"] is False and d["exit"] == EXIT_USAGE and d["error"], d
    assert "usage:" in r.stderr


def test_engine_not_running_exit_3():
    r = run_cli(["--name", "lrtest-absent-%d" % os.getpid(), "ping"])
    assert r.returncode == EXIT_NOT_RUNNING, r.stderr
    assert "not running" in r.stderr or "no looprig engine" in r.stderr
    r = run_cli(["--json", "--name", "lrtest-absent-%d" % os.getpid(), "status"])
    assert r.returncode == EXIT_NOT_RUNNING
    assert json.loads(r.stdout)["ok"] is False


def test_ping_and_json(engine):
    r = run_cli(["--name", engine.name, "ping"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("ping: engine frame ")
    r = run_cli(["--name", engine.name, "--json", "ping"])
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["ok"] is True and d["command"] == "ping" and isinstance(d["frame"], int)


def test_name_after_command(engine):
    r = run_cli(["ping", "--name", engine.name, "--json"])
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["ok"]


def test_env_name(engine):
    env = dict(os.environ, LOOPRIG_NAME=engine.name)
    r = run_cli(["ping"], env=env)
    assert r.returncode == 0, r.stderr


def test_load_play_gain_pan_status(engine, sine_wav):
    n = ["--name", engine.name]
    r = run_cli(n + ["load", "10", str(sine_wav)])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("load 10: sine440.wav, %d frames at %d Hz" % (RATE, RATE))
    r = run_cli(n + ["gain", "10", "-6"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("gain 10: -6 dB at frame ")
    r = run_cli(n + ["pan", "10", "-0.5"])
    assert r.returncode == 0, r.stderr
    r = run_cli(n + ["pan", "10", "-.25"])
    assert r.returncode == 0, r.stderr
    r = run_cli(n + ["gain", "10", "-1.5e1"])
    assert r.returncode == 0, r.stderr
    r = run_cli(n + ["mute", "10", "on"])
    assert r.returncode == 0 and "mute 10: on" in r.stdout
    r = run_cli(n + ["mute", "10", "off"])
    assert r.returncode == 0
    r = run_cli(n + ["solo", "10", "off"])
    assert r.returncode == 0
    r = run_cli(n + ["play", "10", "--quantize", "frames:%d" % PERIOD])
    assert r.returncode == 0, r.stderr
    frame = int(r.stdout.split("at frame ")[1].split()[0])
    assert frame % PERIOD == 0
    deadline = time.monotonic() + 5
    while True:
        r = run_cli(n + ["status", "--json"])
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        if st["slots"][10]["state"] == "playing" or time.monotonic() > deadline:
            break
    s = st["slots"][10]
    assert s["state"] == "playing" and s["gain_db"] == pytest.approx(-15.0) and s["pan"] == pytest.approx(-0.25)
    assert s["start_frame"] == frame
    r = run_cli(["--json"] + n + ["status"])
    assert json.loads(r.stdout)["engine"]["name"] == engine.name
    r = run_cli(n + ["status"])
    assert r.returncode == 0
    assert "sine440.wav" in r.stdout and "playing" in r.stdout and "xruns" in r.stdout
    r = run_cli(n + ["meters"])
    assert r.returncode == 0 and "MASTER" in r.stdout and "sine440" in r.stdout
    r = run_cli(n + ["--json", "meters", "--watch", "0.3", "--interval", "0.1"])
    assert r.returncode == 0
    lines = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert len(lines) >= 2 and lines[-1]["frame_time"] > lines[0]["frame_time"]
    at = frame + 10 * RATE
    r = run_cli(n + ["stop", "10", "--at", str(at)])
    assert r.returncode == 0 and r.stdout.startswith("stop 10: stops at frame %d" % at)
    r = run_cli(n + ["stop", "10"])
    assert r.returncode == 0
    r = run_cli(n + ["unload", "10"])
    assert r.returncode == 0


def test_engine_errors_exit_1(engine, tmp_path):
    n = ["--name", engine.name]
    r = run_cli(n + ["play", "9999"])
    assert r.returncode == EXIT_REJECTED
    assert r.stderr.startswith("looprig: error: ") and "(LR_E_BAD_SLOT)" in r.stderr
    assert r.stdout == ""
    r = run_cli(n + ["--json", "gain", "0", "nan"])
    assert r.returncode == EXIT_REJECTED
    d = json.loads(r.stdout)
    assert d["ok"] is False and d["code_name"] == "LR_E_BAD_VALUE" and d["message"]
    r = run_cli(n + ["load", "0", str(tmp_path / "nope.wav")])
    assert r.returncode == EXIT_REJECTED and "(LR_E_FILE)" in r.stderr
    r = run_cli(n + ["declick", "-1"])
    assert r.returncode == EXIT_REJECTED and "LR_E_BAD_VALUE" in r.stderr


def test_declick(engine):
    r = run_cli(["--name", engine.name, "declick", "2"])
    assert r.returncode == 0 and r.stdout.startswith("declick: 2 ms")
    r = run_cli(["--name", engine.name, "--json", "status"])
    assert json.loads(r.stdout)["engine"]["declick_frames"] == 96
    assert run_cli(["--name", engine.name, "declick", "0"]).returncode == 0


def test_timeout_exit_4(engine_factory):
    eng = engine_factory()
    sigstop(eng.proc.pid)
    try:
        t0 = time.monotonic()
        r = run_cli(["--name", eng.name, "--timeout", "0.3", "ping"])
        assert r.returncode == EXIT_TIMEOUT, r.stderr
        assert "no answer" in r.stderr
        assert time.monotonic() - t0 < 10
    finally:
        eng.proc.signal(signal.SIGCONT)


def test_demo(engine_factory, tmp_path):
    eng = engine_factory()
    r = run_cli(["--name", eng.name, "demo", "--seconds", "1", "--dir", str(tmp_path)], timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resampled" in r.stdout  # the 44.1 kHz loop
    pad = next(ln for ln in r.stdout.splitlines() if "pad44k" in ln and "load" in ln)
    assert "176400 frames at 44100 Hz -> 192000 frames at 48000 Hz" in pad, pad
    for ln in r.stdout.splitlines():
        assert not re.search(r"-(1[2-9]\d|[2-9]\d\d)\.\d", ln), ln  # no level at or below -120 dB is printed
    starts = [ln for ln in r.stdout.splitlines() if "start at frame" in ln]
    assert starts and "NOT the same" not in starts[0]
    assert "demo: mixer: hats high-pass 400 Hz, pad -> reverb, arp -> delay 0.75 beats" in r.stdout
    wavs = sorted(p.name for p in tmp_path.glob("*.wav"))
    assert len(wavs) >= 4
    r = run_cli(["--name", eng.name, "--json", "status"])
    st = json.loads(r.stdout)
    loaded = [s for s in st["slots"] if s["state"] != "empty"]
    assert len(loaded) == len(wavs)
    # every loop is 2 bars at 120 BPM = 4 s at the engine rate, the 44.1 kHz one included
    assert {s["length"] for s in loaded} == {4 * RATE}
    assert {s["source_rate"] for s in loaded} == {44100, 48000}
    # the mixer settings the demo made are in force
    r = run_cli(["--name", eng.name, "--json", "params"])
    assert r.returncode == 0, r.stdout + r.stderr
    params = {p["name"]: p for p in json.loads(r.stdout)["params"]}
    names = [s["name"] for s in sorted(loaded, key=lambda s: s["slot"])]
    pad = next(i for i, n in enumerate(names) if n.startswith("pad"))
    hats = next(i for i, n in enumerate(names) if n.startswith("hats"))
    assert params["send2-level"]["values"][pad] == -6.0
    assert params["hp-on"]["values"][hats] == 1.0 and params["hp-freq"]["values"][hats] == 400.0
    assert params["delay-beats"]["value"] == 0.75


def test_demo_wavs_are_float_wav(tmp_path):
    from looprig.demo import LOOPS, render_loops
    from looprig.wavfile import read_wav_info

    paths = render_loops(tmp_path)
    for loop, p in zip(LOOPS, paths):
        tag, ch, rate, frames = read_wav_info(p)
        assert (tag, ch, rate) == (3, 2, loop.rate)
        assert frames == loop.frames() and frames * 48000 == 192000 * loop.rate


def test_engine_command_execs_binary(tmp_path):
    """`looprig engine` execs $LOOPRIGD with the options passed through."""
    fake = tmp_path / "fake-looprigd"
    fake.write_text("#!/bin/sh\necho \"ARGS: $*\"\n")
    fake.chmod(0o755)
    env = dict(os.environ, LOOPRIGD=str(fake))
    r = run_cli(["--name", "x1", "engine", "--slots", "8", "--slot-outs", "--declick-ms", "2.5"], env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ARGS: --name x1 --slots 8 --slot-outs --declick-ms 2.5"
    r = run_cli(["engine", "--name", "y2"], env=env)
    assert r.stdout.strip() == "ARGS: --name y2"
    r = run_cli(["engine", "--name", "z3", "--smooth-ms", "5", "--bus-outs"], env=env)
    assert r.stdout.strip() == "ARGS: --name z3 --smooth-ms 5 --bus-outs"
    r = run_cli(["engine", "--name", "z4", "--no-bus-outs"], env=env)
    assert r.stdout.strip() == "ARGS: --name z4 --no-bus-outs"
    env = dict(os.environ, LOOPRIGD=str(tmp_path / "missing"))
    r = run_cli(["engine"], env=env)
    assert r.returncode != 0 and "not found" in r.stderr


def test_cli_without_numpy(engine, sine_wav):
    """status/meters/load work when NumPy cannot be imported (meters are lists then)."""
    import subprocess

    from conftest import PYCLIENT, PYTHON

    code = (
        "import sys; sys.modules['numpy'] = None\n"
        "from looprig.cli import main\n"
        "import looprig.meters as m; assert m._np is None\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PYCLIENT))
    for args in (["load", "11", str(sine_wav)], ["play", "11"], ["status"], ["--json", "status"], ["meters"],
                 ["unload", "11"]):
        r = subprocess.run([PYTHON, "-c", code, "--name", engine.name] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, timeout=60)
        assert r.returncode == 0, (args, r.stderr)
        if args == ["--json", "status"]:
            assert json.loads(r.stdout)["slots"][11]["name"] == "sine440.wav"


def test_wait_for_engine(jack_server, tmp_path):
    """`--wait S` lets a script start the engine and talk to it at once."""
    import threading

    from conftest import Engine, unique_name

    name = unique_name()
    box = {}

    def client():
        box["r"] = run_cli(["--name", name, "--wait", "20", "ping"])

    th = threading.Thread(target=client)
    th.start()
    time.sleep(0.5)
    eng = Engine(jack_server, name=name)
    try:
        th.join(30)
        assert box["r"].returncode == 0, box["r"].stderr
    finally:
        eng.stop()
    t0 = time.monotonic()
    r = run_cli(["--name", name, "--wait", "0.5", "ping"])
    assert r.returncode == EXIT_NOT_RUNNING and 0.4 < time.monotonic() - t0 < 5


def test_engine_command_passes_pan_law_and_further_options(tmp_path):
    """`looprig engine` hands --pan-law and anything after -- to looprigd
    (a stand-in binary that prints its arguments)."""
    fake = tmp_path / "looprigd"
    fake.write_text("#!/bin/sh\necho \"$@\"\n")
    fake.chmod(0o755)
    r = run_cli(["engine", "--name", "zz", "--pan-law", "-4.5", "--", "--render-threads", "2"],
                env=dict(os.environ, LOOPRIGD=str(fake)))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["--name", "zz", "--pan-law", "-4.5", "--render-threads", "2"]
