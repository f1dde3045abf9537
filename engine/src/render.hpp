// Offline renders of a loop at another tempo and pitch, made on a non-RT
// thread with Rubber Band's offline (two-pass) mode. A steady loop plays from
// its render; only what is changing is stretched live. Nothing here is RT safe.
#pragma once

#include "sample.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace looprig {

struct RenderSpec {
    uint64_t target_frames = 0;  // exact output length (one loop cycle)
    double pitch_scale = 1.0;    // frequency multiplier, e.g. 2^(7/12); 0.25..4
    bool finer = false;          // R3 (OptionEngineFiner) if true, else R2 (OptionEngineFaster)
    uint32_t sample_rate = 48000;
};

struct RenderResult {
    std::unique_ptr<Sample> sample;  // set on success
    double seconds = 0;              // wall time of the render
    std::string error;               // set on failure (sample is then null)
    int64_t onset_shift = 0;         // frames the cut moved to line up the onsets (step 3b in render.cpp)
};

/// Not RT safe (allocates, runs Rubber Band offline; may take seconds).
/// Stretches one cycle of `source` to exactly spec.target_frames frames and
/// shifts its pitch by spec.pitch_scale, treating the loop as periodic so that
/// the result loops without a click. Frame 0 of the result is the musical
/// position of frame 0 of the source (the grid is kept when a render is
/// swapped in at the same musical position). Channels are processed together
/// (stereo stays phase-locked). Time ratio target/source.frames must lie in
/// [1/8, 8]. A ratio of exactly 1 with pitch 1 returns a copy of the source.
/// Deterministic: the same input and spec give the same output bit for bit.
/// Reentrant: renders may run concurrently on different threads.
RenderResult render_loop(const Sample& source, const RenderSpec& spec);

}  // namespace looprig
