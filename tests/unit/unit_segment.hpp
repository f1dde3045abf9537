// A segment for the audio core's unit tests, and a client's ends of a place's
// rings (what liblooprig-shm does for a real client). Header-only; not RT safe.
#pragma once

#include "ring.hpp"
#include "sample.hpp"
#include "segment.hpp"

#include <cstring>
#include <memory>
#include <string>
#include <unistd.h>
#include <vector>

namespace looprig::test {

/// A fresh segment of `slots` slots (unlinked when it is destroyed).
inline std::unique_ptr<shm::Segment> make_segment(uint32_t slots, const char* suite) {
    static int counter = 0;
    return shm::Segment::create(std::string("unit-") + suite + "-" + std::to_string(getpid()) + "-" +
                                    std::to_string(counter++),
                                slots);
}

/// The client side of place `place`: marked active by this process, its
/// command ring to write and its event ring to read.
struct ClientEnds {
    lr_client_place* place = nullptr;
    shm::RingProducer<lr_command> commands;
    shm::RingConsumer<lr_event> events;

    ClientEnds(shm::Segment& segment, uint32_t index) : place(segment.client(index)) {
        place->owner_pid = static_cast<uint32_t>(getpid());
        place->state = LR_CLIENT_ACTIVE;
        commands = shm::RingProducer<lr_command>(&place->cmd, place->commands, LR_CMD_RING_SIZE);
        events = shm::RingConsumer<lr_event>(&place->evt, place->events, LR_EVT_RING_SIZE);
    }
    /// Every event visible now.
    std::vector<lr_event> drain() {
        std::vector<lr_event> all;
        lr_event e{};
        while (events.pop_into(&e)) all.push_back(e);
        return all;
    }
};

/// A looping sample in memory whose left channel counts 0, 1, 2, ... and
/// whose right channel is its negative (mono when `stereo` is false).
inline Sample* counting_sample(uint64_t frames, bool stereo = true) {
    auto* s = new Sample;
    s->frames = frames;
    s->channels = stereo ? 2 : 1;
    s->source_rate = 48000;
    s->source_frames = frames;
    s->left.resize(frames);
    for (uint64_t i = 0; i < frames; ++i) s->left[i] = static_cast<float>(i);
    if (stereo) {
        s->right.resize(frames);
        for (uint64_t i = 0; i < frames; ++i) s->right[i] = -static_cast<float>(i);
    }
    std::strcpy(s->name, "count");
    return s;
}

}  // namespace looprig::test
