"""Sessions from Python and the CLI: ``rig.save`` / ``rig.open``, ``looprig save`` /
``looprig open``, and the session state in ``status``.

No engine: the commands are checked by what a Rig puts on the wire
(fakes.Wire records the bytes and answers with the ACK or ERROR a test
gives), the CLI by its parser and by :func:`looprig.cli.main` over such a Rig.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import looprig
from looprig import CommandRejected
from looprig import cli
from looprig._ffi import get_lib
from looprig._names import COMMAND_NAMES, COMMANDS, SESSION_STATES
from looprig.cli import parse_args
from looprig.commands import OPEN_TIMEOUT, SAVE_TIMEOUT, SESSION_PATH_MAX, session_text
from looprig.display import session_line, status_table
from conftest import require_library, run_cli
from fakes import FRAME_TIME, PERIOD, Wire, make_rig

EXIT_OK, EXIT_REJECTED, EXIT_USAGE, EXIT_NOT_RUNNING, EXIT_TIMEOUT = 0, 1, 2, 3, 4


@pytest.fixture(autouse=True, scope="module")
def _library():
    require_library()


@pytest.fixture
def wire():
    return Wire()


@pytest.fixture
def frig(wire):
    return make_rig(wire)


def _sent(wire):
    return wire.decoded()


# -- names from the header ------------------------------------------------------------

def test_commands_and_states_come_from_the_header():
    lib = get_lib()
    assert COMMANDS["session_save"] == lib.LR_CMD_SESSION_SAVE == 19
    assert COMMANDS["session_open"] == lib.LR_CMD_SESSION_OPEN == 20
    assert COMMAND_NAMES[19] == "session_save" and COMMAND_NAMES[20] == "session_open"
    assert SESSION_STATES == {"none": lib.LR_SESSION_NONE, "clean": lib.LR_SESSION_CLEAN,
                              "dirty": lib.LR_SESSION_DIRTY} == {"none": 0, "clean": 1, "dirty": 2}
    assert looprig.SAVE_TIMEOUT == SAVE_TIMEOUT == 30.0 and looprig.OPEN_TIMEOUT == OPEN_TIMEOUT == 60.0
    assert SESSION_PATH_MAX == lib.LR_TEXT_MAX - 1 == 1023


# -- the folder path ------------------------------------------------------------------

def test_session_text_none_and_empty_mean_the_session_in_use():
    assert session_text(None) == b""
    assert session_text("") == b""
    assert session_text(b"") == b""


def test_session_text_makes_relative_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert session_text("sets/friday") == str(tmp_path / "sets" / "friday").encode()
    assert session_text(Path("friday")) == str(tmp_path / "friday").encode()
    assert session_text(b"friday") == str(tmp_path / "friday").encode()
    assert session_text("./a/../friday/") == str(tmp_path / "friday").encode()
    assert session_text("/abs/x") == b"/abs/x"


def test_session_text_expands_the_home_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert session_text("~/sets/friday") == str(tmp_path / "home" / "sets" / "friday").encode()


def test_session_text_is_utf8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert session_text("Frühling") == (str(tmp_path) + "/Frühling").encode("utf-8")
    with pytest.raises(ValueError, match="UTF-8"):
        session_text(b"/x/\xff")
    with pytest.raises(ValueError, match="UTF-8"):
        session_text("/x/\udcff")  # a surrogate-escaped byte: not sendable as UTF-8


def test_session_text_refuses_nul_and_too_long():
    with pytest.raises(ValueError, match="NUL"):
        session_text("/x/a\0b")
    with pytest.raises(ValueError, match="NUL"):
        session_text(b"/x/a\0b")
    longest = "/" + "a" * (SESSION_PATH_MAX - 1)
    assert len(session_text(longest)) == SESSION_PATH_MAX
    with pytest.raises(ValueError, match="1024 bytes .* more than 1023"):
        session_text(longest + "b")
    # counted in bytes of UTF-8, not characters: 512 x 2 bytes + "/" = 1025
    with pytest.raises(ValueError, match="1025 bytes"):
        session_text("/" + "ü" * 512)


def test_relative_path_too_long_once_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rel = "a" * (SESSION_PATH_MAX - 5)  # fits alone, not after the current directory
    with pytest.raises(ValueError, match="made absolute"):
        session_text(rel)


# -- what rig.save / rig.open send and return ---------------------------------------------

def test_save_sends_the_absolute_path(frig, wire, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lib = get_lib()
    wire.acks[0] = {"value": (12.0, 3.0), "message": "saved %s/friday: 12 slots, 3 audio files written" % tmp_path}
    a = frig.save("friday")
    (c,) = _sent(wire)
    assert c["type"] == lib.LR_CMD_SESSION_SAVE and c["slot"] == 0 and c["flags"] == 0
    assert c["text"] == str(tmp_path / "friday").encode() and c["values"] == (0.0, 0.0)
    assert c["quantize"] == 0
    assert isinstance(a, looprig.Answer) and a.ok and a == FRAME_TIME + PERIOD
    assert a.command == "session_save" and a.slot is None
    assert a.message == "saved %s/friday: 12 slots, 3 audio files written" % tmp_path
    assert a.values == {"path": str(tmp_path / "friday"), "slots_saved": 12, "audio_files_written": 3}
    assert json.loads(json.dumps(a.to_dict()))["values"]["slots_saved"] == 12


def test_save_without_a_path_is_the_session_in_use(frig, wire):
    a = frig.save()
    frig.save("")
    assert [c["text"] for c in _sent(wire)] == [b"", b""]
    assert a.values["path"] is None


def test_open_sends_play_in_value0(frig, wire, tmp_path):
    lib = get_lib()
    wire.acks[1] = {"value": (12.0, 1.0), "frame": FRAME_TIME + 4096,
                    "message": "opened /x: 12 slots (3 playing from frame %d); 4 connections restored, 1 missing: "
                               "system:playback_9" % (FRAME_TIME + 4096)}
    a0 = frig.open(tmp_path / "friday")
    a1 = frig.open(str(tmp_path / "friday"), play=True)
    a2 = frig.open()
    sent = _sent(wire)
    assert [c["type"] for c in sent] == [lib.LR_CMD_SESSION_OPEN] * 3
    assert [c["value"] for c in sent] == [0.0, 1.0, 0.0]
    assert [c["text"] for c in sent] == [str(tmp_path / "friday").encode()] * 2 + [b""]
    assert all(c["slot"] == 0 and c["flags"] == 0 for c in sent)
    assert a0.values == {"path": str(tmp_path / "friday"), "play": False, "slots_loaded": 0,
                         "connections_missing": 0}
    assert a1 == a1.frame == FRAME_TIME + 4096 and a1.command == "session_open"
    assert a1.values == {"path": str(tmp_path / "friday"), "play": True, "slots_loaded": 12,
                         "connections_missing": 1}
    assert "1 missing: system:playback_9" in a1.message
    assert a2.values["path"] is None and a2.values["play"] is False


def test_play_is_keyword_only(frig, wire):
    with pytest.raises(TypeError):
        frig.open("/x", True)
    with pytest.raises(TypeError):
        frig.save("/x", 5.0)  # timeout is keyword-only
    assert wire.cmds == []


def test_a_bad_path_sends_nothing(frig, wire):
    for call in (lambda: frig.save("/x/\0"), lambda: frig.open("/" + "a" * 1100),
                 lambda: frig.nowait.save("/x\0"), lambda: frig.nowait.open("/" + "a" * 1100, play=True)):
        with pytest.raises(ValueError):
            call()
    assert wire.cmds == []


def test_refusals_raise_the_engines_message(frig, wire):
    wire.reject[0] = ("LR_E_BUSY", "a session save is in progress")
    wire.reject[1] = ("LR_E_FORMAT", "/x/session.json: unknown version 9")
    wire.reject[2] = ("LR_E_FILE", "no session in use: give a folder")
    with pytest.raises(CommandRejected) as ei:
        frig.save("/x")
    assert (ei.value.code_name, ei.value.command, ei.value.message) == (
        "LR_E_BUSY", "session_save", "a session save is in progress")
    with pytest.raises(CommandRejected) as ei:
        frig.open("/x", play=True)
    assert (ei.value.code_name, ei.value.command) == ("LR_E_FORMAT", "session_open")
    with pytest.raises(CommandRejected, match="no session in use") as ei:
        frig.save()
    assert ei.value.code_name == "LR_E_FILE"


def test_default_timeouts_are_long(frig, monkeypatch):
    seen = []
    run = frig._channel.run

    def spy(plan, timeout):
        seen.append(timeout)
        return run(plan, timeout)

    monkeypatch.setattr(frig._channel, "run", spy)
    assert frig.timeout == 1.0  # the Rig's own default is not used for sessions
    frig.save("/x")
    frig.open("/x")
    frig.save("/x", timeout=2.5)
    frig.open("/x", play=True, timeout=7)
    frig.save_session("/x")
    frig.open_session("/x")
    assert seen == [30.0, 60.0, 2.5, 7.0, 30.0, 60.0]


def test_aliases_send_the_same(frig, wire):
    frig.save("/x/y")
    frig.save_session("/x/y")
    frig.open("/x/y", play=True)
    frig.open_session("/x/y", play=True)
    raw = wire.cmds
    assert raw[0] == raw[1] and raw[2] == raw[3] and raw[0] != raw[2]


def test_nowait_and_submit(frig, wire):
    wire.acks[0] = {"value": (2.0, 2.0), "message": "saved /x: 2 slots, 2 audio files written"}
    wire.acks[1] = {"value": (2.0, 0.0), "frame": FRAME_TIME + 999}
    fs = frig.nowait.save("/x")
    fo = frig.nowait.open("/x", play=True)
    fr = frig.submit("session-open", text=b"/y", value=1.0)
    assert not fs.done() and len(wire.cmds) == 3
    while frig.in_flight:
        frig.pump()
    s, o, r = fs.result(), fo.result(), fr.result()
    assert s.values["audio_files_written"] == 2 and s.message.startswith("saved /x")
    assert o == FRAME_TIME + 999 and o.values["play"] is True and o.values["slots_loaded"] == 2
    assert r.command == "session_open"
    assert _sent(wire)[2]["text"] == b"/y" and _sent(wire)[2]["value"] == 1.0
    wire.reject[3] = ("LR_E_BUSY", "busy")
    f = frig.nowait.open("/z")
    while frig.in_flight:
        frig.pump()
    assert isinstance(f.exception(), CommandRejected) and f.exception().code_name == "LR_E_BUSY"


# -- the session state in engine_info / status ----------------------------------------------

@pytest.mark.parametrize("state,saves,name", [(0, 0, "none"), (1, 3, "clean"), (2, 1, "dirty"), (7, 0, "unknown(7)")])
def test_engine_info_has_the_session(frig, wire, state, saves, name):
    wire.hdr.session_state = state
    wire.hdr.session_saves = saves
    info = frig.engine_info()
    assert info["session"] == {"state": name, "saves": saves}
    for key in ("name", "segment", "pid", "alive", "state", "abi_version", "sample_rate", "buffer_size",
                "slot_count", "declick_frames", "smooth_frames", "frame_time", "heartbeat", "heartbeat_age",
                "rt_violations", "segment_size", "client_index", "max_clients"):
        assert key in info, key
    st = frig.status()
    assert st["engine"]["session"] == {"state": name, "saves": saves}
    assert set(st) == {"engine", "meters", "mixer", "slots"}


def test_session_line():
    assert session_line({"state": "none", "saves": 0}) == "session: none (not saved or opened yet)"
    assert session_line({"state": "clean", "saves": 3}) == "session: clean, 3 saves"
    assert session_line({"state": "dirty", "saves": 1}) == "session: dirty, 1 save"


def test_status_table_shows_the_session(frig, wire):
    wire.hdr.session_state = 1
    wire.hdr.session_saves = 3
    lines = status_table(frig.status()).splitlines()
    assert "session: clean, 3 saves" in lines
    # an older status dict (no "session") still prints
    st = frig.status()
    del st["engine"]["session"]
    assert not any(ln.startswith("session:") for ln in status_table(st).splitlines())


# -- the CLI --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "argv,expect",
    [
        (["save"], {"command": "save", "dir": None}),
        (["save", "sets/friday"], {"dir": "sets/friday"}),
        (["save", "~/sets/friday", "--json"], {"dir": "~/sets/friday", "json": True}),
        (["open"], {"command": "open", "dir": None, "play": False}),
        (["open", "--play"], {"dir": None, "play": True}),
        (["open", "/x/friday", "--play"], {"dir": "/x/friday", "play": True}),
        (["open", "--play", "friday", "--name", "other"], {"dir": "friday", "play": True, "name": "other"}),
        (["--timeout", "90", "open", "x"], {"timeout": 90.0, "play": False}),
    ],
)
def test_cli_parses_save_and_open(argv, expect):
    args = parse_args(argv)
    for k, v in expect.items():
        assert getattr(args, k) == v, (argv, k)


@pytest.mark.parametrize("argv", [["save", "a", "b"], ["open", "a", "b"], ["save", "--play"],
                                  ["open", "--play=1"], ["save", "/" + "a" * 1100], ["open", "a" * 1100]])
def test_cli_session_usage_errors(argv, capsys):
    with pytest.raises(SystemExit) as ei:
        parse_args(argv)
    assert ei.value.code == EXIT_USAGE
    assert "usage:" in capsys.readouterr().err


def test_cli_help_lists_save_and_open():
    r = run_cli(["--help"])
    assert r.returncode == 0
    names = [ln.split()[0] for ln in r.stdout.splitlines() if ln.startswith("    ") and ln.split()]
    assert "save" in names and "open" in names
    assert "save 30, open 60" in " ".join(r.stdout.split())
    r = run_cli(["open", "--help"], module=True)
    assert r.returncode == 0 and r.stdout.startswith("usage: looprig open [DIR] [--play]")
    assert "--play" in r.stdout and "stopped and ready" in r.stdout
    r = run_cli(["save", "--help"])
    assert r.returncode == 0 and r.stdout.startswith("usage: looprig save [DIR]")
    assert "the session in use" in r.stdout


def test_cli_no_engine_exit_3():
    r = run_cli(["--name", "lrtest-absent-%d" % os.getpid(), "save", "/tmp/x"])
    assert r.returncode == EXIT_NOT_RUNNING, r.stderr
    r = run_cli(["--json", "--name", "lrtest-absent-%d" % os.getpid(), "open", "--play"])
    assert r.returncode == EXIT_NOT_RUNNING and json.loads(r.stdout)["ok"] is False


def test_cli_bad_path_is_a_usage_error_before_attaching():
    r = run_cli(["--name", "lrtest-absent-%d" % os.getpid(), "--json", "save", "/" + "a" * 1100])
    assert r.returncode == EXIT_USAGE and "usage:" in r.stderr and "more than 1023" in r.stderr
    assert json.loads(r.stdout)["exit"] == EXIT_USAGE


@pytest.fixture
def fake_cli(monkeypatch, wire):
    """``looprig.cli.main`` over a Rig on ``wire`` (what it was asked to attach to is recorded)."""
    made = []

    def rig(name=None, timeout=5.0, wait=0.0):
        made.append({"name": name, "timeout": timeout, "wait": wait})
        wire.attach_state["attached"] = True  # main() closes its Rig: each call attaches again
        r = make_rig(wire)
        r.timeout = timeout
        return r

    monkeypatch.setattr(cli, "Rig", rig)
    return made


def test_cli_save_prints_the_engines_message(fake_cli, wire, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    wire.acks[0] = {"value": (12.0, 3.0), "message": "saved %s/friday: 12 slots, 3 audio files written" % tmp_path}
    assert cli.main(["save", "friday"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out == "saved %s/friday: 12 slots, 3 audio files written\n" % tmp_path
    (c,) = _sent(wire)
    assert c["type"] == get_lib().LR_CMD_SESSION_SAVE and c["text"] == str(tmp_path / "friday").encode()


def test_cli_save_json(fake_cli, wire, capsys):
    wire.acks[0] = {"value": (4.0, 0.0), "message": "saved /s: 4 slots, 0 audio files written"}
    assert cli.main(["--json", "save"]) == EXIT_OK
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] is True and d["command"] == "session_save" and d["type"] == "ack"
    assert d["path"] is None and d["slots_saved"] == 4 and d["audio_files_written"] == 0
    assert d["message"] == "saved /s: 4 slots, 0 audio files written" and d["value"] == [4.0, 0.0]
    assert _sent(wire)[0]["text"] == b""


def test_cli_open_play_json(fake_cli, wire, capsys):
    wire.acks[0] = {"value": (12.0, 1.0), "frame": 5_000_000, "message": "opened /x: 12 slots; 1 missing: a:b"}
    assert cli.main(["open", "/x", "--play", "--json"]) == EXIT_OK
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] is True and d["command"] == "session_open" and d["frame"] == 5_000_000
    assert (d["path"], d["play"], d["slots_loaded"], d["connections_missing"]) == ("/x", True, 12, 1)
    c = _sent(wire)[0]
    assert (c["type"], c["value"], c["text"]) == (get_lib().LR_CMD_SESSION_OPEN, 1.0, b"/x")


def test_cli_open_text_and_fallback(fake_cli, wire, capsys):
    wire.acks[0] = {"message": "opened /x: 2 slots (none playing)"}
    assert cli.main(["open", "/x"]) == EXIT_OK
    assert capsys.readouterr().out == "opened /x: 2 slots (none playing)\n"
    assert _sent(wire)[0]["value"] == 0.0
    # an answer without a message still says what happened
    wire.acks[1] = {"value": (2.0, 0.0), "frame": 777}
    assert cli.main(["open"]) == EXIT_OK
    assert capsys.readouterr().out == "open (the session in use): 2 slots at frame 777\n"
    wire.acks[2] = {"value": (2.0, 1.0)}
    assert cli.main(["save", "/s"]) == EXIT_OK
    assert capsys.readouterr().out == "save /s: 2 slots, 1 audio files written\n"


def test_cli_refusal_exit_1(fake_cli, wire, capsys):
    wire.reject[0] = ("LR_E_FORMAT", "/x/session.json: unknown version 9")
    assert cli.main(["open", "/x"]) == EXIT_REJECTED
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err == "looprig: error: /x/session.json: unknown version 9 (LR_E_FORMAT)\n"
    wire.reject[1] = ("LR_E_BUSY", "a session open is in progress")
    assert cli.main(["--json", "save", "/x"]) == EXIT_REJECTED
    d = json.loads(capsys.readouterr().out)
    assert d["ok"] is False and d["exit"] == EXIT_REJECTED and d["code_name"] == "LR_E_BUSY"
    assert d["command"] == "session_save" and d["message"] == "a session open is in progress"


def test_cli_timeout_exit_4(fake_cli, monkeypatch, capsys):
    silent = Wire()
    silent.poll = lambda ev: False  # the engine never answers
    monkeypatch.setattr(cli, "Rig", lambda name=None, timeout=5.0, wait=0.0: make_rig(silent))
    assert cli.main(["--timeout", "0.2", "save", "/x"]) == EXIT_TIMEOUT
    assert "no answer" in capsys.readouterr().err
    assert len(silent.cmds) == 1


def test_cli_status_shows_the_session(fake_cli, wire, capsys):
    wire.hdr.session_state = 2
    wire.hdr.session_saves = 5
    assert cli.main(["status"]) == EXIT_OK
    assert "session: dirty, 5 saves" in capsys.readouterr().out.splitlines()
    assert cli.main(["status", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["engine"]["session"] == {"state": "dirty", "saves": 5}
