"""The main window: header (engine, session), launcher, selected slot, master section.

``run_gui(name, ...)`` is ``looprig gui``. The window attaches to the engine
``name`` (and waits for it, and re-attaches after it went away), redraws at
the display's rate from one meter snapshot per frame, and sends every action
without waiting for its answer; answers and errors show in the message line
and the message list.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any, List, Optional

from PyQt6 import QtCore, QtGui, QtWidgets

from . import theme
from .link import RigLink
from .panels import COLUMNS, QUANTIZE_LABELS, Launcher, MasterPanel, SlotPanel, launch_quantize

FPS = 60
AUDIO_FILTER = "Audio files (*.wav *.flac *.ogg *.aif *.aiff *.w64 *.caf *.mp3 *.opus);;All files (*)"

SHORTCUTS = [
    ("Launch", [
        ("Space / Enter", "launch or stop the selected slot (on the launch quantize)"),
        ("1 … 8", "launch or stop slot 1 … 8 of the selected row"),
        ("Ctrl+1 … Ctrl+8", "launch scene (row) 1 … 8"),
        ("Ctrl+Enter", "launch the selected slot's scene"),
        ("Esc", "stop all"),
        ("Q", "next launch quantize (none, beat, bar, 2, 4, 8 bars)"),
    ]),
    ("Select and edit", [
        ("Arrow keys", "select a slot"),
        ("M / S", "mute / solo the selected slot"),
        ("L", "load a file into the selected slot"),
        ("Delete", "unload the selected slot"),
    ]),
    ("Tempo", [
        ("T", "tap tempo"),
        ("+ / −", "tempo +1 / −1 BPM (with Shift: ±0.1)"),
    ]),
    ("Session", [
        ("Ctrl+N", "new (stop and empty every slot, settings to defaults)"),
        ("Ctrl+O", "open a session"),
        ("Ctrl+S", "save the session"),
        ("Ctrl+Shift+S", "save as"),
    ]),
    ("Window", [
        ("F1 or ?", "this sheet"),
        ("Ctrl+Q", "quit (the engine keeps running)"),
    ]),
]


def shortcuts_html() -> str:
    rows = []
    for section, keys in SHORTCUTS:
        rows.append("<tr><td colspan=2 style='padding-top:8px;color:%s'><b>%s</b></td></tr>" % (theme.DIM, section))
        for key, what in keys:
            rows.append("<tr><td style='padding-right:18px'><b>%s</b></td><td>%s</td></tr>" % (key, what))
    return "<table>%s</table>" % "".join(rows)


class MainWindow(QtWidgets.QMainWindow):
    """looprig's window on the engine ``name``."""

    def __init__(self, name: str, link: Optional[RigLink] = None) -> None:
        super().__init__()
        self.name = name
        self.link = link or RigLink(name, parent=self)
        self.setWindowTitle("looprig — %s" % name)
        self.setAcceptDrops(False)
        self.frames = 0
        self.frame_cost = 0.0
        self.frame_max = 0.0  # the slowest frame() since LOOPRIG_GUI_STATS last wrote (gui/stats.py)
        self.force_save_as = False
        self.messages: List[tuple] = []

        # header
        self.engine_label = QtWidgets.QLabel("")
        self.engine_label.setStyleSheet("font-weight: bold;")
        self.session_label = QtWidgets.QLabel("")
        self.session_label.setStyleSheet("color: %s;" % theme.DIM)
        header = QtWidgets.QHBoxLayout()
        header.addWidget(self.engine_label)
        header.addSpacing(16)
        header.addWidget(self.session_label)
        header.addStretch(1)
        self.session_buttons = []
        for text, slot, tip in (("New", self.new_session, "Ctrl+N"), ("Open…", self.open_session, "Ctrl+O"),
                                ("Save", self.save_session, "Ctrl+S"), ("Save as…", self.save_session_as, "Ctrl+Shift+S"),
                                ("Keys", self.show_shortcuts, "F1")):
            b = QtWidgets.QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            b.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
            header.addWidget(b)
            self.session_buttons.append(b)
        self.play_on_open = QtWidgets.QCheckBox("play on open")
        self.play_on_open.setToolTip("open a session with its playing slots started together")
        self.play_on_open.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        header.insertWidget(header.count() - 3, self.play_on_open)

        self.banner = QtWidgets.QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #5a1f22; color: #ffffff; font-size: 16px; font-weight: bold; "
                                  "padding: 8px; border-radius: 4px;")
        self.banner.setVisible(False)

        self.launcher = Launcher(self.link)
        self.slot_panel = SlotPanel(self.link)
        self.master = MasterPanel(self.link)
        self.launcher.slot_selected.connect(self.slot_panel.select)
        self.launcher.load_requested.connect(self.load_dialog)
        self.launcher.menu_requested.connect(self.slot_menu)
        self.master.stop_all.connect(self.launcher.stop_all)

        self.message_list = QtWidgets.QListWidget()
        self.message_list.setFixedHeight(72)
        self.message_list.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.message_list.setToolTip("answers and errors from the engine, newest first")

        left = QtWidgets.QVBoxLayout()
        left.addWidget(self.launcher, 5)
        left.addWidget(self.slot_panel, 4)
        left.addWidget(self.message_list)
        body = QtWidgets.QHBoxLayout()
        body.addLayout(left, 1)
        body.addWidget(self.master)
        root = QtWidgets.QWidget()
        outer = QtWidgets.QVBoxLayout(root)
        outer.setContentsMargins(8, 6, 8, 4)
        outer.addLayout(header)
        outer.addWidget(self.banner)
        outer.addLayout(body, 1)
        self.setCentralWidget(root)
        self.status = self.statusBar()

        self.link.attached.connect(self.on_attached)
        self.link.detached.connect(self.on_detached)
        self.link.detaching.connect(self.forget_view)
        self.link.message.connect(self.show_message)
        self._shortcuts()

        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.frame)
        self.timer.start(int(1000 / FPS))
        self.sheet: Optional[QtWidgets.QDialog] = None
        self.set_live(False)
        self.frame()

    # -- per display frame ---------------------------------------------------------------
    def frame(self) -> None:
        t0 = time.perf_counter()
        now = time.monotonic()
        m = self.link.frame()
        if m is None:
            if not self.banner.isVisible() or self.frames % 30 == 0:
                self.show_gone(self.link.gone_reason)
        else:
            if len(self.launcher.cells) != len(m.state):
                self.launcher.build(len(m.state))
            self.launcher.show_meters(m, now)
            self.slot_panel.show_meters(m, now)
            self.master.show_meters(m, now)
            if self.frames % 15 == 0:
                self.show_engine()
        self.frames += 1
        dt = time.perf_counter() - t0
        self.frame_cost += dt
        self.frame_max = max(self.frame_max, dt)

    def show_engine(self) -> None:
        rig = self.link.rig
        if rig is None:
            return
        try:
            info = rig.engine_info()
        except Exception:  # noqa: BLE001 - shown on the next frame as gone
            return
        self.engine_label.setText("● %s — %s · %d Hz · %d frames · %d slots" % (
            self.name, info.get("state", "?"), info.get("sample_rate", 0), info.get("buffer_size", 0),
            info.get("slot_count", 0)))
        age = info.get("heartbeat_age")
        stalled = age is not None and age > 0.5
        if stalled:
            self.engine_label.setText("● %s — no audio period for %.1f s (stopped, stuck, or JACK stalled)"
                                      % (self.name, age))
        self.engine_label.setStyleSheet("font-weight: bold; color: %s;" % (theme.QUEUED_STOP if stalled
                                                                           else theme.PLAYING))
        sess = info.get("session") or {}
        state = sess.get("state", "none")
        self.session_label.setText({"none": "session: none (not saved or opened yet)",
                                    "clean": "session: saved",
                                    "dirty": "session: changed since saved"}.get(state, "session: %s" % state)
                                   + (" · %d saves" % sess.get("saves", 0) if sess.get("saves") else ""))

    def show_gone(self, reason: str) -> None:
        self.banner.setText("Engine “%s” is not running — %s. Waiting for it; the window re-attaches by itself."
                            % (self.name, reason or "not attached"))
        self.banner.setVisible(True)
        self.engine_label.setText("○ %s — not attached" % self.name)
        self.engine_label.setStyleSheet("font-weight: bold; color: %s;" % theme.ERROR)
        self.setWindowTitle("looprig — %s (not running)" % self.name)

    def set_live(self, live: bool) -> None:
        """Controls work only while an engine is attached (the launcher stays readable)."""
        for w in (self.slot_panel, self.master):
            w.setEnabled(live)
        for b in self.session_buttons[:4]:
            b.setEnabled(live)

    def on_attached(self, rig: Any) -> None:
        self.set_live(True)
        self.banner.setVisible(False)
        self.setWindowTitle("looprig — %s" % self.name)
        self.show_message("info", "attached to engine %r (pid %d)" % (self.name, rig.engine_pid))
        self.show_engine()

    def forget_view(self) -> None:
        """Drop every reference to the live meter view: the segment is about to be unmapped."""
        self.launcher.m = None
        self.master.m = None

    def on_detached(self, reason: str) -> None:
        self.set_live(False)
        self.show_gone(reason)
        self.show_message("error", reason)
        for cell in self.launcher.cells:
            cell.set_view("empty", "", 0.0, "", "", 0.0, False)

    def show_message(self, level: str, text: str) -> None:
        text = " ".join(str(text).split())
        stamp = time.strftime("%H:%M:%S")
        self.messages.append((level, text))
        item = QtWidgets.QListWidgetItem("%s  %s" % (stamp, text))
        item.setForeground(theme.colour(theme.ERROR if level == "error" else theme.INFO))
        self.message_list.insertItem(0, item)
        while self.message_list.count() > 200:
            self.message_list.takeItem(self.message_list.count() - 1)
        self.status.showMessage(text, 8000)
        self.status.setStyleSheet("color: %s;" % (theme.ERROR if level == "error" else theme.DIM))

    # -- slots -------------------------------------------------------------------------------
    def load_dialog(self, slot: int) -> None:
        dlg = QtWidgets.QFileDialog(self, "Load a loop into slot %d" % slot, os.getcwd(), AUDIO_FILTER)
        dlg.setFileMode(QtWidgets.QFileDialog.FileMode.ExistingFile)
        dlg.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog, True)
        dlg.fileSelected.connect(lambda path: self.launcher.load_file(slot, path))
        dlg.open()  # not modal to the audio: the window keeps drawing

    def slot_menu(self, slot: int, where: QtCore.QPoint) -> None:
        menu = QtWidgets.QMenu(self)
        menu.addAction("Load file…", lambda: self.load_dialog(slot))
        if self.link.meters is not None and int(self.link.meters.state[slot]) != 0:
            menu.addAction("Launch / stop", lambda: self.launcher.toggle(slot))
            menu.addAction("Unload", lambda: self.link.call("unload", slot, describe="unload %d: {msg}" % slot))
        learn = menu.addMenu("MIDI learn")
        for label, target in (("Launch / stop (pad)", "toggle %d"), ("Mute", "mute %d"), ("Solo", "solo %d"),
                              ("Gain (fader)", "gain %d -60 6"), ("Pan (knob)", "pan %d")):
            learn.addAction(label, lambda t=target % slot: self.midi_learn(t))
        menu.popup(where)

    def midi_learn(self, target: str) -> None:
        """Bind the next note/CC on midi_in to ``target`` (docs/MIDI.md); the answer comes when one does."""
        self.show_message("info", "MIDI learn '%s': press a pad or move a control on the controller" % target)
        self.link.call("midi_learn", target, describe="{msg}")

    def selected_row(self) -> int:
        return self.launcher.selected // COLUMNS

    # -- sessions ------------------------------------------------------------------------------
    def _dir_dialog(self, title: str, then: Any) -> None:
        dlg = QtWidgets.QFileDialog(self, title, os.getcwd())
        dlg.setFileMode(QtWidgets.QFileDialog.FileMode.Directory)
        dlg.setOption(QtWidgets.QFileDialog.Option.ShowDirsOnly, True)
        dlg.setOption(QtWidgets.QFileDialog.Option.DontUseNativeDialog, True)
        dlg.fileSelected.connect(then)
        dlg.open()

    def open_session(self) -> None:
        self._dir_dialog("Open a session folder", self.open_path)

    def open_path(self, path: str) -> None:
        self.link.call("open", path, play=self.play_on_open.isChecked(), describe="{msg}",
                       done=lambda _a: setattr(self, "force_save_as", False))

    def save_session(self) -> None:
        info = {}
        try:
            info = self.link.rig.engine_info() if self.link.rig else {}
        except Exception:  # noqa: BLE001
            pass
        if self.force_save_as or (info.get("session") or {}).get("state", "none") == "none":
            self.save_session_as()
        else:
            self.link.call("save", None, describe="{msg}")

    def save_session_as(self) -> None:
        self._dir_dialog("Save the session to a folder", self.save_path)

    def save_path(self, path: str) -> None:
        self.link.call("save", path, describe="{msg}", done=lambda _a: setattr(self, "force_save_as", False))

    def new_session(self) -> None:
        """Stop and unload every slot and put every setting back to its default (one batch per 64)."""
        m = self.link.meters
        if m is None:
            self.show_message("error", "new: no engine attached")
            return
        import looprig
        cmds: List[dict] = []
        for s in range(len(m.state)):
            if int(m.state[s]) == 2:
                cmds.append({"command": "stop", "slot": s})
            if int(m.state[s]) != 0:
                cmds.append({"command": "unload", "slot": s})
        for p in looprig.param_table():
            if p.target == "slot":
                for s in range(len(m.state)):
                    if float(m.param(p.name, slot=s)) != p.default:
                        cmds.append({"command": "param", "slot": s, "param": p.name, "value": p.default})
            elif p.target == "group":
                for g in range(8):
                    if float(m.param(p.name, group=g)) != p.default:
                        cmds.append({"command": "param", "slot": g, "param": p.name, "value": p.default})
            elif float(m.param(p.name)) != p.default:
                cmds.append({"command": "param", "slot": 0, "param": p.name, "value": p.default})
        for i in range(0, len(cmds), 64):
            self.link.submit_batch(cmds[i:i + 64])
        self.force_save_as = True
        self.show_message("info", "new: %d slots emptied and settings reset; Save asks for a folder" %
                          sum(1 for c in cmds if c["command"] == "unload"))

    # -- keys --------------------------------------------------------------------------------------
    def _shortcuts(self) -> None:
        def key(seq: Any, fn: Any) -> None:
            sc = QtGui.QShortcut(QtGui.QKeySequence(seq), self)
            sc.setContext(QtCore.Qt.ShortcutContext.WindowShortcut)
            plain = not (isinstance(seq, str) and seq.startswith(("Ctrl+", "F1")))
            sc.activated.connect(lambda: self._key(fn, plain))

        L = self.launcher
        key(QtCore.Qt.Key.Key_Space, lambda: L.toggle(L.selected))
        key(QtCore.Qt.Key.Key_Return, lambda: L.toggle(L.selected))
        key(QtCore.Qt.Key.Key_Enter, lambda: L.toggle(L.selected))
        key("Ctrl+Return", lambda: L.launch_scene(self.selected_row()))
        key(QtCore.Qt.Key.Key_Escape, L.stop_all)
        key(QtCore.Qt.Key.Key_Left, lambda: L.select(L.selected - 1))
        key(QtCore.Qt.Key.Key_Right, lambda: L.select(L.selected + 1))
        key(QtCore.Qt.Key.Key_Up, lambda: L.select(L.selected - COLUMNS))
        key(QtCore.Qt.Key.Key_Down, lambda: L.select(L.selected + COLUMNS))
        for c in range(8):
            key(str(c + 1), lambda c=c: L.toggle(self.selected_row() * COLUMNS + c))
            key("Ctrl+%d" % (c + 1), lambda c=c: L.launch_scene(c))
        key("M", lambda: self.slot_panel.mute.click())
        key("S", lambda: self.slot_panel.solo.click())
        key("L", lambda: self.load_dialog(L.selected))
        key(QtCore.Qt.Key.Key_Delete, lambda: self.link.call("unload", L.selected, describe="unload: {msg}"))
        key("T", self.master.tap_tempo)
        key("+", lambda: self.master.nudge(1.0))
        key("=", lambda: self.master.nudge(1.0))
        key("-", lambda: self.master.nudge(-1.0))
        key("Shift++", lambda: self.master.nudge(0.1))
        key("Shift+_", lambda: self.master.nudge(-0.1))
        key("Q", self.cycle_quantize)
        key("Ctrl+N", self.new_session)
        key("Ctrl+O", self.open_session)
        key("Ctrl+S", self.save_session)
        key("Ctrl+Shift+S", self.save_session_as)
        key("F1", self.show_shortcuts)
        key("?", self.show_shortcuts)
        key("Ctrl+Q", self.close)

    def _key(self, fn: Any, plain: bool) -> None:
        """Run a key's action, unless a plain key was meant for a field being edited (a tempo typed,
        a pitch): then Enter/Esc only finish the edit and hand the keys back to the launcher."""
        focus = QtWidgets.QApplication.focusWidget()
        if plain and isinstance(focus, (QtWidgets.QAbstractSpinBox, QtWidgets.QLineEdit)):
            focus.clearFocus()
            return
        fn()

    def cycle_quantize(self) -> None:
        cur = self.master.quantize.currentIndex()
        self.link.call("launch_quantize", (cur + 1) % len(QUANTIZE_LABELS))

    def show_shortcuts(self) -> None:
        if self.sheet is None:
            self.sheet = QtWidgets.QDialog(self)
            self.sheet.setWindowTitle("looprig — keyboard")
            lay = QtWidgets.QVBoxLayout(self.sheet)
            text = QtWidgets.QLabel(shortcuts_html())
            text.setTextFormat(QtCore.Qt.TextFormat.RichText)
            lay.addWidget(text)
            close = QtWidgets.QPushButton("Close")
            close.clicked.connect(self.sheet.hide)
            lay.addWidget(close)
        self.sheet.show()
        self.sheet.raise_()

    def closeEvent(self, e: QtGui.QCloseEvent) -> None:  # noqa: N802
        self.timer.stop()
        self.link.close()
        super().closeEvent(e)


def make_app(argv: Optional[List[str]] = None) -> QtWidgets.QApplication:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(argv or [sys.argv[0]])
    app.setApplicationName("looprig")
    app.setStyleSheet(theme.STYLE)
    pal = app.palette()
    for role, col in ((QtGui.QPalette.ColorRole.Window, theme.BG), (QtGui.QPalette.ColorRole.WindowText, theme.TEXT),
                      (QtGui.QPalette.ColorRole.Base, "#111317"), (QtGui.QPalette.ColorRole.Text, theme.TEXT),
                      (QtGui.QPalette.ColorRole.Button, "#2c3038"), (QtGui.QPalette.ColorRole.ButtonText, theme.TEXT),
                      (QtGui.QPalette.ColorRole.Highlight, theme.ACCENT)):
        pal.setColor(role, QtGui.QColor(col))
    app.setPalette(pal)
    return app  # type: ignore[return-value]


def run_gui(name: str, screenshot: Optional[str] = None, after: float = 2.0, size: Optional[str] = None,
            select: Optional[int] = None) -> int:
    """``looprig gui``: open the window; with ``screenshot``, write a PNG after ``after`` s and exit."""
    app = make_app()
    win = MainWindow(name)
    w, h = 1440, 900
    if size:
        try:
            w, h = (int(x) for x in size.lower().split("x"))
        except ValueError:
            print("looprig gui: --size wants WxH, e.g. 1280x800", file=sys.stderr)
            return 2
    win.resize(w, h)
    if select is not None:
        QtCore.QTimer.singleShot(0, lambda: win.launcher.select(select))
    win.show()
    if os.environ.get("LOOPRIG_GUI_STATS"):  # frame statistics for tools/gui-bench
        from .stats import StatsWriter
        StatsWriter(win, os.environ["LOOPRIG_GUI_STATS"])
    status = {"code": 0}
    if screenshot:
        def shoot() -> None:
            win.frame()
            ok = win.grab().save(screenshot, "PNG")
            if not ok:
                print("looprig gui: cannot write %s" % screenshot, file=sys.stderr)
                status["code"] = 1
            else:
                print("looprig gui: wrote %s (%dx%d)" % (screenshot, win.width(), win.height()))
            app.quit()
        QtCore.QTimer.singleShot(int(max(0.0, after) * 1000), shoot)
    # Ctrl+C in the terminal closes the window (Qt's loop would not see the signal otherwise).
    signal.signal(signal.SIGINT, lambda *_: app.quit())
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    alive = QtCore.QTimer()
    alive.start(200)
    alive.timeout.connect(lambda: None)
    app.exec()
    win.link.close()
    return status["code"]
