// Actions waiting for their JACK frame, and the quantize grid arithmetic.
// Fixed capacity, allocated once; all operations but the constructor RT safe.
#pragma once

#include <cstdint>
#include <vector>

namespace looprig::rt {

/// Commands may be scheduled at most this far ahead (about 24 h at 48 kHz).
inline constexpr uint64_t kMaxScheduleAhead = uint64_t{1} << 32;

/// Action type of the engine's own: start a fresh loop's pre-roll (see
/// Sample::pre_roll); value = the start frame it leads into.
inline constexpr uint32_t kActionPreRoll = 0x10000;

struct Action {
    uint64_t frame = 0;
    uint64_t seq = 0;      // arrival order: equal frames apply in arrival order
    uint32_t type = 0;     // lr_command_type
    int32_t slot = 0;
    double value = 0.0;
    uint32_t param = 0;    // lr_param, for LR_CMD_PARAM
};

class Schedule {
public:
    explicit Schedule(uint32_t capacity) : items_(capacity) {}  // not RT safe

    /// False if full. O(n) insertion keeps the array sorted latest-first.
    bool insert(Action a) {
        if (count_ == items_.size()) return false;
        a.seq = next_seq_++;
        uint32_t i = count_;
        while (i > 0 && before(items_[i - 1], a)) {
            items_[i] = items_[i - 1];
            --i;
        }
        items_[i] = a;
        ++count_;
        return true;
    }
    bool empty() const { return count_ == 0; }
    uint32_t size() const { return count_; }
    uint32_t capacity() const { return static_cast<uint32_t>(items_.size()); }
    const Action& earliest() const { return items_[count_ - 1]; }
    Action pop_earliest() { return items_[--count_]; }
    /// Drop every waiting action (a session being opened replaces the rig).
    void clear() { count_ = 0; }

private:
    // x is due before y: earlier frame, or same frame and earlier arrival.
    static bool before(const Action& x, const Action& y) {
        return x.frame < y.frame || (x.frame == y.frame && x.seq < y.seq);
    }
    std::vector<Action> items_;
    uint32_t count_ = 0;
    uint64_t next_seq_ = 0;
};

/// Smallest multiple of `cycle` that is >= frame.
inline uint64_t next_multiple(uint64_t frame, uint64_t cycle) {
    const uint64_t r = frame % cycle;
    return r == 0 ? frame : frame + (cycle - r);
}

/// Smallest origin + k * length (k >= 0) that is >= frame.
inline uint64_t next_grid_point(uint64_t frame, uint64_t origin, uint64_t length) {
    if (frame <= origin) return origin;
    return origin + next_multiple(frame - origin, length);
}

}  // namespace looprig::rt
