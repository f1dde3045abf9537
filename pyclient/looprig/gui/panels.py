"""The window's three parts: the launcher grid, the selected slot, the master section.

Each panel has ``show_meters(m, now)``, called once per display frame with
the frame's meter snapshot, and sends what the performer changes through the
:class:`~looprig.gui.link.RigLink` (coalesced per control and frame).
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from ..commands import launch_quantize_spec
from ..params import param_table
from . import theme
from .ballistics import TapTempo, db
from .link import RigLink
from .waveform import OverviewCache
from .widgets import Fader, Knob, LevelMeter, LoadBar, Readout, SlotCell, Waveform, db_to_frac

COLUMNS = 8  # slots per launcher row (a row is a scene; a column a track, as in Ableton's session view)

ST_EMPTY, ST_STOPPED, ST_PLAYING = 0, 1, 2
F_MUTED, F_SOLOED, F_START, F_STOP = 1, 2, 4, 8

QUANTIZE_LABELS = ("none", "1 beat", "1 bar", "2 bars", "4 bars", "8 bars")

_ID = {p.name: p.id for p in param_table()}  # param name -> id (index into the meters' param rows)
_GLOBAL_BASE = min(p.id for p in param_table() if p.target == "global")


_names_seen: List[Any] = [None, []]


def slot_names(m: Any) -> List[str]:
    """The slots' names, decoded again only when a slot was loaded or emptied (32 C strings a frame
    otherwise)."""
    key = (id(m), m.load_count.tobytes() + m.state.tobytes())
    if key != _names_seen[0]:
        _names_seen[0], _names_seen[1] = key, m.names
    return _names_seen[1]


_paths_seen: List[Any] = [None, []]


def slot_paths(m: Any) -> List[str]:
    """The slots' file paths, decoded again only when a slot was loaded or emptied."""
    key = (id(m), m.load_count.tobytes() + m.state.tobytes())
    if key != _paths_seen[0]:
        _paths_seen[0], _paths_seen[1] = key, m.paths
    return _paths_seen[1]


def cell_state(state: int, flags: int) -> str:
    """The launcher's name for a slot's state: empty, loaded, queued, playing, stopping."""
    if state == ST_EMPTY:
        return "empty"
    if state == ST_PLAYING:
        return "stopping" if flags & F_STOP else "playing"
    return "queued" if flags & F_START else "loaded"


def launch_quantize(m: Any) -> Any:
    """The quantize spec of the rig's launch quantize (``None`` = at once)."""
    return launch_quantize_spec(float(m.global_params[_ID["launch-quantize"] - _GLOBAL_BASE]))


def toggle_commands(m: Any, slot: int) -> List[tuple]:
    """The command that launches or stops ``slot`` (empty list: nothing to do)."""
    if m is None or slot >= len(m.state):
        return []
    st = cell_state(int(m.state[slot]), int(m.flags[slot]))
    if st == "empty":
        return []
    if st in ("playing", "queued"):
        return [("stop", slot)]
    return [("play", slot)]


def scene_commands(m: Any, row: int, columns: int = COLUMNS) -> List[tuple]:
    """Launch scene ``row``: its loaded slots play; the other rows' slots of those columns stop.

    As in Ableton's session view a column is a track that plays one clip at
    a time, so launching a row stops what plays above or below it — all in
    one batch, on one frame.
    """
    if m is None:
        return []
    n = len(m.state)
    cmds: List[tuple] = []
    for c in range(columns):
        slot = row * columns + c
        if slot >= n:
            break
        if int(m.state[slot]) == ST_EMPTY:
            continue
        cmds.append(("play", slot))
        for other in range(c, n, columns):
            if other != slot and int(m.state[other]) == ST_PLAYING:
                cmds.append(("stop", other))
    return cmds


class Launcher(QtWidgets.QWidget):
    """Slots as cells, rows as scenes, a stop button per column, stop-all."""

    slot_selected = QtCore.pyqtSignal(int)
    load_requested = QtCore.pyqtSignal(int)
    menu_requested = QtCore.pyqtSignal(int, QtCore.QPoint)

    def __init__(self, link: RigLink, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.link = link
        self.cells: List[SlotCell] = []
        self.scene_buttons: List[QtWidgets.QPushButton] = []
        self.column_stops: List[QtWidgets.QPushButton] = []
        self.selected = 0
        self.grid_host = QtWidgets.QWidget()
        self.grid = QtWidgets.QGridLayout(self.grid_host)
        self.grid.setSpacing(4)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.scroll = QtWidgets.QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.grid_host)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.scroll)
        self.m: Any = None

    def build(self, slots: int) -> None:
        if len(self.cells) == slots:
            return
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.cells, self.scene_buttons, self.column_stops = [], [], []
        rows = (slots + COLUMNS - 1) // COLUMNS
        for s in range(slots):
            cell = SlotCell(s)
            cell.clicked.connect(self.toggle)
            cell.selected.connect(self.select)
            cell.dropped.connect(self.load_file)
            cell.load_requested.connect(self.load_requested)
            cell.menu_requested.connect(self.menu_requested)
            self.grid.addWidget(cell, s // COLUMNS, s % COLUMNS)
            self.cells.append(cell)
        for r in range(rows):
            b = QtWidgets.QPushButton("▶ %d" % (r + 1))
            b.setToolTip("launch scene %d: its slots play, the other rows' slots of those columns stop "
                         "(Ctrl+%d)" % (r + 1, r + 1))
            b.setFixedWidth(48)
            b.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Expanding)
            b.clicked.connect(lambda _=False, row=r: self.launch_scene(row))
            self.grid.addWidget(b, r, COLUMNS)
            self.scene_buttons.append(b)
        for c in range(min(COLUMNS, slots)):
            b = QtWidgets.QPushButton("■")
            b.setToolTip("stop column %d" % (c + 1))
            b.clicked.connect(lambda _=False, col=c: self.stop_column(col))
            self.grid.addWidget(b, rows, c)
            self.column_stops.append(b)
        for r in range(rows):
            self.grid.setRowStretch(r, 1)
        self.select(min(self.selected, slots - 1))

    # -- actions ---------------------------------------------------------------------
    def select(self, slot: int) -> None:
        if not self.cells:
            return
        slot = max(0, min(slot, len(self.cells) - 1))
        if 0 <= self.selected < len(self.cells):
            self.cells[self.selected].set_selected(False)
        self.selected = slot
        self.cells[slot].set_selected(True)
        self.scroll.ensureWidgetVisible(self.cells[slot])
        self.slot_selected.emit(slot)

    def toggle(self, slot: int) -> None:
        cmds = toggle_commands(self.m, slot)
        if cmds:
            verb = cmds[0][0]
            self.link.submit_batch(cmds, quantize=launch_quantize(self.m),
                                   describe="%s %d: {msg}" % (verb, slot))

    def launch_scene(self, row: int) -> None:
        cmds = scene_commands(self.m, row)
        if not cmds:
            self.link.message.emit("info", "scene %d has no loaded slot" % (row + 1))
            return
        self.link.submit_batch(cmds, quantize=launch_quantize(self.m), describe="scene %d: {msg}" % (row + 1))

    def stop_column(self, col: int) -> None:
        if self.m is None:
            return
        cmds = [("stop", s) for s in range(col, len(self.m.state), COLUMNS) if int(self.m.state[s]) == ST_PLAYING]
        if cmds:
            self.link.submit_batch(cmds, quantize=launch_quantize(self.m), describe="stop column %d: {msg}" % (col + 1))

    def stop_all(self) -> None:
        if self.m is None:
            return
        cmds = [("stop", s) for s in range(len(self.m.state)) if int(self.m.state[s]) == ST_PLAYING]
        if cmds:
            self.link.submit_batch(cmds, quantize=launch_quantize(self.m), describe="stop all: {msg}")

    def load_file(self, slot: int, path: str) -> None:
        name = path.rsplit("/", 1)[-1]
        self.link.call("load", slot, path, describe="load %d: %s ({msg})" % (slot, name.replace("{", "{{").replace("}", "}}")))

    # -- display -------------------------------------------------------------------------
    def show_meters(self, m: Any, now: float) -> None:
        self.m = m
        if m is None:
            return
        blink = int(now * 4) % 2 == 0
        state, flags, playhead, length = m.state, m.flags, m.playhead, m.length
        peak = m.peak
        names = slot_names(m)
        groups = m.group
        for s, cell in enumerate(self.cells):
            st = cell_state(int(state[s]), int(flags[s]))
            f = int(flags[s])
            tag = ("M" if f & F_MUTED else "") + ("S" if f & F_SOLOED else "")
            g = int(groups[s])
            if g >= 0:
                tag += " G%d" % (g + 1)
            ln = int(length[s])
            prog = (int(playhead[s]) % ln) / ln if ln > 0 and st in ("playing", "stopping") else 0.0
            level = db_to_frac(db(float(max(peak[s][0], peak[s][1]))))
            cell.set_view(st, names[s], prog, tag.strip(), m.render_name(s), level, blink)


def _row(*widgets: QtWidgets.QWidget, spacing: int = 6) -> QtWidgets.QHBoxLayout:
    lay = QtWidgets.QHBoxLayout()
    lay.setSpacing(spacing)
    for w in widgets:
        lay.addWidget(w)
    return lay


def _toggle(text: str, name: str = "", tip: str = "") -> QtWidgets.QPushButton:
    b = QtWidgets.QPushButton(text)
    b.setCheckable(True)
    if name:
        b.setObjectName(name)
    if tip:
        b.setToolTip(tip)
    return b


def _set_checked(b: QtWidgets.QAbstractButton, on: bool) -> None:
    if b.isChecked() != on:
        b.blockSignals(True)
        b.setChecked(on)
        b.blockSignals(False)


def _set_spin(spin: QtWidgets.QAbstractSpinBox, v: float) -> None:
    if spin.hasFocus():
        return
    if abs(spin.value() - v) > 1e-9:
        spin.blockSignals(True)
        spin.setValue(v)
        spin.blockSignals(False)


def _set_combo(combo: QtWidgets.QComboBox, index: int) -> None:
    if combo.currentIndex() != index and not combo.view().isVisible():
        combo.blockSignals(True)
        combo.setCurrentIndex(index)
        combo.blockSignals(False)


class SlotPanel(QtWidgets.QGroupBox):
    """Everything about the selected slot: waveform, level, filters, EQ, sends, time and pitch."""

    def __init__(self, link: RigLink, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__("Slot", parent)
        self.link = link
        self.slot = 0
        self.overviews = OverviewCache()
        self.wave = Waveform()
        self.info = Readout("playing · render pending (interim) · 00.00 s · 2 ch · 48000 Hz source",
                            colour=theme.DIM, shrink=20)
        k = self.link.set_later
        s = lambda: self.slot  # noqa: E731 - the slot at the time of the edit

        # level
        self.fader = Fader("gain", -60, 24)
        self.fader.valueEdited.connect(lambda v: k(("gain", s()), "gain", s(), v))
        self.meter = LevelMeter()
        self.mute = _toggle("M", "mute", "mute (M)")
        self.solo = _toggle("S", "solo", "solo (S)")
        self.mute.toggled.connect(lambda on: self.link.call("mute", s(), on))
        self.solo.toggled.connect(lambda on: self.link.call("solo", s(), on))
        self.pan = Knob("pan", -1, 1, decimals=2)
        self.pan.valueEdited.connect(lambda v: k(("pan", s()), "pan", s(), round(v, 3)))
        self.group = QtWidgets.QComboBox()
        self.group.addItems(["master"] + ["group %d" % (g + 1) for g in range(8)])
        self.group.setToolTip("route to a group bus, or straight to the master")
        self.group.activated.connect(lambda i: self.link.call("group", s(), None if i == 0 else i - 1))
        level = QtWidgets.QGroupBox("Level")
        lv = QtWidgets.QGridLayout(level)
        lv.addWidget(self.fader, 0, 0, 3, 1)
        lv.addWidget(self.meter, 0, 1, 3, 1)
        lv.addLayout(_row(self.mute, self.solo, spacing=2), 0, 2)
        lv.addWidget(self.pan, 1, 2)
        lv.addWidget(self.group, 2, 2)

        # filters
        self.hp_on = _toggle("HP", tip="high-pass filter on/off")
        self.hp_freq = Knob("HP freq", 10, 20000, "Hz", log=True, decimals=0)
        self.lp_on = _toggle("LP", tip="low-pass filter on/off")
        self.lp_freq = Knob("LP freq", 10, 20000, "Hz", log=True, decimals=0)
        self.hp_on.toggled.connect(lambda on: self.link.call("highpass", s(), on=on))
        self.lp_on.toggled.connect(lambda on: self.link.call("lowpass", s(), on=on))
        self.hp_freq.valueEdited.connect(lambda v: k(("hp", s()), "highpass", s(), round(v, 1), on=None))
        self.lp_freq.valueEdited.connect(lambda v: k(("lp", s()), "lowpass", s(), round(v, 1), on=None))
        filters = QtWidgets.QGroupBox("Filters")
        fl = QtWidgets.QGridLayout(filters)
        fl.addWidget(self.hp_on, 0, 0)
        fl.addWidget(self.lp_on, 0, 1)
        fl.addWidget(self.hp_freq, 1, 0)
        fl.addWidget(self.lp_freq, 1, 1)

        # EQ
        self.eq_on = _toggle("EQ", tip="3-band EQ on/off")
        self.eq_on.toggled.connect(lambda on: self.link.call("eq", s(), on=on))
        self.eq_low = Knob("low", -24, 24, "dB")
        self.eq_mid = Knob("mid", -24, 24, "dB")
        self.eq_mid_f = Knob("mid Hz", 10, 20000, "Hz", log=True, decimals=0)
        self.eq_high = Knob("high", -24, 24, "dB")
        for knob, kw in ((self.eq_low, "low_gain"), (self.eq_mid, "mid_gain"), (self.eq_mid_f, "mid_freq"),
                         (self.eq_high, "high_gain")):
            knob.valueEdited.connect(lambda v, kw=kw: k(("eq", kw, s()), "eq", s(), **{kw: round(v, 2)}))
        eq = QtWidgets.QGroupBox("EQ")
        el = QtWidgets.QGridLayout(eq)
        el.addWidget(self.eq_on, 0, 0, 1, 4)
        for i, knob in enumerate((self.eq_low, self.eq_mid, self.eq_mid_f, self.eq_high)):
            el.addWidget(knob, 1, i)

        # sends
        self.send_delay = Knob("delay", -60, 12, "dB")
        self.send_reverb = Knob("reverb", -60, 12, "dB")
        for knob, bus in ((self.send_delay, 1), (self.send_reverb, 2)):
            knob.valueEdited.connect(lambda v, bus=bus: k(("send", bus, s()), "fx_send", s(), bus,
                                                          -120.0 if v <= -59.9 else round(v, 1)))
        sends = QtWidgets.QGroupBox("Sends")
        sl = QtWidgets.QHBoxLayout(sends)
        sl.addWidget(self.send_delay)
        sl.addWidget(self.send_reverb)

        # time and pitch
        self.follow = QtWidgets.QComboBox()
        self.follow.addItems(["own speed", "loop BPM", "beats"])
        self.follow.setToolTip("how the loop follows the master tempo: not at all, by its own tempo, or by its length in beats")
        self.follow_value = QtWidgets.QDoubleSpinBox()
        self.follow_value.setRange(0.0, 1024)
        self.follow_value.setSpecialValueText("—")  # 0: not following (the engine's "not given")
        self.follow_value.setDecimals(2)
        self.follow_value.setKeyboardTracking(False)
        self.follow.activated.connect(self._follow_edited)
        self.follow_value.valueChanged.connect(self._follow_edited)
        self.semis = QtWidgets.QSpinBox()
        self.semis.setRange(-24, 24)
        self.semis.setSuffix(" st")
        self.semis.setKeyboardTracking(False)
        self.cents = QtWidgets.QSpinBox()
        self.cents.setRange(-99, 99)
        self.cents.setSuffix(" ct")
        self.cents.setKeyboardTracking(False)
        self.semis.valueChanged.connect(self._pitch_edited)
        self.cents.valueChanged.connect(self._pitch_edited)
        self.mode = QtWidgets.QComboBox()
        self.mode.addItems(["stretch", "varispeed"])
        self.mode.setToolTip("stretch: tempo and pitch independent; varispeed: pitch follows tempo, like tape")
        self.mode.activated.connect(lambda i: self.link.call("mode", s(), ("stretch", "varispeed")[i]))
        self.render = Readout("rendering…")
        timing = QtWidgets.QGroupBox("Time && pitch")
        tl = QtWidgets.QGridLayout(timing)
        self.follow.setToolTip(self.follow.toolTip() + " (tempo)")
        self.semis.setToolTip("pitch: semitones")
        self.cents.setToolTip("pitch: cents")
        tl.addWidget(self.follow, 0, 0)
        tl.addWidget(self.follow_value, 0, 1)
        tl.addWidget(self.semis, 1, 0)
        tl.addWidget(self.cents, 1, 1)
        tl.addWidget(self.mode, 2, 0)
        tl.addWidget(self.render, 2, 1)

        for w in (self.follow, self.follow_value, self.semis, self.cents, self.mode, self.group):
            w.setMinimumWidth(84 if w in (self.follow, self.mode, self.group) else 70)
            w.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        for box in (level, filters, eq, sends, timing):
            box.layout().setContentsMargins(6, 4, 6, 4)
            box.layout().setSpacing(4)
        top = QtWidgets.QVBoxLayout(self)
        top.setSpacing(6)
        top.addWidget(self.wave, 1)
        top.addWidget(self.info)
        controls = QtWidgets.QHBoxLayout()
        for box in (level, filters, eq, sends, timing):
            controls.addWidget(box, 2 if box is timing else 1)
        top.addLayout(controls)

    def _follow_edited(self, *_: Any) -> None:
        kind = self.follow.currentIndex()
        v = self.follow_value.value()
        if kind == 0:
            self.link.call("loop_tempo", self.slot, None)
        elif v <= 0:
            return  # a kind chosen, its value not typed yet
        elif kind == 1:
            self.link.call("loop_tempo", self.slot, max(20.0, min(400.0, v)))
        else:
            self.link.call("loop_tempo", self.slot, beats=max(0.25, v))

    def _pitch_edited(self, *_: Any) -> None:
        self.link.set_later(("pitch", self.slot), "pitch", self.slot, self.semis.value(), self.cents.value())

    def select(self, slot: int) -> None:
        self.slot = slot
        self.meter.clear()

    def show_meters(self, m: Any, now: float) -> None:
        if m is None or self.slot >= len(m.state):
            return
        s = self.slot
        name = slot_names(m)[s]
        st = cell_state(int(m.state[s]), int(m.flags[s]))
        title = "Slot %d — %s" % (s, name or "empty")
        if self.title() != title:
            self.setTitle(title)
        ln = int(m.length[s])
        path = slot_paths(m)[s]
        key = (path, int(m.load_count[s]))
        if st == "empty":
            self.wave.set_overview(key, None, "empty: drop a file on its cell, or double-click it")
            self.wave.set_playhead(-1)
        else:
            data = self.overviews.get(path, key[1])
            err = self.overviews.error(path, key[1])
            self.wave.set_overview(key if data is not None or err else ("wait",) + key, data,
                                   err or ("" if data is not None else "reading the waveform…"))
            self.wave.set_playhead((int(m.playhead[s]) % ln) / ln if ln > 0 and st in ("playing", "stopping") else -1)
        rig = self.link.rig
        rate = max(1, int(rig.sample_rate if rig is not None else 48000))
        MasterPanel._set_text(self.info, "%s · %s · %.2f s · %d ch · %d Hz source" % (
            st, {"none": "plays as loaded", "pending": "render pending (interim)", "ready": "rendered"}.get(
                m.render_name(s), m.render_name(s)), ln / rate if ln else 0.0,
            int(m.channels[s]), int(m.source_rate[s])) if st != "empty" else "empty")
        row = m.slot_params[s]
        p = lambda name: float(row[_ID[name]])  # noqa: E731 - one row read, ids looked up once
        self.fader.set_value(float(m.gain_db[s]))
        self.meter.feed(m.peak[s], m.peak_hold[s], now)
        _set_checked(self.mute, bool(int(m.flags[s]) & F_MUTED))
        _set_checked(self.solo, bool(int(m.flags[s]) & F_SOLOED))
        self.pan.set_value(float(m.pan[s]))
        _set_combo(self.group, int(m.group[s]) + 1)
        if not m.params_published:
            return
        _set_checked(self.hp_on, p("hp-on") != 0)
        _set_checked(self.lp_on, p("lp-on") != 0)
        self.hp_freq.set_value(p("hp-freq"))
        self.lp_freq.set_value(p("lp-freq"))
        _set_checked(self.eq_on, p("eq-on") != 0)
        self.eq_low.set_value(p("eq-low-gain"))
        self.eq_mid.set_value(p("eq-mid-gain"))
        self.eq_mid_f.set_value(p("eq-mid-freq"))
        self.eq_high.set_value(p("eq-high-gain"))
        self.send_delay.set_value(max(-60.0, p("send1-level")))
        self.send_reverb.set_value(max(-60.0, p("send2-level")))
        bpm, beats = p("loop-bpm"), p("loop-beats")
        kind = 1 if bpm > 0 else 2 if beats > 0 else 0
        _set_combo(self.follow, kind)
        self.follow_value.setEnabled(kind != 0 or self.follow_value.hasFocus())
        suffix = ("", " BPM", " beats")[kind]
        if self.follow_value.suffix() != suffix:
            self.follow_value.setSuffix(suffix)
        _set_spin(self.follow_value, bpm if kind == 1 else beats if kind == 2 else 0.0)
        pitch = p("pitch")
        semis = int(math.trunc(pitch))
        cents = int(round((pitch - semis) * 100))
        if abs(cents) == 100:
            semis, cents = semis + cents // 100, 0
        _set_spin(self.semis, semis)
        _set_spin(self.cents, cents)
        _set_combo(self.mode, int(m.mode[s]))
        rn = m.render_name(s) if st != "empty" else ""
        MasterPanel._set_text(self.render, {"pending": "rendering…", "ready": "rendered", "none": "as loaded"}.get(rn, ""))
        self.render.setToolTip("pending: plays an interim (varispeed) until the Rubber Band render is in"
                               if rn == "pending" else "")


class MasterPanel(QtWidgets.QWidget):
    """Tempo, position, transport, quantize, master/group/return meters, loudness, effects, load."""

    stop_all = QtCore.pyqtSignal()

    def __init__(self, link: RigLink, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.link = link
        self.taps = TapTempo()
        k = link.set_later
        self.setFixedWidth(300)

        # time
        self.position = Readout("000 . 00", point_size=26, bold=True, mono=True)
        self.position.setToolTip("bar . beat of the master grid")
        self.tempo = QtWidgets.QDoubleSpinBox()
        self.tempo.setRange(20, 400)
        self.tempo.setDecimals(2)
        self.tempo.setToolTip("master tempo, BPM (type a value and Enter)")
        self.tempo.setKeyboardTracking(False)
        self.tempo.setStyleSheet("font-size: 18px;")
        self.tempo.valueChanged.connect(lambda v: link.call("tempo", v))
        self.nudge_down = QtWidgets.QPushButton("−1")
        self.nudge_up = QtWidgets.QPushButton("+1")
        self.nudge_down.setToolTip("tempo −1 BPM (-), Shift: −0.1")
        self.nudge_up.setToolTip("tempo +1 BPM (+), Shift: +0.1")
        self.nudge_down.clicked.connect(lambda: self.nudge(-1.0))
        self.nudge_up.clicked.connect(lambda: self.nudge(1.0))
        self.tap = QtWidgets.QPushButton("TAP")
        self.tap.setToolTip("tap tempo (T)")
        self.tap.clicked.connect(self.tap_tempo)
        self.bpb = QtWidgets.QSpinBox()
        self.bpb.setRange(1, 32)
        self.bpb.setToolTip("beats per bar")
        self.bpb.setKeyboardTracking(False)
        self.bpb.valueChanged.connect(lambda v: link.call("time_signature", v))
        self.transport = QtWidgets.QComboBox()
        self.transport.addItems(["off", "follow", "master"])
        self.transport.setToolTip("JACK transport: ignore it, follow it, or be its timebase master")
        self.transport.activated.connect(lambda i: link.call("transport", ("off", "follow", "master")[i]))
        self.quantize = QtWidgets.QComboBox()
        self.quantize.addItems(list(QUANTIZE_LABELS))
        self.quantize.setToolTip("launch quantize: slots and scenes start and stop on this grid (Q cycles)")
        self.quantize.activated.connect(lambda i: link.call("launch_quantize", i))
        self.stop_button = QtWidgets.QPushButton("■  STOP ALL")
        self.stop_button.setObjectName("stopall")
        self.stop_button.setToolTip("stop every playing slot, on the launch quantize (Esc)")
        self.stop_button.setMinimumHeight(36)
        self.stop_button.clicked.connect(self.stop_all)
        time_box = QtWidgets.QGroupBox("Time")
        tl = QtWidgets.QGridLayout(time_box)
        tl.addWidget(self.position, 0, 0, 1, 4)
        tl.addWidget(self.tempo, 1, 0, 1, 2)
        tl.addWidget(self.nudge_down, 1, 2)
        tl.addWidget(self.nudge_up, 1, 3)
        tl.addWidget(self.tap, 2, 0)
        tl.addWidget(self.bpb, 2, 1)
        tl.addWidget(QtWidgets.QLabel("transport"), 2, 2)
        tl.addWidget(self.transport, 2, 3)
        tl.addWidget(QtWidgets.QLabel("quantize"), 3, 0)
        tl.addWidget(self.quantize, 3, 1)
        tl.addWidget(self.stop_button, 3, 2, 1, 2)

        # meters
        self.master_meter = LevelMeter(scale=True, width=30)
        self.master_fader = Fader("master", -60, 12, off_db=-120.0)
        self.master_fader.valueEdited.connect(lambda v: k("master", "master_gain", v))
        self.group_meters = [LevelMeter(width=12) for _ in range(8)]
        self.return_meters = [LevelMeter(width=12) for _ in range(2)]
        meters_box = QtWidgets.QGroupBox("Meters")
        ml = QtWidgets.QGridLayout(meters_box)
        ml.setHorizontalSpacing(3)
        ml.addWidget(self.master_fader, 0, 0)
        ml.addWidget(self.master_meter, 0, 1)
        for i, mtr in enumerate(self.group_meters + self.return_meters):
            ml.addWidget(mtr, 0, 2 + i)
            lab = QtWidgets.QLabel(str(i + 1) if i < 8 else ("dly", "rev")[i - 8])
            lab.setStyleSheet("color: %s; font-size: 10px;" % theme.DIM)
            lab.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
            ml.addWidget(lab, 1, 2 + i)
        for col, text in ((0, "gain"), (1, "master")):
            lab = QtWidgets.QLabel(text)
            lab.setStyleSheet("color: %s; font-size: 10px;" % theme.DIM)
            ml.addWidget(lab, 1, col)
        self.loudness = Readout("M -00.0  S -00.0  I -00.0 LUFS", mono=True)
        self.loudness.setToolTip("EBU R128 loudness of the master: momentary (400 ms), short-term (3 s), "
                                 "integrated (since start or meter reset), LUFS")
        ml.addWidget(self.loudness, 2, 0, 1, 12)
        import pyqtgraph as pg
        self.history = pg.PlotWidget()
        self.history.setMenuEnabled(False)
        self.history.setMouseEnabled(False, False)
        self.history.hideButtons()
        self.history.setYRange(-40, 0, padding=0)
        self.history.setXRange(-60, 0, padding=0)
        self.history.getAxis("left").setWidth(26)
        self.history.setFixedHeight(70)
        self.history.setToolTip("short-term loudness of the last 60 s (LUFS)")
        self.history_curve = self.history.plot(pen=pg.mkPen(theme.ACCENT, width=1))  # width > 1: a pyqtgraph 0.13.1 + PyQt6 drawLines bug
        self.history_t: List[float] = []
        self.history_v: List[float] = []
        ml.addWidget(self.history, 3, 0, 1, 12)

        # effects
        self.delay_beats = Knob("beats", 0.0625, 4, log=True, decimals=3)
        self.delay_fb = Knob("feedback", 0, 0.95, decimals=2)
        self.delay_ret = Knob("return", -60, 12, "dB")
        self.rev_decay = Knob("decay", 0.1, 30, "s", log=True, decimals=2)
        self.rev_ret = Knob("return", -60, 12, "dB")
        self.delay_beats.valueEdited.connect(lambda v: k("delay-beats", "delay", beats=round(v, 4)))
        self.delay_fb.valueEdited.connect(lambda v: k("delay-fb", "delay", feedback=round(v, 3)))
        self.delay_ret.valueEdited.connect(lambda v: k("delay-ret", "delay", return_db=-120.0 if v <= -59.9 else round(v, 1)))
        self.rev_decay.valueEdited.connect(lambda v: k("rev-decay", "reverb", decay=round(v, 3)))
        self.rev_ret.valueEdited.connect(lambda v: k("rev-ret", "reverb", return_db=-120.0 if v <= -59.9 else round(v, 1)))
        fx = QtWidgets.QGroupBox("Delay · Reverb")
        fl = QtWidgets.QHBoxLayout(fx)
        for w in (self.delay_beats, self.delay_fb, self.delay_ret, self.rev_decay, self.rev_ret):
            fl.addWidget(w)

        # engine load
        self.load = LoadBar()
        self.load.setToolTip("the engine's callback time as a share of the JACK period (last period)")
        self.load_text = Readout("max 100 % · xruns 000000 · renders pending 000", point_size=8, colour=theme.DIM,
                                 shrink=20)
        eng = QtWidgets.QGroupBox("Engine")
        el = QtWidgets.QVBoxLayout(eng)
        el.addWidget(self.load)
        el.addWidget(self.load_text)

        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(time_box)
        lay.addWidget(meters_box, 1)
        lay.addWidget(fx)
        lay.addWidget(eng)
        self.m: Any = None
        self.max_load = 0.0

    @staticmethod
    def _set_text(label: Any, text: str) -> None:
        if label.text() != text:
            label.setText(text)

    def nudge(self, d: float) -> None:
        if self.m is not None:
            self.link.call("tempo", round(max(20.0, min(400.0, float(self.m.tempo_bpm) + d)), 2))

    def tap_tempo(self) -> None:
        import time
        bpm = self.taps.tap(time.monotonic())
        if bpm is not None:
            self.link.call("tempo", bpm, describe="tap tempo: {msg}")

    def show_meters(self, m: Any, now: float) -> None:
        self.m = m
        if m is None:
            return
        bpb = max(1, int(m.beats_per_bar))
        beat = float(m.beat)
        if not math.isfinite(beat):
            beat = 0.0
        bar, inbar = divmod(beat, bpb)
        self._set_text(self.position, "%3d . %d" % (int(bar) + 1, int(inbar) + 1))
        _set_spin(self.tempo, round(float(m.tempo_bpm), 2))
        _set_spin(self.bpb, bpb)
        _set_combo(self.transport, {"off": 0, "follow": 1, "master": 2}.get(m.transport, 0))
        q = int(m.global_params[_ID["launch-quantize"] - _GLOBAL_BASE])
        _set_combo(self.quantize, max(0, min(q, len(QUANTIZE_LABELS) - 1)))
        self.master_meter.feed(m.master_peak, m.master_peak_hold, now)
        gp, gh = m.groups.peak, m.groups.peak_hold
        for i, mtr in enumerate(self.group_meters):
            mtr.feed(gp[i], gh[i], now)
        rp, rh = m.returns.peak, m.returns.peak_hold
        for i, mtr in enumerate(self.return_meters):
            mtr.feed(rp[i], rh[i], now)
        lu = m.loudness

        def lufs(v: Optional[float]) -> str:
            return "  —  " if v is None or not math.isfinite(v) else "%5.1f" % v
        self._set_text(self.loudness, "M %s  S %s  I %s LUFS" % (lufs(lu.momentary), lufs(lu.short_term), lufs(lu.integrated)))
        if not self.history_t or now - self.history_t[-1] >= 0.25:
            st = lu.short_term
            self.history_t.append(now)
            self.history_v.append(st if st is not None and math.isfinite(st) else -70.0)
            cut = now - 60.0
            while self.history_t and self.history_t[0] < cut:
                self.history_t.pop(0)
                self.history_v.pop(0)
            if len(self.history_t) >= 2:
                self.history_curve.setData(np.array(self.history_t) - now, np.array(self.history_v))
        if m.params_published:
            glob = m.global_params
            g = lambda name: float(glob[_ID[name] - _GLOBAL_BASE])  # noqa: E731
            self.master_fader.set_value(g("master-gain"))
            self.delay_beats.set_value(max(0.0625, g("delay-beats")))
            self.delay_fb.set_value(g("delay-feedback"))
            self.delay_ret.set_value(max(-60.0, g("delay-return")))
            self.rev_decay.set_value(g("reverb-decay"))
            self.rev_ret.set_value(max(-60.0, g("reverb-return")))
        load = float(m.callback_load)
        self.load.set_fraction(load)
        self._set_text(self.load_text, "max %.0f %% · xruns %d · renders pending %d" % (
            100 * float(m.callback_load_max), int(m.xruns), int(m.renders_pending)))
