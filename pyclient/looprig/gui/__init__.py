"""looprig's performer window (PyQt6 + pyqtgraph), a client like any other.

Nothing here is imported by ``import looprig``: the CLI's ``gui`` command
imports :mod:`looprig.gui.app` when it runs, so scripts never load Qt.
Modules: ``link`` (attach, re-attach, commands sent without blocking, one
meter snapshot per display frame), ``ballistics`` and ``waveform`` (no Qt:
meter ballistics and file overviews), ``widgets`` (painted cells, meters,
knobs), ``panels`` (launcher, slot detail, master), ``app`` (the window).
"""
