"""Painted widgets: level meters, launcher cells, labelled knobs, the waveform.

They draw what they are given (``set_*``) and repaint only when that
changed, so 32 cells and a dozen meters at 60 frames per second cost little.
"""

from __future__ import annotations

import math
import time
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
from PyQt6 import QtCore, QtGui, QtWidgets

from . import theme
from .ballistics import FLOOR_DB, StereoBallistics

TOP_DB = 6.0
SCALE_MARKS = (0, -6, -12, -24, -40, -60)
# After the hand moves a fader or knob (keys, wheel, a click on the groove), the engine's value
# is not shown for this long: the frames before the engine has applied the edit would move
# the control back to the old value, and a second step (PageDown twice) would start from there.
EDIT_HOLD_S = 0.3


def db_to_frac(d: float, floor: float = FLOOR_DB, top: float = TOP_DB) -> float:
    """Position on the meter scale, 0 (floor) .. 1 (top); the top 30 dB get 60 %."""
    if d <= floor:
        return 0.0
    d = min(top, d)
    knee = top - 30.0
    if d >= knee:
        return 0.4 + 0.6 * (d - knee) / 30.0
    return 0.4 * (d - floor) / (knee - floor)


class Readout(QtWidgets.QWidget):
    """Text that changes every frame (position, loudness, load) without re-laying out the window.

    A QLabel whose text changes asks its layout to recompute the whole
    window's geometry; this widget has a fixed size hint (from ``template``)
    and only repaints itself.
    """

    def __init__(self, template: str = "", point_size: float = 0.0, bold: bool = False, mono: bool = False,
                 colour: str = theme.TEXT, align: QtCore.Qt.AlignmentFlag = QtCore.Qt.AlignmentFlag.AlignLeft,
                 background: str = theme.PANEL, shrink: int = 0,
                 parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        # Opaque: a repaint does not repaint the (style-sheeted) panel under it.
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self._bg = theme.colour(background)
        font = QtGui.QFont(self.font())
        if mono:
            font.setFamily("DejaVu Sans Mono")
            font.setStyleHint(QtGui.QFont.StyleHint.Monospace)
        if point_size:
            font.setPointSizeF(point_size)
        font.setBold(bold)
        self._font = font  # painted with it: the app's style sheet would override setFont()
        self._shrink = shrink
        self._text = ""
        self._colour = theme.colour(colour)
        self._align = align | QtCore.Qt.AlignmentFlag.AlignVCenter
        fm = QtGui.QFontMetrics(font)
        self._hint = QtCore.QSize(fm.horizontalAdvance(template or "M") + 4, fm.height() + 4)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Preferred, QtWidgets.QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802
        return self._hint

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802
        return QtCore.QSize(self._shrink, self._hint.height()) if self._shrink else self._hint

    def text(self) -> str:
        return self._text

    def set_text(self, text: str, colour: Optional[str] = None) -> None:
        c = theme.colour(colour) if colour else self._colour
        if text != self._text or c != self._colour:
            self._text, self._colour = text, c
            self.update()

    setText = set_text

    def paintEvent(self, _e: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), self._bg)
        p.setFont(self._font)
        p.setPen(self._colour)
        p.drawText(self.rect().adjusted(2, 0, -2, 0), self._align, self._text)
        p.end()


class LoadBar(QtWidgets.QWidget):
    """The engine's callback load as a bar with its percentage (painted: no relayout per frame)."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.fraction = 0.0
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setFixedHeight(20)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed)

    def set_fraction(self, f: float) -> None:
        f = round(min(1.0, max(0.0, f)), 2)
        if f != self.fraction:
            self.fraction = f
            self.update()

    def paintEvent(self, _e: QtGui.QPaintEvent) -> None:  # noqa: N802
        p = QtGui.QPainter(self)
        r = self.rect()
        p.fillRect(r, theme.colour(theme.METER_BG))
        col = theme.METER_GREEN if self.fraction < 0.6 else theme.METER_YELLOW if self.fraction < 0.85 else theme.METER_RED
        p.fillRect(QtCore.QRectF(0, 0, r.width() * self.fraction, r.height()), theme.colour(col).darker(130))
        p.setPen(theme.colour(theme.TEXT))
        p.drawText(r, QtCore.Qt.AlignmentFlag.AlignCenter, "DSP %d %%" % round(self.fraction * 100))
        p.end()


class LevelMeter(QtWidgets.QWidget):
    """A stereo peak meter (dBFS) with the engine's 2 s peak hold, a clip light and an optional scale.

    ``feed(peak, hold, now)`` takes the linear (2,) arrays from the meters.
    """

    def __init__(self, scale: bool = False, width: int = 22, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.scale = scale
        self.ballistics = StereoBallistics()
        self.shown: Tuple = ()
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumWidth(width + (26 if scale else 0))
        self.setMinimumHeight(60)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Fixed, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setToolTip("peak (dBFS), falling 20 dB/s; line: peak hold of the last 2 s; red top: clipped")

    def feed(self, peak: Sequence[float], hold: Sequence[float], now: float) -> None:
        chans = self.ballistics.update(peak, hold, now)
        shown = tuple((round(b, 1), round(h, 1), c) for b, h, c in chans)
        if shown != self.shown:
            self.shown = shown
            self.update()

    def clear(self) -> None:
        self.ballistics.reset()
        if self.shown:
            self.shown = ()
            self.update()

    def levels_db(self) -> List[float]:
        return [c[0] for c in self.shown] if self.shown else [FLOOR_DB, FLOOR_DB]

    def paintEvent(self, _e: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt's name
        p = QtGui.QPainter(self)
        w, h = self.width(), self.height()
        p.fillRect(self.rect(), theme.colour(theme.PANEL))
        scale_w = 26 if self.scale else 0
        bar_w = (w - scale_w - 3) // 2
        p.fillRect(0, 0, w - scale_w, h, theme.colour(theme.METER_BG))
        chans = self.shown or ((FLOOR_DB, FLOOR_DB, False), (FLOOR_DB, FLOOR_DB, False))
        inner = h - 6
        for i, (bar, hold, clip) in enumerate(chans):
            x = 1 + i * (bar_w + 1)
            f = db_to_frac(bar)
            top = 4 + inner * (1 - f)
            # green to -12, yellow to -3, red above
            for lo, hi, col in ((FLOOR_DB, -12.0, theme.METER_GREEN), (-12.0, -3.0, theme.METER_YELLOW),
                                (-3.0, TOP_DB, theme.METER_RED)):
                if bar <= lo:
                    continue
                y0 = 4 + inner * (1 - db_to_frac(min(bar, hi)))
                y1 = 4 + inner * (1 - db_to_frac(lo))
                p.fillRect(QtCore.QRectF(x, y0, bar_w, max(0.0, y1 - y0)), theme.colour(col))
            if hold > FLOOR_DB:
                yh = 4 + inner * (1 - db_to_frac(hold))
                p.fillRect(QtCore.QRectF(x, yh - 1, bar_w, 2), theme.colour(theme.TEXT))
            p.fillRect(QtCore.QRectF(x, 0, bar_w, 3), theme.colour(theme.METER_RED if clip else "#2a2d33"))
            del top
        if self.scale:
            p.setPen(theme.colour(theme.DIM))
            font = p.font()
            font.setPointSizeF(7.5)
            p.setFont(font)
            for mark in SCALE_MARKS:
                y = 4 + inner * (1 - db_to_frac(mark))
                p.drawLine(w - scale_w, int(y), w - scale_w + 3, int(y))
                p.drawText(QtCore.QRectF(w - scale_w + 4, y - 7, scale_w - 4, 14),
                           QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter,
                           str(mark).replace("-", "\u2212"))
        p.end()


class SlotCell(QtWidgets.QWidget):
    """One launcher cell: the slot's name, state colour, playhead ring and flags.

    Left click launches or stops (``clicked``); double click on an empty cell
    asks for a file; files dropped on it load into its slot (``dropped``); the
    context menu has the rest. Queued cells blink until their frame.
    """

    clicked = QtCore.pyqtSignal(int)
    selected = QtCore.pyqtSignal(int)
    dropped = QtCore.pyqtSignal(int, str)
    menu_requested = QtCore.pyqtSignal(int, QtCore.QPoint)
    load_requested = QtCore.pyqtSignal(int)

    STATE_TEXT = {"empty": "empty", "loaded": "stopped", "queued": "queued", "playing": "playing",
                  "stopping": "stopping"}

    def __init__(self, slot: int, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.slot = slot
        self.state = "empty"
        self.name = ""
        self.progress = 0.0
        self.flags = ""
        self.render = ""
        self.is_selected = False
        self.level = 0.0
        self.shown: Tuple = ()
        self.setAcceptDrops(True)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumSize(92, 54)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Expanding)
        self.setCursor(QtCore.Qt.CursorShape.PointingHandCursor)
        self.setAccessibleName("slot %d" % slot)

    def set_view(self, state: str, name: str, progress: float, flags: str, render: str, level: float,
                 blink_on: bool) -> None:
        self.state, self.name, self.progress, self.flags, self.render, self.level = (
            state, name, progress, flags, render, level)
        # The ring moves in 48 steps a cycle and the level bar in 8: enough to see, few repaints.
        shown = (state, name, round(progress * 48), flags, render, round(level * 8), self.is_selected,
                 blink_on if state in ("queued", "stopping") else False)
        self._blink = blink_on
        if shown != self.shown:
            same_look = self.shown and shown[:2] == self.shown[:2] and shown[3:5] == self.shown[3:5] \
                and shown[6:] == self.shown[6:]
            self.shown = shown
            if same_look:
                self.update(self._dynamic_rect())
            else:
                self.update()

    def set_selected(self, on: bool) -> None:
        if on != self.is_selected:
            self.is_selected = on
            self.shown = ()
            self.update()

    # -- input -----------------------------------------------------------------------
    def mousePressEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if e.button() == QtCore.Qt.MouseButton.LeftButton:
            self.selected.emit(self.slot)
            if self.state != "empty":
                self.clicked.emit(self.slot)
        elif e.button() == QtCore.Qt.MouseButton.RightButton:
            self.selected.emit(self.slot)
            self.menu_requested.emit(self.slot, e.globalPosition().toPoint())

    def mouseDoubleClickEvent(self, e: QtGui.QMouseEvent) -> None:  # noqa: N802
        if self.state == "empty" and e.button() == QtCore.Qt.MouseButton.LeftButton:
            self.load_requested.emit(self.slot)

    def dragEnterEvent(self, e: QtGui.QDragEnterEvent) -> None:  # noqa: N802
        if e.mimeData().hasUrls() and any(u.isLocalFile() for u in e.mimeData().urls()):
            e.acceptProposedAction()

    def dropEvent(self, e: QtGui.QDropEvent) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in e.mimeData().urls() if u.isLocalFile()]
        if files:
            e.acceptProposedAction()
            self.dropped.emit(self.slot, files[0])

    # -- drawing -------------------------------------------------------------------------
    def _fill(self) -> str:
        fill = {"empty": theme.EMPTY, "loaded": theme.LOADED, "playing": theme.PLAYING,
                "queued": theme.QUEUED_START if self._blink else theme.LOADED,
                "stopping": theme.QUEUED_STOP if self._blink else theme.PLAYING}[self.state]
        if self.state == "playing" and "M" in self.flags:
            fill = theme.MUTED
        return fill

    def _static(self, fill: str, dark: bool, ring: float) -> QtGui.QPixmap:
        """Background, number, flags and name: drawn once per look, not per frame."""
        key = (fill, dark, self.name, self.flags, self.render, self.is_selected, self.state,
               self.width(), self.height())
        if self._cache_key == key and self._cache is not None:
            return self._cache
        ratio = self.devicePixelRatioF()
        pm = QtGui.QPixmap(int(self.width() * ratio), int(self.height() * ratio))
        pm.setDevicePixelRatio(ratio)
        pm.fill(theme.colour(theme.BG))
        p = QtGui.QPainter(pm)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        r = QtCore.QRectF(0, 0, self.width(), self.height()).adjusted(2, 2, -2, -2)
        p.setPen(QtGui.QPen(theme.colour(theme.ACCENT if self.is_selected else theme.PANEL_EDGE),
                            3 if self.is_selected else 1))
        p.setBrush(theme.colour(fill))
        p.drawRoundedRect(r, 6, 6)
        ink = theme.colour("#0b0c0e" if dark else theme.TEXT)
        p.setPen(ink)
        font = QtGui.QFont(self.font())
        font.setPointSizeF(8.5)
        font.setBold(True)
        p.setFont(font)
        p.drawText(r.adjusted(7, 4, -6, 0), QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop,
                   str(self.slot))
        tag = self.flags + (" ~" if self.render == "pending" else "")
        if tag.strip():
            p.drawText(r.adjusted(0, 4, -6, 0), QtCore.Qt.AlignmentFlag.AlignRight | QtCore.Qt.AlignmentFlag.AlignTop,
                       tag.strip())
        font.setPointSizeF(10.5)
        font.setBold(self.state != "empty")
        p.setFont(font)
        text_r = r.adjusted(7, 18, -(ring + 14) if self.state != "empty" else -6, -4)
        label = self.name.rsplit(".", 1)[0] if "." in self.name[1:] else self.name
        label = QtGui.QFontMetrics(font).elidedText(label or "—", QtCore.Qt.TextElideMode.ElideRight,
                                                    int(text_r.width()))
        p.drawText(text_r, QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignVCenter, label)
        if self.state != "empty":
            ring_r = self._ring_rect(ring)
            # an opaque ring colour: a translucent stroke costs Qt's raster engine ~6x more
            p.setPen(QtGui.QPen(theme.colour(fill).darker(150), 4))
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawEllipse(ring_r)
            if self.state not in ("playing", "stopping"):  # a play triangle
                cx, cy = ring_r.center().x(), ring_r.center().y()
                tri = QtGui.QPolygonF([QtCore.QPointF(cx - 5, cy - 7), QtCore.QPointF(cx - 5, cy + 7),
                                       QtCore.QPointF(cx + 7, cy)])
                p.setPen(QtCore.Qt.PenStyle.NoPen)
                p.setBrush(ink)
                p.drawPolygon(tri)
        p.end()
        self._cache_key, self._cache = key, pm
        return pm

    def _ring_rect(self, ring: float) -> QtCore.QRectF:
        r = QtCore.QRectF(self.rect()).adjusted(2, 2, -2, -2)
        cx = r.right() - ring / 2 - 8
        cy = r.center().y() + 6
        return QtCore.QRectF(cx - ring / 2, cy - ring / 2, ring, ring)

    def _dynamic_rect(self) -> QtCore.QRect:
        """What changes between frames of a playing cell: the ring and the level bar (per size)."""
        size = (self.width(), self.height())
        if self._dyn_size == size:
            return self._dyn_rect
        r = QtCore.QRectF(self.rect()).adjusted(2, 2, -2, -2)
        ring_r = self._ring_rect(min(r.height() - 22, 28.0)).adjusted(-3, -3, 3, 3)
        level_r = QtCore.QRectF(r.left() + 6, r.bottom() - 5, r.width() - 12, 3)
        self._dyn_size, self._dyn_rect = size, ring_r.united(level_r).toAlignedRect()
        return self._dyn_rect

    _dyn_size: Tuple = ()
    _dyn_rect = QtCore.QRect()

    def paintEvent(self, _e: QtGui.QPaintEvent) -> None:  # noqa: N802
        fill = self._fill()
        dark = self.state in ("playing", "queued", "stopping") and fill != theme.LOADED
        r = QtCore.QRectF(self.rect()).adjusted(2, 2, -2, -2)
        ring = min(r.height() - 22, 28.0)
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._static(fill, dark, ring))
        if self.state in ("playing", "stopping"):
            p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
            ink = theme.colour("#0b0c0e" if dark else theme.TEXT)
            p.setPen(QtGui.QPen(ink, 4, cap=QtCore.Qt.PenCapStyle.FlatCap))
            p.drawArc(self._ring_rect(ring), 90 * 16, -int(360 * 16 * self.progress))
        if self.state != "empty" and self.level > 0:  # level: a thin bar along the bottom edge
            p.fillRect(QtCore.QRectF(r.left() + 6, r.bottom() - 5, (r.width() - 12) * self.level, 3),
                       theme.colour("#0b0c0e" if dark else theme.METER_GREEN))
        p.end()

    _cache_key: object = None
    _cache: Optional[QtGui.QPixmap] = None
    _blink = False


class Knob(QtWidgets.QWidget):
    """A labelled dial for a continuous value (dB, Hz on a log scale, ...).

    ``valueEdited(float)`` while the user turns it; ``set_value`` from the
    meters is ignored while the user holds it, so the engine's value never
    fights the hand.
    """

    valueEdited = QtCore.pyqtSignal(float)

    def __init__(self, label: str, lo: float, hi: float, unit: str = "", log: bool = False, decimals: int = 1,
                 steps: int = 400, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.lo, self.hi, self.log, self.unit, self.decimals = lo, hi, log, unit, decimals
        self.dial = QtWidgets.QDial()
        self.dial.setRange(0, steps)
        self.dial.setNotchesVisible(False)
        self.dial.setFixedSize(36, 36)
        self.dial.setWrapping(False)
        self.name = QtWidgets.QLabel(label)
        self.name.setMinimumWidth(10)
        self.name.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred)
        self.name.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        self.name.setStyleSheet("color: %s; font-size: 11px;" % theme.DIM)
        self.value_label = Readout("00.00 kHz", point_size=8, align=QtCore.Qt.AlignmentFlag.AlignHCenter, shrink=42)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.name)
        lay.addWidget(self.dial, 0, QtCore.Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.value_label)
        self.value = lo
        self._setting = False
        self.dial.valueChanged.connect(self._changed)
        self.setAccessibleName(label)

    def _to_pos(self, v: float) -> int:
        v = min(self.hi, max(self.lo, v))
        if self.log:
            f = math.log(v / self.lo) / math.log(self.hi / self.lo)
        else:
            f = (v - self.lo) / (self.hi - self.lo)
        return int(round(f * self.dial.maximum()))

    def _from_pos(self, pos: int) -> float:
        f = pos / self.dial.maximum()
        if self.log:
            return self.lo * (self.hi / self.lo) ** f
        return self.lo + f * (self.hi - self.lo)

    def text(self, v: float) -> str:
        if self.unit == "Hz":
            return "%.2fk" % (v / 1000) if v >= 1000 else "%.0f Hz" % v
        return ("%%.%df%%s" % self.decimals) % (v, (" " + self.unit) if self.unit else "")

    def _changed(self, pos: int) -> None:
        if self._setting:
            return
        self._edited = time.monotonic()
        self.value = self._from_pos(pos)
        self.value_label.setText(self.text(self.value))
        self.valueEdited.emit(self.value)

    def busy(self) -> bool:
        return self.dial.isSliderDown() or time.monotonic() - self._edited < EDIT_HOLD_S

    _edited = -1e9

    def set_value(self, v: float) -> None:
        if self.busy():
            return
        self.value = v
        text = self.text(v)
        if self.value_label.text() != text:
            self.value_label.setText(text)
        pos = self._to_pos(v)
        if pos != self.dial.value():
            self._setting = True
            self.dial.setValue(pos)
            self._setting = False


class Fader(QtWidgets.QWidget):
    """A vertical dB fader (bottom = off) with its value; ``valueEdited(float)`` in dB."""

    valueEdited = QtCore.pyqtSignal(float)

    def __init__(self, label: str, lo: float = -60.0, hi: float = 12.0, off_db: float = -144.0,
                 parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.lo, self.hi, self.off_db = lo, hi, off_db
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Vertical)
        self.slider.setRange(int(lo * 10) - 1, int(hi * 10))  # the lowest step is "off"
        self.slider.setPageStep(30)
        self.slider.setMinimumHeight(90)
        self.value_label = Readout("+00.0 dB", point_size=8, align=QtCore.Qt.AlignmentFlag.AlignHCenter, shrink=42)
        name = QtWidgets.QLabel(label)
        name.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        name.setStyleSheet("color: %s; font-size: 11px;" % theme.DIM)
        lay = QtWidgets.QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(name)
        lay.addWidget(self.slider, 1, QtCore.Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.value_label)
        self._setting = False
        self.slider.valueChanged.connect(self._changed)
        self.slider.setAccessibleName(label)

    def db_of(self, pos: int) -> float:
        return self.off_db if pos < self.lo * 10 else pos / 10.0

    @staticmethod
    def text(v: float) -> str:
        return "-inf" if v <= -119.9 else "%+.1f dB" % v

    def _changed(self, pos: int) -> None:
        if self._setting:
            return
        self._edited = time.monotonic()
        v = self.db_of(pos)
        self.value_label.setText(self.text(v))
        self.valueEdited.emit(v)

    def busy(self) -> bool:
        return self.slider.isSliderDown() or time.monotonic() - self._edited < EDIT_HOLD_S

    _edited = -1e9

    def set_value(self, v: float) -> None:
        if self.busy():
            return
        text = self.text(v)
        if self.value_label.text() != text:
            self.value_label.setText(text)
        pos = int(self.lo * 10) - 1 if v < self.lo else int(round(min(v, self.hi) * 10))
        if pos != self.slider.value():
            self._setting = True
            self.slider.setValue(pos)
            self._setting = False


class Waveform(QtWidgets.QWidget):
    """The selected slot's overview: min/max envelope (drawn once into a pixmap) and the playhead."""

    def __init__(self, parent: Optional[QtWidgets.QWidget] = None) -> None:
        super().__init__(parent)
        self.setAttribute(QtCore.Qt.WidgetAttribute.WA_OpaquePaintEvent)
        self.setMinimumHeight(80)
        self.key: object = None
        self.data: Optional[Tuple[np.ndarray, np.ndarray]] = None
        self.note = ""
        self.head_pos = -1.0
        self._pixmap: Optional[QtGui.QPixmap] = None

    def set_overview(self, key: object, data: Optional[Tuple[np.ndarray, np.ndarray]], note: str = "") -> None:
        if key == self.key:
            return
        self.key, self.data, self.note = key, data, note
        self._pixmap = None
        self.update()

    def set_playhead(self, frac: float) -> None:
        w = max(1, self.width() - 2)
        frac = -1.0 if frac < 0 else round(frac * w) / w  # repaint only when it moves a pixel
        if frac != self.head_pos:
            old, self.head_pos = self.head_pos, frac
            for f in (old, frac):  # only the columns the line leaves and reaches
                if f >= 0:
                    x = int(1 + f * (self.width() - 2))
                    self.update(x - 2, 0, 4, self.height())

    def resizeEvent(self, e: QtGui.QResizeEvent) -> None:  # noqa: N802
        self._pixmap = None
        super().resizeEvent(e)

    def _render(self) -> QtGui.QPixmap:
        pm = QtGui.QPixmap(self.size())
        pm.fill(theme.colour(theme.METER_BG))
        p = QtGui.QPainter(pm)
        w, h = self.width(), self.height()
        mid = h / 2
        p.setPen(theme.colour("#2a2d33"))
        p.drawLine(0, int(mid), w, int(mid))
        if self.data is not None and len(self.data[0]):
            mins, maxs = self.data
            cols = np.minimum(len(maxs) - 1, (np.arange(w) * len(maxs)) // max(1, w))
            scale = (h / 2 - 2)
            top = mid - np.clip(maxs[cols], -1, 1) * scale
            bot = mid - np.clip(mins[cols], -1, 1) * scale
            p.setPen(theme.colour(theme.ACCENT))
            for x in range(w):
                p.drawLine(QtCore.QLineF(x, float(top[x]), x, float(bot[x]) + 1))
        if self.note:
            p.setPen(theme.colour(theme.DIM))
            p.drawText(QtCore.QRect(0, 0, w, h), QtCore.Qt.AlignmentFlag.AlignCenter, self.note)
        p.end()
        return pm

    def paintEvent(self, _e: QtGui.QPaintEvent) -> None:  # noqa: N802
        if self._pixmap is None or self._pixmap.size() != self.size():
            self._pixmap = self._render()
        p = QtGui.QPainter(self)
        p.drawPixmap(0, 0, self._pixmap)
        if self.head_pos >= 0:
            x = 1 + self.head_pos * (self.width() - 2)
            p.fillRect(QtCore.QRectF(x - 1, 0, 2, self.height()), theme.colour("#ffffff"))
        p.end()
