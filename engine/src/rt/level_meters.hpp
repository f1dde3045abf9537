// Level meters and what the audio thread publishes each period. Owns:
//  - PeakHold and Meter: the ballistics (per-period peak, 300 ms RMS, 2 s
//    peak hold) of one stereo signal; a slot's Meter lives in its Slot;
//  - BusMeters: the master's, each group's, each send's and each return's;
//  - LoudnessFeed: the master, in blocks, to the loudness thread (silent
//    blocks counted instead of handed over after kLoudnessQuietSeconds);
//  - LevelMeters: publishing the meter area of the segment once per period
//    under its sequence lock (master, buses, slots, params, infos, grid,
//    load, transport), and LR_CMD_METER_RESET.
// Every function but the constructors runs on the audio thread and is RT
// safe (no allocation, locks, blocking, I/O); each says so.
#pragma once

#include "../worker_queues.hpp"
#include "core_io.hpp"
#include "looprig/shm_layout.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace looprig::shm {
class Segment;
}

namespace looprig::rt {

class BusMixer;
class MusicalGrid;
class SteadyRenders;
class Voices;
struct Slot;

constexpr double kRmsWindowSeconds = 0.3;
constexpr double kPeakHoldSeconds = 2.0;

/// The RMS window's one-pole coefficient for a period of `nframes`. RT safe.
inline double rms_coeff(uint32_t nframes, double sample_rate) {
    return std::exp(-static_cast<double>(nframes) / (kRmsWindowSeconds * sample_rate));
}

/// Peak hold: the largest period peak seen in the last hold time; when that
/// peak is older than the hold time the display drops to the current peak.
struct PeakHold {
    float value = 0.0f;
    uint64_t age = 0;  // frames since `value` was seen
    /// RT safe.
    void update(float peak, uint32_t nframes, uint64_t hold_frames) {
        if (peak >= value || age >= hold_frames) {
            value = peak;
            age = 0;
        } else {
            age += nframes;
        }
    }
};

/// Peak (per period), RMS (300 ms window) and peak hold of a stereo signal.
/// All RT safe.
struct Meter {
    PeakHold hold[2];
    float peak[2] = {0, 0};
    double mean_square[2] = {0, 0};
    double block_sum[2] = {0, 0};
    void accumulate(float l, float r) {
        peak[0] = std::max(peak[0], std::fabs(l));
        peak[1] = std::max(peak[1], std::fabs(r));
        block_sum[0] += static_cast<double>(l) * l;
        block_sum[1] += static_cast<double>(r) * r;
    }
    /// Fold this period into the 300 ms window and the peak hold; peak is per period.
    void finish(uint32_t nframes, double coeff, uint64_t hold_frames) {
        for (int c = 0; c < 2; ++c) {
            hold[c].update(peak[c], nframes, hold_frames);
            const double block_ms = nframes ? block_sum[c] / nframes : 0.0;
            mean_square[c] = coeff * mean_square[c] + (1.0 - coeff) * block_ms;
            if (mean_square[c] < 1e-30) mean_square[c] = 0.0;  // no denormals
        }
    }
    void reset_hold() { hold[0] = hold[1] = PeakHold{}; }
    float rms(int c) const { return static_cast<float>(std::sqrt(mean_square[c])); }
    /// Publish into an lr_bus_meter.
    void to(lr_bus_meter& m) const {
        for (int c = 0; c < 2; ++c) {
            m.peak[c] = peak[c];
            m.rms[c] = rms(c);
            m.peak_hold[c] = hold[c].value;
        }
    }
    void begin_period() {
        peak[0] = peak[1] = 0;
        block_sum[0] = block_sum[1] = 0;
    }
};

/// The meters of the master and of every bus (lr_send_bus indexes send/fx_return).
struct BusMeters {
    Meter master;
    Meter group[LR_GROUPS];
    Meter send[LR_SENDS];
    Meter fx_return[LR_SENDS];
    /// RT safe.
    void begin_period();
    /// RT safe.
    void reset_holds();
};

/// Hands the master to the loudness thread in LoudnessBlocks. Once the master
/// has been silent for kLoudnessQuietSeconds, further silent blocks are only
/// counted (the loudness thread sleeps), and handed over as a count with the
/// next block that is not silent.
class LoudnessFeed {
public:
    explicit LoudnessFeed(SpscQueue<LoudnessBlock>& blocks) : blocks_(blocks) {}
    /// Copy `nframes` of the master in. RT safe.
    void feed(const float* left, const float* right, uint32_t nframes, double sample_rate);
    /// Blocks not handed over because the loudness thread was behind. RT safe.
    uint32_t dropped() const { return dropped_; }

private:
    SpscQueue<LoudnessBlock>& blocks_;
    LoudnessBlock block_{};           // filling; handed over when full
    uint32_t dropped_ = 0;
    uint64_t quiet_frames_ = 0;       // silent master frames in a row, in whole blocks
    uint64_t skipped_ = 0;            // silent frames not handed over since the last block
};

/// This period's figures from outside the meters, for publish().
struct PeriodFacts {
    uint64_t period = 0;
    uint64_t frame0 = 0;       // first frame of the period
    uint64_t frame_end = 0;    // frame after its last
    uint32_t nframes = 0;
    uint32_t sample_rate = 48000;
    float load = 0.0f;         // callback time / period, the last one
    float max_load = 0.0f;
    uint32_t xruns = 0;
    uint32_t transport_mode = LR_TRANSPORT_OFF;
    bool transport_rolling = false;
    bool any_solo = false;
};

/// The meters and the publication of the segment's meter area.
class LevelMeters {
public:
    /// Not RT safe.
    LevelMeters(shm::Segment& segment, WorkerQueues& queues, uint32_t sample_rate);

    BusMeters buses;

    /// Start a period: every meter's per-period peak and sum at zero. RT safe.
    void begin_period(std::vector<Slot>& slots);
    /// LR_CMD_METER_RESET: peak holds cleared, the loudness thread restarts. RT safe.
    void reset(std::vector<Slot>& slots);
    /// Finish the period's meters, feed the loudness thread and write the
    /// meter area (seq odd while writing, even after). RT safe.
    void publish(const PeriodFacts& facts, const CoreOutputs& out, std::vector<Slot>& slots, const MusicalGrid& grid,
                 const BusMixer& bus_mixer, const SteadyRenders& renders, const Voices& voices);

private:
    lr_meter_header* meter_header_;
    lr_slot_meter* slot_meters_;
    lr_slot_info* slot_infos_;
    lr_mix_meter* mix_meter_;
    lr_slot_params* slot_params_;
    WorkerQueues& queues_;
    LoudnessFeed loudness_;
    uint64_t hold_frames_;  // peak hold time
};

}  // namespace looprig::rt
