"""The performer's window (``looprig gui``, pyclient/looprig/gui/) end to end:
the real PyQt6 window on a real X server (a private Xvfb started here), the
real engine under the module's private jackd, and what the engine did read
back from it (meters) and captured through JACK (sample by sample).

The window is driven the way a performer drives it: mouse clicks on cells and
buttons, keys, a fader moved, files dropped (pytest-qt's ``qtbot``). Nothing
is mocked: every check reads the engine or its audio, or the window's own
widgets.

Needs PyQt6, pyqtgraph, pytest-qt (Debian: python3-pyqt6, python3-pyqtgraph,
python3-pytestqt) and Xvfb; tools/install-deps.sh installs them. Without them
the tests fail (they do not skip). No DISPLAY is needed: the X server is
started here, and ``DISPLAY``/``QT_QPA_PLATFORM`` are set for this module only.
"""
from __future__ import annotations

import os
import re
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

import lrharness as H

SLOTS = 16
LOOP = 12000  # frames: 0.25 s at 48 kHz

try:
    from PyQt6 import QtCore, QtGui, QtTest, QtWidgets
    _QT_MISSING = ""
except ImportError as _e:  # pragma: no cover - reported by the fixtures below
    QtCore = QtGui = QtTest = QtWidgets = None  # type: ignore[assignment]
    _QT_MISSING = "PyQt6 is not installed (Debian: python3-pyqt6; tools/install-deps.sh): %s" % _e

try:
    import pytestqt  # noqa: F401
    _PYTESTQT_MISSING = ""
except ImportError as _e:  # pragma: no cover
    _PYTESTQT_MISSING = ("pytest-qt is not installed, the GUI tests need its qtbot "
                         "(Debian: python3-pytestqt; tools/install-deps.sh installs it): %s" % _e)

    @pytest.fixture
    def qtbot():
        pytest.fail(_PYTESTQT_MISSING, pytrace=False)


# --------------------------------------------------------------------------
# the X server and the Qt application (one per module)
# --------------------------------------------------------------------------


def _start_xvfb(timeout: float = 15.0):
    """Xvfb on a free display (it picks one and writes it to -displayfd)."""
    exe = shutil.which("Xvfb") or "/usr/bin/Xvfb"
    if not os.access(exe, os.X_OK):
        pytest.fail("Xvfb is not installed (Debian: xvfb; tools/install-deps.sh installs it)", pytrace=False)
    r, w = os.pipe()
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen([exe, "-displayfd", str(w), "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
                            pass_fds=(w,), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    os.close(w)
    buf = b""
    deadline = time.monotonic() + timeout
    try:
        while not buf.endswith(b"\n"):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([r], [], [], max(0.0, left))
            if not ready:
                break
            chunk = os.read(r, 64)
            if not chunk:
                break
            buf += chunk
    finally:
        os.close(r)
    if not buf.strip().isdigit():
        _stop_xvfb(proc)
        log.seek(0)
        pytest.fail("Xvfb did not report its display within %.0f s: %s" % (timeout, log.read()[-2000:]),
                    pytrace=False)
    return proc, ":" + buf.decode().strip(), log


def _stop_xvfb(proc) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


@pytest.fixture(scope="module")
def x_display(tmp_path_factory):
    """A private Xvfb; DISPLAY and QT_QPA_PLATFORM=xcb set for this module (restored after)."""
    if _QT_MISSING:
        pytest.fail(_QT_MISSING, pytrace=False)
    if _PYTESTQT_MISSING:
        pytest.fail(_PYTESTQT_MISSING, pytrace=False)
    proc, display, log = _start_xvfb()
    runtime = tmp_path_factory.mktemp("xdg-runtime")
    os.chmod(runtime, 0o700)
    saved = {k: os.environ.get(k) for k in ("DISPLAY", "QT_QPA_PLATFORM", "XDG_RUNTIME_DIR")}
    os.environ.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_RUNTIME_DIR=str(runtime))
    try:
        yield display
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _stop_xvfb(proc)
        log.close()


@pytest.fixture(scope="module")
def qapp(x_display, looprig_mod):
    """The QApplication on our X server (overrides pytest-qt's, which would be
    made before DISPLAY is set); destroyed before the X server goes, so no Qt
    code is left talking to a dead display."""
    from PyQt6 import sip

    from looprig.gui.app import make_app
    if QtWidgets.QApplication.instance() is not None:
        pytest.fail("a QApplication exists already (made before this module's X server)", pytrace=False)
    app = make_app(["looprig-gui-tests"])
    assert app.platformName() == "xcb", app.platformName()
    try:
        yield app
    finally:
        for w in app.topLevelWidgets():
            if isinstance(w, QtWidgets.QMainWindow):
                w.close()
                w.deleteLater()
        QtCore.QCoreApplication.sendPostedEvents(None, QtCore.QEvent.Type.DeferredDelete.value)
        app.processEvents()
        sip.delete(app)


# --------------------------------------------------------------------------
# engines, loops, windows
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def looprig_mod():
    return H.import_looprig()


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    """Short stereo noise loops (stereo: unity gain at pan 0), distinct seeds."""
    d = tmp_path_factory.mktemp("gui-loops")
    out = {}
    for i, name in enumerate(("kick", "bass", "keys", "pad", "vox", "perc")):
        x = H.noise(LOOP, seed=100 + i, amp=0.2, channels=2)
        out[name] = (H.write_wav_float(d / f"{name}.wav", x), x)
    return out


class Engines:
    """Engines under the module's jackd, one or more per test; a rig for each."""

    def __init__(self, server, looprig_mod):
        self.server = server
        self.looprig = looprig_mod
        self.made: list = []
        self.rigs: list = []

    def start(self, name=None, slots=SLOTS):
        e = H.Engine(self.server, slots=slots, name=name)
        e.killed = False
        e.start(timeout=20)
        self.made.append(e)
        return e

    def rig(self, e):
        r = self.looprig.attach(name=e.name)
        self.rigs.append(r)
        return r

    def close(self):
        for r in self.rigs:
            try:
                r.close()
            except Exception:  # noqa: BLE001 - a killed engine's rig
                pass
        problems = []
        # Newest first: an engine that replaced a killed one of the same name
        # goes before the killed one's stale segment is cleaned up.
        for e in reversed(self.made):
            try:
                e.stop(check=not e.killed)
            except AssertionError as err:
                problems.append(str(err))
        if problems:
            raise AssertionError("\n".join(problems))


@pytest.fixture
def engines(jack_server, looprig_mod):
    es = Engines(jack_server, looprig_mod)
    try:
        yield es
    finally:
        es.close()


def wait(qtbot, cond, timeout: float, what) -> None:
    """Process Qt events until ``cond()`` is true; fail with ``what`` (a text,
    or a function giving one, called then) after ``timeout`` s."""
    try:
        qtbot.waitUntil(lambda: bool(cond()), timeout=int(timeout * 1000))
    except Exception as e:  # pytest-qt's TimeoutError
        raise AssertionError("%s: not within %.1f s (%s)" % (what() if callable(what) else what, timeout, e)) from None


@pytest.fixture
def windows(qtbot, qapp):
    """``open(name)``: a shown MainWindow on engine ``name`` (closed by qtbot after the test)."""
    from looprig.gui.app import MainWindow
    made = []

    def open_window(name, size=(1280, 800), attached=True, slots=SLOTS):
        win = MainWindow(name)
        made.append(win)  # qtbot keeps only weak references
        qtbot.addWidget(win)
        win.resize(*size)
        win.show()
        qtbot.waitExposed(win)
        if attached:
            wait(qtbot, lambda: win.link.rig is not None and len(win.launcher.cells) == slots
                 and not win.banner.isVisible(), 10, "window attached to %s" % name)
        return win

    yield open_window
    made.clear()


def wait_until(qtbot, deadline: float) -> None:
    """Process events until ``time.monotonic()`` reaches ``deadline`` (never earlier)."""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        QtTest.QTest.qWait(max(1, min(10, int(left * 1000))))


def activate(qtbot, win) -> None:
    """No window manager on Xvfb: make the window active ourselves (keyboard shortcuts need it)."""
    win.raise_()
    win.activateWindow()
    wait(qtbot, win.isActiveWindow, 5, "window active")


def key(qtbot, win, k, mod=None) -> None:
    """A key as the performer types it: to the focused widget of the active window."""
    target = QtWidgets.QApplication.focusWidget() or win
    if mod is None:
        qtbot.keyClick(target, k)
    else:
        qtbot.keyClick(target, k, mod)


def load(rig, slot, loop) -> None:
    rig.load(slot, str(loop[0]))


def beat_at(m, frame: int) -> float:
    """The master beat at JACK frame ``frame`` (tempo constant since ``m``'s frame)."""
    return float(m.beat) + (int(frame) - int(m.frame_time)) * float(m.tempo_bpm) / 60.0 / H.RATE


def master_capture(jack_server, e):
    return H.Capture(jack_server, [e.port("out_L"), e.port("out_R")])


def no_tracebacks(win) -> None:
    """No message is a traceback or a bare Python exception (``KeyError: 3``)."""
    bad = [t for _lvl, t in win.messages if "Traceback" in t or re.match(r"\w+(Error|Exception): ", t)]
    assert not bad, bad


# --------------------------------------------------------------------------
# a) launching from a cell
# --------------------------------------------------------------------------


def test_clicking_a_cell_starts_and_stops_the_slot_on_the_bar(engines, windows, qtbot, jack_server, loops):
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 3, loops["kick"])
    rig.tempo(300)  # a bar (4 beats) = 0.8 s = 38400 frames; launch quantize: its default, one bar
    win = windows(e.name)
    cell = win.launcher.cells[3]
    wait(qtbot, lambda: cell.state == "loaded" and win.master.quantize.currentText() == "1 bar"
         and abs(float(win.master.m.tempo_bpm) - 300) < 1e-3, 3, "cell 3 loaded, quantize 1 bar, 300 BPM")
    assert cell.name == "kick.wav"
    cap = master_capture(jack_server, e)
    try:
        cap.arm(8)
        qtbot.mouseClick(cell, QtCore.Qt.MouseButton.LeftButton)
        wait(qtbot, lambda: int(rig.meters().state[3]) == 2, 3, "slot 3 playing after the click")
        m = rig.meters()
        start = int(m.start_frame[3])
        b = beat_at(m, start)
        assert abs(b / 4 - round(b / 4)) * 38400 <= 1, "start %d is not on a bar line (beat %.5f)" % (start, b)
        assert [int(s) for i, s in enumerate(m.state) if i != 3] == [0] * (SLOTS - 1)
        wait(qtbot, lambda: cell.state == "playing", 1, "cell shows playing")
        assert win.launcher.selected == 3 and win.slot_panel.slot == 3
        # let it play a few loop lengths, then stop it with a second click
        cap.wait_until(start + 3 * LOOP)
        qtbot.mouseClick(cell, QtCore.Qt.MouseButton.LeftButton)
        wait(qtbot, lambda: int(rig.meters().state[3]) == 1, 3, "slot 3 stopped after the second click")
        wait(qtbot, lambda: cell.state == "loaded", 1, "cell shows stopped")
        end_frame = cap.last_frame() + 4800
        rec = cap.take(until=end_frame)
    finally:
        cap.close()
    # The stop is on the first bar line after the last sound; the whole
    # recording is the loop from `start` to there, sample by sample.
    f, got, ok = rec.window(0, start, rec.t1)
    sounding = np.nonzero(ok & (got != 0))[0]
    assert len(sounding), "the slot's audio never reached the master"
    last = int(f[sounding[-1]]) + 1
    stop = start + -(-(last - start) // 38400) * 38400
    assert stop > start + 3 * LOOP, (start, stop)
    model = H.SlotModel(loops["kick"][1]).play(start).stop(stop)
    n = H.check_model(rec, [model], max(rec.t0, start - 4800), min(rec.t1, stop + 4800), what="clicked slot 3")
    assert n > 20000
    no_tracebacks(win)


# --------------------------------------------------------------------------
# b) the selected slot's fader
# --------------------------------------------------------------------------


def test_the_gain_fader_sets_the_selected_slots_gain(engines, windows, qtbot, loops):
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 2, loops["bass"])
    load(rig, 5, loops["keys"])
    win = windows(e.name)
    activate(qtbot, win)
    win.launcher.select(2)
    assert win.slot_panel.slot == 2
    fader = win.slot_panel.fader
    slider = fader.slider
    wait(qtbot, lambda: slider.value() == 0, 2, "fader at 0 dB")

    def gains():
        return [round(float(g), 3) for g in rig.meters().gain_db]

    # keyboard: one page down is 3 dB
    slider.setFocus()
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_PageDown)
    wait(qtbot, lambda: gains()[2] == -3.0, 2, lambda: "gain -3 dB after PageDown (engine has %s)" % gains()[2])
    # two pages down in quick succession (faster than the engine answers): -9 dB
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_PageDown)
    qtbot.wait(20)
    qtbot.keyClick(slider, QtCore.Qt.Key.Key_PageDown)
    wait(qtbot, lambda: gains()[2] == -9.0, 2,
         lambda: "gain -9 dB after two more PageDowns (engine: %s, slider %s)" % (gains()[2], slider.value()))
    qtbot.wait(200)
    assert gains()[2] == -9.0 and slider.value() == -90 and fader.value_label.text() == "-9.0 dB"

    # a drag: pressed, moved through many values, released
    slider.setSliderDown(True)
    for v in range(-90, -181, -10):
        slider.setValue(v)
        qtbot.wait(5)
    qtbot.wait(100)
    slider.setSliderDown(False)
    wait(qtbot, lambda: gains()[2] == -18.0, 2, "gain -18 dB after the drag")
    qtbot.wait(200)
    assert slider.value() == -180
    # the bottom step is off
    slider.setValue(slider.minimum())
    wait(qtbot, lambda: gains()[2] <= -120, 2, "gain off at the fader's bottom")
    g = gains()
    assert g[5] == 0.0 and all(x == 0.0 for i, x in enumerate(g) if i != 2), g

    # the fader follows the engine (a change made elsewhere)
    rig.gain(2, 4.5)
    wait(qtbot, lambda: slider.value() == 45 and fader.value_label.text() == "+4.5 dB", 2,
         "fader follows the engine's gain")
    assert gains()[2] == 4.5  # showing it sent nothing back
    no_tracebacks(win)


# --------------------------------------------------------------------------
# c), d) files dropped on cells
# --------------------------------------------------------------------------


def drop(qtbot, cell, path) -> tuple:
    """Drag ``path`` over ``cell`` and drop it (the events a file manager's drag sends)."""
    mime = QtCore.QMimeData()
    mime.setUrls([QtCore.QUrl.fromLocalFile(str(path))])
    pos = QtCore.QPoint(cell.width() // 2, cell.height() // 2)
    enter = QtGui.QDragEnterEvent(pos, QtCore.Qt.DropAction.CopyAction, mime, QtCore.Qt.MouseButton.LeftButton,
                                  QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(cell, enter)
    ev = QtGui.QDropEvent(QtCore.QPointF(pos), QtCore.Qt.DropAction.CopyAction, mime,
                          QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(cell, ev)
    return enter.isAccepted(), ev.isAccepted()


def test_a_file_dropped_on_a_cell_loads_into_its_slot(engines, windows, qtbot, loops):
    e = engines.start()
    rig = engines.rig(e)
    win = windows(e.name)
    cell = win.launcher.cells[5]
    assert cell.state == "empty"
    path, x = loops["vox"]
    assert drop(qtbot, cell, path) == (True, True)
    wait(qtbot, lambda: int(rig.meters().state[5]) == 1, 5, "slot 5 loaded")
    m = rig.meters()
    assert m.names[5] == "vox.wav" and m.paths[5] == str(path) and int(m.length[5]) == LOOP
    assert [int(s) for i, s in enumerate(m.state) if i != 5] == [0] * (SLOTS - 1)
    wait(qtbot, lambda: cell.state == "loaded" and cell.name == "vox.wav", 1, "cell 5 shows vox.wav")
    assert any(lvl == "info" and "load 5: vox.wav" in t for lvl, t in win.messages), win.messages
    # selected, its waveform overview shows the file: per-column extremes of both channels
    win.launcher.select(5)
    wave = win.slot_panel.wave
    wait(qtbot, lambda: wave.data is not None, 5, lambda: "waveform overview of slot 5 (note %r)" % wave.note)
    lo, up = wave.data
    assert float(np.max(up)) == pytest.approx(float(x.max()), abs=1e-6)
    assert float(np.min(lo)) == pytest.approx(float(x.min()), abs=1e-6)
    assert win.slot_panel.title() == "Slot 5 — vox.wav"
    # a drag that carries no file is not accepted and changes nothing
    mime = QtCore.QMimeData()
    mime.setText("just text")
    enter = QtGui.QDragEnterEvent(QtCore.QPoint(5, 5), QtCore.Qt.DropAction.CopyAction, mime,
                                  QtCore.Qt.MouseButton.LeftButton, QtCore.Qt.KeyboardModifier.NoModifier)
    QtWidgets.QApplication.sendEvent(win.launcher.cells[6], enter)
    assert not enter.isAccepted()
    no_tracebacks(win)


def test_a_bad_file_dropped_shows_the_engines_error_and_changes_nothing(engines, windows, qtbot, loops,
                                                                          tmp_path, looprig_mod):
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 6, loops["pad"])
    bad = tmp_path / "x.wav"
    bad.write_text("This is a text file, not audio.\n" * 40)
    # what the engine says about it (asked directly, into an empty slot)
    with pytest.raises(looprig_mod.CommandRejected) as refused:
        rig.load(9, str(bad))
    engine_says = refused.value.message
    assert engine_says
    before = rig.meters()
    win = windows(e.name)
    wait(qtbot, lambda: win.launcher.cells[6].state == "loaded", 2, "cell 6 loaded")
    for slot in (6, 7):
        assert drop(qtbot, win.launcher.cells[slot], bad) == (True, True)
    wait(qtbot, lambda: sum(1 for lvl, t in win.messages if lvl == "error" and engine_says in t) >= 2, 5,
         lambda: "the engine's error %r shown for both drops (messages: %s)" % (engine_says, win.messages))
    # in the visible list too, newest first
    assert engine_says in win.message_list.item(0).text()
    assert engine_says in win.status.currentMessage()
    qtbot.wait(200)
    after = rig.meters()
    for s in (6, 7, 9):
        assert int(after.state[s]) == int(before.state[s]), s
        assert after.names[s] == before.names[s] and int(after.load_count[s]) == int(before.load_count[s]), s
    assert after.names[6] == "pad.wav"
    assert win.launcher.cells[6].state == "loaded" and win.launcher.cells[6].name == "pad.wav"
    assert win.launcher.cells[7].state == "empty" and win.launcher.cells[7].name == ""
    no_tracebacks(win)


def test_midi_learn_from_a_cells_menu_binds_the_next_pad(engines, windows, qtbot, jack_server, loops):
    """Right-click a cell, MIDI learn, Launch / stop; a pad pressed on a
    controller (a JACK MIDI client here) is bound, the window says so, and the
    pad then launches the slot."""
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 5, loops["keys"])
    win = windows(e.name)
    pad = H.MidiPad(jack_server, e)
    try:
        wait(qtbot, lambda: win.launcher.cells[5].state == "loaded", 3, "cell 5 loaded")
        cell = win.launcher.cells[5]
        qtbot.mouseClick(cell, QtCore.Qt.MouseButton.RightButton)
        menu = QtWidgets.QApplication.activePopupWidget()
        wait(qtbot, lambda: QtWidgets.QApplication.activePopupWidget() is not None, 3, "the cell's menu")
        menu = QtWidgets.QApplication.activePopupWidget()
        learn = next(a for a in menu.actions() if a.text() == "MIDI learn").menu()
        next(a for a in learn.actions() if a.text().startswith("Launch / stop")).trigger()
        menu.close()
        assert "press a pad" in win.status.currentMessage()
        qtbot.wait(200)
        pad.send_at(pad.now() + 1000, bytes([0x90, 81, 100]))
        wait(qtbot, lambda: any("learned: note 81 ch 1 -> toggle 5" in t for _l, t in win.messages), 5,
             lambda: "the window says what was learned (messages: %s)" % win.messages)
        assert int(rig.meters().state[5]) == 1, "the learning press itself launched nothing"
        pad.send_at(pad.now() + 1000, bytes([0x90, 81, 100]))
        wait(qtbot, lambda: win.launcher.cells[5].state in ("queued", "playing"), 5, "the pad launches slot 5")
        no_tracebacks(win)
    finally:
        pad.close()


# --------------------------------------------------------------------------
# e) the engine killed and started again
# --------------------------------------------------------------------------


def test_the_window_survives_a_killed_engine_and_reattaches_to_a_new_one(engines, windows, qtbot, loops):
    a = engines.start()
    rig_a = engines.rig(a)
    load(rig_a, 1, loops["kick"])
    rig_a.play(1)
    win = windows(a.name)
    wait(qtbot, lambda: win.launcher.cells[1].state == "playing", 2, "cell 1 playing")
    assert win.windowTitle() == "looprig — %s" % a.name

    os.kill(a.proc.pid, signal.SIGKILL)
    a.proc.wait(5)
    a.killed = True
    t0 = time.monotonic()
    wait(qtbot, win.banner.isVisible, 1.5, "banner after SIGKILL")
    seen = time.monotonic() - t0
    assert a.name in win.banner.text() and "not running" in win.banner.text()
    assert win.windowTitle() == "looprig — %s (not running)" % a.name
    assert all(c.state == "empty" for c in win.launcher.cells)
    assert not win.slot_panel.isEnabled() and not win.master.isEnabled()
    # it keeps drawing and answering: frames go on, a timer fires, clicks do no harm
    frames = win.frames
    fired = []
    QtCore.QTimer.singleShot(50, lambda: fired.append(1))
    qtbot.mouseClick(win.launcher.cells[1], QtCore.Qt.MouseButton.LeftButton)
    key(qtbot, win, QtCore.Qt.Key.Key_Escape)
    qtbot.wait(400)
    assert fired == [1]
    assert win.frames - frames >= 8, "only %d frames in 0.4 s without an engine" % (win.frames - frames)
    assert win.link.rig is None and win.banner.isVisible()

    # a new engine of the same name (over the killed one's stale segment)
    b = engines.start(name=a.name)
    rig_b = engines.rig(b)
    load(rig_b, 4, loops["perc"])
    t1 = time.monotonic()
    wait(qtbot, lambda: not win.banner.isVisible() and win.link.rig is not None, 5, "re-attached")
    wait(qtbot, lambda: win.launcher.cells[4].state == "loaded" and win.launcher.cells[4].name == "perc.wav", 2,
         "cells show the new engine")
    assert win.windowTitle() == "looprig — %s" % a.name
    assert win.launcher.cells[1].state == "empty"
    assert win.link.rig.engine_pid == b.proc.pid
    assert win.slot_panel.isEnabled() and win.master.isEnabled()
    # and it drives the new engine
    rig_b.launch_quantize("none")
    wait(qtbot, lambda: win.master.quantize.currentText() == "none", 2, "quantize none shown")
    qtbot.mouseClick(win.launcher.cells[4], QtCore.Qt.MouseButton.LeftButton)
    wait(qtbot, lambda: int(rig_b.meters().state[4]) == 2, 2, "slot 4 of the new engine playing")
    print("banner %.2f s after SIGKILL, re-attached %.2f s after the new engine" % (seen, time.monotonic() - t1))
    no_tracebacks(win)


# --------------------------------------------------------------------------
# f) two windows on one engine
# --------------------------------------------------------------------------


def test_two_windows_on_one_engine_stay_in_step(engines, windows, qtbot, loops):
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 0, loops["kick"])
    load(rig, 1, loops["bass"])
    rig.launch_quantize("none")
    w1 = windows(e.name)
    w2 = windows(e.name)
    for w in (w1, w2):
        wait(qtbot, lambda w=w: w.master.quantize.currentText() == "none" and w.launcher.cells[1].state == "loaded",
             2, "both windows see the engine")

    def frames_until(win, cond, what, limit=15, timeout=3):
        f0 = win.frames
        wait(qtbot, cond, timeout, what)
        n = win.frames - f0
        assert n <= limit, "%s took %d frames of the other window" % (what, n)
        return n

    def select(win, slot, muted):
        """Select ``slot`` and wait until the slot panel shows it (a frame later)."""
        win.launcher.select(slot)
        wait(qtbot, lambda: win.slot_panel.title().startswith("Slot %d " % slot)
             and win.slot_panel.mute.isChecked() == muted, 1, "slot %d shown" % slot)

    # mute in window 1 (its button) -> window 2's cell and its own mute button
    select(w2, 0, False)
    select(w1, 0, False)
    qtbot.mouseClick(w1.slot_panel.mute, QtCore.Qt.MouseButton.LeftButton)
    frames_until(w2, lambda: "M" in w2.launcher.cells[0].flags and w2.slot_panel.mute.isChecked(), "mute in w2")
    assert int(rig.meters().flags[0]) & 1
    # slot 1 started in window 2 -> playing in window 1
    qtbot.mouseClick(w2.launcher.cells[1], QtCore.Qt.MouseButton.LeftButton)
    frames_until(w1, lambda: w1.launcher.cells[1].state == "playing", "slot 1 playing in w1")
    assert int(rig.meters().state[1]) == 2
    # the gain fader of window 1 -> window 2's fader (same slot selected)
    select(w1, 1, False)
    select(w2, 1, False)
    w1.slot_panel.fader.slider.setValue(-65)
    frames_until(w2, lambda: w2.slot_panel.fader.slider.value() == -65, "gain -6.5 in w2")
    assert round(float(rig.meters().gain_db[1]), 3) == -6.5
    # stopped in window 1 -> stopped in window 2
    qtbot.mouseClick(w1.launcher.cells[1], QtCore.Qt.MouseButton.LeftButton)
    frames_until(w2, lambda: w2.launcher.cells[1].state == "loaded", "slot 1 stopped in w2")
    # unmuted in window 2 -> window 1
    select(w2, 0, True)
    select(w1, 0, True)
    qtbot.mouseClick(w2.slot_panel.mute, QtCore.Qt.MouseButton.LeftButton)
    frames_until(w1, lambda: "M" not in w1.launcher.cells[0].flags and not w1.slot_panel.mute.isChecked(),
                 "unmute in w1")
    no_tracebacks(w1)
    no_tracebacks(w2)


# --------------------------------------------------------------------------
# g) looprig gui --screenshot, the window title
# --------------------------------------------------------------------------


def png_size(path: Path) -> tuple:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


def test_screenshot_option_writes_a_png_and_the_title_names_the_engine(engines, windows, qtbot, loops,
                                                                         tmp_path, x_display):
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 0, loops["kick"])
    load(rig, 9, loops["pad"])
    rig.play(0)
    env = dict(e.server.env)
    env["PYTHONPATH"] = str(H.pyclient_path()) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    runs = {"default": [], "sized": ["--size", "1280x800", "--select", "9"]}
    procs = {}
    for what, extra in runs.items():
        shot = tmp_path / ("%s.png" % what)
        procs[what] = (shot, subprocess.Popen(
            [*H.cli_command(), "--name", e.name, "gui", "--screenshot", str(shot), "--after", "1", *extra],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=str(tmp_path)))
    # meanwhile, in this process: the title names the engine
    win = windows(e.name)
    assert win.windowTitle() == "looprig — %s" % e.name
    assert e.name in win.engine_label.text()
    results = {}
    for what, (shot, p) in procs.items():
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        results[what] = (shot, p.returncode, out, err)
    for what, (shot, rc, out, err) in results.items():
        assert rc == 0, (what, rc, out, err)
        assert "Traceback" not in err, err
        assert shot.is_file(), (what, out, err)
        assert "wrote %s" % shot in out, out
    assert png_size(results["default"][0]) == (1440, 900)
    assert png_size(results["sized"][0]) == (1280, 800)
    # the pictures show the window (not a blank or black image): many colours,
    # and the playing cell's green where cell 0 is
    img = QtGui.QImage(str(results["default"][0]))
    assert (img.width(), img.height()) == (1440, 900)
    colours = {img.pixel(x, y) for x in range(0, 1440, 37) for y in range(0, 900, 29)}
    assert len(colours) > 12, len(colours)


# --------------------------------------------------------------------------
# h) scenes
# --------------------------------------------------------------------------


def test_a_scene_starts_its_row_on_one_frame_and_stops_its_columns_elsewhere(engines, windows, qtbot,
                                                                             jack_server, loops):
    e = engines.start()
    rig = engines.rig(e)
    row0 = {0: "kick", 1: "bass", 3: "keys"}
    row1 = {8: "pad", 13: "vox"}  # 8: column 0 (stopped by scene 1), 13: column 5 (row 0 has nothing there)
    for s, n in {**row0, **row1}.items():
        load(rig, s, loops[n])
    rig.tempo(240)
    rig.launch_quantize("beat")  # 0.25 s
    rig.play(8)
    rig.play(13)
    m = rig.meters()
    s8, s13 = int(m.start_frame[8]), int(m.start_frame[13])
    win = windows(e.name)
    wait(qtbot, lambda: win.launcher.cells[8].state == "playing" and win.launcher.cells[13].state == "playing"
         and win.master.quantize.currentText() == "1 beat", 2, "cells 8 and 13 playing, quantize 1 beat")
    cap = master_capture(jack_server, e)
    try:
        cap.arm(6)
        qtbot.mouseClick(win.launcher.scene_buttons[0], QtCore.Qt.MouseButton.LeftButton)
        wait(qtbot, lambda: all(int(rig.meters().state[s]) == 2 for s in row0) and int(rig.meters().state[8]) == 1,
             3, "scene 1: row 0 playing, slot 8 stopped")
        m = rig.meters()
        starts = {s: int(m.start_frame[s]) for s in row0}
        start = starts[0]
        assert set(starts.values()) == {start}, starts
        b = beat_at(m, start)
        assert abs(b - round(b)) * 12000 <= 1, "scene start %d is not on a beat (%.5f)" % (start, b)
        assert int(m.state[13]) == 2 and int(m.start_frame[13]) == s13, "slot 13 (another column) kept playing"
        rec = cap.take(until=start + 3 * LOOP)
    finally:
        cap.close()
    models = [H.SlotModel(loops["pad"][1]).play(s8).stop(start), H.SlotModel(loops["vox"][1]).play(s13)]
    models += [H.SlotModel(loops[n][1]).play(start) for n in row0.values()]
    lo = max(rec.t0, start - 2 * LOOP)
    H.check_model(rec, models, lo, start + 3 * LOOP, what="scene 1")
    wait(qtbot, lambda: all(win.launcher.cells[s].state == "playing" for s in (*row0, 13))
         and win.launcher.cells[8].state == "loaded", 1, "cells show scene 1")

    # scene 2 by its key (Ctrl+2): slot 8 plays again, column 0's slot 0 stops, columns 1 and 3 play on
    activate(qtbot, win)
    key(qtbot, win, QtCore.Qt.Key.Key_2, QtCore.Qt.KeyboardModifier.ControlModifier)
    wait(qtbot, lambda: int(rig.meters().state[8]) == 2 and int(rig.meters().state[0]) == 1, 3, "scene 2 launched")
    m = rig.meters()
    assert int(m.state[1]) == 2 and int(m.state[3]) == 2 and int(m.start_frame[1]) == start
    assert int(m.state[13]) == 2
    assert int(m.start_frame[8]) == int(m.start_frame[13])  # 13 is in row 1: relaunched with it
    no_tracebacks(win)


# --------------------------------------------------------------------------
# i) keyboard
# --------------------------------------------------------------------------


def test_keys_space_launches_escape_stops_all_t_taps_the_tempo(engines, windows, qtbot, loops):
    e = engines.start()
    rig = engines.rig(e)
    load(rig, 0, loops["kick"])
    load(rig, 9, loops["bass"])
    rig.launch_quantize("none")
    rig.tempo(90)
    win = windows(e.name)
    wait(qtbot, lambda: win.master.quantize.currentText() == "none" and abs(win.master.tempo.value() - 90) < 1e-6,
         2, "quantize none and 90 BPM shown")
    activate(qtbot, win)
    # arrows select (down a row, right a column): slot 9
    key(qtbot, win, QtCore.Qt.Key.Key_Down)
    key(qtbot, win, QtCore.Qt.Key.Key_Right)
    assert win.launcher.selected == 9 and win.slot_panel.slot == 9
    assert win.launcher.cells[9].is_selected and not win.launcher.cells[0].is_selected
    key(qtbot, win, QtCore.Qt.Key.Key_Space)
    wait(qtbot, lambda: int(rig.meters().state[9]) == 2, 2, "Space launched slot 9")
    assert int(rig.meters().state[0]) == 1
    # 1 launches column 1 of the selected row: slot 8 is empty, nothing happens; Up, 1: slot 0
    key(qtbot, win, QtCore.Qt.Key.Key_1)
    key(qtbot, win, QtCore.Qt.Key.Key_Up)
    key(qtbot, win, QtCore.Qt.Key.Key_1)
    wait(qtbot, lambda: int(rig.meters().state[0]) == 2, 2, "1 launched slot 0")
    assert int(rig.meters().state[8]) == 0
    wait(qtbot, lambda: win.launcher.cells[0].state == "playing" and win.launcher.cells[9].state == "playing", 1,
         "cells 0 and 9 playing")
    key(qtbot, win, QtCore.Qt.Key.Key_Escape)
    wait(qtbot, lambda: int(rig.meters().state[0]) == 1 and int(rig.meters().state[9]) == 1, 2, "Esc stopped all")
    # tap tempo: four taps half a second apart (timed here: qtbot.wait's coarse timer may end 5 % early)
    t_next = time.monotonic()
    for i in range(4):
        wait_until(qtbot, t_next)
        key(qtbot, win, QtCore.Qt.Key.Key_T)
        t_next = time.monotonic() + 0.5
    wait(qtbot, lambda: abs(float(rig.meters().tempo_bpm) - 117) < 7, 2,
         lambda: "tempo ~120 BPM after 4 taps (engine at %.2f)" % float(rig.meters().tempo_bpm))
    bpm = float(rig.meters().tempo_bpm)
    # 0.5 s or a little more between taps on a loaded machine: 120 BPM or a little less
    assert 110.0 <= bpm <= 120.01, (bpm, win.messages)
    wait(qtbot, lambda: abs(win.master.tempo.value() - round(bpm, 2)) < 1e-6, 1, "tempo shown")
    assert any("tap tempo" in t for _l, t in win.messages), win.messages
    no_tracebacks(win)
