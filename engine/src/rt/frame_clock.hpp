// JACK's frame time is 32 bits and wraps every 2^32 frames (24.9 h at 48 kHz,
// counted from when jackd started). looprig's timeline is 64 bits: this
// extends each period's JACK frame time so that it never wraps. Its low 32
// bits always equal JACK's frame time — also after a reconnection to a
// restarted server, whose counter starts again: the timeline then moves
// forward to the next value with the new server's low 32 bits, never back.
// RT safe.
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
        } else if (resume_) {
            resume_ = false;
            now_ = resume_from_ + static_cast<uint32_t>(jack_frames - static_cast<uint32_t>(resume_from_));
        } else {
            now_ += static_cast<uint32_t>(jack_frames - last_);  // modular step across the wrap
        }
        last_ = jack_frames;
        return now_;
    }

    /// A new JACK server (same process, counter restarted): the next period
    /// continues at or after `at_least`. Call while no period runs (the client
    /// is not active). Not RT safe.
    void resume_after(uint64_t at_least) {
        resume_ = started_;
        resume_from_ = at_least;
    }

private:
    bool resume_ = false;
    uint64_t resume_from_ = 0;
    uint64_t now_ = 0;
    uint32_t last_ = 0;
    bool started_ = false;
};

}  // namespace looprig::rt
