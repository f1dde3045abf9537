"""``./quickstart`` end to end (issue 10): with a private JACK server name it
starts jackd and the engine, plays the demo, prints the status, then stops the
engine first (it exits without ever seeing its server go away), stops jackd
with SIGTERM and waits, so nothing is left: no process, no /dev/shm entry of
that server, no segment, no temporary log (unless --keep-logs).

``--no-build`` uses the engine under test (``$LOOPRIGD``): the tests must not
rebuild ``./build``. The build step's progress is ``tools/build.sh`` with
``LOOPRIG_BUILD_VERBOSE=1`` (ninja's ``[n/N]`` lines), checked on its own.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, engine_binary, require_engine, unique_name

SHM = Path("/dev/shm")


def _leftovers(server: str, name: str):
    return sorted(p.name for p in SHM.iterdir() if server in p.name or p.name.endswith("-" + name))


def _run_quickstart(tmp_path: Path, *extra: str):
    require_engine()
    server = unique_name("lrqs")
    name = unique_name("lrqse")
    env = dict(os.environ, JACK_DEFAULT_SERVER=server, JACK_NO_AUDIO_RESERVATION="1", TMPDIR=str(tmp_path),
               LOOPRIGD=str(engine_binary()))
    assert _leftovers(server, name) == []
    r = subprocess.run([str(REPO / "quickstart"), "--seconds", "1", "--name", name, "--no-build", *extra],
                       env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=180)
    if "Too many servers" in r.stdout + r.stderr:
        pytest.skip("environment: JACK's server registry is full")
    return r, server, name, env


def test_quickstart_stops_engine_then_jackd_and_leaves_nothing(tmp_path):
    r, server, name, env = _run_quickstart(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "starting jackd with the dummy backend" in r.stdout
    assert "Cannot connect" not in r.stdout + r.stderr  # jack_wait's noise while jackd comes up
    assert "start at frame" in r.stdout and "176400 frames at 44100 Hz -> 192000 frames at 48000 Hz" in r.stdout
    assert "slots: 5 of 32 loaded" in r.stdout  # the status at the end
    assert list(tmp_path.iterdir()) == [], "temporary logs left behind"
    assert _leftovers(server, name) == [], "left in /dev/shm"
    probe = subprocess.run(["jack_wait", "-c", "-s", server], env=env, capture_output=True, text=True, timeout=30)
    assert "running" not in probe.stdout.replace("not running", "")
    ps = subprocess.run(["pgrep", "-f", "--", "-n %s " % server], capture_output=True, text=True)
    assert ps.stdout.strip() == "", "jackd still running"


def test_quickstart_keep_logs_shows_an_orderly_stop(tmp_path):
    r, server, name, env = _run_quickstart(tmp_path, "--keep-logs")
    assert r.returncode == 0, r.stdout + r.stderr
    dirs = list(tmp_path.glob("looprig-quickstart.*"))
    assert len(dirs) == 1 and "logs kept in %s" % dirs[0] in r.stdout
    log = (dirs[0] / "engine.log").read_text()
    assert "ready" in log and "stopping" in log
    # The engine stopped while its server ran: it never saw it go away nor tried to reconnect.
    assert "went away" not in log and "reconnect" not in log, log
    assert (dirs[0] / "jackd.log").is_file()
    assert _leftovers(server, name) == []


def test_build_sh_shows_ninja_progress_when_asked(tmp_path):
    """tools/build.sh (what ./quickstart runs) prints ninja's output with
    LOOPRIG_BUILD_VERBOSE=1, nothing without. Run on a copy of the script in a
    scratch tree whose build/ is a configured empty meson project (./build is not touched)."""
    tree = tmp_path / "tree"
    (tree / "tools").mkdir(parents=True)
    (tree / "tools" / "build.sh").write_text((REPO / "tools" / "build.sh").read_text())
    (tree / "meson.build").write_text("project('t', 'c')\ncustom_target('x', output: 'x.txt', "
                                      "command: ['touch', '@OUTPUT@'], build_by_default: true)\n")
    quiet = subprocess.run(["bash", str(tree / "tools" / "build.sh")], capture_output=True, text=True, timeout=120)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == ""
    (tree / "build" / "x.txt").unlink()
    loud = subprocess.run(["bash", str(tree / "tools" / "build.sh")], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, LOOPRIG_BUILD_VERBOSE="1"))
    assert loud.returncode == 0, loud.stderr
    assert "[1/1]" in loud.stdout, loud.stdout


def test_quickstart_help_and_the_build_step():
    r = subprocess.run([str(REPO / "quickstart"), "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "--keep-logs" in r.stdout and "--no-build" in r.stdout
    text = (REPO / "quickstart").read_text()
    assert "LOOPRIG_BUILD_VERBOSE=1 bash tools/build.sh" in text
