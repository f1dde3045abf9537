#include "loudness.hpp"

#include <ebur128.h>
#include <fmt/format.h>

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace looprig {

LoudnessMeter::LoudnessMeter(AudioCore& core, uint32_t sample_rate) : core_(core), sample_rate_(sample_rate) {
    thread_ = std::thread([this] { run(); });
}

LoudnessMeter::~LoudnessMeter() {
    stop_.store(true);
    core_.loudness_bell().ring();
    thread_.join();
}

uint64_t LoudnessMeter::silence_to_feed(uint64_t skipped, uint32_t sample_rate) {
    // After kLoudnessQuietSeconds of zeros libebur128's state is all zeros
    // (the K-filter's memory, its 3 s window; its first 400 ms block is
    // past) except for where its next 100 ms block boundary and its window's
    // write index lie: more zeros only move those, with a period of the
    // window's length (a whole number of 100 ms steps). Keeping both makes
    // the readings equal to the last bit (the window is summed from the index).
    const uint64_t settle = uint64_t{kLoudnessQuietSeconds} * sample_rate;
    const uint64_t step = (sample_rate + 5) / 10;  // libebur128's samples_in_100ms
    uint64_t window = uint64_t{sample_rate} * 3000 / 1000;  // its audio_data_frames (short-term: 3 s)
    if (window % step) window += step - window % step;
    return skipped <= settle ? skipped : settle + (skipped - settle) % window;
}

void LoudnessMeter::run() {
    pthread_setname_np(pthread_self(), "lr-loudness");
    // HISTOGRAM: integrated loudness from a fixed-size histogram, not a list
    // of every 100 ms block (which grows ~1 MiB an hour and slows down).
    constexpr int kModes = EBUR128_MODE_M | EBUR128_MODE_S | EBUR128_MODE_I | EBUR128_MODE_HISTOGRAM;
    ebur128_state* state = ebur128_init(2, sample_rate_, kModes);
    if (!state) {
        fmt::print(stderr, "looprigd: cannot start the loudness meter (libebur128 init failed)\n");
        return;
    }
    uint32_t reset_seen = core_.loudness_reset_generation();
    const float silent = -std::numeric_limits<float>::infinity();
    auto as_float = [&](double lufs) { return std::isfinite(lufs) ? static_cast<float>(lufs) : silent; };
    static const float zeros[2 * 4096] = {};
    while (!stop_.load()) {
        core_.loudness_bell().clear();  // a block or reset after this look rings again
        bool any = false;
        const uint32_t reset = core_.loudness_reset_generation();
        if (reset != reset_seen) {  // LR_CMD_METER_RESET: integrated loudness starts over
            reset_seen = reset;
            ebur128_destroy(&state);
            state = ebur128_init(2, sample_rate_, kModes);
            if (!state) return;
            any = true;  // published even while the master is silent (no blocks come then)
        }
        while (LoudnessBlock* block = core_.loudness_blocks().front()) {
            // The silence the audio thread skipped, as far as it still matters.
            for (uint64_t z = silence_to_feed(block->silence_before, sample_rate_); z > 0;) {
                const uint64_t n = std::min<uint64_t>(z, 4096);
                ebur128_add_frames_float(state, zeros, n);
                z -= n;
            }
            ebur128_add_frames_float(state, block->samples, block->frames);
            core_.loudness_blocks().pop();
            any = true;
        }
        if (any) {
            double m = -HUGE_VAL, s = -HUGE_VAL, i = -HUGE_VAL;
            ebur128_loudness_momentary(state, &m);
            ebur128_loudness_shortterm(state, &s);
            ebur128_loudness_global(state, &i);
            core_.set_loudness(as_float(m), as_float(s), as_float(i));
        }
        // The audio thread rings with each block it hands over (none once the
        // master has been silent for kLoudnessQuietSeconds) and on a reset.
        core_.loudness_bell().wait();
    }
    ebur128_destroy(&state);
}

}  // namespace looprig
