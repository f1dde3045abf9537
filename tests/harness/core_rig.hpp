// The pieces every AudioCore harness needs, shared by the unit tests
// (core_harness.hpp), the fuzz target and the benchmark (tools/lr-bench/):
// a segment with an AudioCore on it and client place 0 attached, samples made
// in memory, and commands built like a client's. Header-only; not RT safe
// (only core->process() may run on an audio thread).
#pragma once

#include "audio_core.hpp"
#include "ring.hpp"
#include "sample.hpp"
#include "segment.hpp"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <unistd.h>
#include <utility>
#include <vector>

namespace looprig::test {

/// A sample as the loader would hand it over: mono when `right` is empty,
/// already at the engine rate (source frames = frames).
inline Sample* make_sample(std::vector<float> left, std::vector<float> right = {}, uint32_t source_rate = 48000,
                           const char* name = "test") {
    auto* s = new Sample;
    s->frames = left.size();
    s->channels = right.empty() ? 1 : 2;
    s->source_rate = source_rate;
    s->source_frames = left.size();
    s->left = std::move(left);
    s->right = std::move(right);
    std::snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

/// A command as a client writes it (the id is the sender's to fill in).
inline lr_command make_command(uint16_t type, int32_t slot = 0, double value = 0.0, bool at = false,
                               uint64_t at_frame = 0, uint32_t quantize = LR_Q_NONE, uint64_t quantize_arg = 0) {
    lr_command c{};
    c.type = type;
    c.slot = slot;
    c.value[0] = value;
    c.flags = at ? LR_CMD_F_AT : 0;
    c.at_frame = at_frame;
    c.quantize = quantize;
    c.quantize_arg = quantize_arg;
    return c;
}

/// LR_CMD_PARAM `id` = `value` for slot/group `target` (ignored for global
/// params); the id is the sender's to fill in.
inline lr_command make_param(uint32_t id, int32_t target, double value, bool at = false, uint64_t at_frame = 0) {
    lr_command c{};
    c.type = LR_CMD_PARAM;
    c.param = id;
    c.slot = target;
    c.value[0] = value;
    c.flags = at ? LR_CMD_F_AT : 0;
    c.at_frame = at_frame;
    return c;
}

/// A segment named `segment_name` with cfg.slot_count slots, an AudioCore on
/// it, and client place 0 claimed by this process (active): its command ring
/// to write, its event ring to read. The core is destroyed before the segment.
struct CoreRig {
    std::unique_ptr<shm::Segment> segment;
    std::unique_ptr<AudioCore> core;
    shm::RingProducer<lr_command> commands;
    shm::RingConsumer<lr_event> events;
    uint32_t generation = 0;  // client place 0's, as the loader stamps its results

    CoreRig(const std::string& segment_name, const CoreConfig& cfg) {
        segment = shm::Segment::create(segment_name, cfg.slot_count);
        core = std::make_unique<AudioCore>(*segment, cfg);
        lr_client_slot* c = segment->client(0);
        commands = shm::RingProducer<lr_command>(&c->cmd, c->commands, LR_CMD_RING_SIZE);
        events = shm::RingConsumer<lr_event>(&c->evt, c->events, LR_EVT_RING_SIZE);
        generation = c->generation;
        shm::store_release(c->owner_pid, static_cast<uint32_t>(::getpid()));
        shm::store_release(c->state, LR_CLIENT_ACTIVE);
    }

    /// What the loader pushes to core->load_results() for client place 0's
    /// load `id` of `sample` into `slot` (the core takes the sample over).
    LoadResult load_result(int32_t slot, Sample* sample, uint32_t id) const {
        LoadResult r;
        r.client = 0;
        r.generation = generation;
        r.id = id;
        r.slot = slot;
        r.code = LR_OK;
        r.sample = sample;
        return r;
    }
};

}  // namespace looprig::test
