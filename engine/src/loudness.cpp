#include "loudness.hpp"

#include <ebur128.h>
#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <limits>

namespace looprig {

LoudnessMeter::LoudnessMeter(AudioCore& core, uint32_t sample_rate) : core_(core), sample_rate_(sample_rate) {
    thread_ = std::thread([this] { run(); });
}

LoudnessMeter::~LoudnessMeter() {
    stop_.store(true);
    thread_.join();
}

void LoudnessMeter::run() {
    using namespace std::chrono_literals;
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
    while (!stop_.load()) {
        const uint32_t reset = core_.loudness_reset_generation();
        if (reset != reset_seen) {  // LR_CMD_METER_RESET: integrated loudness starts over
            reset_seen = reset;
            ebur128_destroy(&state);
            state = ebur128_init(2, sample_rate_, kModes);
            if (!state) return;
        }
        bool any = false;
        while (LoudnessBlock* block = core_.loudness_blocks().front()) {
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
        std::this_thread::sleep_for(10ms);
    }
    ebur128_destroy(&state);
}

}  // namespace looprig
