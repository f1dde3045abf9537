// One loop slot as the audio thread keeps it: one part per job, each defined
// and documented by the unit that owns it.
#pragma once

#include "interim_shifter.hpp"
#include "level_meters.hpp"
#include "loads.hpp"
#include "slot_mixer.hpp"
#include "steady_render.hpp"
#include "voice.hpp"

namespace looprig::rt {

struct Slot {
    LoadedSample loaded;    // loads.hpp: the sample and its published info
    SlotPlayback play;      // voice.hpp: main and tail voice, pending starts/stops
    LoopTiming timing;      // steady_render.hpp: loop tempo/beats, pitch, mode
    SteadyRender steady;    // steady_render.hpp: the render it plays or waits for
    ShifterState shifter;   // interim_shifter.hpp: pitch shift while a render is pending
    SlotStrip strip;        // slot_mixer.hpp: params, strip, gains, sends, bus
    Meter meter;            // level_meters.hpp
};

}  // namespace looprig::rt
