// Validation of commands read from a client ring. Pure functions of the
// command's bytes (the fuzz target of the hardening work).
#pragma once

#include "looprig/shm_client.h"
#include "rt_text.hpp"

#include <cstdint>

namespace looprig::rt {

/// Limits a command's values must respect; documented in docs/PROTOCOL.md.
inline constexpr double kMaxDeclickMs = 100.0;
inline constexpr uint64_t kMaxQuantizeFrames = uint64_t{1} << 40;

/// Checks a command copied out of a client ring. Returns LR_OK or an lr_error
/// and writes why into `why`. Nothing is applied here. RT safe.
int validate_command(const lr_command& cmd, uint32_t slot_count, Text& why);

/// Checks LR_CMD_PARAM against the params table (lr_param_info): known id,
/// target in range, finite value in range, switches 0/1, indices whole. RT safe.
int validate_param(const lr_command& cmd, uint32_t slot_count, Text& why);

/// Name of a command type for messages ("play"), "?" if unknown. RT safe.
const char* command_name(uint32_t type);

/// True for commands that address one slot. RT safe.
bool command_takes_slot(uint32_t type);

}  // namespace looprig::rt
