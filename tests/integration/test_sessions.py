"""Sessions (issue 12), through real engines under a private jackd: a rig is
saved with `looprig save`, reopened in a fresh engine with `looprig open`,
and the reopened rig's status and captured mix are those of the saved one
(sample by sample); bad sessions are refused with nothing changed; a save
killed half way leaves the previous session whole; `looprigd --session`
brings the rig back after SIGKILL and after SIGTERM."""
from __future__ import annotations

import json
import re
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

import lrharness as H

SLOTS = 8


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    d = tmp_path_factory.mktemp("loops")
    files = {
        "drums": H.write_wav_float(d / "drums.wav", H.noise(96000, seed=1, amp=0.4, channels=2)),
        "bass": H.write_wav_pcm16(d / "bass.wav", H.noise(48000, seed=2, amp=0.3)),
    }
    H.sox("-n", "-r", "44100", "-c", "2", str(d / "pad.flac"), "synth", "1.5", "sine", "330", "gain", "-12")
    files["pad"] = d / "pad.flac"
    return files


def cli(engine, *args, timeout=60):
    return H.run_cli(engine.server, engine.name, *args, timeout=timeout)


def status(engine):
    r = cli(engine, "status", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def rig_state(st):
    """What a session restores, from status --json (no meters, no positions)."""
    slots = []
    for s in st["slots"]:
        slots.append({k: s.get(k) for k in ("name", "path", "settings", "length", "channels", "source_rate",
                                             "source_frames", "loop_bpm", "loop_beats", "pitch", "mode", "group",
                                             "gain_db", "pan", "muted", "soloed")})
    m = st["meters"]
    return {"slots": slots, "mixer": st["mixer"], "tempo": m["tempo_bpm"], "bpb": m["beats_per_bar"],
            "transport": m.get("transport"), "declick": st["engine"]["declick_frames"]}


def playing(st):
    return [i for i, s in enumerate(st["slots"]) if s["state"] == "playing" or s.get("start_pending")]


def set_up_rig(engine, loops):
    """Loops, every kind of setting, tempo, time signature; slots 0, 1 and 4 playing."""
    steps = [
        ("load", 0, loops["drums"]), ("load", 1, loops["bass"]), ("load", 4, loops["pad"]),
        ("load", 5, loops["drums"]),                       # the same file twice: one copy in the session
        ("gain", 0, "-3.7"), ("pan", 1, "0.35"), ("mute", 5, "on"),
        ("eq", 0, "--low", "3.5", "--mid", "-2.25", "--mid-freq", "740"),
        ("hp", 1, "95.5"), ("lp", 4, "6100", "--q", "1.3"),
        ("send", 0, "reverb", "-9.5"), ("send", 1, "delay", "-14", "--pre"),
        ("group", 4, "2"), ("group-gain", 2, "-4.5"),
        ("delay", "--beats", "0.5", "--feedback", "0.3"), ("reverb", "--decay", "1.7"),
        ("master-gain", "-1.25"),
        ("tempo", "97.3"), ("time-signature", "3"),
        ("loop-tempo", 0, "120"), ("pitch", 4, "-3", "--cents", "25"),
        ("declick", "1.5"),
    ]
    for step in steps:
        r = cli(engine, *step)
        assert r.returncode == 0, (step, r.stdout, r.stderr)
    r = cli(engine, "play", 0, 1, 4)
    assert r.returncode == 0, r.stderr


def wait_renders(engine, timeout=60):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if status(engine)["meters"]["renders_pending"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError("renders did not arrive")


@pytest.fixture
def engines(jack_server):
    made = []

    def make(*extra, slots=SLOTS, check=True):
        e = H.Engine(jack_server, slots=slots, extra=list(extra))
        e.start(timeout=20)
        made.append(e)
        return e
    yield make
    for e in made:
        if e.alive():
            e.stop(check=False)


def test_save_then_open_restores_the_rig_and_its_connections(engines, loops, tmp_path, jack_server):
    import jack
    a = engines()
    set_up_rig(a, loops)
    sink = jack.Client(H.unique_name("sink"), servername=jack_server.name)
    ins = [sink.inports.register(f"in_{k}") for k in range(2)]
    sink.activate()
    try:
        sink.connect(a.port("out_L"), ins[0].name)
        sink.connect(a.port("out_R"), ins[1].name)
        sink.connect(a.port("out_R"), "system:playback_2")
        time.sleep(0.3)
        folder = tmp_path / "friday set – ü 'n' \"q\""      # odd characters
        r = cli(a, "save", folder)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "saved" in r.stdout and "4 slots" in r.stdout, r.stdout
        saved = status(a)
        assert saved["engine"]["session"]["state"] == "clean"
        doc = json.loads((folder / "looprig-session.json").read_text())
        assert doc["looprig_session"] == 1
        assert doc["master"]["tempo"] == 97.3 and doc["master"]["time_signature"] == 3
        assert sorted(os.listdir(folder / "audio")) == ["bass.wav", "drums.wav", "pad.flac"]
        by_slot = {s["slot"]: s for s in doc["slots"]}
        assert by_slot[0]["gain"] == -3.7 and by_slot[0]["loop-bpm"] == 120.0 and by_slot[0]["playing"] is True
        assert by_slot[5]["audio"] == by_slot[0]["audio"] == "audio/drums.wav" and by_slot[5]["playing"] is False
        assert ["out_L", ins[0].name] in doc["connections"] and ["out_R", "system:playback_2"] in doc["connections"]
        # the saved rig's slots now show the session's copies
        assert saved["slots"][0]["path"] == str(folder / "audio" / "drums.wav")

        # A second engine opens it: settings, loops, tempo and connections as saved.
        b = engines()
        r = cli(b, "open", folder, "--play")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "3 playing" in r.stdout and "3 connections restored" in r.stdout, r.stdout
        opened = status(b)
        assert rig_state(opened) == rig_state(saved)
        assert playing(opened) == [0, 1, 4]
        assert opened["engine"]["session"]["state"] == "clean"
        conns = {p.name for p in sink.get_all_connections(ins[0])} | {p.name for p in sink.get_all_connections(ins[1])}
        assert conns >= {b.port("out_L"), b.port("out_R")}
        # Opening again without --play: stopped and ready.
        r = cli(b, "open", folder)
        assert r.returncode == 0 and "stopped, ready" in r.stdout, r.stdout
        assert playing(status(b)) == []
    finally:
        sink.deactivate()
        sink.close()


TOLERANCE = 1e-6


def late_cycles_of(jack_server, engine) -> int:
    """jackd's reports of the engine finishing a cycle late (its output then glitches)."""
    return len(re.findall(rf"client = {re.escape(engine.name)} was not finished", jack_server.log()))


def play_and_capture(jack_server, engine, command, seconds):
    """Run the CLI command that starts the rig; the master from its start frame,
    and how many cycles the engine finished late meanwhile."""
    late0 = late_cycles_of(jack_server, engine)
    cap = H.Capture(jack_server, [engine.port("out_L"), engine.port("out_R")])
    try:
        cap.arm(seconds + 4)
        r = cli(engine, "--json", *command)
        assert r.returncode == 0, r.stdout + r.stderr
        out = json.loads(r.stdout)
        start = int((out[0] if isinstance(out, list) else out)["frame"])
        rec = cap.take(until=start + int(seconds * H.RATE))
    finally:
        cap.close()
    return rec, start, late_cycles_of(jack_server, engine) - late0


def test_reopened_rig_plays_the_same_mix_sample_by_sample(engines, loops, tmp_path, jack_server):
    """Fresh engine A plays a rig from a bar; it is saved; fresh engine B opens
    the session with --play: from their start frames the two masters are the
    same, sample by sample (filters, EQ, sends, delay, reverb, groups, master).
    Equal means within 1e-6 (-120 dBFS): Rubber Band's renders of the same
    loop differ from run to run in the last bit of a float (1e-8); everything
    else is bit-exact.
    A cycle the dummy backend makes an engine finish late glitches its output
    (and the delay and reverb carry the glitch on): such a run is repeated."""
    seconds = 2.5
    n = int(seconds * H.RATE)
    steps = [
        ("load", 0, loops["drums"]), ("load", 1, loops["bass"]), ("load", 2, loops["pad"]),
        ("gain", 0, "-3.7"), ("pan", 1, "0.35"), ("eq", 0, "--low", "3.5", "--mid", "-2.25"),
        ("hp", 1, "95.5"), ("lp", 2, "6100", "--q", "1.3"), ("send", 0, "reverb", "-9.5"),
        ("send", 1, "delay", "-14"), ("group", 2, "1"), ("group-gain", 1, "-4.5"),
        ("delay", "--beats", "0.5", "--feedback", "0.3"), ("master-gain", "-1.25"), ("tempo", "131"),
        ("loop-tempo", 1, "120"), ("pitch", 2, "2"),
    ]
    for attempt in range(4):
        a = engines()
        for step in steps:
            r = cli(a, *step)
            assert r.returncode == 0, (step, r.stderr)
        wait_renders(a)             # A plays its loops as renders, as B does from its first bar
        rec_a, start_a, late_a = play_and_capture(jack_server, a, ("play", 0, 1, 2, "--quantize", "bar"), seconds)
        folder = tmp_path / f"s{attempt}"
        r = cli(a, "save", folder)
        assert r.returncode == 0, r.stderr
        a.stop(check=False)
        b = engines()
        rec_b, start_b, late_b = play_and_capture(jack_server, b, ("open", folder, "--play"), seconds)
        b.stop(check=False)
        first_diff, compared = n, 0
        for ch in (0, 1):
            _, xa, va = rec_a.window(ch, start_a, start_a + n)
            _, xb, vb = rec_b.window(ch, start_b, start_b + n)
            assert len(xa) == len(xb) == n
            ok = va & vb
            assert np.abs(xa[ok]).max() > 0.05, "the mix is silent: nothing to compare"
            diff = np.nonzero(ok & (np.abs(xa - xb) > TOLERANCE))[0]
            if len(diff):
                first_diff = min(first_diff, int(diff[0]))
            compared += int(ok.sum())
        print(f"attempt {attempt}: {compared} samples compared, first difference at "
              f"{first_diff if first_diff < n else 'none'}; late cycles A {late_a}, B {late_b}")
        if first_diff == n and compared > 1.8 * n:
            return
        if first_diff == n:
            continue                # the capture client missed too many cycles: run again
        # Only an engine's late cycle excuses a difference, and only after the start.
        assert late_a + late_b > 0 and first_diff > 0, (attempt, first_diff, late_a, late_b)
    pytest.fail("four runs glitched by late cycles; no clean comparison")


def test_open_is_all_or_nothing_with_clear_errors(engines, loops, tmp_path):
    a = engines()
    r = cli(a, "load", 3, loops["bass"])
    assert r.returncode == 0
    cli(a, "gain", 3, "-2")
    good = tmp_path / "good"
    assert cli(a, "save", good).returncode == 0
    before = rig_state(status(a))

    def variant(name, edit=None, remove_audio=False, text=None):
        d = tmp_path / name
        shutil.copytree(good, d)
        doc_path = d / "looprig-session.json"
        if text is not None:
            doc_path.write_text(text)
        elif edit:
            doc = json.loads(doc_path.read_text())
            edit(doc)
            doc_path.write_text(json.dumps(doc))
        if remove_audio:
            (d / "audio" / "bass.wav").unlink()
        return d

    def set_(path, value):
        def edit(doc):
            obj = doc
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = value
        return edit

    cases = [
        (tmp_path / "nowhere", "no session folder"),
        (variant("notjson", text="{ this is not json"), "not valid JSON"),
        (variant("noversion", text="{}"), "not a looprig session"),
        (variant("future", set_(["looprig_session"], 99)), "version 99"),
        (variant("noaudio", remove_audio=True), "missing"),
        (variant("badgain", set_(["slots", 0, "gain"], 99)), "gain"),
        (variant("nan", text=(good / "looprig-session.json").read_text().replace('"gain": -2.0', '"gain": NaN')),
         "not valid JSON"),
        (variant("bigslot", set_(["slots", 0, "slot"], 40)), "--slots 41"),
        (variant("typo", set_(["slots", 0, "gian"], 1)), "unknown key"),
        (variant("escape", set_(["slots", 0, "audio"], "../../etc/passwd")), "inside the session folder"),
        (variant("tempo", set_(["master", "tempo"], 1000)), "master.tempo"),
    ]
    (tmp_path / "emptydir").mkdir()
    cases.append((tmp_path / "emptydir", "not a looprig session"))
    # a corrupt audio file
    d = variant("corrupt")
    (d / "audio" / "bass.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    cases.append((d, "slot 3"))
    for folder, needle in cases:
        r = cli(a, "open", folder)
        assert r.returncode == 1, (folder, r.stdout, r.stderr)
        assert needle in (r.stdout + r.stderr), (folder, needle, r.stdout + r.stderr)
        assert "nothing changed" in (r.stdout + r.stderr)
        assert rig_state(status(a)) == before, folder
    # Saving where no folder can be made: refused, nothing lost.
    (tmp_path / "a file").write_text("x")
    r = cli(a, "save", tmp_path / "a file" / "sub")
    assert r.returncode == 1 and "cannot create the session folder" in r.stdout + r.stderr
    r = cli(a, "save")          # the session in use is still the good one
    assert r.returncode == 0 and str(good) in r.stdout, r.stdout


def test_a_save_killed_half_way_leaves_the_previous_session(engines, tmp_path, jack_server):
    """SIGKILL of the engine at many points of a save that writes 8 s of audio
    into each of 8 slots: the folder always opens, as the old session or the
    new one, never a mix."""
    big = tmp_path / "big"
    big.mkdir()
    files = [H.write_wav_float(big / f"l{k}.wav", H.noise(8 * 48000, seed=10 + k, amp=0.2, channels=2))
             for k in range(SLOTS)]
    folder = tmp_path / "sess"
    outcomes = set()
    for delay in (0.0, 0.01, 0.03, 0.06, 0.1, 0.15, 0.25, 0.4):
        shutil.rmtree(folder, ignore_errors=True)
        a = engines()
        assert cli(a, "load", 0, files[0]).returncode == 0
        assert cli(a, "gain", 0, "-6").returncode == 0
        assert cli(a, "save", folder).returncode == 0
        old_doc = (folder / "looprig-session.json").read_text()
        for k in range(1, SLOTS):
            assert cli(a, "load", k, files[k]).returncode == 0
        assert cli(a, "gain", 0, "-1").returncode == 0
        env = jack_server.env
        env["PYTHONPATH"] = str(H.pyclient_path())
        saver = subprocess.Popen([*H.cli_command(), "--name", a.name, "save"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        a.proc.send_signal(signal.SIGKILL)
        a.proc.wait()
        a._remove_segment()
        saver.wait(timeout=30)
        # Whatever happened, the folder is a whole session: the old or the new.
        text = (folder / "looprig-session.json").read_text()
        doc = json.loads(text)
        outcomes.add("old" if text == old_doc else "new")
        want = 1 if text == old_doc else SLOTS
        assert len([s for s in doc["slots"] if s["audio"]]) == want
        b = engines()
        r = cli(b, "open", folder)
        assert r.returncode == 0, r.stdout + r.stderr
        st = status(b)
        assert st["slots"][0]["settings"]["gain"] == (-6.0 if want == 1 else -1.0)
        assert sum(1 for s in st["slots"] if s["length"]) == want
        b.stop(check=False)
    assert "old" in outcomes   # some kills landed mid-save


def test_session_option_recovers_after_sigkill_and_saves_on_sigterm(engines, loops, tmp_path):
    folder = tmp_path / "live"
    a = engines("--session", str(folder))
    assert (folder / "looprig-session.json").exists()      # created at start
    assert status(a)["engine"]["session"]["state"] == "clean"
    # A burst of changes, then kill -9 after the stated bound (2.5 s).
    steps = [("load", 0, loops["drums"]), ("load", 2, loops["pad"]), ("gain", 0, "-5.5"), ("pan", 2, "-0.4"),
             ("tempo", "104"), ("send", 2, "reverb", "-7"), ("play", 0, 2)]
    for step in steps:
        assert cli(a, *step).returncode == 0, step
    want = rig_state(status(a))
    time.sleep(2.5)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    a._remove_segment()
    b = engines("--session", str(folder), "--play")
    st = status(b)
    got = rig_state(st)
    assert got == want
    assert playing(st) == [0, 2]
    # Changes, then SIGTERM at once: saved on the way out.
    assert cli(b, "gain", 2, "-11").returncode == 0
    assert cli(b, "unload", 0).returncode == 0
    want = rig_state(status(b))
    assert b.stop(check=True) == 0
    c = engines("--session", str(folder))
    assert rig_state(status(c)) == want
    assert playing(status(c)) == []      # without --play: stopped and ready
    assert sorted(os.listdir(folder / "audio")) == ["pad.flac"]   # drums.wav no longer referenced


def test_session_start_refuses_a_corrupt_session(jack_server, tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "looprig-session.json").write_text('{"looprig_session": 1, "slots": [{"slot": 0, "gain": "loud"}]}')
    e = H.Engine(jack_server, slots=SLOTS, extra=["--session", str(folder)])
    with pytest.raises(RuntimeError):
        e.start(timeout=10)
    assert e.proc.wait(timeout=10) == 1
    assert "gain must be a number" in e.stderr()
    # the user's file is left as it was
    assert '"loud"' in (folder / "looprig-session.json").read_text()
