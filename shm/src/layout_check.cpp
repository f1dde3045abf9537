// The layout pinned from C++: static_asserts on what the protocol relies on,
// and lr_layout_table() so that Python can compare cffi's layout with ours.
#include "looprig/shm_client.h"
#include "segment.hpp"

#include <cstddef>

static_assert(sizeof(void*) == 8, "looprig's segment layout assumes a 64-bit ABI");
static_assert((LR_CMD_RING_SIZE & (LR_CMD_RING_SIZE - 1)) == 0, "ring sizes are powers of two");
static_assert((LR_EVT_RING_SIZE & (LR_EVT_RING_SIZE - 1)) == 0, "ring sizes are powers of two");
static_assert(sizeof(lr_command) == 128 + LR_TEXT_MAX);
static_assert(offsetof(lr_command, text) == 128);
static_assert(sizeof(lr_event) == 64 + LR_MESSAGE_MAX);
static_assert(offsetof(lr_event, message) == 64);
static_assert(sizeof(lr_ring_index) == 128);
static_assert(offsetof(lr_ring_index, read) == 64, "indices on separate cache lines");
static_assert(offsetof(lr_client_slot, cmd) == 64);
static_assert(offsetof(lr_client_slot, commands) % 64 == 0);
static_assert(sizeof(lr_client_slot) % 64 == 0);
static_assert(sizeof(lr_header) == 392);
static_assert(offsetof(lr_header, heartbeat) % 8 == 0 && offsetof(lr_header, frame_time) % 8 == 0);
static_assert(offsetof(lr_header, jack_frame_offset) == 288, "in what was reserved space");
static_assert(sizeof(lr_meter_header) == 136);
static_assert(sizeof(lr_slot_meter) == 96);
static_assert(sizeof(lr_bus_meter) == 32);
static_assert(sizeof(lr_mix_meter) == 704);
static_assert(sizeof(lr_slot_params) == 4 * LR_SLOT_PARAMS);
static_assert(LR_P_SLOT_END <= LR_SLOT_PARAMS, "slot params fit lr_slot_params");
static_assert(LR_P_GROUP_END - LR_P_GROUP_BASE <= LR_GROUP_PARAMS, "group params fit lr_mix_meter");
static_assert(LR_P_GLOBAL_END - LR_P_GLOBAL_BASE <= LR_GLOBAL_PARAMS, "global params fit lr_mix_meter");
static_assert(offsetof(lr_command, param) == 68);
static_assert(sizeof(lr_slot_info) == 160 + LR_TEXT_MAX);

namespace {
const lr_layout_entry kLayout[] = {
#include "layout_table.inc"
};
}  // namespace

extern "C" const lr_layout_entry* lr_layout_table(uint32_t* count) {
    *count = sizeof(kLayout) / sizeof(kLayout[0]);
    return kLayout;
}
