"""Name <-> value tables derived from the C enums in the cdef (never hand-written)."""

from __future__ import annotations

from typing import Dict

from ._ffi import ffi


def _enum(ctype: str, prefix: str) -> Dict[str, int]:
    """Return ``{short_lower_name: value}`` of a C enum, dropping ``prefix``."""
    out: Dict[str, int] = {}
    for full, value in sorted(ffi.typeof(ctype).relements.items(), key=lambda kv: kv[1]):
        if full.startswith(prefix):
            out[full[len(prefix):].lower()] = value
    return out


#: ``{"ping": 1, "load": 2, ...}`` from ``enum lr_command_type``.
COMMANDS: Dict[str, int] = {
    k: v for k, v in _enum("enum lr_command_type", "LR_CMD_").items() if k != "type_count"
}
COMMAND_NAMES: Dict[int, str] = {v: k for k, v in COMMANDS.items()}
#: Old names of renamed commands (ABI 1-2), still accepted: "meter" now names
#: only the level meters; the time signature is "time_signature".
COMMAND_ALIASES: Dict[str, str] = {"meter": "time_signature"}
COMMANDS.update({old: COMMANDS[new] for old, new in COMMAND_ALIASES.items()})

#: ``{"ack": 1, "error": 2, "info": 3}``
EVENT_TYPES: Dict[str, int] = _enum("enum lr_event_type", "LR_EVT_")
EVENT_TYPE_NAMES: Dict[int, str] = {v: k for k, v in EVENT_TYPES.items()}

#: ``{"none": 0, "slot": 1, "frames": 2, "beat": 3, "bar": 4}``
QUANTIZE: Dict[str, int] = _enum("enum lr_quantize", "LR_Q_")

SLOT_STATES: Dict[str, int] = _enum("enum lr_slot_state", "LR_SLOT_")
SLOT_STATE_NAMES: Dict[int, str] = {v: k for k, v in SLOT_STATES.items()}

#: ``{"stretch": 0, "varispeed": 1}`` from ``enum lr_slot_mode``.
MODES: Dict[str, int] = _enum("enum lr_slot_mode", "LR_MODE_")
MODE_NAMES: Dict[int, str] = {v: k for k, v in MODES.items()}

#: ``{"off": 0, "follow": 1, "master": 2}`` from ``enum lr_transport_mode``.
TRANSPORT_MODES: Dict[str, int] = _enum("enum lr_transport_mode", "LR_TRANSPORT_")
TRANSPORT_MODE_NAMES: Dict[int, str] = {v: k for k, v in TRANSPORT_MODES.items()}

#: ``{"delay": 0, "reverb": 1}`` from ``enum lr_send_bus`` (index of the bus;
#: users count send buses from 1).
SEND_BUSES: Dict[str, int] = _enum("enum lr_send_bus", "LR_SEND_")
SEND_BUS_NAMES: Dict[int, str] = {v: k for k, v in SEND_BUSES.items()}

#: Levels in dB at or below this are silence (``LR_LEVEL_OFF_DB``).
LEVEL_OFF_DB: float = float(ffi.typeof("enum lr_level_floor").relements["LR_LEVEL_OFF_DB"])

#: ``{"none": 0, "pending": 1, "ready": 2}`` from ``enum lr_render_state``.
RENDER_STATES: Dict[str, int] = _enum("enum lr_render_state", "LR_RENDER_")
RENDER_STATE_NAMES: Dict[int, str] = {v: k for k, v in RENDER_STATES.items()}

#: ``{"none": 0, "clean": 1, "dirty": 2}`` from ``enum lr_session_state`` (``lr_header.session_state``).
SESSION_STATES: Dict[str, int] = _enum("enum lr_session_state", "LR_SESSION_")
SESSION_STATE_NAMES: Dict[int, str] = {v: k for k, v in SESSION_STATES.items()}

ENGINE_STATES: Dict[str, int] = _enum("enum lr_engine_state", "LR_ENGINE_")
ENGINE_STATE_NAMES: Dict[int, str] = {v: k for k, v in ENGINE_STATES.items()}

#: ``{"muted": 1, "soloed": 2, "start_pending": 4, ...}``
SLOT_FLAGS: Dict[str, int] = _enum("enum lr_slot_flags", "LR_SLOT_F_")

#: ``{"LR_E_BAD_SLOT": 2, ...}`` (full names, as the engine reports them)
ERRORS: Dict[str, int] = dict(sorted(ffi.typeof("enum lr_error").relements.items(), key=lambda kv: kv[1]))
ERROR_NAMES: Dict[int, str] = {v: k for k, v in ERRORS.items()}

ATTACH_ERRORS: Dict[str, int] = dict(ffi.typeof("enum lr_attach_error").relements)
SEND_ERRORS: Dict[str, int] = dict(ffi.typeof("enum lr_send_error").relements)
