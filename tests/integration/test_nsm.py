"""looprigd under a session manager (issue 12): a fake NSM server
(nsm_server.py, the NSM API's messages over UDP) launches the real engine
with NSM_URL, as nsmd, RaySession or Agordejo do. The engine announces
itself, opens (or creates) the session folder the manager names, runs a JACK
client of the manager's client id, saves when told, and reports unsaved
changes; a session that will not open is answered with the API's error. It
shows and hides looprig's GUI as a child process (":optional-gui:"), here a
stand-in (fake_gui.py) through LOOPRIG_GUI_COMMAND, and the real
``looprig gui`` on Qt's offscreen platform."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

import lrharness as H
from nsm_server import FakeNsmServer

liblo = pytest.importorskip("liblo")


def cli(engine, *args, timeout=60):
    return H.run_cli(engine.server, engine.name, *args, timeout=timeout)


FAKE_GUI = Path(__file__).resolve().parent / "fake_gui.py"


def nsm_engine(jack_server, nsm, client_id, *extra, env=None):
    env = dict(env or jack_server.env)
    env["NSM_URL"] = nsm.url
    return H.Engine(jack_server, slots=4, name=client_id, env=env, extra=list(extra))


def jack_ports(jack_server):
    r = subprocess.run(["jack_lsp", "-s", jack_server.name], capture_output=True, text=True, env=jack_server.env,
                       timeout=10)
    return r.stdout.split()


def document(folder):
    return json.loads((folder / "looprig-session.json").read_text())


def test_announce_open_save_and_dirty_state(jack_server, tmp_path):
    client_id = H.unique_name("looprig.n")
    folder = tmp_path / "gig" / client_id
    wav = H.write_wav_float(tmp_path / "loop.wav", H.noise(24000, seed=3, amp=0.3))
    with FakeNsmServer(open_args=(str(folder), "gig", client_id)) as nsm:
        e = nsm_engine(jack_server, nsm, client_id, "--session", str(tmp_path / "ignored"))
        e.start(timeout=30)
        try:
            name, caps, exe, major, minor, pid = nsm.wait_for("/nsm/server/announce")
            assert name == "looprig" and caps == ":dirty:message:optional-gui:", (name, caps)
            assert exe.endswith("looprigd") and (major, minor) == (1, 1) and pid == e.proc.pid
            kind, args = nsm.wait_answer("/nsm/client/open")
            assert kind == "/reply", args
            # The session folder is the manager's, created with a document; the JACK client is its id.
            assert (folder / "looprig-session.json").is_file()
            assert not (tmp_path / "ignored").exists()
            assert f"{client_id}:out_L" in jack_ports(jack_server)
            assert nsm.wait_for("/nsm/client/is_clean", timeout=5) == []

            # A change: the manager hears "dirty", and nothing is saved on its own.
            assert cli(e, "load", 0, wav).returncode == 0
            assert cli(e, "gain", 0, "-4.25").returncode == 0
            assert nsm.wait_for("/nsm/client/is_dirty", timeout=5) == []
            time.sleep(3.5)                               # longer than --session's autosave bound
            assert document(folder)["slots"] == [], "saved without the manager asking"

            # The manager saves: answered /reply, the change is in the folder, "clean" follows.
            nsm.send_save()
            kind, args = nsm.wait_answer("/nsm/client/save", timeout=30)
            assert kind == "/reply", args
            doc = document(folder)
            assert doc["slots"][0]["gain"] == -4.25 and doc["slots"][0]["audio"] == "audio/loop.wav"
            assert (folder / "audio" / "loop.wav").is_file()
            assert nsm.wait_for("/nsm/client/is_clean", timeout=5) == []

            # SIGTERM (the manager's quit or abort) does not save: the manager saves first if it wants to.
            assert cli(e, "gain", 0, "-9").returncode == 0
            assert nsm.wait_for("/nsm/client/is_dirty", timeout=5) == []
        finally:
            e.stop(check=False)
        assert e.returncode == 0
        assert document(folder)["slots"][0]["gain"] == -4.25

        # The manager starts it again: the rig comes back from the folder.
        e2 = nsm_engine(jack_server, nsm, client_id)
        e2.start(timeout=30)
        try:
            assert nsm.wait_answer("/nsm/client/open", timeout=10)[0] == "/reply"
            st = json.loads(cli(e2, "status", "--json").stdout)
            assert st["slots"][0]["gain_db"] == pytest.approx(-4.25) and st["slots"][0]["name"] == "loop.wav"
            assert st["engine"]["session"]["state"] == "clean"
        finally:
            e2.stop(check=False)


def test_a_session_that_will_not_open_is_answered_with_the_api_error(jack_server, tmp_path):
    client_id = H.unique_name("looprig.n")
    folder = tmp_path / client_id
    folder.mkdir()
    (folder / "looprig-session.json").write_text("{ not json")
    with FakeNsmServer(open_args=(str(folder), "broken", client_id)) as nsm:
        e = nsm_engine(jack_server, nsm, client_id)
        e.proc = subprocess.Popen(e.args, env=e.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = e.proc.communicate(timeout=30)
        kind, args = nsm.wait_answer("/nsm/client/open")
        assert kind == "/error" and args[0] == -9, args          # ERR_BAD_PROJECT
        assert "not valid JSON" in args[1], args
        assert e.proc.returncode == 1 and "not valid JSON" in err
        assert (folder / "looprig-session.json").read_text() == "{ not json"   # left as it was


def test_a_manager_that_refuses_leaves_the_engine_running_on_its_own(jack_server, tmp_path):
    client_id = H.unique_name("lre")
    with FakeNsmServer(refuse=(-2, "incompatible API")) as nsm:
        e = nsm_engine(jack_server, nsm, client_id)
        e.start(timeout=30)
        try:
            assert cli(e, "ping").returncode == 0
            err = e.stderr_path.read_text()
        finally:
            e.stop(check=False)
        assert "NSM_URL is set but the session manager cannot be used" in err and "incompatible API" in err, err


# ---- the optional GUI ----

def children(pid):
    """The pids whose parent is `pid` (zombies included)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2:].split()[1]) == pid:
                found.append(int(entry))
    return found


def process_state(pid):
    """'R', 'S', 'Z' (zombie), ... or None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def wait_gone(pid, timeout=5.0):
    """True once `pid` has no /proc entry at all (exited and reaped: no zombie)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process_state(pid) is None:
            return True
        time.sleep(0.02)
    return False


def wait_record(record, known, timeout=15.0):
    """The next fake GUI's record in the folder `record` (not in `known`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in sorted(record.glob("*.json")):
            if f.name not in known:
                known.add(f.name)
                return json.loads(f.read_text())
        time.sleep(0.02)
    raise AssertionError(f"no fake GUI started within {timeout} s: {sorted(p.name for p in record.iterdir())}")


def quit_fake_gui(record, status):
    """Makes the running fake GUI exit with `status` (the file appears whole: renamed into place)."""
    tmp = record / "quit.tmp"
    tmp.write_text(str(status))
    tmp.rename(record / "quit")


def fake_gui_env(jack_server, record):
    env = dict(jack_server.env)
    env["LOOPRIG_GUI_COMMAND"] = f"{H.PYTHON} {FAKE_GUI}"
    env["FAKE_GUI_RECORD"] = str(record)
    return env


def test_optional_gui_show_hide_and_a_gui_that_exits_by_itself(jack_server, tmp_path):
    client_id = H.unique_name("looprig.n")
    record = tmp_path / "gui"
    record.mkdir()
    known = set()
    with FakeNsmServer(open_args=(str(tmp_path / client_id), "gig", client_id)) as nsm:
        e = nsm_engine(jack_server, nsm, client_id, env=fake_gui_env(jack_server, record))
        e.start(timeout=30)
        try:
            caps = nsm.wait_for("/nsm/server/announce")[1]
            assert caps == ":dirty:message:optional-gui:"
            # The initial state, right after the announce: hidden (the API: start hidden).
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []
            assert nsm.wait_answer("/nsm/client/open")[0] == "/reply"
            assert children(e.proc.pid) == []

            # Show: the GUI command runs as the engine's child, with the engine's name.
            nsm.send("/nsm/client/show_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_shown") == []
            gui = wait_record(record, known)
            assert gui["argv"] == [str(FAKE_GUI), "--name", client_id, "gui"], gui
            assert gui["ppid"] == e.proc.pid and children(e.proc.pid) == [gui["pid"]]
            assert gui["pgrp"] == gui["pid"]                      # a process group of its own
            assert gui["stdin"] == "/dev/null"
            assert len([fd for fd in gui["fds"] if fd > 2]) <= 1, gui["fds"]  # (listdir's own)
            assert gui["env"]["NSM_URL"] is None                   # not a session client itself
            assert gui["env"]["LOOPRIG_LIB"] == e.env.get("LOOPRIG_LIB")
            assert gui["env"]["JACK_DEFAULT_SERVER"] == jack_server.name
            # Shown again: still one GUI, and the state is said again.
            nsm.send("/nsm/client/show_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_shown") == []
            assert children(e.proc.pid) == [gui["pid"]]

            # Hide: SIGTERM, reaped (no zombie), reported hidden.
            nsm.send("/nsm/client/hide_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []
            assert (record / f"{gui['pid']}.terminated").is_file()
            assert wait_gone(gui["pid"]), process_state(gui["pid"])
            assert children(e.proc.pid) == []

            # The GUI exits by itself (its window closed): hidden, no zombie, nothing to complain about.
            nsm.send("/nsm/client/show_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_shown") == []
            gui = wait_record(record, known)
            quit_fake_gui(record, 0)
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []
            assert wait_gone(gui["pid"]), process_state(gui["pid"])
            assert not (record / f"{gui['pid']}.terminated").exists()

            # It fails (status 3): hidden, and the manager is told why.
            nsm.send("/nsm/client/show_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_shown") == []
            gui = wait_record(record, known)
            quit_fake_gui(record, 3)
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []
            priority, text = nsm.wait_for("/nsm/client/message")
            assert priority == 2 and text == f"looprig's GUI (pid {gui['pid']}) exited with status 3", text
            assert wait_gone(gui["pid"])
            assert "exited with status 3" in e.stderr()
            assert nsm.paths().count("/nsm/client/message") == 1   # none for the exit with status 0

            # Hidden already: a hide is answered hidden all the same.
            nsm.send("/nsm/client/hide_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []

            # Shown when the engine stops (the manager's SIGTERM): the GUI ends with it.
            nsm.send("/nsm/client/show_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_shown") == []
            gui = wait_record(record, known)
            assert cli(e, "ping").returncode == 0                  # the engine runs on meanwhile
        finally:
            e.stop(check=False)
        assert e.returncode == 0
        assert (record / f"{gui['pid']}.terminated").is_file()
        assert wait_gone(gui["pid"])


def test_a_gui_that_cannot_start_is_reported_hidden_and_the_engine_runs_on(jack_server, tmp_path):
    client_id = H.unique_name("looprig.n")
    env = dict(jack_server.env)
    env["LOOPRIG_GUI_COMMAND"] = str(tmp_path / "no-such-gui")
    with FakeNsmServer(open_args=(str(tmp_path / client_id), "gig", client_id)) as nsm:
        e = nsm_engine(jack_server, nsm, client_id, env=env)
        e.start(timeout=30)
        try:
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []
            assert nsm.wait_answer("/nsm/client/open")[0] == "/reply"
            nsm.send("/nsm/client/show_optional_gui")
            priority, text = nsm.wait_for("/nsm/client/message")
            assert priority == 2
            assert text == (f"cannot start looprig's GUI ({tmp_path / 'no-such-gui'} --name {client_id} gui): "
                            "No such file or directory"), text
            assert nsm.wait_for("/nsm/client/gui_is_hidden") == []  # said again: the answer to the show
            assert "gui_is_shown" not in " ".join(nsm.paths())
            assert children(e.proc.pid) == []
            assert cli(e, "ping").returncode == 0
            assert "cannot start looprig's GUI" in e.stderr()
        finally:
            e.stop(check=False)
        assert e.returncode == 0


def test_the_default_gui_command_is_python3_m_looprig_gui_with_the_trees_pyclient(jack_server, tmp_path):
    pytest.importorskip("PyQt6.QtWidgets")
    pytest.importorskip("pyqtgraph")
    client_id = H.unique_name("looprig.n")
    env = dict(jack_server.env)
    env.pop("LOOPRIG_GUI_COMMAND", None)
    env["QT_QPA_PLATFORM"] = "offscreen"
    with FakeNsmServer(open_args=(str(tmp_path / client_id), "gig", client_id)) as nsm:
        e = nsm_engine(jack_server, nsm, client_id, env=env)
        e.start(timeout=30)
        try:
            assert nsm.wait_answer("/nsm/client/open")[0] == "/reply"
            nsm.send("/nsm/client/show_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_shown") == []
            (pid,) = children(e.proc.pid)
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]
            assert [a.decode() for a in cmdline] == ["/usr/bin/python3", "-m", "looprig", "--name", client_id, "gui"]
            environ = dict(kv.decode().split("=", 1) for kv in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                           if b"=" in kv)
            # The engine runs from the build tree: the tree's pyclient first on PYTHONPATH.
            assert environ["PYTHONPATH"].split(":")[0] == str(Path(H.engine_binary()).resolve().parents[2] / "pyclient")
            assert environ.get("LOOPRIG_LIB") == e.env.get("LOOPRIG_LIB") and "NSM_URL" not in environ
            time.sleep(3)                     # the window is up (offscreen), attached to the engine
            assert process_state(pid) not in (None, "Z"), e.stderr()[-3000:]
            assert "Traceback" not in e.stderr(), e.stderr()[-3000:]   # the GUI's stderr is the engine's
            t0 = time.monotonic()
            nsm.send("/nsm/client/hide_optional_gui")
            assert nsm.wait_for("/nsm/client/gui_is_hidden", timeout=10) == []
            assert time.monotonic() - t0 < 2.5, "the GUI did not quit on SIGTERM (killed after the grace time)"
            assert wait_gone(pid)
            assert "/nsm/client/message" not in nsm.paths(), nsm.messages
        finally:
            e.stop(check=False)
        assert e.returncode == 0
