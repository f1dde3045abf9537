#include "command.hpp"

#include "param_check.hpp"

#include <bit>
#include <cmath>

namespace looprig::rt {

const char* command_name(uint32_t type) {
    switch (type) {
        case LR_CMD_PING: return "ping";
        case LR_CMD_LOAD: return "load";
        case LR_CMD_UNLOAD: return "unload";
        case LR_CMD_PLAY: return "play";
        case LR_CMD_STOP: return "stop";
        case LR_CMD_GAIN: return "gain";
        case LR_CMD_PAN: return "pan";
        case LR_CMD_MUTE: return "mute";
        case LR_CMD_SOLO: return "solo";
        case LR_CMD_DECLICK: return "declick";
        case LR_CMD_TEMPO: return "tempo";
        case LR_CMD_TIME_SIGNATURE: return "time-signature";
        case LR_CMD_LOOP_TEMPO: return "loop-tempo";
        case LR_CMD_PITCH: return "pitch";
        case LR_CMD_MODE: return "mode";
        case LR_CMD_TRANSPORT: return "transport";
        case LR_CMD_PARAM: return "param";
        case LR_CMD_METER_RESET: return "meter-reset";
        case LR_CMD_SESSION_SAVE: return "save";
        case LR_CMD_SESSION_OPEN: return "open";
        case LR_CMD_MIDI_LEARN: return "midi-learn";
        case LR_CMD_MIDI_MAP: return "midi-map";
        default: return "?";
    }
}

bool command_takes_slot(uint32_t type) {
    switch (type) {
        case LR_CMD_LOAD: case LR_CMD_UNLOAD: case LR_CMD_PLAY: case LR_CMD_STOP:
        case LR_CMD_GAIN: case LR_CMD_PAN: case LR_CMD_MUTE: case LR_CMD_SOLO:
        case LR_CMD_LOOP_TEMPO: case LR_CMD_PITCH: case LR_CMD_MODE:
            return true;
        default:
            return false;
    }
}

namespace {
using shm::is_subnormal;

/// The param that holds what a per-slot setting command sets.
uint32_t slot_setting_param(uint32_t type) {
    switch (type) {
        case LR_CMD_GAIN: return LR_P_GAIN;
        case LR_CMD_PAN: return LR_P_PAN;
        case LR_CMD_MUTE: return LR_P_MUTE;
        case LR_CMD_SOLO: return LR_P_SOLO;
        case LR_CMD_PITCH: return LR_P_PITCH;
        default: return LR_P_MODE;
    }
}

int bad_value(Text& why, const char* what, double v, const char* range) {
    why << what << " " << v << " is out of range (" << range << ")";
    return LR_E_BAD_VALUE;
}
}  // namespace

int validate_param(const lr_command& cmd, uint32_t slot_count, Text& why) {
    const lr_param_desc* p = lr_param_info(cmd.param);
    if (!p) {
        why << "unknown param " << cmd.param;
        return LR_E_BAD_VALUE;
    }
    if (p->target == LR_TARGET_SLOT && (cmd.slot < 0 || static_cast<uint32_t>(cmd.slot) >= slot_count)) {
        why << p->name << ": slot " << cmd.slot << " out of range (0.." << (slot_count - 1) << ")";
        return LR_E_BAD_SLOT;
    }
    if (p->target == LR_TARGET_GROUP && (cmd.slot < 0 || cmd.slot >= LR_GROUPS)) {
        why << p->name << ": group " << cmd.slot << " out of range (0.." << int32_t{LR_GROUPS - 1} << ")";
        return LR_E_BAD_SLOT;
    }
    return shm::check_param_value(*p, cmd.value[0], why);  // the table's value rules, shared with lr_param_check()
}

int validate_command(const lr_command& cmd, uint32_t slot_count, Text& why) {
    const uint32_t type = cmd.type;
    if (type == LR_CMD_NOP || type >= LR_CMD_TYPE_COUNT) {
        why << "unknown command type " << type;
        return LR_E_UNKNOWN_COMMAND;
    }
    if (cmd.id == 0) {
        why << "command id 0 is reserved";
        return LR_E_BAD_MESSAGE;
    }
    if (cmd.flags & ~uint32_t{LR_CMD_F_AT | LR_CMD_F_BATCH}) {
        why << "unknown flags " << uint32_t{cmd.flags};
        return LR_E_BAD_MESSAGE;
    }
    if (cmd.text_len > LR_TEXT_MAX) {
        why << "text length " << cmd.text_len << " exceeds " << uint32_t{LR_TEXT_MAX};
        return LR_E_BAD_MESSAGE;
    }
    if (command_takes_slot(type) && (cmd.slot < 0 || static_cast<uint32_t>(cmd.slot) >= slot_count)) {
        why << "slot " << cmd.slot << " out of range (0.." << (slot_count - 1) << ")";
        return LR_E_BAD_SLOT;
    }
    const bool schedulable = type == LR_CMD_PLAY || type == LR_CMD_STOP || type == LR_CMD_TEMPO || type == LR_CMD_PARAM;
    if (cmd.quantize != LR_Q_NONE) {
        if (!schedulable) {
            why << command_name(type) << " cannot be quantized";
            return LR_E_QUANTIZE;
        }
        if (cmd.quantize == LR_Q_SLOT) {
            if (cmd.quantize_arg >= slot_count) {
                why << "quantize reference slot " << cmd.quantize_arg << " out of range (0.." << (slot_count - 1)
                    << ")";
                return LR_E_QUANTIZE;
            }
        } else if (cmd.quantize == LR_Q_FRAMES) {
            if (cmd.quantize_arg == 0 || cmd.quantize_arg > kMaxQuantizeFrames) {
                why << "quantize cycle of " << cmd.quantize_arg << " frames is out of range (1.."
                    << kMaxQuantizeFrames << ")";
                return LR_E_QUANTIZE;
            }
        } else if (cmd.quantize == LR_Q_BEAT || cmd.quantize == LR_Q_BAR) {
            if (cmd.quantize_arg > 1024) {
                why << "quantize every " << cmd.quantize_arg << (cmd.quantize == LR_Q_BEAT ? " beats" : " bars")
                    << " is out of range (0..1024)";
                return LR_E_QUANTIZE;
            }
        } else {
            why << "unknown quantize mode " << cmd.quantize;
            return LR_E_QUANTIZE;
        }
    }
    const double v = cmd.value[0];
    const bool valued = type != LR_CMD_PING && type != LR_CMD_LOAD && type != LR_CMD_UNLOAD && type != LR_CMD_PLAY &&
                        type != LR_CMD_STOP && type != LR_CMD_METER_RESET && type != LR_CMD_SESSION_SAVE &&
                        type != LR_CMD_SESSION_OPEN && type != LR_CMD_MIDI_LEARN;
    if (valued && (is_subnormal(v) || (type == LR_CMD_LOOP_TEMPO && is_subnormal(cmd.value[1])))) {
        why << command_name(type) << ": value " << (is_subnormal(v) ? v : cmd.value[1])
            << " is subnormal (too close to 0 to be told from 0)";
        return LR_E_BAD_VALUE;
    }
    switch (type) {
        case LR_CMD_GAIN:
        case LR_CMD_PAN:
        case LR_CMD_MUTE:
        case LR_CMD_SOLO:
        case LR_CMD_PITCH:
        case LR_CMD_MODE: {
            // The same rules as their params (one table).
            const int code = shm::check_param_value(*lr_param_info(slot_setting_param(type)), v, why);
            if (code != LR_OK) return code;
            break;
        }
        case LR_CMD_TEMPO:
            if (!std::isfinite(v) || v < 20.0 || v > 400.0) return bad_value(why, "tempo", v, "20..400 BPM");
            break;
        case LR_CMD_TIME_SIGNATURE:
            if (!std::isfinite(v) || v < 1.0 || v > 32.0 || v != std::floor(v))
                return bad_value(why, "meter", v, "1..32 beats per bar");
            break;
        case LR_CMD_LOOP_TEMPO: {
            const double beats = cmd.value[1];
            if (!std::isfinite(v) || !std::isfinite(beats) || v < 0.0 || beats < 0.0)
                return bad_value(why, "loop tempo", std::isfinite(v) && v >= 0.0 ? beats : v, "a BPM of 20..400 or 0.25..1024 beats");
            if (beats > 0.0 && (beats < 0.25 || beats > 1024.0)) return bad_value(why, "loop length", beats, "0.25..1024 beats");
            if (beats == 0.0 && v != 0.0 && (v < 20.0 || v > 400.0)) return bad_value(why, "loop tempo", v, "20..400 BPM");
            break;
        }
        case LR_CMD_TRANSPORT:
            if (v != double{LR_TRANSPORT_OFF} && v != double{LR_TRANSPORT_FOLLOW} && v != double{LR_TRANSPORT_MASTER})
                return bad_value(why, "transport", v, "0 = off, 1 = follow, 2 = master");
            break;
        case LR_CMD_DECLICK:
            if (!std::isfinite(v) || v < 0.0 || v > kMaxDeclickMs) return bad_value(why, "declick", v, "0..100 ms");
            break;
        case LR_CMD_PARAM: {
            const int code = validate_param(cmd, slot_count, why);
            if (code != LR_OK) return code;
            break;
        }
        case LR_CMD_MIDI_LEARN:
            if (cmd.text_len == 0 || cmd.text_len >= LR_TEXT_MAX) {
                why << "midi-learn needs a target (docs/MIDI.md), e.g. 'toggle 3'";
                return LR_E_BAD_VALUE;
            }
            break;
        case LR_CMD_MIDI_MAP:
            if (v != double{LR_MIDI_MAP_LOAD} && v != double{LR_MIDI_MAP_SAVE} && v != double{LR_MIDI_MAP_CLEAR})
                return bad_value(why, "midi-map", v, "0 = load, 1 = save, 2 = clear");
            if (v == double{LR_MIDI_MAP_SAVE} && cmd.text_len == 0) {
                why << "midi-map save needs a file path";
                return LR_E_BAD_VALUE;
            }
            if (cmd.text_len == 0 || v == double{LR_MIDI_MAP_CLEAR}) break;
            [[fallthrough]];
        case LR_CMD_SESSION_SAVE:
        case LR_CMD_SESSION_OPEN:
            if (type == LR_CMD_SESSION_OPEN && cmd.value[0] != 0.0 && cmd.value[0] != 1.0)
                return bad_value(why, "open: play", cmd.value[0], "0 or 1");
            if (cmd.text_len == 0) break;  // the session in use
            [[fallthrough]];
        case LR_CMD_LOAD: {
            if (cmd.text_len == 0 || cmd.text_len >= LR_TEXT_MAX) {
                why << command_name(type) << (type == LR_CMD_LOAD ? " needs a file path of 1.." : " needs a path of 1..") << uint32_t{LR_TEXT_MAX - 1} << " bytes";
                return LR_E_BAD_VALUE;
            }
            for (uint32_t i = 0; i < cmd.text_len; ++i) {
                if (cmd.text[i] == '\0') {
                    why << "file path contains a NUL byte";
                    return LR_E_BAD_VALUE;
                }
            }
            if (cmd.text[0] != '/') {
                why << (type == LR_CMD_LOAD || type == LR_CMD_MIDI_MAP ? "file" : "session") << " path must be absolute";
                return LR_E_BAD_VALUE;
            }
            break;
        }
        default:
            break;
    }
    if ((cmd.flags & LR_CMD_F_AT) && !schedulable && type != LR_CMD_GAIN && type != LR_CMD_PAN &&
        type != LR_CMD_MUTE && type != LR_CMD_SOLO) {
        why << command_name(type) << " cannot be scheduled at a frame";
        return LR_E_BAD_MESSAGE;
    }
    return LR_OK;
}

}  // namespace looprig::rt
