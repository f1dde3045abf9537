"""Colours and the dark style sheet: readable from a metre away on a dark stage."""

from __future__ import annotations

from PyQt6 import QtGui

BG = "#16181c"
PANEL = "#1f2228"
PANEL_EDGE = "#30343c"
TEXT = "#e6e8eb"
DIM = "#8b919c"
ACCENT = "#4aa3ff"

# slot states (the launcher's cell colours)
EMPTY = "#24272d"
LOADED = "#3d4350"
QUEUED_START = "#e0b000"   # blinks until the start frame
PLAYING = "#29b35a"
QUEUED_STOP = "#e0652b"    # blinks until the stop frame
MUTED = "#6b7280"
ERROR = "#e5484d"
INFO = "#9ecbff"

METER_GREEN = "#2fd160"
METER_YELLOW = "#e8d33a"
METER_RED = "#ff3b30"
METER_BG = "#0d0e10"

STYLE = """
QWidget { background: %(bg)s; color: %(text)s; font-size: 13px; }
QGroupBox { background: %(panel)s; border: 1px solid %(edge)s; border-radius: 6px; margin-top: 18px; padding: 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: %(dim)s; font-weight: bold; }
QLabel { background: transparent; }
QPushButton { background: #2c3038; border: 1px solid #3b404a; border-radius: 4px; padding: 4px 10px; }
QPushButton:hover { background: #363b45; }
QPushButton:pressed { background: #454b57; }
QPushButton:checked { background: %(accent)s; color: #0b0c0e; }
QPushButton:disabled { color: #5a606b; }
QPushButton#stopall { background: #5a1f22; border-color: #7a2a2e; font-weight: bold; }
QPushButton#stopall:hover { background: #74282c; }
QPushButton#mute:checked { background: #e0b000; color: #0b0c0e; }
QPushButton#solo:checked { background: #4aa3ff; color: #0b0c0e; }
QComboBox, QSpinBox, QDoubleSpinBox, QLineEdit { background: #111317; border: 1px solid #3b404a; border-radius: 3px; padding: 2px 4px; }
QComboBox:disabled, QSpinBox:disabled, QDoubleSpinBox:disabled, QLabel:disabled { color: #5a606b; }
QSlider::groove:vertical { background: #0d0e10; width: 6px; border-radius: 3px; }
QSlider::handle:vertical { background: #c9ced6; height: 14px; margin: 0 -8px; border-radius: 3px; }
QSlider::groove:horizontal { background: #0d0e10; height: 6px; border-radius: 3px; }
QSlider::handle:horizontal { background: #c9ced6; width: 14px; margin: -8px 0; border-radius: 3px; }
QDial { background: #2c3038; }
QStatusBar { background: #101215; color: %(dim)s; }
QScrollArea { border: none; }
QToolTip { background: #2c3038; color: %(text)s; border: 1px solid #3b404a; }
QListWidget { background: #111317; border: 1px solid #30343c; }
""" % {"bg": BG, "text": TEXT, "panel": PANEL, "edge": PANEL_EDGE, "dim": DIM, "accent": ACCENT}


_colours: dict = {}


def colour(name: str) -> QtGui.QColor:
    """A QColor for a name, made once (painting asks for the same few colours every frame)."""
    c = _colours.get(name)
    if c is None:
        c = _colours[name] = QtGui.QColor(name)
    return c
