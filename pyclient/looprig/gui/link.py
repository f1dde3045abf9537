"""The window's link to the engine: attach, re-attach, commands that never block.

:class:`RigLink` owns the :class:`looprig.Rig`. A display timer calls
:meth:`RigLink.frame` once per frame: it reads the answers that came
(resolving futures, whose callbacks run here, in the GUI thread), sends the
control changes made since the last frame (one command per control: a fader
dragged across 40 values in a frame sends the last one), and takes one
view of the meters for every widget to draw from: the zero-copy
:meth:`looprig.Rig.meter_view` (live arrays on the shared segment; a row may
mix two periods, which a display cannot see, and reading it never waits on
the engine, so a stuck engine cannot freeze the window). The GUI keeps no
copy of the rig's state: what it shows is what the engine publishes.

When the engine goes (killed, stopped, its segment gone), ``frame`` notices
at once (``rig.alive``), closes the Rig and tries to attach again every
``retry_s`` until an engine of that name is back.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, Optional, Tuple

from PyQt6 import QtCore

import looprig

from ..errors import CommandRejected, EngineNotRunning, LooprigError


def describe_error(e: BaseException) -> str:
    """The text a performer sees for a failed call (never a traceback)."""
    if isinstance(e, CommandRejected):
        return "%s: %s" % (e.command or "command", e.message)
    if isinstance(e, LooprigError):
        return str(e)
    if isinstance(e, (ValueError, TypeError, OSError)):
        return str(e)
    return "%s: %s" % (type(e).__name__, e)


class RigLink(QtCore.QObject):
    """Attach to the engine ``name`` and keep attached.

    Signals
    -------
    attached(object) : the new Rig.
    detached(str) : why the Rig went (the window shows it).
    message(str, str) : ``(level, text)``, level ``"error"`` or ``"info"``.
    """

    attached = QtCore.pyqtSignal(object)
    detached = QtCore.pyqtSignal(str)
    detaching = QtCore.pyqtSignal()
    message = QtCore.pyqtSignal(str, str)

    def __init__(self, name: str, retry_s: float = 0.5,
                 attach: Callable[..., Any] = looprig.attach, parent: Optional[QtCore.QObject] = None) -> None:
        super().__init__(parent)
        self.name = name
        self.retry_s = retry_s
        self._attach = attach
        self.rig: Optional[looprig.Rig] = None
        self.meters: Optional[looprig.Meters] = None
        self.gone_reason = "not attached yet"
        self._next_try = 0.0
        self._pending: Dict[Any, Tuple[str, tuple, dict, Optional[str]]] = {}
        self.sent = 0
        self.errors = 0
        self._frames = 0

    # -- per display frame ---------------------------------------------------
    def frame(self) -> Optional[looprig.Meters]:
        """Read answers, flush control changes, snapshot the meters (None: no engine)."""
        now = time.monotonic()
        if self.rig is None:
            if now >= self._next_try:
                self._next_try = now + self.retry_s
                self._try_attach()
            if self.rig is None:
                self.meters = None
                return None
        rig = self.rig
        try:
            # Is the engine process there? (kill(pid, 0) and /proc reads: ~0.3 ms, so 10 times a second.)
            self._frames += 1
            if (self._frames % 6 == 0 and not rig.alive) or rig.engine_state == "stopping":
                raise rig._engine_gone()  # noqa: SLF001 - the Rig's own wording of why
            for notice in rig.poll():
                self.message.emit("error" if not notice.ok else "info", notice.message)
            self._flush()
            if self.meters is None:
                self.meters = rig.meter_view()
        except LooprigError as e:
            self._drop(describe_error(e))
            return None
        return self.meters

    def _try_attach(self) -> None:
        try:
            rig = self._attach(name=self.name, timeout=5.0)
        except EngineNotRunning as e:
            self.gone_reason = describe_error(e)
            return
        except LooprigError as e:
            self.gone_reason = describe_error(e)
            return
        self.rig = rig
        self.meters = None
        self.gone_reason = ""
        self.attached.emit(rig)

    def _drop(self, reason: str) -> None:
        # Listeners drop their references to the live view before the segment is unmapped.
        rig, self.rig = self.rig, None
        self.meters = None
        self.detaching.emit()
        self._pending.clear()
        self.gone_reason = reason
        self._next_try = time.monotonic() + self.retry_s
        if rig is not None:
            try:
                rig.close()
            except Exception:  # noqa: BLE001 - it is gone either way
                pass
        self.detached.emit(reason)

    def close(self) -> None:
        if self.rig is not None:
            self._flush()
            self.meters = None
            self.detaching.emit()
            rig, self.rig = self.rig, None
            try:
                rig.close()
            except Exception:  # noqa: BLE001
                pass

    # -- commands --------------------------------------------------------------
    def call(self, method: str, *args: Any, done: Optional[Callable[[Any], None]] = None,
             describe: Optional[str] = None, **kwargs: Any) -> Any:
        """Send ``rig.nowait.<method>(*args, **kwargs)`` now; never waits.

        Errors (refusals, bad values, no engine) become a ``message``; ``done``
        gets the answer when it comes; ``describe`` (a format with ``{msg}``,
        the engine's answer) is shown as info when it succeeds.
        """
        rig = self.rig
        if rig is None:
            self.message.emit("error", "%s: no engine %r attached (%s)" % (method, self.name, self.gone_reason))
            return None
        try:
            fut = getattr(rig.nowait, method)(*args, **kwargs)
        except Exception as e:  # noqa: BLE001 - bad values raise here, before anything is sent
            self.errors += 1
            self.message.emit("error", describe_error(e))
            return None
        self.sent += 1
        fut.add_done_callback(lambda f: self._answered(f, done, describe))
        return fut

    def submit_batch(self, commands: list, *, quantize: Any = None, describe: Optional[str] = None) -> Any:
        """``rig.submit_batch`` (one batch: one frame), errors as messages."""
        rig = self.rig
        if rig is None or not commands:
            if rig is None:
                self.message.emit("error", "no engine %r attached" % self.name)
            return None
        try:
            fut = rig.submit_batch(commands, quantize=quantize)
        except Exception as e:  # noqa: BLE001
            self.message.emit("error", describe_error(e))
            return None
        self.sent += 1
        fut.add_done_callback(lambda f: self._answered(f, None, describe))
        return fut

    def set_later(self, key: Any, method: str, *args: Any, **kwargs: Any) -> None:
        """Queue a control change for the next frame; a newer one with the same key replaces it."""
        self._pending[key] = (method, args, kwargs, None)

    def _flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        for method, args, kwargs, describe in pending.values():
            self.call(method, *args, describe=describe, **kwargs)

    def _answered(self, fut: Any, done: Optional[Callable[[Any], None]], describe: Optional[str]) -> None:
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self.errors += 1
            self.message.emit("error", describe_error(exc))
            return
        result = fut.result()
        if describe:
            if isinstance(result, list):  # a batch: one answer per command
                msgs = [getattr(a, "message", "") or str(a) for a in result]
                msg = msgs[0] if len(msgs) == 1 else "%s (+%d more)" % (msgs[0], len(msgs) - 1) if msgs else "done"
            else:
                msg = getattr(result, "message", None) or str(result)
            self.message.emit("info", describe.format(msg=msg))
        if done is not None:
            done(result)
