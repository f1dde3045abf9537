// EBU R128 loudness of the master (libebur128), measured on its own thread:
// the audio thread only copies the master into blocks handed over lock-free
// (AudioCore::loudness_blocks()); this thread feeds libebur128 and hands the
// momentary (400 ms), short-term (3 s) and integrated (gated) loudness back
// through atomics that the audio thread publishes every period. The thread
// sleeps until the audio thread hands over a block (or asks for a reset);
// after kLoudnessQuietSeconds of silence no blocks come (see
// LoudnessBlock::silence_before). Not RT safe.
#pragma once

#include "rt/audio_core.hpp"

#include <atomic>
#include <thread>

namespace looprig {

class LoudnessMeter {
public:
    LoudnessMeter(AudioCore& core, uint32_t sample_rate);
    ~LoudnessMeter();
    LoudnessMeter(const LoudnessMeter&) = delete;
    LoudnessMeter& operator=(const LoudnessMeter&) = delete;

    /// Zeros to feed libebur128 for `skipped` silent frames the audio thread
    /// did not hand over (LoudnessBlock::silence_before): the same readings
    /// as feeding all of them, at most kLoudnessQuietSeconds + 3 s of work.
    static uint64_t silence_to_feed(uint64_t skipped, uint32_t sample_rate);

private:
    void run();
    AudioCore& core_;
    uint32_t sample_rate_;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

}  // namespace looprig
