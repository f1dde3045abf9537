"""The GUI's parts that need no engine: meter ballistics and tap tempo, the
launcher's commands (cells, scenes), launch quantize names, waveform
overviews of real files, the meter scale, that ``import looprig`` loads no
Qt, and a window on an engine that is not running.

Qt runs on the offscreen platform (set before any QApplication exists); the
end-to-end tests of the window on a real X server and a real engine are in
tests/integration/test_gui.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before pytest-qt's qapp makes the QApplication

import looprig  # noqa: E402
from looprig.gui import waveform  # noqa: E402 - no Qt in it (nor in ballistics)
from looprig.gui.ballistics import FLOOR_DB, PeakBallistics, StereoBallistics, TapTempo, db  # noqa: E402
from looprig.wavfile import write_wav_float  # noqa: E402

REPO = Path(__file__).resolve().parents[2]

try:
    import pytestqt  # noqa: F401
except ImportError as _e:  # pragma: no cover - tools/install-deps.sh installs it
    _missing = "pytest-qt is not installed (Debian: python3-pytestqt; tools/install-deps.sh): %s" % _e

    @pytest.fixture
    def qtbot():
        pytest.fail(_missing, pytrace=False)


def qt(module: str):
    """Import a Qt-using module of the GUI, failing (not skipping) without PyQt6."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError as e:
        pytest.fail("%s needs PyQt6 and pyqtgraph (Debian: python3-pyqt6 python3-pyqtgraph; "
                    "tools/install-deps.sh): %s" % (module, e), pytrace=False)


# --------------------------------------------------------------------------
# meter ballistics
# --------------------------------------------------------------------------


def test_db_of_linear_amplitudes():
    assert db(1.0) == 0.0
    assert db(0.5) == pytest.approx(-6.0206, abs=1e-4)
    assert db(10.0) == pytest.approx(20.0)
    for silent in (0.0, -0.5, float("nan"), 1e-9):
        assert db(silent) == FLOOR_DB


def test_the_bar_falls_20_db_per_second_after_a_peak():
    b = PeakBallistics()
    bar, hold, clip = b.update(0.5, 0.5, 10.0)
    assert bar == pytest.approx(db(0.5)) and hold == pytest.approx(db(0.5)) and not clip
    for t, want in ((10.25, db(0.5) - 5.0), (10.5, db(0.5) - 10.0), (11.0, db(0.5) - 20.0)):
        bar, hold, _ = b.update(0.001, 0.5, t)  # the engine's hold stays: the bar does not
        assert bar == pytest.approx(want, abs=1e-9), t
        assert hold == pytest.approx(db(0.5))
    # never below the floor, however long
    bar, _, _ = b.update(0.0, 0.0, 100.0)
    assert bar == FLOOR_DB
    # a custom fall rate
    b = PeakBallistics(fall_db_per_s=40.0)
    b.update(1.0, 1.0, 0.0)
    assert b.update(0.0, 1.0, 0.5)[0] == pytest.approx(-20.0)


def test_the_bar_jumps_to_a_new_peak_at_once():
    b = PeakBallistics()
    b.update(0.1, 0.1, 0.0)
    bar, _, _ = b.update(0.8, 0.8, 0.016)
    assert bar == pytest.approx(db(0.8))
    # a lower peak while it falls: the fall wins while it is above
    bar, _, _ = b.update(0.1, 0.8, 0.116)
    assert bar == pytest.approx(db(0.8) - 2.0)
    # and the new peak when it is above the falling bar
    bar, _, _ = b.update(0.7, 0.8, 0.132)
    assert bar == pytest.approx(db(0.7))


def test_a_peak_seen_only_through_the_rising_hold_is_caught():
    b = PeakBallistics()
    b.update(0.05, 0.1, 0.0)
    # between two display frames a transient of 0.9 came and went: this frame's
    # period peak is low, only the engine's 2 s hold rose
    bar, hold, _ = b.update(0.05, 0.9, 0.016)
    assert bar == pytest.approx(db(0.9)) and hold == pytest.approx(db(0.9))
    # the hold staying up is not a new peak: the bar falls from there
    bar, _, _ = b.update(0.05, 0.9, 0.516)
    assert bar == pytest.approx(db(0.9) - 10.0)
    # the hold falling (the 2 s passed) and rising again: a new peak
    b.update(0.05, 0.05, 3.0)
    bar, _, _ = b.update(0.05, 0.5, 3.016)
    assert bar == pytest.approx(db(0.5))


def test_the_clip_light_holds_two_seconds_after_the_last_clip():
    b = PeakBallistics()
    assert not b.update(0.99, 0.99, 0.0)[2]
    assert b.update(1.0, 1.0, 1.0)[2]              # a sample at 0 dBFS
    assert b.update(0.2, 1.0, 2.9)[2]              # 1.9 s later: still on
    assert not b.update(0.2, 1.0, 3.01)[2]         # 2.01 s: off (the engine's hold alone does not relight it)
    assert b.update(1.3, 1.3, 4.0)[2]              # clipped again
    assert b.update(0.1, 1.3, 5.9)[2]
    assert not b.update(0.1, 0.1, 6.1)[2]
    # a clip seen only through the hold (between two display frames), also after an earlier one
    assert b.update(0.1, 1.1, 8.0)[2]
    assert b.update(0.1, 1.1, 9.9)[2]
    assert not b.update(0.1, 0.1, 10.1)[2]
    # first sight of a meter whose hold says it clipped lately: the light is on
    fresh = PeakBallistics()
    assert fresh.update(0.1, 1.5, 0.0)[2]
    fresh.reset()
    assert fresh.bar_db == FLOOR_DB and fresh.clip_until < 0


def test_stereo_ballistics_keeps_the_channels_apart():
    s = StereoBallistics()
    (lb, lh, lc), (rb, rh, rc) = s.update([0.5, 1.0], [0.5, 1.0], 0.0)
    assert lb == pytest.approx(db(0.5)) and rb == 0.0 and not lc and rc
    s.reset()
    (lb, _, _), (rb, _, _) = s.update(np.zeros(2, np.float32), np.zeros(2, np.float32), 1.0)
    assert lb == rb == FLOOR_DB


def test_tap_tempo():
    t = TapTempo()
    assert t.tap(100.0) is None                   # one tap: no tempo yet
    assert t.tap(100.5) == 120.0
    assert t.tap(101.0) == 120.0
    assert t.tap(101.6) == pytest.approx(60 / 0.5333333, abs=0.01)
    # it keeps the last 4 intervals
    t = TapTempo()
    for x in (0.0, 1.0, 1.5, 2.0, 2.5, 3.0):
        bpm = t.tap(x)
    assert bpm == 120.0
    # a pause longer than 2 s starts over
    assert t.tap(5.5) is None
    assert t.tap(6.25) == 80.0
    # clamped to the engine's range, rounded to 0.01
    t = TapTempo()
    t.tap(0.0)
    assert t.tap(0.1) == 400.0
    t = TapTempo(reset_s=10.0)
    t.tap(0.0)
    assert t.tap(5.0) == 20.0
    t = TapTempo()
    t.tap(0.0)
    assert t.tap(0.7) == 85.71
    # two taps at the same instant: no tempo (no division by zero)
    t = TapTempo()
    t.tap(1.0)
    assert t.tap(1.0) is None


# --------------------------------------------------------------------------
# launcher commands (panels) with a small fake meters object
# --------------------------------------------------------------------------


EMPTY, STOPPED, PLAYING = 0, 1, 2
MUTED, SOLOED, START, STOP = 1, 2, 4, 8


def fake_meters(states, flags=None):
    return types.SimpleNamespace(state=np.array(states, np.uint32),
                                 flags=np.array(flags if flags is not None else [0] * len(states), np.uint32))


def test_cell_state():
    panels = qt("looprig.gui.panels")
    cs = panels.cell_state
    assert cs(EMPTY, 0) == "empty"
    assert cs(EMPTY, START) == "empty"
    assert cs(STOPPED, 0) == "loaded"
    assert cs(STOPPED, MUTED | SOLOED) == "loaded"
    assert cs(STOPPED, START) == "queued"
    assert cs(PLAYING, 0) == "playing"
    assert cs(PLAYING, MUTED) == "playing"
    assert cs(PLAYING, STOP) == "stopping"
    assert cs(PLAYING, STOP | MUTED) == "stopping"


def test_toggle_commands():
    panels = qt("looprig.gui.panels")
    m = fake_meters([EMPTY, STOPPED, PLAYING, STOPPED, PLAYING], [0, MUTED, 0, START, STOP])
    tc = panels.toggle_commands
    assert tc(m, 0) == []                       # empty: nothing
    assert tc(m, 1) == [("play", 1)]            # loaded (muted or not)
    assert tc(m, 2) == [("stop", 2)]            # playing
    assert tc(m, 3) == [("stop", 3)]            # queued to start: a second click cancels it
    assert tc(m, 4) == [("play", 4)]            # queued to stop: launched again
    assert tc(m, 5) == [] and tc(m, 99) == []   # no such slot
    assert tc(None, 0) == []                    # no engine


def test_scene_commands():
    panels = qt("looprig.gui.panels")
    assert panels.COLUMNS == 8
    st = [EMPTY] * 32
    for s in (0, 1, 3):          # row 0
        st[s] = STOPPED
    st[8] = PLAYING              # row 1, column 0: stopped by scene 0
    st[13] = PLAYING             # row 1, column 5: row 0 has nothing there, plays on
    st[17] = PLAYING             # row 2, column 1: stopped by scene 0
    st[25] = STOPPED             # row 3, column 1: loaded, not playing: nothing to stop
    st[1] = PLAYING              # row 0's own playing slot: launched again, not stopped
    m = fake_meters(st)
    cmds = panels.scene_commands(m, 0)
    assert sorted(c for c in cmds if c[0] == "play") == [("play", 0), ("play", 1), ("play", 3)]
    assert sorted(c for c in cmds if c[0] == "stop") == [("stop", 8), ("stop", 17)]
    assert len(cmds) == 5
    # scene 1: slots 8 and 13 launched again; column 0's slot 0 is not playing, column 5 has nothing else
    assert set(panels.scene_commands(m, 1)) == {("play", 8), ("play", 13)}
    # scene 2: slot 17 launched again, slot 1 (column 1, playing) stops, slot 25 (not playing) is left
    assert set(panels.scene_commands(m, 2)) == {("play", 17), ("stop", 1)}
    # scene 3: slot 25 plays, 1 and 17 (column 1) stop
    assert set(panels.scene_commands(m, 3)) == {("play", 25), ("stop", 1), ("stop", 17)}
    # an empty row, a row past the end, no engine
    assert panels.scene_commands(fake_meters([EMPTY] * 16), 0) == []
    assert panels.scene_commands(m, 4) == []
    assert panels.scene_commands(None, 0) == []
    # fewer slots than a full row
    small = fake_meters([STOPPED, EMPTY, PLAYING])
    assert set(panels.scene_commands(small, 0)) == {("play", 0), ("play", 2)}
    # other column counts
    assert set(panels.scene_commands(fake_meters([STOPPED, PLAYING, PLAYING, STOPPED]), 1, columns=2)) == {
        ("play", 2), ("play", 3), ("stop", 1)}


# --------------------------------------------------------------------------
# launch quantize names
# --------------------------------------------------------------------------


def test_launch_quantize_value_and_spec():
    v = looprig.launch_quantize_value
    assert [v(n) for n in looprig.LAUNCH_QUANTIZE_NAMES] == [0, 1, 2, 3, 4, 5]
    assert v("none") == v("off") == v(0) == 0
    assert v("bar") == v("1bar") == v("bar:1") == v(" Bar ") == 2
    assert v("beat") == v("beat:1") == 1
    assert v("2 bars") == v("bar:2") == v("2BARS") == 3
    assert v("bar:4") == 4 and v("bar:8") == v(5) == 5
    for bad in ("bars", "3bars", "", "bar:3", 6, -1, True, False, 2.0, None):
        with pytest.raises(ValueError):
            v(bad)
    spec = looprig.launch_quantize_spec
    assert [spec(i) for i in range(6)] == [None, "beat", "bar", "bar:2", "bar:4", "bar:8"]
    assert spec(2.0) == spec(2.9) == "bar"       # a float as the meters publish it
    assert spec(-1) is None and spec(6) is None and spec(1000) is None
    # every name's spec is accepted as a quantize= by the command builder
    from looprig.commands import build_command
    for i in range(1, 6):
        build_command("play", slot=0, quantize=spec(i))


def test_the_gui_quantize_labels_follow_the_values():
    """The quantize menu's entry i is launch-quantize value i (the window sends the index)."""
    panels = qt("looprig.gui.panels")
    assert len(panels.QUANTIZE_LABELS) == len(looprig.LAUNCH_QUANTIZE_NAMES)
    for i, label in enumerate(panels.QUANTIZE_LABELS):
        spec = looprig.launch_quantize_spec(i)
        if label == "none":
            assert spec is None
            continue
        count, unit = label.split()
        assert unit.rstrip("s") in ("beat", "bar"), label
        assert spec == (unit.rstrip("s") if count == "1" else "%s:%s" % (unit.rstrip("s"), count)), label


# --------------------------------------------------------------------------
# waveform overviews
# --------------------------------------------------------------------------


def reference_overview(x: np.ndarray, columns: int):
    frames = x.shape[0]
    columns = max(1, min(columns, frames))
    edges = (np.arange(columns + 1, dtype=np.int64) * frames) // columns
    mins = np.array([x[edges[c]:edges[c + 1]].min() for c in range(columns)], np.float32)
    maxs = np.array([x[edges[c]:edges[c + 1]].max() for c in range(columns)], np.float32)
    return mins, maxs


@pytest.mark.parametrize("channels,frames,columns,block", [
    (2, 10007, 97, 65536),    # one read
    (2, 10007, 97, 1000),     # columns across two reads
    (1, 10007, 97, 37),       # a column across many reads
    (2, 48000, 1200, 4096),   # the window's size
    (1, 50, 1200, 65536),     # fewer frames than columns: one column per frame
    (2, 1, 10, 65536),
])
def test_overview_is_the_min_and_max_per_column(tmp_path, channels, frames, columns, block):
    rng = np.random.default_rng(frames + columns + block)
    x = rng.uniform(-0.9, 0.9, (frames, channels)).astype(np.float32)
    # a few extremes placed at column edges, where an off-by-one would miss them
    if frames > 1000:
        x[frames // columns - 1, 0] = 0.99
        x[frames // columns, -1] = -0.99
        x[-1, 0] = 0.995
    path = tmp_path / "loop.wav"
    write_wav_float(str(path), x, 48000)
    mins, maxs = waveform.overview(str(path), columns, block=block)
    want_min, want_max = reference_overview(x, columns)
    assert mins.dtype == maxs.dtype == np.float32
    assert len(mins) == len(maxs) == min(columns, frames)
    np.testing.assert_array_equal(mins, want_min)
    np.testing.assert_array_equal(maxs, want_max)


def test_overview_of_a_file_that_cannot_be_read_raises_oserror(tmp_path):
    missing = tmp_path / "nope.wav"
    with pytest.raises(OSError) as e:
        waveform.overview(str(missing))
    assert str(missing) in str(e.value) and len(str(e.value)) > len("cannot read %s: " % missing)
    text = tmp_path / "x.wav"
    text.write_text("not audio\n" * 100)
    with pytest.raises(OSError) as e:
        waveform.overview(str(text))
    assert "x.wav" in str(e.value)


def test_overview_cache_makes_overviews_off_the_caller_and_keeps_errors(tmp_path):
    x = np.linspace(-0.5, 0.5, 4800, dtype=np.float32)
    path = tmp_path / "ramp.wav"
    write_wav_float(str(path), x, 48000)
    cache = waveform.OverviewCache(columns=48)
    assert cache.get(str(path), 1) is None          # started, not ready
    deadline = time.monotonic() + 10
    while cache.get(str(path), 1) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    mins, maxs = cache.get(str(path), 1)
    np.testing.assert_array_equal(mins, x[::100])
    np.testing.assert_array_equal(maxs, x[99::100])
    assert cache.error(str(path), 1) is None
    assert cache.get("", 1) is None                 # no path: nothing to read
    bad = str(tmp_path / "gone.wav")
    cache.get(bad, 2)
    while cache.error(bad, 2) is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "gone.wav" in cache.error(bad, 2)
    assert cache.get(bad, 2) is None


# --------------------------------------------------------------------------
# the meter scale
# --------------------------------------------------------------------------


def test_db_to_frac_is_monotonic_from_floor_to_top():
    widgets = qt("looprig.gui.widgets")
    f = widgets.db_to_frac
    grid = np.arange(-120.0, 20.0, 0.01)
    v = np.array([f(d) for d in grid])
    assert np.all(np.diff(v) >= 0)
    inside = (grid > FLOOR_DB) & (grid < widgets.TOP_DB)
    assert np.all(np.diff(v[inside]) > 0)
    assert f(FLOOR_DB) == 0.0 and f(-200.0) == 0.0 and f(float("-inf")) == 0.0
    assert f(widgets.TOP_DB) == pytest.approx(1.0) and f(40.0) == pytest.approx(1.0)
    knee = widgets.TOP_DB - 30.0  # the top 30 dB get 60 % of the scale
    assert f(knee) == pytest.approx(0.4)
    assert f(knee - 1e-9) == pytest.approx(0.4, abs=1e-9)
    assert f(0.0) == pytest.approx(0.4 + 0.6 * (0.0 - knee) / 30.0)


# --------------------------------------------------------------------------
# no Qt for scripts
# --------------------------------------------------------------------------


def test_import_looprig_loads_no_qt():
    code = ("import sys, looprig, looprig.cli, looprig.gui, looprig.gui.ballistics, looprig.gui.waveform\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PyQt6', 'PyQt5', 'PySide6', 'PySide2', 'pyqtgraph')))\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO / "pyclient") + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", r.stdout
    # and the Qt modules really are importable here (so the check above means something)
    r = subprocess.run([sys.executable, "-c", "import looprig.gui.app, sys; print('PyQt6' in sys.modules)"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "True", r.stderr


# --------------------------------------------------------------------------
# a window on an engine that is not running
# --------------------------------------------------------------------------


def test_a_window_on_an_engine_that_is_not_running(qtbot):
    app_mod = qt("looprig.gui.app")
    name = "lrgui-nosuch-%d" % os.getpid()
    win = app_mod.MainWindow(name)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(win.banner.isVisible, timeout=2000)
    assert win.windowTitle() == "looprig — %s (not running)" % name
    assert name in win.banner.text() and "not running" in win.banner.text()
    assert "not attached" in win.engine_label.text()
    assert win.link.rig is None
    assert not win.slot_panel.isEnabled() and not win.master.isEnabled()
    # it keeps running and retrying (every 0.5 s) without an exception; still not attached
    frames = win.frames
    qtbot.wait(1200)
    assert win.frames > frames + 10
    assert win.banner.isVisible() and win.link.rig is None
    assert win.link.gone_reason and name in win.banner.text()
    # actions without an engine say so instead of failing
    win.launcher.stop_all()
    win.launcher.launch_scene(0)
    win.link.call("unload", 0)
    win.new_session()
    assert any(lvl == "error" and "no engine" in t for lvl, t in win.messages), win.messages
    assert not any("Traceback" in t for _l, t in win.messages)
