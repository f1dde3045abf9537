// A decoded loop at the JACK sample rate, planar float. Made and freed on
// non-RT threads; the audio thread only reads it and counts its references.
#pragma once

#include "looprig/shm_layout.h"

#include <atomic>
#include <cstdint>
#include <vector>

namespace looprig {

/// Which file a sample was decoded from, as it was then (fstat of the
/// descriptor decoded): a session save copies the file only if it is still
/// the same, else writes the decoded audio.
struct SourceIdentity {
    uint64_t device = 0, inode = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const SourceIdentity&) const = default;
};

struct Sample {
    /// Unique per sample made in this process: a session remembers which
    /// audio file it wrote for which sample (a sample never changes).
    const uint64_t serial = next_serial();
    uint64_t frames = 0;                 // loop length at the engine rate
    uint32_t channels = 0;               // of the source: 1 or 2
    uint32_t source_rate = 0;
    uint64_t source_frames = 0;
    std::vector<float> left, right;      // right empty for mono
    char name[LR_SLOT_NAME_MAX] = {};
    char path[LR_TEXT_MAX] = {};         // as given to the load (absolute)
    SourceIdentity source;               // the file `path` was when decoded (all 0: not from a file)
    /// Frames at the end of the cycle that sound the start of frame 0's onset
    /// (a render's transient smear, which its cut puts before the beat): a
    /// fresh start with room for it plays them just before the start frame,
    /// so the first pass sounds like every later one. 0 for loaded files.
    uint32_t pre_roll = 0;

    /// Channel c (mono files read channel 0 for both). RT safe.
    const float* channel(int c) const { return (c == 1 && !right.empty()) ? right.data() : left.data(); }

    int rt_refs = 0;                     // touched by the audio thread only

    static uint64_t next_serial() {
        static std::atomic<uint64_t> counter{0};
        return counter.fetch_add(1, std::memory_order_relaxed) + 1;
    }
};

}  // namespace looprig
