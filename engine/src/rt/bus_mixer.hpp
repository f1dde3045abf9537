// The buses after the slots: group buses, send buses and the effects they
// feed (wired by lr_send_bus: LR_SEND_DELAY feeds the stereo delay,
// LR_SEND_REVERB the reverb), effect returns, the master gain, and the group
// and global params (group gain/mute, effect settings, return levels, master
// gain). An effect sleeps (is not run) once its send has been silent and its
// output below kFxSilence for longer than it remembers; input wakes it at
// once. Owns the bus buffers (one period per channel, cleared only where
// written) and the effects. Every function but the constructor runs on the
// audio thread and is RT safe (no allocation, locks, blocking, I/O); each
// says so.
#pragma once

#include "core_io.hpp"
#include "dsp.hpp"
#include "reverb.hpp"
#include "stereo_delay.hpp"
#include "looprig/shm_layout.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace looprig::rt {

class MusicalGrid;
struct BusMeters;

/// A level param in dB to a linear gain: silence at or below LR_LEVEL_OFF_DB. RT safe.
inline float level_gain(double db) {
    return db <= static_cast<double>(LR_LEVEL_OFF_DB) ? 0.0f : static_cast<float>(dsp::db_to_gain(db));
}

/// Where the slots mix into during one sub-block (already at its offset):
/// the master, each group bus, each send bus (by lr_send_bus).
struct BusInputs {
    float* master[2] = {nullptr, nullptr};
    float* group[LR_GROUPS][2] = {};
    float* send[LR_SENDS][2] = {};
};

/// An effect's sleep: silent frames in a row at its return, and whether it is asleep.
struct FxSleep {
    uint64_t quiet_frames = 0;
    bool asleep = false;
};

class BusMixer {
public:
    static constexpr float kFxSilence = 1e-7f;  // -140 dBFS

    /// Allocates the bus buffers and prepares the effects; every group and
    /// global param at its default (the delay tempo-synced). Not RT safe.
    BusMixer(const MusicalGrid& grid, const CoreConfig& config);

    /// Zero what the last period wrote into the buses (nothing when idle). RT safe.
    void begin_period();
    /// The buses' inputs for the sub-block at `offset` of `out`. RT safe.
    BusInputs inputs(uint32_t offset, const CoreOutputs& out);
    /// The slots wrote frames [0, frames) of the buses this period. RT safe.
    void mark_written(uint32_t frames) { dirty_frames_ = std::max(dirty_frames_, frames); }

    /// Set group param `id` of group `index`, or global param `id` (index
    /// ignored), to v (validated), ramped over the smoothing time unless
    /// `immediate`. RT safe.
    void set_param(uint32_t id, int32_t index, double v, bool immediate);

    /// Groups and effect returns of the sub-block [offset, offset + n) into
    /// the master, then the master gain; bus outs for JACK; the bus meters.
    /// `slots_wrote`: some slot mixed into the buses in this sub-block. RT safe.
    void mix(uint32_t offset, uint32_t n, const CoreOutputs& out, bool slots_wrote, BusMeters& meters);

    /// The effect `bus` feeds is asleep (not run). RT safe.
    bool asleep(lr_send_bus bus) const { return fx_sleep_[bus].asleep; }
    /// Group `g`'s params in force (LR_GROUP_PARAMS, as published). RT safe.
    const double* group_params(uint32_t g) const { return group_params_[g]; }
    /// The global params in force (LR_GLOBAL_PARAMS, as published). RT safe.
    const double* global_params() const { return global_params_; }
    /// The delay time in force (frames). RT safe.
    uint32_t delay_frames() const { return delay_.delay_frames(); }

private:
    /// The delay time in frames now (tempo-synced or in ms), within the line. RT safe.
    uint32_t delay_frames_now(double sample_rate) const;
    /// Run the effect `bus` feeds over n frames. RT safe.
    void run_effect(lr_send_bus bus, const float* in_l, const float* in_r, float* out_l, float* out_r, uint32_t n);
    /// Complete the effect's glides at once (it is asleep: nothing inside it). RT safe.
    void settle_effect(lr_send_bus bus);
    /// How long the effect `bus` feeds remembers its input (frames). RT safe.
    uint64_t memory_frames(lr_send_bus bus) const;

    const MusicalGrid& grid_;
    uint32_t max_frames_;
    uint32_t smooth_frames_;            // ramp of param changes
    std::vector<float> storage_;        // one period per bus channel
    uint32_t dirty_frames_ = 0;         // frames of every bus that may not be zero (idle: 0, no clearing)
    float* group_buf_[LR_GROUPS][2] = {};
    float* send_buf_[LR_SENDS][2] = {};
    float* return_buf_[LR_SENDS][2] = {};
    dsp::Ramp group_gain_[LR_GROUPS];
    dsp::Ramp return_gain_[LR_SENDS];
    dsp::Ramp master_gain_;
    double group_params_[LR_GROUPS][LR_GROUP_PARAMS] = {};  // exact values (published as float)
    double global_params_[LR_GLOBAL_PARAMS] = {};
    double delay_beats_ = 0.0;          // > 0: tempo-synced
    double delay_ms_ = 0.0;
    uint32_t delay_max_frames_ = 1;
    StereoDelay delay_;
    Reverb reverb_;
    /// An effect sleeps once its send bus has been silent and its output below
    /// kFxSilence for longer than it remembers (the delay: its time + 100 ms;
    /// the reverb: 1 s > pre-delay + lines + diffusers), so nothing is left
    /// inside it.
    FxSleep fx_sleep_[LR_SENDS];
    uint64_t fx_sleep_frames_ = 4800;   // beyond the delay time
    uint64_t reverb_memory_frames_ = 48000;
};

}  // namespace looprig::rt
