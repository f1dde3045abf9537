// The engine under test and its material: a Rig is the shared harness's
// segment + AudioCore + client place 0 (tests/harness/core_rig.hpp) with
// N loops to load and play and the setup traffic of every mode (loads,
// plays, queued commands, acks, garbage).
#pragma once

#include "core_rig.hpp"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

namespace looprig::bench {

/// A stereo loop of `frames` frames: a sine per channel with a whole number of
/// cycles, so the seam is clean. Not RT safe.
std::unique_ptr<Sample> synth_loop(uint64_t frames, uint32_t rate, uint32_t index);

/// Loop lengths: distinct primes spread over (2 s, 4 s).
std::vector<uint64_t> loop_lengths(uint32_t n, uint32_t rate);

/// A segment, an AudioCore and client place 0, with the setup traffic
/// (loads, play commands, acks). Every method runs on a non-RT thread; only
/// core().process() may run on the audio thread.
class Rig {
public:
    /// `samples`: the loops to load into slots 0..loops-1 (default: synth_loop
    /// sines of loop_lengths()). `auto_play`: play every slot once all are
    /// loaded; otherwise only what send() queues is sent.
    Rig(uint32_t slots, uint32_t rate, uint32_t max_frames, double declick_ms, uint32_t loops,
        std::vector<std::unique_ptr<Sample>> samples = {}, bool auto_play = true);
    ~Rig();
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;

    AudioCore& core() { return *rig_.core; }
    shm::Segment& segment() { return *rig_.segment; }

    /// Push what fits of the loads, then (once all are installed) the plays;
    /// read the acks; free garbage. Call between periods. Not RT safe.
    void pump();
    /// Queue a command for client place 0 (sent, in order, once all loads are
    /// acked); its id is assigned here. Not RT safe.
    void send(lr_command cmd);
    /// Every send() command answered (ack or error).
    bool all_answered() const { return outbox_.empty() && answered_ == sent_; }
    bool loaded() const { return load_acks_ == loops_; }
    /// The latest period (its first frame) that answered a send() command.
    uint64_t last_answer_frame() const { return last_answer_frame_; }
    /// The loop length in beats the engine acked for LOOP_TEMPO on `slot` (0 = none).
    double acked_beats(uint32_t slot) const { return acked_beats_[slot]; }
    bool ready() const { return play_acks_ == loops_; }
    bool failed() const { return errors_ > 0; }
    const std::string& first_error() const { return first_error_; }

    /// Slots the engine's meters say are playing. Not RT safe (reads shm).
    uint32_t playing_slots() const;

private:
    static constexpr uint32_t kSentIds = 200000;
    uint32_t loops_;
    bool auto_play_;
    std::vector<std::unique_ptr<Sample>> samples_;
    test::CoreRig rig_;
    std::deque<lr_command> outbox_;
    uint32_t sent_ = 0, answered_ = 0;
    uint64_t last_answer_frame_ = 0;
    std::vector<double> acked_beats_;
    uint32_t loads_pushed_ = 0, plays_pushed_ = 0;
    uint32_t load_acks_ = 0, play_acks_ = 0, errors_ = 0;
    std::string first_error_;
};

}  // namespace looprig::bench
