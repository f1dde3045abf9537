// JACK's frame time is 32 bits and wraps every 2^32 frames (24.9 h at 48 kHz,
// counted from when jackd started). looprig's timeline is 64 bits: this
// extends each period's JACK frame time so that it never wraps. Its low 32
// bits always equal JACK's frame time. RT safe.
#pragma once

#include <cstdint>

namespace looprig::rt {

class FrameClock {
public:
    /// The 64-bit frame time of the period whose JACK frame time is `jack_frames`.
    uint64_t extend(uint32_t jack_frames) {
        if (!started_) {
            started_ = true;
            now_ = jack_frames;
        } else {
            now_ += static_cast<uint32_t>(jack_frames - last_);  // modular step across the wrap
        }
        last_ = jack_frames;
        return now_;
    }

private:
    uint64_t now_ = 0;
    uint32_t last_ = 0;
    bool started_ = false;
};

}  // namespace looprig::rt
