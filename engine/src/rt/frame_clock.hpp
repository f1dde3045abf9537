// looprig's timeline: 64-bit frames that never wrap and never jump.
//
// JACK's frame time is 32 bits and wraps every 2^32 frames (24.9 h at 48 kHz,
// counted from when jackd started). The timeline extends it to 64 bits across
// the wrap, plus an offset that is 0 until the engine reconnects to a
// restarted server: JACK's counter then starts again from anywhere (often
// near 0), and the first period on the new server continues the timeline
// exactly after the last period on the old one, so frame, beat, loop phases
// and scheduled actions go on as if the outage had not happened. From then on
//     timeline frame = extended JACK frame time + offset()    (mod 2^64)
//     JACK frame time = (timeline frame - offset()) mod 2^32
// The engine publishes offset() as lr_header.jack_frame_offset. RT safe.
#pragma once

#include <cstdint>

namespace looprig::rt {

class FrameClock {
public:
    /// The timeline frame of the period whose JACK frame time is `jack_frames`.
    uint64_t extend(uint32_t jack_frames) {
        if (!started_ || resume_) {
            // First period ever (offset 0: the timeline is JACK's frame time), or
            // the first one on a new server: continue exactly where we stopped.
            offset_ = started_ ? resume_from_ - jack_frames : 0;
            jack_ = jack_frames;
            started_ = true;
            resume_ = false;
        } else {
            jack_ += static_cast<uint32_t>(jack_frames - last_);  // modular step across the wrap
        }
        last_ = jack_frames;
        return jack_ + offset_;
    }

    /// A new JACK server (same process, counter restarted): the next period
    /// starts at timeline frame `next` (the frame after the last one played).
    /// Call while no period runs (no active client). Not RT safe.
    void resume_at(uint64_t next) {
        resume_ = started_;
        resume_from_ = next;
    }

    /// timeline frame - extended JACK frame time (mod 2^64); 0 before any reconnection.
    uint64_t offset() const { return offset_; }

private:
    bool started_ = false;
    bool resume_ = false;
    uint64_t resume_from_ = 0;
    uint64_t jack_ = 0;    // JACK's frame time extended to 64 bits (since the last (re)connection)
    uint64_t offset_ = 0;
    uint32_t last_ = 0;
};

}  // namespace looprig::rt
