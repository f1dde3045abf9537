"""Exceptions raised by the looprig client.

Hierarchy::

    LooprigError
    ├── LibraryNotFound        (also OSError)   liblooprig-shm.so not loadable
    ├── EngineNotRunning                        no engine / engine died
    ├── AttachError                             segment unusable, no client place
    ├── Detached                                the engine reclaimed our place
    ├── CommandRejected                         ERROR event: engine's code + text
    └── Timeout                (also TimeoutError)
        ├── RingFull                            command ring stayed full
        └── EngineStalled                       engine alive, but runs no periods
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "LooprigError",
    "LibraryNotFound",
    "EngineNotRunning",
    "AttachError",
    "Detached",
    "CommandRejected",
    "Timeout",
    "RingFull",
    "EngineStalled",
]


class LooprigError(Exception):
    """Base class of every error raised by :mod:`looprig`."""


class LibraryNotFound(LooprigError, OSError):
    """``liblooprig-shm.so`` could not be opened (the message says where it looked)."""


class EngineNotRunning(LooprigError):
    """No engine of that name is running, or it exited while we waited.

    Parameters
    ----------
    message : str
        Human readable explanation.
    name : str, optional
        Engine name.
    pid : int, optional
        The engine's process id (when it was attached to it).
    """

    def __init__(self, message: str, name: Optional[str] = None, pid: Optional[int] = None) -> None:
        super().__init__(message)
        self.name = name
        self.pid = pid


class AttachError(LooprigError):
    """The segment exists but cannot be used (bad ABI, permission, no free client place).

    Attributes
    ----------
    code : int
        The negative ``lr_attach_error`` value.
    """

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


class Detached(LooprigError):
    """The engine reclaimed this client's place; attach again."""


class CommandRejected(LooprigError):
    """The engine answered a command with an ERROR event.

    Attributes
    ----------
    code : int
        ``lr_error`` value (e.g. 2).
    code_name : str
        Its name (e.g. ``"LR_E_BAD_SLOT"``).
    message : str
        The engine's own explanation (the contract: shown to users as is).
    slot : int
        Slot the command addressed.
    command : str
        Command name (``"play"``, ``"load"``, ...).
    id : int
        Command id.
    """

    def __init__(
        self,
        code: int,
        code_name: str,
        message: str,
        slot: int,
        command: str,
        id: int = 0,
    ) -> None:
        super().__init__("%s (%s)" % (message, code_name))
        self.code = code
        self.code_name = code_name
        self.message = message
        self.slot = slot
        self.command = command
        self.id = id


class Timeout(LooprigError, TimeoutError):
    """No answer from the engine within the timeout."""


class RingFull(Timeout):
    """The command ring stayed full for the whole timeout (engine not consuming)."""


class EngineStalled(Timeout):
    """The engine process lives but has run no period for a while (its
    heartbeat stopped): stopped with SIGSTOP, stuck, or its JACK server stalled.

    Attributes
    ----------
    pid : int
        The engine's process id.
    seconds : float
        How long its heartbeat has not advanced.
    """

    def __init__(self, message: str, pid: int = 0, seconds: float = 0.0) -> None:
        super().__init__(message)
        self.pid = pid
        self.seconds = seconds
