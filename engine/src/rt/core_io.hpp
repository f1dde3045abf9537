// What the audio core is built with (CoreConfig) and what it writes each
// period (CoreOutputs): shared by the core and its units, so that they do not
// depend on the core's own header. Plain data.
#pragma once

#include "looprig/shm_layout.h"

#include <cstdint>

namespace looprig {

namespace rt {
struct MidiInEvent;
}

struct CoreConfig {
    uint32_t slot_count = 32;
    uint32_t sample_rate = 48000;
    uint32_t max_frames = 8192;     // largest period process() accepts
    uint32_t declick_frames = 0;    // start/stop/mute/gain ramp length
    uint32_t schedule_capacity = 4096;
    uint32_t smooth_frames = 960;   // ramp of mixer/effect params (20 ms at 48 kHz)
    double max_delay_seconds = 10.0;  // the delay effect's longest time
    double pan_law_db = -3.0;       // mono sources' pan law: gain at centre (0, -3, -4.5, -6)
};

/// Output buffers for one period; any but the master may be null (not registered).
struct CoreOutputs {
    float* master[2] = {nullptr, nullptr};
    float* const* slot_left = nullptr;
    float* const* slot_right = nullptr;
    float* group[LR_GROUPS][2] = {};       // each group bus after its gain/mute
    float* send[LR_SENDS][2] = {};         // what each send bus feeds its effect
    float* fx_return[LR_SENDS][2] = {};    // each effect's return after its level
    const rt::MidiInEvent* midi_in = nullptr;  // this period's midi_in events (an input, in time order)
    uint32_t midi_in_count = 0;
};

}  // namespace looprig
